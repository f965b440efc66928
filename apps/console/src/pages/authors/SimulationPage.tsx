/** A simulation: progress while it runs (cancel), then the transition matrix and the changed cases, each opening both explanations. */
import { useEffect, useState } from 'react';
import { actionKey, api } from '../../api/client.js';
import type { PageProps } from '../../app/route.js';
import { href, navigate, seg } from '../../app/router.js';
import { useApi } from '../../app/use-api.js';
import { t } from '../../i18n/index.js';
import { Badge } from '../../ui/Badge.js';
import { ErrorNotice } from '../../ui/ErrorNotice.js';
import { number } from '../../ui/format.js';
import { Loading, Page } from '../../ui/Page.js';
import { Heatmap } from './Heatmap.js';
import { buildMatrix } from './matrix.js';
import { ref } from './Releases.js';
import type { SimulationJob } from './Simulations.js';

const reasonCodes = (r: Record<string, unknown> | undefined): string =>
  Array.isArray(r?.reasons) ? (r.reasons as ({ code?: string } | string)[]).map((x) => (typeof x === 'string' ? x : (x.code ?? ''))).join(', ') : '';

/** Outcomes a summary knows, unchanged counts included: baseline count minus what left it. */
export function unchangedCounts(s: NonNullable<SimulationJob['summary']>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [o, n] of Object.entries(s.outcomes?.baseline ?? {})) {
    const left = Object.entries(s.transitions).reduce((sum, [k, c]) => (k.startsWith(`${o}->`) && !k.endsWith(`->${o}`) ? sum + c : sum), 0);
    out[o] = n - left;
  }
  return out;
}

export function SimulationPage({ params, query }: PageProps) {
  const id = params.id!;
  const job = useApi<SimulationJob>(`/v1/simulations/${seg(id)}`);
  const types = useApi<{ items: { name: string; outcomes: string[] }[] }>('/v1/decision-types?limit=500');
  const [error, setError] = useState<unknown>();
  const running = job.data?.status === 'running';
  // Poll while it runs: progress is written by the job as it goes.
  useEffect(() => {
    if (!running) return;
    const timer = setTimeout(job.reload, 1000);
    return () => clearTimeout(timer);
  }, [running, job.data, job.reload]);

  const s = job.data;
  const from = query.get('from');
  const to = query.get('to');
  const order = types.data?.items.find((x) => x.name === s?.domain)?.outcomes ?? [];
  const matrix = s?.summary ? buildMatrix(s.summary.transitions, order, unchangedCounts(s.summary)) : undefined;
  const changed = (s?.results ?? []).filter((r) => r.baseline.outcome !== r.candidate.outcome && (!from || r.baseline.outcome === from) && (!to || r.candidate.outcome === to));

  return (
    <Page
      title={t('authors.simulation.title', { id: id.slice(0, 13) })}
      actions={
        <a className="button" href={href('/simulations')}>
          {t('authors.simulation.back')}
        </a>
      }
    >
      <ErrorNotice error={job.error ?? error} onRetry={job.reload} />
      {!s && job.loading ? <Loading /> : null}
      {s ? (
        <>
          <p>
            <Badge value={s.status.toUpperCase()} /> {t('authors.simulation.candidate', { release: ref(s.release) })}
          </p>
          {s.progress ? (
            <div role="status" aria-live="polite">
              <progress max={s.progress.total || 1} value={s.progress.done} aria-label={t('authors.simulation.progress', { done: s.progress.done, total: s.progress.total })} />
              <p className="small">{t('authors.simulation.progress', { done: number(s.progress.done), total: number(s.progress.total) })}</p>
            </div>
          ) : null}
          {running ? (
            <button
              type="button"
              onClick={() =>
                void api(`/v1/simulations/${seg(id)}/cancel`, { method: 'POST', idempotencyKey: actionKey('cancel') }).then(job.reload, (e: unknown) => setError(e))
              }
            >
              {t('authors.simulation.cancel')}
            </button>
          ) : null}
          {s.error ? <p className="notice notice-error">{t('authors.simulation.failed', { message: s.error.message })}</p> : null}
          {s.summary && matrix ? (
            <>
              <p className="fired">{t('authors.simulation.summary', { total: number(s.summary.total), changed: number(s.summary.changed), outcomes: number(matrix.changed) })}</p>
              <h2>{t('authors.simulation.matrix')}</h2>
              <Heatmap
                matrix={matrix}
                caption={t('authors.simulation.matrixCaption')}
                selected={from && to ? [from, to] : undefined}
                onSelect={(f, tt) => navigate(`/simulations/${seg(id)}`, { from: f, to: tt })}
              />
              {s.resultsTruncated ? <p className="muted small">{t('authors.simulation.truncated')}</p> : null}
              <h2 id="changed-h">{from && to ? t('authors.simulation.filtered', { from, to }) : t('authors.simulation.changedCases')}</h2>
              {from && to ? (
                <p>
                  <a href={href(`/simulations/${seg(id)}`)}>{t('authors.simulation.showAll')}</a>
                </p>
              ) : null}
              {changed.length === 0 ? (
                <p className="muted">{t('authors.simulation.noChanged')}</p>
              ) : (
                <div className="table-wrap" tabIndex={0}>
                  <table aria-labelledby="changed-h">
                    <thead>
                      <tr>
                        {(['case', 'baseline', 'candidate', 'reasons'] as const).map((c) => (
                          <th key={c} scope="col">
                            {t(`authors.simulation.columns.${c}`)}
                          </th>
                        ))}
                      </tr>
                    </thead>
                    <tbody>
                      {changed.slice(0, 200).map((r) => (
                        <tr key={String(r.caseRef)}>
                          <td>
                            <a href={href(`/simulations/${seg(id)}/cases/${seg(String(r.caseRef))}`)} className="mono small">
                              {String(r.caseRef)}
                            </a>
                          </td>
                          <td>
                            <Badge value={String(r.baseline.outcome)} />
                          </td>
                          <td>
                            <Badge value={String(r.candidate.outcome)} />
                          </td>
                          <td className="small">{reasonCodes(r.candidate)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </>
          ) : null}
        </>
      ) : null}
    </Page>
  );
}
