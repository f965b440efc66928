/**
 * The reward ledger's PostgreSQL/PGlite store. Each unit of work runs in a (nested) transaction holding a per-account
 * advisory lock, so every change to one account is serialised — including the first, when no row exists yet to lock.
 */
import type { SqlEntityManager } from '@mikro-orm/sql';
import { DomainError } from '../errors/index.js';
import { transactionView } from '../ledger/index.js';
import type { OutboxRepository } from './outbox.repository.js';
import type {
  IntegrityVerdict,
  AdjustmentFilter,
  TransactionFilter,
  LedgerAccount,
  LedgerAdjustment,
  LedgerEntry,
  LedgerStore,
  LedgerTransaction,
  LedgerUnitOfWork,
  RedemptionRecord,
  TransactionStatus,
  AdjustmentKind,
  EntryType,
  EntryCauseKind,
} from '../ledger/index.js';

type Row = Record<string, unknown>;

// pg answers bigint as string and timestamptz as Date; PGlite may answer numbers and Dates. Normalise both.
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));
const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();
const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));
const str = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

function toAccount(r: Row): LedgerAccount {
  return {
    tenant: str(r.tenant),
    accountId: str(r.account_id),
    programRef: str(r.program_ref),
    currency: str(r.currency),
    cycleAnchorDay: num(r.cycle_anchor_day),
    balance: num(r.balance),
    redeemed: num(r.redeemed),
    holdUntil: isoOrNull(r.hold_until),
    closedPeriods: json<string[]>(r.closed_periods),
    capUsage: json<Record<string, number>>(r.cap_usage),
    version: num(r.version),
  };
}

function toTransaction(r: Row): LedgerTransaction {
  return {
    tenant: str(r.tenant),
    transactionId: str(r.transaction_id),
    accountId: str(r.account_id),
    amount: num(r.amount),
    category: str(r.category),
    occurredAt: iso(r.occurred_at),
    settledAt: isoOrNull(r.settled_at),
    status: str(r.status) as TransactionStatus,
    refunded: num(r.refunded),
    reward: num(r.reward),
    originalReward: num(r.original_reward),
    rewardedAt: isoOrNull(r.rewarded_at),
    rewardPeriod: r.reward_period === null ? null : str(r.reward_period),
    partialRefunds: num(r.partial_refunds),
    rewardBase: numOrNull(r.reward_base),
  };
}

function toAdjustment(r: Row): LedgerAdjustment {
  return {
    tenant: str(r.tenant),
    adjustmentId: str(r.adjustment_id),
    kind: str(r.kind) as AdjustmentKind,
    transactionId: str(r.transaction_id),
    accountId: str(r.account_id),
    amount: num(r.amount),
    at: iso(r.at),
    clawback: numOrNull(r.clawback),
    processedAt: isoOrNull(r.processed_at),
    entrySeq: numOrNull(r.entry_seq),
  };
}

function toEntry(r: Row): LedgerEntry {
  return {
    seq: num(r.seq),
    accountId: str(r.account_id),
    transactionId: r.transaction_id === null ? null : str(r.transaction_id),
    type: str(r.type) as EntryType,
    amount: num(r.amount),
    balanceAfter: num(r.balance_after),
    cause: { kind: str(r.cause_kind) as EntryCauseKind, id: str(r.cause_id) },
    programRef: str(r.program_ref),
    at: iso(r.at),
  };
}

/** The event an account's Reward Integrity turning false writes to the outbox (api-contract.md §9). */
export const INTEGRITY_VIOLATED_EVENT = 'ledger.integrity_violated';

/** What is stored with a violated account and sent in its event: the verdict and the transactions its violations name. */
export function integrityDetails(v: IntegrityVerdict) {
  const { netSpend, netReward, rewardBound, roundingTolerance, rewardIntegrity, violations } = v.report;
  return {
    accountId: v.account.accountId,
    program: v.account.programRef,
    currency: v.account.currency,
    at: v.at,
    transactions: v.violating.map(transactionView),
    verdict: { rewardIntegrity, netSpend, netReward, rewardBound, roundingTolerance, balance: v.account.balance, redeemed: v.account.redeemed, violations },
  };
}

class PgUnitOfWork implements LedgerUnitOfWork {
  /** Whether each account read in this unit of work was violated at its last write (read with its row, already locked). */
  private readonly violated = new Map<string, boolean>();

