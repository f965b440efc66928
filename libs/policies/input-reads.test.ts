/** inputReads: what the scan finds in Rego, where it gives up, and what it finds in the committed bundles. */
import { readFileSync } from 'node:fs';
import { inputReads } from './input-reads.js';
import { readBundle } from './bundle-reader.js';

const bundle = (name: string) => readBundle(readFileSync(new URL(`../../policies/bundles/${name}/1.0.0.tar.gz`, import.meta.url)));

describe('inputReads', () => {
  it('keeps dotted paths up to the first index, object.get literal paths, and imports', () => {
    const rego = `package p
import input.order as o
a if input.customer.tier == "gold"
b if input.items[i].sku == "x"        # input.ignored in a comment
c := object.get(input, ["signals", "ipRisk"], null)
d := object.get(input, "amount", 0)
e := object.get(input, ["features", def.name], null)
f if x.input == 1`;
    expect(inputReads([rego])).toEqual(['/amount', '/customer/tier', '/features', '/items', '/order', '/signals/ipRisk']);
  });

  it('drops a path under another one read whole, and escapes pointer characters', () => {
    expect(inputReads(['a := input.c\nb := input.c.d\nc := object.get(input, ["x/y", "m~n"], 1)'])).toEqual(['/c', '/x~1y/m~0n']);
  });

  it.each([
    ['input alone as an argument', 'a if is_object(input)'],
    ['iteration over input', 'a if { some k, v in input }'],
    ['with input as', 'a := b with input as {}'],
    ['a computed object.get path', 'a := object.get(input, path, null)'],
    ['object.get whose path starts with something else than a string', 'a := object.get(input, [x, "b"], null)'],
    ['an index straight after input', 'a := input[k]'],
    ['a string that mentions input', 'a := "input.customer"'],
    ['an escaped key', 'a := object.get(input, ["a\\u0062"], null)'],
    ['an unterminated string', 'a := "input'],
    ['no Rego at all', null],
  ])('answers undefined (all of the input) for %s', (_what, rego) => {
    expect(inputReads(rego === null ? [] : [rego])).toBeUndefined();
  });

  it('answers undefined when any one file reads the whole input', () => {
    expect(inputReads(['a := input.x', 'b if is_object(input)'])).toBeUndefined();
  });

  it('finds what the committed bundles read', () => {
    expect(inputReads(bundle('refund-risk').rego)).toEqual([
      '/customer/accountAgeDays',
      '/customer/priorChargebacks',
      '/customer/refundCount30d',
      '/requestedAmount',
      '/signals/deviceAccounts',
      '/signals/ipRisk',
    ]);
    expect(inputReads(bundle('giftcard-abuse').rego)).toEqual(['/amount', '/channel', '/features']);
    // is_object(input): the gate reads its whole input.
    expect(inputReads(bundle('redemption-gate').rego)).toBeUndefined();
  });
});
