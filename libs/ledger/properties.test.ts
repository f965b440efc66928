/**
 * Property tests: random chronological event sequences over several accounts and ≥ 3 billing periods,
 * with the real OPA redemption gate, checking the paper's invariants after every step.
 */
import fc from 'fast-check';
import { DomainError } from '../errors/index.js';
import { totalsOf } from './integrity.js';
import { harness, program, VerdictRecordingStore, type Harness, type ProgramName } from './ledger.test-support.js';
import { periodOf } from './periods.js';
import type { IntegrityVerdict } from './types.js';

const T = 'prop';
const ACCOUNTS = 3;
const DAY = 86_400_000;
const START = Date.parse('2024-01-01T00:00:00Z');
const MIN_SPAN = 100 * DAY; // at least three full periods whatever the anchor day
const CATEGORIES = ['GROCERY', 'DINING', 'GAS', 'TRAVEL', 'RETAIL'] as const;

type Cmd =
  | { kind: 'purchase'; acc: number; dt: number; amount: number; category: string }
  | { kind: 'settle'; acc: number; dt: number; pick: number }
  | { kind: 'refund'; acc: number; dt: number; pick: number; percent: number; full: boolean; chargeback: boolean; misuse: 'none' | 'pending' | 'overshoot' }
  | { kind: 'redeem'; acc: number; dt: number; percent: number; fixed: number }
  | { kind: 'close'; acc: number; dt: number; skipAhead: boolean };

const acc = fc.integer({ min: 0, max: ACCOUNTS - 1 });
const dt = fc.integer({ min: 0, max: 7 * DAY });
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('purchase' as const),
      acc,
      dt,
      amount: fc.oneof(fc.integer({ min: 1, max: 999 }), fc.integer({ min: 1000, max: 250_000 })),
      category: fc.constantFrom(...CATEGORIES),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('settle' as const), acc, dt, pick: fc.nat() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('refund' as const),
      acc,
      dt,
      pick: fc.nat(),
      percent: fc.integer({ min: 1, max: 100 }),
      full: fc.boolean(),
      chargeback: fc.boolean(),
      misuse: fc.constantFrom<'none' | 'pending' | 'overshoot'>('none', 'none', 'none', 'none', 'none', 'pending', 'overshoot'),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('redeem' as const), acc, dt, percent: fc.integer({ min: 1, max: 120 }), fixed: fc.integer({ min: 1, max: 2000 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('close' as const), acc, dt, skipAhead: fc.boolean() }) },
);
const scenario = fc.record({
  anchors: fc.array(fc.integer({ min: 1, max: 28 }), { minLength: ACCOUNTS, maxLength: ACCOUNTS }),
  cmds: fc.array(cmd, { minLength: 20, maxLength: 60 }),
});

/** Refusals a scenario provokes on purpose; anything else is a bug. */
const EXPECTED_REFUSALS = new Set(['TRANSACTION_NOT_SETTLED', 'REFUND_EXCEEDS_TRANSACTION']);

interface AccountState {
  id: string;
  anchor: number;
  purchases: number;
  adjustments: number;
  redemptions: number;
  /** End of the last closed period (or the start of the first period). */
  closedUpTo: number;
}

