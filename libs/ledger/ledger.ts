/** The reward ledger: the paper's Algorithms 1–4 over a LedgerStore, driven by reward-program packs and an OPA redemption gate. */
import { DomainError } from '../errors/index.js';
import { isInstantInRange, LAST_INSTANT_MS } from '../names/index.js';
import type { RedemptionGate, RedemptionGateInput, RedemptionGateReason } from './gate.js';
import { Guard } from './guards.js';
import {
  contributionOf,
  figuresOf,
  integrity,
  totalsOf,
  transactionPeriod,
  withChanges,
  type IntegrityReport,
  type IntegrityTotals,
  type IntegrityViolation,
  type TransactionContribution,
} from './integrity.js';
import { applyRate, roundHalfEven } from './money.js';
import { addDays, isPeriodBoundary, periodOf, type BillingPeriod } from './periods.js';
import { rateBpsOf, type ProgramResolver, type RewardProgram, type RewardProgramParameters } from './program.js';
import type {
  AdjustmentKind,
  EntryCause,
  EntryType,
  GateDecision,
  LedgerAccount,
  LedgerAdjustment,
  LedgerEntry,
  LedgerReads,
  LedgerStore,
  LedgerTransaction,
  LedgerUnitOfWork,
  RedemptionRecord,
} from './types.js';

export interface OpenAccountInput {
  /** `name@version`, or a bare `name` (its newest version is pinned on creation). */
  program: string;
  currency: string;
  cycleAnchorDay: number;
}

export interface PurchaseInput {
  transactionId: string;
  amount: number;
  category: string;
  occurredAt: string;
}

export interface SettleInput {
  settledAt: string;
}

export interface RefundInput {
  refundId: string;
  amount: number;
  at: string;
}

export interface ChargebackInput {
  chargebackId: string;
  amount: number;
  at: string;
}

export interface AdjustmentResult {
  transaction: LedgerTransaction;
  adjustment: LedgerAdjustment;
  /** The CLAWBACK entry, or null when nothing was debited (deferred to a close, out of scope, 0, or no clawback in this program). */
  entry: LedgerEntry | null;
}

export interface RedeemInput {
  redemptionId: string;
  amount: number;
  at: string;
}

export interface RedemptionOutcome {
  allowed: boolean;
  /** Every failing guard when refused; empty when allowed. */
  reasons: RedemptionGateReason[];
  gate: GateDecision;
  entry: LedgerEntry | null;
  account: LedgerAccount;
  /** True when the same redemptionId with the same data was already allowed: the stored result, nothing new debited. */
  replayed: boolean;
  /** On a replay, the decision that allowed the redemption the first time, when one was stored with it. */
  decisionId?: string;
}

export interface RedeemOptions {
  /**
   * The id the caller stores the gate's decision under, asked for only when an allowed redemption is recorded: kept
   * with it, so that the same redemption sent again (under another Idempotency-Key) names the decision that allowed it.
   */
  decisionId?: () => string;
}

export interface CloseStatementInput {
  /** A period boundary of the account (UTC midnight of its anchor day): the end of the period to close. */
  periodEnd: string;
}

/** Phase 1: a refund folded into the eligible amount of a transaction not rewarded yet (no clawback needed). */
export interface FoldedRefund {
  adjustmentId: string;
  kind: AdjustmentKind;
  transactionId: string;
  amount: number;
}

/** Phase 2: a deferred refund clawed back through Algorithm 2 (or ruled out of scope). */
export interface StatementClawback {
  adjustmentId: string;
  kind: AdjustmentKind;
  transactionId: string;
  amount: number;
  /** Reduction of the transaction's reward r. */
  clawback: number;
  /** What was debited from the balance (less than clawback only when negativeBalances is false). */
  debited: number;
  scope: ClawbackScope;
  entry: LedgerEntry | null;
}

/** Phase 3: a transaction rewarded through Algorithm 1 on its eligible amount. */
export interface StatementReward {
  transactionId: string;
  eligibleAmount: number;
  /** rhe(eligible × bps / 10000) before the cap. */
  uncapped: number;
  reward: number;
  period: string;
  entry: LedgerEntry | null;
}

export interface StatementResult {
  accountId: string;
  programRef: string;
  period: BillingPeriod;
  refundsFolded: FoldedRefund[];
  clawbacks: StatementClawback[];
  rewards: StatementReward[];
  holdUntil: string;
  autoRedemption: LedgerEntry | null;
  /** Every entry the close appended, in order. */
  entries: LedgerEntry[];
  account: LedgerAccount;
}

export interface AccountView {
  accountId: string;
  program: string;
  currency: string;
  cycleAnchorDay: number;
  balance: number;
  redeemed: number;
  netSpend: number;
  netReward: number;
  rewardBound: number;
  holdUntil: string | null;
  integrity: { rewardIntegrity: boolean; violations: IntegrityViolation[]; roundingTolerance: number };
  /** Refunds and chargebacks recorded but not yet reflected in rewards (waiting for a statement close). */
  unprocessedAdjustments: number;
  closedPeriods: string[];
  capUsage: Record<string, number>;
}

export interface TransactionView {
  transactionId: string;
  accountId: string;
  status: LedgerTransaction['status'];
  amount: number;
  refunded: number;
  reward: number;
  originalReward: number;
  category: string;
  occurredAt: string;
  settledAt: string | null;
  rewardedAt: string | null;
  rewardPeriod: string | null;
  /** Who last wrote the transaction (GET /v1/ledger/transactions/{id} only: a write's answer is the write's own). */
  actor?: { id: string; role: string } | null;
}

