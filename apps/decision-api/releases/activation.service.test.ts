/**
 * ActivationService over strict fakes and the real built-in release: an activation is a command that takes the
 * tenant's lock first, runs the release gate, records who and when (the request's record time), audits, writes the
 * release.activated event in the same transaction and notifies,
 * and refreshes this instance after commit.
 */
import { jest } from '@jest/globals';
import { resolve } from 'node:path';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { FileComponentSource, ReleaseCompiler, type CompiledRelease, type TenantComponentSource } from '../../../libs/decisions/index.js';
import type { ActivationRow, AuditRepository, Clock, Database, OutboxRepository, Principal, ReleaseActivationsRepository } from '../../../libs/persistence/index.js';
import { strict } from '../test-support/strict.js';
import { ActivationService } from './activation.service.js';
import type { ReleaseRegistry } from './release.registry.js';
import { Metrics } from '../metrics/metrics.js';
import type { AppConfig } from '../config.js';

const root = resolve(import.meta.dirname, '../../..');
const principal: Principal = { keyId: 'key-9', tenant: 'acme', name: 'release-manager', roles: ['publisher'] };
const now = new Date('2026-12-02T10:00:00.000Z');
const TARGET = { name: 'default', version: '1.0.0' };

let builtin: CompiledRelease;
beforeAll(async () => {
  const files = new FileComponentSource(root);
  builtin = await new ReleaseCompiler(files).compile((await files.release('default', '1.0.0'))!);
});

function setup(current: { active?: ActivationRow } = {}, o: { release?: CompiledRelease; retentionDays?: number; builtin?: boolean } = {}) {
  const tx = strict<SqlEntityManager>('tx');
  const calls: string[] = [];
  /** Records the call's name, in order, and resolves to `value`. */
  const step = <T>(name: string, value: T) => (): Promise<T> => (calls.push(name), Promise.resolve(value));
  const lockTenant = jest.fn<ReleaseActivationsRepository['lockTenant']>(step('lock', undefined));
  const currentRows = jest.fn<ReleaseActivationsRepository['current']>(step('current', current));
  const insert = jest.fn<ReleaseActivationsRepository['insert']>((_em, a) => (calls.push('insert'), Promise.resolve({ ...a, seq: 7 })));
  const notify = jest.fn<ReleaseActivationsRepository['notify']>(step('notify', undefined));
  const append = jest.fn<AuditRepository['append']>(step('audit', undefined as Awaited<ReturnType<AuditRepository['append']>>));
  const event = jest.fn<OutboxRepository['append']>(step('event', 'event-1'));
  const refreshTenant = jest.fn<ReleaseRegistry['refreshTenant']>(() => Promise.resolve());
  const registry = strict<ReleaseRegistry>('registry', {
    source: () => strict<TenantComponentSource>('source'),
    manifest: () => Promise.resolve({ manifest: (o.release ?? builtin).manifest, builtin: o.builtin ?? o.release === undefined }),
    compile: () => Promise.resolve(o.release ?? builtin),
    builtinRelease: builtin,
    refreshTenant,
  });
  const service = new ActivationService(
    strict<Database>('db'),
    strict<Clock>('clock'),
    registry,
    strict<ReleaseActivationsRepository>('repo', { lockTenant, current: currentRows, insert, notify }),
    strict<AuditRepository>('audit', { append }),
    strict<OutboxRepository>('outbox', { append: event }),
    new Metrics(),
    strict<AppConfig>('config', { retentionDays: o.retentionDays ?? 400, retentionDaysTenants: {} }),
  );
  return { service, tx, calls, insert, append, event, refreshTenant };
}