  constructor(
    private readonly em: SqlEntityManager,
    private readonly tenant: string,
    private readonly outbox: OutboxRepository | undefined,
  ) {}

  private async one(sql: string, params: unknown[]): Promise<Row | null> {
    const rows = await this.em.execute<Row[]>(sql, params);
    return rows[0] ?? null;
  }

  async getAccount(accountId: string): Promise<LedgerAccount | null> {
    // FOR UPDATE as well as the advisory lock: the row lock is what other writers of this row would respect.
    const r = await this.one('select * from ledger_accounts where tenant = ? and account_id = ? for update', [this.tenant, accountId]);
    if (r) this.violated.set(accountId, r.integrity_violated_at !== null && r.integrity_violated_at !== undefined);
    return r ? toAccount(r) : null;
  }

  /**
   * Remembers whether the account's verdict is false, and when it turns false writes ONE `ledger.integrity_violated`
   * event in this same transaction. While it stays false the stored details follow the latest write (no new event);
   * once it holds again the mark is cleared, so a later turn to false is a new event.
   */
  async recordIntegrity(v: IntegrityVerdict): Promise<void> {
    if (!this.outbox) return;
    const accountId = v.account.accountId;
    const was = this.violated.get(accountId) ?? false;
    const now = !v.report.rewardIntegrity;
    if (!now) {
      if (was) await this.em.execute('update ledger_accounts set integrity_violated_at = null, integrity_violations = null where tenant = ? and account_id = ?', [this.tenant, accountId]);
      this.violated.set(accountId, false);
      return;
    }
    const details = integrityDetails(v);
    if (was) {
      await this.em.execute('update ledger_accounts set integrity_violations = ?::jsonb where tenant = ? and account_id = ?', [JSON.stringify(details), this.tenant, accountId]);
      return;
    }
    await this.em.execute('update ledger_accounts set integrity_violated_at = ?, integrity_violations = ?::jsonb where tenant = ? and account_id = ?', [
      v.at,
      JSON.stringify(details),
      this.tenant,
      accountId,
    ]);
    await this.outbox.append(this.em, { tenant: this.tenant, type: INTEGRITY_VIOLATED_EVENT, data: details, occurredAt: new Date(v.at) });
    this.violated.set(accountId, true);
  }

  async getTransaction(transactionId: string): Promise<LedgerTransaction | null> {
    const r = await this.one('select * from ledger_transactions where tenant = ? and transaction_id = ?', [this.tenant, transactionId]);
    return r ? toTransaction(r) : null;
  }

  async transactionsOfAccount(accountId: string, filter: TransactionFilter = {}): Promise<LedgerTransaction[]> {
    const where = ['t.tenant = ?', 't.account_id = ?'];
    const params: unknown[] = [this.tenant, accountId];
    if (filter.transactionIds !== undefined) {
      where.push('t.transaction_id in (select jsonb_array_elements_text(?::jsonb))');
      params.push(JSON.stringify(filter.transactionIds));
    }
    if (filter.unrewardedBefore !== undefined) {
      where.push('t.rewarded_at is null and coalesce(t.settled_at, t.occurred_at) < ?::timestamptz');
      params.push(filter.unrewardedBefore);
    }
    const rows = await this.em.execute<Row[]>(`select t.* from ledger_transactions t where ${where.join(' and ')} order by t.occurred_at, t.transaction_id`, params);
    return rows.map(toTransaction);
  }

  async adjustmentsOfAccount(accountId: string, filter: AdjustmentFilter = {}): Promise<LedgerAdjustment[]> {
    const where = ['a.tenant = ?', 'a.account_id = ?'];
    const params: unknown[] = [this.tenant, accountId];
    // processed_at and clawback are set together; processed_at is the one the partial index covers.
    if (filter.unprocessedOnly) where.push('a.processed_at is null');
    if (filter.transactionIds !== undefined) {
      where.push('a.transaction_id in (select jsonb_array_elements_text(?::jsonb))');
      params.push(JSON.stringify(filter.transactionIds));
    }
    if (filter.ofRewardedTransactions) {
      where.push('exists (select 1 from ledger_transactions t where t.tenant = a.tenant and t.transaction_id = a.transaction_id and t.rewarded_at is not null)');
    }
    if (filter.before !== undefined) {
      where.push('a.at < ?::timestamptz');
      params.push(filter.before);
    }
    const rows = await this.em.execute<Row[]>(`select a.* from ledger_adjustments a where ${where.join(' and ')} order by a.at, a.adjustment_id`, params);
    return rows.map(toAdjustment);
  }

