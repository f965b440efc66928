/**
 * The audit chain's database side (Migration20261205000000_audit_chain), on PGlite and on PostgreSQL: rows already
 * there when it runs are chained per tenant, and the trigger refuses a row that does not continue its tenant's chain.
 */
import { ChainVerifier, type ChainHead } from '../audit/index.js';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { AuditRepository } from './audit.repository.js';
import { openDatabase, type Database } from './database.js';

const kinds = ['pglite', ...(process.env.TEST_DATABASE_URL ? ['postgresql'] : [])];
const BEFORE_CHAIN = 'Migration20261204010000_ledger_read';

describe.each(kinds)('audit chain migration and trigger (%s)', (kind) => {
  let target: TestDatabase;
  let db: Database;
  const audit = new AuditRepository();
  const sql = (q: string, params: unknown[] = []) => db.em().execute(q, params);

  async function verify(tenant: string) {
    const head: ChainHead = await audit.head(db.em(), tenant);
    const v = new ChainVerifier();
    for (const row of await audit.chainPage(db.em(), tenant, 0, head.seq, 10_000)) v.push(row);
    return { broken: v.end(head), checked: v.checked, head };
  }

  beforeAll(async () => {
    target = kind === 'pglite' ? { url: 'pglite://memory', kind: 'pglite', drop: async () => {} } : await createTestDatabase('audit_chain_migration');
    db = await openDatabase(target.url, { migrate: false });
    await db.orm.migrator.up({ to: BEFORE_CHAIN });
    // Rows as the service wrote them before the chain: two tenants, interleaved, more than one migration page.
    for (let i = 0; i < 1_203; i++) {
      const tenant = i % 3 === 0 ? 'globex' : 'acme';
      const id = `01900000-0000-7000-8000-${String(i).padStart(12, '0')}`;
      await sql(`insert into audit_log values (?, ?, 'key-1', 'api_key.issued', 'api_key', ?, ?::jsonb, ?)`, [id, tenant, `k${i}`, JSON.stringify({ n: i, name: 'x' }), new Date(Date.UTC(2026, 0, 1, 0, 0, i))]);
    }
    await db.orm.migrator.up();
  });
  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  it('chains the rows already there, per tenant in id order, and records each head', async () => {
    const acme = await verify('acme');
    const globex = await verify('globex');
    expect(acme).toMatchObject({ broken: null, checked: 802, head: { seq: 802 } });
    expect(globex).toMatchObject({ broken: null, checked: 401, head: { seq: 401 } });
    const [first] = await audit.chainPage(db.em(), 'acme', 0, 1, 1);
    expect(first).toMatchObject({ id: '01900000-0000-7000-8000-000000000001', seq: 1, prevHash: null, actorRole: null });
    // Each head records its last row's time (Migration20261205200000_audit_chain_fixes): acme's last is row 1202.
    const [head] = await sql(`select last_at from audit_chain_heads where tenant = 'acme'`);
    expect(new Date(head!.last_at as string | Date).toISOString()).toBe(new Date(Date.UTC(2026, 0, 1, 0, 0, 1_202)).toISOString());
  });

  it('keeps the append-only trigger on after chaining', async () => {
    await expect(sql(`update audit_log set actor = 'x' where tenant = 'acme'`)).rejects.toThrow(/append-only/);
  });

  it('appends after the migrated rows, and refuses a row that does not continue the chain', async () => {
    await db.em().transactional((em) => audit.append(em, { tenant: 'acme', actor: { id: 'key-2', role: 'admin' }, action: 'x', subjectType: 'y', subjectId: 'z', details: {}, at: new Date() }));
    expect(await verify('acme')).toMatchObject({ broken: null, checked: 803 });
    const forked = `insert into audit_log (id, tenant, actor, action, subject_type, subject_id, details, at, seq, prev_hash, hash)
      values ('01900000-0000-7000-8000-ffffffffffff', 'acme', 'k', 'x', 'y', 'z', '{}', now(), ?, ?, repeat('b', 64))`;
    const [head] = await sql('select seq, hash from audit_chain_heads where tenant = ?', ['acme']);
    await expect(sql(forked, [Number(head!.seq), 'not-the-head'])).rejects.toThrow(/does not continue/);
    await expect(sql(forked, [Number(head!.seq) + 1, 'not-the-head'])).rejects.toThrow(/does not continue/);
    await expect(sql(`delete from audit_chain_heads where tenant = 'acme'`)).rejects.toThrow(/append-only/);
  });

  it('moves a head only through the chain trigger, and refuses a row stamped before its tenant\'s last', async () => {
    await expect(sql(`update audit_chain_heads set seq = 1 where tenant = 'globex'`)).rejects.toThrow(/moves only with an audit_log row/);
    await expect(sql(`update audit_chain_heads set hash = repeat('a', 64) where tenant = 'globex'`)).rejects.toThrow(/moves only/);
    // The append's locking upsert changes nothing: it passes.
    await sql(`update audit_chain_heads set seq = seq where tenant = 'globex'`);
    const [head] = await sql('select seq, hash from audit_chain_heads where tenant = ?', ['globex']);
    const early = `insert into audit_log (id, tenant, actor, action, subject_type, subject_id, details, at, seq, prev_hash, hash)
      values ('01900000-0000-7000-8000-fffffffffffe', 'globex', 'k', 'x', 'y', 'z', '{}', '2025-01-01T00:00:00Z', ?, ?, repeat('b', 64))`;
    await expect(sql(early, [Number(head!.seq) + 1, head!.hash])).rejects.toThrow(/does not continue/);
    expect(await verify('globex')).toMatchObject({ broken: null, checked: 401 });
  });
});
