/** Activation, rollback and shadow of releases per tenant: checked, recorded in release_activations, audited, announced. */
import { Inject, Injectable } from '@nestjs/common';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { keyActor } from '../../../libs/audit/index.js';
import { checkActivation, checkReleaseRetention, checkShadow, type CompiledRelease } from '../../../libs/decisions/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import {
  AuditRepository,
  RELEASE_CHANNEL,
  ReleaseActivationsRepository,
  type ActivationRow,
  type Clock,
  type Database,
  OutboxRepository,
  type NewActivation,
  type Principal,
  type ReleaseId,
} from '../../../libs/persistence/index.js';
import { done, transactional, unchanged, type Outcome, type TransactionalCommand } from '../commands/command.js';
import { encodeCursor } from '../http/cursor.js';
import { Metrics } from '../metrics/metrics.js';
import { tenantRetentionDays, type AppConfig } from '../config.js';
import { APP_CONFIG, CLOCK, DATABASE } from '../tokens.js';
import { checkRedemptionType, ReleaseRegistry } from './release.registry.js';

export interface ActiveReleaseView {
  name: string;
  version: string;
  components: Record<string, string>;
  /** null while the tenant runs on the built-in release it never chose. */
  activatedAt: string | null;
  activatedBy: { id: string; name: string } | null;
  /** What a rollback would go back to; null when there is nothing. */
  previous: ReleaseId | null;
}

function activeView(release: CompiledRelease, row: ActivationRow | undefined): ActiveReleaseView {
  return {
    name: release.ref.name,
    version: release.ref.version,
    components: release.ref.components,
    activatedAt: row ? row.at.toISOString() : null,
    activatedBy: row ? { id: row.actor.keyId, name: row.actor.name } : null,
    previous: row?.previous ?? null,
  };
}

const idOf = (r: CompiledRelease): ReleaseId => ({ name: r.ref.name, version: r.ref.version });
const same = (a: ReleaseId, b: ReleaseId) => a.name === b.name && a.version === b.version;
const label = (r: ReleaseId | null) => (r ? `${r.name}@${r.version}` : 'none');

@Injectable()
export class ActivationService {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly registry: ReleaseRegistry,
    private readonly repo: ReleaseActivationsRepository,
    private readonly audit: AuditRepository,
    private readonly outbox: OutboxRepository,
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** What decides for this tenant on this instance now. */
  active(principal: Principal): ActiveReleaseView {
    return activeView(this.registry.active(principal.tenant), this.registry.activeRow(principal.tenant));
  }

