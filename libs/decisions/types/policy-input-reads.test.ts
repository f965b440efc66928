/**
 * A policy step hands the policy only what its Rego can read (LoadedPolicy.inputPaths through `projection`): for the
 * committed bundles that read part of their input, random inputs answer the same whole or projected, on every
 * entrypoint. Values at the read paths are drawn across types (absent, null, numbers around the thresholds, strings,
 * arrays, objects) and every level carries fields the policy never reads.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { LoadedPolicy } from '../../policies/index.js';
import { projection } from './pipeline.js';

const load = async (name: string) =>
  LoadedPolicy.load(readFileSync(new URL(`../../../policies/bundles/${name}/1.0.0.tar.gz`, import.meta.url)), { expectName: name });

const scalar = fc.oneof(
  fc.integer({ min: -3, max: 60 }),
  fc.integer({ min: 0, max: 2_000_000 }),
  fc.double({ min: -10, max: 1e6, noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(null, true, false, 'HIGH', 'LOW', 'pos', 'customer_portal', ''),
);
const value = fc.oneof({ weight: 5, arbitrary: scalar }, fc.array(scalar, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), scalar, { maxKeys: 3 }));
/** An object with the given fields (each may be absent) and unrelated ones. */
const objectWith = (fields: Record<string, fc.Arbitrary<unknown>>) =>
  fc
    .tuple(fc.record(fields, { requiredKeys: [] }), fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), value, { maxKeys: 4 }))
    .map(([own, extra]) => ({ ...extra, ...own }));

describe('a policy handed only what its Rego reads answers as with its whole input', () => {
  it('refund-risk', async () => {
    const policy = await load('refund-risk');
    expect(policy.inputPaths).toBeDefined();
    const project = projection(policy.inputPaths!);
    const input = objectWith({
      requestedAmount: value,
      customer: fc.oneof({ weight: 4, arbitrary: objectWith({ refundCount30d: value, accountAgeDays: value, priorChargebacks: value }) }, value),
      signals: fc.oneof({ weight: 4, arbitrary: objectWith({ ipRisk: value, deviceAccounts: value }) }, value),
      order: objectWith({ capturedAmount: value }),
    });
    fc.assert(
      fc.property(input, (i) => {
        for (const ep of policy.entrypoints) expect(policy.evaluate(ep, project(i))).toEqual(policy.evaluate(ep, i));
      }),
      { numRuns: 400 },
    );
  });

  it('giftcard-abuse (facts: amount, channel, features)', async () => {
    const policy = await load('giftcard-abuse');
    expect(policy.inputPaths).toBeDefined();
    const project = projection(policy.inputPaths!);
    const count = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constant(null), value);
    const features = objectWith(
      Object.fromEntries(
        ['failedChecksIp1h', 'failedChecksIp24h', 'failedChecksDevice1h', 'failedChecksCard1h', 'distinctCardsDevice1h', 'redemptionsCard1h', 'redeemedAmountCard24h', 'redemptionsDevice1h', 'distinctCardsIp24h'].map(
          (f) => [f, count],
        ),
      ),
    );
    const input = objectWith({ amount: value, channel: fc.oneof(fc.constantFrom('pos', 'web', 'call_centre'), value), features: fc.oneof({ weight: 4, arbitrary: features }, value) });
    fc.assert(
      fc.property(input, (i) => {
        for (const ep of policy.entrypoints) expect(policy.evaluate(ep, project(i))).toEqual(policy.evaluate(ep, i));
      }),
      { numRuns: 400 },
    );
  });
});
