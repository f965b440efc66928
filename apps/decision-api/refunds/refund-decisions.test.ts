/**
 * A tenant's decision type may declare a refund lifecycle with a loose input schema (decision-type.ts checks that the
 * lifecycle's fields are declared, not their types): the lifecycle checks what it stores itself, before any write.
 */
import type { BoundDecisionType, CompiledRelease } from '../../../libs/decisions/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import type { Database, FeatureHistoryRepository, IdFactory, Principal, RefundDecisionsRepository, RefundsRepository } from '../../../libs/persistence/index.js';
import { refundCase } from '../../../test/support/refund-cases.js';
import { strict } from '../test-support/strict.js';
import { RefundDecisions } from './refund-decisions.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Tracing } from '../tracing/tracing.js';

const principal: Principal = { keyId: 'key-1', tenant: 'acme', name: 'checkout', roles: ['service'] };

function decide(input: Record<string, unknown>) {
  const rd = new RefundDecisions(strict<Database>('db'), strict<IdFactory>('ids'), strict<RefundDecisionsRepository>('repo'), strict<RefundsRepository>('refunds'), strict<FeatureHistoryRepository>('history'), strict<Metrics>('metrics'), strict<Tracing>('tracing', { tracer: undefined }));
  const fail = () => {
    throw new Error('not reached');
  };
  return rd.decide(principal, strict<CompiledRelease>('release'), strict<BoundDecisionType>('type'), input, fail, fail, fail);
}

function refusal(input: Record<string, unknown>): DomainError {
  try {
    decide(input);
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error('no refusal: the command would reach the database with this case');
}

describe('the refund lifecycle checks the fields it stores', () => {
  it('accepts the RefundCase the built-in type accepts', () => {
    expect(decide(refundCase()).kind).toBe('statement');
  });

  it.each([
    ['a currency the char(3) column cannot hold', { currency: 'EURO' }, ['/case/currency']],
    ['an amount that is not an integer (bigint)', { requestedAmount: 12.5 }, ['/case/requestedAmount']],
    ['an amount as a string', { requestedAmount: '4999' }, ['/case/requestedAmount']],
    ['no order at all (was a TypeError)', { order: undefined }, ['/case/order']],
    ['a refunded amount of the wrong type', { order: { refundedAmount: 'none' } }, ['/case/order/refundedAmount']],
    ['an id longer than an id may be', { refundId: 'x'.repeat(256), orderId: 'ord-1' }, ['/case/refundId']],
    ['a reward that is not a reference', { reward: 'acct-1' }, ['/case/reward']],
  ])('refuses %s with 400 VALIDATION_FAILED naming the field', (_what, patch, paths) => {
    const e = refusal(refundCase(patch));
    expect([e.code, e.kind]).toEqual(['VALIDATION_FAILED', 'invalid']);
    expect(e.errors.map((d) => d.path)).toEqual(paths);
  });
});
