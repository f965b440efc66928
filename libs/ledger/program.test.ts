/** Reward programs from packs: the shipped programs, parameter validation with JSON pointers, resolution by name. */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { DomainError } from '../errors/index.js';
import { validatePack, type RulePack } from '../rules/index.js';
import { packJson, program, PROGRAM_NAMES } from './ledger.test-support.js';
import { programFromPack, rateBpsOf, rewardProgramParametersSchema, StaticProgramResolver } from './program.js';

function invalid(mutate: (pack: Record<string, any>) => void): DomainError {
  const pack = structuredClone(packJson('cashback-default')) as Record<string, any>;
  mutate(pack);
  try {
    programFromPack(pack as unknown as RulePack);
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).code).toBe('REWARD_PROGRAM_INVALID');
    expect((e as DomainError).kind).toBe('unprocessable');
    return e as DomainError;
  }
  throw new Error('expected REWARD_PROGRAM_INVALID');
}

const paths = (e: DomainError) => e.errors.map((d) => d.path);

describe('shipped reward programs', () => {
  it.each(PROGRAM_NAMES)('%s@1.0.0 passes validatePack and programFromPack', (name) => {
    const p = program(name);
    expect(p.ref).toBe(`${name}@1.0.0`);
    expect(Object.isFrozen(p)).toBe(true);
  });

  it('cashback-default has exactly the agreed parameters', () => {
    const { name, version, ref, ...params } = program('cashback-default');
    expect({ name, version, ref }).toEqual({ name: 'cashback-default', version: '1.0.0', ref: 'cashback-default@1.0.0' });
    expect(params).toEqual({
      ratesBps: { GROCERY: 500, DINING: 500 },
      defaultRateBps: 100,
      monthlyCap: 5000,
      rewardTiming: 'instant',
      clawback: 'immediate',
      crossPeriodClawback: true,
      negativeBalances: true,
      minBalanceAfterRedemption: 0,
      graceDays: 0,
      autoRedeemAtClose: false,
    });
  });

  it('the issuers match Table 3 of the paper', () => {
    const row = (n: (typeof PROGRAM_NAMES)[number]) => {
      const p = program(n);
      return [p.rewardTiming, p.clawback, p.crossPeriodClawback, p.negativeBalances, p.autoRedeemAtClose];
    };
    expect(row('issuer-a')).toEqual(['instant', 'none', false, false, false]);
    expect(row('issuer-b')).toEqual(['statement', 'statement', false, false, true]);
    expect(row('issuer-c')).toEqual(['instant', 'immediate', true, true, false]);
    expect(row('issuer-d')).toEqual(['statement', 'statement', true, true, false]);
    expect(row('issuer-e')).toEqual(['statement', 'statement', true, true, false]);
    expect(row('issuer-f')).toEqual(['instant', 'statement', true, true, false]);
    expect(program('issuer-a').ratesBps['GROCERY']).toBe(500);
    expect(program('issuer-a').monthlyCap).toBe(5000);
  });

  it('issuer-d and issuer-e differ in rates, cap and grace', () => {
    const d = program('issuer-d');
    const e = program('issuer-e');
    expect(d.ratesBps).not.toEqual(e.ratesBps);
    expect(d.monthlyCap).not.toBe(e.monthlyCap);
    expect(d.graceDays).not.toBe(e.graceDays);
  });

  it.each(PROGRAM_NAMES)('%s: the bonus-category rule lists exactly the categories above the default rate', (name) => {
    const pack = validatePack(packJson(name));
    const p = programFromPack(pack);
    const rule = pack.rules.find((r) => r.name === 'bonus-category')!;
    const leaf = (rule.conditions as { all: { value: string[] }[] }).all[0]!;
    const bonus = Object.keys(p.ratesBps).filter((c) => p.ratesBps[c]! > p.defaultRateBps);
    expect([...leaf.value].sort()).toEqual(bonus.sort());
  });
});

