/**
 * The store of one what-if run: one account in memory, where each operation costs the same however long the account's
 * history already is. InMemoryLedgerStore copies the whole account (period lists included) on every read and scans
 * every record for a statement close, which made a 10,000-event what-if quadratic.
 */
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

/** What one unit of work committed, as stored. */
export interface CommittedChanges {
  account: LedgerAccount | null;
  transactions: LedgerTransaction[];
  adjustments: LedgerAdjustment[];
}

interface Stored<T> {
  record: T;
  /** Creation order: the order every unfiltered read answers in (as InMemoryLedgerStore does). */
  seq: number;
}

const ms = (iso: string): number => Date.parse(iso);

/**
 * For simulateLedger. Reads answer copies of single records, but the account's `closedPeriods` and `capUsage` are the
 * stored ones behind a proxy that journals every change, undone if the unit of work fails: the ledger grows them in
 * place, and copying them on each read would make every operation cost as much as the account's history.
 * So an account a result carries shares those two with the store: read it before the next operation.
 *
 * What a statement close reads is indexed: transactions not rewarded yet by the instant they count from, and
 * unprocessed adjustments of rewarded transactions by date, in heaps (entries whose record has changed since are
 * skipped, and dropped once they reach the top). Unprocessed adjustments are also kept per transaction.
 */
export class SimulationLedgerStore implements LedgerStore {
  private account: LedgerAccount | null = null;
  private readonly transactions = new Map<string, Stored<LedgerTransaction>>();
  private readonly adjustments = new Map<string, Stored<LedgerAdjustment>>();
  private readonly redemptions = new Map<string, RedemptionRecord>();
  private readonly entryList: LedgerEntry[] = [];
  private nextSeq = 1;
  /** Transaction id → the instant it counts from (settledAt ?? occurredAt), while not rewarded. */
  private readonly unrewardedSince = new Map<string, number>();
  private readonly unrewarded = new MinHeap();
  /** Transaction id → its unprocessed adjustments' ids, in creation order. */
  private readonly unprocessedOf = new Map<string, Set<string>>();
  /** Unprocessed adjustments of rewarded transactions, by `at`; `deferredQueued` says which are in the heap. */
  private readonly deferred = new MinHeap();
  private readonly deferredQueued = new Set<string>();
  private busy = false;

  constructor(
    private readonly tenant: string,
    readonly accountId: string,
    private readonly onCommit: (changes: CommittedChanges) => void = () => {},
  ) {}

  async withAccount<T>(tenant: string, accountId: string, fn: (uow: LedgerUnitOfWork) => Promise<T>): Promise<T> {
    this.own(tenant, accountId);
    // A what-if runs its events one after the other; overlapping units of work would be a bug in the caller.
    if (this.busy) throw new Error('SimulationLedgerStore: one unit of work at a time');
    this.busy = true;
    const uow = new SimulationUnitOfWork(this);
    try {
      const result = await fn(uow);
      this.commit(uow);
      return result;
    } catch (e) {
      uow.undo();
      throw e;
    } finally {
      this.busy = false;
    }
  }

  accountOfTransaction(tenant: string, transactionId: string): Promise<string | null> {
    return Promise.resolve(tenant === this.tenant ? (this.transactions.get(transactionId)?.record.accountId ?? null) : null);
  }

  entries(tenant: string, accountId: string, page: { limit: number; afterSeq?: number }): Promise<LedgerEntry[]> {
    if (tenant !== this.tenant || accountId !== this.accountId) return Promise.resolve([]);
    const after = Math.max(0, page.afterSeq ?? 0);
    // seq n sits at index n - 1.
    return Promise.resolve(this.entryList.slice(after, after + Math.max(0, page.limit)).map(copyEntry));
  }

  // --- for the unit of work ---

  committedAccount(): LedgerAccount | null {
    return this.account;
  }

  committedTransaction(id: string): Stored<LedgerTransaction> | undefined {
    return this.transactions.get(id);
  }

  committedAdjustment(id: string): Stored<LedgerAdjustment> | undefined {
    return this.adjustments.get(id);
  }

  committedRedemption(id: string): RedemptionRecord | undefined {
    return this.redemptions.get(id);
  }

  entryCount(): number {
    return this.entryList.length;
  }

  allTransactions(): Iterable<Stored<LedgerTransaction>> {
    return this.transactions.values();
  }

  allAdjustments(): Iterable<Stored<LedgerAdjustment>> {
    return this.adjustments.values();
  }

  newSeq(): number {
    return this.nextSeq++;
  }

