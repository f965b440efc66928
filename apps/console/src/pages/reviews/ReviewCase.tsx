/**
 * A review case: the item (SLA, claim, four-eyes), the decision under review in plain words, the refund's history,
 * and the actions — claim, give back, approve with an amount, deny — each with a reason code and a note.
 */
import { useRef, useState, type FormEvent } from 'react';
import { actionKey, api, ApiError } from '../../api/client.js';
import type { PageProps } from '../../app/route.js';
import { href, navigate, seg } from '../../app/router.js';
import { typingIn, useShortcuts } from '../../app/shortcuts.js';
import { useApi } from '../../app/use-api.js';
import { DecisionExplanation, type DecisionLike } from '../../explain/DecisionExplanation.js';
import { t } from '../../i18n/index.js';
import { Badge } from '../../ui/Badge.js';
import { ErrorNotice } from '../../ui/ErrorNotice.js';
import { dateTime, money, moneyInput, parseMoney } from '../../ui/format.js';
import { Loading, Page } from '../../ui/Page.js';
import { ShortcutHelp } from '../../ui/ShortcutHelp.js';
import { RefundHistory, type RefundView } from '../shared/RefundHistory.js';
import { claimHolder, fourEyes, isOverdue, type ReviewItem } from './queue.js';

const REASON = /^[A-Z][A-Z0-9_]*$/;