/** same-period: the refund falls in the reward's period (restores cap headroom); later-period: cross-cycle; earlier-period: backdated before the reward's period. */
export type ClawbackScope = 'same-period' | 'later-period' | 'earlier-period';

export function transactionView(t: LedgerTransaction): TransactionView {
  return {
    transactionId: t.transactionId,
    accountId: t.accountId,
    status: t.status,
    amount: t.amount,
    refunded: t.refunded,
    reward: t.reward,
    originalReward: t.originalReward,
    category: t.category,
    occurredAt: t.occurredAt,
    settledAt: t.settledAt,
    rewardedAt: t.rewardedAt,
    rewardPeriod: t.rewardPeriod,
  };
}

/** One operation's view of an account: a working copy of it, its program, and the entries appended so far. */
class Work {
  readonly entries: LedgerEntry[] = [];
  private dirty = false;

  constructor(
    readonly uow: LedgerUnitOfWork,
    readonly account: LedgerAccount,
    readonly program: RewardProgram,
  ) {}

  /** Appends an entry moving the balance by `amount` (nothing for 0). Redemptions also count in `redeemed`. */
  async post(type: EntryType, amount: number, transactionId: string | null, cause: EntryCause, at: string): Promise<LedgerEntry | null> {
    if (amount === 0) return null;
    this.account.balance += amount;
    if (type === 'REDEMPTION' || type === 'AUTO_REDEMPTION') this.account.redeemed -= amount;
    const entry = await this.uow.appendEntry({
      accountId: this.account.accountId,
      transactionId,
      type,
      amount,
      balanceAfter: this.account.balance,
      cause,
      programRef: this.account.programRef,
      at,
    });
    this.entries.push(entry);
    this.dirty = true;
    return entry;
  }

  touch(): void {
    this.dirty = true;
  }

  /** Saves the account once, with its version bumped, if anything changed. */
  async finish(): Promise<void> {
    if (!this.dirty) return;
    this.account.version += 1;
    await this.uow.saveAccount(this.account);
    this.dirty = false;
  }
}

/**
 * The transactions a unit of work changed, as contributions to Reward Integrity: each as it was first read, and as it
 * was last saved. Sees them through watch(), which hands the work a unit of work that reports both.
 */
class ChangedTransactions {
  private readonly first = new Map<string, TransactionContribution>();
  private readonly saved = new Map<string, TransactionContribution>();

  constructor(
    private readonly anchorDay: number,
    private readonly program: RewardProgramParameters,
  ) {}

  watch(uow: LedgerUnitOfWork): LedgerUnitOfWork {
    const seen = (t: LedgerTransaction | null): LedgerTransaction | null => {
      // The contribution is computed now: the work changes the object in place before it saves it.
      if (t && !this.first.has(t.transactionId)) this.first.set(t.transactionId, contributionOf(t, this.anchorDay, this.program));
      return t;
    };
    return {
      getAccount: (id) => uow.getAccount(id),
      getTransaction: async (id) => seen(await uow.getTransaction(id)),
      transactionsOfAccount: async (id, filter) => {
        const list = await uow.transactionsOfAccount(id, filter);
        for (const t of list) seen(t);
        return list;
      },
      adjustmentsOfAccount: (id, filter) => uow.adjustmentsOfAccount(id, filter),
      unprocessedCounts: (id, ids) => uow.unprocessedCounts(id, ids),
      getAdjustment: (id) => uow.getAdjustment(id),
      saveAccount: (a) => uow.saveAccount(a),
      saveTransaction: async (t) => {
        await uow.saveTransaction(t);
        this.saved.set(t.transactionId, contributionOf(t, this.anchorDay, this.program));
      },
      saveAdjustment: (a) => uow.saveAdjustment(a),
      appendEntry: (e) => uow.appendEntry(e),
      getRedemption: (id) => uow.getRedemption(id),
      saveRedemption: (r) => uow.saveRedemption(r),
    };
  }

  /** `totals` with every change applied; null when a saved transaction was never read (its change is unknown) or a sum left the exact range. */
  applyTo(totals: IntegrityTotals): IntegrityTotals | null {
    const changes: [TransactionContribution, TransactionContribution][] = [];
    for (const [id, after] of this.saved) {
      if (!this.first.has(id)) return null;
      changes.push([this.first.get(id)!, after]);
    }
    return withChanges(totals, changes);
  }
}

const ms = (iso: string): number => Date.parse(iso);

function notFound(code: 'ACCOUNT_NOT_FOUND' | 'TRANSACTION_NOT_FOUND', id: string): DomainError {
  const what = code === 'ACCOUNT_NOT_FOUND' ? 'account' : 'transaction';
  return new DomainError(code, `no ${what} ${id}`, 'not_found');
}

function refusal(code: string, message: string, path?: string): DomainError {
  return new DomainError(code, message, 'unprocessable', path ? [{ path, message }] : []);
}

function conflict(code: string, message: string, path?: string): DomainError {
  return new DomainError(code, message, 'conflict', path ? [{ path, message }] : []);
}

function programName(ref: string): string {
  const at = ref.lastIndexOf('@');
  return at < 0 ? ref : ref.slice(0, at);
}

