import { resolve } from 'node:path';
import {
  combine,
  compareSemver,
  decideRefund,
  deriveRefundFacts,
  FileComponentSource,
  refundCaseSchema,
  ReleaseCompiler,
  SchemaValidator,
  type ComponentSource,
  type Reason,
  type RefundCase,
} from './index.js';
import { DomainError } from '../errors/index.js';
import { refundCase } from '../../test/support/refund-cases.js';

const root = resolve(import.meta.dirname, '../..');
const reason = (effect: Reason['effect']): Reason => ({ code: 'X', message: 'x', source: 's@1', rule: 'r', effect });

describe('combine', () => {
  it('any DENY → DENY, else any REVIEW → REVIEW, else APPROVE', () => {
    expect(combine([])).toBe('APPROVE');
    expect(combine([reason('REVIEW')])).toBe('REVIEW');
    expect(combine([reason('REVIEW'), reason('DENY'), reason('REVIEW')])).toBe('DENY');
  });
});

describe('deriveRefundFacts', () => {
  it('computes refundable amount, fractional days since delivery and final-sale counts', () => {
    const c = refundCase({
      requestedAt: '2026-04-01T15:30:01Z',
      order: { deliveredAt: '2026-03-02T15:30:00Z', capturedAmount: 100, refundedAmount: 130, items: [{ sku: 'a', amount: 1, finalSale: true, category: 'x' }] },
    }) as RefundCase;
    const d = deriveRefundFacts(c);
    expect(d.refundableAmount).toBe(-30);
    expect(d.delivered).toBe(true);
    expect(d.daysSinceDelivery).toBeGreaterThan(30);
    expect(d.daysSinceDelivery).toBeLessThan(30.0001);
    expect([d.itemCount, d.finalSaleItemCount]).toEqual([1, 1]);
  });

  it('has no window when the order was never delivered', () => {
    const d = deriveRefundFacts(refundCase({ order: { deliveredAt: null } }) as RefundCase);
    expect(d).toMatchObject({ delivered: false, daysSinceDelivery: null });
  });
});

describe('SchemaValidator', () => {
  const v = new SchemaValidator<RefundCase>(refundCaseSchema, 'RefundCase');
  it('accepts a valid case and names every bad field with a JSON pointer', () => {
    const valid = refundCase();
    expect(v.validate(valid)).toBe(valid);
    const bad = refundCase({ requestedAmount: -1, channel: 'fax', signals: { ipRisk: 'low', extra: 1 } });
    delete bad.customer;
    try {
      v.validate(bad, '/case');
      throw new Error('expected a validation error');
    } catch (e) {
      expect(e).toBeInstanceOf(DomainError);
      const err = e as DomainError;
      expect(err.kind).toBe('invalid');
      expect(err.errors.map((x) => x.path).sort()).toEqual(['/case/channel', '/case/customer', '/case/requestedAmount', '/case/signals/extra']);
    }
  });
});

describe('compareSemver', () => {
  it('orders by precedence, prereleases before releases', () => {
    const sorted = ['1.10.0', '1.2.0', '1.2.0-rc.1', '1.2.0-alpha', '0.9.9', '1.2.0-rc.10', '1.2.0-rc.2'].sort(compareSemver);
    expect(sorted).toEqual(['0.9.9', '1.2.0-alpha', '1.2.0-rc.1', '1.2.0-rc.2', '1.2.0-rc.10', '1.2.0', '1.10.0']);
  });
});

describe('ReleaseCompiler and decideRefund on the shipped release', () => {
  const source = new FileComponentSource(root);
  const manifest = { name: 'default', version: '1.0.0', components: { 'refund-policy': '1.0.0', 'refund-risk': '1.0.0' } };

  it('compiles once per release and decides with reasons naming their source', async () => {
    const compiler = new ReleaseCompiler(source);
    const release = await compiler.compile(manifest);
    expect(await compiler.compile(manifest)).toBe(release);
    const d = await decideRefund(refundCase({ disputeOpen: true, signals: { ipRisk: 'high' } }) as RefundCase, release.refund());
    expect(d.outcome).toBe('REVIEW');
    expect(d.riskScore).toBe(10);
    expect(d.reasons).toEqual([expect.objectContaining({ code: 'CHARGEBACK_IN_PROGRESS', source: 'refund-policy@1.0.0', effect: 'REVIEW' })]);
    expect(d.approvedAmount).toBe(0);
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
