import fc from 'fast-check';
import { auditCanonicalContent, auditRowHash, chainNext, ChainVerifier, GENESIS, type ChainedAuditRow, type ChainHead } from './chain.js';

const base = (i: number) => ({
  id: `0193a000-0000-7000-8000-${String(i).padStart(12, '0')}`,
  tenant: 'acme',
  at: new Date(Date.UTC(2026, 11, 5, 10, 0, i)).toISOString(),
  actor: 'key-1',
  actorRole: 'admin' as string | null,
  action: 'webhook.registered',
  subjectType: 'webhook',
  subjectId: `wh-${i}`,
  details: { n: i, nested: { b: [1, 'two'], a: null } } as Record<string, unknown>,
});

function chain(n: number): ChainedAuditRow[] {
  const rows: ChainedAuditRow[] = [];
  let head: ChainHead = GENESIS;
  for (let i = 0; i < n; i++) {
    const row = chainNext(head, base(i));
    rows.push(row);
    head = { seq: row.seq, hash: row.hash };
  }
  return rows;
}

function verify(rows: ChainedAuditRow[], recorded?: ChainHead) {
  const v = new ChainVerifier();
  for (const r of rows) v.push(r);
  return { broken: v.end(recorded), checked: v.checked };
}

const headOf = (rows: ChainedAuditRow[]): ChainHead => ({ seq: rows.at(-1)!.seq, hash: rows.at(-1)!.hash });

describe('audit canonical content', () => {
  it('is canonical JSON of the documented members, in sorted order, with the version', () => {
    const row = chainNext(GENESIS, { ...base(1), details: { z: 1, a: 'x' } });
    expect(auditCanonicalContent(row)).toBe(
      '{"action":"webhook.registered","actor":"key-1","actorRole":"admin","at":"2026-12-05T10:00:01.000Z","details":{"a":"x","z":1},' +
        '"id":"0193a000-0000-7000-8000-000000000001","prevHash":null,"seq":1,"subjectId":"wh-1","subjectType":"webhook","tenant":"acme","v":1}',
    );
    // A fixed vector (computed independently: python3 hashlib.sha256 of the string above): stored hashes depend on it.
    expect(row.hash).toBe('31b7aaddd7ceb02e57eea1d8df3e139e2dc7f8365b6c7f33c4ce159977479136');
    expect(auditRowHash(row)).toBe(row.hash);
  });

  it('does not depend on the key order of details', () => {
    const a = chainNext(GENESIS, { ...base(1), details: { a: 1, b: { c: 2, d: 3 } } });
    const b = chainNext(GENESIS, { ...base(1), details: { b: { d: 3, c: 2 }, a: 1 } });
    expect(a.hash).toBe(b.hash);
  });

  it('hashes details as the database stores them (undefined dropped, dates as ISO strings)', () => {
    const at = new Date('2026-12-05T00:00:00.000Z');
    const row = chainNext(GENESIS, { ...base(1), details: { when: at, gone: undefined } });
    expect(row.details).toEqual({ when: at.toISOString() });
    expect(auditRowHash(row)).toBe(row.hash);
  });

  it('links each row to the previous one from seq 1', () => {
    const rows = chain(3);
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(rows[0]!.prevHash).toBeNull();
    expect(rows[1]!.prevHash).toBe(rows[0]!.hash);
    expect(rows[2]!.prevHash).toBe(rows[1]!.hash);
  });
});

describe('ChainVerifier', () => {
  it('accepts an intact chain and counts it', () => {
    const rows = chain(5);
    expect(verify(rows, headOf(rows))).toEqual({ broken: null, checked: 5 });
    expect(verify([], GENESIS)).toEqual({ broken: null, checked: 0 });
  });

  it('names an edited row (content hash mismatch)', () => {
    const rows = chain(4);
    rows[2] = { ...rows[2]!, subjectId: 'other' };
    expect(verify(rows, headOf(rows)).broken).toMatchObject({ id: rows[2].id, seq: 3, reason: 'content_hash_mismatch' });
  });

  it('names the row after one replaced with a recomputed hash (previous hash mismatch)', () => {
    const rows = chain(4);
    const forged = { ...rows[1]!, subjectId: 'other' };
    rows[1] = { ...forged, hash: auditRowHash(forged) };
    expect(verify(rows).broken).toMatchObject({ id: rows[2]!.id, seq: 3, reason: 'previous_hash_mismatch' });
  });

  it('names the row after a deleted one (missing seq), and rows deleted from the end against the recorded head', () => {
    const rows = chain(4);
    const head = headOf(rows);
    expect(verify([rows[0]!, rows[2]!, rows[3]!], head).broken).toMatchObject({ id: rows[2]!.id, seq: 3, reason: 'missing_seq', expected: 2 });
    expect(verify(rows.slice(0, 3), head).broken).toEqual({ id: null, seq: 4, at: null, reason: 'missing_seq', expected: 4, found: 3 });
    expect(verify(rows.slice(0, 3)).broken).toBeNull();
  });

  it('names a replaced last row against the recorded head', () => {
    const rows = chain(3);
    const head = headOf(rows);
    const forged = { ...rows[2]!, subjectId: 'other' };
    rows[2] = { ...forged, hash: auditRowHash(forged) };
    expect(verify(rows, head).broken).toMatchObject({ id: rows[2].id, seq: 3, reason: 'head_mismatch' });
  });

  it('detects any single-field edit, any deletion and any swap of two rows (property)', () => {
    const fields = ['id', 'tenant', 'seq', 'at', 'actor', 'actorRole', 'action', 'subjectType', 'subjectId', 'details', 'prevHash', 'hash'] as const;
    const edit = fc.record({ index: fc.nat(), field: fc.constantFrom(...fields), value: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.dictionary(fc.string(), fc.jsonValue())) });
    const tamper = fc.oneof(
      edit.map((e) => ({ kind: 'edit' as const, ...e })),
      fc.nat().map((index) => ({ kind: 'delete' as const, index })),
      fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => ({ kind: 'swap' as const, a, b })),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), tamper, (n, t) => {
        const rows = chain(n);
        const head = headOf(rows);
        const copy = rows.map((r) => ({ ...r }));
        if (t.kind === 'edit') {
          const i = t.index % n;
          const before = JSON.stringify(copy[i]![t.field]);
          (copy[i] as unknown as Record<string, unknown>)[t.field] = t.value;
          fc.pre(JSON.stringify(copy[i]![t.field]) !== before);
        } else if (t.kind === 'delete') {
          copy.splice(t.index % n, 1);
        } else {
          const a = t.a % n;
          const b = t.b % n;
          fc.pre(a !== b);
          [copy[a], copy[b]] = [copy[b]!, copy[a]!];
        }
        return verify(copy, head).broken !== null;
      }),
      { numRuns: 1_000 },
    );
  });
});
