/**
 * LedgerService over strict fakes: every collaborator throws on a member the test did not stub, the clock answers a
 * fixed sequence and ids are derived from the time they are minted at, so each test shows which time and id went where.
 * The ledger itself is the real one over the in-memory store; the gate is a stub (its policy is tested in libs/ledger).
 */
import { jest } from '@jest/globals';
import type { SqlEntityManager } from '@mikro-orm/sql';
import type { CompiledRelease, FileComponentSource, TenantComponentSource } from '../../../libs/decisions/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import { InMemoryLedgerStore, type OpaRedemptionGate, type RedemptionGateResult } from '../../../libs/ledger/index.js';
import { packJson } from '../../../libs/ledger/ledger.test-support.js';
import type {
  CatalogueRepository,
  Clock,
  Database,
  DecisionsRepository,
  IdFactory,
  NewDecision,
  PgLedgerStore,
  PgLedgerStoreFactory,
  Principal,
} from '../../../libs/persistence/index.js';
import { JSON_TYPE, type IdempotencyService } from '../http/idempotency.service.js';
import type { ReleaseRegistry } from '../releases/release.registry.js';
import { LedgerService } from './ledger.service.js';

// Looked up by `await` and by jest's matchers and printer; answering "absent" keeps them from tripping the fake.
const PROBED = new Set(['then', 'asymmetricMatch', '$$typeof', 'nodeType', 'toJSON', 'constructor']);

/** A stand-in for T that throws on any member not in `stubs` (immich's strict automocks, test/utils.ts). */
function strict<T extends object>(name: string, stubs: Partial<T> = {}): T {
  return new Proxy(stubs, {
    get(target, prop) {
      if (prop in target) return target[prop as keyof typeof target];
      if (typeof prop === 'symbol' || PROBED.has(prop)) return undefined;
      throw new Error(`${name}.${prop} is not stubbed in this test`);
    },
  }) as T;
}

const TENANT = 'acme';
const principal: Principal = { keyId: 'key-1', tenant: TENANT, name: 'checkout', roles: ['service'] };
const PROGRAM = 'cashback-default@1.0.0';
const GATE_REF = 'redemption-gate@1.0.0';
const RELEASE_REF = { name: 'default', version: '1.0.0', components: { 'redemption-gate': '1.0.0' } };

const at = (iso: string) => new Date(iso);
/** Ids say which time they were minted at, so an assertion on an id is an assertion on the time too. */
const idAt = (d: Date) => `id@${d.toISOString()}`;

function setup() {
  /** The request's transaction: the service only hands it on, so any call on it fails. */
  const tx = strict<SqlEntityManager>('tx');
  const transactional = (fn: (em: SqlEntityManager) => Promise<unknown>) => fn(tx);
  const em = strict<SqlEntityManager>('em', { transactional: transactional as unknown as SqlEntityManager['transactional'] });
  const db = strict<Database>('db', { em: () => em });

  // Times are handed out in order; reading the clock more often than a test expects fails it.
  const times: Date[] = [];
  const now = jest.fn<Clock['now']>(() => {
    const t = times.shift();
    if (!t) throw new Error('the clock was read more often than this test expects');
    return t;
  });
  const next = jest.fn<IdFactory['next']>(idAt);

  const memory = new InMemoryLedgerStore();
  const store = strict<PgLedgerStore>('store', {
    withAccount: memory.withAccount.bind(memory),
    accountOfTransaction: memory.accountOfTransaction.bind(memory),
    entries: memory.entries.bind(memory),
    accountExists: (tenant, accountId) => memory.withAccount(tenant, accountId, async (uow) => (await uow.getAccount(accountId)) !== null),
  });
  const create = jest.fn<PgLedgerStoreFactory['create']>(() => store);

  const evaluate = jest.fn<OpaRedemptionGate['evaluate']>((): RedemptionGateResult => ({ allow: true, reasons: [] }));
  const gate = strict<OpaRedemptionGate>('gate', { ref: GATE_REF, evaluate });
  const release = strict<CompiledRelease>('release', { ref: RELEASE_REF });
  const pack = jest.fn<TenantComponentSource['pack']>((name) => Promise.resolve(packJson(name)));
  const source = jest.fn<ReleaseRegistry['source']>(() => strict<TenantComponentSource>('source', { pack }));
  const releases = strict<ReleaseRegistry>('releases', { source, redemptionGate: () => ({ release, gate }) });

  const run = jest.fn<IdempotencyService['run']>(async (_input, effect) => {
    const out = await effect(tx);
    return { status: out.status, contentType: out.contentType ?? JSON_TYPE, body: JSON.stringify(out.body), replayed: false };
  });
  const insert = jest.fn<DecisionsRepository['insert']>(() => Promise.resolve());
  const packVersions = jest.fn<FileComponentSource['packVersions']>(() => Promise.resolve(['1.0.0']));
  const listPacks = jest.fn<CatalogueRepository['listPacks']>(() => Promise.resolve([]));

  const service = new LedgerService(
    db,
    strict<FileComponentSource>('files', { packVersions }),
    strict<Clock>('clock', { now }),
    strict<IdFactory>('ids', { next }),
    releases,
    strict<IdempotencyService>('idempotency', { run }),
    strict<PgLedgerStoreFactory>('stores', { create }),
    strict<CatalogueRepository>('catalogue', { listPacks }),
    strict<DecisionsRepository>('decisions', { insert }),
  );
  const call = (key: string, route: string, body: unknown) => ({ principal, key, route, body });

  /** An account with a 500 reward settled (5% of 10,000 in GROCERY), written through the service; clears the mocks. */
  async function accountWithReward(accountId: string) {
    times.push(at('2026-12-01T09:00:00.000Z'), at('2026-12-01T09:00:01.000Z'));
    await service.openAccount(principal, accountId, { program: PROGRAM, currency: 'EUR', cycleAnchorDay: 1 });
    const purchase = { transactionId: `${accountId}-t1`, amount: 10000, category: 'GROCERY', occurredAt: '2026-11-02T10:00:00Z' };
    await service.recordPurchase(call('p-1', `/v1/ledger/accounts/${accountId}/transactions`, purchase), accountId);
    await service.settle(call('s-1', `/v1/ledger/transactions/${accountId}-t1/settle`, { settledAt: '2026-11-03T10:00:00Z' }), `${accountId}-t1`);
    expect(times).toEqual([]);
    jest.clearAllMocks();
  }

  return { service, call, tx, em, times, now, next, create, source, pack, packVersions, listPacks, evaluate, run, insert, accountWithReward };
}