  /** Committed transactions that may be unrewarded before `beforeMs` (a superset: the caller filters). */
  *unrewardedCandidates(beforeMs: number): Iterable<string> {
    for (const [since, id] of this.unrewarded.below(beforeMs)) if (this.unrewardedSince.get(id) === since) yield id;
  }

  /** Committed unprocessed adjustments of rewarded transactions that may be dated before `beforeMs` (a superset). */
  *deferredCandidates(beforeMs: number): Iterable<string> {
    for (const [, id] of this.deferred.below(beforeMs)) if (this.isDeferred(id)) yield id;
  }

  /** Committed unprocessed adjustments of a transaction, in creation order. */
  unprocessedAdjustmentsOf(transactionId: string): ReadonlySet<string> {
    return this.unprocessedOf.get(transactionId) ?? new Set();
  }

  own(tenant: string, accountId: string): void {
    if (tenant !== this.tenant || accountId !== this.accountId) {
      throw new Error(`SimulationLedgerStore: holds account ${this.accountId} of ${this.tenant} only, not ${accountId} of ${tenant}`);
    }
  }

  private isDeferred(adjustmentId: string): boolean {
    const a = this.adjustments.get(adjustmentId)?.record;
    return a !== undefined && a.clawback === null && this.transactions.get(a.transactionId)?.record.rewardedAt != null;
  }

  private commit(uow: SimulationUnitOfWork): void {
    const staged = uow.staged();
    if (staged.account) this.account = staged.account;
    const newlyRewarded: string[] = [];
    for (const s of staged.transactions) {
      const t = s.record;
      if (t.rewardedAt !== null && this.transactions.get(t.transactionId)?.record.rewardedAt == null) newlyRewarded.push(t.transactionId);
      this.transactions.set(t.transactionId, s);
      if (t.rewardedAt === null) {
        const since = ms(t.settledAt ?? t.occurredAt);
        if (this.unrewardedSince.get(t.transactionId) !== since) {
          this.unrewardedSince.set(t.transactionId, since);
          this.unrewarded.push(since, t.transactionId);
        }
      } else {
        this.unrewardedSince.delete(t.transactionId);
      }
    }
    for (const s of staged.adjustments) {
      this.adjustments.set(s.record.adjustmentId, s);
      const a = s.record;
      let ids = this.unprocessedOf.get(a.transactionId);
      if (a.clawback === null) {
        if (!ids) this.unprocessedOf.set(a.transactionId, (ids = new Set()));
        ids.add(a.adjustmentId);
      } else {
        ids?.delete(a.adjustmentId);
      }
    }
    // A transaction rewarded now makes its unprocessed adjustments deferred ones; so does a new one of a rewarded transaction.
    const maybeDeferred = staged.adjustments.map((s) => s.record.adjustmentId);
    for (const id of newlyRewarded) maybeDeferred.push(...this.unprocessedAdjustmentsOf(id));
    for (const id of maybeDeferred) {
      if (!this.deferredQueued.has(id) && this.isDeferred(id)) {
        this.deferredQueued.add(id);
        this.deferred.push(ms(this.adjustments.get(id)!.record.at), id);
      }
    }
    // Entries a close has just dealt with are at the top of the heaps now: drop them, so no later read passes them again.
    this.unrewarded.dropWhile((since, id) => this.unrewardedSince.get(id) !== since);
    this.deferred.dropWhile((_, id) => {
      if (this.isDeferred(id)) return false;
      this.deferredQueued.delete(id);
      return true;
    });
    for (const r of staged.redemptions) this.redemptions.set(r.redemptionId, r);
    this.entryList.push(...staged.entries);
    this.onCommit({ account: this.account, transactions: staged.transactions.map((s) => s.record), adjustments: staged.adjustments.map((s) => s.record) });
  }
}

/** Stages writes until commit; the account's two collections are changed in place, through the journal. */
class SimulationUnitOfWork implements LedgerUnitOfWork {
  private account: LedgerAccount | undefined;
  private readonly transactions = new Map<string, Stored<LedgerTransaction>>();
  private readonly adjustments = new Map<string, Stored<LedgerAdjustment>>();
  private readonly redemptions = new Map<string, RedemptionRecord>();
  private readonly newEntries: LedgerEntry[] = [];
  private readonly journal: (() => void)[] = [];
  /** The stored collections and their journaled proxies, so a proxy handed out is recognised when it is saved back. */
  private readonly proxies = new Map<object, object>();

  constructor(private readonly store: SimulationLedgerStore) {}

  getAccount(accountId: string): Promise<LedgerAccount | null> {
    const a = accountId === this.store.accountId ? (this.account ?? this.store.committedAccount()) : null;
    if (!a) return Promise.resolve(null);
    return Promise.resolve({ ...a, closedPeriods: this.journaled(a.closedPeriods), capUsage: this.journaled(a.capUsage) });
  }

