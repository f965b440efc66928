import fc from 'fast-check';
import { newAjv } from '../../rules/schema.js';
import { erasePersonal, fieldPointer, personalFields, pseudonymize, pseudonymizer, tenantKey } from './personal-data.js';

const master = Buffer.from('a-master-secret-of-at-least-32-characters!', 'utf8');
const acme = pseudonymizer(tenantKey(master, 'acme'));
const globex = pseudonymizer(tenantKey(master, 'globex'));

const schema = {
  type: 'object',
  properties: {
    customerId: { type: 'string', 'x-pii': 'hash' },
    cardCode: { type: 'string', 'x-pii': 'hash-last4' },
    note: { type: 'string', 'x-pii': 'drop' },
    amount: { type: 'integer' },
    contacts: { type: 'array', items: { type: 'object', properties: { email: { type: 'string', 'x-pii': 'hash' }, kind: { type: 'string' } } } },
    nested: { type: 'object', properties: { phone: { type: ['string', 'null'], 'x-pii': 'hash' } } },
  },
};

describe('personal fields', () => {
  it('are found at any depth, through properties and array items', () => {
    expect(personalFields(schema).map((f) => [fieldPointer(f), f.treatment])).toEqual([
      ['/customerId', 'hash'],
      ['/cardCode', 'hash-last4'],
      ['/note', 'drop'],
      ['/contacts/*/email', 'hash'],
      ['/nested/phone', 'hash'],
    ]);
  });

  it('x-pii is a keyword schemas may use, and only with a known treatment', () => {
    const ajv = newAjv(false, false, true);
    expect(() => ajv.compile(schema)).not.toThrow();
    expect(() => ajv.compile({ type: 'object', properties: { a: { type: 'string', 'x-pii': 'encrypt' } } })).toThrow();
  });
});

describe('pseudonymize', () => {
  const fields = personalFields(schema);
  const input = {
    customerId: 'cus_42',
    cardCode: 'GIFT-1234-5678-9012',
    note: 'call me on 555-0100',
    amount: 500,
    contacts: [
      { email: 'a@example.com', kind: 'work' },
      { email: 'b@example.com', kind: 'home' },
    ],
    nested: { phone: null },
  };

  it('replaces marked fields with the tenant pseudonym, keeps the last 4 where asked, drops the rest, copies the input', () => {
    const before = structuredClone(input);
    const out = pseudonymize(input, fields, acme);
    expect(input).toEqual(before);
    expect(out.customerId).toBe(acme('cus_42'));
    expect(out.customerId).toMatch(/^pii_[A-Za-z0-9_-]{43}$/);
    expect(out.cardCode).toBe(`${acme('GIFT-1234-5678-9012')}_9012`);
    expect(out).not.toHaveProperty('note');
    expect(out.amount).toBe(500);
    expect(out.contacts).toEqual([
      { email: acme('a@example.com'), kind: 'work' },
      { email: acme('b@example.com'), kind: 'home' },
    ]);
    expect(out.nested).toEqual({ phone: null });
    expect(JSON.stringify(out)).not.toMatch(/cus_42|1234-5678|555-0100|@example\.com/);
  });

  it('is deterministic per tenant and differs between tenants', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (raw) => {
        expect(acme(raw)).toBe(acme(raw));
        expect(acme(raw)).not.toBe(globex(raw));
      }),
    );
  });

  it('leaves a case without the marked fields as it is', () => {
    const out = pseudonymize({ amount: 1 }, fields, acme);
    expect(out).toEqual({ amount: 1 });
  });

  it('erasure sets every marked field to null', () => {
    const erased = erasePersonal(pseudonymize(input, fields, acme), fields);
    expect(erased.customerId).toBeNull();
    expect(erased.cardCode).toBeNull();
    expect((erased.contacts as { email: unknown }[]).map((c) => c.email)).toEqual([null, null]);
    expect(erased.amount).toBe(500);
  });
});
