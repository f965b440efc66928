import { isUtf8, JSON_MEDIA_TYPE, unsupportedMediaType } from './media-type.js';

describe('JSON media types', () => {
  it('application/json and application/*+json, with or without parameters; nothing else', () => {
    for (const t of ['application/json', 'application/merge-patch+json', 'application/vnd.api+json; charset=utf-8', 'application/problem+json;charset=utf-8']) expect(JSON_MEDIA_TYPE.test(t)).toBe(true);
    for (const t of ['application/jsonx', 'text/json', 'application/json+xml', 'application/+json', 'application/x-www-form-urlencoded']) expect(JSON_MEDIA_TYPE.test(t)).toBe(false);
  });

  it('UTF-8 only: no charset, or utf-8 in any case, quoted or not', () => {
    for (const t of ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/json; charset="utf-8"', 'application/json; boundary=x; charset=utf8', undefined]) expect(isUtf8(t)).toBe(true);
    for (const t of ['application/json; charset=latin1', 'application/json; charset=utf-16', 'application/json; charset=', 'application/json; charset="iso-8859-1"']) expect(isUtf8(t)).toBe(false);
  });

  it('the 415 names the type as sent (cut when long), or says it is missing', () => {
    expect(unsupportedMediaType('text/plain')).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', kind: 'unsupported_media_type', errors: [{ path: 'header:Content-Type', message: expect.stringContaining('"text/plain"') }] });
    expect(unsupportedMediaType(undefined).errors).toEqual([{ path: 'header:Content-Type', message: 'is missing' }]);
    expect(unsupportedMediaType(`text/${'x'.repeat(5000)}`).message.length).toBeLessThan(400);
  });
});