  getTransaction(transactionId: string): Promise<LedgerTransaction | null> {
    const t = this.transaction(transactionId);
    return Promise.resolve(t ? { ...t.record } : null);
  }

  transactionsOfAccount(accountId: string, filter: TransactionFilter = {}): Promise<LedgerTransaction[]> {
    const matches = transactionPredicate(filter);
    let candidates: Iterable<string>;
    if (filter.transactionIds !== undefined) candidates = filter.transactionIds;
    else if (filter.unrewardedBefore !== undefined) candidates = this.store.unrewardedCandidates(ms(filter.unrewardedBefore));
    else candidates = [...this.store.allTransactions()].map((s) => s.record.transactionId);
    const found = this.resolve(candidates, this.transactions, (id) => this.transaction(id)).filter((s) => s.record.accountId === accountId && matches(s.record));
    return Promise.resolve(found.map((s) => ({ ...s.record })));
  }

  adjustmentsOfAccount(accountId: string, filter: AdjustmentFilter = {}): Promise<LedgerAdjustment[]> {
    const matches = adjustmentPredicate(filter);
    let candidates: Iterable<string>;
    if (filter.unprocessedOnly && filter.transactionIds !== undefined) {
      candidates = filter.transactionIds.flatMap((t) => [...this.store.unprocessedAdjustmentsOf(t)]);
    } else if (filter.unprocessedOnly && filter.ofRewardedTransactions && filter.before !== undefined) {
      // Plus those of transactions this unit of work may have just rewarded.
      candidates = [...this.store.deferredCandidates(ms(filter.before)), ...[...this.transactions.keys()].flatMap((t) => [...this.store.unprocessedAdjustmentsOf(t)])];
    } else {
      candidates = [...this.store.allAdjustments()].map((s) => s.record.adjustmentId);
    }
    const found = this.resolve(candidates, this.adjustments, (id) => this.adjustment(id)).filter(
      (s) => s.record.accountId === accountId && matches(s.record, this.transaction(s.record.transactionId)?.record ?? null),
    );
    return Promise.resolve(found.map((s) => ({ ...s.record })));
  }

  unprocessedCounts(accountId: string, transactionIds: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (accountId !== this.store.accountId) return Promise.resolve(counts);
    for (const t of new Set(transactionIds)) {
      const committed = this.store.unprocessedAdjustmentsOf(t);
      let n = committed.size;
      // What this unit of work staged may have added one or processed one.
      for (const s of this.adjustments.values()) {
        if (s.record.transactionId !== t) continue;
        const unprocessed = s.record.clawback === null;
        if (unprocessed && !committed.has(s.record.adjustmentId)) n++;
        if (!unprocessed && committed.has(s.record.adjustmentId)) n--;
      }
      if (n > 0) counts.set(t, n);
    }
    return Promise.resolve(counts);
  }

  getAdjustment(adjustmentId: string): Promise<LedgerAdjustment | null> {
    const a = this.adjustment(adjustmentId);
    return Promise.resolve(a ? { ...a.record } : null);
  }

  saveAccount(a: LedgerAccount): Promise<void> {
    this.store.own(a.tenant, a.accountId);
    this.account = { ...a, closedPeriods: this.unwrap(a.closedPeriods), capUsage: this.unwrap(a.capUsage) };
    return Promise.resolve();
  }

  saveTransaction(t: LedgerTransaction): Promise<void> {
    this.store.own(t.tenant, t.accountId);
    const seq = this.transaction(t.transactionId)?.seq ?? this.store.newSeq();
    this.transactions.set(t.transactionId, { record: { ...t }, seq });
    return Promise.resolve();
  }

  saveAdjustment(a: LedgerAdjustment): Promise<void> {
    this.store.own(a.tenant, a.accountId);
    const seq = this.adjustment(a.adjustmentId)?.seq ?? this.store.newSeq();
    this.adjustments.set(a.adjustmentId, { record: { ...a }, seq });
    return Promise.resolve();
  }

  appendEntry(e: Omit<LedgerEntry, 'seq'>): Promise<LedgerEntry> {
    const entry: LedgerEntry = { seq: this.store.entryCount() + this.newEntries.length + 1, ...e, cause: { ...e.cause } };
    this.newEntries.push(entry);
    return Promise.resolve(copyEntry(entry));
  }

  getRedemption(redemptionId: string): Promise<RedemptionRecord | null> {
    const r = this.redemptions.get(redemptionId) ?? this.store.committedRedemption(redemptionId);
    return Promise.resolve(r ? structuredClone(r) : null);
  }