/** Checks every invariant of one account; `strict` demands Reward Integrity now, otherwise within the paper's delivery window. */
async function checkAccount(h: Harness, name: ProgramName, a: AccountState, strict: boolean, closedAt: number | null): Promise<void> {
  const p = program(name);
  const view = await h.ledger.view(T, a.id);
  const { transactions, unprocessed } = await h.store.withAccount(T, a.id, async (uow) => ({
    transactions: await uow.transactionsOfAccount(a.id),
    unprocessed: (await uow.adjustmentsOfAccount(a.id, { unprocessedOnly: true })).filter((x) => x.clawback === null),
  }));
  const entries = await h.store.entries(T, a.id, { limit: Number.MAX_SAFE_INTEGER });

  // The entries are the balance, line by line.
  let running = 0;
  for (const [i, e] of entries.entries()) {
    running += e.amount;
    expect(e.seq).toBe(i + 1);
    expect(e.balanceAfter).toBe(running);
    expect(e.amount).not.toBe(0);
  }
  expect(running).toBe(view.balance);
  expect(view.redeemed).toBe(entries.filter((e) => e.type === 'REDEMPTION' || e.type === 'AUTO_REDEMPTION').reduce((s, e) => s - e.amount, 0));

  // Per transaction: 0 ≤ r ≤ r0, 0 ≤ refunded ≤ amount.
  for (const t of transactions) {
    expect(t.reward).toBeGreaterThanOrEqual(0);
    expect(t.reward).toBeLessThanOrEqual(t.originalReward);
    expect(t.refunded).toBeGreaterThanOrEqual(0);
    expect(t.refunded).toBeLessThanOrEqual(t.amount);
    if (t.status === 'PENDING') expect(t.refunded).toBe(0);
  }

  // Cap usage per period within [0, monthlyCap].
  for (const used of Object.values(view.capUsage)) {
    expect(used).toBeGreaterThanOrEqual(0);
    expect(used).toBeLessThanOrEqual(p.monthlyCap);
  }

  // Reward Integrity.
  const pendingReward = transactions.filter((t) => unprocessed.some((x) => x.transactionId === t.transactionId)).reduce((s, t) => s + t.reward, 0);
  if (strict || unprocessed.length === 0) {
    expect(view.integrity.violations).toEqual([]);
    expect(view.integrity.rewardIntegrity).toBe(true);
  } else {
    // The paper's theorem: a temporary violation is bounded by the reward of transactions with unprocessed refunds.
    expect(view.netReward - view.rewardBound).toBeLessThanOrEqual(pendingReward);
  }

  // Refund Reward Consistency: a close leaves no refund dated before its end unprocessed.
  if (closedAt !== null) expect(unprocessed.filter((x) => Date.parse(x.at) < closedAt)).toEqual([]);
}

/**
 * The verdict a write handed the store, made from the totals the account kept and the transactions the write changed,
 * is integrity() over the whole account right after it, violations included; its totals are those of every transaction.
 */
async function checkVerdict(h: Harness, name: ProgramName, a: AccountState, verdict: IntegrityVerdict): Promise<void> {
  const view = await h.ledger.view(T, a.id);
  const transactions = await h.store.withAccount(T, a.id, (uow) => uow.transactionsOfAccount(a.id));
  expect(verdict.account.accountId).toBe(a.id);
  expect(verdict.report).toEqual({
    netSpend: view.netSpend,
    netReward: view.netReward,
    rewardBound: view.rewardBound,
    roundingTolerance: view.integrity.roundingTolerance,
    rewardIntegrity: view.integrity.rewardIntegrity,
    violations: view.integrity.violations,
  });
  expect(verdict.totals).toEqual(totalsOf(view.program, transactions, a.anchor, program(name)));
}

