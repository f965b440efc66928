/**
 * Payout execution over the refunds table: the refund row is the job. A worker claims due refunds with
 * `FOR UPDATE SKIP LOCKED` (several workers, or a request holding a refund's lock, never wait for each other), moves
 * APPROVED ones to PROCESSING and stamps each claim with its attempt number and a lease (`next_attempt_at`), all in
 * one short transaction that commits before the provider is called. The provider's answer is recorded in a second
 * transaction. A worker that dies in between leaves the refund PROCESSING with a lease that runs out: it is claimed
 * again and asked again with the same idempotency key.
 */
import type { SqlEntityManager } from '@mikro-orm/sql';
import { sql, type RawBuilder } from 'kysely';
import { CompiledStatements, type SlotOf } from './compiled-statements.js';
import { DomainError } from '../errors/index.js';
import { INVALID_TRANSITION, SYSTEM, type Actor } from '../refunds/index.js';
import { OutboxRepository } from './outbox.repository.js';
import { RefundsRepository, refundColumnsOf, toRefund, type RefundRow, type RewardRef } from './refunds.repository.js';
import { ANY_SCAN_AGAIN, CUSTOM_PLAN_AGAIN, GENERIC_INDEX_PLAN } from './prepared-statements.js';
import { withParameters } from './statement-parameters.js';
import { SAME_TENANT, sameTenant } from './tenant-scope.js';
import { pgTimestampOrNull } from './timestamps.js';

/** One claimed attempt at paying a refund. */
export interface PayoutJob {
  tenant: string;
  refundId: string;
  amount: number;
  currency: string;
  reward: RewardRef | null;
  /** This attempt's number in the current execution (1 for the first call); a later claim of the refund has a higher one. */
  attempt: number;
  /**
   * An earlier call of this execution has no definite answer (unknown, or its worker died before recording it): it
   * may have paid, so a retryable failure must not FAIL the refund (see nextStep).
   */
  inDoubt: boolean;
}

/** Where a refund's payout stands (shown with the refund). */
export interface PayoutExecution {
  /** Provider calls in the current execution (a manual retry starts again from 0). */
  attempts: number;
  /** When the worker takes it next (a scheduled retry, or the end of an attempt's lease); null when nothing is due. */
  nextAttemptAt: Date | null;
  /** The last provider failure or unreadable answer. */
  lastError: string | null;
  /** The provider's reference once paid. */
  providerRef: string | null;
  /** The ledger clawback posted with SUCCEEDED (or its refusal), as recorded; null when the refund carries no reward. */
  clawback: Record<string, unknown> | null;
}

/** What the SUCCEEDED transaction does besides the transition: the ledger clawback, in the same transaction. */
export type ClawbackPoster = (em: SqlEntityManager, refund: PayoutJob & { reward: RewardRef }) => Promise<Record<string, unknown>>;

type Raw = Record<string, unknown>;
const json = (v: unknown): Record<string, unknown> | null => (v === null || v === undefined ? null : typeof v === 'string' ? (JSON.parse(v) as Record<string, unknown>) : (v as Record<string, unknown>));

/**
 * Paid refunds whose clawback waits for the reward transaction `$2` (tenant `$1`), locked, oldest first, as one jsonb
 * array. Every settlement runs it: it reads the partial index refunds_deferred_clawbacks (a few rows at most), not every
 * paid refund of the tenant. Planned once per connection with index scans only (GENERIC_INDEX_PLAN): that index is the
 * one its conditions bound. The tenant is compared through an InitPlan (tenant-scope.ts) and the state with `is not
 * distinct from` (the same rows: it is never null), a form no index takes: `refunds_by_state` (tenant, state, …) would
 * otherwise be bounded too, and a plan made while the statistics had seen no SUCCEEDED refund kept it (helper-112's
 * review), reading every paid refund of the tenant on each settlement. Planned for each settlement it cost 0.25 ms of
 * planning against 0.02 ms of running (pg_stat_statements, the ledger bench, 2026-12-06). It answers one row whatever
 * it finds, so its last columns, which plan the rest of the transaction per execution again, always run.
 */