/**
 * The reward ledger. Every operation runs in one unit of work serialised per account by the
 * store (the paper's assumptions A2 atomicity and A3 serialisation); business time always comes
 * from the input, never from a clock.
 */
export class Ledger {
  constructor(
    private readonly store: LedgerStore,
    private readonly programs: ProgramResolver,
    private readonly gate: RedemptionGate,
  ) {}

  /**
   * Opens an account, or updates it. Once it has transactions its currency, program and anchor day are fixed
   * (CURRENCY_MISMATCH, PROGRAM_LOCKED, CYCLE_ANCHOR_LOCKED); a bare program name naming the account's
   * current program keeps the pinned version. The same data again is a no-op (`created: false`).
   */
  async openAccount(tenant: string, accountId: string, input: OpenAccountInput): Promise<{ account: LedgerAccount; created: boolean }> {
    const g = new Guard('account');
    g.id(tenant, '/tenant');
    g.id(accountId, '/accountId');
    g.id(input.program, '/program');
    const currency = g.currency(input.currency, '/currency');
    const cycleAnchorDay = g.anchorDay(input.cycleAnchorDay, '/cycleAnchorDay');
    g.check();

    return this.store.withAccount(tenant, accountId, async (uow) => {
      const existing = await uow.getAccount(accountId);
      const keepPinned = existing && !input.program.includes('@') && programName(existing.programRef) === input.program;
      const programRef = keepPinned ? existing.programRef : (await this.programs.resolve(tenant, input.program)).ref;
      if (!existing) {
        const account: LedgerAccount = {
          tenant,
          accountId,
          programRef,
          currency,
          cycleAnchorDay,
          balance: 0,
          redeemed: 0,
          holdUntil: null,
          closedPeriods: [],
          capUsage: {},
          version: 1,
        };
        await uow.saveAccount(account);
        return { account, created: true };
      }
      const changes = {
        currency: existing.currency !== currency,
        program: existing.programRef !== programRef,
        anchor: existing.cycleAnchorDay !== cycleAnchorDay,
      };
      if (!changes.currency && !changes.program && !changes.anchor) return { account: existing, created: false };
      const inUse = (await uow.transactionsOfAccount(accountId)).length > 0;
      if (inUse && changes.currency) {
        throw conflict('CURRENCY_MISMATCH', `account ${accountId} has transactions in ${existing.currency}; its currency cannot become ${currency}`, '/currency');
      }
      if (inUse && changes.program) {
        throw conflict('PROGRAM_LOCKED', `account ${accountId} has transactions under ${existing.programRef}; its program cannot become ${programRef}`, '/program');
      }
      if ((inUse || existing.closedPeriods.length > 0) && changes.anchor) {
        throw conflict(
          'CYCLE_ANCHOR_LOCKED',
          `account ${accountId} already has transactions or closed statements on anchor day ${existing.cycleAnchorDay}`,
          '/cycleAnchorDay',
        );
      }
      const account: LedgerAccount = { ...existing, currency, programRef, cycleAnchorDay, version: existing.version + 1 };
      await uow.saveAccount(account);
      return { account, created: false };
    });
  }

  /** Records a PENDING purchase. The same transactionId with the same data returns the stored record; other data: TRANSACTION_EXISTS. */
  async recordPurchase(tenant: string, accountId: string, input: PurchaseInput): Promise<LedgerTransaction> {
    const g = new Guard('purchase');
    g.id(tenant, '/tenant');
    g.id(accountId, '/accountId');
    const transactionId = g.id(input.transactionId, '/transactionId');
    const amount = g.amount(input.amount, '/amount');
    const category = g.category(input.category, '/category');
    const occurredAt = g.timestamp(input.occurredAt, '/occurredAt');
    g.check();

    return this.store.withAccount(tenant, accountId, async (uow) => {
      const account = await uow.getAccount(accountId);
      if (!account) throw notFound('ACCOUNT_NOT_FOUND', accountId);
      const existing = await uow.getTransaction(transactionId);
      if (existing) {
        const same =
          existing.accountId === accountId && existing.amount === amount && existing.category === category && ms(existing.occurredAt) === ms(occurredAt);
        if (same) return existing;
        throw conflict('TRANSACTION_EXISTS', `transaction ${transactionId} already exists with other data`, '/transactionId');
      }
      const transaction: LedgerTransaction = {
        tenant,
        transactionId,
        accountId,
        amount,
        category,
        occurredAt,
        settledAt: null,
        status: 'PENDING',
        refunded: 0,
        reward: 0,
        originalReward: 0,
        rewardedAt: null,
        rewardPeriod: null,
        partialRefunds: 0,
        rewardBase: null,
      };
      await uow.saveTransaction(transaction);
      return transaction;
    }, { transactionIds: [transactionId] });
  }