export function ReviewCase({ params, session }: PageProps) {
  const id = params.id!;
  const item = useApi<ReviewItem>(`/v1/reviews/${seg(id)}`);
  const decision = useApi<DecisionLike>(item.data ? `/v1/decisions/${seg(item.data.decisionId)}` : undefined);
  const refund = useApi<RefundView>(item.data?.refundId ? `/v1/refunds/${seg(item.data.refundId)}` : undefined);
  const [mode, setMode] = useState<'APPROVE' | 'DENY' | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState<string | undefined>();
  const [help, setHelp] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const now = Date.now();
  const r = item.data;

  async function act(path: string, body?: unknown): Promise<boolean> {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      await api(`/v1/reviews/${seg(id)}/${path}`, { method: 'POST', body: body ?? {}, idempotencyKey: actionKey(path) });
      item.reload();
      refund.reload();
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  }

  const holder = r ? claimHolder(r, now) : undefined;
  const mineClaim = holder === session.keyId;
  const open = r?.state === 'OPEN';
  const eyes = r ? fourEyes(r, session.keyId) : undefined;

  const start = (m: 'APPROVE' | 'DENY') => {
    if (!open) return;
    setMode(m);
    setTimeout(() => formRef.current?.querySelector<HTMLElement>(m === 'APPROVE' ? '#resolve-amount' : '#resolve-reason')?.focus(), 0);
  };
  useShortcuts({
    c: () => open && !holder && void act('claim'),
    a: () => start('APPROVE'),
    d: () => start('DENY'),
    // One step back per press: the help, then out of a field (a half-written reason and note stay), then the form,
    // then the page.
    Escape: () => {
      if (help) return setHelp(false);
      if (typingIn(document.activeElement)) return (document.activeElement as HTMLElement).blur();
      return mode ? setMode(undefined) : navigate('/reviews');
    },
    '?': () => setHelp((h) => !h),
  });

  return (
    <Page
      title={t('reviews.case.title', { id: r?.refundId ?? id })}
      actions={
        <a className="button" href={href('/reviews')}>
          {t('reviews.case.back')}
        </a>
      }
    >
      <p className="muted small">{t('reviews.case.shortcuts')}</p>
      <ShortcutHelp open={help} onClose={() => setHelp(false)} lines={['reviews.help.case', 'reviews.help.queue']} />
      <ErrorNotice error={item.error} onRetry={item.reload} />
      {item.loading && !r ? <Loading /> : null}
      {r ? (
        <div className="case-layout">
          <div>
          <section className="card" aria-labelledby="item-h">
            <h2 id="item-h">{t('reviews.case.item')}</h2>
            <dl className="kv">
              <dt>{t('reviews.case.state')}</dt>
              <dd>
                <Badge value={r.state} /> {isOverdue(r, now) ? <Badge value={t('reviews.queue.overdue')} tone="bad" /> : null}
              </dd>
              <dt>{t('reviews.case.requested')}</dt>
              <dd>{money(r.amount, r.currency)}</dd>
              <dt>{t('reviews.case.deadline')}</dt>
              <dd>{dateTime(r.deadline)}</dd>
            </dl>
            {open ? (
              <p>
                {holder
                  ? mineClaim
                    ? t('reviews.case.claimedByYou', { until: dateTime(r.leaseUntil) })
                    : t('reviews.case.claimedByOther', { who: holder, until: dateTime(r.leaseUntil) })
                  : t('reviews.case.notClaimed')}
              </p>
            ) : (
              <p className="notice notice-ok">
                {t('reviews.case.resolved', { resolution: r.resolution ?? r.state, who: r.resolvedBy ?? '—', at: dateTime(r.resolvedAt) })}
              </p>
            )}
            {open ? (
              <div className="page-actions">
                {!holder ? (
                  <button type="button" className="primary" disabled={busy} onClick={() => void act('claim')}>
                    {t('reviews.case.claim')}
                  </button>
                ) : null}
                {mineClaim ? (
                  <button type="button" disabled={busy} onClick={() => void act('release')}>
                    {t('reviews.case.release')}
                  </button>
                ) : null}
                <button type="button" disabled={busy} onClick={() => start('APPROVE')}>
                  {t('reviews.case.approve')}
                </button>
                <button type="button" disabled={busy} onClick={() => start('DENY')}>
                  {t('reviews.case.deny')}
                </button>
              </div>
            ) : null}

            <h3>{t('reviews.case.fourEyes')}</h3>
            {eyes && eyes.required > 1 ? <p>{t('reviews.case.needsTwo', { required: eyes.required })}</p> : null}
            <ul>
              {r.approvals.map((a) => (
                <li key={a.keyId + a.at}>
                  {t('reviews.case.approvedBy', {
                    who: a.keyId === session.keyId ? t('reviews.queue.you') : a.keyId,
                    at: dateTime(a.at),
                    amount: money(a.amount ?? null, r.currency),
                    code: a.reasonCode,
                  })}
                  {a.note ? ` — ${a.note}` : ''}
                </li>
              ))}
            </ul>
            {open && eyes ? (
              eyes.missing > 0 ? (
                <p className={eyes.mine ? 'notice notice-warn' : undefined}>
                  {t('reviews.case.stillNeeded', { count: eyes.missing })} {eyes.mine ? t('reviews.case.youApproved') : null}
                </p>
              ) : (
                <p>{t('reviews.case.complete')}</p>
              )
            ) : null}

            {done ? (
              <p className="notice notice-ok" role="status">
                {done}
              </p>
            ) : null}
            <ErrorNotice error={error} />
            {mode && open ? (
              <ResolveForm
                formRef={formRef}
                mode={mode}
                item={r}
                approvalLimit={session.approvalLimit ?? null}
                suggestions={(decision.data?.reasons ?? []).map((x) => (typeof x === 'string' ? x : x.code)).filter((x): x is string => !!x)}
                busy={busy}
                onCancel={() => setMode(undefined)}
                onSubmit={async (body) => {
                  // Resolving needs the claim: take it first when this key does not hold it (the API refuses otherwise).
                  if (!mineClaim && !(await act('claim'))) return;
                  const ok = await act('resolve', body);
                  if (ok) {
                    setMode(undefined);
                    if (body.resolution === 'APPROVE' && eyes && eyes.missing > 1) setDone(t('reviews.case.approvalRecorded'));
                  }
                }}
              />
            ) : null}
          </section>
          {r.refundId ? (
            <section className="card" aria-labelledby="refund-h">
              <h2 id="refund-h">{t('reviews.case.refund')}</h2>
              <ErrorNotice error={refund.error} />
              {refund.data ? <RefundHistory refund={refund.data} /> : refund.loading ? <Loading /> : null}
            </section>
          ) : null}
          </div>

          <section className="card" aria-labelledby="decision-h">
            <h2 id="decision-h">{t('reviews.case.decision')}</h2>
            {decision.error instanceof ApiError && decision.error.status === 403 ? <p>{t('reviews.case.noDecisionAccess')}</p> : <ErrorNotice error={decision.error} />}
            {decision.data ? <DecisionExplanation decision={decision.data} idPrefix="review" /> : decision.loading ? <Loading /> : null}
          </section>
        </div>
      ) : null}
    </Page>
  );
}

