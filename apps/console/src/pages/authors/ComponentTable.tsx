/** Components whose versions differ between two releases, before → after. */
import { t } from '../../i18n/index.js';
import type { ComponentChange } from './diff.js';

export function ComponentTable({ changes }: { changes: ComponentChange[] }) {
  if (changes.length === 0) return <p>{t('authors.diff.none')}</p>;
  return (
    <div className="table-wrap" tabIndex={0}>
      <table>
        <thead>
          <tr>
            <th scope="col">{t('authors.diff.columns.component')}</th>
            <th scope="col">{t('authors.diff.columns.before')}</th>
            <th scope="col">{t('authors.diff.columns.after')}</th>
          </tr>
        </thead>
        <tbody>
          {changes.map((c) => (
            <tr key={c.name}>
              <th scope="row">{c.name}</th>
              <td className="diff-del">{c.before ? `− ${c.before}` : '—'}</td>
              <td className="diff-add">{c.after ? `+ ${c.after}` : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