  /**
   * Settles a PENDING purchase; instant programs reward it at once (Algorithm 1), statement programs at close.
   * The same settledAt again returns it; another one: TRANSACTION_ALREADY_SETTLED.
   */
  async settle(tenant: string, transactionId: string, input: SettleInput): Promise<LedgerTransaction> {
    const g = new Guard('settlement');
    g.id(tenant, '/tenant');
    g.id(transactionId, '/transactionId');
    const settledAt = g.timestamp(input.settledAt, '/settledAt');
    g.check();

    return this.onTransaction(tenant, transactionId, settledAt, {}, async (work, tx) => {
      if (tx.settledAt !== null) {
        if (ms(tx.settledAt) === ms(settledAt)) return tx;
        throw conflict('TRANSACTION_ALREADY_SETTLED', `transaction ${transactionId} was settled at ${tx.settledAt}`, '/settledAt');
      }
      if (ms(settledAt) < ms(tx.occurredAt)) {
        throw refusal('SETTLEMENT_BEFORE_PURCHASE', `settledAt ${settledAt} is before the purchase at ${tx.occurredAt}`, '/settledAt');
      }
      tx.settledAt = settledAt;
      tx.status = 'SETTLED';
      if (work.program.rewardTiming === 'instant') {
        const period = periodOf(settledAt, work.account.cycleAnchorDay).start;
        await this.grantReward(work, tx, tx.amount - tx.refunded, period, settledAt, { kind: 'settlement', id: transactionId });
      }
      await work.uow.saveTransaction(tx);
      return tx;
    });
  }

  /** A (partial or full) refund: Algorithm 2, at once or at the next close depending on the program. */
  async refund(tenant: string, transactionId: string, input: RefundInput): Promise<AdjustmentResult> {
    return this.adjust(tenant, transactionId, 'refund', input.refundId, input.amount, input.at);
  }

  /** A chargeback: the same reward adjustment as a refund (the paper's assumption A5); the transaction ends CHARGEBACK. */
  async chargeback(tenant: string, transactionId: string, input: ChargebackInput): Promise<AdjustmentResult> {
    return this.adjust(tenant, transactionId, 'chargeback', input.chargebackId, input.amount, input.at);
  }

  /**
   * Algorithm 3: asks the redemption gate (grace hold, minimum balance after redemption) and debits
   * the balance when allowed. A refusal changes nothing and returns `allowed: false` with every reason.
   * The same redemptionId with the same data returns the stored (allowed) result; other data: REDEMPTION_EXISTS.
   */
  async redeem(tenant: string, accountId: string, input: RedeemInput, options: RedeemOptions = {}): Promise<RedemptionOutcome> {
    const g = new Guard('redemption');
    g.id(tenant, '/tenant');
    g.id(accountId, '/accountId');
    const redemptionId = g.id(input.redemptionId, '/redemptionId');
    const amount = g.amount(input.amount, '/amount');
    const at = g.timestamp(input.at, '/at');
    g.check();

    return this.onAccountWrite(tenant, accountId, at, { redemptionIds: [redemptionId] }, async (work) => {
      const { account, program, uow } = work;
      const existing = await uow.getRedemption(redemptionId);
      if (existing) {
        if (existing.accountId === accountId && existing.amount === amount && ms(existing.at) === ms(at)) {
          return { allowed: true, reasons: [], gate: existing.gate, entry: existing.entry, account, replayed: true, ...(existing.decisionId !== undefined && { decisionId: existing.decisionId }) };
        }
        throw conflict('REDEMPTION_EXISTS', `redemption ${redemptionId} already exists with other data`, '/redemptionId');
      }
      const gateInput: RedemptionGateInput = {
        balance: account.balance,
        amount,
        minBalanceAfterRedemption: program.minBalanceAfterRedemption,
        atMs: ms(at),
        holdUntilMs: account.holdUntil === null ? null : ms(account.holdUntil),
      };
      const output = this.gate.evaluate(gateInput);
      const gate: GateDecision = { ref: this.gate.ref, input: gateInput, output };
      if (!output.allow) return { allowed: false, reasons: output.reasons, gate, entry: null, account: { ...account }, replayed: false };

      const entry = (await work.post('REDEMPTION', -amount, null, { kind: 'redemption', id: redemptionId }, at))!;
      const record: RedemptionRecord = { tenant, redemptionId, accountId, amount, at, entry, gate, ...(options.decisionId && { decisionId: options.decisionId() }) };
      await uow.saveRedemption(record);
      await work.finish();
      return { allowed: true, reasons: [], gate, entry, account: { ...account }, replayed: false };
    });
  }

