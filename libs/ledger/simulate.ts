/** What-if runs: an event script (ledger calls as data) on a fresh in-memory ledger with one account, step by step. */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { DomainError, type ErrorDetail, type ErrorKind } from '../errors/index.js';
import type { RedemptionGate, RedemptionGateReason } from './gate.js';
import { Ledger, transactionView, type AccountView, type RedemptionOutcome, type StatementResult, type TransactionView } from './ledger.js';
import { InMemoryLedgerStore } from './memory-store.js';
import { StaticProgramResolver, type RewardProgram } from './program.js';
import type { LedgerAdjustment, LedgerEntry } from './types.js';

export type LedgerEvent =
  | { op: 'purchase'; transactionId: string; amount: number; category: string; occurredAt: string }
  | { op: 'settle'; transactionId: string; settledAt: string }
  | { op: 'refund'; transactionId: string; refundId: string; amount: number; at: string }
  | { op: 'chargeback'; transactionId: string; chargebackId: string; amount: number; at: string }
  | { op: 'redeem'; redemptionId: string; amount: number; at: string }
  | { op: 'close'; periodEnd: string };

export interface SimulationOptions {
  /** The simulated account; defaults: accountId "simulated-account", currency "USD", cycleAnchorDay 1. */
  account?: { accountId?: string; currency?: string; cycleAnchorDay?: number };
}

/** The account's key figures after a step. */
export interface SimulationSnapshot {
  balance: number;
  redeemed: number;
  netSpend: number;
  netReward: number;
  rewardBound: number;
  rewardIntegrity: boolean;
  unprocessedAdjustments: number;
  holdUntil: string | null;
}

export type SimulationStepResult =
  | TransactionView
  | { transaction: TransactionView; adjustment: LedgerAdjustment; entry: LedgerEntry | null }
  | Omit<RedemptionOutcome, 'account'>
  | Omit<StatementResult, 'account'>;

export interface SimulationStep {
  index: number;
  op: LedgerEvent['op'];
  /** False when the ledger refused the call (the error says why) or the redemption gate said no. */
  ok: boolean;
  result?: SimulationStepResult;
  error?: { code: string; message: string; kind: ErrorKind; errors: ErrorDetail[]; reasons?: RedemptionGateReason[] };
  after: SimulationSnapshot;
}

export interface SimulationResult {
  program: string;
  account: { accountId: string; currency: string; cycleAnchorDay: number };
  steps: SimulationStep[];
  final: AccountView;
  transactions: TransactionView[];
  entries: LedgerEntry[];
}

const id = { type: 'string', minLength: 1, maxLength: 255 };
const amount = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER };
const time = { type: 'string', minLength: 1 };
const event = (op: string, fields: Record<string, unknown>) => ({
  type: 'object',
  additionalProperties: false,
  required: ['op', ...Object.keys(fields)],
  properties: { op: { const: op }, ...fields },
});

/** JSON Schema 2020-12 of a simulation's event list (shapes only; the ledger checks timestamps and business rules per step). */
export const ledgerEventsSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://decision-platform.local/schemas/ledger-events.schema.json',
  type: 'array',
  items: {
    type: 'object',
    required: ['op'],
    properties: { op: { enum: ['purchase', 'settle', 'refund', 'chargeback', 'redeem', 'close'] } },
    oneOf: [
      event('purchase', { transactionId: id, amount, category: { type: 'string', minLength: 1, maxLength: 64 }, occurredAt: time }),
      event('settle', { transactionId: id, settledAt: time }),
      event('refund', { transactionId: id, refundId: id, amount, at: time }),
      event('chargeback', { transactionId: id, chargebackId: id, amount, at: time }),
      event('redeem', { redemptionId: id, amount, at: time }),
      event('close', { periodEnd: time }),
    ],
  },
} as const;

let eventsValidator: ValidateFunction | undefined;