  saveRedemption(r: RedemptionRecord): Promise<void> {
    this.store.own(r.tenant, r.accountId);
    this.redemptions.set(r.redemptionId, structuredClone(r));
    return Promise.resolve();
  }

  staged() {
    return {
      account: this.account,
      transactions: [...this.transactions.values()],
      adjustments: [...this.adjustments.values()],
      redemptions: [...this.redemptions.values()],
      entries: this.newEntries,
    };
  }

  /** Reverts every in-place change to the stored collections, newest first. */
  undo(): void {
    for (let i = this.journal.length - 1; i >= 0; i--) this.journal[i]!();
    this.journal.length = 0;
  }

  private transaction(id: string): Stored<LedgerTransaction> | undefined {
    return this.transactions.get(id) ?? this.store.committedTransaction(id);
  }

  private adjustment(id: string): Stored<LedgerAdjustment> | undefined {
    return this.adjustments.get(id) ?? this.store.committedAdjustment(id);
  }

  /** The candidates plus what this unit of work staged, each once, as this unit of work sees them, in creation order. */
  private resolve<T>(candidates: Iterable<string>, staged: Map<string, Stored<T>>, get: (id: string) => Stored<T> | undefined): Stored<T>[] {
    const ids = new Set(candidates);
    for (const id of staged.keys()) ids.add(id);
    const found: Stored<T>[] = [];
    for (const id of ids) {
      const s = get(id);
      if (s) found.push(s);
    }
    return found.sort((a, b) => a.seq - b.seq);
  }

  /** A proxy of a stored collection that records how to undo each change made through it. */
  private journaled<T extends object>(target: T): T {
    const known = this.proxies.get(target);
    if (known) return known as T;
    const journal = this.journal;
    const proxy = new Proxy(target, {
      set(t, key, value) {
        const had = Object.hasOwn(t, key);
        const old: unknown = Reflect.get(t, key);
        journal.push(() => (had ? Reflect.set(t, key, old) : Reflect.deleteProperty(t, key)));
        return Reflect.set(t, key, value);
      },
      deleteProperty(t, key) {
        if (!Object.hasOwn(t, key)) return true;
        const old: unknown = Reflect.get(t, key);
        journal.push(() => Reflect.set(t, key, old));
        return Reflect.deleteProperty(t, key);
      },
      defineProperty() {
        throw new Error('SimulationLedgerStore: account collections change by assignment only');
      },
    });
    this.proxies.set(target, proxy);
    this.proxies.set(proxy, proxy);
    return proxy;
  }

  /** What to store for a collection the ledger saves: the stored one behind a proxy it was given, else a copy of its new one. */
  private unwrap<T extends object>(value: T): T {
    for (const [target, proxy] of this.proxies) if (proxy === value && target !== proxy) return target as T;
    return structuredClone(value);
  }
}

function copyEntry(e: LedgerEntry): LedgerEntry {
  return { ...e, cause: { ...e.cause } };
}

/** A binary min-heap of (key, id). */
class MinHeap {
  private readonly keys: number[] = [];
  private readonly ids: string[] = [];

  push(key: number, id: string): void {
    let i = this.keys.length;
    this.keys.push(key);
    this.ids.push(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.keys[parent]! <= key) break;
      this.move(parent, i);
      i = parent;
    }
    this.keys[i] = key;
    this.ids[i] = id;
  }

  /** Every entry with key < limit (visiting only those: below a key ≥ limit, all keys are ≥ limit). */
  *below(limit: number): Iterable<[number, string]> {
    const stack = [0];
    while (stack.length > 0) {
      const i = stack.pop()!;
      if (i >= this.keys.length || this.keys[i]! >= limit) continue;
      yield [this.keys[i]!, this.ids[i]!];
      stack.push(2 * i + 1, 2 * i + 2);
    }
  }

  /** Pops the top while `stale` says so. */
  dropWhile(stale: (key: number, id: string) => boolean): void {
    while (this.keys.length > 0 && stale(this.keys[0]!, this.ids[0]!)) this.pop();
  }

  private pop(): void {
    const lastKey = this.keys.pop()!;
    const lastId = this.ids.pop()!;
    const n = this.keys.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.keys[r]! < this.keys[l]! ? r : l;
      if (this.keys[c]! >= lastKey) break;
      this.move(c, i);
      i = c;
    }
    this.keys[i] = lastKey;
    this.ids[i] = lastId;
  }

  private move(from: number, to: number): void {
    this.keys[to] = this.keys[from]!;
    this.ids[to] = this.ids[from]!;
  }
}
