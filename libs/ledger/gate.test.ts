/** The OPA redemption gate through its Wasm bundle: both guards, their boundaries, and refusal of malformed answers. */
import { readFileSync } from 'node:fs';
import { DomainError } from '../errors/index.js';
import type { LoadedPolicy } from '../policies/index.js';
import { OpaRedemptionGate, REDEMPTION_GATE_ENTRYPOINT, type RedemptionGateInput } from './gate.js';
import { gate } from './ledger.test-support.js';

const base: RedemptionGateInput = { balance: 1000, amount: 400, minBalanceAfterRedemption: 0, atMs: 1_717_200_000_000, holdUntilMs: null };
const codes = (g: OpaRedemptionGate, patch: Partial<RedemptionGateInput>) => g.evaluate({ ...base, ...patch }).reasons.map((r) => r.code);

describe('OpaRedemptionGate', () => {
  it('loads the committed bundle as redemption-gate@1.0.0', async () => {
    expect((await gate()).ref).toBe('redemption-gate@1.0.0');
  });

  it('allows within balance and outside any hold', async () => {
    expect((await gate()).evaluate(base)).toEqual({ allow: true, reasons: [] });
  });

  it('guard (a): refuses while at < holdUntil, allows from holdUntil on', async () => {
    const g = await gate();
    expect(codes(g, { holdUntilMs: base.atMs + 1 })).toEqual(['REDEMPTION_HOLD_ACTIVE']);
    expect(codes(g, { holdUntilMs: base.atMs })).toEqual([]);
    expect(codes(g, { holdUntilMs: base.atMs - 1 })).toEqual([]);
  });

  it('guard (b): refuses below the minimum balance, allows exactly at it', async () => {
    const g = await gate();
    expect(codes(g, { amount: 1000 })).toEqual([]);
    expect(codes(g, { amount: 1001 })).toEqual(['INSUFFICIENT_REWARD_BALANCE']);
    expect(codes(g, { balance: -300, amount: 1 })).toEqual(['INSUFFICIENT_REWARD_BALANCE']);
    expect(codes(g, { amount: 950, minBalanceAfterRedemption: 100 })).toEqual(['INSUFFICIENT_REWARD_BALANCE']);
    expect(codes(g, { amount: 900, minBalanceAfterRedemption: 100 })).toEqual([]);
  });

  it('lists every failing guard, hold first, with readable messages', async () => {
    const result = (await gate()).evaluate({ ...base, balance: -250, amount: 100, holdUntilMs: base.atMs + 86_400_000 });
    expect(result.allow).toBe(false);
    expect(result.reasons).toEqual([
      { code: 'REDEMPTION_HOLD_ACTIVE', message: expect.stringContaining(String(base.atMs + 86_400_000)) },
      { code: 'INSUFFICIENT_REWARD_BALANCE', message: 'Redeeming 100 from a balance of -250 would leave -350, below the minimum of 0' },
    ]);
  });

  it('formats numbers beyond 32 bits in Wasm (epoch ms, large balances)', async () => {
    const result = (await gate()).evaluate({ balance: 9_007_199_254_740_990, amount: 9_007_199_254_740_991, minBalanceAfterRedemption: 0, atMs: 1, holdUntilMs: 4_102_444_800_000 });
    expect(result.reasons).toEqual([
      { code: 'REDEMPTION_HOLD_ACTIVE', message: expect.stringContaining('4102444800000') },
      { code: 'INSUFFICIENT_REWARD_BALANCE', message: 'Redeeming 9007199254740991 from a balance of 9007199254740990 would leave -1, below the minimum of 0' },
    ]);
  });

  it('fails closed on malformed input', async () => {
    const result = (await gate()).evaluate({ ...base, amount: '400' } as unknown as RedemptionGateInput);
    expect(result).toEqual({ allow: false, reasons: [{ code: 'REDEMPTION_INPUT_INVALID', message: 'amount must be a number' }] });
  });

  it('refuses a policy answer that is not a well-formed decision', () => {
    const fake = (answer: unknown) =>
      new OpaRedemptionGate({ ref: 'fake@1', entrypoints: [REDEMPTION_GATE_ENTRYPOINT], evaluate: () => answer } as unknown as LoadedPolicy);
    for (const answer of [undefined, { allow: 'yes', reasons: [] }, { allow: true, reasons: [{ code: 'X', message: 'm' }] }, { allow: false, reasons: [] }, { allow: false, reasons: [{ code: 1 }] }]) {
      expect(() => fake(answer).evaluate(base)).toThrow(expect.objectContaining({ code: 'REDEMPTION_GATE_FAILED', kind: 'unavailable' }));
    }
    expect(fake({ allow: false, reasons: [{ code: 'X', message: 'm', extra: 1 }] }).evaluate(base)).toEqual({ allow: false, reasons: [{ code: 'X', message: 'm' }] });
  });

  it('refuses a policy without the entrypoint, and a bundle of another name', async () => {
    expect(() => new OpaRedemptionGate({ ref: 'x@1', entrypoints: ['other'] } as unknown as LoadedPolicy)).toThrow(DomainError);
    const riskBundle = readFileSync(new URL('../../policies/bundles/refund-risk/1.0.0.tar.gz', import.meta.url));
    await expect(OpaRedemptionGate.load(riskBundle)).rejects.toMatchObject({ code: 'POLICY_BUNDLE_MISMATCH' });
  });
});
