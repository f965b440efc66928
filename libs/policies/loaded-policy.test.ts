/** LoadedPolicy against the committed refund-risk bundle: metadata, each signal, cap, bands, reuse, refusals, budgets. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import fc from 'fast-check';
import { DomainError } from '../errors/index.js';
import { DEFAULT_EVALUATION_BUDGET, LoadedPolicy } from './index.js';
import { unpackBundle, variantBundle } from './bundle.test-support.js';
import { op, replaceExportedFunction } from './wasm-assemble.test-support.js';
import { regoBundle } from '../../test/support/policy-bundles.js';

const ENTRYPOINT = 'refund/risk/assessment';
const bundleBytes = readFileSync(new URL('../../policies/bundles/refund-risk/1.0.0.tar.gz', import.meta.url));

interface Signal {
  code: string;
  fired: boolean;
  weight: number;
  fact: string;
  operator: string;
  threshold: unknown;
  value: unknown;
}
interface Reason {
  code: string;
  effect: string;
  rule: string;
  message: string;
}
interface Assessment {
  score: number;
  band: string;
  signals: Signal[];
  reasons: Reason[];
}

/** Fires nothing: every fact sits just on the quiet side of its threshold (same as the Rego tests). */
function baseCase() {
  return {
    refundId: 'rf_1',
    orderId: 'ord_1',
    customerId: 'cus_1',
    requestedAmount: 20000,
    currency: 'EUR',
    reasonCode: 'DAMAGED',
    channel: 'web',
    requestedAt: '2025-03-01T10:00:00Z',
    order: {
      placedAt: '2025-02-01T10:00:00Z',
      deliveredAt: null,
      capturedAmount: 30000,
      refundedAmount: 0,
      items: [{ sku: 'SKU-1', amount: 30000, finalSale: false, category: 'apparel' }],
    },
    customer: { accountAgeDays: 14, refundCount30d: 2, goodwillRefunds12m: 0, priorChargebacks: 0 },
    payment: { tender: 'card', cardExpired: false },
    returnStatus: 'received',
    disputeOpen: false,
    signals: { ipRisk: 'medium', deviceAccounts: 2 } as { ipRisk: string; deviceAccounts?: number },
  };
}
type Case = ReturnType<typeof baseCase>;

function withPatch(patch: { amount?: number; customer?: Partial<Case['customer']>; signals?: Partial<Case['signals']> }): Case {
  const c = baseCase();
  if (patch.amount !== undefined) c.requestedAmount = patch.amount;
  Object.assign(c.customer, patch.customer);
  Object.assign(c.signals, patch.signals);
  return c;
}

const allFire = withPatch({
  amount: 20001,
  customer: { accountAgeDays: 13, refundCount30d: 3, priorChargebacks: 1 },
  signals: { ipRisk: 'high', deviceAccounts: 3 },
});

const SIGNAL_ORDER = ['REFUND_VELOCITY_HIGH', 'HIGH_AMOUNT', 'NEW_ACCOUNT', 'PRIOR_CHARGEBACK', 'IP_RISK_HIGH', 'DEVICE_SHARED'];

let policy: LoadedPolicy;
const assess = (input: unknown): Assessment => policy.evaluate(ENTRYPOINT, input) as Assessment;
const signal = (result: Assessment, code: string): Signal | undefined => result.signals.find((s) => s.code === code);

beforeAll(async () => {
  policy = await LoadedPolicy.load(bundleBytes, { expectName: 'refund-risk', expectVersion: '1.0.0' });
});

describe('LoadedPolicy metadata', () => {
  it('names the bundle from its manifest and hashes the exact bytes', () => {
    expect(policy.name).toBe('refund-risk');
    expect(policy.version).toBe('1.0.0');
    expect(policy.ref).toBe('refund-risk@1.0.0');
    expect(policy.sha256).toBe(createHash('sha256').update(bundleBytes).digest('hex'));
    expect(policy.entrypoints).toEqual([ENTRYPOINT]);
    expect(policy.manifest.revision).toBe('1.0.0');
  });

  it('exposes data.json frozen, since the Wasm instance holds its own copy', () => {
    const data = policy.data as { refund_risk: { score_cap: number; signals: Record<string, object> } };
    expect(data.refund_risk.score_cap).toBe(100);
    expect(Object.isFrozen(data.refund_risk.signals.HIGH_AMOUNT)).toBe(true);
  });
});