/** Checks the shape of an event list. @throws DomainError VALIDATION_FAILED (invalid) naming each bad event by JSON pointer (`/events/3/amount`). */
export function validateLedgerEvents(events: unknown, pathPrefix = '/events'): LedgerEvent[] {
  eventsValidator ??= new Ajv2020({ allErrors: true, strict: true, strictTypes: false }).compile(ledgerEventsSchema);
  if (eventsValidator(events)) return events as LedgerEvent[];
  const errors: ErrorDetail[] = [];
  const seen = new Set<string>();
  const list = Array.isArray(events) ? (events as unknown[]) : [];
  for (const e of eventsValidator.errors ?? []) {
    // oneOf reports every branch; keep the branch of the event's own op, or the op error itself.
    const m = /^\/(\d+)(\/.*)?$/.exec(e.instancePath);
    const index = m ? Number(m[1]) : undefined;
    const op = index !== undefined ? (list[index] as { op?: unknown } | undefined)?.op : undefined;
    const branch = /^#\/items\/oneOf\/(\d+)\//.exec(e.schemaPath);
    const ops = ['purchase', 'settle', 'refund', 'chargeback', 'redeem', 'close'];
    if (branch && ops[Number(branch[1])] !== op) continue;
    const item = index !== undefined ? list[index] : undefined;
    const isObject = typeof item === 'object' && item !== null && !Array.isArray(item);
    if (e.keyword === 'oneOf' && (ops.includes(op as string) || !isObject)) continue; // the branch's own (or the type) error says it better
    const params = e.params as Record<string, unknown>;
    let path = `${pathPrefix}${e.instancePath}`;
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'required') {
      path += `/${String(params['missingProperty'])}`;
      message = `missing required property '${String(params['missingProperty'])}'`;
    } else if (e.keyword === 'additionalProperties') {
      path += `/${String(params['additionalProperty'])}`;
      message = `unknown property '${String(params['additionalProperty'])}'`;
    } else if (e.keyword === 'oneOf' || (e.keyword === 'enum' && e.instancePath.endsWith('/op'))) {
      path = `${pathPrefix}/${index ?? ''}/op`.replace(/\/\/op$/, '/op');
      message = `op must be one of ${ops.join(', ')}`;
    }
    const key = `${path}\u0000${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      errors.push({ path, message });
    }
  }
  if (errors.length === 0) errors.push({ path: pathPrefix, message: 'must be an array of ledger events' });
  throw new DomainError('VALIDATION_FAILED', `events are invalid: ${errors[0]!.path} ${errors[0]!.message}`, 'invalid', errors);
}

const TENANT = 'simulation';

/**
 * Runs `events` in order against a fresh InMemoryLedgerStore holding one account on `program`.
 * Refusals (DomainErrors, gate refusals) are recorded on their step, never thrown; each step
 * reports the account's figures and Reward Integrity right after it.
 * @throws DomainError VALIDATION_FAILED when the event list or the account options are malformed.
 */
export async function simulateLedger(program: RewardProgram, events: LedgerEvent[], gate: RedemptionGate, options: SimulationOptions = {}): Promise<SimulationResult> {
  const script = validateLedgerEvents(events);
  const accountId = options.account?.accountId ?? 'simulated-account';
  const currency = options.account?.currency ?? 'USD';
  const cycleAnchorDay = options.account?.cycleAnchorDay ?? 1;
  const store = new InMemoryLedgerStore();
  const ledger = new Ledger(store, new StaticProgramResolver([program]), gate);
  try {
    await ledger.openAccount(TENANT, accountId, { program: program.ref, currency, cycleAnchorDay });
  } catch (e) {
    if (e instanceof DomainError && e.kind === 'invalid') {
      throw new DomainError(e.code, e.message, e.kind, e.errors.map((d) => ({ ...d, path: `/account${d.path}` })));
    }
    throw e;
  }

  const steps: SimulationStep[] = [];
  for (const [index, ev] of script.entries()) {
    let ok = true;
    let result: SimulationStepResult | undefined;
    let error: SimulationStep['error'];
    try {
      switch (ev.op) {
        case 'purchase':
          result = transactionView(await ledger.recordPurchase(TENANT, accountId, ev));
          break;
        case 'settle':
          result = transactionView(await ledger.settle(TENANT, ev.transactionId, ev));
          break;
        case 'refund':
        case 'chargeback': {
          const r = ev.op === 'refund' ? await ledger.refund(TENANT, ev.transactionId, ev) : await ledger.chargeback(TENANT, ev.transactionId, ev);
          result = { transaction: transactionView(r.transaction), adjustment: r.adjustment, entry: r.entry };
          break;
        }
        case 'redeem': {
          const { account: _account, ...outcome } = await ledger.redeem(TENANT, accountId, ev);
          result = outcome;
          if (!outcome.allowed) {
            ok = false;
            const first = outcome.reasons[0];
            error = {
              code: first?.code ?? 'REDEMPTION_REFUSED',
              message: first?.message ?? 'redemption refused',
              kind: 'unprocessable',
              errors: [],
              reasons: outcome.reasons,
            };
          }
          break;
        }
        case 'close': {
          const { account: _account, ...statement } = await ledger.closeStatement(TENANT, accountId, ev);
          result = statement;
          break;
        }
      }
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      ok = false;
      error = { code: e.code, message: e.message, kind: e.kind, errors: e.errors.map((d) => ({ ...d, path: `/events/${index}${d.path}` })) };
    }
    const view = await ledger.view(TENANT, accountId);
    steps.push({ index, op: ev.op, ok, ...(result !== undefined ? { result } : {}), ...(error ? { error } : {}), after: snapshot(view) });
  }

  const final = await ledger.view(TENANT, accountId);
  const entries = await store.entries(TENANT, accountId, { limit: Number.MAX_SAFE_INTEGER });
  const transactions = await store.withAccount(TENANT, accountId, async (uow) => (await uow.transactionsOfAccount(accountId)).map(transactionView));
  return { program: program.ref, account: { accountId, currency, cycleAnchorDay }, steps, final, transactions, entries };
}

function snapshot(v: AccountView): SimulationSnapshot {
  return {
    balance: v.balance,
    redeemed: v.redeemed,
    netSpend: v.netSpend,
    netReward: v.netReward,
    rewardBound: v.rewardBound,
    rewardIntegrity: v.integrity.rewardIntegrity,
    unprocessedAdjustments: v.unprocessedAdjustments,
    holdUntil: v.holdUntil,
  };
}
