/** Stored decisions of one type and time window as simulation items: the case as received, the answer as first given. */
import { simulatedFrom, storedPlatformValues, type SimulationItem } from '../../../libs/decisions/index.js';
import { SimulationsRepository, type Database, type ReplayWindow } from '../../../libs/persistence/index.js';

export const REPLAY_PAGE_SIZE = 1_000;

/**
 * At most `total` items, oldest first, read page by page so a 100,000-decision replay never sits in memory at once.
 * The next page is read while the current one is being decided (on PostgreSQL the two overlap).
 */
export async function* replayItems(
  db: Database,
  repo: SimulationsRepository,
  tenant: string,
  type: { name: string; outputNames: readonly string[] },
  window: ReplayWindow,
  total: number,
): AsyncGenerator<SimulationItem[]> {
  const fetch = (size: number, after?: { createdAt: Date; id: string }) => {
    const page = repo.replayPage(db.em(), tenant, type.name, type.outputNames, window, size, after);
    page.catch(() => undefined); // a page nobody awaits any more (the run was stopped) must not reject unhandled
    return page;
  };
  let left = total;
  let next = left > 0 ? fetch(Math.min(REPLAY_PAGE_SIZE, left)) : undefined;
  while (next) {
    const rows = await next;
    if (rows.length === 0) return;
    left -= rows.length;
    const last = rows[rows.length - 1]!;
    next = left > 0 ? fetch(Math.min(REPLAY_PAGE_SIZE, left), { createdAt: last.createdAt, id: last.id }) : undefined;
    yield rows.map((r) => ({
      caseRef: r.id,
      input: r.caseData,
      baseline: simulatedFrom({ outcome: r.outcome, reasons: r.reasons, ...r.output }, type.outputNames),
      ...(r.refundId !== null ? { refundId: r.refundId } : {}),
      ...(r.features !== null && { platform: storedPlatformValues(r.features)! }),
    }));
  }
}
