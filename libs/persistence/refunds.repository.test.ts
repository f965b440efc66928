/**
 * A refund's state changes, as RefundsRepository sends them: each call's own values in the statement compiled once
 * (the ids in the order they are drawn, the amount and states of that change), checked against the statement built
 * by hand for that call. No database: a Kysely that compiles and records what would be executed.
 */
import type { SqlEntityManager } from '@mikro-orm/sql';
import type { CompiledQuery, Kysely } from 'kysely';
import { SYSTEM } from '../refunds/index.js';
import { compilingKysely } from './compiling-kysely.test-support.js';
import { RefundsRepository, transitionWriteSql, type RefundRow, type TransitionWrite } from './refunds.repository.js';

function recordingEm(): { em: SqlEntityManager; db: Kysely<unknown>; sent: CompiledQuery[] } {
  const db = compilingKysely();
  const sent: CompiledQuery[] = [];
  db.executeQuery = ((q: CompiledQuery) => {
    sent.push(q);
    return Promise.resolve({ rows: [{ refund_id: 'inserted' }] });
  }) as typeof db.executeQuery;
  return { em: { getKysely: () => db, execute: () => Promise.resolve([{ refund_id: 'inserted' }]) } as unknown as SqlEntityManager, db, sent };
}

/** Ids drawn in sequence: id-1, id-2, … */
const sequentialIds = () => {
  let n = 0;
  return { next: () => `00000000-0000-7000-8000-${String(++n).padStart(12, '0')}` };
};

const refund = (over: Partial<RefundRow> = {}): RefundRow => ({
  tenant: 'acme',
  refundId: 'rf_1',
  type: 'refund',
  orderId: 'ord_1',
  customerId: 'cus_1',
  state: 'APPROVED',
  requestedAmount: 5000,
  approvedAmount: 4000,
  capturedAmount: 9000,
  currency: 'EUR',
  reward: null,
  requestedBy: 'key_1',
  decisionId: '00000000-0000-7000-8000-00000000d001',
  createdAt: new Date('2026-03-11T12:00:00Z'),
  updatedAt: new Date('2026-03-11T12:00:00Z'),
  ...over,
});

const id = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;

describe('RefundsRepository state changes', () => {
  it("sends each transition's own values, ids in the order drawn, through the statement compiled once", async () => {
    const { em, db, sent } = recordingEm();
    const repo = new RefundsRepository(sequentialIds());
    const at1 = new Date('2026-03-12T08:00:00.123Z');
    const at2 = new Date('2026-03-13T09:30:00Z');
    const first = await repo.transition(em, { tenant: 'acme', refundId: 'rf_1', to: 'PROCESSING', actor: SYSTEM, at: at1, reason: 'payout started', eventData: { attempt: 1 } }, refund());
    const second = await repo.transition(
      em,
      { tenant: 'beta', refundId: 'rf_2', to: 'SUCCEEDED', actor: { type: 'key', id: 'key_9', role: 'reviewer' }, at: at2, reason: null, decisionId: id(77), approvedAmount: 3000 },
      refund({ tenant: 'beta', refundId: 'rf_2', state: 'PROCESSING' }),
    );
    expect(first?.state).toBe('PROCESSING');
    expect(second?.approvedAmount).toBe(3000);
    const expected: TransitionWrite[] = [
      {
        tenant: 'acme', refundId: 'rf_1', to: 'PROCESSING', from: 'APPROVED', approvedAmount: 4000, at: '2026-03-12T08:00:00.123Z', transitionId: id(2),
        actor: { id: 'system', role: 'system' }, reason: 'payout started', decisionId: null,
        event: { id: id(1), data: { refundId: 'rf_1', orderId: 'ord_1', type: 'refund', from: 'APPROVED', to: 'PROCESSING', actor: { id: 'system', role: 'system' }, reason: 'payout started', decisionId: null, requestedAmount: 5000, approvedAmount: 4000, currency: 'EUR', attempt: 1 } },
      },
      {
        tenant: 'beta', refundId: 'rf_2', to: 'SUCCEEDED', from: 'PROCESSING', approvedAmount: 3000, at: '2026-03-13T09:30:00.000Z', transitionId: id(4),
        actor: { id: 'key_9', role: 'reviewer' }, reason: null, decisionId: id(77),
        event: { id: id(3), data: { refundId: 'rf_2', orderId: 'ord_1', type: 'refund', from: 'PROCESSING', to: 'SUCCEEDED', actor: { id: 'key_9', role: 'reviewer' }, reason: null, decisionId: id(77), requestedAmount: 5000, approvedAmount: 3000, currency: 'EUR' } },
      },
    ];
    expect(sent).toHaveLength(2);
    expected.forEach((w, i) => {
      const built = transitionWriteSql(true, (get) => get(w)).compile(db);
      expect(sent[i]!.sql).toBe(built.sql);
      expect(sent[i]!.parameters).toStrictEqual(built.parameters);
    });
  });

  it("a new refund's first transition does not move the row it just inserted", async () => {
    const { em, db, sent } = recordingEm();
    const repo = new RefundsRepository(sequentialIds());
    const r = refund({ state: 'IN_REVIEW', approvedAmount: 0 });
    expect(await repo.create(em, { ...r, reason: 'RISK_HIGH', actor: SYSTEM })).toBe(true);
    const w: TransitionWrite = {
      tenant: 'acme', refundId: 'rf_1', to: 'IN_REVIEW', from: null, approvedAmount: 0, at: '2026-03-11T12:00:00.000Z', transitionId: id(2),
      actor: { id: 'system', role: 'system' }, reason: 'RISK_HIGH', decisionId: r.decisionId,
      event: { id: id(1), data: { refundId: 'rf_1', orderId: 'ord_1', type: 'refund', from: null, to: 'IN_REVIEW', actor: { id: 'system', role: 'system' }, reason: 'RISK_HIGH', decisionId: r.decisionId, requestedAmount: 5000, approvedAmount: 0, currency: 'EUR' } },
    };
    const built = transitionWriteSql(false, (get) => get(w)).compile(db);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.sql).toBe(built.sql);
    expect(sent[0]!.sql).not.toContain('update refunds');
    expect(sent[0]!.parameters).toStrictEqual(built.parameters);
  });
});
