/** Stored decisions of one type and time window as simulation items: the case as received, the answer as first given. */
import { replayRecords, type SimulationsRepository, type Database, type ReplayWindow } from '../../../libs/persistence/index.js';
import { replayItem } from './replay-item.js';
import type { SimulationItem } from '../../../libs/decisions/index.js';

export const REPLAY_PAGE_SIZE = 2_000;
/**
 * Stored decisions per batch (each one JSON text, see ReplayPage): a worker thread's unit of work, ~20 ms of it, so
 * progress and a cancel are seen often and the workers stay even.
 */
export const REPLAY_BATCH_ROWS = 250;

/**
 * At most `total` stored decisions, oldest first, read page by page (keyset pages of the columns a replay needs) so a
 * 100,000-decision replay never sits in memory at once; each page yielded as its batches' JSON texts. The next page is
 * read while the current one is being decided (on PostgreSQL the two overlap).
 */
export async function* replayBatches(
  db: Database,
  repo: SimulationsRepository,
  tenant: string,
  type: { name: string; outputNames: readonly string[] },
  window: ReplayWindow,
  total: number,
): AsyncGenerator<string[]> {
  const fetch = (size: number, after?: { createdAt: string; id: string }) => {
    const page = repo.replayPage(db.em(), tenant, type.name, type.outputNames, window, size, REPLAY_BATCH_ROWS, after);
    page.catch(() => undefined); // a page nobody awaits any more (the run was stopped) must not reject unhandled
    return page;
  };
  let left = total;
  let next = left > 0 ? fetch(Math.min(REPLAY_PAGE_SIZE, left)) : undefined;
  while (next) {
    const page = await next;
    if (page.rows === 0 || !page.last) return;
    left -= page.rows;
    next = left > 0 ? fetch(Math.min(REPLAY_PAGE_SIZE, left), page.last) : undefined;
    yield page.batches;
  }
}

/** replayBatches as simulation items, decided in this thread. */
export async function* replayItems(
  db: Database,
  repo: SimulationsRepository,
  tenant: string,
  type: { name: string; outputNames: readonly string[] },
  window: ReplayWindow,
  total: number,
): AsyncGenerator<SimulationItem[]> {
  for await (const batches of replayBatches(db, repo, tenant, type, window, total)) yield batches.flatMap((b) => replayRecords(b).map((r) => replayItem(r, type.outputNames)));
}