export const DEFERRED_CLAWBACKS = `${GENERIC_INDEX_PLAN}select coalesce((
    select jsonb_agg(jsonb_build_object('refund_id', d.refund_id, 'reward', d.reward, 'approved_amount', d.approved_amount, 'currency', d.currency)
                     order by d.updated_at, d.refund_id)
      from (select refund_id, reward, approved_amount, currency, updated_at from refunds
             where ${SAME_TENANT} and reward->>'transactionId' = ? and clawback->>'status' = 'deferred' and state is not distinct from 'SUCCEEDED'
             order by updated_at, refund_id for update) d), '[]'::jsonb) as waiting, ${ANY_SCAN_AGAIN}, ${CUSTOM_PLAN_AGAIN}`;

/** What a payout's success stamps on its refund before the transition: the provider's reference. */
export interface PaidStamp {
  tenant: string;
  refundId: string;
  providerRef: string;
}

/** PayoutsRepository.succeed's update: locks the refund if it is still PROCESSING and returns it. Values read by `value`. */
export function paidSql(value: SlotOf<PaidStamp>): RawBuilder<Raw> {
  return sql<Raw>`update refunds set provider_ref = ${value((p) => p.providerRef)}, next_attempt_at = null, last_error = null
        where ${sameTenant(value((p) => p.tenant))} and refund_id = ${value((p) => p.refundId)} and state = 'PROCESSING' returning ${refundColumnsOf('refunds')}`;
}

export class PayoutsRepository {
  /** succeed()'s update (paidSql), compiled once: it runs for every refund paid. */
  private readonly paid = new CompiledStatements<PaidStamp>();

  constructor(
    private readonly refunds: RefundsRepository,
    private readonly outbox: OutboxRepository = new OutboxRepository(),
  ) {}

  /**
   * Claims up to `limit` refunds due at `now` (APPROVED ones, retries whose time came, attempts whose lease ran out),
   * skipping rows another transaction holds. Each gets attempts + 1 and a lease until now + leaseMs; an APPROVED one
   * moves to PROCESSING (actor system) with its event. Commit before calling the provider.
   */
  async claimDue(em: SqlEntityManager, now: Date, limit: number, leaseMs: number): Promise<PayoutJob[]> {
    // One statement stamps the whole claim; only an APPROVED refund needs its transition (and event) besides.
    const { rows: claimed } = await sql<Raw>`with due as (
         select tenant, refund_id from refunds
          where state in ('APPROVED', 'PROCESSING') and (next_attempt_at is null or next_attempt_at <= ${now}::timestamptz)
          order by next_attempt_at nulls first
          limit ${limit} for update skip locked)
       update refunds r set attempts = r.attempts + 1, next_attempt_at = ${new Date(now.getTime() + leaseMs)}::timestamptz
         from due where r.tenant = due.tenant and r.refund_id = due.refund_id
       returning ${refundColumnsOf('r')}, r.attempts, r.definite_failures`.execute(em.getKysely());
    const jobs: PayoutJob[] = [];
    for (const r of claimed) {
      // The claim's update holds the row locked: its returned row is what the transition would read.
      const row = toRefund(r);
      const { tenant, refundId } = row;
      const attempt = Number(r.attempts);
      if (row.state === 'APPROVED') {
        // `now` was read before this claim waited for a connection: transition() stamps PROCESSING after the APPROVED it follows.
        await this.refunds.transition(em, { tenant, refundId, to: 'PROCESSING', actor: SYSTEM, at: now, reason: 'payout started', eventData: { attempt } }, row);
      }
      // Every earlier call of this execution (attempt − 1 of them) was answered with a definite failure, or one may have paid.
      const inDoubt = Number(r.definite_failures) < attempt - 1;
      jobs.push({ tenant, refundId, amount: row.approvedAmount, currency: row.currency, reward: row.reward, attempt, inDoubt });
    }
    return jobs;
  }