describe('ActivationService', () => {
  it('activating the release already in force records nothing and says so', async () => {
    const s = setup();
    const outcome = await s.service.activate(principal, TARGET).apply({ em: s.tx, now, key: 'a-1' });
    expect(outcome).toMatchObject({ result: 'unchanged', value: { name: 'default', version: '1.0.0', changed: false } });
    expect(s.calls).toEqual(['lock', 'current']);
  });

  it('an activation locks the tenant first, then records, audits and notifies at the request’s time; this instance refreshes after commit', async () => {
    const active: ActivationRow = {
      seq: 3,
      tenant: 'acme',
      slot: 'active',
      action: 'activate',
      release: { name: 'acme-main', version: '2.0.0' },
      previousSeq: null,
      previous: TARGET,
      actor: { keyId: 'key-1', name: 'someone' },
      at: new Date('2026-12-01T00:00:00Z'),
    };
    const s = setup({ active });
    const command = s.service.activate(principal, TARGET);
    const outcome = await command.apply({ em: s.tx, now, key: 'a-2' });

    expect(s.calls).toEqual(['lock', 'current', 'insert', 'audit', 'event', 'notify']);
    expect(s.event.mock.calls[0]![0]).toBe(s.tx);
    expect(s.event.mock.calls[0]![1]).toEqual({
      tenant: 'acme',
      type: 'release.activated',
      data: { release: TARGET, previous: active.release, actor: { type: 'key', id: 'key-9', name: 'release-manager' }, action: 'activate' },
      occurredAt: now,
    });
    expect(s.insert.mock.calls[0]![1]).toMatchObject({ tenant: 'acme', slot: 'active', action: 'activate', release: TARGET, previousSeq: 3, previous: active.release, actor: { keyId: 'key-9', name: 'release-manager' }, at: now });
    expect(s.append.mock.calls[0]![1]).toMatchObject({ actor: { id: 'key-9', role: 'publisher' }, action: 'release.activated', details: { from: 'acme-main@2.0.0', to: 'default@1.0.0' }, at: now });
    expect(outcome).toMatchObject({ result: 'done', value: { name: 'default', changed: true, activatedAt: now.toISOString(), activatedBy: { id: 'key-9' } } });
    expect(s.refreshTenant).not.toHaveBeenCalled();
    await command.afterCommit!(outcome);
    expect(s.refreshTenant).toHaveBeenCalledWith('acme');
  });

  it("refuses a release whose feature windows are longer than the tenant's retention (it may have been created under a longer one)", async () => {
    const files = new FileComponentSource(root);
    const withFeatures = await new ReleaseCompiler(files).compile({ ...(await files.release('default', '1.4.0'))!, name: 'acme-main', version: '3.0.0' });
    const short = setup({}, { release: withFeatures, retentionDays: 7 });
    await expect(short.service.activate(principal, { name: 'acme-main', version: '3.0.0' }).apply({ em: short.tx, now, key: 'a-3' })).rejects.toMatchObject({
      code: 'FEATURE_WINDOW_BEYOND_RETENTION',
      kind: 'unprocessable',
      errors: expect.arrayContaining([expect.objectContaining({ path: expect.stringMatching(/^\/components\/refund\/features\/[A-Za-z0-9]+\/window$/) })]),
    });
    expect(short.insert).not.toHaveBeenCalled();
    // Within retention it activates; a built-in release does whatever the retention (the start warns instead).
    const long = setup({}, { release: withFeatures, retentionDays: 400 });
    expect(await long.service.activate(principal, { name: 'acme-main', version: '3.0.0' }).apply({ em: long.tx, now, key: 'a-4' })).toMatchObject({ result: 'done' });
    const shipped = setup({}, { release: withFeatures, retentionDays: 7, builtin: true });
    expect(await shipped.service.activate(principal, { name: 'acme-main', version: '3.0.0' }).apply({ em: shipped.tx, now, key: 'a-5' })).toMatchObject({ result: 'done' });
  });

  it('a rollback with nothing to go back to is a business refusal', async () => {
    const s = setup();
    await expect(s.service.rollback(principal).apply({ em: s.tx, now, key: 'r-1' })).rejects.toMatchObject({ code: 'NO_PREVIOUS_RELEASE', kind: 'unprocessable' });
    expect(s.calls).toEqual(['lock', 'current']);
  });
});