  async unprocessedCounts(accountId: string, transactionIds: readonly string[]): Promise<Map<string, number>> {
    const rows = await this.em.execute<Row[]>(
      `select transaction_id, count(*) as n from ledger_adjustments
       where tenant = ? and account_id = ? and processed_at is null and transaction_id in (select jsonb_array_elements_text(?::jsonb))
       group by transaction_id`,
      [this.tenant, accountId, JSON.stringify(transactionIds)],
    );
    return new Map(rows.map((r) => [str(r.transaction_id), num(r.n)]));
  }

  async getAdjustment(adjustmentId: string): Promise<LedgerAdjustment | null> {
    const r = await this.one('select * from ledger_adjustments where tenant = ? and adjustment_id = ?', [this.tenant, adjustmentId]);
    return r ? toAdjustment(r) : null;
  }

  async saveAccount(a: LedgerAccount): Promise<void> {
    await this.em.execute(
      `insert into ledger_accounts (tenant, account_id, program_ref, currency, cycle_anchor_day, balance, redeemed, hold_until, closed_periods, cap_usage, version)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?)
       on conflict (tenant, account_id) do update set program_ref = excluded.program_ref, currency = excluded.currency,
         cycle_anchor_day = excluded.cycle_anchor_day, balance = excluded.balance, redeemed = excluded.redeemed,
         hold_until = excluded.hold_until, closed_periods = excluded.closed_periods, cap_usage = excluded.cap_usage, version = excluded.version`,
      [a.tenant, a.accountId, a.programRef, a.currency, a.cycleAnchorDay, a.balance, a.redeemed, a.holdUntil, JSON.stringify(a.closedPeriods), JSON.stringify(a.capUsage), a.version],
    );
  }

  /**
   * Ids are unique per tenant, but each unit of work locks only its own account: an upsert may update only a row of
   * the same account. Zero rows back means another account holds the id (a concurrent racer committed first).
   */
  private async upsertOwned(sql: string, params: unknown[], code: string, what: string): Promise<void> {
    const rows = await this.em.execute<Row[]>(`${sql} returning 1 as ok`, params);
    if (rows.length === 0) throw new DomainError(code, `${what} already exists`, 'conflict');
  }

  async saveTransaction(t: LedgerTransaction): Promise<void> {
    await this.upsertOwned(
      `insert into ledger_transactions (tenant, transaction_id, account_id, amount, category, occurred_at, settled_at, status, refunded, reward,
         original_reward, rewarded_at, reward_period, partial_refunds, reward_base)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (tenant, transaction_id) do update set settled_at = excluded.settled_at, status = excluded.status,
         refunded = excluded.refunded, reward = excluded.reward, original_reward = excluded.original_reward,
         rewarded_at = excluded.rewarded_at, reward_period = excluded.reward_period, partial_refunds = excluded.partial_refunds,
         reward_base = excluded.reward_base
       where ledger_transactions.account_id = excluded.account_id`,
      [t.tenant, t.transactionId, t.accountId, t.amount, t.category, t.occurredAt, t.settledAt, t.status, t.refunded, t.reward,
        t.originalReward, t.rewardedAt, t.rewardPeriod, t.partialRefunds, t.rewardBase],
      'TRANSACTION_EXISTS',
      `transaction ${t.transactionId}`,
    );
  }

  async saveAdjustment(a: LedgerAdjustment): Promise<void> {
    await this.upsertOwned(
      `insert into ledger_adjustments (tenant, adjustment_id, kind, transaction_id, account_id, amount, at, clawback, processed_at, entry_seq)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (tenant, adjustment_id) do update set clawback = excluded.clawback, processed_at = excluded.processed_at,
         entry_seq = excluded.entry_seq
       where ledger_adjustments.account_id = excluded.account_id`,
      [a.tenant, a.adjustmentId, a.kind, a.transactionId, a.accountId, a.amount, a.at, a.clawback, a.processedAt, a.entrySeq],
      'ADJUSTMENT_EXISTS',
      `adjustment ${a.adjustmentId}`,
    );
  }