  /** Activations, rollbacks and shadow starts/stops of the tenant, newest first (`before`: the last seq served). */
  async history(principal: Principal, limit: number, before?: number) {
    const rows = await this.repo.history(this.db.em(), principal.tenant, limit + 1, before);
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => ({
        seq: r.seq,
        at: r.at.toISOString(),
        slot: r.slot,
        action: r.action,
        release: r.release,
        // What this row took the place of: the slot's row before it, or (none before) what the row itself recorded as
        // deciding then (the built-in release of that day, not today's) / no shadow.
        replaced: r.replacedBuiltin ? (r.slot === 'active' ? r.previous : null) : r.replaced,
        previous: r.previous,
        actor: { keyId: r.actor.keyId, name: r.actor.name },
      })),
      nextCursor: rows.length > limit ? encodeCursor({ seq: page[page.length - 1]!.seq }) : null,
    };
  }

  activate(principal: Principal, target: ReleaseId) {
    return this.change(principal, 'activate', async (em, now) => {
      const source = this.registry.source(principal.tenant, em);
      const { manifest, builtin } = await this.registry.manifest(source, target);
      const release = await this.registry.compile(source, manifest);
      await checkActivation(release);
      checkRedemptionType(release);
      // A built-in release (the newest decides for every tenant that activated none) is not refused for its windows:
      // the start warns where they exceed a configured retention.
      if (!builtin) checkReleaseRetention(release, tenantRetentionDays(this.config, principal.tenant));
      const current = (await this.repo.current(em, principal.tenant)).active;
      const from = current?.release ?? idOf(this.registry.builtinRelease);
      if (same(from, target)) {
        // Already active: nothing to record; the answer says so.
        return unchanged({ ...activeView(release, current), changed: false });
      }
      const row = await this.record(em, principal, now, 'release.activated', {
        slot: 'active',
        action: 'activate',
        release: target,
        previousSeq: current?.seq ?? null,
        previous: from,
      });
      return done({ ...activeView(release, row), changed: true });
    });
  }

  /** Back to the release the active one replaced; rolling back again walks further back, down to the built-in. */
  rollback(principal: Principal) {
    return this.change(principal, 'rollback', async (em, now) => {
      const current = (await this.repo.current(em, principal.tenant)).active;
      if (!current?.previous) {
        throw new DomainError('NO_PREVIOUS_RELEASE', 'There is no previously active release to roll back to', 'unprocessable');
      }
      const target = current.previous;
      const source = this.registry.source(principal.tenant, em);
      // No test run here: it was checked when it was activated (or is the built-in release), and a rollback must not be blocked.
      const release = await this.registry.compile(source, (await this.registry.manifest(source, target)).manifest);
      const before = current.previousSeq === null ? undefined : await this.repo.bySeq(em, principal.tenant, current.previousSeq);
      const row = await this.record(em, principal, now, 'release.rolled_back', {
        slot: 'active',
        action: 'rollback',
        release: target,
        previousSeq: before?.previousSeq ?? null,
        previous: before?.previous ?? null,
      }, current.release);
      return done({ ...activeView(release, row), changed: true, rolledBack: current.release });
    });
  }

  /** Evaluates live refund decisions on `target` too, next to the active release, from now until cleared or replaced. */
  startShadow(principal: Principal, target: ReleaseId) {
    return this.change(principal, null, async (em, now) => {
      const source = this.registry.source(principal.tenant, em);
      const release = await this.registry.compile(source, (await this.registry.manifest(source, target)).manifest);
      checkShadow(release);
      const current = (await this.repo.current(em, principal.tenant)).shadow;
      const row = await this.record(em, principal, now, 'release.shadow_started', {
        slot: 'shadow',
        action: 'shadow',
        release: target,
        previousSeq: current?.seq ?? null,
        previous: current?.release ?? null,
      });
      return done({ shadow: target, components: release.ref.components, since: row.at.toISOString() });
    });
  }

  /** Stops the shadow evaluation; without one this changes nothing (DELETE is idempotent by itself). */
  async stopShadow(principal: Principal): Promise<{ stopped: ReleaseId | null }> {
    const now = this.clock.now();
    const stopped = await this.db.em().transactional(async (em) => {
      await this.repo.lockTenant(em, principal.tenant);
      const current = (await this.repo.current(em, principal.tenant)).shadow;
      if (!current?.release) return null;
      await this.record(em, principal, now, 'release.shadow_stopped', {
        slot: 'shadow',
        action: 'shadow_clear',
        release: null,
        previousSeq: current.seq,
        previous: current.release,
      });
      return current.release;
    });
    await this.registry.refreshTenant(principal.tenant);
    return { stopped };
  }

  /**
   * One state change under the tenant's activation lock (in the command's transaction, with its claim), then, after
   * commit, this instance's refresh, so the caller's next request here sees the change at once; other instances follow
   * by NOTIFY or poll.
   */
  private change<T>(
    principal: Principal,
    counted: 'activate' | 'rollback' | null,
    effect: (em: SqlEntityManager, now: Date) => Promise<Outcome<T>>,
  ): TransactionalCommand<T> {
    return transactional(
      async ({ em, now }) => {
        await this.repo.lockTenant(em, principal.tenant);
        return effect(em, now);
      },
      {
        afterCommit: (outcome) => {
          // An activation of the release already active changed nothing ('unchanged'): not an activation.
          if (counted && outcome.result === 'done') this.metrics.releaseActivated(principal.tenant, counted);
          return this.registry.refreshTenant(principal.tenant);
        },
      },
    );
  }

  /** Writes the activation row, its audit entry (who: key id and name; from; to) and the notification. */
  private async record(
    em: SqlEntityManager,
    principal: Principal,
    now: Date,
    action: string,
    a: Omit<NewActivation, 'tenant' | 'actor' | 'at'>,
    from: ReleaseId | null = a.previous,
  ): Promise<ActivationRow> {
    const row = await this.repo.insert(em, { ...a, tenant: principal.tenant, actor: { keyId: principal.keyId, name: principal.name }, at: now });
    // The row's time: `now`, or just after the change this one waited for (insert).
    const at = row.at;
    await this.audit.append(em, {
      tenant: principal.tenant,
      actor: keyActor(principal, 'publisher'),
      action,
      subjectType: 'release',
      subjectId: label(a.release ?? a.previous),
      details: { actorName: principal.name, slot: a.slot, from: label(from), to: label(a.release), activation: row.seq },
      at,
    });
    if (a.slot === 'active' && a.release) {
      // In the activation's transaction: the event exists exactly when the change does (a rollback is an activation of
      // the release it goes back to; `action` tells them apart).
      await this.outbox.append(em, {
        tenant: principal.tenant,
        type: 'release.activated',
        data: { release: a.release, previous: from, actor: { type: 'key', id: principal.keyId, name: principal.name }, action: a.action },
        occurredAt: at,
      });
    }
    await this.repo.notify(em, RELEASE_CHANNEL, principal.tenant);
    return row;
  }
}
