import { resolve } from 'node:path';
import {
  FileComponentSource,
  ReleaseCompiler,
  type BoundDecisionType,
  type ComponentSource,
} from './index.js';
import { DomainError } from '../errors/index.js';
import { refundCase } from '../../test/support/refund-cases.js';

const root = resolve(import.meta.dirname, '../..');

describe('the refund decision type (decision-types/refund/1.0.0.json)', () => {
  let refund: BoundDecisionType;
  beforeAll(async () => {
    const files = new FileComponentSource(root);
    refund = (await new ReleaseCompiler(files).compile((await files.release('default', '1.0.0'))!)).refund();
  });
  const derived = async (patch: Record<string, unknown>) => {
    const d = await refund.decide(refundCase(patch));
    return Object.fromEntries(
      d.trace.flatMap((t) => {
        const leaf = (t.conditions as { all?: { fact: string; path?: string; factValue?: unknown }[] } | undefined)?.all ?? [];
        return leaf.filter((l) => l.fact === 'derived').map((l) => [l.path, l.factValue]);
      }),
    );
  };

  it('derives refundable amount, fractional days since delivery and item counts as data', async () => {
    const facts = await derived({
      requestedAt: '2026-04-01T15:30:01Z',
      order: { deliveredAt: '2026-03-02T15:30:00Z', capturedAmount: 100, refundedAmount: 130, items: [{ sku: 'a', amount: 1, finalSale: true, category: 'x' }] },
    });
    expect(facts['$.daysSinceDelivery']).toBeGreaterThan(30);
    expect(facts['$.daysSinceDelivery']).toBeLessThan(30.0001);
    expect([facts['$.itemCount'], facts['$.finalSaleItemCount']]).toEqual([1, 1]);
  });

  it('has no window when the order was never delivered', async () => {
    const facts = await derived({ order: { deliveredAt: null } });
    expect(facts['$.daysSinceDelivery']).toBeNull();
  });

  it('combines DENY over REVIEW over APPROVE', () => {
    const r = (effect: string) => ({ code: 'X', message: 'x', source: 's@1', rule: 'r', effect });
    expect(refund.combine([])).toBe('APPROVE');
    expect(refund.combine([r('REVIEW')])).toBe('REVIEW');
    expect(refund.combine([r('REVIEW'), r('DENY'), r('REVIEW')])).toBe('DENY');
  });

  it('names every bad field of a case with a JSON pointer', async () => {
    const bad = refundCase({ requestedAmount: -1, channel: 'fax', signals: { ipRisk: 'low', extra: 1 } });
    delete bad.customer;
    const e = await refund.decide(bad).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(DomainError);
    const err = e as DomainError;
    expect(err.kind).toBe('invalid');
    expect(err.errors.map((x) => x.path).sort()).toEqual(['/case/channel', '/case/customer', '/case/requestedAmount', '/case/signals/extra']);
  });
});

describe('ReleaseCompiler and decideRefund on the shipped release', () => {
  const source = new FileComponentSource(root);
  const manifest = { name: 'default', version: '1.0.0', components: { 'refund-policy': '1.0.0', 'refund-risk': '1.0.0' } };

  it('compiles once per release and decides with reasons naming their source', async () => {
    const compiler = new ReleaseCompiler(source);
    const release = await compiler.compile(manifest);
    expect(await compiler.compile(manifest)).toBe(release);
    const d = await release.refund().decide(refundCase({ disputeOpen: true, signals: { ipRisk: 'high' } }));
    expect(d.outcome).toBe('REVIEW');
    expect(d.output.riskScore).toBe(10);
    expect(d.reasons).toEqual([expect.objectContaining({ code: 'CHARGEBACK_IN_PROGRESS', source: 'refund-policy@1.0.0', effect: 'REVIEW' })]);
    expect(d.output.approvedAmount).toBe(0);
    expect(d.trace.filter((t) => t.fired).map((t) => t.rule)).toEqual(['signal.IP_RISK_HIGH', 'chargeback-in-progress']);
  });

  it('refuses a release naming a component that does not exist', async () => {
    const compiler = new ReleaseCompiler(source);
    await expect(compiler.compile({ ...manifest, components: { ...manifest.components, 'refund-risk': '9.9.9' } })).rejects.toMatchObject({
      code: 'RELEASE_COMPONENT_NOT_FOUND',
    });
  });

  it('refuses a release without a refund-policy pack for the refund domain', async () => {
    const release = await new ReleaseCompiler(source).compile({ name: 'risk-only', version: '1.0.0', components: { 'refund-risk': '1.0.0' } });
    expect(() => release.refund()).toThrow(expect.objectContaining({ code: 'RELEASE_INCOMPLETE' }) as Error);
  });

  it('does not cache a failed compile', async () => {
    let calls = 0;
    const flaky: ComponentSource = {
      pack: (n, v) => (++calls === 1 ? Promise.reject(new Error('disk hiccup')) : source.pack(n, v)),
      bundle: (n, v) => source.bundle(n, v),
      type: (n, v) => source.type(n, v),
    };
    const compiler = new ReleaseCompiler(flaky);
    await expect(compiler.compile(manifest)).rejects.toThrow('disk hiccup');
    await expect(compiler.compile(manifest)).resolves.toMatchObject({ id: 'default@1.0.0' });
  });

  it('never reads outside the repository layout', async () => {
    expect(await source.pack('../../etc', 'passwd')).toBeUndefined();
    expect(await source.bundle('refund-risk', '../1.0.0')).toBeUndefined();
  });
});

describe('the built-in release default@1.1.0', () => {
  it('names the refund and redemption types and decides exactly as default@1.0.0 (types implied) did', async () => {
    const files = new FileComponentSource(root);
    const compiler = new ReleaseCompiler(files);
    const before = await compiler.compile((await files.release('default', '1.0.0'))!);
    const after = await compiler.compile((await files.release('default', '1.1.0'))!);
    expect(before.declaresTypes).toBe(false);
    expect(after.declaresTypes).toBe(true);
    expect(after.typeNames.sort()).toEqual(['redemption', 'refund']);
    const { generateCases } = await import('../../bench/cases.js');
    for (const c of generateCases(300, 11)) {
      expect(await after.refund().decide(c)).toEqual(await before.refund().decide(c));
    }
  });
});
