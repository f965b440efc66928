/**
 * Ledger what-if (api-contract.md §6): a reward program (a pack, not yet stored) runs an event script on an isolated
 * in-memory ledger, gated by the tenant's active redemption gate. Nothing is stored.
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { SchemaValidator } from '../../../libs/decisions/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import {
  programFromPack,
  simulateLedger,
  validateLedgerEvents,
  type RewardProgram,
  type SimulationOptions,
} from '../../../libs/ledger/index.js';
import type { Principal } from '../../../libs/persistence/index.js';
import { validatePack } from '../../../libs/rules/index.js';
import { ReleaseRegistry } from '../releases/release.registry.js';
import { RunLimiter } from './run-limiter.js';
import { ledgerSimulationSchema } from './simulations.schemas.js';

interface LedgerSimulationRequest {
  program: Record<string, unknown>;
  events: unknown[];
  account?: SimulationOptions['account'];
}

const requestValidator = new SchemaValidator<LedgerSimulationRequest>(ledgerSimulationSchema, 'Ledger simulation request');

/**
 * Ledger what-ifs this process runs at once; more wait in line. Each runs in slices that yield to the event loop, but
 * every run in progress adds a slice to each turn of the loop: one at a time keeps the wait of other requests short.
 * (There is one event loop: more at once would not finish sooner.)
 */
export const WHAT_IFS_RUNNING = 1;
/** What-ifs waiting for a place; beyond that, 429 SIMULATIONS_BUSY. */
export const WHAT_IFS_WAITING = 16;

/** Errors about the pack name paths inside it; in this request the pack sits at `/program`. */
function underProgram(e: unknown): unknown {
  if (!(e instanceof DomainError)) return e;
  const path = (p: string) => `/program${p === '/' ? '' : p}`;
  return new DomainError(e.code, e.message, e.kind, e.errors.map((d) => ({ ...d, path: path(d.path) })), e.extensions);
}

@Injectable()
export class LedgerSimulationService {
  private readonly limiter = new RunLimiter(
    WHAT_IFS_RUNNING,
    WHAT_IFS_WAITING,
    () =>
      new DomainError(
        'SIMULATIONS_BUSY',
        `This instance is already running ${WHAT_IFS_RUNNING} ledger what-ifs with ${WHAT_IFS_WAITING} more waiting; try again shortly`,
        'rate_limited',
        [],
        { retryAfter: 1 },
      ),
  );

  constructor(private readonly releases: ReleaseRegistry) {}

  /** What-ifs take turns, checks included: the event loop is shared with every other request of every tenant. */
  simulate(principal: Principal, body: unknown): Promise<Record<string, unknown>> {
    return this.limiter.run(() => this.run(principal, body));
  }

  private async run(principal: Principal, body: unknown): Promise<Record<string, unknown>> {
    const req = requestValidator.validate(body);
    let program: RewardProgram;
    try {
      program = programFromPack(validatePack(req.program));
    } catch (e) {
      throw underProgram(e);
    }
    await nextMacrotask(); // compiling the pack's schemas took a while: other requests go first
    const events = validateLedgerEvents(req.events, '/events');
    const { gate } = this.releases.redemptionGate(principal.tenant);
    const r = await simulateLedger(program, events, gate, req.account ? { account: req.account } : {});
    return {
      program: r.program,
      gate: gate.ref,
      account: r.account,
      rewardIntegrity: r.final.integrity.rewardIntegrity,
      final: r.final,
      steps: r.steps,
      transactions: r.transactions,
      entries: r.entries,
    };
  }

}
