/**
 * The reward ledger's PostgreSQL/PGlite store. Each unit of work runs in a (nested) transaction holding a per-account
 * advisory lock, so every change to one account is serialised — including the first, when no row exists yet to lock.
 */
import type { SqlEntityManager } from '@mikro-orm/sql';
import { SYSTEM_ACTOR, type Actor } from '../audit/index.js';
import { DomainError } from '../errors/index.js';
import { parseIntegrityTotals, transactionPredicate, transactionView, type IntegrityTotals } from '../ledger/index.js';
import type { OutboxRepository } from './outbox.repository.js';
import { CUSTOM_PLAN_AGAIN, GENERIC_PLAN } from './prepared-statements.js';
import { withParameters } from './statement-parameters.js';
import { SAME_TENANT } from './tenant-scope.js';
import type {
  IntegrityVerdict,
  AdjustmentFilter,
  TransactionFilter,
  LedgerAccount,
  LedgerAdjustment,
  LedgerEntry,
  LedgerReads,
  LedgerStore,
  LedgerTransaction,
  LedgerUnitOfWork,
  RedemptionRecord,
  TransactionStatus,
  AdjustmentKind,
  EntryType,
  EntryCauseKind,
} from '../ledger/index.js';
import { pgTimestamp } from './timestamps.js';

type Row = Record<string, unknown>;

// pg answers bigint as string and timestamptz as Date; PGlite may answer numbers and Dates. Normalise both.
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));
const iso = (v: unknown): string => pgTimestamp(v).toISOString();
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
    actor: r.actor_id === null || r.actor_id === undefined ? null : { id: str(r.actor_id), role: str(r.actor_role) },
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
    actor: r.actor_id === null || r.actor_id === undefined ? null : { id: str(r.actor_id), role: str(r.actor_role) },
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

/** What a flush writes for an account's Reward Integrity mark (see PgUnitOfWork.recordIntegrity). */
type IntegrityWrite = { mode: 'clear' } | { mode: 'update'; details: string } | { mode: 'violate'; at: string; details: string };

interface StagedEvent {
  id: string;
  type: string;
  occurredAt: string;
  data: ReturnType<typeof integrityDetails>;
}

/** A row written by an upsert that must stay with its account: `own` when this unit of work saw it there, else new. */
interface Owned<T> {
  row: T;
  own: boolean;
}

const TX_COLUMNS = `tenant text, transaction_id text, account_id text, amount bigint, category text, occurred_at timestamptz, settled_at timestamptz,
  status text, refunded bigint, reward bigint, original_reward bigint, rewarded_at timestamptz, reward_period text, partial_refunds integer, reward_base bigint`;
const ADJ_COLUMNS = `tenant text, adjustment_id text, kind text, transaction_id text, account_id text, amount bigint, at timestamptz, clawback bigint,
  processed_at timestamptz, entry_seq bigint`;

const txRow = (t: LedgerTransaction) => ({
  tenant: t.tenant,
  transaction_id: t.transactionId,
  account_id: t.accountId,
  amount: t.amount,
  category: t.category,
  occurred_at: t.occurredAt,
  settled_at: t.settledAt,
  status: t.status,
  refunded: t.refunded,
  reward: t.reward,
  original_reward: t.originalReward,
  rewarded_at: t.rewardedAt,
  reward_period: t.rewardPeriod,
  partial_refunds: t.partialRefunds,
  reward_base: t.rewardBase,
});

const adjRow = (a: LedgerAdjustment) => ({
  tenant: a.tenant,
  adjustment_id: a.adjustmentId,
  kind: a.kind,
  transaction_id: a.transactionId,
  account_id: a.accountId,
  amount: a.amount,
  at: a.at,
  clawback: a.clawback,
  processed_at: a.processedAt,
  entry_seq: a.entrySeq,
});

const copyAccount = (a: LedgerAccount): LedgerAccount => ({ ...a, closedPeriods: [...a.closedPeriods], capUsage: { ...a.capUsage } });

/**
 * One unit of work in three statements: the account's lock, ONE read of everything the operation declared
 * (LedgerReads: the account row, locked, its last entry seq, the transactions, adjustments, redemptions and counts it
 * touches), and ONE write of everything it staged (rows, entries, account, Reward Integrity mark, outbox event).
 * Reads of what was declared are answered from that read with this unit of work's own writes applied; anything else is
 * read from the database, after flushing what is staged so the read sees it.
 */