describe('LoadedPolicy reads (manifest metadata.reads)', () => {
  it('lists what an entrypoint declares it reads, and nothing for one that declares nothing', async () => {
    const reads = ['/amount', '/customer/refundCount30d'];
    const p = await LoadedPolicy.load(variantBundle(bundleBytes, 'refund-risk', '1.0.1', { metadata: { reads: { [ENTRYPOINT]: reads } } }));
    expect(p.reads(ENTRYPOINT)).toEqual(reads);
    expect(p.reads('other/entrypoint')).toEqual([]);
    expect(policy.reads(ENTRYPOINT)).toEqual([]);
  });

  it('counts a pointer listed twice once', async () => {
    const reads = { [ENTRYPOINT]: Array.from({ length: 1001 }, () => '/amount') };
    const p = await LoadedPolicy.load(variantBundle(bundleBytes, 'refund-risk', '1.0.1', { metadata: { reads } }));
    expect([p.reads(ENTRYPOINT), p.readsProblem]).toEqual([['/amount'], undefined]);
  });

  it('every committed bundle declares its reads well-formed, or none (a built-in bundle goes through no upload check)', async () => {
    const dir = new URL('../../policies/bundles/', import.meta.url);
    let loaded = 0;
    for (const name of readdirSync(dir)) {
      for (const file of readdirSync(new URL(`${name}/`, dir))) {
        const p = await LoadedPolicy.load(readFileSync(new URL(`${name}/${file}`, dir)));
        expect([p.ref, p.readsProblem]).toEqual([p.ref, undefined]);
        loaded++;
      }
    }
    expect(loaded).toBeGreaterThanOrEqual(5);
  });

  it.each([
    ['not an object', ['/amount'], 'must be an object'],
    ['an entrypoint the Wasm does not export', { 'refund/other': ['/amount'] }, 'names entrypoint refund/other, which /policy.wasm does not export'],
    ['a pointer without its slash', { [ENTRYPOINT]: ['amount'] }, 'must be a list of JSON pointers'],
    ['a list that is not one', { [ENTRYPOINT]: '/amount' }, 'must be a list of JSON pointers'],
    ['a pointer with a bad escape', { [ENTRYPOINT]: ['/features/bad~2'] }, '"~" only as ~0 or ~1'],
    ['over 1,000 pointers', { [ENTRYPOINT]: Array.from({ length: 1001 }, (_, i) => `/f${i}`) }, 'lists 1001 pointers; at most 1000'],
  ])('loads a bundle whose reads are %s as declaring none, and says why (checkBundleUpload refuses it)', async (_what, reads, message) => {
    // Manifest metadata was free-form before `reads` meant anything: a bundle stored then must still load.
    const p = await LoadedPolicy.load(variantBundle(bundleBytes, 'refund-risk', '1.0.1', { metadata: { reads } }));
    expect(p.reads(ENTRYPOINT)).toEqual([]);
    expect(p.readsProblem).toContain(message);
  });
});

