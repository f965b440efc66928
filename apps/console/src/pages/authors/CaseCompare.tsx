/** One changed case of a simulation: the stored decision's explanation beside the candidate's answer. */
import type { PageProps } from '../../app/route.js';
import { href, seg } from '../../app/router.js';
import { ApiError } from '../../api/client.js';
import { useApi } from '../../app/use-api.js';
import { DecisionExplanation, type DecisionLike } from '../../explain/DecisionExplanation.js';
import { t } from '../../i18n/index.js';
import { ErrorNotice } from '../../ui/ErrorNotice.js';
import { Loading, Page } from '../../ui/Page.js';
import type { SimulationJob } from './Simulations.js';

export function CaseCompare({ params }: PageProps) {
  const id = params.id!;
  const caseRef = params.caseRef!;
  const job = useApi<SimulationJob>(`/v1/simulations/${seg(id)}`);
  // In a replay the case is a stored decision: its full explanation (trace included) is the baseline.
  const stored = useApi<DecisionLike>(`/v1/decisions/${seg(caseRef)}`);
  const result = job.data?.results?.find((r) => String(r.caseRef) === caseRef);
  return (
    <Page
      title={t('authors.compare.title', { id: caseRef.slice(0, 13) })}
      actions={
        <a className="button" href={href(`/simulations/${seg(id)}`)}>
          {t('authors.compare.back')}
        </a>
      }
    >
      <ErrorNotice error={job.error} />
      {job.loading && !job.data ? <Loading /> : null}
      {job.data && !result ? <p>{t('authors.compare.notInResults')}</p> : null}
      <div className="side-by-side">
        <section className="card" aria-labelledby="stored-h">
          <h2 id="stored-h">{t('authors.compare.stored')}</h2>
          {/* A key without the auditor role cannot read the stored decision: the simulation's kept baseline stands in. */}
          {stored.error instanceof ApiError && stored.error.status === 403 ? null : <ErrorNotice error={stored.error} />}
          {stored.data ? <DecisionExplanation decision={stored.data} idPrefix="stored" /> : result ? <DecisionExplanation decision={result.baseline as unknown as DecisionLike} idPrefix="stored" /> : null}
        </section>
        <section className="card" aria-labelledby="candidate-h">
          <h2 id="candidate-h">{t('authors.compare.candidate')}</h2>
          <p className="muted small">{t('authors.compare.candidateNote')}</p>
          {result ? <DecisionExplanation decision={{ ...(result.candidate as unknown as DecisionLike), release: job.data?.release ?? null }} idPrefix="candidate" /> : null}
        </section>
      </div>
    </Page>
  );
}