class PgUnitOfWork implements LedgerUnitOfWork {
  /** Whether each account read in this unit of work was violated at its last write (read with its row, already locked). */
  private readonly violated = new Map<string, boolean>();
  // What the declared read answered (null: known absent), by id; the account's transactions in the store's order.
  private readonly accounts = new Map<string, LedgerAccount | null>();
  private readonly transactions = new Map<string, LedgerTransaction | null>();
  private readonly adjustments = new Map<string, LedgerAdjustment | null>();
  private readonly redemptions = new Map<string, RedemptionRecord | null>();
  private readonly accountTransactions = new Map<string, LedgerTransaction[]>();
  private counts: { accountId: string; ids: Set<string>; counts: Map<string, number> } | undefined;
  private readonly lastSeq = new Map<string, number>();
  // Staged writes, the latest snapshot per row.
  private readonly stagedAccounts = new Map<string, LedgerAccount>();
  private readonly stagedTransactions = new Map<string, Owned<LedgerTransaction>>();
  private readonly stagedAdjustments = new Map<string, Owned<LedgerAdjustment>>();
  private readonly stagedRedemptions = new Map<string, Owned<RedemptionRecord>>();
  private readonly stagedEntries: LedgerEntry[] = [];
  private readonly stagedIntegrity = new Map<string, IntegrityWrite>();
  /** Reward Integrity totals read with each account (integrityTotals), and those a verdict left to write. */
  private readonly totals = new Map<string, IntegrityTotals | null>();
  private readonly stagedTotals = new Map<string, IntegrityTotals | null>();
  private readonly stagedEvents: StagedEvent[] = [];
  /** Set once a read had to flush part of the work early while nested in the caller's transaction (see flushEarly). */
  private savepoint = false;

  constructor(
    private readonly em: SqlEntityManager,
    private readonly tenant: string,
    private readonly outbox: OutboxRepository | undefined,
    /** Inside the caller's transaction: an early flush is undone through a savepoint if the work then fails. */
    private readonly nested: boolean,
    /** Who the entries are written for: stored on each entry by the write statement itself (no extra round trip). */
    private readonly actor: Actor,
  ) {}

  private async one(sql: string, params: unknown[]): Promise<Row | null> {
    const rows = await this.em.execute<Row[]>(sql, params);
    return rows[0] ?? null;
  }

  /**
   * The hot statements (the lock and read, the write) go with bound parameters rather than inlined in the text, so
   * their text is the same on every call and runs as a named prepared statement (prepared-statements.ts).
   */
  private async bound(text: string, params: unknown[]): Promise<Row | null> {
    const result = await this.em.getKysely().executeQuery(withParameters(text, params));
    return result.rows[0] ?? null;
  }

  private get dirty(): boolean {
    return (
      this.stagedAccounts.size + this.stagedTransactions.size + this.stagedAdjustments.size + this.stagedRedemptions.size + this.stagedEntries.length +
        this.stagedIntegrity.size + this.stagedTotals.size + this.stagedEvents.length >
      0
    );
  }

  /**
   * The lock and the one read, in one round trip (ledger_lock_and_read, Migration20261204010000_ledger_read): the read
   * runs after the lock is held, with a snapshot that sees every earlier write to the account, and locks the account row
   * FOR UPDATE as well (the row lock is what other writers of the account row would respect).
   */
  async lockAndRead(target: { accountId: string } | { transactionId: string }, reads: LedgerReads): Promise<string | null> {
    const declared = {
      transactionIds: reads.transactionIds ?? [],
      adjustmentIds: reads.adjustmentIds ?? [],
      redemptionIds: reads.redemptionIds ?? [],
      unprocessedCountsOf: reads.unprocessedCountsOf ?? [],
      allTransactions: reads.allTransactions ?? false,
      integrity: reads.integrity ?? false,
      // This store keeps the accounts' integrity totals: its writes must not make the database forget them.
      keepsTotals: true,
    };
    const [byAccount, byTransaction] = 'accountId' in target ? [target.accountId, null] : [null, target.transactionId];
    const row = (await this.bound('select ledger_lock_and_read(?::text, ?::text, ?::text, ?::jsonb) as r', [this.tenant, byAccount, byTransaction, JSON.stringify(declared)]))!;
    const r = json<Row>(row.r);
    if (r.account_id === null || r.account_id === undefined) return null;
    const accountId = str(r.account_id);
    const txIds = declared.transactionIds;
    const adjIds = declared.adjustmentIds;
    const redIds = declared.redemptionIds;
    const countIds = declared.unprocessedCountsOf;
    const account = r.account === null || r.account === undefined ? null : json<Row>(r.account);
    this.accounts.set(accountId, account ? toAccount(account) : null);
    if (account) this.violated.set(accountId, account.integrity_violated_at !== null && account.integrity_violated_at !== undefined);
    this.totals.set(accountId, account ? parseIntegrityTotals(account.integrity_totals) : null);
    this.lastSeq.set(accountId, num(r.last_seq));
    // Every transaction when declared, or for a verdict on an account without totals or already violated (the function decides).
    if (r.all_tx !== undefined && r.all_tx !== null) {
      const all = json<Row[]>(r.all_tx).map(toTransaction);
      this.accountTransactions.set(accountId, all);
      for (const x of all) this.transactions.set(x.transactionId, x);
    }
    if (txIds.length > 0) {
      for (const id of txIds) if (!this.transactions.has(id)) this.transactions.set(id, null);
      for (const x of json<Row[]>(r.txs).map(toTransaction)) this.transactions.set(x.transactionId, x);
    }
    if (adjIds.length > 0) {
      for (const id of adjIds) this.adjustments.set(id, null);
      for (const x of json<Row[]>(r.adjs).map(toAdjustment)) this.adjustments.set(x.adjustmentId, x);
    }
    if (redIds.length > 0) {
      for (const id of redIds) this.redemptions.set(id, null);
      for (const x of json<Row[]>(r.reds)) this.redemptions.set(str(x.id), json<RedemptionRecord>(x.record));
    }
    if (countIds.length > 0) {
      const counts = json<Record<string, unknown>>(r.counts);
      this.counts = { accountId, ids: new Set(countIds), counts: new Map(Object.entries(counts).map(([k, v]) => [k, num(v)])) };
    }
    return accountId;
  }

