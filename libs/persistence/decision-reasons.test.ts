/**
 * A decision stored through DecisionsRepository.insert (reviewer and redemption decisions): its row as given, the
 * document's text as sent, and its reason codes beside it, objects and plain codes alike, so a search by code finds it
 * and nothing else. On PGlite.
 */
import { openDatabase, type Database } from './database.js';
import { DecisionsRepository } from './decisions.repository.js';

describe('DecisionsRepository.insert', () => {
  let db: Database;
  const repo = new DecisionsRepository();
  beforeAll(async () => {
    db = await openDatabase('pglite://memory');
  });
  afterAll(async () => db?.close());

  const decision = (id: string, reasons: unknown, at = new Date()) => ({
    id, tenant: 'acme', domain: 'redemption', outcome: 'DENY', riskScore: null, releaseName: 'default', releaseVersion: '1.0.0', components: {},
    caseData: {}, document: { id, outcome: 'DENY', reasons, trace: [] }, idempotencyKey: null, evaluatedAt: at, createdAt: at,
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

  it('stores each call its own row, with or without reasons (each shape compiled once, bound again)', async () => {
    const rows = [
      { id: '00000000-0000-7000-8000-0000000000c1', reasons: [], at: new Date('2026-03-01T10:00:00.123Z'), outcome: 'APPROVE', actor: { id: 'k2', role: 'service' }, risk: null },
      { id: '00000000-0000-7000-8000-0000000000c2', reasons: [{ code: 'CAP' }], at: new Date('2026-03-02T11:30:00.456Z'), outcome: 'DENY', actor: { id: 'r9', role: 'reviewer' }, risk: 42 },
      { id: '00000000-0000-7000-8000-0000000000c3', reasons: [], at: new Date('2026-03-03T12:00:00.789Z'), outcome: 'APPROVE', actor: { id: 'k3', role: 'service' }, risk: 7 },
      { id: '00000000-0000-7000-8000-0000000000c4', reasons: ['HOLD'], at: new Date('2026-03-04T13:00:00.001Z'), outcome: 'DENY', actor: { id: 'k4', role: 'service' }, risk: null },
    ];
    const made = rows.map((r, i) => ({
      ...decision(r.id, r.reasons, r.at),
      tenant: `t${i % 2}`,
      outcome: r.outcome,
      riskScore: r.risk,
      releaseVersion: `1.${i}.0`,
      components: { pack: `p${i}` },
      caseData: { accountId: `a${i}`, amount: 100 + i },
      // Key order as made: the stored text must be exactly what was answered.
      document: { outcome: r.outcome, id: r.id, n: i, reasons: r.reasons, trace: [{ rule: `g${i}` }] },
      idempotencyKey: i === 2 ? null : `key-${i}`,
      evaluatedAt: new Date(r.at.getTime() - 5),
      actor: r.actor,
    }));
    await db.em().fork().transactional(async (em) => {
      for (const d of made) await repo.insert(em, d);
    });
    for (const d of made) {
      const em = db.em().fork();
      expect(await repo.documentText(em, d.tenant, d.id)).toBe(JSON.stringify(d.document));
      const [row] = await em.execute<Record<string, unknown>[]>(
        `select tenant, domain, outcome, risk_score, release_name, release_version, components, case_data, features, answer::text as answer, idempotency_key,
                evaluated_at, created_at, actor_id, actor_role from decisions where id = ?`,
        [d.id],
      );
      const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
      expect({ ...row, components: json(row!.components), case_data: json(row!.case_data), evaluated_at: new Date(row!.evaluated_at as string).toISOString(), created_at: new Date(row!.created_at as string).toISOString() }).toEqual({
        tenant: d.tenant,
        domain: 'redemption',
        outcome: d.outcome,
        risk_score: d.riskScore,
        release_name: 'default',
        release_version: d.releaseVersion,
        components: d.components,
        case_data: d.caseData,
        features: null,
        answer: JSON.stringify({ outcome: d.outcome, id: d.id, n: made.indexOf(d), reasons: d.document.reasons }),
        idempotency_key: d.idempotencyKey,
        evaluated_at: d.evaluatedAt.toISOString(),
        created_at: d.createdAt.toISOString(),
        actor_id: d.actor.id,
        actor_role: d.actor.role,
      });
      const codes = await em.execute<{ code: string }[]>('select code from decision_reasons where tenant = ? and decision_id = ? order by code', [d.tenant, d.id]);
      expect(codes.map((c) => c.code)).toEqual((d.document.reasons as unknown[]).map((r) => (typeof r === 'string' ? r : (r as { code: string }).code)));
    }
  });
});
