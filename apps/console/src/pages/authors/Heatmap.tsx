/**
 * A transition matrix as a heatmap: a real table (row and column headers for screen readers), each cell a button
 * with its count; the shade (log scale) only helps the eye.
 */
import { t } from '../../i18n/index.js';
import { number } from '../../ui/format.js';
import { BLUE, cellColors, DARK, ORANGE, shade, type Matrix } from './matrix.js';

export function Heatmap({ matrix, caption, selected, onSelect }: { matrix: Matrix; caption: string; selected?: [string, string]; onSelect: (from: string, to: string) => void }) {
  return (
    <div className="table-wrap" tabIndex={0}>
      <table className="heatmap">
        <caption className="muted small">{caption}</caption>
        <thead>
          <tr>
            <td />
            {matrix.outcomes.map((o) => (
              <th key={o} scope="col">
                {t('authors.simulation.to', { outcome: o })}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {matrix.outcomes.map((from) => (
            <tr key={from}>
              <th scope="row">{t('authors.simulation.from', { outcome: from })}</th>
              {matrix.outcomes.map((to) => {
                const n = matrix.counts[from]?.[to] ?? 0;
                const s = shade(n, matrix.max);
                const diagonal = from === to;
                // Blue for unchanged, orange-red for changes; the text colour that reads on the cell (WCAG AA).
                const { background: bg, text } = n === 0 ? { background: '#ffffff', text: DARK } : cellColors(diagonal ? BLUE : ORANGE, s);
                const isSel = selected?.[0] === from && selected?.[1] === to;
                return (
                  <td key={to} className={isSel ? 'selected' : undefined}>
                    <button
                      type="button"
                      className="heat-cell"
                      style={{ background: bg, color: text }}
                      aria-label={t('authors.simulation.cell', { count: n, from, to })}
                      aria-pressed={isSel}
                      disabled={n === 0 || diagonal}
                      onClick={() => onSelect(from, to)}
                    >
                      {number(n)}
                    </button>
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