  /**
   * A read the declared one cannot answer goes to the database, so what is staged is written first. Nested in the
   * caller's transaction, that early write is made undoable first (the work may still fail after it).
   */
  private async flushEarly(): Promise<void> {
    if (!this.dirty) return;
    if (this.nested && !this.savepoint) {
      await this.em.execute('savepoint ledger_unit_of_work');
      this.savepoint = true;
    }
    await this.flush();
  }

  /** After the work succeeded and was flushed. */
  async release(): Promise<void> {
    if (this.savepoint) await this.em.execute('release savepoint ledger_unit_of_work');
  }

  /** After the work failed: nothing staged is written; an early flush is rolled back (or goes with the whole transaction). */
  async undo(): Promise<void> {
    if (this.savepoint) await this.em.execute('rollback to savepoint ledger_unit_of_work');
  }

  async getAccount(accountId: string): Promise<LedgerAccount | null> {
    const staged = this.stagedAccounts.get(accountId);
    if (staged) return copyAccount(staged);
    const known = this.accounts.get(accountId);
    if (known !== undefined) return known && copyAccount(known);
    await this.flushEarly();
    const r = await this.one('select * from ledger_accounts where tenant = ? and account_id = ? for update', [this.tenant, accountId]);
    if (r) this.violated.set(accountId, r.integrity_violated_at !== null && r.integrity_violated_at !== undefined);
    this.totals.set(accountId, r ? parseIntegrityTotals(json<unknown>(r.integrity_totals)) : null);
    const account = r ? toAccount(r) : null;
    this.accounts.set(accountId, account);
    return account && copyAccount(account);
  }

  /**
   * Remembers whether the account's verdict is false, and when it turns false writes ONE `ledger.integrity_violated`
   * event in this same transaction. While it stays false the stored details follow the latest write (no new event);
   * once it holds again the mark is cleared, so a later turn to false is a new event.
   */
  recordIntegrity(v: IntegrityVerdict): Promise<void> {
    const accountId = v.account.accountId;
    // The flush writes the mark and totals with the account's row as this unit of work read or saved it (one upsert).
    if (!this.stagedAccounts.has(accountId) && !this.accounts.get(accountId)) {
      return Promise.reject(new Error(`recordIntegrity: account ${accountId} was not read in this unit of work`));
    }
    // The totals are kept with or without an outbox: the next write's verdict starts from them.
    if (JSON.stringify(v.totals) !== JSON.stringify(this.totals.get(accountId) ?? null)) this.stagedTotals.set(accountId, v.totals);
    if (!this.outbox) return Promise.resolve();
    const was = this.violated.get(accountId) ?? false;
    const now = !v.report.rewardIntegrity;
    if (!now) {
      if (was) this.stagedIntegrity.set(accountId, { mode: 'clear' });
      this.violated.set(accountId, false);
      return Promise.resolve();
    }
    const details = integrityDetails(v);
    if (was) {
      this.stagedIntegrity.set(accountId, { mode: 'update', details: JSON.stringify(details) });
      return Promise.resolve();
    }
    this.stagedIntegrity.set(accountId, { mode: 'violate', at: v.at, details: JSON.stringify(details) });
    const occurredAt = new Date(v.at);
    this.stagedEvents.push({ id: this.outbox.nextId(occurredAt), type: INTEGRITY_VIOLATED_EVENT, occurredAt: occurredAt.toISOString(), data: details });
    this.violated.set(accountId, true);
    return Promise.resolve();
  }

