/** The ledger hands a recording store the account's Reward Integrity verdict after every write that can move it, and only then. */
import { Ledger } from './ledger.js';
import { InMemoryLedgerStore } from './memory-store.js';
import { allPrograms, gate } from './ledger.test-support.js';
import { StaticProgramResolver } from './program.js';
import type { IntegrityVerdict, LedgerUnitOfWork } from './types.js';

/** The in-memory store, with units of work that record the verdicts they are given. */
class RecordingStore extends InMemoryLedgerStore {
  readonly verdicts: IntegrityVerdict[] = [];
  override withAccount<T>(tenant: string, accountId: string, fn: (uow: LedgerUnitOfWork) => Promise<T>): Promise<T> {
    return super.withAccount(tenant, accountId, (uow) => {
      uow.recordIntegrity = (v) => {
        this.verdicts.push(structuredClone(v));
        return Promise.resolve();
      };
      return fn(uow);
    });
  }
}

async function setup() {
  const store = new RecordingStore();
  const ledger = new Ledger(store, new StaticProgramResolver(allPrograms()), await gate());
  return { store, ledger };
}

describe('Reward Integrity verdicts on the write path', () => {
  it("issuer-a's double dip: every write reports the verdict; the refund turns it false and names the transaction", async () => {
    const { store, ledger } = await setup();
    await ledger.openAccount('t', 'a1', { program: 'issuer-a', currency: 'EUR', cycleAnchorDay: 1 });
    await ledger.recordPurchase('t', 'a1', { transactionId: 'x1', amount: 100000, category: 'GROCERY', occurredAt: '2026-03-02T10:00:00Z' });
    expect(store.verdicts).toHaveLength(0); // opening and a PENDING purchase cannot move the verdict
    await ledger.settle('t', 'x1', { settledAt: '2026-03-02T10:00:00Z' });
    const redeemed = await ledger.redeem('t', 'a1', { redemptionId: 'r1', amount: 3000, at: '2026-03-03T00:00:00Z' });
    expect(redeemed.allowed).toBe(true);
    expect(store.verdicts.map((v) => v.report.rewardIntegrity)).toEqual([true, true]);
    expect(store.verdicts.every((v) => v.violating.length === 0)).toBe(true);

    await ledger.refund('t', 'x1', { refundId: 'f1', amount: 100000, at: '2026-04-02T10:00:00Z' });
    const last = store.verdicts[store.verdicts.length - 1]!;
    expect(last.report.rewardIntegrity).toBe(false);
    expect(last.at).toBe('2026-04-02T10:00:00.000Z');
    expect(last.account).toMatchObject({ accountId: 'a1', balance: 2000, redeemed: 3000 });
    expect(last.violating.map((t) => t.transactionId)).toEqual(['x1']);
    // The same verdict the account view answers.
    const view = await ledger.view('t', 'a1');
    expect(view.integrity.rewardIntegrity).toBe(false);
    expect(last.report.violations).toEqual(view.integrity.violations);
  });

  it('reads and refused writes report nothing', async () => {
    const { store, ledger } = await setup();
    await ledger.openAccount('t', 'a2', { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 });
    await ledger.recordPurchase('t', 'a2', { transactionId: 'y1', amount: 10000, category: 'GROCERY', occurredAt: '2026-03-02T10:00:00Z' });
    await ledger.settle('t', 'y1', { settledAt: '2026-03-02T10:00:00Z' });
    const n = store.verdicts.length;
    await ledger.view('t', 'a2');
    await ledger.transaction('t', 'y1');
    await ledger.entries('t', 'a2', { limit: 10 });
    await expect(ledger.refund('t', 'y1', { refundId: 'f9', amount: 999999, at: '2026-03-03T00:00:00Z' })).rejects.toMatchObject({ kind: 'unprocessable' });
    expect(store.verdicts).toHaveLength(n);
  });

  it('issuer-f: the statement close that lands the clawback reports the verdict true again', async () => {
    const { store, ledger } = await setup();
    await ledger.openAccount('t', 'a3', { program: 'issuer-f', currency: 'EUR', cycleAnchorDay: 1 });
    await ledger.recordPurchase('t', 'a3', { transactionId: 'z1', amount: 100000, category: 'GROCERY', occurredAt: '2026-03-02T10:00:00Z' });
    await ledger.settle('t', 'z1', { settledAt: '2026-03-02T10:00:00Z' });
    await ledger.refund('t', 'z1', { refundId: 'g1', amount: 100000, at: '2026-03-05T10:00:00Z' });
    expect(store.verdicts[store.verdicts.length - 1]!.report.rewardIntegrity).toBe(false);
    await ledger.closeStatement('t', 'a3', { periodEnd: '2026-04-01T00:00:00Z' });
    const last = store.verdicts[store.verdicts.length - 1]!;
    expect(last).toMatchObject({ at: '2026-04-01T00:00:00.000Z', report: { rewardIntegrity: true }, violating: [] });
  });
});
