/** Test support: the shipped reward programs, the built redemption-gate bundle, and a ledger on an in-memory store. */
import { readFileSync } from 'node:fs';
import { validatePack } from '../rules/index.js';
import { OpaRedemptionGate } from './gate.js';
import { Ledger } from './ledger.js';
import { InMemoryLedgerStore } from './memory-store.js';
import { programFromPack, StaticProgramResolver, type RewardProgram } from './program.js';

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

/** A ledger over a fresh store that knows every shipped program (plus any extra ones). */
export async function harness(extra: RewardProgram[] = []): Promise<Harness> {
  const store = new InMemoryLedgerStore();
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
