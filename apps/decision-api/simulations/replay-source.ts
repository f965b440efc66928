/** Stored refund decisions of a time window as simulation items: the case as received, the answer as first given. */
import { simulatedFrom, type RefundCase, type SimulationItem } from '../../../libs/decisions/index.js';
import { SimulationsRepository, type Database, type ReplayWindow } from '../../../libs/persistence/index.js';

export const REPLAY_PAGE_SIZE = 1_000;

const repo = new SimulationsRepository();

/** At most `total` items, oldest first, read page by page so a 100,000-decision replay never sits in memory at once. */
export async function* replayItems(db: Database, tenant: string, window: ReplayWindow, total: number): AsyncGenerator<SimulationItem[]> {
  let after: { createdAt: Date; id: string } | undefined;
  let left = total;
  while (left > 0) {
    const rows = await repo.replayPage(db.em(), tenant, window, Math.min(REPLAY_PAGE_SIZE, left), after);
    if (rows.length === 0) return;
    left -= rows.length;
    const last = rows[rows.length - 1]!;
    after = { createdAt: last.createdAt, id: last.id };
    yield rows.map((r) => ({
      caseRef: r.id,
      refundCase: r.caseData as RefundCase,
      baseline: simulatedFrom(r),
      ...(r.refundId !== null ? { refundId: r.refundId } : {}),
    }));
  }
}