describe('LedgerService', () => {
  it('opens an account through the request transaction without reading the clock or minting an id', async () => {
    const s = setup();
    // A bare program name: the newest version among the built-in files and the tenant's stored packs.
    const r = await s.service.openAccount(principal, 'acc-1', { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 });

    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ accountId: 'acc-1', program: PROGRAM, balance: 0 });
    expect(s.create).toHaveBeenCalledTimes(1);
    expect(s.create.mock.calls[0]![0]).toBe(s.tx);
    // Every read goes through the request's transaction (PGlite has one connection).
    expect(s.packVersions).toHaveBeenCalledWith('cashback-default');
    expect(s.listPacks.mock.calls.map(([em, tenant]) => [em === s.tx, tenant])).toEqual([[true, TENANT]]);
    expect(s.source.mock.calls.map(([tenant, em]) => [tenant, em === s.tx])).toEqual([[TENANT, true]]);
    expect(s.pack).toHaveBeenCalledWith('cashback-default', '1.0.0');
    expect(s.now).not.toHaveBeenCalled();
    expect(s.next).not.toHaveBeenCalled();
  });

  it('claims a write’s Idempotency-Key at the clock’s time and answers the ledger’s result', async () => {
    const s = setup();
    await s.service.openAccount(principal, 'acc-1', { program: PROGRAM, currency: 'EUR', cycleAnchorDay: 1 });
    const claimedAt = at('2026-12-01T10:00:00.000Z');
    s.times.push(claimedAt);
    const body = { transactionId: 't-1', amount: 10000, category: 'GROCERY', occurredAt: '2026-11-02T10:00:00Z' };

    const answer = await s.service.recordPurchase(s.call('p-1', '/v1/ledger/accounts/acc-1/transactions', body), 'acc-1');

    expect(s.run).toHaveBeenCalledTimes(1);
    expect(s.run.mock.calls[0]![0]).toEqual({ tenant: TENANT, key: 'p-1', method: 'POST', route: '/v1/ledger/accounts/acc-1/transactions', body, now: claimedAt });
    expect(answer.status).toBe(201);
    // Business time is the request's, untouched by the clock.
    expect(JSON.parse(answer.body)).toMatchObject({ transactionId: 't-1', status: 'PENDING', occurredAt: '2026-11-02T10:00:00.000Z' });
    expect(s.next).not.toHaveBeenCalled();
  });

  it('stores an allowed redemption’s gate decision under an id minted at the decision’s time', async () => {
    const s = setup();
    await s.accountWithReward('acc-1');
    const claimedAt = at('2026-12-01T10:00:00.000Z');
    const decidedAt = at('2026-12-01T10:00:00.250Z');
    s.times.push(claimedAt, decidedAt);
    const body = { redemptionId: 'r-1', amount: 300, at: '2026-12-01T08:00:00Z' };

    const answer = await s.service.redeem(s.call('rd-1', '/v1/ledger/accounts/acc-1/redemptions', body), 'acc-1');

    expect(s.run.mock.calls[0]![0].now).toBe(claimedAt);
    expect(s.next.mock.calls).toEqual([[decidedAt]]);
    expect(s.insert).toHaveBeenCalledTimes(1);
    const [em, decision] = s.insert.mock.calls[0]!;
    expect(em).toBe(s.tx);
    expect(decision).toMatchObject<Partial<NewDecision>>({
      id: idAt(decidedAt),
      tenant: TENANT,
      domain: 'redemption',
      outcome: 'APPROVE',
      riskScore: null,
      releaseName: 'default',
      releaseVersion: '1.0.0',
      components: RELEASE_REF.components,
      idempotencyKey: 'rd-1',
      evaluatedAt: decidedAt,
      createdAt: decidedAt,
    });
    expect(decision.document).toMatchObject({
      id: idAt(decidedAt),
      createdAt: decidedAt.toISOString(),
      redemptionId: 'r-1',
      at: '2026-12-01T08:00:00.000Z',
      outcome: 'APPROVE',
      reasons: [],
      program: PROGRAM,
      release: RELEASE_REF,
    });
    expect(answer.status).toBe(201);
    expect(JSON.parse(answer.body)).toMatchObject({ redemptionId: 'r-1', amount: 300, balance: 200, decisionId: idAt(decidedAt) });
  });

  it('stores a refused redemption’s decision too and names it in the 422 problem', async () => {
    const s = setup();
    await s.accountWithReward('acc-1');
    s.evaluate.mockReturnValue({ allow: false, reasons: [{ code: 'INSUFFICIENT_REWARD_BALANCE', message: 'balance would fall below 0' }] });
    const decidedAt = at('2026-12-01T10:00:00.250Z');
    s.times.push(at('2026-12-01T10:00:00.000Z'), decidedAt);

    const answer = await s.service.redeem(s.call('rd-2', '/v1/ledger/accounts/acc-1/redemptions', { redemptionId: 'r-2', amount: 900, at: '2026-12-01T08:00:00Z' }), 'acc-1');

    expect(s.next.mock.calls).toEqual([[decidedAt]]);
    const decision = s.insert.mock.calls[0]![1];
    expect(decision).toMatchObject({ id: idAt(decidedAt), outcome: 'DENY', createdAt: decidedAt, evaluatedAt: decidedAt });
    expect(decision.document).toMatchObject({
      outcome: 'DENY',
      reasons: [{ code: 'INSUFFICIENT_REWARD_BALANCE', message: 'balance would fall below 0', source: GATE_REF, effect: 'DENY' }],
    });
    expect(answer.status).toBe(422);
    expect(answer.contentType).toBe('application/problem+json');
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'INSUFFICIENT_REWARD_BALANCE', decisionId: idAt(decidedAt) });
  });

  it('stores no second decision and mints no id when the ledger answers a redemption it already made', async () => {
    const s = setup();
    await s.accountWithReward('acc-1');
    const body = { redemptionId: 'r-1', amount: 300, at: '2026-12-01T08:00:00Z' };
    s.times.push(at('2026-12-01T10:00:00.000Z'), at('2026-12-01T10:00:00.250Z'));
    await s.service.redeem(s.call('rd-1', '/v1/ledger/accounts/acc-1/redemptions', body), 'acc-1');
    jest.clearAllMocks();
    const claimedAgainAt = at('2026-12-01T11:00:00.000Z');
    s.times.push(claimedAgainAt);

    // Another key, the same redemption: the idempotency record is new, the ledger's redemption is not.
    const answer = await s.service.redeem(s.call('rd-1-retry', '/v1/ledger/accounts/acc-1/redemptions', body), 'acc-1');

    expect(s.run.mock.calls[0]![0].now).toBe(claimedAgainAt);
    expect(s.next).not.toHaveBeenCalled();
    expect(s.insert).not.toHaveBeenCalled();
    expect(JSON.parse(answer.body)).toMatchObject({ redemptionId: 'r-1', balance: 200, decisionId: null });
  });

  it('pages entries through a store over a fresh EntityManager, and answers an unknown account 404', async () => {
    const s = setup();
    await s.accountWithReward('acc-1');

    const page = await s.service.entries(principal, 'acc-1', 10, undefined);
    expect(s.create.mock.calls[0]![0]).toBe(s.em);
    expect(page).toMatchObject({ items: [{ seq: 1, type: 'REWARD', amount: 500 }], nextCursor: null });

    const missing = await s.service.entries(principal, 'nobody', 10, undefined).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(DomainError);
    expect(missing).toMatchObject({ code: 'ACCOUNT_NOT_FOUND', kind: 'not_found' });
    expect(s.now).not.toHaveBeenCalled();
    expect(s.next).not.toHaveBeenCalled();
  });
});
