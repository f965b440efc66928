/** The audit log, newest first, with the hash chain's verification and an NDJSON export of a time range. */
import { useState } from 'react';
import { api, query } from '../../api/client.js';
import type { PageProps } from '../../app/route.js';
import { useApi, useCursorList } from '../../app/use-api.js';
import { t } from '../../i18n/index.js';
import { ErrorNotice } from '../../ui/ErrorNotice.js';
import { dateTime } from '../../ui/format.js';
import { Loading, MoreButton, Page } from '../../ui/Page.js';
import { utcInput } from './replay.js';

interface AuditEntry {
  id: string;
  seq: number;
  at: string;
  actor: string;
  actorRole: string | null;
  action: string;
  subjectType: string;
  subjectId: string;
  details: Record<string, unknown>;
}

interface Verification {
  ok: boolean;
  checked: number;
  firstBroken: null | { id: string; seq: number; reason: string; expected?: string; found?: string };
}

export function AuditLog(_: PageProps) {
  const list = useCursorList<AuditEntry>('/v1/audit', {});
  // Walking the chain reads every row of the tenant: on request, not on every visit of the page.
  const [asked, setAsked] = useState(false);
  const verify = useApi<Verification>(asked ? '/v1/audit/verify' : undefined);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [exportError, setExportError] = useState<unknown>();

  async function download() {
    setExportError(undefined);
    try {
      const text = await api<string>(`/v1/audit/export${query({ from: utcInput(from), to: utcInput(to) })}`, { text: true });
      const url = URL.createObjectURL(new Blob([text], { type: 'application/x-ndjson' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `audit-${utcInput(from) ?? 'start'}-${utcInput(to) ?? 'now'}.ndjson`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setExportError(e);
    }
  }

  const v = verify.data;
  return (
    <Page title={t('auditors.audit.title')}>
      <p className="muted">{t('auditors.audit.intro')}</p>
      <div className="grid">
        <section className="card" aria-labelledby="chain-h">
          <h2 id="chain-h">{t('auditors.audit.chain')}</h2>
          <div role="status" aria-live="polite">
            {!asked ? <p className="muted">{t('auditors.audit.notVerified')}</p> : null}
            {asked && verify.loading ? <p>{t('auditors.audit.verifying')}</p> : null}
            {v && !verify.loading ? (
              v.ok ? (
                <p className="notice notice-ok">{t('auditors.audit.ok', { checked: v.checked })}</p>
              ) : (
                <div className="notice notice-error">
                  <p>{t('auditors.audit.broken', { seq: v.firstBroken?.seq ?? '?', id: v.firstBroken?.id ?? '?', reason: v.firstBroken?.reason ?? '?' })}</p>
                  {v.firstBroken?.expected ? <p className="mono small">{t('auditors.audit.brokenDetail', { expected: v.firstBroken.expected, found: v.firstBroken.found ?? '—' })}</p> : null}
                </div>
              )
            ) : null}
          </div>
          <ErrorNotice error={verify.error} />
          <button type="button" className="primary" onClick={() => (asked ? verify.reload() : setAsked(true))} disabled={asked && verify.loading}>
            {t('auditors.audit.verify')}
          </button>
        </section>
        <section className="card" aria-labelledby="export-h">
          <h2 id="export-h">{t('auditors.audit.export')}</h2>
          <p className="muted small">{t('auditors.audit.exportHint')}</p>
          <form className="filters" onSubmit={(e) => (e.preventDefault(), void download())}>
            <div>
              <label htmlFor="export-from">{t('auditors.audit.exportFrom')}</label>
              <input id="export-from" type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
            </div>
            <div>
              <label htmlFor="export-to">{t('auditors.audit.exportTo')}</label>
              <input id="export-to" type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} />
            </div>
            <div>
              <button type="submit">{t('auditors.audit.exportGo')}</button>
            </div>
          </form>
          <ErrorNotice error={exportError} />
        </section>
      </div>
      <ErrorNotice error={list.error} onRetry={list.reload} />
      {list.loading && list.items.length === 0 ? <Loading /> : null}
      <div className="table-wrap" tabIndex={0}>
        <table>
          <thead>
            <tr>
              {(['seq', 'at', 'actor', 'role', 'action', 'subject', 'details'] as const).map((c) => (
                <th key={c} scope="col">
                  {t(`auditors.audit.columns.${c}`)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {list.items.map((e) => (
              <tr key={e.id}>
                <td className="num">{e.seq}</td>
                <td>{dateTime(e.at)}</td>
                <td className="mono small">{e.actor}</td>
                <td>{e.actorRole ?? '—'}</td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td className="small">
                  {e.subjectType} <span className="mono">{e.subjectId}</span>
                </td>
                <td className="mono small">{JSON.stringify(e.details)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <MoreButton hasMore={list.hasMore} loading={list.loading} onMore={list.more} count={list.items.length} />
    </Page>
  );
}
