/** Stored decisions of one type and time window as simulation items: the case as received, the answer as first given. */
import type { SimulationsRepository, Database, ReplayRow, ReplayWindow } from '../../../libs/persistence/index.js';
import { replayItem } from './replay-item.js';
import type { SimulationItem } from '../../../libs/decisions/index.js';

export const REPLAY_PAGE_SIZE = 2_000;

/**
 * At most `total` stored decisions, oldest first, read page by page (keyset pages of the columns a replay needs) so a
 * 100,000-decision replay never sits in memory at once. The next page is read while the current one is being decided
 * (on PostgreSQL the two overlap).
 */
export async function* replayRows(
  db: Database,
  repo: SimulationsRepository,
  tenant: string,
  type: { name: string; outputNames: readonly string[] },
  window: ReplayWindow,
  total: number,
): AsyncGenerator<ReplayRow[]> {
  const fetch = (size: number, after?: { createdAt: string; id: string }) => {
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
    yield rows;
  }
}

/** replayRows as simulation items, decided in this thread. */
export async function* replayItems(
  db: Database,
  repo: SimulationsRepository,
  tenant: string,
  type: { name: string; outputNames: readonly string[] },
  window: ReplayWindow,
  total: number,
): AsyncGenerator<SimulationItem[]> {
  for await (const rows of replayRows(db, repo, tenant, type, window, total)) yield rows.map((r) => replayItem(r, type.outputNames));
}