describe('refund risk assessment (Wasm)', () => {
  it('scores a quiet case LOW with all six signals listed in order and no reasons', () => {
    const r = assess(baseCase());
    expect(r.score).toBe(0);
    expect(r.band).toBe('LOW');
    expect(r.reasons).toEqual([]);
    expect(r.signals.map((s) => s.code)).toEqual(SIGNAL_ORDER);
    expect(r.signals.every((s) => s.fired === false)).toBe(true);
  });

  it.each([
    ['REFUND_VELOCITY_HIGH', { customer: { refundCount30d: 2 } }, false, 0],
    ['REFUND_VELOCITY_HIGH', { customer: { refundCount30d: 3 } }, true, 25],
    ['HIGH_AMOUNT', { amount: 20000 }, false, 0],
    ['HIGH_AMOUNT', { amount: 20001 }, true, 20],
    ['NEW_ACCOUNT', { customer: { accountAgeDays: 14 } }, false, 0],
    ['NEW_ACCOUNT', { customer: { accountAgeDays: 13 } }, true, 15],
    ['PRIOR_CHARGEBACK', { customer: { priorChargebacks: 0 } }, false, 0],
    ['PRIOR_CHARGEBACK', { customer: { priorChargebacks: 1 } }, true, 25],
    ['IP_RISK_HIGH', { signals: { ipRisk: 'medium' } }, false, 0],
    ['IP_RISK_HIGH', { signals: { ipRisk: 'high' } }, true, 10],
    ['DEVICE_SHARED', { signals: { deviceAccounts: 2 } }, false, 0],
    ['DEVICE_SHARED', { signals: { deviceAccounts: 3 } }, true, 15],
  ] as const)('%s with %j: fired=%s, score %i', (code, patch, fired, score) => {
    const r = assess(withPatch(patch));
    expect(signal(r, code)?.fired).toBe(fired);
    expect(r.score).toBe(score);
  });

  it('reports each signal with its fact, operator, threshold and value', () => {
    expect(signal(assess(withPatch({ customer: { refundCount30d: 3 } })), 'REFUND_VELOCITY_HIGH')).toEqual({
      code: 'REFUND_VELOCITY_HIGH',
      fired: true,
      weight: 25,
      fact: 'customer.refundCount30d',
      operator: '>=',
      threshold: 3,
      value: 3,
    });
  });

  it('does not fire DEVICE_SHARED when deviceAccounts is absent, and reports value null', () => {
    const c = baseCase();
    delete c.signals.deviceAccounts;
    const r = assess(c);
    expect(signal(r, 'DEVICE_SHARED')).toMatchObject({ fired: false, value: null, threshold: 3 });
    expect(r.score).toBe(0);
  });

  it('lists the band reason first, then fired signals with the band effect', () => {
    const r = assess(withPatch({ amount: 25000, customer: { refundCount30d: 3 } }));
    expect(r).toMatchObject({ score: 45, band: 'ELEVATED' });
    expect(r.reasons).toEqual([
      { code: 'RISK_SCORE_ELEVATED', effect: 'REVIEW', rule: 'band.elevated', message: 'Risk score 45 is in the review band (30-69)' },
      {
        code: 'REFUND_VELOCITY_HIGH',
        effect: 'REVIEW',
        rule: 'signal.REFUND_VELOCITY_HIGH',
        message: '3 refunds in the last 30 days (threshold 3)',
      },
      {
        code: 'HIGH_AMOUNT',
        effect: 'REVIEW',
        rule: 'signal.HIGH_AMOUNT',
        message: 'Requested amount 25000 is above 20000 (minor units)',
      },
    ]);
  });

  it('caps the score at 100 when every signal fires (110 raw) and denies', () => {
    const r = assess(allFire);
    expect(r.score).toBe(100);
    expect(r.band).toBe('HIGH');
    expect(r.reasons.map((x) => x.code)).toEqual(['RISK_SCORE_HIGH', ...SIGNAL_ORDER]);
    expect(r.reasons.every((x) => x.effect === 'DENY')).toBe(true);
    expect(r.reasons[0]?.message).toBe('Risk score 100 is in the deny band (70-100)');
  });

  // Exact 29/69 edges need other weights; the Rego tests and the repacked-data test cover them.
  it.each([
    [25, 'LOW', { customer: { refundCount30d: 3 } }],
    [30, 'ELEVATED', { amount: 20001, signals: { ipRisk: 'high' } }],
    [65, 'ELEVATED', { customer: { refundCount30d: 3, priorChargebacks: 1, accountAgeDays: 13 } }],
    [70, 'HIGH', { amount: 20001, customer: { refundCount30d: 3, priorChargebacks: 1 } }],
  ] as const)('score %i is %s', (score, band, patch) => {
    const r = assess(withPatch(patch));
    expect(r.score).toBe(score);
    expect(r.band).toBe(band);
  });

  it('reuses one instance across many evaluations with identical answers', () => {
    const inputs = [baseCase(), allFire, withPatch({ amount: 25000, customer: { refundCount30d: 3 } })];
    const expected = inputs.map((i) => JSON.stringify(assess(i)));
    for (let n = 0; n < 3000; n++) {
      const i = n % inputs.length;
      expect(JSON.stringify(assess(inputs[i]))).toBe(expected[i]);
    }
  });

  it('smokeTest returns the result', () => {
    expect(policy.smokeTest(ENTRYPOINT, baseCase())).toMatchObject({ band: 'LOW' });
  });
});

