/**
 * A stored decision in plain words: what was decided and why — the rules that fired with each fact's value against its
 * threshold, the risk score as the contributions of its signals, the platform's features with their windows.
 * Used by the review case page, the decision page and the side-by-side comparisons.
 */
import { t, type MessageKey } from '../i18n/index.js';
import { en } from '../i18n/en/index.js';
import { Badge } from '../ui/Badge.js';
import { Bars } from '../ui/charts/Bars.js';
import { dateTime, money } from '../ui/format.js';
import { classify, contributions, factName, leaves, show, type Condition, type FeatureStep, type RuleStep, type SignalStep, type Step } from './trace.js';

export interface DecisionLike {
  id?: string;
  type?: string;
  outcome: string;
  reasons?: ({ code?: string; message?: string } | string)[];
  riskScore?: number | null;
  approvedAmount?: number | null;
  currency?: string | null;
  createdAt?: string;
  release?: { name: string; version: string } | null;
  trace?: unknown;
}

/** Where a threshold came from: the parameter, and for a parameter table the key it looked up (or that it had none). */
function thresholdFrom(from: NonNullable<Condition['valueFrom']>): string {
  const param = from.param ?? '';
  if (from.key === undefined) return t('explain.thresholdFrom', { param });
  const key = from.key ?? '—';
  return from.default ? t('explain.thresholdFromTableDefault', { param, key }) : t('explain.thresholdFromTable', { param, key });
}

const op = (o: string | undefined): string =>
  o && o in en.explain.operators ? t(`explain.operators.${o}` as MessageKey) : (o ?? '');

export function DecisionExplanation({ decision, compact = false, idPrefix = 'x' }: { decision: DecisionLike; compact?: boolean; idPrefix?: string }) {
  const steps = classify(decision.trace);
  const rules = steps.filter((s): s is RuleStep => s.kind === 'rule');
  const fired = rules.filter((r) => r.fired);
  const quiet = rules.filter((r) => !r.fired);
  const signals = steps.filter((s): s is SignalStep => s.kind === 'signal');
  const score = steps.find((s) => s.kind === 'score');
  const features = steps.filter((s): s is FeatureStep => s.kind === 'feature');
  const others = steps.filter((s) => s.kind === 'other');
  const bars = contributions(steps).map((c) => ({ label: c.code, value: c.weight }));
  const reasons = (decision.reasons ?? []).map((r) => (typeof r === 'string' ? { code: r } : r));
  const h = (id: string) => `${idPrefix}-${id}`;

  return (
    <div className="explanation">
      <p>
        <Badge value={decision.outcome} />{' '}
        {t('explain.summary', {
          outcome: decision.outcome,
          release: decision.release ? `${decision.release.name}@${decision.release.version}` : '—',
          at: dateTime(decision.createdAt),
        })}
        {decision.approvedAmount ? ` ${money(decision.approvedAmount, decision.currency)}` : null}
      </p>

      <h3 id={h('reasons')}>{t('explain.reasons')}</h3>
      {reasons.length === 0 ? (
        <p className="muted">{t('explain.noReasons')}</p>
      ) : (
        <ul aria-labelledby={h('reasons')}>
          {reasons.map((r, i) => (
            <li key={`${r.code}-${i}`}>
              <code>{r.code}</code>
              {r.message ? ` — ${r.message}` : null}
            </li>
          ))}
        </ul>
      )}

      {signals.length > 0 || score ? (
        <>
          <h3>{t('explain.risk')}</h3>
          {score && score.kind === 'score' ? <p className="fired">{t('explain.riskTotal', { score: score.score, band: score.band ?? '' })}</p> : null}
          {bars.length > 0 ? <Bars bars={bars} caption={t('explain.riskChart')} /> : <p className="muted">{t('explain.riskNone')}</p>}
          {!compact ? (
            <ul className="explain-list" aria-label={t('explain.signals')}>
              {signals.map((s) => (
                <li key={s.code} className={s.fired ? 'fired' : undefined}>
                  {s.fired ? '● ' : '○ '}
                  {t('explain.signal', { code: s.code, fact: s.fact ?? '', actual: show(s.value), operator: op(s.operator), threshold: show(s.threshold), weight: s.weight })}
                </li>
              ))}
            </ul>
          ) : null}
        </>
      ) : null}

      {rules.length > 0 ? (
        <>
          <h3>{t('explain.firedRules')}</h3>
          {fired.length === 0 ? <p className="muted">{t('explain.noReasons')}</p> : <RuleList rules={fired} />}
          {quiet.length > 0 && !compact ? (
            <details>
              <summary>{t('explain.otherRules', { count: quiet.length })}</summary>
              <RuleList rules={quiet} />
            </details>
          ) : null}
        </>
      ) : null}

      {features.length > 0 ? (
        <>
          <h3>{t('explain.features')}</h3>
          <div className="table-wrap" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  {(['feature', 'entity', 'window', 'value', 'from', 'platform', 'caller', 'note'] as const).map((c) => (
                    <th key={c} scope="col">
                      {t(`explain.featureColumns.${c}`)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {features.map((f) => (
                  <tr key={f.feature}>
                    <th scope="row">{f.feature}</th>
                    <td>{f.entity ?? '—'}</td>
                    <td>{f.window ?? '—'}</td>
                    <td className="num">{show(f.value)}</td>
                    <td>{f.from && f.from in en.explain.from ? t(`explain.from.${f.from}` as MessageKey) : (f.from ?? '—')}</td>
                    <td className="num">{show(f.platform)}</td>
                    <td className="num">{show(f.caller)}</td>
                    <td className="small">{f.detail ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : null}

      {others.length > 0 && !compact ? (
        <details>
          <summary>{t('explain.otherSteps')}</summary>
          <ul className="explain-list">
            {others.map((s: Step, i) =>
              s.kind === 'other' ? (
                <li key={i}>
                  <code>{s.rule}</code> <span className="muted small">{t('explain.source', { source: s.source })}</span>{' '}
                  <span className="mono small">{JSON.stringify(s.fields)}</span>
                </li>
              ) : null,
            )}
          </ul>
        </details>
      ) : null}
    </div>
  );
}

function RuleList({ rules }: { rules: RuleStep[] }) {
  return (
    <ul className="explain-list">
      {rules.map((r, i) => (
        <li key={`${r.source}-${r.rule}-${i}`}>
          <span className={r.fired ? 'fired' : undefined}>
            {r.fired
              ? t('explain.ruleFired', { rule: r.rule, event: [r.event?.type, r.event?.params?.code].filter(Boolean).join(' ') })
              : t('explain.ruleNotFired', { rule: r.rule })}
          </span>{' '}
          <span className="muted small">{t('explain.source', { source: r.source })}</span>
          {r.event?.params?.message ? <div className="small">{r.event.params.message}</div> : null}
          <ul className="small">
            {leaves(r.conditions).map((c: Condition, j) => (
              <li key={j}>
                {c.result === true ? '✓ ' : c.result === false ? '✗ ' : ''}
                {t('explain.condition', { fact: factName(c), actual: show(c.factValue), operator: op(c.operator), threshold: show(c.value) })}{' '}
                {c.valueFrom?.param ? thresholdFrom(c.valueFrom) : c.valueFrom?.fact ? t('explain.thresholdFromFact', { fact: factName({ fact: c.valueFrom.fact, path: c.valueFrom.path }) }) : null}
                <span className="visually-hidden"> {c.result ? t('explain.conditionHeld') : t('explain.conditionFailed')}</span>
              </li>
            ))}
          </ul>
        </li>
      ))}
    </ul>
  );
}
