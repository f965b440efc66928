/**
 * Reason codes are written beside a decision stored through the ORM path (reviewer and redemption decisions), objects
 * and plain codes alike, and a search by code finds it and nothing else. On PGlite.
 */
import { openDatabase, type Database } from './database.js';
import { DecisionsRepository } from './decisions.repository.js';

describe('decision_reasons through DecisionsRepository.insert', () => {
  let db: Database;
  const repo = new DecisionsRepository();
  beforeAll(async () => {
    db = await openDatabase('pglite://memory');
  });
  afterAll(async () => db?.close());

  const decision = (id: string, reasons: unknown) => ({
    id, tenant: 'acme', domain: 'redemption', outcome: 'DENY', riskScore: null, releaseName: 'default', releaseVersion: '1.0.0', components: {},
    caseData: {}, document: { id, outcome: 'DENY', reasons, trace: [] }, idempotencyKey: null, evaluatedAt: new Date(), createdAt: new Date(),
    actor: { id: 'k1', role: 'service' },
  });

  it('finds each decision by its codes, given as objects or plain strings, and by no other', async () => {
    const a = '00000000-0000-7000-8000-00000000000a';
    const b = '00000000-0000-7000-8000-00000000000b';
    await db.em().fork().transactional(async (em) => {
      await repo.insert(em, decision(a, [{ code: 'GATE_CLOSED' }, { code: 'GATE_CLOSED' }, { code: 'BALANCE_LOW' }]));
      await repo.insert(em, decision(b, ['BALANCE_LOW']));
    });
    const ids = async (code: string) => (await repo.list(db.em().fork(), 'acme', { reasonCode: code }, 10)).map((d) => d.id);
    expect(await ids('GATE_CLOSED')).toEqual([a]);
    expect(await ids('BALANCE_LOW')).toEqual([b, a]);
    expect(await ids('NEVER_SEEN')).toEqual([]);
    expect(await repo.list(db.em().fork(), 'globex', { reasonCode: 'BALANCE_LOW' }, 10)).toEqual([]);
  });
});
