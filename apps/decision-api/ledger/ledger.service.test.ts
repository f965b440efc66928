/**
 * LedgerService over strict fakes: every collaborator throws on a member the test did not stub, and ids are derived
 * from the time they are minted at, so each test shows which time and id went where. A write is a command: the test
 * applies it as the idempotent-command mechanism would, with the request's transaction, record time and key.
 * The ledger itself is the real one over the in-memory store; the gate is a stub (its policy is tested in libs/ledger).
 */
import { jest } from '@jest/globals';
import type { SqlEntityManager } from '@mikro-orm/sql';
import type { CompiledRelease, FileComponentSource, TenantComponentSource } from '../../../libs/decisions/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import { InMemoryLedgerStore, type OpaRedemptionGate, type RedemptionGateResult } from '../../../libs/ledger/index.js';
import { packJson } from '../../../libs/ledger/ledger.test-support.js';
import type {
  AuditRepository,
  CatalogueRepository,
  Database,
  DecisionsRepository,
  PayoutsRepository,
  IdFactory,
  NewDecision,
  PgLedgerStore,
  PgLedgerStoreFactory,
  Principal,
} from '../../../libs/persistence/index.js';
import type { Outcome, TransactionalCommand } from '../commands/command.js';
import type { ReleaseRegistry } from '../releases/release.registry.js';
import { strict } from '../test-support/strict.js';
import { LedgerService } from './ledger.service.js';
import { Metrics } from '../metrics/metrics.js';

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

  const next = jest.fn<IdFactory['next']>(idAt);

  const memory = new InMemoryLedgerStore();
  const store = strict<PgLedgerStore>('store', {
    withAccount: memory.withAccount.bind(memory),
    // Like the in-memory store, none: the ledger resolves the transaction's account, then locks it.
    withAccountOfTransaction: undefined,
    accountOfTransaction: memory.accountOfTransaction.bind(memory),
    entries: memory.entries.bind(memory),
    accountExists: (tenant, accountId) => memory.withAccount(tenant, accountId, async (uow) => (await uow.getAccount(accountId)) !== null),
  });
  const create = jest.fn<PgLedgerStoreFactory['create']>(() => store);

  const evaluate = jest.fn<OpaRedemptionGate['evaluate']>((): RedemptionGateResult => ({ allow: true, reasons: [] }));
  const gate = strict<OpaRedemptionGate>('gate', { ref: GATE_REF, entrypoint: 'ledger/redemption/decision', evaluate });
  const release = strict<CompiledRelease>('release', { ref: RELEASE_REF });
  const pack = jest.fn<TenantComponentSource['pack']>((name) => Promise.resolve(packJson(name)));
  const source = jest.fn<ReleaseRegistry['source']>(() => strict<TenantComponentSource>('source', { pack }));
  const releases = strict<ReleaseRegistry>('releases', { source, redemptionGate: () => ({ release, gate }) });

  const insert = jest.fn<DecisionsRepository['insert']>(() => Promise.resolve());
  const packVersions = jest.fn<FileComponentSource['packVersions']>(() => Promise.resolve(['1.0.0']));
  const listPacks = jest.fn<CatalogueRepository['listPacks']>(() => Promise.resolve([]));

  const service = new LedgerService(
    db,
    strict<FileComponentSource>('files', { packVersions }),
    strict<IdFactory>('ids', { next }),
    releases,
    strict<PgLedgerStoreFactory>('stores', { create }),
    strict<CatalogueRepository>('catalogue', { listPacks }),
    strict<DecisionsRepository>('decisions', { insert }),
    strict<PayoutsRepository>('payouts', { deferredClawbacks: () => Promise.resolve([]) }),
    strict<AuditRepository>('audit', { append: () => Promise.resolve() }),
    { now: () => at('2026-12-01T08:59:00.000Z') },
    new Metrics(),
  );
  /** Applies a write as the mechanism does: inside the request's transaction, at the request's time, with its key. */
  const apply = <T>(command: TransactionalCommand<T>, key: string, now: Date): Promise<Outcome<T>> => command.apply({ em: tx, now, key });

  /** An account with a 500 reward settled (5% of 10,000 in GROCERY), written through the service; clears the mocks. */
  async function accountWithReward(accountId: string) {
    await service.openAccount(principal, accountId, { program: PROGRAM, currency: 'EUR', cycleAnchorDay: 1 });
    const purchase = { transactionId: `${accountId}-t1`, amount: 10000, category: 'GROCERY', occurredAt: '2026-11-02T10:00:00Z' };
    await apply(service.recordPurchase(principal, accountId, purchase), 'p-1', at('2026-12-01T09:00:00.000Z'));
    await apply(service.settle(principal, `${accountId}-t1`, { settledAt: '2026-11-03T10:00:00Z' }), 's-1', at('2026-12-01T09:00:01.000Z'));
    jest.clearAllMocks();
  }

  return { service, apply, tx, em, next, create, source, pack, packVersions, listPacks, evaluate, insert, accountWithReward };
}