  /**
   * The provider paid: PROCESSING → SUCCEEDED with the provider's reference and, when the refund carries a reward,
   * the ledger clawback posted by `clawback` in this same transaction (so it exists exactly when SUCCEEDED does, and
   * only once: SUCCEEDED is final). A success is recorded even from an attempt whose lease ran out (every attempt uses
   * the same idempotency key: it is the one payment). False when the refund is no longer PROCESSING.
   */
  async succeed(em: SqlEntityManager, job: PayoutJob, o: { at: Date; providerRef: string; provider: string; clawback: ClawbackPoster }): Promise<boolean> {
    // The update locks the row and checks the state in one statement; the state itself moves in transition() below.
    const db = em.getKysely();
    const { rows: locked } = await db.executeQuery(this.paid.bind(db, '', { tenant: job.tenant, refundId: job.refundId, providerRef: o.providerRef }, paidSql));
    if (locked.length === 0) return false;
    const row = toRefund(locked[0]!);
    const clawback = job.reward ? await o.clawback(em, { ...job, reward: job.reward }) : null;
    const refused =
      clawback && clawback.status === 'refused'
        ? `; ledger clawback refused: ${String(clawback.code)}`
        : clawback && clawback.status === 'deferred'
          ? '; ledger clawback deferred until the reward transaction settles'
          : '';
    await this.refunds.transition(em, {
      tenant: job.tenant,
      refundId: job.refundId,
      to: 'SUCCEEDED',
      actor: SYSTEM,
      at: o.at,
      reason: `paid by ${o.provider} (${o.providerRef})${refused}`,
      eventData: { providerRef: o.providerRef, attempts: job.attempt, clawback },
    }, row);
    if (clawback !== null) {
      await em.execute(`update refunds set clawback = ?::jsonb where ${SAME_TENANT} and refund_id = ?`, [JSON.stringify(clawback), job.tenant, job.refundId]);
    }
    return true;
  }

  /**
   * Paid refunds whose clawback waits for this ledger transaction to settle, locked until the caller's transaction
   * ends (a settlement and a payout of the same refund cannot post it twice).
   */
  async deferredClawbacks(em: SqlEntityManager, tenant: string, transactionId: string): Promise<{ refundId: string; reward: { accountId: string; transactionId: string }; amount: number; currency: string }[]> {
    const { rows } = await em.getKysely().executeQuery(withParameters(DEFERRED_CLAWBACKS, [tenant, transactionId]));
    const waiting = rows[0]!.waiting as Raw[];
    return waiting.map((r) => ({
      refundId: String(r.refund_id),
      reward: json(r.reward) as unknown as { accountId: string; transactionId: string },
      amount: Number(r.approved_amount),
      currency: String(r.currency).trim(),
    }));
  }

  /** Records the clawback finally posted (or refused) for a refund paid earlier, with a `refund.clawback_posted` event. */
  async recordClawback(em: SqlEntityManager, tenant: string, refundId: string, clawback: Record<string, unknown>, at: Date): Promise<void> {
    await em.execute(`update refunds set clawback = ?::jsonb where ${SAME_TENANT} and refund_id = ?`, [JSON.stringify(clawback), tenant, refundId]);
    await this.outbox.append(em, { tenant, type: 'refund.clawback_posted', occurredAt: at, data: { refundId, clawback } });
  }

  /** Not paid (yet): asks again at `nextAttemptAt`. False when another claim took the refund over meanwhile. */
  async reschedule(em: SqlEntityManager, job: PayoutJob, o: { nextAttemptAt: Date; error: string; definite: boolean }): Promise<boolean> {
    const rows = await em.execute<Raw[]>(
      `update refunds set next_attempt_at = ?, last_error = ?, definite_failures = definite_failures + ?
        where ${SAME_TENANT} and refund_id = ? and state = 'PROCESSING' and attempts = ? returning 1 as ok`,
      [o.nextAttemptAt, o.error, o.definite ? 1 : 0, job.tenant, job.refundId, job.attempt],
    );
    return rows.length > 0;
  }

