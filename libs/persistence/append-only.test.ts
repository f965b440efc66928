/** The append-only tables refuse UPDATE, DELETE and TRUNCATE in the database itself, on PGlite and on PostgreSQL. */
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { openDatabase, type Database } from './database.js';
import { APPEND_ONLY_TABLES } from './migrations/Migration20261202100000_append_only.js';

const T = `'acme'`;
const NOW = `'2026-12-02T00:00:00Z'`;
const ROWS: Record<(typeof APPEND_ONLY_TABLES)[number], string> = {
  rule_packs: `insert into rule_packs values (${T}, 'p', '1.0.0', 'refund', repeat('a', 64), '{}', 'k', ${NOW})`,
  policy_bundles: `insert into policy_bundles values (${T}, 'b', '1.0.0', repeat('a', 64), 1, '[]', '\\x00', 'k', ${NOW})`,
  releases: `insert into releases values (${T}, 'r', '1.0.0', repeat('a', 64), null, '{}', 'k', ${NOW})`,
  decision_types: `insert into decision_types values (${T}, 't', '1.0.0', repeat('a', 64), '{}', 'k', ${NOW})`,
  decisions: `insert into decisions values ('01900000-0000-7000-8000-000000000001', ${T}, 'refund', 'APPROVE', null, 'default', '1.0.0', '{}', '{}', '{}', null, ${NOW}, ${NOW})`,
  ledger_entries: `insert into ledger_entries values (${T}, 'acc', 1, null, 'EARN', 100, 100, 'transaction', 'tx', 'p@1', ${NOW})`,
  // The tenant's chain head exists (beforeAll) and the row continues it, as the audit_log_chain trigger requires.
  audit_log: `insert into audit_log (id, tenant, actor, action, subject_type, subject_id, details, at, seq, prev_hash, hash)
    values ('01900000-0000-7000-8000-000000000002', ${T}, 'k', 'x', 'y', 'z', '{}', ${NOW}, 1, null, repeat('a', 64))`,
  release_activations: `insert into release_activations (tenant, slot, action, release_name, release_version, actor_key_id, actor_name, at) values (${T}, 'active', 'activate', 'r', '1.0.0', 'k', 'n', ${NOW})`,
  shadow_evaluations: `insert into shadow_evaluations select '01900000-0000-7000-8000-000000000003', ${T}, seq, '01900000-0000-7000-8000-000000000001', 'APPROVE', 'APPROVE', false, '[]', '[]', null, ${NOW} from release_activations limit 1`,
};

const kinds = ['pglite', ...(process.env.TEST_DATABASE_URL ? ['postgresql'] : [])];

describe.each(kinds)('append-only tables (%s)', (kind) => {
  let target: TestDatabase;
  let db: Database;
  const sql = (q: string) => db.em().execute(q);

  beforeAll(async () => {
    target = kind === 'pglite' ? { url: 'pglite://memory', kind: 'pglite', drop: async () => {} } : await createTestDatabase('append_only');
    db = await openDatabase(target.url);
    await sql(
      `insert into ledger_accounts values (${T}, 'acc', 'p@1', 'EUR', 1, 0, 0, null, '[]', '{}', 1)`,
    );
    await sql(`insert into audit_chain_heads values (${T}, 0, null)`);
    for (const t of APPEND_ONLY_TABLES) await sql(ROWS[t]);
  });
  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  it.each(APPEND_ONLY_TABLES)('%s refuses UPDATE, DELETE and TRUNCATE, and keeps its row', async (t) => {
    await expect(sql(`update ${t} set tenant = tenant`)).rejects.toThrow(`${t} is append-only: UPDATE refused`);
    await expect(sql(`delete from ${t}`)).rejects.toThrow(`${t} is append-only: DELETE refused`);
    // CASCADE, so that a table other tables reference is truncated at all; the trigger stops it either way.
    await expect(sql(`truncate ${t} cascade`)).rejects.toThrow(/is append-only: TRUNCATE refused/);
    expect(await sql(`select count(*)::int as n from ${t}`)).toEqual([{ n: 1 }]);
  });

  it('leaves the tables the service updates alone', async () => {
    await sql(`insert into idempotency_records values (${T}, 'k1', 'h', 'POST', '/x', null, null, null, null, ${NOW})`);
    await sql(`update idempotency_records set status = 201 where key = 'k1'`);
    await sql(`delete from idempotency_records where key = 'k1'`);
    await sql(`update ledger_accounts set balance = 5, version = 2 where account_id = 'acc'`);
    await sql(`insert into api_keys values ('01900000-0000-7000-8000-000000000004', ${T}, 'n', '{service}', 'hash', ${NOW}, null)`);
    await sql(`update api_keys set revoked_at = ${NOW}`);
  });
});
