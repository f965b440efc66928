/**
 * Test-only reference model of the ledger what-if: the implementation simulateLedger replaced (issue 8). Property tests
 * check that simulateLedger answers exactly what this answers, for any event script.
 */
import { DomainError } from '../errors/index.js';
import type { RedemptionGate } from './gate.js';
import { Ledger, transactionView, type AccountView } from './ledger.js';
import { InMemoryLedgerStore } from './memory-store.js';
import { StaticProgramResolver, type RewardProgram } from './program.js';
import { validateLedgerEvents, type LedgerEvent, type SimulationOptions, type SimulationResult, type SimulationSnapshot, type SimulationStep, type SimulationStepResult } from './simulate.js';

const TENANT = 'simulation';

/**
 * simulateLedger as it was before issue 8, verbatim: InMemoryLedgerStore, and the whole account viewed again after
 * every step (quadratic). Runs `events` in order against a fresh InMemoryLedgerStore holding one account on `program`.
 * Refusals (DomainErrors, gate refusals) are recorded on their step, never thrown; each step
 * reports the account's figures and Reward Integrity right after it.
 * @throws DomainError VALIDATION_FAILED when the event list or the account options are malformed.
 */
export async function simulateLedgerReference(program: RewardProgram, events: LedgerEvent[], gate: RedemptionGate, options: SimulationOptions = {}): Promise<SimulationResult> {
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