  /**
   * Algorithm 4, statement close of the period ending at `periodEnd`:
   * phase 1 folds refunds of not-yet-rewarded transactions into their eligible amount;
   * phase 2 claws back deferred refunds (Algorithm 2, honouring crossPeriodClawback);
   * phase 3 (statement programs) rewards not-yet-rewarded transactions of this and earlier periods
   * (Algorithm 1 on the eligible amount), settling pending ones at the period end;
   * then sets the grace hold and, if the program says so, auto-redeems a positive balance.
   */
  async closeStatement(tenant: string, accountId: string, input: CloseStatementInput): Promise<StatementResult> {
    const g = new Guard('statement');
    g.id(tenant, '/tenant');
    g.id(accountId, '/accountId');
    const periodEnd = g.timestamp(input.periodEnd, '/periodEnd');
    g.check();

    // A close reads the period's unrewarded and deferred transactions: all of them in the one declared read.
    return this.onAccountWrite(tenant, accountId, periodEnd, { allTransactions: true }, async (work) => {
      const { account, program, uow } = work;
      const anchor = account.cycleAnchorDay;
      if (!isPeriodBoundary(periodEnd, anchor)) {
        throw refusal(
          'PERIOD_END_NOT_A_BOUNDARY',
          `${periodEnd} is not a period boundary of account ${accountId} (UTC midnight of day ${anchor} of a month)`,
          '/periodEnd',
        );
      }
      // The grace hold this close sets must be a time the ledger can record (years 0001–9999), or nothing is closed.
      const holdUntil = addDays(periodEnd, program.graceDays);
      if (!isInstantInRange(ms(holdUntil))) {
        throw refusal(
          'HOLD_OUT_OF_RANGE',
          `closing at ${periodEnd} would hold redemptions for ${program.graceDays} day(s), past ${new Date(LAST_INSTANT_MS).toISOString()}, the last time the ledger records`,
          '/periodEnd',
        );
      }
      const endMs = ms(periodEnd);
      const period = periodOf(endMs - 1, anchor);
      // closedPeriods is ascending: the first one not before this period decides (a binary search, however many are closed).
      const next = account.closedPeriods[firstNotBefore(account.closedPeriods, ms(period.start))];
      if (next !== undefined && ms(next) === ms(period.start)) {
        throw conflict('STATEMENT_ALREADY_CLOSED', `the statement of ${period.start} – ${period.end} is already closed`, '/periodEnd');
      }
      if (next !== undefined) {
        throw conflict('STATEMENT_OUT_OF_ORDER', `the later statement starting ${next} is already closed; statements close in order`, '/periodEnd');
      }

      // Only what this close touches is read, never the account's whole history (see TransactionFilter).
      // Transactions this close rewards (statement programs): not rewarded yet, in this period or an earlier one
      // (for those, "period before periodEnd" is "settled, or purchased while pending, before periodEnd").
      const toReward =
        program.rewardTiming === 'statement'
          ? (await uow.transactionsOfAccount(accountId, { unrewardedBefore: periodEnd })).sort(
              (a, b) => ms(transactionPeriod(a, anchor)) - ms(transactionPeriod(b, anchor)) || ms(a.settledAt ?? a.occurredAt) - ms(b.settledAt ?? b.occurredAt) || cmp(a.transactionId, b.transactionId),
            )
          : [];
      const rewarding = new Set(toReward.map((t) => t.transactionId));
      // Deferred refunds (phase 2): unprocessed, dated before periodEnd, of transactions rewarded before this close.
      const deferred = (await uow.adjustmentsOfAccount(accountId, { unprocessedOnly: true, ofRewardedTransactions: true, before: periodEnd }))
        .filter((a) => a.clawback === null)
        .sort((a, b) => ms(a.at) - ms(b.at) || cmp(a.adjustmentId, b.adjustmentId));
      const deferredTxIds = [...new Set(deferred.map((a) => a.transactionId))];
      const transactions = new Map(
        (deferredTxIds.length > 0 ? await uow.transactionsOfAccount(accountId, { transactionIds: deferredTxIds }) : []).map((t) => [t.transactionId, t]),
      );
      // Every unprocessed refund of the transactions rewarded now, whatever its date.
      const unprocessed =
        rewarding.size > 0 ? (await uow.adjustmentsOfAccount(accountId, { unprocessedOnly: true, transactionIds: [...rewarding] })).filter((a) => a.clawback === null) : [];
      const dirtyTx = new Set<LedgerTransaction>();

      // Phase 1: refunds before the reward shrink the eligible amount; nothing was granted on them, so nothing to claw back.
      // Only refunds dated inside the closed period: a later-dated one waits for the next close and its clawback rules,
      // so the outcome does not depend on when this close happens to run.
      const refundsFolded: FoldedRefund[] = [];
      const laterRefunded = new Map<string, number>();
      for (const a of unprocessed) {
        if (rewarding.has(a.transactionId) && ms(a.at) >= endMs) laterRefunded.set(a.transactionId, (laterRefunded.get(a.transactionId) ?? 0) + a.amount);
      }
      for (const adj of unprocessed.filter((a) => rewarding.has(a.transactionId) && ms(a.at) < endMs)) {
        adj.clawback = 0;
        adj.processedAt = periodEnd;
        await uow.saveAdjustment(adj);
        refundsFolded.push({ adjustmentId: adj.adjustmentId, kind: adj.kind, transactionId: adj.transactionId, amount: adj.amount });
      }

      // Phase 2: deferred refunds of rewarded transactions, up to the period end, in time order.
      const clawbacks: StatementClawback[] = [];
      // How many refunds of each transaction still wait, including those dated after periodEnd: the last one completes.
      const remaining = deferredTxIds.length > 0 ? await uow.unprocessedCounts(accountId, deferredTxIds) : new Map<string, number>();
      for (const adj of deferred) {
        const tx = transactions.get(adj.transactionId)!;
        const left = remaining.get(tx.transactionId)! - 1;
        remaining.set(tx.transactionId, left);
        const outcome = await this.clawBack(work, tx, adj, periodEnd, tx.refunded === tx.amount && left === 0);
        await uow.saveAdjustment(adj);
        dirtyTx.add(tx);
        clawbacks.push({
          adjustmentId: adj.adjustmentId,
          kind: adj.kind,
          transactionId: tx.transactionId,
          amount: adj.amount,
          clawback: adj.clawback!,
          debited: outcome.debited,
          scope: outcome.scope,
          entry: outcome.entry,
        });
      }

      // Phase 3: Algorithm 1 on the eligible amount; pending purchases settle at the period end.
      const rewards: StatementReward[] = [];
      for (const tx of toReward) {
        const txPeriod = transactionPeriod(tx, anchor);
        if (tx.status === 'PENDING') {
          tx.status = 'SETTLED';
          tx.settledAt = periodEnd;
        }
        const eligible = tx.amount - tx.refunded + (laterRefunded.get(tx.transactionId) ?? 0);
        const granted = await this.grantReward(work, tx, eligible, txPeriod, periodEnd, { kind: 'statement', id: periodEnd });
        dirtyTx.add(tx);
        rewards.push({ transactionId: tx.transactionId, eligibleAmount: eligible, uncapped: granted.uncapped, reward: granted.reward, period: txPeriod, entry: granted.entry });
      }
      for (const tx of dirtyTx) await uow.saveTransaction(tx);

      // The grace hold (Algorithm 3 guard (a)), then auto-redemption (which the hold does not stop: it is the program's own act).
      account.holdUntil = holdUntil;
      account.closedPeriods.push(period.start); // after every closed one (checked above), so still ascending
      work.touch();
      let autoRedemption: LedgerEntry | null = null;
      if (program.autoRedeemAtClose && account.balance > 0) {
        autoRedemption = await work.post('AUTO_REDEMPTION', -account.balance, null, { kind: 'statement', id: periodEnd }, periodEnd);
      }
      await work.finish();
      return {
        accountId,
        programRef: account.programRef,
        period,
        refundsFolded,
        clawbacks,
        rewards,
        holdUntil: account.holdUntil,
        autoRedemption,
        entries: work.entries,
        account: { ...account },
      };
    });
  }

