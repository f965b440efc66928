/**
 * DecisionsService over strict fakes and the real built-in release: a decision is validated and evaluated before any
 * write, then handed to the mechanism as a statement command that stores it under an id minted at the record time.
 */
import { jest } from '@jest/globals';
import { resolve } from 'node:path';
import { FileComponentSource, ReleaseCompiler, type CompiledRelease } from '../../../libs/decisions/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import type { Database, DecisionRecord, DecisionsRepository, FeatureHistoryRepository, IdFactory, SubjectsRepository, IdempotencyClaim, Principal } from '../../../libs/persistence/index.js';
import type { Pseudonyms } from './pseudonyms.js';
import { refundCase } from '../../../test/support/refund-cases.js';
import type { ReleaseRegistry } from '../releases/release.registry.js';
import type { ShadowService } from '../releases/shadow.service.js';
import { strict } from '../test-support/strict.js';
import { DecisionsService, type DecisionDocument } from './decisions.service.js';
import type { RefundDecisions } from '../refunds/refund-decisions.js';
import type { StatementCommand } from '../commands/command.js';
import { Metrics } from '../metrics/metrics.js';
import type { Tracing } from '../tracing/tracing.js';
import { RecordingTracer } from '../../../libs/tracing/recording.test-support.js';

/** Release 1.0.0's refund type has no lifecycle: its decisions are one claimed statement. */
const statement = (c: unknown) => c as StatementCommand<unknown>;

const root = resolve(import.meta.dirname, '../../..');
const principal: Principal = { keyId: 'key-1', tenant: 'acme', name: 'checkout', roles: ['service'] };
const claim: IdempotencyClaim = { key: 'k-1', requestHash: 'h', method: 'POST', path: '/v1/decisions/refund', status: 201, contentType: 'application/json' };
const now = new Date('2026-12-02T10:00:00.000Z');
/** A UUID that says which time it was minted at. */
const idAt = (d: Date) => `00000000-0000-7000-8000-${d.getTime().toString(16).padStart(12, '0')}`;

let release: CompiledRelease;
beforeAll(async () => {
  const files = new FileComponentSource(root);
  release = await new ReleaseCompiler(files).compile((await files.release('default', '1.0.0'))!);
});

function setup(o: { shadow?: boolean; inserted?: boolean; record?: DecisionRecord; tracer?: RecordingTracer } = {}) {
  const em = strict<ReturnType<Database['em']>>('em');
  const db = strict<Database>('db', { em: () => em });
  const next = jest.fn<IdFactory['next']>(idAt);
  const insertClaimed = jest.fn<DecisionsRepository['insertClaimed']>(() => Promise.resolve(o.inserted ?? true));
  const findById = jest.fn<DecisionsRepository['findById']>(() => Promise.resolve(o.record ?? null));
  const shadowRelease = { row: strict('row'), release };
  const releases = strict<ReleaseRegistry>('releases', {
    active: () => release,
    shadow: () => (o.shadow ? (shadowRelease as ReturnType<ReleaseRegistry['shadow']>) : undefined),
    pinned: () => Promise.resolve(release),
  });
  const submit = jest.fn<ShadowService['submit']>();
  const metrics = new Metrics();
  const service = new DecisionsService(db, strict<IdFactory>('ids', { next }), strict<DecisionsRepository>('repo', { insertClaimed, findById }), releases, strict<ShadowService>('shadows', { submit }), strict<RefundDecisions>('refundDecisions'), strict<FeatureHistoryRepository>('history'), strict<Pseudonyms>('pseudonyms'), strict<SubjectsRepository>('subjects'), metrics, strict<Tracing>('tracing', { tracer: o.tracer }));
  return { service, em, next, insertClaimed, findById, submit, metrics };
}

