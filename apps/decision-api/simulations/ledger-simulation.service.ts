/**
 * Ledger what-if (api-contract.md §6): a reward program (a pack, not yet stored) runs an event script on an isolated
 * in-memory ledger, gated by the tenant's active redemption gate. Nothing is stored.
 */
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
import { ledgerSimulationSchema } from './simulations.schemas.js';

interface LedgerSimulationRequest {
  program: Record<string, unknown>;
  events: unknown[];
  account?: SimulationOptions['account'];
}

const requestValidator = new SchemaValidator<LedgerSimulationRequest>(ledgerSimulationSchema, 'Ledger simulation request');

/** Errors about the pack name paths inside it; in this request the pack sits at `/program`. */
function underProgram(e: unknown): unknown {
  if (!(e instanceof DomainError)) return e;
  const path = (p: string) => `/program${p === '/' ? '' : p}`;
  return new DomainError(e.code, e.message, e.kind, e.errors.map((d) => ({ ...d, path: path(d.path) })), e.extensions);
}

@Injectable()
export class LedgerSimulationService {

  constructor(private readonly releases: ReleaseRegistry) {}

  async simulate(principal: Principal, body: unknown): Promise<Record<string, unknown>> {
    const req = requestValidator.validate(body);
    let program: RewardProgram;
    try {
      program = programFromPack(validatePack(req.program));
    } catch (e) {
      throw underProgram(e);
    }
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
