/** The shadow report: what the shadow release would have decided on live refund decisions, as a matrix and recent differences. */
import { useState } from 'react';
import { api, ApiError } from '../../api/client.js';
import { hasRole } from '../../api/session.js';
import type { PageProps } from '../../app/route.js';
import { href, seg } from '../../app/router.js';
import { useApi } from '../../app/use-api.js';
import { t } from '../../i18n/index.js';
import { Badge } from '../../ui/Badge.js';
import { ErrorNotice } from '../../ui/ErrorNotice.js';
import { dateTime, number } from '../../ui/format.js';
import { Loading, Page } from '../../ui/Page.js';
import { Heatmap } from './Heatmap.js';
import { buildMatrix } from './matrix.js';
import { ref } from './Releases.js';

interface Report {
  shadow: { name: string; version: string };
  running: boolean;
  since: string;
  until: string | null;
  total: number;
  changed: number;
  errors: number;
  transitions: Record<string, number>;
  recent: { decisionId: string; baseline: string; shadow: string | null; reasonCodes: { added: string[]; removed: string[] }; at: string; error?: string }[];
}

export function Shadow({ session }: PageProps) {
  const report = useApi<Report>('/v1/releases/shadow/report');
  const [selected, setSelected] = useState<[string, string] | undefined>();
  const [error, setError] = useState<unknown>();
  const r = report.data;
  const missing = report.error instanceof ApiError && report.error.status === 404;
  const recent = (r?.recent ?? []).filter((x) => !selected || (x.baseline === selected[0] && x.shadow === selected[1]));
  return (
    <Page title={t('authors.shadow.title')}>
      {missing ? <p>{t('authors.shadow.none')}</p> : <ErrorNotice error={report.error} onRetry={report.reload} />}
      {report.loading && !r ? <Loading /> : null}
      {r ? (
        <>
          <p>
            {t('authors.shadow.release', { release: ref(r.shadow) })} {r.running ? <Badge value={t('authors.shadow.runningBadge')} tone="warn" /> : null}
          </p>
          <p className="muted">{r.running ? t('authors.shadow.running', { since: dateTime(r.since) }) : t('authors.shadow.ended', { since: dateTime(r.since), until: dateTime(r.until) })}</p>
          <p className="fired">{t('authors.shadow.summary', { total: number(r.total), changed: number(r.changed), errors: number(r.errors) })}</p>
          {r.running && hasRole(session, 'publisher') ? (
            <button type="button" onClick={() => void api('/v1/releases/shadow', { method: 'DELETE' }).then(report.reload, (e: unknown) => setError(e))}>
              {t('authors.shadow.stop')}
            </button>
          ) : null}
          <ErrorNotice error={error} />
          <h2>{t('authors.simulation.matrix')}</h2>
          <Heatmap matrix={buildMatrix(r.transitions)} caption={t('authors.simulation.matrixCaption')} selected={selected} onSelect={(f, to) => setSelected([f, to])} />
          <h2>{t('authors.shadow.recent')}</h2>
          <div className="table-wrap" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  {(['at', 'decision', 'baseline', 'shadow', 'added', 'removed'] as const).map((c) => (
                    <th key={c} scope="col">
                      {t(`authors.shadow.columns.${c}`)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {recent.map((x) => (
                  <tr key={x.decisionId}>
                    <td>{dateTime(x.at)}</td>
                    <td>
                      <a className="mono small" href={href(`/decisions/${seg(x.decisionId)}`)}>
                        {x.decisionId.slice(0, 13)}…
                      </a>
                    </td>
                    <td>
                      <Badge value={x.baseline} />
                    </td>
                    <td>{x.shadow ? <Badge value={x.shadow} /> : (x.error ?? '—')}</td>
                    <td className="small">{x.reasonCodes.added.join(', ')}</td>
                    <td className="small">{x.reasonCodes.removed.join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : null}
    </Page>
  );
}