describe('programFromPack', () => {
  it('refuses another kind', () => {
    const e = invalid((p) => (p['kind'] = 'refund-policy'));
    expect(paths(e)).toEqual(['/kind']);
  });

  it('names the offending category with a JSON pointer', () => {
    const e = invalid((p) => (p['parameters'].ratesBps.GROCERY = 500.5));
    expect(paths(e)).toEqual(['/parameters/ratesBps/GROCERY']);
    expect(e.message).toContain('/parameters/ratesBps/GROCERY');
  });

  it('refuses rates above 100% and negative ones', () => {
    const e = invalid((p) => {
      p['parameters'].ratesBps.GROCERY = 10001;
      p['parameters'].ratesBps.DINING = -1;
    });
    expect(paths(e).sort()).toEqual(['/parameters/ratesBps/DINING', '/parameters/ratesBps/GROCERY']);
  });

  it('refuses category keys that are not UPPER_SNAKE_CASE', () => {
    const e = invalid((p) => (p['parameters'].ratesBps.grocery = 100));
    expect(e.errors).toEqual([{ path: '/parameters/ratesBps/grocery', message: expect.stringContaining('UPPER_SNAKE_CASE') }]);
  });

  it('reports every problem at once: missing, unknown, wrong enum, wrong type', () => {
    const e = invalid((p) => {
      delete p['parameters'].monthlyCap;
      p['parameters'].bonus = 1;
      p['parameters'].rewardTiming = 'daily';
      p['parameters'].negativeBalances = 'yes';
      p['parameters'].graceDays = -1;
      p['version'] = 'one';
    });
    expect(paths(e).sort()).toEqual(
      ['/parameters/bonus', '/parameters/graceDays', '/parameters/monthlyCap', '/parameters/negativeBalances', '/parameters/rewardTiming', '/version'].sort(),
    );
    expect(e.errors.find((d) => d.path === '/parameters/rewardTiming')!.message).toBe('must be one of "instant", "statement"');
  });

  it('refuses non-object parameters and non-object packs', () => {
    expect(paths(invalid((p) => (p['parameters'] = [])))).toEqual(['/parameters']);
    expect(() => programFromPack(null as unknown as RulePack)).toThrow(DomainError);
  });

  it('accepts a pack without rules (the ledger reads parameters only)', () => {
    const pack = { ...packJson('cashback-default'), rules: [], factSchema: { type: 'object' } };
    expect(programFromPack(pack as unknown as RulePack).ref).toBe('cashback-default@1.0.0');
  });

  it('the exported schema is valid JSON Schema 2020-12 and agrees on the shipped parameters', () => {
    const validate = new Ajv2020({ strict: true, strictTypes: false }).compile(rewardProgramParametersSchema);
    for (const name of PROGRAM_NAMES) expect(validate(packJson(name)['parameters'])).toBe(true);
    expect(rewardProgramParametersSchema.required).toHaveLength(10);
    expect(rewardProgramParametersSchema.additionalProperties).toBe(false);
  });
});

describe('rateBpsOf', () => {
  it('uses own rates, else the default, never prototype keys', () => {
    const p = program('cashback-default');
    expect(rateBpsOf(p, 'GROCERY')).toBe(500);
    expect(rateBpsOf(p, 'GAS')).toBe(100);
    expect(rateBpsOf(p, 'grocery')).toBe(100);
    expect(rateBpsOf(p, 'constructor')).toBe(100);
    expect(rateBpsOf(p, '__proto__')).toBe(100);
  });
});

describe('StaticProgramResolver', () => {
  const v1 = program('issuer-c');
  const v2 = { ...v1, version: '1.10.0', ref: 'issuer-c@1.10.0' };
  const v3 = { ...v1, version: '1.9.0', ref: 'issuer-c@1.9.0' };
  const resolver = new StaticProgramResolver([v1, v2, v3]);

  it('resolves exact refs and bare names to the newest version (semver, not string order)', async () => {
    expect((await resolver.resolve('t', 'issuer-c@1.0.0')).ref).toBe('issuer-c@1.0.0');
    expect((await resolver.resolve('t', 'issuer-c')).ref).toBe('issuer-c@1.10.0');
  });

  it('PROGRAM_NOT_FOUND otherwise', async () => {
    await expect(resolver.resolve('t', 'issuer-c@2.0.0')).rejects.toMatchObject({ code: 'PROGRAM_NOT_FOUND', kind: 'unprocessable' });
    await expect(resolver.resolve('t', 'nope')).rejects.toMatchObject({ code: 'PROGRAM_NOT_FOUND' });
  });
});