function ResolveForm({
  mode,
  item,
  approvalLimit,
  suggestions,
  busy,
  onCancel,
  onSubmit,
  formRef,
}: {
  mode: 'APPROVE' | 'DENY';
  item: ReviewItem;
  approvalLimit: number | null;
  suggestions: string[];
  busy: boolean;
  onCancel: () => void;
  onSubmit: (body: { resolution: 'APPROVE' | 'DENY'; amount?: number; reasonCode: string; note?: string }) => Promise<void>;
  formRef: React.RefObject<HTMLFormElement | null>;
}) {
  const [amount, setAmount] = useState(() => moneyInput(item.amount, item.currency));
  const [reason, setReason] = useState('');
  const [note, setNote] = useState('');
  const [problem, setProblem] = useState<string | undefined>();

  function submit(e: FormEvent) {
    e.preventDefault();
    const code = reason.trim();
    if (!REASON.test(code)) return setProblem(t('reviews.case.badReason'));
    let minor: number | undefined;
    if (mode === 'APPROVE') {
      minor = parseMoney(amount, item.currency);
      if (minor === undefined) return setProblem(t('reviews.case.badAmount'));
    }
    setProblem(undefined);
    void onSubmit({ resolution: mode, ...(minor !== undefined ? { amount: minor } : {}), reasonCode: code, ...(note.trim() ? { note: note.trim() } : {}) });
  }

  return (
    <form ref={formRef} onSubmit={submit} aria-labelledby="resolve-h" noValidate>
      <h3 id="resolve-h">
        {t('reviews.case.resolve')}: {mode === 'APPROVE' ? t('reviews.case.approve') : t('reviews.case.deny')}
      </h3>
      {mode === 'APPROVE' ? (
        <>
          <label htmlFor="resolve-amount">{t('reviews.case.amount', { currency: item.currency })}</label>
          <input id="resolve-amount" inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} aria-describedby="resolve-amount-hint" />
          <p id="resolve-amount-hint" className="muted small">
            {t('reviews.case.amountHint', { max: money(item.amount, item.currency) })}{' '}
            {approvalLimit !== null ? t('reviews.case.limit', { limit: money(approvalLimit, item.currency) }) : null}
          </p>
        </>
      ) : null}
      <label htmlFor="resolve-reason">{t('reviews.case.reasonCode')}</label>
      <input id="resolve-reason" list="resolve-reasons" value={reason} onChange={(e) => setReason(e.target.value.toUpperCase())} aria-describedby="resolve-reason-hint" autoComplete="off" />
      <datalist id="resolve-reasons">
        {[...new Set(suggestions)].map((s) => (
          <option key={s} value={s} />
        ))}
      </datalist>
      <p id="resolve-reason-hint" className="muted small">
        {t('reviews.case.reasonHint', { example: suggestions[0] ?? 'ITEM_RETURNED' })}
      </p>
      <label htmlFor="resolve-note">{t('reviews.case.note')}</label>
      <textarea id="resolve-note" rows={2} value={note} onChange={(e) => setNote(e.target.value)} maxLength={2000} />
      {problem ? (
        <p className="notice notice-error" role="alert">
          {problem}
        </p>
      ) : null}
      <div className="page-actions">
        <button type="submit" className={mode === 'APPROVE' ? 'primary' : 'danger'} disabled={busy}>
          {mode === 'APPROVE' ? t('reviews.case.submitApprove') : t('reviews.case.submitDeny')}
        </button>
        <button type="button" onClick={onCancel} disabled={busy}>
          {t('actions.cancel')}
        </button>
      </div>
    </form>
  );
}