describe('LoadedPolicy.evaluate refusals', () => {
  it('refuses an unknown entrypoint', () => {
    expect(() => policy.evaluate('refund/risk/nope', baseCase())).toThrow(
      expect.objectContaining({ code: 'POLICY_ENTRYPOINT_UNKNOWN', kind: 'unprocessable' }),
    );
  });

  it('fails as unavailable when the rule is undefined for the input', () => {
    // opa-wasm passes a null input as no input at all, so the assessment is undefined.
    let err: unknown;
    try {
      policy.evaluate(ENTRYPOINT, null);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ code: 'POLICY_EVALUATION_FAILED', kind: 'unavailable' });
    expect((err as Error).message).toContain('no result');
  });

  it('smokeTest turns a failure into POLICY_BUNDLE_INVALID', () => {
    expect(() => policy.smokeTest(ENTRYPOINT, null)).toThrow(expect.objectContaining({ code: 'POLICY_BUNDLE_INVALID' }));
  });

  it('evaluateOptional answers an undefined rule instead of throwing; smokeTest can accept it', () => {
    expect(policy.evaluateOptional(ENTRYPOINT, null)).toEqual({ defined: false });
    expect(policy.evaluateOptional(ENTRYPOINT, baseCase())).toMatchObject({ defined: true, value: { band: 'LOW' } });
    expect(policy.smokeTest(ENTRYPOINT, null, { allowUndefined: true })).toBeUndefined();
    expect(() => policy.evaluateOptional('refund/risk/nope', {})).toThrow(expect.objectContaining({ code: 'POLICY_ENTRYPOINT_UNKNOWN' }));
  });
});

