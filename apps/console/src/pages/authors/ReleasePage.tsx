/** One release: its components; activate (publisher) behind a confirmation that shows what changes; start a shadow run. */
import { useState } from 'react';
import { actionKey, api } from '../../api/client.js';
import { hasRole } from '../../api/session.js';
import type { PageProps } from '../../app/route.js';
import { href, seg } from '../../app/router.js';
import { useApi } from '../../app/use-api.js';
import { t } from '../../i18n/index.js';
import { Badge } from '../../ui/Badge.js';
import { ConfirmDialog } from '../../ui/ConfirmDialog.js';
import { ErrorNotice } from '../../ui/ErrorNotice.js';
import { Loading, Page } from '../../ui/Page.js';
import { ComponentTable } from './ComponentTable.js';
import { componentChanges } from './diff.js';
import { ref, type ActiveRelease, type Release } from './Releases.js';

export function ReleasePage({ params, session }: PageProps) {
  const id = { name: params.name!, version: params.version! };
  const rel = useApi<Release>(`/v1/releases/${seg(id.name)}/${seg(id.version)}`);
  const active = useApi<ActiveRelease>('/v1/releases/active');
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState<string | undefined>();
  const publisher = hasRole(session, 'publisher');
  const r = rel.data;
  const isActive = !!r && active.data?.name === r.name && active.data?.version === r.version;

  async function post(path: string, message: string) {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      await api(`/v1/releases/${seg(id.name)}/${seg(id.version)}/${path}`, { method: 'POST', idempotencyKey: actionKey(path) });
      setDone(message);
      active.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
      setConfirm(false);
    }
  }

  return (
    <Page
      title={t('authors.release.title', { release: ref(id) })}
      actions={
        <a className="button" href={href('/releases')}>
          {t('authors.release.back')}
        </a>
      }
    >
      <ErrorNotice error={rel.error} onRetry={rel.reload} />
      {rel.loading && !r ? <Loading /> : null}
      {r ? (
        <>
          <p>
            {isActive ? <Badge value={t('authors.releases.activeBadge')} tone="ok" /> : null} {r.description ?? ''}
          </p>
          <div className="page-actions">
            {active.data && !isActive ? <a className="button" href={href('/releases/diff', { a: ref(active.data), b: ref(r) })}>{t('authors.release.diffWithActive')}</a> : null}
            {publisher ? (
              <>
                <button type="button" className="primary" disabled={busy || isActive} onClick={() => setConfirm(true)}>
                  {t('authors.release.activate')}
                </button>
                <button type="button" disabled={busy || isActive} onClick={() => void post('shadow', t('authors.release.shadowStarted', { release: ref(r) }))}>
                  {t('authors.release.shadow')}
                </button>
              </>
            ) : (
              <span className="muted small">{t('authors.release.publisherOnly')}</span>
            )}
          </div>
          {done ? (
            <p className="notice notice-ok" role="status">
              {done}
            </p>
          ) : null}
          <ErrorNotice error={error} />
          <h2>{t('authors.release.components')}</h2>
          <div className="table-wrap" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('authors.release.componentColumns.name')}</th>
                  <th scope="col">{t('authors.release.componentColumns.version')}</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(r.components).map(([n, v]) => (
                  <tr key={n}>
                    <th scope="row">{n}</th>
                    <td>{v}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {active.data ? (
            <ConfirmDialog
              open={confirm}
              title={t('authors.release.activateTitle', { release: ref(r) })}
              confirmLabel={t('authors.release.activate')}
              busy={busy}
              onCancel={() => setConfirm(false)}
              onConfirm={() => void post('activate', t('authors.release.activated', { release: ref(r) }))}
            >
              <p>{t('authors.release.activateBody', { active: ref(active.data) })}</p>
              <ComponentTable changes={componentChanges(active.data.components, r.components)} />
            </ConfirmDialog>
          ) : null}
        </>
      ) : null}
    </Page>
  );
}