describe('LedgerService', () => {
  it('opens an account through the request transaction without minting an id', async () => {
    const s = setup();
    // A bare program name: the newest version among the built-in files and the tenant's stored packs.
    const r = await s.service.openAccount(principal, 'acc-1', { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 });

    expect(r).toMatchObject({ result: 'created', value: { accountId: 'acc-1', program: PROGRAM, balance: 0 } });
    expect(s.create).toHaveBeenCalledTimes(1);
    expect(s.create.mock.calls[0]![0]).toBe(s.tx);
    // Every read goes through the request's transaction (PGlite has one connection).
    expect(s.packVersions).toHaveBeenCalledWith('cashback-default');
    expect(s.listPacks.mock.calls.map(([em, tenant]) => [em === s.tx, tenant])).toEqual([[true, TENANT]]);
    expect(s.source.mock.calls.map(([tenant, em]) => [tenant, em === s.tx])).toEqual([[TENANT, true]]);
    expect(s.pack).toHaveBeenCalledWith('cashback-default', '1.0.0');
    expect(s.next).not.toHaveBeenCalled();
    const again = await s.service.openAccount(principal, 'acc-1', { program: PROGRAM, currency: 'EUR', cycleAnchorDay: 1 });
    expect(again.result).toBe('unchanged');
  });

  it('a write is a command on the request transaction: it answers what the ledger did, in business time', async () => {
    const s = setup();
    await s.service.openAccount(principal, 'acc-1', { program: PROGRAM, currency: 'EUR', cycleAnchorDay: 1 });
    const body = { transactionId: 't-1', amount: 10000, category: 'GROCERY', occurredAt: '2026-11-02T10:00:00Z' };

    const command = s.service.recordPurchase(principal, 'acc-1', body);
    expect(s.create).toHaveBeenCalledTimes(1); // opening only: validating the body touches nothing
    const outcome = await s.apply(command, 'p-1', at('2026-12-01T10:00:00.000Z'));

    expect(s.create.mock.calls[1]![0]).toBe(s.tx);
    // Business time is the request's, untouched by the record time.
    expect(outcome).toMatchObject({ result: 'created', value: { transactionId: 't-1', status: 'PENDING', occurredAt: '2026-11-02T10:00:00.000Z' } });
    expect(s.next).not.toHaveBeenCalled();
    // A bad body is refused before any command exists.
    expect(() => s.service.recordPurchase(principal, 'acc-1', { ...body, amount: -1 })).toThrow(DomainError);
  });

  it('stores an allowed redemption’s gate decision under an id minted at the request’s record time', async () => {
    const s = setup();
    await s.accountWithReward('acc-1');
    const decidedAt = at('2026-12-01T10:00:00.250Z');
    const body = { redemptionId: 'r-1', amount: 300, at: '2026-12-01T08:00:00Z' };

    const outcome = await s.apply(s.service.redeem(principal, 'acc-1', body), 'rd-1', decidedAt);

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
    expect(outcome).toMatchObject({ result: 'created', value: { redemptionId: 'r-1', amount: 300, balance: 200, decisionId: idAt(decidedAt) } });
  });

  it('stores a refused redemption’s decision too and names it in the refusal, which is committed (not thrown)', async () => {
    const s = setup();
    await s.accountWithReward('acc-1');
    s.evaluate.mockReturnValue({ allow: false, reasons: [{ code: 'INSUFFICIENT_REWARD_BALANCE', message: 'balance would fall below 0' }] });
    const decidedAt = at('2026-12-01T10:00:00.250Z');

    const outcome = await s.apply(s.service.redeem(principal, 'acc-1', { redemptionId: 'r-2', amount: 900, at: '2026-12-01T08:00:00Z' }), 'rd-2', decidedAt);

    expect(s.next.mock.calls).toEqual([[decidedAt]]);
    const decision = s.insert.mock.calls[0]![1];
    expect(decision).toMatchObject({ id: idAt(decidedAt), outcome: 'DENY', createdAt: decidedAt, evaluatedAt: decidedAt });
    expect(decision.document).toMatchObject({
      outcome: 'DENY',
      reasons: [{ code: 'INSUFFICIENT_REWARD_BALANCE', message: 'balance would fall below 0', source: GATE_REF, effect: 'DENY' }],
    });
    expect(outcome.result).toBe('refused');
    const error = (outcome as Extract<Outcome, { result: 'refused' }>).error;
    expect(error).toMatchObject({ code: 'INSUFFICIENT_REWARD_BALANCE', kind: 'unprocessable', extensions: { decisionId: idAt(decidedAt) } });
  });

  it('stores no second decision and mints no id when the ledger answers a redemption it already made, naming the first decision', async () => {
    const s = setup();
    await s.accountWithReward('acc-1');
    const body = { redemptionId: 'r-1', amount: 300, at: '2026-12-01T08:00:00Z' };
    const first = await s.apply(s.service.redeem(principal, 'acc-1', body), 'rd-1', at('2026-12-01T10:00:00.250Z'));
    expect(first).toMatchObject({ result: 'created', value: { decisionId: idAt(at('2026-12-01T10:00:00.250Z')) } });
    jest.clearAllMocks();

    // Another key, the same redemption: the idempotency record is new, the ledger's redemption is not.
    const outcome = await s.apply(s.service.redeem(principal, 'acc-1', body), 'rd-1-retry', at('2026-12-01T11:00:00.000Z'));

    expect(s.next).not.toHaveBeenCalled();
    expect(s.insert).not.toHaveBeenCalled();
    expect(outcome).toMatchObject({ result: 'created', value: { redemptionId: 'r-1', balance: 200, decisionId: idAt(at('2026-12-01T10:00:00.250Z')) } });
  });

  it('pages entries through the ledger in one transaction, and answers an unknown account 404 and an impossible id 400', async () => {
    const s = setup();
    await s.accountWithReward('acc-1');

    const page = await s.service.entries(principal, 'acc-1', 10, undefined);
    expect(s.create.mock.calls[0]![0]).toBe(s.tx);
    expect(page).toMatchObject({ items: [{ seq: 1, type: 'REWARD', amount: 500 }], nextCursor: null });

    const missing = await s.service.entries(principal, 'nobody', 10, undefined).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(DomainError);
    expect(missing).toMatchObject({ code: 'ACCOUNT_NOT_FOUND', kind: 'not_found' });
    // The ledger's guard, before any store: a NUL in the path reached PostgreSQL (500).
    const impossible = await s.service.entries(principal, 'a\u0000b', 10, undefined).catch((e: unknown) => e);
    expect(impossible).toMatchObject({ code: 'VALIDATION_FAILED', kind: 'invalid', errors: [{ path: '/accountId' }] });
    expect(s.next).not.toHaveBeenCalled();
  });
});