  /** The account with its invariants evaluated now. */
  async view(tenant: string, accountId: string): Promise<AccountView> {
    const g = new Guard('account');
    g.id(tenant, '/tenant');
    g.id(accountId, '/accountId');
    g.check();
    return this.onAccount(tenant, accountId, async ({ account, program, uow }) => {
      const transactions = await uow.transactionsOfAccount(accountId);
      const unprocessed = (await uow.adjustmentsOfAccount(accountId, { unprocessedOnly: true })).filter((a) => a.clawback === null);
      const report = integrity(account, transactions, program);
      return {
        accountId,
        program: account.programRef,
        currency: account.currency,
        cycleAnchorDay: account.cycleAnchorDay,
        balance: account.balance,
        redeemed: account.redeemed,
        netSpend: report.netSpend,
        netReward: report.netReward,
        rewardBound: report.rewardBound,
        holdUntil: account.holdUntil,
        integrity: { rewardIntegrity: report.rewardIntegrity, violations: report.violations, roundingTolerance: report.roundingTolerance },
        unprocessedAdjustments: unprocessed.length,
        closedPeriods: [...account.closedPeriods],
        capUsage: { ...account.capUsage },
      };
    }, undefined, { allTransactions: true });
  }

  /** A page of the account's append-only entries (seq > afterSeq, ascending). ACCOUNT_NOT_FOUND for an unknown account. */
  async entries(tenant: string, accountId: string, page: { limit: number; afterSeq?: number }): Promise<LedgerEntry[]> {
    const g = new Guard('entries');
    g.id(tenant, '/tenant');
    g.id(accountId, '/accountId');
    g.check();
    const exists = await this.store.withAccount(tenant, accountId, async (uow) => (await uow.getAccount(accountId)) !== null);
    if (!exists) throw notFound('ACCOUNT_NOT_FOUND', accountId);
    return this.store.entries(tenant, accountId, page);
  }

  async transaction(tenant: string, transactionId: string): Promise<TransactionView> {
    const g = new Guard('transaction');
    g.id(tenant, '/tenant');
    g.id(transactionId, '/transactionId');
    g.check();
    const accountId = await this.store.accountOfTransaction(tenant, transactionId);
    if (accountId === null) throw notFound('TRANSACTION_NOT_FOUND', transactionId);
    return this.store.withAccount(tenant, accountId, async (uow) => {
      const tx = await uow.getTransaction(transactionId);
      if (!tx || tx.accountId !== accountId) throw notFound('TRANSACTION_NOT_FOUND', transactionId);
      // A store that records actors reads them back (null on rows from before); one that does not, none.
      return tx.actor === undefined ? transactionView(tx) : { ...transactionView(tx), actor: tx.actor };
    }, { transactionIds: [transactionId] });
  }

  // --- internals ---

