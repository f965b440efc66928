/** One stored decision: its explanation, what it pinned, its refund's history, and a replay that shows identical or the differences. */
import { useState } from 'react';
import { actionKey, api } from '../../api/client.js';
import type { PageProps } from '../../app/route.js';
import { href, seg } from '../../app/router.js';
import { useApi } from '../../app/use-api.js';
import { DecisionExplanation, type DecisionLike } from '../../explain/DecisionExplanation.js';
import { t } from '../../i18n/index.js';
import { ErrorNotice } from '../../ui/ErrorNotice.js';
import { Loading, Page } from '../../ui/Page.js';
import { RefundHistory, type RefundView } from '../shared/RefundHistory.js';
import { differences, type Difference } from './replay.js';

type Decision = DecisionLike & { id: string; type: string; refundId?: string; actor?: { id: string; role: string } | null; release: { name: string; version: string; components?: Record<string, string> } };

export function DecisionPage({ params }: PageProps) {
  const id = params.id!;
  const d = useApi<Decision>(`/v1/decisions/${seg(id)}`);
  const refund = useApi<RefundView>(d.data?.refundId ? `/v1/refunds/${seg(d.data.refundId)}` : undefined);
  const [replay, setReplay] = useState<{ identical: boolean; diffs: Difference[] } | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  async function runReplay() {
    setBusy(true);
    setError(undefined);
    try {
      const r = await api<{ identical: boolean; original: Record<string, unknown>; replayed: Record<string, unknown> }>(`/v1/decisions/${seg(id)}/replay`, { method: 'POST', idempotencyKey: actionKey('replay') });
      setReplay({ identical: r.identical, diffs: differences(r.original, r.replayed) });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  const dec = d.data;
  return (
    <Page
      title={t('auditors.decision.title', { id: id.slice(0, 13) })}
      actions={
        <a className="button" href={href('/decisions')}>
          {t('auditors.decision.back')}
        </a>
      }
    >
      <ErrorNotice error={d.error} onRetry={d.reload} />
      {d.loading && !dec ? <Loading /> : null}
      {dec ? (
        <div className="case-layout">
          <div>
            <section className="card" aria-labelledby="facts-h">
              <h2 id="facts-h">{t('auditors.decision.facts')}</h2>
              <dl className="kv">
                <dt>{t('auditors.decision.type')}</dt>
                <dd>{dec.type}</dd>
                <dt>{t('auditors.decision.release')}</dt>
                <dd>
                  {dec.release.name}@{dec.release.version}
                </dd>
                <dt>{t('auditors.decision.actor')}</dt>
                <dd>{dec.actor ? `${dec.actor.role} ${dec.actor.id}` : '—'}</dd>
              </dl>
              {dec.release.components ? (
                <details>
                  <summary>{t('auditors.decision.components')}</summary>
                  <ul className="small">
                    {Object.entries(dec.release.components).map(([k, v]) => (
                      <li key={k}>
                        {k}@{v}
                      </li>
                    ))}
                  </ul>
                </details>
              ) : null}
            </section>
            <section className="card" aria-labelledby="replay-h">
              <h2 id="replay-h">{t('auditors.decision.replay')}</h2>
              <p className="small">{t('auditors.decision.replayIntro')}</p>
              <button type="button" className="primary" onClick={() => void runReplay()} disabled={busy}>
                {busy ? t('auditors.decision.replaying') : t('auditors.decision.replay')}
              </button>
              <ErrorNotice error={error} />
              <div role="status" aria-live="polite">
                {replay ? (
                  replay.identical && replay.diffs.length === 0 ? (
                    <p className="notice notice-ok">{t('auditors.decision.identical')}</p>
                  ) : (
                    <>
                      <p className="notice notice-error">{t('auditors.decision.different', { count: replay.diffs.length })}</p>
                      <div className="table-wrap" tabIndex={0}>
                        <table>
                          <thead>
                            <tr>
                              {(['field', 'stored', 'replayed'] as const).map((c) => (
                                <th key={c} scope="col">
                                  {t(`auditors.decision.diffColumns.${c}`)}
                                </th>
                              ))}
                            </tr>
                          </thead>
                          <tbody>
                            {replay.diffs.map((x) => (
                              <tr key={x.field}>
                                <th scope="row">{x.field}</th>
                                <td className="mono small diff-del">− {x.stored}</td>
                                <td className="mono small diff-add">+ {x.replayed}</td>
                              </tr>
                            ))}
                          </tbody>
                        </table>
                      </div>
                    </>
                  )
                ) : null}
              </div>
            </section>
            {dec.refundId ? (
              <section className="card" aria-labelledby="refund-h">
                <h2 id="refund-h">{t('auditors.decision.refund')}</h2>
                <ErrorNotice error={refund.error} />
                {refund.data ? <RefundHistory refund={refund.data} /> : null}
              </section>
            ) : null}
          </div>
          <section className="card" aria-labelledby="explain-h">
            <h2 id="explain-h">{t('explain.title')}</h2>
            <DecisionExplanation decision={dec} idPrefix="decision" />
          </section>
        </div>
      ) : null}
    </Page>
  );
}
