/** An in-memory LedgerStore: a promise-chain mutex per account, and units of work that stage their writes and commit only on success. */
import { DomainError } from '../errors/index.js';
import { adjustmentPredicate, transactionPredicate } from './filters.js';
import type {
  AdjustmentFilter,
  LedgerAccount,
  LedgerAdjustment,
  LedgerEntry,
  LedgerStore,
  LedgerTransaction,
  LedgerUnitOfWork,
  RedemptionRecord,
  TransactionFilter,
} from './types.js';

interface TenantState {
  accounts: Map<string, LedgerAccount>;
  transactions: Map<string, LedgerTransaction>;
  adjustments: Map<string, LedgerAdjustment>;
  redemptions: Map<string, RedemptionRecord>;
  /** accountId → its transaction ids / adjustment ids, in insertion order. */
  txIndex: Map<string, string[]>;
  adjIndex: Map<string, string[]>;
  entries: Map<string, LedgerEntry[]>;
}

const clone = <T>(v: T): T => structuredClone(v);

/**
 * For tests, simulations and single-process use. Every read returns a copy and every write is
 * staged, so a unit of work that throws leaves no trace; ids stay unique per tenant even across
 * accounts (checked again at commit, since two accounts' units of work may run concurrently).
 */
export class InMemoryLedgerStore implements LedgerStore {
  private readonly tenants = new Map<string, TenantState>();
  private readonly locks = new Map<string, Promise<void>>();

  async withAccount<T>(tenant: string, accountId: string, fn: (uow: LedgerUnitOfWork) => Promise<T>): Promise<T> {
    const key = JSON.stringify([tenant, accountId]);
    const previous = this.locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.locks.set(key, tail);
    await previous;
    try {
      const uow = new StagedUnitOfWork(this.state(tenant), accountId);
      const result = await fn(uow);
      uow.commit();
      return result;
    } finally {
      release();
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }

  accountOfTransaction(tenant: string, transactionId: string): Promise<string | null> {
    return Promise.resolve(this.tenants.get(tenant)?.transactions.get(transactionId)?.accountId ?? null);
  }

  entries(tenant: string, accountId: string, page: { limit: number; afterSeq?: number }): Promise<LedgerEntry[]> {
    const all = this.tenants.get(tenant)?.entries.get(accountId) ?? [];
    const after = page.afterSeq ?? 0;
    // seq n sits at index n - 1.
    return Promise.resolve(clone(all.slice(Math.max(0, after), Math.max(0, after) + Math.max(0, page.limit))));
  }

  private state(tenant: string): TenantState {
    let s = this.tenants.get(tenant);
    if (!s) {
      s = {
        accounts: new Map(),
        transactions: new Map(),
        adjustments: new Map(),
        redemptions: new Map(),
        txIndex: new Map(),
        adjIndex: new Map(),
        entries: new Map(),
      };
      this.tenants.set(tenant, s);
    }
    return s;
  }
}

class StagedUnitOfWork implements LedgerUnitOfWork {
  private readonly accounts = new Map<string, LedgerAccount>();
  private readonly transactions = new Map<string, LedgerTransaction>();
  private readonly adjustments = new Map<string, LedgerAdjustment>();
  private readonly redemptions = new Map<string, RedemptionRecord>();
  private readonly newEntries: LedgerEntry[] = [];

  constructor(
    private readonly committed: TenantState,
    private readonly accountId: string,
  ) {}

  getAccount(accountId: string): Promise<LedgerAccount | null> {
    return Promise.resolve(clone(this.accounts.get(accountId) ?? this.committed.accounts.get(accountId) ?? null));
  }

  getTransaction(transactionId: string): Promise<LedgerTransaction | null> {
    return Promise.resolve(clone(this.transactions.get(transactionId) ?? this.committed.transactions.get(transactionId) ?? null));
  }

  transactionsOfAccount(accountId: string, filter?: TransactionFilter): Promise<LedgerTransaction[]> {
    const matches = transactionPredicate(filter);
    return Promise.resolve(this.allTransactions(accountId).filter(matches).map(clone));
  }

  adjustmentsOfAccount(accountId: string, filter?: AdjustmentFilter): Promise<LedgerAdjustment[]> {
    const matches = adjustmentPredicate(filter);
    const ids = new Set(this.committed.adjIndex.get(accountId));
    for (const a of this.adjustments.values()) if (a.accountId === accountId) ids.add(a.adjustmentId);
    const all = [...ids].map((id) => this.adjustments.get(id) ?? this.committed.adjustments.get(id)!);
    const transaction = (id: string) => this.transactions.get(id) ?? this.committed.transactions.get(id) ?? null;
    return Promise.resolve(all.filter((a) => matches(a, transaction(a.transactionId))).map(clone));
  }