  private async adjust(tenant: string, transactionId: string, kind: AdjustmentKind, rawId: string, rawAmount: number, rawAt: string): Promise<AdjustmentResult> {
    const idField = kind === 'refund' ? '/refundId' : '/chargebackId';
    const g = new Guard(kind);
    g.id(tenant, '/tenant');
    g.id(transactionId, '/transactionId');
    const adjustmentId = g.id(rawId, idField);
    const amount = g.amount(rawAmount, '/amount');
    const at = g.timestamp(rawAt, '/at');
    g.check();

    const reads = { adjustmentIds: [adjustmentId], unprocessedCountsOf: [transactionId] };
    return this.onTransaction(tenant, transactionId, at, reads, async (work, tx) => {
      const { uow, program } = work;
      const existing = await uow.getAdjustment(adjustmentId);
      if (existing) {
        if (existing.kind === kind && existing.transactionId === transactionId && existing.amount === amount && ms(existing.at) === ms(at)) {
          const entry = existing.entrySeq === null ? null : await this.entryAt(tenant, existing.accountId, existing.entrySeq);
          return { transaction: tx, adjustment: existing, entry };
        }
        throw conflict('ADJUSTMENT_EXISTS', `${idField.slice(1)} ${adjustmentId} was already used with other data`, idField);
      }
      if (tx.status === 'PENDING') {
        throw refusal('TRANSACTION_NOT_SETTLED', `transaction ${transactionId} is not settled yet: nothing to ${kind}`, '/transactionId');
      }
      if (ms(at) < ms(tx.occurredAt)) {
        throw refusal('ADJUSTMENT_BEFORE_PURCHASE', `${kind} at ${at} is before the purchase at ${tx.occurredAt}`, '/at');
      }
      const open = tx.amount - tx.refunded;
      if (amount > open) {
        throw refusal('REFUND_EXCEEDS_TRANSACTION', `${kind} of ${amount} exceeds the ${open} not yet refunded of transaction ${transactionId}`, '/amount');
      }

      tx.refunded += amount;
      if (kind === 'chargeback') tx.status = 'CHARGEBACK';
      else if (tx.status !== 'CHARGEBACK') tx.status = tx.refunded === tx.amount ? 'REFUNDED' : 'PART_REF';
      const adjustment: LedgerAdjustment = {
        tenant,
        adjustmentId,
        kind,
        transactionId,
        accountId: tx.accountId,
        amount,
        at,
        clawback: null,
        processedAt: null,
        entrySeq: null,
      };

      // Not rewarded yet (statement programs): the refund waits for the close that rewards the transaction (phase 1).
      // Rewarded: clawback now, at the next close (clawback 'statement': left unprocessed), or never.
      let entry: LedgerEntry | null = null;
      if (tx.rewardedAt !== null) {
        if (program.clawback === 'immediate') {
          const others = (await uow.unprocessedCounts(tx.accountId, [transactionId])).get(transactionId) ?? 0;
          entry = (await this.clawBack(work, tx, adjustment, at, tx.refunded === tx.amount && others === 0)).entry;
        } else if (program.clawback === 'none') {
          adjustment.clawback = 0;
          adjustment.processedAt = at;
        }
      }
      await uow.saveAdjustment(adjustment);
      await uow.saveTransaction(tx);
      return { transaction: tx, adjustment, entry };
    });
  }

  /** Algorithm 1: min(rhe(eligible × bps / 10000), cap headroom of the period); stores r0 = r and credits the balance. */
  private async grantReward(
    work: Work,
    tx: LedgerTransaction,
    eligible: number,
    period: string,
    at: string,
    cause: EntryCause,
  ): Promise<{ reward: number; uncapped: number; entry: LedgerEntry | null }> {
    const { account, program } = work;
    const uncapped = applyRate(eligible, rateBpsOf(program, tx.category));
    const used = account.capUsage[period] ?? 0;
    const reward = Math.min(uncapped, Math.max(0, program.monthlyCap - used));
    tx.originalReward = reward;
    tx.reward = reward;
    tx.rewardedAt = at;
    tx.rewardPeriod = period;
    tx.rewardBase = eligible;
    if (reward > 0) {
      account.capUsage[period] = used + reward;
      work.touch();
    }
    const entry = await work.post('REWARD', reward, tx.transactionId, cause, at);
    return { reward, uncapped, entry };
  }

  /**
   * Algorithm 2 for one refund or chargeback of a rewarded transaction: clawback =
   * min(rhe(a × r0 / base), r), or all of the remaining r when it completes the refunds. `base` is the
   * eligible amount r0 was computed on (the amount itself unless refunds preceded a statement reward),
   * so the retained reward stays proportional to what is still spent. Out of scope (a later period
   * with crossPeriodClawback false, or a program without clawback) means a clawback of 0.
   */
  private async clawBack(
    work: Work,
    tx: LedgerTransaction,
    adj: LedgerAdjustment,
    processedAt: string,
    completes: boolean,
  ): Promise<{ scope: ClawbackScope; debited: number; entry: LedgerEntry | null }> {
    const { account, program } = work;
    const rewardPeriod = tx.rewardPeriod!;
    const refundPeriod = periodOf(adj.at, account.cycleAnchorDay).start;
    const scope: ClawbackScope =
      ms(refundPeriod) === ms(rewardPeriod) ? 'same-period' : ms(refundPeriod) > ms(rewardPeriod) ? 'later-period' : 'earlier-period';
    adj.processedAt = processedAt;
    if (program.clawback === 'none' || (scope === 'later-period' && !program.crossPeriodClawback)) {
      adj.clawback = 0;
      return { scope, debited: 0, entry: null };
    }
    const base = tx.rewardBase ?? tx.amount;
    const clawback = completes || base === 0 ? tx.reward : Math.min(roundHalfEven(BigInt(adj.amount) * BigInt(tx.originalReward), base), tx.reward);
    if (!completes && tx.originalReward > 0) tx.partialRefunds += 1;
    tx.reward -= clawback;
    adj.clawback = clawback;
    if (scope === 'same-period' && clawback > 0) {
      account.capUsage[rewardPeriod] = Math.max(0, (account.capUsage[rewardPeriod] ?? 0) - clawback);
      work.touch();
    }
    const debited = program.negativeBalances ? clawback : Math.min(clawback, Math.max(0, account.balance));
    const entry = await work.post('CLAWBACK', -debited, tx.transactionId, { kind: adj.kind, id: adj.adjustmentId }, processedAt);
    adj.entrySeq = entry?.seq ?? null;
    return { scope, debited, entry };
  }

