/**
 * RefundDecisionsRepository's plan modes: the read leaves its transaction making generic plans for the write (which
 * reads no table, so its plan cannot go stale) and the write switches back, so nothing after it plans generically.
 */
import { sql, type RawBuilder } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { SYSTEM } from '../refunds/index.js';
import { openDatabase, type Database } from './database.js';
import { FeatureHistoryRepository } from './feature-history.repository.js';
import { beforeRefundDecisionSql, isRefundTaken, RefundDecisionsRepository, type RefundDecisionWrite } from './refund-decisions.repository.js';
import { RefundsRepository } from './refunds.repository.js';

const kinds = ['pglite', ...(process.env.TEST_DATABASE_URL ? ['postgresql'] : [])];

describe.each(kinds)('RefundDecisionsRepository plan modes (%s)', (kind) => {
  let target: TestDatabase;
  let db: Database;
  const repo = new RefundDecisionsRepository();
  const at = new Date('2026-03-11T12:00:00Z');

  beforeAll(async () => {
    target = kind === 'pglite' ? { url: 'pglite://memory', kind: 'pglite', drop: async () => {} } : await createTestDatabase('refund_decisions_plans');
    db = await openDatabase(target.url);
  });
  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  const mode = async (em: Parameters<Parameters<ReturnType<Database['em']>['transactional']>[0]>[0]) =>
    (await em.execute<{ m: string }[]>("select current_setting('plan_cache_mode') as m"))[0]!.m;

  /**
   * The scans of the plan the service's connections make of `statement` (GENERIC_INDEX_PLAN): a generic plan, with
   * sequential and bitmap scans off. An `explain` of the text alone would show a plan custom to its values.
   */
  async function genericScans(tx: Parameters<Parameters<ReturnType<Database['em']>['transactional']>[0]>[0], statement: RawBuilder<unknown>, name: string) {
    const kysely = tx.getKysely();
    const compiled = statement.compile(kysely);
    for (const set of ['plan_cache_mode = force_generic_plan', 'enable_seqscan = off', 'enable_bitmapscan = off']) await sql.raw(`set local ${set}`).execute(kysely);
    await sql.raw(`prepare ${name} as ${compiled.sql}`).execute(kysely);
    // EXECUTE's arguments as literals: a utility statement takes no bound parameters.
    const literal = (v: unknown) => (v === null || v === undefined ? 'null' : `'${(v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : JSON.stringify(v)).replaceAll("'", "''")}'`);
    const { rows } = await sql<{ 'QUERY PLAN': { Plan: Record<string, unknown> }[] }>`explain (format json) execute ${sql.raw(`${name}(${compiled.parameters.map(literal).join(', ')})`)}`.execute(kysely);
    await sql.raw(`deallocate ${name}`).execute(kysely);
    // The caller's transaction goes on as it would after the read (ANY_SCAN_AGAIN, then custom plans).
    for (const set of ['plan_cache_mode = force_custom_plan', 'enable_seqscan = on', 'enable_bitmapscan = on']) await sql.raw(`set local ${set}`).execute(kysely);
    const scans: { relation: string; index: string; cond: string; filter: string }[] = [];
    const walk = (node: Record<string, unknown>) => {
      if (typeof node['Relation Name'] === 'string') scans.push({ relation: node['Relation Name'], index: String(node['Index Name'] ?? node['Node Type']), cond: String((node['Index Cond'] as string | undefined) ?? ''), filter: String((node.Filter as string | undefined) ?? '') });
      for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
    };
    walk(rows[0]!['QUERY PLAN'][0]!.Plan);
    return scans;
  }

  const idOf = (n: number) => `01900000-0000-7000-8000-0000000000${String(n).padStart(2, '0')}`;
  function decision(n: number): RefundDecisionWrite {
    const id = idOf(n);
    const document = { id, outcome: 'APPROVE', trace: [] };
    return {
      decision: {
        id,
        tenant: 'acme',
        domain: 'refund',
        outcome: 'APPROVE',
        riskScore: 0,
        releaseName: 'default',
        releaseVersion: '1.3.0',
        components: {},
        caseData: {},
        features: null,
        documentJson: JSON.stringify(document),
        answerJson: JSON.stringify({ id, outcome: 'APPROVE' }),
        reasonCodes: [],
        idempotencyKey: `k${n}`,
        evaluatedAt: at,
        createdAt: at,
        actor: { id: 'key_1', role: 'service' },
      },
      refund: {
        refundId: `r${n}`,
        type: 'refund',
        orderId: `o${n}`,
        customerId: 'c1',
        state: 'APPROVED',
        requestedAmount: 100,
        approvedAmount: 100,
        capturedAmount: 100,
        currency: 'EUR',
        reward: null,
        requestedBy: 'key_1',
      },
      transition: { id: `01900000-0000-7000-8000-0000000001${String(n).padStart(2, '0')}`, actor: SYSTEM, reason: 'decision approved' },
      events: [{ id: `01900000-0000-7000-8000-0000000002${String(n).padStart(2, '0')}`, type: 'decision.created', data: { decisionId: id } }],
    };
  }

  it('plans the write generically and every statement after it custom again', async () => {
    await db.em().transactional(async (em) => {
      expect(await mode(em)).not.toBe('force_generic_plan');
      await repo.before(em, 'acme', idOf(1), 'r1', 'o1');
      expect(await mode(em)).toBe('force_generic_plan');
      expect(await repo.write(em, decision(1))).toBe('created');
      expect(await mode(em)).toBe('force_custom_plan');
    });
  });

  it('the last write commits its transaction, and fails (committing nothing) when its refundId was taken meanwhile', async () => {
    await db.em().transactional(async (em) => {
      await repo.before(em, 'acme', idOf(40), 'r40', 'o40');
      expect(await repo.write(em, decision(40), { last: true })).toBe('created');
    });
    // Another decision of the same refundId (under another order, so no lock was shared): its write fails.
    const taken = decision(41);
    const other = { ...taken, refund: { ...taken.refund, refundId: 'r40' } };
    const failure = await db
      .em()
      .transactional(async (em) => {
        await repo.before(em, 'acme', idOf(41), 'r41', 'o41');
        await repo.write(em, other, { last: true });
      })
      .then(() => undefined, (e: unknown) => e);
    expect(isRefundTaken(failure)).toBe(true);
    const stored = await db.em().execute<{ id: string }[]>('select id from decisions where id in (?, ?) order by id', [idOf(40), idOf(41)]);
    expect(stored.map((r) => r.id)).toEqual([idOf(40)]);
    expect(isRefundTaken(new Error('other'))).toBe(false);
  });

  if (kind === 'postgresql') {
    it('a refundId a concurrent decision (another order) is writing fails the last write once that one commits; its claim and decision stay unwritten', async () => {
      const history = new FeatureHistoryRepository();
      let letCommit!: () => void;
      const gate = new Promise<void>((r) => (letCommit = r));
      let wrote!: () => void;
      const aWrote = new Promise<void>((r) => (wrote = r));
      const a = db.em().transactional(async (em) => {
        await repo.before(em, 'acme', idOf(60), 'r60', 'o60');
        expect(await repo.write(em, decision(60))).toBe('created');
        wrote();
        await gate;
      });
      await aWrote;
      const taken = decision(61);
      const b = db
        .em()
        .transactional(async (em) => {
          const claim = { key: 'k61', requestHash: 'h', method: 'POST', path: '/v1/decisions/refund', status: 201, contentType: 'application/json', tenant: 'acme', decisionId: idOf(61), createdAt: at };
          await history.claim(em, claim, { orderId: 'o61', entities: [] }, { held: true });
          expect(await repo.before(em, 'acme', idOf(61), 'r60', 'o61')).toMatchObject({ existingState: null }); // not committed yet
          await repo.write(em, { ...taken, refund: { ...taken.refund, refundId: 'r60' } }, { last: true });
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      // B's insert of the refund waits for A's: let A commit once B is waiting on a lock.
      const waiting = () => db.em().execute<{ n: number }[]>("select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'");
      for (let i = 0; i < 100 && (await waiting())[0]!.n === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect((await waiting())[0]!.n).toBe(1);
      letCommit();
      await a;
      expect(isRefundTaken(await b)).toBe(true);
      expect(await db.em().execute("select key from idempotency_records where tenant = 'acme' and key = 'k61'")).toEqual([]);
      expect(await db.em().execute('select id from decisions where id = ?', [idOf(61)])).toEqual([]);
    });

    it('PostgreSQL keeps a generic plan of the last write (the one the service runs), made once per connection', async () => {
      const one = await openDatabase(target.url, { poolSize: 1, timeouts: { acquireMs: 2_000, statementMs: 5_000, idleInTransactionMs: 5_000 } });
      try {
        for (const n of [70, 71, 72, 73]) {
          await one.em().transactional(async (em) => {
            await repo.before(em, 'acme', idOf(n), `r${n}`, `o${n}`);
            expect(await repo.write(em, decision(n), { last: true })).toBe('created');
          });
        }
        const plans = await one.em().execute<{ generic: number; custom: number }[]>(
          "select generic_plans::int as generic, custom_plans::int as custom from pg_prepared_statements where statement like '/* then commit */%insert into decisions%'",
        );
        expect(plans).toHaveLength(1);
        expect(plans[0]!.generic).toBeGreaterThanOrEqual(2);
        expect(plans[0]!.custom).toBe(0);
      } finally {
        await one.close();
      }
    });
  }

  // PostgreSQL only: statements are named by the pg client's wrapper (prepared-statements.ts); PGlite names none.
  if (kind === 'postgresql') {
    it('PostgreSQL keeps generic plans of the write, and of the read with features; the read without them is planned every time', async () => {
      // One connection (one transaction): statements are named from their second execution (prepared-statements.ts).
      await db.em().transactional(async (em) => {
        const feature = { name: 'n', entity: 'customer', key: 'c1', source: 'decision' as const, kinds: ['refund'], from: new Date(at.getTime() - 86_400_000), to: at, aggregate: 'count' as const };
        for (const n of [10, 11, 12, 13, 14, 15]) {
          await repo.before(em, 'acme', idOf(n), `r${n}`, `o${n}`, n % 2 === 0 ? [feature] : []);
          expect(await repo.write(em, decision(n))).toBe('created');
        }
        const plans = await em.execute<{ stmt: string; generic: number; custom: number }[]>(
          `select case when statement like '%insert into decisions%' then 'write' when statement like '%feature_events%' then 'read with features'
                       when statement like '%existing_state%' then 'read' else 'other' end as stmt,
                  generic_plans::int as generic, custom_plans::int as custom
             from pg_prepared_statements where (statement like '%insert into decisions%' or statement like '%existing_state%')
              and statement not like '/* then commit */%' order by 1`,
        );
        // Each text is named from its second run in the process (an earlier test may have run one already).
        expect(plans.map((p) => p.stmt)).toEqual(['read', 'read with features', 'write']);
        const [read, withFeatures, write] = plans;
        expect(read).toMatchObject({ generic: 0 });
        expect(read!.custom).toBeGreaterThanOrEqual(2);
        expect(withFeatures).toMatchObject({ generic: 2, custom: 0 });
        expect(write).toMatchObject({ custom: 0 });
        expect(write!.generic).toBeGreaterThanOrEqual(5);
      });
    });
  }

  describe("the refund's states on its decision's history rows", () => {
    const refunds = new RefundsRepository();
    /** A REVIEW decision's write for refund r<n>, with history rows for a customer and a device. */
    function reviewed(n: number): RefundDecisionWrite {
      const w = decision(n);
      const record = { at, keys: { customer: `c${n}`, device: `d${n}` }, amount: 100, attributes: { reasonCode: 'GOODWILL' } };
      w.history = { tenant: 'acme', decisionId: w.decision.id, type: 'refund', outcome: 'REVIEW', reasons: [], record, createdAt: at, refund: { state: 'IN_REVIEW', approvedAmount: 0 } };
      w.refund = { ...w.refund, state: 'IN_REVIEW', approvedAmount: 0 };
      return w;
    }
    const view = async (n: number) => {
      const rows = await db.em().execute<{ entity: string; refund_states: string[] | string; refund_amount: string | number | null }[]>(
        `select entity, refund_states, refund_amount from feature_events where decision_id = ? order by entity`,
        [idOf(n)],
      );
      // PGlite hands text[] back as its literal.
      return rows.map((r) => ({ entity: r.entity, states: typeof r.refund_states === 'string' ? r.refund_states.replace(/[{}]/g, '').split(',') : r.refund_states, amount: Number(r.refund_amount) }));
    };
    const both = (states: string[], amount: number) => [
      { entity: 'customer', states, amount },
      { entity: 'device', states, amount },
    ];
    const move = (n: number, to: 'APPROVED' | 'PROCESSING' | 'FAILED', approvedAmount?: number) =>
      db.em().transactional((em) => refunds.transition(em, { tenant: 'acme', refundId: `r${n}`, to, actor: SYSTEM, at, reason: null, ...(approvedAmount !== undefined && { approvedAmount }) }));

    it('the entry state from the write (once), every later one from the trigger, with the approved amount', async () => {
      await db.em().transactional(async (em) => {
        await repo.before(em, 'acme', idOf(20), 'r20', 'o20');
        expect(await repo.write(em, reviewed(20))).toBe('created');
      });
      expect(await view(20)).toEqual(both(['IN_REVIEW'], 0));
      // A reviewer approves 80 of it: the amount moves with the state.
      await move(20, 'APPROVED', 80);
      expect(await view(20)).toEqual(both(['IN_REVIEW', 'APPROVED'], 80));
      // The payout starts, fails and starts again: each entry counts.
      for (const to of ['PROCESSING', 'FAILED', 'PROCESSING'] as const) await move(20, to);
      expect(await view(20)).toEqual(both(['IN_REVIEW', 'APPROVED', 'PROCESSING', 'FAILED', 'PROCESSING'], 80));
    });

    it("a decision's write skips only its own entry: another refund moved in the same transaction still gets its state", async () => {
      await db.em().transactional(async (em) => {
        await repo.before(em, 'acme', idOf(21), 'r21', 'o21');
        expect(await repo.write(em, reviewed(21))).toBe('created');
      });
      await db.em().transactional(async (em) => {
        await repo.before(em, 'acme', idOf(22), 'r22', 'o22');
        expect(await repo.write(em, reviewed(22))).toBe('created');
        await refunds.transition(em, { tenant: 'acme', refundId: 'r21', to: 'APPROVED', actor: SYSTEM, at, reason: null, approvedAmount: 70 });
      });
      expect(await view(21)).toEqual(both(['IN_REVIEW', 'APPROVED'], 70));
      expect(await view(22)).toEqual(both(['IN_REVIEW'], 0));
    });

    it('a write without its read (nothing skipped) still records the entry state once', async () => {
      await db.em().transactional(async (em) => {
        expect(await repo.write(em, reviewed(23))).toBe('created');
      });
      expect(await view(23)).toEqual(both(['IN_REVIEW'], 0));
    });
  });

  if (kind === 'postgresql') {
    it("reads a tenant the statistics have not seen by its key, not by a scan of all of the tenant's rows", async () => {
      // One big tenant, analyzed; then a new one whose rows no ANALYZE has counted (estimated at none).
      const em = db.em();
      const fill = (tenant: string, n: number) =>
        em.execute(
          `insert into refunds (tenant, refund_id, type, order_id, customer_id, state, requested_amount, approved_amount, captured_amount, currency, requested_by, decision_id, created_at, updated_at)
           select ?, 'pr' || i, 'refund', 'po' || i, 'pc' || (i % 50), 'SUCCEEDED', 100, 100, 100, 'EUR', 'test', gen_random_uuid(), now(), now() from generate_series(1, ?::int) i`,
          [tenant, n],
        );
      const events = (tenant: string, n: number) =>
        em.execute(
          `insert into feature_events (tenant, entity, key, source, kind, at, outcome, reasons, amount, attributes, keys, decision_id, created_at)
           select ?, 'customer', 'pc' || (i % 50), 'decision', 'refund', now() - i * interval '1 minute', 'APPROVE', '{}', 100, '{}', '{}', gen_random_uuid(), now()
             from generate_series(1, ?::int) i`,
          [tenant, n],
        );
      await fill('plan-big', 20_000);
      await events('plan-big', 20_000);
      await em.execute('analyze refunds');
      await em.execute('analyze feature_events');
      // Under autoanalyze's threshold (50 + 10% of the analyzed rows), so no ANALYZE counts them meanwhile.
      await fill('plan-new', 1_000);
      await events('plan-new', 1_000);
      const feature = { name: 'n', entity: 'customer', key: 'pc7', source: 'decision' as const, kinds: ['refund'], from: new Date(Date.now() - 30 * 86_400_000), to: new Date(), aggregate: 'count' as const };
      const scans = await db.em().transactional((tx) => genericScans(tx, beforeRefundDecisionSql('plan-new', '01900000-0000-7000-8000-0000000000ff', 'pr9', 'po9', [feature]), 'plan_new_read'));
      // The refund and the order's total are read by a function planned for each call (Migration20261212000000).
      expect(scans.map((x) => x.index)).toEqual(['feature_events_lookup']);
      expect(scans.find((x) => x.index === 'feature_events_lookup')!.cond).toContain('key');

      // What runs inside PL/pgSQL is seen through what the transaction fetched: a scan by the tenant alone fetches the
      // tenant's 1,000 rows. pg_stat_xact_* also holds this connection's counts not yet reported: read before and after,
      // in one transaction.
      const fetchedBy = (run: (tx: Parameters<Parameters<ReturnType<Database['em']>['transactional']>[0]>[0]) => Promise<unknown>) =>
        db.em().transactional(async (tx) => {
          const counts = () =>
            tx.execute<{ relname: string; fetched: number }[]>(
              `select relname, (coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0))::int as fetched from pg_stat_xact_user_tables where relname in ('refunds', 'feature_events') order by relname`,
            );
          const before = await counts();
          await run(tx);
          return (await counts()).map((t, i) => ({ relname: t.relname, fetched: t.fetched - before[i]!.fetched }));
        });
      // The decision's read: the refund by its key, the order's refunds by the order.
      const read = await fetchedBy(async (tx) => expect(await repo.before(tx, 'plan-new', '01900000-0000-7000-8000-0000000000fe', 'pr9', 'po9')).toMatchObject({ existingState: 'SUCCEEDED', committedTotal: 100 }));
      // The history trigger of a later transition (Migration20261210000000).
      const transition = await fetchedBy((tx) =>
        tx.execute(
          `insert into refund_transitions (id, tenant, refund_id, from_state, to_state, actor_id, actor_role, at) values (gen_random_uuid(), 'plan-new', 'pr9', 'APPROVED', 'PROCESSING', 'test', 'system', now())`,
        ),
      );
      for (const fetched of [read, transition]) {
        expect(fetched.map((t) => t.relname)).toEqual(['feature_events', 'refunds']);
        for (const t of fetched) expect(t.fetched).toBeLessThan(10);
      }
    });
  }

  if (kind === 'postgresql') {
    it.each([false, true])("finds a refund, its order's refunds and its decision's history rows by their keys, on plans made on tables of one row (analyzed then: %s)", async (analyzed) => {
      // A database of its own, on one connection: the plans its functions make on a young database's tables are the ones
      // measured once they grew. Never analyzed (a new installation's, or any with autovacuum off, as the bench's), a
      // lookup by tenant and key ties between every index led by the tenant: before Migration20261216000000, at these
      // sizes, the history trigger's join read all of the tenant's history rows. Analyzed at one row, a plan made once
      // could be a sequential scan, kept as the table grows.
      const fresh = await createTestDatabase(`refund_reads_young_${analyzed}`);
      const fdb = await openDatabase(fresh.url, { poolSize: 1 });
      try {
        const em = fdb.em();
        const decisionId = (i: string, tenant = 'grown') => `('0190000${tenant === 'grown' ? 0 : 1}-0000-7000-8000-' || lpad(${i}::text, 12, '0'))::uuid`;
        const refunds = (from: number, to: number, tenant = 'grown', amount = 100) =>
          em.execute(
            `insert into refunds (tenant, refund_id, type, order_id, customer_id, state, requested_amount, approved_amount, captured_amount, currency, requested_by, decision_id, created_at, updated_at)
             select '${tenant}', 'gr' || i, 'refund', 'go' || (i % 500), 'gc' || (i % 50), 'APPROVED', ${amount}, ${amount}, ${amount}, 'EUR', 'test', ${decisionId('i', tenant)}, now(), now()
               from generate_series(${from}, ${to}) i`,
          );
        const history = (tenant: string) =>
          em.execute(
            `insert into feature_events (tenant, entity, key, source, kind, at, outcome, reasons, amount, attributes, keys, decision_id, created_at, refund_states, refund_amount)
             select '${tenant}', e.entity, md5(e.entity || (i % 500)), 'decision', 'refund', now(), 'APPROVE', '{}', 100, '{}', '{}', ${decisionId('i', tenant)}, now(), '{APPROVED}', 100
               from generate_series(1, 1000) i, (values ('customer'), ('device'), ('order')) e(entity)`,
          );
        const payoutStarts = (refundId: string) =>
          `insert into refund_transitions (id, tenant, refund_id, from_state, to_state, actor_id, actor_role, at) values (gen_random_uuid(), 'grown', '${refundId}', 'APPROVED', 'PROCESSING', 'test', 'system', now())`;
        const decisionRead = (refundId: string, orderId: string) => `select * from refund_decision_before('grown', '${refundId}', '${orderId}', '{APPROVED}')`;
        // Planned now: the decision's read, and the trigger's two statements (a refund without history rows yet).
        await refunds(0, 0);
        if (analyzed) await em.execute('analyze refunds, feature_events');
        expect(await em.execute(decisionRead('gr0', 'go0'))).toEqual([{ existing_state: 'APPROVED', committed: '100' }]);
        await em.execute(payoutStarts('gr0'));
        // The tenant grows: 1,000 refunds over 500 orders, each decision's history rows (one per entity key). Another
        // tenant numbers its refunds and orders alike (its amounts are 7).
        await refunds(1, 1000);
        await history('grown');
        await refunds(1, 1000, 'other', 7);
        await history('other');
        // (Never analyzed holds where autovacuum is off, as here; elsewhere an autoanalyze may count them meanwhile.)
        const analyzedTables = await em.execute(`select relname from pg_stat_user_tables where relname in ('refunds', 'feature_events') and coalesce(last_analyze, last_autoanalyze) is not null order by relname`);
        if (analyzed) expect(analyzedTables).toEqual([{ relname: 'feature_events' }, { relname: 'refunds' }]);
        else if ((await em.execute<{ on: string }[]>(`select current_setting('autovacuum') as on`))[0]!.on === 'off') expect(analyzedTables).toEqual([]);
        const fetchedBy = (statement: string) =>
          fdb.em().transactional(async (tx) => {
            const counts = () =>
              tx.execute<{ relname: string; fetched: number }[]>(
                `select relname, (coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0))::int as fetched from pg_stat_xact_user_tables where relname in ('refunds', 'feature_events') order by relname`,
              );
            const before = await counts();
            const rows = await tx.execute(statement);
            return { rows, fetched: (await counts()).map((t, i) => ({ relname: t.relname, fetched: t.fetched - before[i]!.fetched })) };
          });
        // Refund 123 (order 123's refunds: 123 and 623), by its key and its order's.
        const read = await fetchedBy(decisionRead('gr123', 'go123'));
        expect(read.rows).toEqual([{ existing_state: 'APPROVED', committed: '200' }]);
        // Its payout starts (what the payout worker's transition inserts): the refund by its key, its three rows by the decision.
        const moved = await fetchedBy(payoutStarts('gr123'));
        const rows = await em.execute<{ entity: string; refund_states: string[]; refund_amount: string }[]>(
          `select entity, refund_states, refund_amount::text from feature_events where decision_id = '01900000-0000-7000-8000-000000000123' order by entity`,
        );
        // Its own refund's amount (the other tenant's refund gr123 is 7).
        expect(rows).toEqual(['customer', 'device', 'order'].map((entity) => ({ entity, refund_states: ['APPROVED', 'PROCESSING'], refund_amount: '100' })));
        const theirs = await em.execute<{ refund_states: string[] }[]>(`select refund_states from feature_events where decision_id = '01900001-0000-7000-8000-000000000123'`);
        expect(theirs).toEqual(Array(3).fill({ refund_states: ['APPROVED'] }));
        // What each key finds, the other tenant's rows under the same ids included (the tenant is checked on each): the
        // refund (2), its order's refunds (2 each); then the refund again (the trigger stops at its first match: 1 or 2)
        // and its decision's rows (3).
        expect(read.fetched).toEqual([{ relname: 'feature_events', fetched: 0 }, { relname: 'refunds', fetched: 6 }]);
        expect(moved.fetched[0]).toEqual({ relname: 'feature_events', fetched: 3 });
        expect(moved.fetched[1]).toMatchObject({ relname: 'refunds', fetched: expect.any(Number) });
        expect(moved.fetched[1]!.fetched).toBeLessThanOrEqual(2);
      } finally {
        await fdb.close();
        await fresh.drop();
      }
    });
  }

  if (kind === 'postgresql') {
    it.each([0, 30])('plans the read on young tables (%i history rows, analyzed), and that plan still finds rows by their keys once they have grown', async (rows) => {
      // A database of its own, fresh from its migrations, as a new installation's first decisions.
      const young = await createTestDatabase(`refund_read_young_${rows}`);
      const ydb = await openDatabase(young.url);
      try {
        const to = new Date('2026-03-11T12:00:00Z');
        const days = (n: number) => new Date(to.getTime() - n * 86_400_000);
        const base = { key: 'solo', source: 'decision' as const, kinds: ['refund'], to };
        const features = [
          { ...base, name: 'count', entity: 'customer', from: days(30), aggregate: 'count' as const },
          { ...base, name: 'sum', entity: 'customer', from: days(30), aggregate: 'sum' as const, outcomes: ['APPROVE'] },
          { ...base, name: 'first', entity: 'customer', from: days(365), aggregate: 'firstSeen' as const },
          { ...base, name: 'goodwill', entity: 'customer', source: 'refund' as const, kinds: ['APPROVED'], from: days(365), aggregate: 'count' as const, where: { reasonCode: 'GOODWILL' } },
          { ...base, name: 'accounts', entity: 'device', key: 'dev', from: days(90), aggregate: 'distinct' as const, distinctEntity: 'customer', currentKey: 'solo' },
          { ...base, name: 'either', entity: 'customer', kinds: ['refund', 'order-check'], from: days(30), aggregate: 'count' as const },
        ];
        await ydb.em().transactional(async (tx) => {
          // One connection throughout: its statements are named from their second execution (prepared-statements.ts).
          const read = () => repo.before(tx, 'young', idOf(90), 'pr9', 'po9', features);
          const custom = () => tx.execute("select set_config('plan_cache_mode', 'force_custom_plan', true), set_config('enable_seqscan', 'on', true), set_config('enable_bitmapscan', 'on', true)");
          const history = (n: number, from: number, at: Date) =>
            tx.execute(
              `insert into feature_events (tenant, entity, key, source, kind, at, outcome, reasons, amount, attributes, keys, decision_id, created_at, refund_states)
               select 'young', case when i % 2 = 0 then 'customer' else 'device' end, case when i <= 3 then 'solo' when i <= 6 then 'dev' else 'k' || (i % 50) end,
                      'decision', 'refund', ?::timestamptz - i * interval '1 minute', 'APPROVE', '{}', 100, '{"reasonCode": "GOODWILL"}',
                      jsonb_build_object('customer', 'c' || i), gen_random_uuid(), now(), '{APPROVED}'
                 from generate_series(?::int, ?::int) i`,
              [at, from, from + n - 1],
            );
          if (rows > 0) {
            // Other keys' rows, before the window: a small table a sequential scan reads cheaper than any index.
            await history(rows, 1_000_000, days(400));
            await tx.execute('analyze feature_events');
          }
          // Every history scan by the lookup index; each decision kind's bounded by its key, kind and window (the goodwill
          // feature's refund states are no index column: its scan covers the key's decisions, as it did before).
          const scans = await genericScans(tx, beforeRefundDecisionSql('young', idOf(90), 'pr9', 'po9', features), 'young_read');
          expect(scans.map((x) => x.relation)).toEqual(Array(7).fill('feature_events'));
          for (const scan of scans) expect(scan).toMatchObject({ index: 'feature_events_lookup', cond: expect.stringContaining('(at > ') });
          const byKind = scans.filter((x) => /kind = '/.test(x.cond));
          expect(byKind).toHaveLength(6);
          for (const scan of byKind) expect(scan.cond).toMatch(/kind = '[^']+'::text\)( AND \(at IS NOT NULL\))? AND \(at > /);
          for (let i = 0; i < 3; i++) await read();
          await custom();
          // 20,000 refunds and history rows of the tenant, 3 of them the keys the read asks for.
          await tx.execute(
            `insert into refunds (tenant, refund_id, type, order_id, customer_id, state, requested_amount, approved_amount, captured_amount, currency, requested_by, decision_id, created_at, updated_at)
             select 'young', 'pr' || i, 'refund', 'po' || (i % 5000), 'pc' || (i % 50), 'SUCCEEDED', 100, 100, 100, 'EUR', 'test', gen_random_uuid(), now(), now() from generate_series(1, 20000) i`,
          );
          await history(20_000, 1, to);
          const counts = () =>
            tx.execute<{ relname: string; fetched: number }[]>(
              `select relname, (coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0))::int as fetched from pg_stat_xact_user_tables where relname in ('refunds', 'feature_events') order by relname`,
            );
          const before = await counts();
          const values = await read();
          await custom();
          const fetched = (await counts()).map((t, i) => ({ relname: t.relname, fetched: t.fetched - before[i]!.fetched }));
          // The rows were found: customer solo's (i = 2), device dev's (i = 5: customer c5, and solo itself), the order's 4 refunds.
          expect(values).toMatchObject({ existingState: 'SUCCEEDED', committedTotal: 400, features: { count: 1, sum: 100, goodwill: 1, accounts: 2, either: 1 } });
          expect(fetched.map((t) => t.relname)).toEqual(['feature_events', 'refunds']);
          for (const t of fetched) expect(t.fetched).toBeLessThan(50);
          const plans = await tx.execute<{ generic: number; custom: number }[]>(
            `select generic_plans::int as generic, custom_plans::int as custom from pg_prepared_statements where statement like '%existing_state%'`,
          );
          expect(plans).toEqual([{ generic: 3, custom: 0 }]);
        });
      } finally {
        await ydb.close();
        await young.drop();
      }
    });
  }

  it('each write of a shape compiled once stores its own values in every table, and each shape its own rows', async () => {
    // The write's text is compiled once per shape: a value taken from the first call instead of each call's would
    // show here as a second decision's row holding the first one's value.
    // Each decision's times of its own: n minutes, n hours and n days after `at`.
    const times = (n: number) => ({ created: new Date(at.getTime() + n * 60_000), evaluated: new Date(at.getTime() + n * 3_600_000), business: new Date(at.getTime() - n * 86_400_000) });
    function full(n: number, o: { review: boolean; reasons: string[]; events: number }): RefundDecisionWrite {
      const w = decision(n);
      const id = w.decision.id;
      const t = times(n);
      w.decision = { ...w.decision, outcome: `OUT${n}`, riskScore: n, caseData: { n }, features: { f: n }, reasonCodes: o.reasons, idempotencyKey: `full${n}`, createdAt: t.created, evaluatedAt: t.evaluated };
      w.refund = { ...w.refund, customerId: `cust${n}`, requestedAmount: 1000 + n, approvedAmount: 900 + n, reward: { accountId: `acct${n}`, transactionId: `tx${n}` } };
      w.transition = { ...w.transition, reason: `reason ${n}` };
      if (o.review) {
        w.review = { id: `01900000-0000-7000-8000-0000000003${n}`, tenant: 'acme', type: 'refund', decisionId: id, refundId: `r${n}`, amount: 1000 + n, currency: 'EUR', riskBand: `band${n}`, deadline: new Date(at.getTime() + n * 1000), leaseMinutes: n, requiredApprovals: 1 + (n % 2), requestedBy: `key_${n}`, createdAt: at };
      }
      w.history = { tenant: 'acme', decisionId: id, type: 'refund', outcome: `OUT${n}`, reasons: o.reasons, record: { at: t.business, keys: { customer: `hc${n}`, device: `hd${n}` }, amount: 2000 + n, attributes: { reasonCode: `R${n}` } }, createdAt: t.created, refund: { state: 'APPROVED', approvedAmount: 900 + n } };
      w.events = Array.from({ length: o.events }, (_, i) => ({ id: `01900000-0000-7000-8000-000000000${4 + i}${n}`, type: `t${i}.${n}`, data: { n, i } }));
      return w;
    }
    const writes = [
      full(80, { review: true, reasons: ['A80', 'B80'], events: 3 }),
      full(81, { review: true, reasons: ['A81'], events: 3 }),
      full(82, { review: false, reasons: [], events: 2 }),
      full(83, { review: false, reasons: [], events: 2 }),
    ];
    for (const w of writes) {
      await db.em().transactional(async (em) => {
        await repo.before(em, 'acme', w.decision.id, w.refund.refundId, w.refund.orderId);
        expect(await repo.write(em, w)).toBe('created');
      });
    }
    const one = async (q: string, id: string) => (await db.em().execute<Record<string, unknown>[]>(q, [id]));
    for (const w of writes) {
      const n = Number(w.refund.refundId.slice(1));
      const id = w.decision.id;
      const t = times(n);
      const instant = (v: unknown) => new Date(v as string | Date).toISOString();
      const [stored] = await one('select outcome, risk_score, case_data, features, idempotency_key, evaluated_at, created_at from decisions where id = ?', id);
      expect({ ...stored, evaluated_at: instant(stored!.evaluated_at), created_at: instant(stored!.created_at) }).toEqual({
        outcome: `OUT${n}`, risk_score: n, case_data: { n }, features: { f: n }, idempotency_key: `full${n}`, evaluated_at: t.evaluated.toISOString(), created_at: t.created.toISOString(),
      });
      const [refund] = await one('select refund_id, customer_id, requested_amount, approved_amount, reward from refunds where decision_id = ?', id);
      expect({ ...refund, requested_amount: Number(refund!.requested_amount), approved_amount: Number(refund!.approved_amount) }).toEqual({ refund_id: `r${n}`, customer_id: `cust${n}`, requested_amount: 1000 + n, approved_amount: 900 + n, reward: { accountId: `acct${n}`, transactionId: `tx${n}` } });
      expect(await one('select to_state, reason from refund_transitions where decision_id = ?', id)).toEqual([{ to_state: 'APPROVED', reason: `reason ${n}` }]);
      const reviews = await one('select risk_band, lease_minutes, required_approvals, requested_by, deadline from reviews where decision_id = ?', id);
      expect(reviews.map((r) => ({ ...r, deadline: instant(r.deadline) }))).toEqual(
        w.review ? [{ risk_band: `band${n}`, lease_minutes: n, required_approvals: 1 + (n % 2), requested_by: `key_${n}`, deadline: w.review.deadline.toISOString() }] : [],
      );
      const history = await one('select entity, key, outcome, amount, attributes, at, created_at, refund_amount from feature_events where decision_id = ? order by entity', id);
      const row = (entity: string, key: string) => ({ entity, key, outcome: `OUT${n}`, amount: 2000 + n, attributes: { reasonCode: `R${n}` }, at: t.business.toISOString(), created_at: t.created.toISOString(), refund_amount: 900 + n });
      expect(history.map((h) => ({ ...h, amount: Number(h.amount), refund_amount: Number(h.refund_amount), at: instant(h.at), created_at: instant(h.created_at) }))).toEqual([row('customer', `hc${n}`), row('device', `hd${n}`)]);
      expect((await one('select code from decision_reasons where decision_id = ? order by code', id)).map((r) => r.code)).toEqual(w.decision.reasonCodes);
      const events = await one(`select type, data from outbox_events where id in (${w.events.map((e) => `'${e.id}'`).join(', ')}) and ? is not null order by type`, id);
      expect(events).toEqual(w.events.map((e) => ({ type: e.type, data: e.data })));
    }
  });

  it('the tables the write inserts into have no insert trigger and no foreign key (a generic plan would reach their queries too)', async () => {
    // Except a trigger whose function sets its own planning: for each call, or once with index scans only (refund_transitions'
    // history trigger, which the write skips, Migration20261216000000).
    const rows = await db.em().execute<{ what: string }[]>(
      `select tgrelid::regclass::text || ' trigger ' || tgname as what from pg_trigger t join pg_proc p on p.oid = t.tgfoid
        where not tgisinternal and (tgtype & 4) <> 0
          and not coalesce('plan_cache_mode=force_custom_plan' = any(p.proconfig), false)
          and not coalesce(p.proconfig @> '{plan_cache_mode=force_generic_plan,enable_seqscan=off,enable_bitmapscan=off}', false)
          and tgrelid::regclass::text in ('decisions', 'refunds', 'refund_transitions', 'reviews', 'feature_events', 'decision_reasons', 'outbox_events')
       union all
       select conrelid::regclass::text || ' foreign key ' || conname from pg_constraint
        where contype = 'f' and conrelid::regclass::text in ('decisions', 'refunds', 'refund_transitions', 'reviews', 'feature_events', 'decision_reasons', 'outbox_events')`,
    );
    expect(rows).toEqual([]);
  });
});