  async appendEntry(e: Omit<LedgerEntry, 'seq'>): Promise<LedgerEntry> {
    // The account is locked for this unit of work, so max(seq)+1 cannot race.
    const rows = await this.em.execute<Row[]>(
      `insert into ledger_entries (tenant, account_id, seq, transaction_id, type, amount, balance_after, cause_kind, cause_id, program_ref, at)
       select ?, ?, coalesce(max(seq), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ? from ledger_entries where tenant = ? and account_id = ?
       returning *`,
      [this.tenant, e.accountId, e.transactionId, e.type, e.amount, e.balanceAfter, e.cause.kind, e.cause.id, e.programRef, e.at, this.tenant, e.accountId],
    );
    return toEntry(rows[0]!);
  }

  async getRedemption(redemptionId: string): Promise<RedemptionRecord | null> {
    const r = await this.one('select record from ledger_redemptions where tenant = ? and redemption_id = ?', [this.tenant, redemptionId]);
    return r ? json<RedemptionRecord>(r.record) : null;
  }

  async saveRedemption(r: RedemptionRecord): Promise<void> {
    await this.upsertOwned(
      `insert into ledger_redemptions (tenant, redemption_id, account_id, record) values (?, ?, ?, ?::jsonb)
       on conflict (tenant, redemption_id) do update set record = excluded.record
       where ledger_redemptions.account_id = excluded.account_id`,
      [r.tenant, r.redemptionId, r.accountId, JSON.stringify(r)],
      'REDEMPTION_EXISTS',
      `redemption ${r.redemptionId}`,
    );
  }
}

export class PgLedgerStore implements LedgerStore {
  /**
   * `em` may already be inside a transaction (the HTTP layer's idempotency transaction): units of work nest in it.
   * With an outbox, the store records each account's Reward Integrity verdict and reports its turn to false.
   */
  constructor(
    private readonly em: SqlEntityManager,
    private readonly outbox?: OutboxRepository,
  ) {}

  withAccount<T>(tenant: string, accountId: string, fn: (uow: LedgerUnitOfWork) => Promise<T>): Promise<T> {
    return this.em.transactional(async (tx) => {
      await tx.execute('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`ledger/${tenant}/${accountId}`]);
      return fn(new PgUnitOfWork(tx, tenant, this.outbox));
    });
  }

  async accountExists(tenant: string, accountId: string): Promise<boolean> {
    const rows = await this.em.execute<Row[]>('select 1 from ledger_accounts where tenant = ? and account_id = ?', [tenant, accountId]);
    return rows.length > 0;
  }

  async accountOfTransaction(tenant: string, transactionId: string): Promise<string | null> {
    const rows = await this.em.execute<Row[]>('select account_id from ledger_transactions where tenant = ? and transaction_id = ?', [tenant, transactionId]);
    return rows[0] ? str(rows[0].account_id) : null;
  }

  async entries(tenant: string, accountId: string, page: { limit: number; afterSeq?: number }): Promise<LedgerEntry[]> {
    const rows = await this.em.execute<Row[]>(
      'select * from ledger_entries where tenant = ? and account_id = ? and seq > ? order by seq limit ?',
      [tenant, accountId, page.afterSeq ?? 0, page.limit],
    );
    return rows.map(toEntry);
  }
}

/** Builds the store over a request's EntityManager (usually its transaction); injected, so services never `new` one. */
export class PgLedgerStoreFactory {
  constructor(private readonly outbox?: OutboxRepository) {}

  create(em: SqlEntityManager): PgLedgerStore {
    return new PgLedgerStore(em, this.outbox);
  }
}

export interface ViolatedAccount {
  accountId: string;
  violatedAt: string;
  details: ReturnType<typeof integrityDetails>;
}

/** The tenant's accounts whose Reward Integrity verdict is false, by account id; `after` is the last id of the previous page. */
export async function violatedAccounts(em: SqlEntityManager, tenant: string, limit: number, after?: string): Promise<ViolatedAccount[]> {
  const rows = await em.execute<Row[]>(
    `select account_id, integrity_violated_at, integrity_violations from ledger_accounts
     where tenant = ? and integrity_violated_at is not null${after !== undefined ? ' and account_id > ?' : ''}
     order by account_id limit ?`,
    after !== undefined ? [tenant, after, limit] : [tenant, limit],
  );
  return rows.map((r) => ({ accountId: str(r.account_id), violatedAt: iso(r.integrity_violated_at), details: json(r.integrity_violations) }));
}