describe('evaluation budget (metered Wasm)', () => {
  const rawWasm = unpackBundle(bundleBytes).get('policy.wasm')!;
  const rawData: unknown = JSON.parse(Buffer.from(unpackBundle(bundleBytes).get('data.json')!).toString('utf8'));
  /** A refund case with `n` extra items: OPA parses the input inside the Wasm, so it costs steps and memory. */
  const withItems = (n: number) => {
    const c = baseCase();
    c.order.items = Array.from({ length: n }, (_, i) => ({ sku: `SKU-${i}`, amount: i, finalSale: false, category: 'apparel' }));
    return c;
  };
  const thrown = (fn: () => unknown): DomainError => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(DomainError);
      return e as DomainError;
    }
    throw new Error('expected a refusal');
  };

  it('answers exactly what the unmetered module answers, on any case', async () => {
    const raw = await loadPolicy(rawWasm);
    raw.setData(rawData as object);
    const patch = fc.record(
      {
        amount: fc.integer({ min: 0, max: 100_000 }),
        customer: fc.record({ accountAgeDays: fc.nat(60), refundCount30d: fc.nat(6), priorChargebacks: fc.nat(3) }),
        signals: fc.record({ ipRisk: fc.constantFrom('low', 'medium', 'high'), deviceAccounts: fc.nat(6) }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(patch, fc.nat(30), (p, items) => {
        const input = { ...withPatch(p), order: { ...withItems(items).order } };
        expect(policy.evaluate(ENTRYPOINT, input)).toEqual((raw.evaluate(input, 0) as { result: unknown }[])[0]!.result);
      }),
      { numRuns: 300 },
    );
  });

  describe('a bundle whose entrypoint never returns (opa_eval patched to `loop br 0`)', () => {
    const spinning = variantBundle(bundleBytes, 'spin-risk', '1.0.0', { wasm: replaceExportedFunction(rawWasm, 'opa_eval', [op.loop, op.void, op.br, 0, op.end, op.unreachable]) });
    let spin: LoadedPolicy;
    beforeAll(async () => {
      spin = await LoadedPolicy.load(spinning, { budget: { ...DEFAULT_EVALUATION_BUDGET, steps: 5_000_000 } });
    });

    it('fails its smoke test with EVALUATION_BUDGET_EXCEEDED, a 422 naming /policy.wasm', () => {
      const e = thrown(() => spin.smokeTest(ENTRYPOINT, {}, { allowUndefined: true }));
      expect(e).toMatchObject({ code: 'EVALUATION_BUDGET_EXCEEDED', kind: 'unprocessable', errors: [{ path: '/policy.wasm', rule: ENTRYPOINT }] });
      expect(e.message).toContain('spin-risk@1.0.0');
      expect(e.message).toContain('5,000,000 steps');
    });

    it('fails a decision with EVALUATION_BUDGET_EXCEEDED as unavailable as any failed evaluation, every time', () => {
      for (let i = 0; i < 3; i++) expect(thrown(() => spin.evaluate(ENTRYPOINT, baseCase()))).toMatchObject({ code: 'EVALUATION_BUDGET_EXCEEDED', kind: 'unavailable' });
    });
  });

  it('the default budget serves the largest refund case the refund type accepts, with room to spare', async () => {
    const long = (n: number, c: string) => c.repeat(n);
    const largest = {
      ...allFire,
      refundId: long(255, 'r'),
      orderId: long(255, 'o'),
      customerId: long(255, 'c'),
      order: {
        ...allFire.order,
        items: Array.from({ length: 1000 }, (_, i) => ({ sku: `${long(250, 's')}${String(i).padStart(5, '0')}`, amount: 2 ** 53 - 1, finalSale: true, category: long(64, 'k') })),
      },
    };
    // ~42 million steps, against 150 million: a third of the budget.
    expect(policy.evaluate(ENTRYPOINT, largest)).toMatchObject({ score: 100, band: 'HIGH' });
    const third = await LoadedPolicy.load(bundleBytes, { budget: { ...DEFAULT_EVALUATION_BUDGET, steps: DEFAULT_EVALUATION_BUDGET.steps / 3 } });
    expect(third.evaluate(ENTRYPOINT, largest)).toMatchObject({ score: 100 });
  });

  it('fails the one evaluation over its steps; the next is answered correctly', async () => {
    const small = await LoadedPolicy.load(bundleBytes, { budget: { ...DEFAULT_EVALUATION_BUDGET, steps: 3_000_000 } });
    const expected = assess(allFire);
    expect(thrown(() => small.evaluate(ENTRYPOINT, withItems(5_000)))).toMatchObject({ code: 'EVALUATION_BUDGET_EXCEEDED', kind: 'unavailable' });
    expect(small.evaluate(ENTRYPOINT, allFire)).toEqual(expected);
    expect(thrown(() => small.evaluate(ENTRYPOINT, withItems(5_000)))).toMatchObject({ code: 'EVALUATION_BUDGET_EXCEEDED' });
    expect(small.evaluate(ENTRYPOINT, baseCase())).toEqual(assess(baseCase()));
  });

  it('fails the one evaluation over its memory; the next is answered correctly', async () => {
    const tight = await LoadedPolicy.load(bundleBytes, { budget: { steps: 10_000_000_000, memoryMiB: 1 } });
    const e = thrown(() => tight.evaluate(ENTRYPOINT, withItems(20_000)));
    expect(e).toMatchObject({ code: 'EVALUATION_BUDGET_EXCEEDED', kind: 'unavailable' });
    expect(e.message).toContain('1 MiB');
    expect(tight.evaluate(ENTRYPOINT, allFire)).toEqual(assess(allFire));
  });

  it('fails an evaluation whose sprintf pads to a width from the input (JavaScript, outside the steps) at once', async () => {
    const rego = 'package pad\nimport rego.v1\nout := sprintf(concat("", ["%0", format_int(input.w, 10), "d|%%200000000d"]), [7])\n';
    const pad = await LoadedPolicy.load(await regoBundle('pad-policy', '1.0.0', 'pad/out', rego));
    // `%%` escapes: what follows it is text, not a width.
    expect(pad.evaluate('pad/out', { w: 5 })).toBe('00007|%200000000d');
    const started = performance.now();
    const e = thrown(() => pad.evaluate('pad/out', { w: 400_000_000 }));
    expect(e).toMatchObject({ code: 'EVALUATION_BUDGET_EXCEEDED', kind: 'unavailable' });
    expect(e.message).toContain('400000000 characters wide');
    expect(performance.now() - started).toBeLessThan(5_000); // hang guard: it took ~15 s
    expect(pad.evaluate('pad/out', { w: 3 })).toBe('007|%200000000d');
  }, 60_000);

  it('refuses a bundle whose data.json cannot be loaded within the budget (422)', async () => {
    const data = { ...(rawData as object), filler: Array.from({ length: 2_000 }, (_, i) => ({ k: i, v: `value-${i}` })) };
    const heavy = variantBundle(bundleBytes, 'heavy-risk', '1.0.0', { data });
    await expect(LoadedPolicy.load(heavy, { budget: { ...DEFAULT_EVALUATION_BUDGET, steps: 5_000_000 } })).rejects.toMatchObject({
      code: 'EVALUATION_BUDGET_EXCEEDED',
      kind: 'unprocessable',
      errors: [{ path: '/policy.wasm' }],
    });
    // The default budget loads it.
    expect((await LoadedPolicy.load(heavy)).ref).toBe('heavy-risk@1.0.0');
  });
});