  /**
   * Runs fn on the account's unit of work with its program resolved; saves the account if fn changed it. A write
   * (`writeAt`, its business time) then hands the account's Reward Integrity verdict to a store that records it, in the
   * same unit of work: every write that can move the verdict passes here, whoever calls the ledger.
   */
  private async onAccount<T>(tenant: string, accountId: string, fn: (work: Work) => Promise<T>, writeAt?: string, reads: LedgerReads = {}): Promise<T> {
    // A write's verdict reads the account's totals (or every transaction): declared up front with the rest.
    const declared = writeAt === undefined ? reads : { ...reads, integrity: true };
    return this.store.withAccount(tenant, accountId, (uow) => this.inUnit(uow, tenant, accountId, fn, writeAt), declared);
  }

  /** onAccount's work inside the account's unit of work. */
  private async inUnit<T>(uow: LedgerUnitOfWork, tenant: string, accountId: string, fn: (work: Work) => Promise<T>, writeAt?: string): Promise<T> {
    const account = await uow.getAccount(accountId);
    if (!account) throw notFound('ACCOUNT_NOT_FOUND', accountId);
    const program = await this.programs.resolve(tenant, account.programRef);
    const changes = writeAt !== undefined && uow.recordIntegrity ? new ChangedTransactions(account.cycleAnchorDay, program) : undefined;
    const work = new Work(changes ? changes.watch(uow) : uow, account, program);
    const result = await fn(work);
    await work.finish();
    if (changes) await this.recordVerdict(uow, work.account, program, changes, writeAt!);
    return result;
  }

  /**
   * Hands the store the account's Reward Integrity after a write: from the totals the last write kept and the
   * transactions this one changed. Every transaction is read only for an account without totals, and for a false
   * verdict, whose violations integrity() lists from them.
   */
  private async recordVerdict(uow: LedgerUnitOfWork, account: LedgerAccount, program: RewardProgram, changes: ChangedTransactions, at: string): Promise<void> {
    const kept = uow.integrityTotals?.(account.accountId) ?? null;
    let totals = kept !== null && kept.program === account.programRef ? changes.applyTo(kept) : null;
    let transactions: LedgerTransaction[] | undefined;
    if (totals === null) {
      transactions = await uow.transactionsOfAccount(account.accountId);
      totals = totalsOf(account.programRef, transactions, account.cycleAnchorDay, program);
    }
    const figures = totals && figuresOf(totals, account, program);
    let report: IntegrityReport;
    if (figures?.rewardIntegrity) report = { ...figures, violations: [] };
    else {
      transactions ??= await uow.transactionsOfAccount(account.accountId);
      report = integrity(account, transactions, program);
    }
    const named = new Set(report.violations.map((v) => v.transactionId));
    const violating = transactions?.filter((t) => named.has(t.transactionId)) ?? [];
    await uow.recordIntegrity!({ account, report, violating, at, totals });
  }

  /** onAccount for a write at business time `at`. */
  private onAccountWrite<T>(tenant: string, accountId: string, at: string, reads: LedgerReads, fn: (work: Work) => Promise<T>): Promise<T> {
    return this.onAccount(tenant, accountId, fn, at, reads);
  }

  /** Like onAccount, for a write addressed by transaction id. */
  private async onTransaction<T>(
    tenant: string,
    transactionId: string,
    writeAt: string,
    reads: LedgerReads,
    fn: (work: Work, tx: LedgerTransaction) => Promise<T>,
  ): Promise<T> {
    const declared = { ...reads, transactionIds: [transactionId, ...(reads.transactionIds ?? [])], integrity: true };
    const work = (uow: LedgerUnitOfWork, accountId: string) =>
      this.inUnit(
        uow,
        tenant,
        accountId,
        async (w) => {
          const tx = await w.uow.getTransaction(transactionId);
          if (!tx || tx.accountId !== accountId) throw notFound('TRANSACTION_NOT_FOUND', transactionId);
          return fn(w, tx);
        },
        writeAt,
      );
    if (this.store.withAccountOfTransaction) {
      return this.store.withAccountOfTransaction(
        tenant,
        transactionId,
        (uow, accountId) => {
          if (accountId === null) throw notFound('TRANSACTION_NOT_FOUND', transactionId);
          return work(uow, accountId);
        },
        declared,
      );
    }
    const accountId = await this.store.accountOfTransaction(tenant, transactionId);
    if (accountId === null) throw notFound('TRANSACTION_NOT_FOUND', transactionId);
    return this.store.withAccount(tenant, accountId, (uow) => work(uow, accountId), declared);
  }

  private async entryAt(tenant: string, accountId: string, seq: number): Promise<LedgerEntry | null> {
    const [entry] = await this.store.entries(tenant, accountId, { limit: 1, afterSeq: seq - 1 });
    return entry?.seq === seq ? entry : null;
  }
}

/** Index of the first of the ascending instants `sorted` that is not before `atMs` (sorted.length when none). */
function firstNotBefore(sorted: readonly string[], atMs: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ms(sorted[mid]!) < atMs) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