  integrityTotals(accountId: string): IntegrityTotals | null {
    return (this.stagedTotals.has(accountId) ? this.stagedTotals.get(accountId) : this.totals.get(accountId)) ?? null;
  }

  async getTransaction(transactionId: string): Promise<LedgerTransaction | null> {
    const staged = this.stagedTransactions.get(transactionId);
    if (staged) return { ...staged.row };
    const known = this.transactions.get(transactionId);
    if (known !== undefined) return known && { ...known };
    await this.flushEarly();
    const r = await this.one(`select * from ledger_transactions where ${SAME_TENANT} and transaction_id = ?`, [this.tenant, transactionId]);
    const t = r ? toTransaction(r) : null;
    this.transactions.set(transactionId, t);
    return t && { ...t };
  }

  async transactionsOfAccount(accountId: string, filter: TransactionFilter = {}): Promise<LedgerTransaction[]> {
    const read = this.accountTransactions.get(accountId);
    if (read) {
      // The declared read with this unit of work's writes applied (a new transaction goes where the store's order puts it).
      const merged = read.map((t) => this.stagedTransactions.get(t.transactionId)?.row ?? t);
      const seen = new Set(read.map((t) => t.transactionId));
      for (const { row } of this.stagedTransactions.values()) {
        if (row.accountId !== accountId || seen.has(row.transactionId)) continue;
        const at = ms(row.occurredAt);
        const i = merged.findIndex((t) => ms(t.occurredAt) > at || (ms(t.occurredAt) === at && t.transactionId > row.transactionId));
        merged.splice(i < 0 ? merged.length : i, 0, row);
      }
      const keep = transactionPredicate(filter);
      return merged.filter(keep).map((t) => ({ ...t }));
    }
    await this.flushEarly();
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
    return this.known(this.transactions, rows.map(toTransaction), (t) => t.transactionId);
  }

  async adjustmentsOfAccount(accountId: string, filter: AdjustmentFilter = {}): Promise<LedgerAdjustment[]> {
    await this.flushEarly();
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
    return this.known(this.adjustments, rows.map(toAdjustment), (a) => a.adjustmentId);
  }

  /**
   * Rows read from the database exist: remembered as such, so saving one again stages an update of a known row, not a
   * new row (which the flush would gate and write in a statement of its own, one text per count of them).
   */
  private known<T>(cache: Map<string, T | null>, rows: T[], id: (row: T) => string): T[] {
    for (const row of rows) if (!cache.get(id(row))) cache.set(id(row), row);
    return rows;
  }

  async unprocessedCounts(accountId: string, transactionIds: readonly string[]): Promise<Map<string, number>> {
    const c = this.counts;
    const answered =
      c !== undefined &&
      c.accountId === accountId &&
      transactionIds.every((id) => c.ids.has(id)) &&
      ![...this.stagedAdjustments.values()].some(({ row }) => c.ids.has(row.transactionId));
    if (answered) return new Map([...c.counts].filter(([id]) => transactionIds.includes(id)));
    await this.flushEarly();
    const rows = await this.em.execute<Row[]>(
      `select transaction_id, count(*) as n from ledger_adjustments
       where tenant = ? and account_id = ? and processed_at is null and transaction_id in (select jsonb_array_elements_text(?::jsonb))
       group by transaction_id`,
      [this.tenant, accountId, JSON.stringify(transactionIds)],
    );
    return new Map(rows.map((r) => [str(r.transaction_id), num(r.n)]));
  }

  async getAdjustment(adjustmentId: string): Promise<LedgerAdjustment | null> {
    const staged = this.stagedAdjustments.get(adjustmentId);
    if (staged) return { ...staged.row };
    const known = this.adjustments.get(adjustmentId);
    if (known !== undefined) return known && { ...known };
    await this.flushEarly();
    const r = await this.one('select * from ledger_adjustments where tenant = ? and adjustment_id = ?', [this.tenant, adjustmentId]);
    const a = r ? toAdjustment(r) : null;
    this.adjustments.set(adjustmentId, a);
    return a && { ...a };
  }

  saveAccount(a: LedgerAccount): Promise<void> {
    this.stagedAccounts.set(a.accountId, copyAccount(a));
    return Promise.resolve();
  }