async function runScenario(name: ProgramName, anchors: number[], cmds: Cmd[], strict: boolean, forget: readonly boolean[] = []): Promise<void> {
  const store = forget.length > 0 ? new VerdictRecordingStore() : undefined;
  const h = await harness([], store);
  const accounts: AccountState[] = anchors.map((anchor, i) => ({
    id: `acc-${i}`,
    anchor,
    purchases: 0,
    adjustments: 0,
    redemptions: 0,
    closedUpTo: Date.parse(periodOf(START, anchor).start),
  }));
  for (const a of accounts) await h.ledger.openAccount(T, a.id, { program: name, currency: 'USD', cycleAnchorDay: a.anchor });

  // Stretch the clock so every run spans at least MIN_SPAN.
  const total = cmds.reduce((s, c) => s + c.dt, 0);
  const stretch = total >= MIN_SPAN ? 1 : total === 0 ? 0 : MIN_SPAN / total;
  let now = START;

  for (const [step, c] of cmds.entries()) {
    // Now and then the account loses its totals (as one from before they were kept): the next write starts again from every transaction.
    if (store && forget[step % forget.length]) store.forget(T, accounts[c.acc]!.id);
    const recorded = store?.verdicts.length ?? 0;
    now += total === 0 ? Math.floor(MIN_SPAN / cmds.length) : Math.floor(c.dt * stretch);
    const at = new Date(now).toISOString();
    const a = accounts[c.acc]!;
    const txs = await h.store.withAccount(T, a.id, (uow) => uow.transactionsOfAccount(a.id));
    let closedAt: number | null = null;
    try {
      switch (c.kind) {
        case 'purchase':
          await h.ledger.recordPurchase(T, a.id, { transactionId: `${a.id}-tx-${a.purchases++}`, amount: c.amount, category: c.category, occurredAt: at });
          break;
        case 'settle': {
          const pending = txs.filter((t) => t.status === 'PENDING');
          const t = pending[c.pick % Math.max(1, pending.length)];
          if (t) await h.ledger.settle(T, t.transactionId, { settledAt: at });
          break;
        }
        case 'refund': {
          const pool = c.misuse === 'pending' ? txs.filter((t) => t.status === 'PENDING') : txs.filter((t) => t.status !== 'PENDING' && t.refunded < t.amount);
          const t = pool[c.pick % Math.max(1, pool.length)];
          if (!t) break;
          const open = t.amount - t.refunded;
          const amount = c.misuse === 'overshoot' ? open + 1 : c.full ? Math.max(1, open) : Math.max(1, Math.floor((open * c.percent) / 100));
          const id = `${a.id}-adj-${a.adjustments++}`;
          if (c.chargeback) await h.ledger.chargeback(T, t.transactionId, { chargebackId: id, amount, at });
          else await h.ledger.refund(T, t.transactionId, { refundId: id, amount, at });
          break;
        }
        case 'redeem': {
          const { balance } = await h.ledger.view(T, a.id);
          const amount = balance > 0 ? Math.max(1, Math.floor((balance * c.percent) / 100)) : c.fixed;
          const outcome = await h.ledger.redeem(T, a.id, { redemptionId: `${a.id}-red-${a.redemptions++}`, amount, at });
          if (outcome.allowed) expect(outcome.account.balance).toBeGreaterThanOrEqual(program(name).minBalanceAfterRedemption);
          else expect(outcome.reasons.length).toBeGreaterThan(0);
          break;
        }
        case 'close': {
          let end = Date.parse(periodOf(a.closedUpTo, a.anchor).end);
          if (end > now) break;
          if (c.skipAhead) end = Date.parse(periodOf(now, a.anchor).start); // skip to the latest boundary (dormant account)
          await h.ledger.closeStatement(T, a.id, { periodEnd: new Date(end).toISOString() });
          a.closedUpTo = end;
          closedAt = end;
          break;
        }
      }
    } catch (e) {
      if (!(e instanceof DomainError) || !EXPECTED_REFUSALS.has(e.code)) throw e;
      const wasMisuse = c.kind === 'refund' && c.misuse !== 'none';
      expect(wasMisuse).toBe(true);
    }
    // A step only touches its own account (the others are checked again at the end).
    await checkAccount(h, name, a, strict, closedAt);
    if (store && store.verdicts.length > recorded) await checkVerdict(h, name, a, store.verdicts[store.verdicts.length - 1]!);
  }
  for (const other of accounts) await checkAccount(h, name, other, strict, null);
}

/** Runs per property (LEDGER_PROPERTY_RUNS overrides, e.g. for a long soak); issuer-e and issuer-f are extra coverage at half. */
const RUNS = Number(process.env['LEDGER_PROPERTY_RUNS'] ?? 200);

describe('ledger invariants under random event sequences (fast-check)', () => {
  it.each(['cashback-default', 'issuer-c', 'issuer-d', 'issuer-e', 'issuer-f'] as const)(
    "%s: every write's verdict, made from the kept totals and the transactions it changed, is integrity() over the whole account",
    async (name) => {
      await fc.assert(
        fc.asyncProperty(scenario, fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), ({ anchors, cmds }, forget) =>
          runScenario(name, anchors, cmds, name === 'cashback-default' || name === 'issuer-c', forget),
        ),
        { numRuns: Math.ceil(RUNS / 2) },
      );
    },
    120_000,
  );

  it.each(['cashback-default', 'issuer-c'] as const)(
    '%s keeps Reward Integrity, 0 ≤ r ≤ r0, Σ entries = balance, refunded ≤ amount and cap usage ≤ cap after every step',
    async (name) => {
      await fc.assert(
        fc.asyncProperty(scenario, ({ anchors, cmds }) => runScenario(name, anchors, cmds, true)),
        { numRuns: RUNS },
      );
    },
    120_000,
  );

  it.each([
    ['issuer-d', RUNS],
    ['issuer-e', Math.ceil(RUNS / 2)],
    ['issuer-f', Math.ceil(RUNS / 2)],
  ] as const)(
    '%s (clawback at close): Reward Integrity whenever no refund awaits a close, bounded lag otherwise, every other invariant always (%d runs)',
    async (name, runs) => {
      await fc.assert(
        fc.asyncProperty(scenario, ({ anchors, cmds }) => runScenario(name, anchors, cmds, false)),
        { numRuns: runs },
      );
    },
    120_000,
  );
});
