import fc from 'fast-check';
import { isAcceptableRequestId, MAX_REQUEST_ID_LENGTH, requestIdFrom } from './request-id.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('requestIdFrom', () => {
  it("keeps a caller's id made of safe characters, up to the limit", () => {
    for (const id of ['abc', '0b8e4c1e-1d2b-4f7e-9a0c-1234567890ab', '01HZY3J5N6Q7R8S9T0V1W2X3Y4', 'Root=1-67891233-abcdef;Parent=53995c3f', 'a'.repeat(MAX_REQUEST_ID_LENGTH)]) {
      expect(requestIdFrom(id)).toBe(id);
    }
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['too long', 'a'.repeat(MAX_REQUEST_ID_LENGTH + 1)],
    ['with a space', 'a b'],
    ['with a quote', 'a"b'],
    ['with a control character', 'a\nb'],
    ['with non-ASCII', 'idé'],
    ['repeated', ['a', 'b']],
  ])('generates a UUID when the header is %s', (_, header) => {
    expect(requestIdFrom(header)).toMatch(UUID);
  });

  it('generates a new id each time', () => {
    expect(requestIdFrom(undefined)).not.toBe(requestIdFrom(undefined));
  });

  it('only ever answers an id that is safe to echo and log', () => {
    fc.assert(
      fc.property(fc.option(fc.string({ maxLength: 200, unit: 'binary' }), { nil: undefined }), (header) => {
        const id = requestIdFrom(header);
        expect(isAcceptableRequestId(id)).toBe(true);
        expect(id === header || UUID.test(id)).toBe(true);
      }),
    );
  });
});