  /**
   * Ids are unique per tenant, but each unit of work locks only its own account: an upsert may update only a row of
   * the same account. A row read in another account is refused at once; a row not read here is new, and the flush
   * refuses it (writing nothing) if another account's racer committed it first.
   */
  private stage<T extends { accountId: string }>(staged: Map<string, Owned<T>>, id: string, row: T, known: T | null | undefined, code: string, what: string): void {
    if (known && known.accountId !== row.accountId) throw new DomainError(code, `${what} already exists`, 'conflict');
    const own = staged.get(id)?.own ?? (known !== null && known !== undefined);
    staged.set(id, { row, own });
  }

  saveTransaction(t: LedgerTransaction): Promise<void> {
    this.stage(this.stagedTransactions, t.transactionId, { ...t }, this.transactions.get(t.transactionId), 'TRANSACTION_EXISTS', `transaction ${t.transactionId}`);
    return Promise.resolve();
  }

  saveAdjustment(a: LedgerAdjustment): Promise<void> {
    this.stage(this.stagedAdjustments, a.adjustmentId, { ...a }, this.adjustments.get(a.adjustmentId), 'ADJUSTMENT_EXISTS', `adjustment ${a.adjustmentId}`);
    return Promise.resolve();
  }

  async appendEntry(e: Omit<LedgerEntry, 'seq'>): Promise<LedgerEntry> {
    // The account is locked for this unit of work, so the next seq cannot race.
    let last = this.lastSeq.get(e.accountId);
    if (last === undefined) {
      await this.flushEarly();
      const r = await this.one('select coalesce(max(seq), 0) as seq from ledger_entries where tenant = ? and account_id = ?', [this.tenant, e.accountId]);
      last = num(r?.seq);
    }
    const entry: LedgerEntry = { seq: last + 1, ...e, cause: { ...e.cause }, at: iso(e.at) };
    this.lastSeq.set(e.accountId, entry.seq);
    this.stagedEntries.push(entry);
    return { ...entry, cause: { ...entry.cause } };
  }

  async getRedemption(redemptionId: string): Promise<RedemptionRecord | null> {
    const staged = this.stagedRedemptions.get(redemptionId);
    if (staged) return structuredClone(staged.row);
    const known = this.redemptions.get(redemptionId);
    if (known !== undefined) return known && structuredClone(known);
    await this.flushEarly();
    const r = await this.one('select record from ledger_redemptions where tenant = ? and redemption_id = ?', [this.tenant, redemptionId]);
    const record = r ? json<RedemptionRecord>(r.record) : null;
    this.redemptions.set(redemptionId, record);
    return record && structuredClone(record);
  }

  saveRedemption(r: RedemptionRecord): Promise<void> {
    this.stage(this.stagedRedemptions, r.redemptionId, structuredClone(r), this.redemptions.get(r.redemptionId), 'REDEMPTION_EXISTS', `redemption ${r.redemptionId}`);
    return Promise.resolve();
  }

