import { parseDatabaseUrl } from './database.js';
import { uuidv7 } from './ids.js';
import { hashApiKey } from './api-keys.repository.js';

describe('parseDatabaseUrl', () => {
  it.each([
    ['postgres://u@h:5432/db', 'postgresql', 'postgres://u@h:5432/db'],
    ['postgresql://u@h/db', 'postgresql', 'postgresql://u@h/db'],
    ['pglite://memory', 'pglite', 'memory://'],
    ['pglite://./data/pglite', 'pglite', './data/pglite'],
  ])('%s', (url, kind, target) => {
    expect(parseDatabaseUrl(url)).toEqual({ kind, target });
  });

  it.each(['mysql://x', 'pglite://', 'nonsense'])('refuses %s with a clear message', (url) => {
    expect(() => parseDatabaseUrl(url)).toThrow(/DATABASE_URL/);
  });
});

describe('uuidv7', () => {
  it('is a version-7 RFC 9562 UUID ordered by time', () => {
    const a = uuidv7(1_700_000_000_000);
    const b = uuidv7(1_700_000_000_001);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a < b).toBe(true);
    expect(new Set(Array.from({ length: 1000 }, () => uuidv7())).size).toBe(1000);
  });
});

describe('hashApiKey', () => {
  it('stores a sha256 hex digest, never the key', () => {
    const h = hashApiKey('dk_secret');
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(h).not.toContain('secret');
  });
});
