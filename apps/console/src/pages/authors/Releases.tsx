/** Releases: the active one (roll back), the tenant's stored ones and the built-in one, a diff picker, the activation history. */
import { useState } from 'react';
import { actionKey, api } from '../../api/client.js';
import { hasRole } from '../../api/session.js';
import type { PageProps } from '../../app/route.js';
import { href, navigate, seg } from '../../app/router.js';
import { useApi, useCursorList } from '../../app/use-api.js';
import { t } from '../../i18n/index.js';
import { Badge } from '../../ui/Badge.js';
import { ConfirmDialog } from '../../ui/ConfirmDialog.js';
import { ErrorNotice } from '../../ui/ErrorNotice.js';
import { dateTime } from '../../ui/format.js';
import { MoreButton, Page } from '../../ui/Page.js';
import { ComponentTable } from './ComponentTable.js';
import { componentChanges } from './diff.js';

export interface Release {
  name: string;
  version: string;
  components: Record<string, string>;
  source?: 'builtin' | 'tenant';
  createdAt?: string | null;
  createdBy?: string | null;
  description?: string | null;
}
export interface ActiveRelease extends Release {
  activatedAt: string | null;
  activatedBy: string | null;
  previous: { name: string; version: string } | null;
}
interface Activation {
  seq: number;
  at: string;
  slot: string;
  action: string;
  release: { name: string; version: string } | null;
  replaced: { name: string; version: string } | null;
  actor: { keyId: string; name: string };
}

export const ref = (r: { name: string; version: string } | null | undefined): string => (r ? `${r.name}@${r.version}` : '—');

export function Releases({ session }: PageProps) {
  const active = useApi<ActiveRelease>('/v1/releases/active');
  const list = useCursorList<Release>('/v1/releases', {});
  const builtin = useApi<{ builtin: Release }>('/v1/releases?limit=1');
  const history = useCursorList<Activation>('/v1/releases/activations', {});
  const [a, setA] = useState('');
  const [b, setB] = useState('');
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const previous = useApi<Release>(active.data?.previous ? `/v1/releases/${seg(active.data.previous.name)}/${seg(active.data.previous.version)}` : undefined);
  const publisher = hasRole(session, 'publisher');
  const all = [...list.items, ...(builtin.data ? [builtin.data.builtin] : [])];
  const isActive = (r: Release) => active.data?.name === r.name && active.data?.version === r.version;

  async function rollback() {
    setBusy(true);
    setError(undefined);
    try {
      await api('/v1/releases/rollback', { method: 'POST', idempotencyKey: actionKey('rollback') });
      setConfirm(false);
      active.reload();
      history.reload();
    } catch (e) {
      setError(e);
      setConfirm(false);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Page title={t('authors.releases.title')}>
      <section className="card" aria-labelledby="active-h">
        <h2 id="active-h">{t('authors.releases.active')}</h2>
        <ErrorNotice error={active.error} />
        {active.data ? (
          <>
            <p>
              <a href={href(`/releases/${seg(active.data.name)}/${seg(active.data.version)}`)}>{ref(active.data)}</a> <Badge value={t('authors.releases.activeBadge')} tone="ok" />
            </p>
            <p className="muted">{active.data.activatedAt ? t('authors.releases.activeSince', { at: dateTime(active.data.activatedAt), who: active.data.activatedBy ?? '—' }) : t('authors.releases.builtinActive')}</p>
            {publisher ? (
              <button type="button" onClick={() => setConfirm(true)} disabled={!active.data.previous || busy}>
                {t('authors.releases.rollback')}
              </button>
            ) : (
              <p className="muted small">{t('authors.release.publisherOnly')}</p>
            )}
            {publisher && !active.data.previous ? <p className="muted small">{t('authors.releases.noPrevious')}</p> : null}
            <ErrorNotice error={error} />
            <ConfirmDialog
              open={confirm}
              title={t('authors.releases.rollbackTitle', { release: ref(active.data.previous) })}
              confirmLabel={t('authors.releases.rollback')}
              busy={busy}
              onCancel={() => setConfirm(false)}
              onConfirm={() => void rollback()}
            >
              <p>{t('authors.releases.rollbackBody', { from: ref(active.data), to: ref(active.data.previous) })}</p>
              {previous.data ? <ComponentTable changes={componentChanges(active.data.components, previous.data.components)} /> : null}
            </ConfirmDialog>
          </>
        ) : null}
      </section>

      <section aria-labelledby="stored-h">
        <h2 id="stored-h">{t('authors.releases.stored')}</h2>
        <ErrorNotice error={list.error} onRetry={list.reload} />
        <div className="table-wrap" tabIndex={0}>
          <table>
            <thead>
              <tr>
                {(['release', 'source', 'created', 'by', 'state'] as const).map((c) => (
                  <th key={c} scope="col">
                    {t(`authors.releases.columns.${c}`)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {all.map((r) => (
                <tr key={ref(r)}>
                  <td>
                    <a href={href(`/releases/${seg(r.name)}/${seg(r.version)}`)}>{ref(r)}</a>
                  </td>
                  <td>{r.source === 'builtin' ? t('authors.releases.builtin') : r.source}</td>
                  <td>{dateTime(r.createdAt)}</td>
                  <td className="mono small">{r.createdBy ?? '—'}</td>
                  <td>{isActive(r) ? <Badge value={t('authors.releases.activeBadge')} tone="ok" /> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <MoreButton hasMore={list.hasMore} loading={list.loading} onMore={list.more} count={all.length} />
      </section>

      <section className="card" aria-labelledby="compare-h">
        <h2 id="compare-h">{t('authors.releases.compare')}</h2>
        <form className="filters" onSubmit={(e) => (e.preventDefault(), a && b && navigate('/releases/diff', { a, b }))}>
          {(
            [
              ['compare-a', t('authors.releases.compareA'), a, setA],
              ['compare-b', t('authors.releases.compareB'), b, setB],
            ] as const
          ).map(([id, label, value, set]) => (
            <div key={id}>
              <label htmlFor={id}>{label}</label>
              <select id={id} value={value} onChange={(e) => set(e.target.value)}>
                <option value="" />
                {all.map((r) => (
                  <option key={ref(r)} value={ref(r)}>
                    {ref(r)}
                  </option>
                ))}
              </select>
            </div>
          ))}
          <div>
            <button type="submit" disabled={!a || !b}>
              {t('authors.releases.compareGo')}
            </button>
          </div>
        </form>
      </section>

      <section aria-labelledby="history-h">
        <h2 id="history-h">{t('authors.releases.history')}</h2>
        <ErrorNotice error={history.error} onRetry={history.reload} />
        {!history.loading && history.items.length === 0 ? <p className="muted">{t('authors.releases.noHistory')}</p> : null}
        {history.items.length > 0 ? (
          <div className="table-wrap" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  {(['at', 'action', 'release', 'previous', 'actor'] as const).map((c) => (
                    <th key={c} scope="col">
                      {t(`authors.releases.historyColumns.${c}`)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {history.items.map((h) => (
                  <tr key={h.seq}>
                    <td>{dateTime(h.at)}</td>
                    <td>
                      <code>{h.slot === 'shadow' ? t('authors.releases.shadowAction', { action: h.action }) : h.action}</code>
                    </td>
                    <td>{ref(h.release)}</td>
                    <td>{ref(h.replaced)}</td>
                    <td>{h.actor.name}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        <MoreButton hasMore={history.hasMore} loading={history.loading} onMore={history.more} count={history.items.length} />
      </section>
    </Page>
  );
}