  /**
   * Writes everything staged in ONE statement. A row this unit of work did not see (a new id) may meet another
   * account's racer: when there is one such row, every other write of the statement waits on it and is skipped with it,
   * so a refusal writes nothing; with several (no ledger operation stages more than one), a savepoint does the same.
   */
  async flush(): Promise<void> {
    if (!this.dirty) return;
    const ctes: string[] = [];
    const params: unknown[] = [];
    const fresh: { cte: string; code: string; what: string }[] = [];
    const gated: { sql: string; params: unknown[] }[] = [];
    const owned = <T>(name: string, staged: Map<string, Owned<T>>, build: (rows: T[], ref: string) => { sql: string; params: unknown[] }, code: string, what: (r: T) => string) => {
      const own = [...staged.values()].filter((o) => o.own).map((o) => o.row);
      const neu = [...staged.values()].filter((o) => !o.own).map((o) => o.row);
      if (own.length > 0) gated.push(build(own, `${name}_own`));
      neu.forEach((row, i) => {
        const cte = `${name}_new${i}`;
        const b = build([row], cte);
        ctes.push(b.sql.replaceAll('%GATE%', 'true'));
        params.push(...b.params);
        fresh.push({ cte, code, what: what(row) });
      });
    };
    owned(
      'txn',
      this.stagedTransactions,
      (rows, name) => ({
        // actor_id, actor_role: who last wrote the row (a purchase, settlement or refund may write no entry).
        sql: `${name} as (insert into ledger_transactions (tenant, transaction_id, account_id, amount, category, occurred_at, settled_at, status, refunded,
            reward, original_reward, rewarded_at, reward_period, partial_refunds, reward_base, actor_id, actor_role)
          select tenant, transaction_id, account_id, amount, category, occurred_at, settled_at, status, refunded, reward, original_reward, rewarded_at,
            reward_period, partial_refunds, reward_base, ?::text, ?::text from jsonb_to_recordset(?::jsonb) as x(${TX_COLUMNS}) where %GATE%
          on conflict (tenant, transaction_id) do update set settled_at = excluded.settled_at, status = excluded.status,
            refunded = excluded.refunded, reward = excluded.reward, original_reward = excluded.original_reward,
            rewarded_at = excluded.rewarded_at, reward_period = excluded.reward_period, partial_refunds = excluded.partial_refunds,
            reward_base = excluded.reward_base, actor_id = excluded.actor_id, actor_role = excluded.actor_role
          where ledger_transactions.account_id = excluded.account_id returning 1)`,
        params: [this.actor.id, this.actor.role, JSON.stringify(rows.map(txRow))],
      }),
      'TRANSACTION_EXISTS',
      (t) => `transaction ${t.transactionId}`,
    );
    owned(
      'adj',
      this.stagedAdjustments,
      (rows, name) => ({
        // actor_id, actor_role: who recorded the refund or chargeback (processing it later writes entries with their own).
        sql: `${name} as (insert into ledger_adjustments (tenant, adjustment_id, kind, transaction_id, account_id, amount, at, clawback, processed_at, entry_seq,
            actor_id, actor_role)
          select tenant, adjustment_id, kind, transaction_id, account_id, amount, at, clawback, processed_at, entry_seq, ?::text, ?::text
          from jsonb_to_recordset(?::jsonb) as x(${ADJ_COLUMNS}) where %GATE%
          on conflict (tenant, adjustment_id) do update set clawback = excluded.clawback, processed_at = excluded.processed_at, entry_seq = excluded.entry_seq
          where ledger_adjustments.account_id = excluded.account_id returning 1)`,
        params: [this.actor.id, this.actor.role, JSON.stringify(rows.map(adjRow))],
      }),
      'ADJUSTMENT_EXISTS',
      (a) => `adjustment ${a.adjustmentId}`,
    );
    owned(
      'red',
      this.stagedRedemptions,
      (rows, name) => ({
        // actor_id, actor_role: who last wrote the redemption's record.
        sql: `${name} as (insert into ledger_redemptions (tenant, redemption_id, account_id, record, actor_id, actor_role)
          select tenant, redemption_id, account_id, record, ?::text, ?::text
          from jsonb_to_recordset(?::jsonb) as x(tenant text, redemption_id text, account_id text, record jsonb)
          where %GATE%
          on conflict (tenant, redemption_id) do update set record = excluded.record, actor_id = excluded.actor_id, actor_role = excluded.actor_role
          where ledger_redemptions.account_id = excluded.account_id returning 1)`,
        params: [this.actor.id, this.actor.role, JSON.stringify(rows.map((r) => ({ tenant: r.tenant, redemption_id: r.redemptionId, account_id: r.accountId, record: r })))],
      }),
      'REDEMPTION_EXISTS',
      (r) => `redemption ${r.redemptionId}`,
    );
    // Several new rows: the gate cannot hold them all together, a savepoint does (not reached by any ledger operation).
    const guard = fresh.length > 1 && this.nested ? 'ledger_flush' : null;
    const gate = fresh.length === 1 ? `(select count(*) from ${fresh[0]!.cte}) = 1` : 'true';
    // An account whose mark or totals change but which is not saved itself (a write that changed no balance) is written
    // as read, under its lock (recordIntegrity refuses an account not read): the upsert finds its row by the arbiter
    // index, so the statement keeps its generic plan. An update by (tenant, account_id) made PostgreSQL plan the whole
    // write again for each such call (0.40 ms each, 42% of the ledger bench's refunds, pg_stat_statements, 2026-12-06).
    const written = new Map(this.stagedAccounts);
    for (const accountId of new Set([...this.stagedIntegrity.keys(), ...this.stagedTotals.keys()])) {
      if (!written.has(accountId)) written.set(accountId, this.accounts.get(accountId)!);
    }
    for (const [i, account] of [...written.values()].entries()) {
      const integrity = this.stagedIntegrity.get(account.accountId);
      const set = [
        'program_ref = excluded.program_ref',
        'currency = excluded.currency',
        'cycle_anchor_day = excluded.cycle_anchor_day',
        'balance = excluded.balance',
        'redeemed = excluded.redeemed',
        'hold_until = excluded.hold_until',
        'closed_periods = excluded.closed_periods',
        'cap_usage = excluded.cap_usage',
        'version = excluded.version',
        ...integritySet(integrity),
        ...(this.stagedTotals.has(account.accountId) ? ['integrity_totals = excluded.integrity_totals'] : []),
      ];
      gated.push({
        sql: `acc${i} as (insert into ledger_accounts (tenant, account_id, program_ref, currency, cycle_anchor_day, balance, redeemed, hold_until, closed_periods,
            cap_usage, version, integrity_violated_at, integrity_violations, integrity_totals)
          select ?::text, ?::text, ?::text, ?::text, ?::smallint, ?::bigint, ?::bigint, ?::timestamptz, ?::jsonb, ?::jsonb, ?::integer, ?::timestamptz, ?::jsonb, ?::jsonb
          where %GATE%
          on conflict (tenant, account_id) do update set ${set.join(', ')} returning 1)`,
        params: [
          account.tenant,
          account.accountId,
          account.programRef,
          account.currency,
          account.cycleAnchorDay,
          account.balance,
          account.redeemed,
          account.holdUntil,
          JSON.stringify(account.closedPeriods),
          JSON.stringify(account.capUsage),
          account.version,
          integrity?.mode === 'violate' ? integrity.at : null,
          integrity && integrity.mode !== 'clear' ? integrity.details : null,
          totalsParam(this.stagedTotals.get(account.accountId)),
        ],
      });
    }
    if (this.stagedEntries.length > 0) {
      gated.push({
        sql: `ent as (insert into ledger_entries (tenant, account_id, seq, transaction_id, type, amount, balance_after, cause_kind, cause_id, program_ref, at,
            actor_id, actor_role)
          select ?::text, account_id, seq, transaction_id, type, amount, balance_after, cause_kind, cause_id, program_ref, at, ?::text, ?::text
          from jsonb_to_recordset(?::jsonb) as x(account_id text, seq bigint, transaction_id text, type text, amount bigint, balance_after bigint,
            cause_kind text, cause_id text, program_ref text, at timestamptz) where %GATE% returning 1)`,
        params: [
          this.tenant,
          this.actor.id,
          this.actor.role,
          JSON.stringify(
            this.stagedEntries.map((e) => ({
              account_id: e.accountId,
              seq: e.seq,
              transaction_id: e.transactionId,
              type: e.type,
              amount: e.amount,
              balance_after: e.balanceAfter,
              cause_kind: e.cause.kind,
              cause_id: e.cause.id,
              program_ref: e.programRef,
              at: e.at,
            })),
          ),
        ],
      });
    }
    if (this.stagedEvents.length > 0) {
      gated.push({
        sql: `evt as (insert into outbox_events (id, tenant, type, occurred_at, data)
          select id, ?::text, type, occurred_at, data from jsonb_to_recordset(?::jsonb) as x(id uuid, type text, occurred_at timestamptz, data jsonb)
          where %GATE% returning 1)`,
        params: [this.tenant, JSON.stringify(this.stagedEvents.map((e) => ({ id: e.id, type: e.type, occurred_at: e.occurredAt, data: e.data })))],
      });
    }
    for (const g of gated) {
      ctes.push(g.sql);
      params.push(...g.params);
    }
    const checks = fresh.map((f) => `(select count(*) from ${f.cte}) as ${f.cte}`);
    // Every other CTE inserts or upserts parameters (an upsert finds its conflict through its arbiter index: no plan
    // to choose) and reads only the other CTEs: planned once per connection, it cannot go stale as the tables grow,
    // and planning it for every write cost 0.07-0.3 ms of PostgreSQL per operation (issue 11). What it fires are AFTER
    // triggers (the adjustments' feature_events insert, the totals): they run once the statement is done, after its
    // last column switched planning back to custom, so that column must stay last. Its foreign-key checks wait for the
    // COMMIT (Migration20261217000000).
    const select = `select ${checks.length > 0 ? checks.join(', ') : '1 as ok'}`;
    const body = `with ${ctes.map((c) => c.replaceAll('%GATE%', gate)).join(',\n')}\n`;
    const text = `${GENERIC_PLAN}${body}${select}, ${CUSTOM_PLAN_AGAIN}`;
    if (guard) await this.em.execute(`savepoint ${guard}`);
    const r = (await this.bound(text, params))!;
    const refused = fresh.find((f) => num(r[f.cte]) !== 1);
    if (refused) {
      if (guard) await this.em.execute(`rollback to savepoint ${guard}`);
      throw new DomainError(refused.code, `${refused.what} already exists`, 'conflict');
    }
    if (guard) await this.em.execute(`release savepoint ${guard}`);
    // Written: from here on the rows are as this unit of work saved them, and known to be its own.
    for (const [id, a] of this.stagedAccounts) this.accounts.set(id, a);
    for (const [id, t] of this.stagedTotals) this.totals.set(id, t);
    for (const [id, { row }] of this.stagedTransactions) this.transactions.set(id, row);
    for (const [id, { row }] of this.stagedAdjustments) this.adjustments.set(id, row);
    for (const [id, { row }] of this.stagedRedemptions) this.redemptions.set(id, row);
    for (const accountId of this.accountTransactions.keys()) {
      this.accountTransactions.set(accountId, await this.transactionsOfAccount(accountId));
    }
    this.counts = undefined;
    this.stagedAccounts.clear();
    this.stagedTransactions.clear();
    this.stagedAdjustments.clear();
    this.stagedRedemptions.clear();
    this.stagedEntries.length = 0;
    this.stagedIntegrity.clear();
    this.stagedTotals.clear();
    this.stagedEvents.length = 0;
  }
}

