/**
 * Migration20261221000000_currency_keys, on PGlite and on PostgreSQL: redemptions stored before giftcard-redemption@1.3.0
 * get the per-currency keys 1.3.0 records (in every row's `keys` and as rows of their own), in the exact text the
 * service writes for a composite key, so 1.3.0's amount sums and currency counts see them; purged cases, other types
 * and decisions of 1.3.0 are left alone.
 */
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { BoundHistory } from '../decisions/types/features.js';
import { openDatabase, type Database } from './database.js';
import { FeatureHistoryRepository } from './feature-history.repository.js';

const kinds = ['pglite', ...(process.env.TEST_DATABASE_URL ? ['postgresql'] : [])];
const BEFORE = 'Migration20261220000000_challenged_decisions';
const AT = '2026-03-05T10:00:00.000Z';

/** 1.3.0's history, as its document declares it: the keys the service would record for a case. */
const v130 = new BoundHistory({
  at: '/requestedAt',
  entities: { card: '/cardCode', customer: '/customerId', device: '/deviceId', cardCurrency: ['/cardCode', '/currency'], customerCurrency: ['/customerId', '/currency'] },
  amount: '/amount',
});

describe.each(kinds)('redemptions stored before giftcard-redemption@1.3.0 get its per-currency keys (%s)', (kind) => {
  let target: TestDatabase;
  let db: Database;
  const sql = <T = Record<string, unknown>>(q: string, params: unknown[] = []) => db.em().execute<T[]>(q, params);
  const id = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;

  /** A redemption as the service stored it: the decision, and one history row per entity key it recorded. */
  async function redemption(n: number, c: Record<string, unknown> | null, entities: Record<string, string>, o: { version?: string; type?: string; amount?: number } = {}) {
    const type = o.type ?? 'giftcard-redemption';
    await sql(
      `insert into decisions (id, tenant, domain, outcome, release_name, release_version, components, case_data, document, evaluated_at, created_at)
       values (?, 'acme', ?, 'ALLOW', 'default', '1.6.0', ?::jsonb, ?::jsonb, '{}'::json, ?, ?)`,
      [id(n), type, JSON.stringify({ [type]: o.version ?? '1.2.0' }), c === null ? null : JSON.stringify(c), AT, AT],
    );
    for (const [entity, key] of Object.entries(entities)) {
      await sql(
        `insert into feature_events (tenant, entity, key, source, kind, at, outcome, reasons, amount, attributes, keys, decision_id, created_at)
         values ('acme', ?, ?, 'decision', ?, ?, 'ALLOW', '{}', ?, '{}', ?::jsonb, ?, ?)`,
        [entity, key, type, AT, o.amount ?? 1000, JSON.stringify(entities), id(n), AT],
      );
    }
  }

  beforeAll(async () => {
    target = kind === 'pglite' ? { url: 'pglite://memory', kind: 'pglite', drop: async () => {} } : await createTestDatabase('currency_keys');
    db = await openDatabase(target.url, { migrate: false });
    await db.orm.migrator.up({ to: BEFORE });
  });
  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  it('adds the keys in the text 1.3.0 writes, so its sums and currency counts see the earlier redemptions; down undoes it', async () => {
    const card = 'pii_Y2FyZA_4410';
    const keysOf = (c: Record<string, unknown>) => v130.keys(c);
    const yen = { cardCode: card, customerId: 'pii_Y3VzdA', deviceId: 'pii_ZGV2', currency: 'JPY', amount: 30000, requestedAt: AT };
    const { cardCurrency: _a, customerCurrency: _b, ...recorded } = keysOf(yen);
    await redemption(1, yen, recorded, { amount: 30000 });
    await redemption(2, { ...yen, currency: 'EUR', amount: 2000 }, recorded, { amount: 2000, version: '1.0.0' });
    await redemption(3, null, recorded, { amount: 7000 }); // purged: no currency left
    await redemption(4, { ...yen, amount: 500 }, keysOf({ ...yen, amount: 500 }), { amount: 500, version: '1.3.0' }); // recorded by 1.3.0
    await redemption(5, { cardCode: card, currency: 'JPY' }, { card }, { type: 'giftcard-balance-check', version: '1.2.0' });
    const before = Number((await sql<{ n: string | number }>(`select count(*) as n from feature_events`))[0]!.n);
    await db.orm.migrator.up();

    const added = await sql<{ decision_id: string; entity: string; key: string }>(
      `select decision_id::text as decision_id, entity, key from feature_events where entity in ('cardCurrency', 'customerCurrency') order by decision_id, entity`,
    );
    const yenKeys = keysOf(yen);
    expect(added).toEqual([
      { decision_id: id(1), entity: 'cardCurrency', key: yenKeys.cardCurrency },
      { decision_id: id(1), entity: 'customerCurrency', key: yenKeys.customerCurrency },
      { decision_id: id(2), entity: 'cardCurrency', key: JSON.stringify([card, 'EUR']) },
      { decision_id: id(2), entity: 'customerCurrency', key: JSON.stringify(['pii_Y3VzdA', 'EUR']) },
      { decision_id: id(4), entity: 'cardCurrency', key: yenKeys.cardCurrency },
      { decision_id: id(4), entity: 'customerCurrency', key: yenKeys.customerCurrency },
    ]);
    expect(Number((await sql<{ n: string | number }>(`select count(*) as n from feature_events`))[0]!.n)).toBe(before + 4);

    // What 1.3.0 reads: the yen sum of the card (1.2.0's 30000 and 1.3.0's 500, not the euros) and its currencies.
    const repo = new FeatureHistoryRepository();
    const window = { source: 'decision' as const, kinds: ['giftcard-redemption'], outcomes: ['ALLOW', 'CHALLENGE'], from: new Date('2026-03-05T00:00:00Z'), to: new Date(AT) };
    expect(
      await repo.values(db.em(), 'acme', [
        { name: 'redeemedAmountCard24h', entity: 'cardCurrency', key: yenKeys.cardCurrency!, ...window, aggregate: 'sum' },
        { name: 'distinctCurrenciesCard24h', entity: 'card', key: card, ...window, aggregate: 'distinct', distinctEntity: 'cardCurrency', currentKey: yenKeys.cardCurrency! },
      ]),
    ).toEqual({ redeemedAmountCard24h: 30500, distinctCurrenciesCard24h: 2 });

    // Down removes what it added (rows and keys), and only that; up again adds it once more.
    await db.orm.migrator.down({ to: BEFORE }); // it and any migration after it
    const left = await sql<{ decision_id: string }>(`select distinct decision_id::text as decision_id from feature_events where entity in ('cardCurrency', 'customerCurrency') or keys -> 'cardCurrency' is not null`);
    expect(left.map((r) => r.decision_id)).toEqual([id(4)]);
    await db.orm.migrator.up();
    expect(Number((await sql<{ n: string | number }>(`select count(*) as n from feature_events`))[0]!.n)).toBe(before + 4);
  });
});