  async unprocessedCounts(accountId: string, transactionIds: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const a of await this.adjustmentsOfAccount(accountId, { unprocessedOnly: true, transactionIds })) counts.set(a.transactionId, (counts.get(a.transactionId) ?? 0) + 1);
    return counts;
  }

  getAdjustment(adjustmentId: string): Promise<LedgerAdjustment | null> {
    return Promise.resolve(clone(this.adjustments.get(adjustmentId) ?? this.committed.adjustments.get(adjustmentId) ?? null));
  }

  saveAccount(a: LedgerAccount): Promise<void> {
    this.own(a.accountId, 'account');
    this.accounts.set(a.accountId, clone(a));
    return Promise.resolve();
  }

  saveTransaction(t: LedgerTransaction): Promise<void> {
    this.own(t.accountId, 'transaction');
    this.transactions.set(t.transactionId, clone(t));
    return Promise.resolve();
  }

  saveAdjustment(a: LedgerAdjustment): Promise<void> {
    this.own(a.accountId, 'adjustment');
    this.adjustments.set(a.adjustmentId, clone(a));
    return Promise.resolve();
  }

  appendEntry(e: Omit<LedgerEntry, 'seq'>): Promise<LedgerEntry> {
    this.own(e.accountId, 'entry');
    const seq = (this.committed.entries.get(e.accountId)?.length ?? 0) + this.newEntries.length + 1;
    const entry: LedgerEntry = { seq, ...clone(e) };
    this.newEntries.push(entry);
    return Promise.resolve(clone(entry));
  }

  getRedemption(redemptionId: string): Promise<RedemptionRecord | null> {
    return Promise.resolve(clone(this.redemptions.get(redemptionId) ?? this.committed.redemptions.get(redemptionId) ?? null));
  }

  saveRedemption(r: RedemptionRecord): Promise<void> {
    this.own(r.accountId, 'redemption');
    this.redemptions.set(r.redemptionId, clone(r));
    return Promise.resolve();
  }

  /** Applies every staged write, after checking nothing conflicts with what other accounts committed meanwhile. */
  commit(): void {
    const c = this.committed;
    for (const t of this.transactions.values()) {
      const other = c.transactions.get(t.transactionId);
      if (other && other.accountId !== t.accountId) throw exists('TRANSACTION_EXISTS', `transaction ${t.transactionId} already exists`);
    }
    for (const a of this.adjustments.values()) {
      const other = c.adjustments.get(a.adjustmentId);
      if (other && other.accountId !== a.accountId) throw exists('ADJUSTMENT_EXISTS', `adjustment ${a.adjustmentId} already exists`);
    }
    for (const r of this.redemptions.values()) {
      const other = c.redemptions.get(r.redemptionId);
      if (other && other.accountId !== r.accountId) throw exists('REDEMPTION_EXISTS', `redemption ${r.redemptionId} already exists`);
    }
    for (const a of this.accounts.values()) {
      const expected = (c.accounts.get(a.accountId)?.version ?? 0) + 1;
      if (a.version !== expected) {
        throw new Error(`InMemoryLedgerStore: account ${a.accountId} saved with version ${a.version}, expected ${expected}`);
      }
    }

    for (const a of this.accounts.values()) c.accounts.set(a.accountId, a);
    for (const t of this.transactions.values()) {
      if (!c.transactions.has(t.transactionId)) push(c.txIndex, t.accountId, t.transactionId);
      c.transactions.set(t.transactionId, t);
    }
    for (const a of this.adjustments.values()) {
      if (!c.adjustments.has(a.adjustmentId)) push(c.adjIndex, a.accountId, a.adjustmentId);
      c.adjustments.set(a.adjustmentId, a);
    }
    for (const r of this.redemptions.values()) c.redemptions.set(r.redemptionId, r);
    for (const e of this.newEntries) push(c.entries, e.accountId, e);
  }

  /** The account's transactions as this unit of work sees them, in creation order (not copies). */
  private allTransactions(accountId: string): LedgerTransaction[] {
    const ids = new Set(this.committed.txIndex.get(accountId));
    for (const t of this.transactions.values()) if (t.accountId === accountId) ids.add(t.transactionId);
    return [...ids].map((id) => this.transactions.get(id) ?? this.committed.transactions.get(id)!);
  }

  /** A unit of work writes only its own account's records: that is what the lock covers. */
  private own(accountId: string, what: string): void {
    if (accountId !== this.accountId) {
      throw new Error(`InMemoryLedgerStore: a unit of work on account ${this.accountId} cannot write a ${what} of account ${accountId}`);
    }
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function exists(code: string, message: string): DomainError {
  return new DomainError(code, message, 'conflict');
}