/** The `set` items of the account upsert for its Reward Integrity mark, from the values it inserts (`excluded`). */
function integritySet(w: IntegrityWrite | undefined): string[] {
  if (w === undefined) return [];
  switch (w.mode) {
    case 'clear':
      return ['integrity_violated_at = null', 'integrity_violations = null'];
    case 'update':
      return ['integrity_violations = excluded.integrity_violations'];
    case 'violate':
      return ['integrity_violated_at = excluded.integrity_violated_at', 'integrity_violations = excluded.integrity_violations'];
  }
}

/** Totals as the jsonb parameter (null: none). */
const totalsParam = (t: IntegrityTotals | null | undefined): string | null => (t ? JSON.stringify(t) : null);

const ms = (v: string): number => Date.parse(v);

export class PgLedgerStore implements LedgerStore {
  /**
   * `em` may already be inside a transaction (the HTTP layer's idempotency transaction): units of work run in it.
   * With an outbox, the store records each account's Reward Integrity verdict and reports its turn to false.
   */
  constructor(
    private readonly em: SqlEntityManager,
    private readonly outbox?: OutboxRepository,
    /** Who writes through this store (a key in its role, or the platform's own work: `system`). */
    private readonly actor: Actor = SYSTEM_ACTOR,
  ) {}