  /** The provider refused for good: PROCESSING → FAILED with its reason. False when another claim took the refund over. */
  async fail(em: SqlEntityManager, job: PayoutJob, o: { at: Date; reason: string }): Promise<boolean> {
    const current = await em.execute<Raw[]>(`select state, attempts from refunds where ${SAME_TENANT} and refund_id = ? for update`, [job.tenant, job.refundId]);
    if (current[0]?.state !== 'PROCESSING' || Number(current[0].attempts) !== job.attempt) return false;
    await this.refunds.transition(em, {
      tenant: job.tenant,
      refundId: job.refundId,
      to: 'FAILED',
      actor: SYSTEM,
      at: o.at,
      reason: `provider: ${o.reason}`,
      eventData: { failure: o.reason, attempts: job.attempt },
    });
    await em.execute(`update refunds set next_attempt_at = null, last_error = ? where ${SAME_TENANT} and refund_id = ?`, [o.reason, job.tenant, job.refundId]);
    return true;
  }

  /**
   * A manual retry: FAILED → PROCESSING (409 INVALID_TRANSITION from any other state), attempts back to 0, due at once,
   * under the order's lock and only while the order can still refund the approved amount (422 AMOUNT_EXCEEDS_REFUNDABLE).
   * The idempotency key stays the refund's own. Null when the tenant has no such refund.
   */
  async retry(em: SqlEntityManager, r: { tenant: string; refundId: string; actor: Actor; at: Date }): Promise<RefundRow | null> {
    // Lock order of every write that adds to an order's refunded total: the order, then the refund's row.
    const seen = await this.refunds.find(em, r.tenant, r.refundId);
    if (!seen) return null;
    await this.refunds.lockOrder(em, r.tenant, seen.orderId);
    const current = await this.refunds.find(em, r.tenant, r.refundId, { forUpdate: true });
    if (!current) return null;
    // Only a FAILED refund is retried: APPROVED → PROCESSING is the worker's (the lifecycle table allows it).
    if (current.state !== 'FAILED') {
      throw new DomainError(INVALID_TRANSITION, `A refund in state ${current.state} cannot be retried (only a FAILED one)`, 'conflict', [
        { path: '/state', message: `${current.state} → PROCESSING is not a manual retry` },
      ], { from: current.state, to: 'PROCESSING' });
    }
    // FAILED gave the amount back to the order, which may have refunded it since: paying this one now would refund more
    // than was captured.
    const committed = await this.refunds.committedTotal(em, r.tenant, current.orderId, r.refundId);
    const refundable = current.capturedAmount - committed;
    if (current.approvedAmount > refundable) {
      throw new DomainError(
        'AMOUNT_EXCEEDS_REFUNDABLE',
        `Order ${current.orderId} has ${Math.max(refundable, 0)} ${current.currency} left to refund (captured ${current.capturedAmount}, committed ${committed}); this refund is ${current.approvedAmount}`,
        'unprocessable',
        [{ path: '/approvedAmount', message: `must not exceed ${Math.max(refundable, 0)}` }],
        { refundable: Math.max(refundable, 0), committed, captured: current.capturedAmount },
      );
    }
    const exec = await this.execution(em, r.tenant, r.refundId);
    const moved = await this.refunds.transition(em, {
      tenant: r.tenant,
      refundId: r.refundId,
      to: 'PROCESSING',
      actor: r.actor,
      at: r.at,
      reason: 'manual retry',
      eventData: { previousAttempts: exec?.attempts ?? 0, previousFailure: exec?.lastError ?? null },
    });
    await em.execute(`update refunds set attempts = 0, definite_failures = 0, next_attempt_at = null, last_error = null where ${SAME_TENANT} and refund_id = ?`, [
      r.tenant,
      r.refundId,
    ]);
    return moved;
  }

  async execution(em: SqlEntityManager, tenant: string, refundId: string): Promise<PayoutExecution | null> {
    const rows = await em.execute<Raw[]>(
      `select attempts, next_attempt_at, last_error, provider_ref, clawback from refunds where ${SAME_TENANT} and refund_id = ?`,
      [tenant, refundId],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      attempts: Number(r.attempts),
      nextAttemptAt: pgTimestampOrNull(r.next_attempt_at),
      lastError: (r.last_error as string | null) ?? null,
      providerRef: (r.provider_ref as string | null) ?? null,
      clawback: json(r.clawback),
    };
  }
}
