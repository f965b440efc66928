/** Test support: the shipped reward programs, the built redemption-gate bundle, and a ledger on an in-memory store. */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { validatePack } from '../rules/index.js';
import { OpaRedemptionGate } from './gate.js';
import type { IntegrityTotals } from './integrity.js';
import { Ledger } from './ledger.js';
import { InMemoryLedgerStore } from './memory-store.js';
import { periodBoundsMs } from './periods.js';
import { programFromPack, StaticProgramResolver, type RewardProgram } from './program.js';
import type { LedgerEvent } from './simulate.js';
import type { IntegrityVerdict, LedgerUnitOfWork } from './types.js';

export const PROGRAM_NAMES = ['cashback-default', 'issuer-a', 'issuer-b', 'issuer-c', 'issuer-d', 'issuer-e', 'issuer-f'] as const;
export type ProgramName = (typeof PROGRAM_NAMES)[number];

export function packJson(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../../rule-packs/${name}/1.0.0.json`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

const programs = new Map<ProgramName, RewardProgram>();

/** The shipped program, through the same path the platform uses: validatePack, then programFromPack (once per name). */
export function program(name: ProgramName): RewardProgram {
  let p = programs.get(name);
  if (!p) {
    p = programFromPack(validatePack(packJson(name)));
    programs.set(name, p);
  }
  return p;
}

export const allPrograms = (): RewardProgram[] => PROGRAM_NAMES.map(program);

let gatePromise: Promise<OpaRedemptionGate> | undefined;

/** The real redemption gate, from the committed Wasm bundle (loaded once per test file). */
export function gate(): Promise<OpaRedemptionGate> {
  gatePromise ??= OpaRedemptionGate.load(readFileSync(new URL('../../policies/bundles/redemption-gate/1.0.0.tar.gz', import.meta.url)));
  return gatePromise;
}

export interface Harness {
  ledger: Ledger;
  store: InMemoryLedgerStore;
}

/**
 * The in-memory store as a recording store: its units of work take each Reward Integrity verdict (kept, copied) and keep
 * the totals it carries for the account's next write, as the PostgreSQL store does.
 */
export class VerdictRecordingStore extends InMemoryLedgerStore {
  readonly verdicts: IntegrityVerdict[] = [];
  private readonly kept = new Map<string, IntegrityTotals | null>();

  override withAccount<T>(tenant: string, accountId: string, fn: (uow: LedgerUnitOfWork) => Promise<T>): Promise<T> {
    return super.withAccount(tenant, accountId, (uow) => {
      uow.recordIntegrity = (v) => {
        this.verdicts.push(structuredClone(v));
        this.kept.set(JSON.stringify([tenant, v.account.accountId]), structuredClone(v.totals));
        return Promise.resolve();
      };
      uow.integrityTotals = (id) => structuredClone(this.kept.get(JSON.stringify([tenant, id])) ?? null);
      return fn(uow);
    });
  }

  /** Forgets an account's totals, as an account from before the store kept them (its next write reads every transaction). */
  forget(tenant: string, accountId: string): void {
    this.kept.delete(JSON.stringify([tenant, accountId]));
  }
}

/** A ledger over a fresh store that knows every shipped program (plus any extra ones). */
export async function harness(extra: RewardProgram[] = [], store: InMemoryLedgerStore = new InMemoryLedgerStore()): Promise<Harness> {
  const ledger = new Ledger(store, new StaticProgramResolver([...allPrograms(), ...extra]), await gate());
  return { ledger, store };
}

/** A program derived from a shipped one, for tests needing other parameters. */
export function variant(name: ProgramName, version: string, patch: Partial<Omit<RewardProgram, 'name' | 'version' | 'ref'>>): RewardProgram {
  const base = program(name);
  return { ...base, ...patch, name: base.name, version, ref: `${base.name}@${version}` };
}

/** Every entry of an account, all pages. */
export async function allEntries(store: InMemoryLedgerStore, tenant: string, accountId: string) {
  return store.entries(tenant, accountId, { limit: Number.MAX_SAFE_INTEGER });
}

const DAY_MS = 86_400_000;
const CATEGORIES = ['GROCERY', 'DINING', 'GAS', 'TRAVEL', 'RETAIL', 'BOOKS'] as const;

type ScriptCmd =
  | { op: 'purchase'; reuse: number | null; amount: number; category: string }
  | { op: 'settle'; pick: number; anyone: boolean; late: number }
  | { op: 'refund' | 'chargeback'; pick: number; anyone: boolean; share: number; reuse: number | null }
  | { op: 'redeem'; amount: number; reuse: number | null }
  | { op: 'close'; kind: 'next' | 'skip' | 'again' | 'earlier' | 'not-a-boundary' };

/** A what-if script: a program (a shipped one, perhaps with other parameters), an anchor day and events as data. */
export interface EventScript {
  program: RewardProgram;
  cycleAnchorDay: number;
  events: LedgerEvent[];
}

/** Now and then a number picking an id already used, mostly null (a new id). */
const reuse = fc.oneof({ weight: 7, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() });
/** Mostly false: pick among the purchases the event suits (pending ones to settle, settled ones to refund). */
const anyone = fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

const scriptCmd: fc.Arbitrary<{ dt: number; cmd: ScriptCmd }> = fc.record({
  // Mostly forward a few days; sometimes backdated, sometimes a jump of a year or more.
  dt: fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 6 * DAY_MS }) },
    { weight: 1, arbitrary: fc.integer({ min: -40 * DAY_MS, max: 0 }) },
    { weight: 1, arbitrary: fc.integer({ min: 300 * DAY_MS, max: 3000 * DAY_MS }) },
  ),
  cmd: fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('purchase' as const),
        reuse,
        amount: fc.oneof(
          { weight: 6, arbitrary: fc.integer({ min: 1, max: 250_000 }) },
          { weight: 1, arbitrary: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }) },
        ),
        category: fc.constantFrom(...CATEGORIES),
      }),
    },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('settle' as const), pick: fc.nat(), anyone, late: fc.integer({ min: 0, max: 40 * DAY_MS }) }) },
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constantFrom('refund' as const, 'refund' as const, 'chargeback' as const),
        pick: fc.nat(),
        anyone,
        share: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(1, 1.1)),
        reuse,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('redeem' as const), amount: fc.integer({ min: 1, max: 3000 }), reuse }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('close' as const),
        kind: fc.constantFrom('next' as const, 'next' as const, 'next' as const, 'skip' as const, 'again' as const, 'earlier' as const, 'not-a-boundary' as const),
      }),
    },
  ),
});

/** An ISO timestamp, sometimes written with an offset (the ledger canonicalises it). */
function stamp(ms: number, offsetHours: number): string {
  if (offsetHours === 0) return new Date(ms).toISOString();
  const local = new Date(ms + offsetHours * 3_600_000).toISOString().slice(0, 19);
  const sign = offsetHours > 0 ? '+' : '-';
  return `${local}${sign}${String(Math.abs(offsetHours)).padStart(2, '0')}:00`;
}

/**
 * Random what-if scripts that reach every path of the ledger: ids used again (same data or not), refunds before and
 * after rewards, partial and full, chargebacks, redemptions against the gate, closes in order, skipped, repeated,
 * out of order and off the boundary, huge amounts, backdated events, and programs with other parameters.
 */
export function eventScripts(maxEvents = 60): fc.Arbitrary<EventScript> {
  const parameters = fc.record(
    {
      rewardTiming: fc.constantFrom('instant' as const, 'statement' as const),
      clawback: fc.constantFrom('immediate' as const, 'statement' as const, 'none' as const),
      crossPeriodClawback: fc.boolean(),
      negativeBalances: fc.boolean(),
      graceDays: fc.integer({ min: 0, max: 10 }),
      autoRedeemAtClose: fc.boolean(),
      monthlyCap: fc.oneof(fc.integer({ min: 0, max: 20_000 }), fc.constant(Number.MAX_SAFE_INTEGER)),
      minBalanceAfterRedemption: fc.integer({ min: -1000, max: 1000 }),
    },
    { requiredKeys: [] },
  );
  return fc
    .record({
      name: fc.constantFrom(...PROGRAM_NAMES),
      patch: fc.option(parameters, { freq: 2 }),
      cycleAnchorDay: fc.integer({ min: 1, max: 28 }),
      start: fc.integer({ min: Date.parse('2023-01-01T00:00:00Z'), max: Date.parse('2025-01-01T00:00:00Z') }),
      offsets: fc.array(fc.constantFrom(0, 0, 0, 2, -5), { minLength: 1, maxLength: 4 }),
      // size 'max': lengths spread over the whole range, not fast-check's default of about ten.
      cmds: fc.array(scriptCmd, { maxLength: maxEvents, size: 'max' }),
    })
    .map(({ name, patch, cycleAnchorDay, start, offsets, cmds }) => {
      const events: LedgerEvent[] = [];
      const purchases: { id: string; amount: number; category: string; at: number; settled: boolean }[] = [];
      /** The purchase `pick` names: among those `suits` when `anyone` is false and there are some. */
      const choose = (pick: number, anyone: boolean, suits: (p: (typeof purchases)[number]) => boolean) => {
        const some = anyone ? purchases : purchases.filter(suits);
        const from = some.length > 0 ? some : purchases;
        return from.length > 0 ? from[pick % from.length] : undefined;
      };
      const adjustmentIds: string[] = [];
      const redemptionIds: string[] = [];
      let now = start;
      let closedUpTo = periodBoundsMs(start, cycleAnchorDay).startMs;
      const at = (i: number, ms: number) => stamp(ms, offsets[i % offsets.length]!);
      for (const [i, { dt, cmd }] of cmds.entries()) {
        now += dt;
        switch (cmd.op) {
          case 'purchase': {
            const again = cmd.reuse !== null && purchases.length > 0 ? purchases[cmd.reuse % purchases.length]! : null;
            if (again && cmd.reuse! % 2 === 0) {
              events.push({ op: 'purchase', transactionId: again.id, amount: again.amount, category: again.category, occurredAt: at(i, again.at) });
            } else {
              const p = { id: again?.id ?? `tx${purchases.length}`, amount: cmd.amount, category: cmd.category, at: now, settled: false };
              if (!again) purchases.push(p);
              events.push({ op: 'purchase', transactionId: p.id, amount: p.amount, category: p.category, occurredAt: at(i, now) });
            }
            break;
          }
          case 'settle': {
            const p = choose(cmd.pick, cmd.anyone, (x) => !x.settled);
            if (p) p.settled = true;
            events.push({ op: 'settle', transactionId: p?.id ?? 'unknown', settledAt: at(i, (p?.at ?? now) + cmd.late) });
            break;
          }
          case 'refund':
          case 'chargeback': {
            const p = choose(cmd.pick, cmd.anyone, (x) => x.settled);
            const amount = Math.max(1, Math.min(Number.MAX_SAFE_INTEGER, Math.round((p?.amount ?? 100) * cmd.share)));
            const id = cmd.reuse !== null && adjustmentIds.length > 0 ? adjustmentIds[cmd.reuse % adjustmentIds.length]! : `adj${adjustmentIds.length}`;
            if (!adjustmentIds.includes(id)) adjustmentIds.push(id);
            const when = at(i, Math.max(now, p?.at ?? now));
            events.push(
              cmd.op === 'refund'
                ? { op: 'refund', transactionId: p?.id ?? 'unknown', refundId: id, amount, at: when }
                : { op: 'chargeback', transactionId: p?.id ?? 'unknown', chargebackId: id, amount, at: when },
            );
            break;
          }
          case 'redeem': {
            const id = cmd.reuse !== null && redemptionIds.length > 0 ? redemptionIds[cmd.reuse % redemptionIds.length]! : `red${redemptionIds.length}`;
            if (!redemptionIds.includes(id)) redemptionIds.push(id);
            events.push({ op: 'redeem', redemptionId: id, amount: cmd.amount, at: at(i, now) });
            break;
          }
          case 'close': {
            const next = periodBoundsMs(closedUpTo, cycleAnchorDay).endMs;
            let end: number;
            if (cmd.kind === 'next') end = Math.max(next, periodBoundsMs(now, cycleAnchorDay).startMs);
            else if (cmd.kind === 'skip') end = periodBoundsMs(next + 45 * DAY_MS, cycleAnchorDay).startMs;
            else if (cmd.kind === 'again') end = closedUpTo;
            else if (cmd.kind === 'earlier') end = periodBoundsMs(closedUpTo - 20 * DAY_MS, cycleAnchorDay).startMs;
            else end = next + 3_600_000;
            if (cmd.kind === 'next' || cmd.kind === 'skip') closedUpTo = end;
            events.push({ op: 'close', periodEnd: at(i, end) });
            break;
          }
        }
      }
      return { program: patch ? variant(name, '9.9.9', patch) : program(name), cycleAnchorDay, events };
    });
}