  withAccount<T>(tenant: string, accountId: string, fn: (uow: LedgerUnitOfWork) => Promise<T>, reads: LedgerReads = {}): Promise<T> {
    return this.unit(tenant, { accountId }, (uow) => fn(uow), reads);
  }

  withAccountOfTransaction<T>(tenant: string, transactionId: string, fn: (uow: LedgerUnitOfWork, accountId: string | null) => Promise<T>, reads: LedgerReads = {}): Promise<T> {
    return this.unit(tenant, { transactionId }, fn, reads);
  }

  private unit<T>(
    tenant: string,
    target: { accountId: string } | { transactionId: string },
    fn: (uow: LedgerUnitOfWork, accountId: string | null) => Promise<T>,
    reads: LedgerReads,
  ): Promise<T> {
    const run = async (tx: SqlEntityManager, nested: boolean) => {
      const uow = new PgUnitOfWork(tx, tenant, this.outbox, nested, this.actor);
      const accountId = await uow.lockAndRead(target, reads);
      try {
        const result = await fn(uow, accountId);
        await uow.flush();
        await uow.release();
        return result;
      } catch (e) {
        await uow.undo();
        throw e;
      }
    };
    // Inside the caller's transaction no savepoint is needed: a failed unit of work has written nothing (see flush).
    return this.em.isInTransaction() ? run(this.em, true) : this.em.transactional((tx) => run(tx, false));
  }

  async accountExists(tenant: string, accountId: string): Promise<boolean> {
    const rows = await this.em.execute<Row[]>('select 1 from ledger_accounts where tenant = ? and account_id = ?', [tenant, accountId]);
    return rows.length > 0;
  }

  async accountOfTransaction(tenant: string, transactionId: string): Promise<string | null> {
    const rows = await this.em.execute<Row[]>(`select account_id from ledger_transactions where ${SAME_TENANT} and transaction_id = ?`, [tenant, transactionId]);
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

  /** Without an actor, the writes are the platform's own (`system`: the payout worker's clawbacks). */
  create(em: SqlEntityManager, actor: Actor = SYSTEM_ACTOR): PgLedgerStore {
    return new PgLedgerStore(em, this.outbox, actor);
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
