import fc from 'fast-check';
import { TransactionAccounts } from './transaction-accounts.js';

describe('TransactionAccounts', () => {
  it("answers a transaction's account per tenant, and nothing for one it was never told", () => {
    const a = new TransactionAccounts();
    a.remember('acme', 'tx-1', 'acc-1');
    expect(a.of('acme', 'tx-1')).toBe('acc-1');
    expect(a.of('other', 'tx-1')).toBeUndefined();
    expect(a.of('acme', 'tx-2')).toBeUndefined();
  });

  it('keeps the first account it was told (a transaction never moves)', () => {
    const a = new TransactionAccounts();
    a.remember('acme', 'tx-1', 'acc-1');
    a.remember('acme', 'tx-1', 'acc-2');
    expect(a.of('acme', 'tx-1')).toBe('acc-1');
  });

  it('holds at most its capacity, dropping the oldest first', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 200 }), (capacity, ids) => {
        const a = new TransactionAccounts(capacity);
        for (const id of ids) a.remember('t', `tx-${id}`, `acc-${id}`);
        expect(a.size).toBeLessThanOrEqual(capacity);
        // Every transaction it still answers for has the account it was told.
        for (const id of ids) {
          const got = a.of('t', `tx-${id}`);
          if (got !== undefined) expect(got).toBe(`acc-${id}`);
        }
        // The newest one told is always kept.
        const last = ids.at(-1);
        if (last !== undefined) expect(a.of('t', `tx-${last}`)).toBe(`acc-${last}`);
      }),
    );
  });
});
