/** Instances starting together on one PostgreSQL (a deployment of several replicas) apply migrations once, all start. */
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { openDatabase } from './database.js';

const describeWithPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;

describeWithPostgres('migrations at boot', () => {
  let target: TestDatabase;
  beforeAll(async () => {
    target = await createTestDatabase('migrate_together');
  });
  afterAll(async () => {
    await target?.drop();
  });

  it('three instances opening a new database at once all start', async () => {
    const opened = await Promise.allSettled([1, 2, 3].map(() => openDatabase(target.url)));
    for (const o of opened) if (o.status === 'fulfilled') await o.value.close();
    expect(opened.map((o) => (o.status === 'fulfilled' ? 'started' : String((o.reason as Error).message)))).toEqual(['started', 'started', 'started']);
  });
});