describe('DecisionsService.decide', () => {
  it('evaluates before any write, then stores the decision in one claimed statement under an id minted at the record time', async () => {
    const s = setup();
    const command = statement(await s.service.decide(principal, 'refund', { case: refundCase({ refundId: 'rf-1' }) }));
    expect(s.insertClaimed).not.toHaveBeenCalled();
    expect(s.next).not.toHaveBeenCalled();

    const outcome = await command.applyClaimed({ claim, now });

    expect(outcome).not.toBe('taken');
    const made = outcome as Exclude<typeof outcome, 'taken'>;
    expect(made.result).toBe('created');
    const document = JSON.parse((made as { json: string }).json) as DecisionDocument;
    expect(document).toMatchObject({ id: idAt(now), tenant: 'acme', type: 'refund', domain: 'refund', createdAt: now.toISOString(), refundId: 'rf-1', outcome: 'APPROVE', approvedAmount: 4999, tender: 'ORIGINAL' });
    const [em, row, claimed] = s.insertClaimed.mock.calls[0]!;
    expect(em).toBe(s.em);
    expect(claimed).toBe(claim);
    expect(row).toMatchObject({ id: idAt(now), domain: 'refund', outcome: 'APPROVE', idempotencyKey: 'k-1', createdAt: now, evaluatedAt: now, releaseName: 'default' });
    // The stored text is the answered text.
    expect(row.documentJson).toBe((made as { json: string }).json);
  });

  it('answers "taken" when another request holds the key, and shadows only what it stored', async () => {
    const taken = setup({ inserted: false, shadow: true });
    const c1 = statement(await taken.service.decide(principal, 'refund', { case: refundCase() }));
    expect(await c1.applyClaimed({ claim, now })).toBe('taken');

    const shadowed = setup({ shadow: true });
    const c2 = statement(await shadowed.service.decide(principal, 'refund', { case: refundCase() }));
    const outcome = await c2.applyClaimed({ claim, now });
    await c2.afterCommit!(outcome as Exclude<typeof outcome, 'taken'>);
    expect(shadowed.submit).toHaveBeenCalledTimes(1);
    // Counted when committed, not when the key was taken by another request.
    const counted = async (m: Metrics) => (await m.registry.getSingleMetric('decision_platform_decisions_total')!.get()).values;
    expect(await counted(taken.metrics)).toEqual([]);
    expect(await counted(shadowed.metrics)).toEqual([{ labels: { tenant: 'acme', type: 'refund', outcome: 'APPROVE', release: release.id }, value: 1 }]);
    expect(shadowed.submit.mock.calls[0]![0]).toMatchObject({ tenant: 'acme', decisionId: idAt(now), baseline: { outcome: 'APPROVE', riskScore: 0 } });
  });

  it('refuses an unknown or non-callable type (404) and a bad case (400 naming the paths) before touching anything', async () => {
    const s = setup();
    await expect(s.service.decide(principal, 'payout', { case: {} })).rejects.toMatchObject({ code: 'DECISION_TYPE_NOT_FOUND', kind: 'not_found' });
    await expect(s.service.decide(principal, 'redemption', { case: {} })).rejects.toMatchObject({ code: 'DECISION_TYPE_NOT_FOUND' });
    const bad = await s.service.decide(principal, 'refund', { case: refundCase({ requestedAmount: 0 }) }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(DomainError);
    expect((bad as DomainError).errors.map((e) => e.path)).toEqual(['/case/requestedAmount']);
    expect(s.insertClaimed).not.toHaveBeenCalled();
    expect(s.next).not.toHaveBeenCalled();
  });
});

describe('DecisionsService.decide, traced', () => {
  it('validates, evaluates (a span per step under it) and persists, each a span under the caller', async () => {
    const tracer = new RecordingTracer();
    const s = setup({ tracer });
    // The insert runs inside the persist span (its statements would be traced under it).
    let insertedUnder: string | undefined;
    s.insertClaimed.mockImplementation(() => {
      insertedUnder = tracer.spans.find((x) => x.ended === 0 && x.name === 'decision.persist')?.name;
      return Promise.resolve(true);
    });
    await tracer.within('handler', async () => {
      const command = statement(await s.service.decide(principal, 'refund', { case: refundCase() }));
      await command.applyClaimed({ claim, now });
    });
    expect(tracer.tree()).toEqual([
      ' > handler',
      'handler > decision.validate',
      'handler > decision.evaluate',
      'decision.evaluate > decision.step.derive',
      'decision.evaluate > decision.step.policy',
      'decision.evaluate > decision.step.rules',
      'handler > decision.persist',
    ]);
    expect(insertedUnder).toBe('decision.persist');
    expect(tracer.spans.every((x) => x.ended === 1)).toBe(true);
    expect(tracer.spans.find((x) => x.name === 'decision.validate')!.attributes).toEqual({ 'decision.type': 'refund@1.0.0' });
  });

  it('fails the validation span of a bad case with its refusal, and makes no other span', async () => {
    const tracer = new RecordingTracer();
    const s = setup({ tracer });
    await expect(s.service.decide(principal, 'refund', { case: refundCase({ requestedAmount: 0 }) })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(tracer.spans.map((x) => [x.name, x.ended, (x.failed[0] as DomainError | undefined)?.code])).toEqual([['decision.validate', 1, 'VALIDATION_FAILED']]);
  });
});

describe('DecisionsService.replay', () => {
  async function stored() {
    const s = setup();
    const input = refundCase({ disputeOpen: true });
    const command = statement(await s.service.decide(principal, 'refund', { case: input }));
    const made = (await command.applyClaimed({ claim, now })) as { json: string };
    const document = JSON.parse(made.json) as Record<string, unknown>;
    const record = { id: document.id, domain: 'refund', caseData: input, document } as unknown as DecisionRecord;
    return { document, record };
  }

  it('re-decides the stored case on the pinned release: identical', async () => {
    const { document, record } = await stored();
    const s = setup({ record });
    const r = await s.service.replay(principal, String(document.id));
    expect(r.identical).toBe(true);
    expect(r.replayed).toMatchObject({ outcome: 'REVIEW' });
  });

  it('reports a stored answer that the pinned versions no longer give: not identical', async () => {
    const { document, record } = await stored();
    const tampered = { ...record, document: { ...document, approvedAmount: 1 } } as DecisionRecord;
    const r = await setup({ record: tampered }).service.replay(principal, String(document.id));
    expect(r.identical).toBe(false);
  });

  it("replays a decision that merely has a field named overrides; refuses a reviewer's resolution (reasons from review@<id>)", async () => {
    const { document, record } = await stored();
    const withField = { ...record, document: { ...document, overrides: 'a case field of a tenant type' } } as DecisionRecord;
    expect((await setup({ record: withField }).service.replay(principal, String(document.id))).replayed).toMatchObject({ outcome: 'REVIEW' });
    const resolution = {
      ...record,
      document: { ...document, outcome: 'APPROVE', overrides: 'engine-decision', reasons: [{ code: 'GOODWILL', source: 'review@01a23593-27cf-737b-ae78-2386e9eb76b4', rule: 'reviewer' }] },
    } as DecisionRecord;
    await expect(setup({ record: resolution }).service.replay(principal, String(document.id))).rejects.toMatchObject({ code: 'DECISION_NOT_REPLAYABLE', extensions: { overrides: 'engine-decision' } });
  });
});
