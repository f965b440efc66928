/** The PostgreSQL rate-limit store: a lease is one statement on the key's row (libs/rate-limits WindowStore). */
import type { Lease, WindowLimit, WindowStore } from '../rate-limits/index.js';
import type { Database } from './database.js';

// What a lease may get when `left` of the window is left: half of it, or the last token (libs/rate-limits shareOf).
const half = (left: string) => `case when ${left} <= 1 then ${left} else (${left}) / 2 end`;

/**
 * One upsert: a window that ended starts again from this lease; otherwise the lease gets what it asked for, at
 * most half of what is left (the last token whole: `half`). Every
 * expression of the update reads the row as it was before (locked by ON CONFLICT, so concurrent leases queue), which
 * is how `last_granted` can say what this lease got. Time is the database's clock, the same for every instance:
 * whether the window ended is decided once, at the time the VALUES row was made (its ends_at minus the window); the
 * time left is read after the row lock (clock_timestamp(), not the statement's start), so a lease that waited for the
 * lock never counts the wait as window left.
 */
const LEASE = `insert into rate_limit_windows as w (key, used, last_granted, ends_at)
  values (?, least(?::int, ${half('?::int')}), least(?::int, ${half('?::int')}), clock_timestamp() + ?::int * interval '1 millisecond')
  on conflict (key) do update set
    used = case when w.ends_at <= excluded.ends_at - ?::int * interval '1 millisecond' then excluded.used
      else w.used + greatest(0, least(excluded.last_granted, ${half('?::int - w.used')})) end,
    last_granted = case when w.ends_at <= excluded.ends_at - ?::int * interval '1 millisecond' then excluded.last_granted
      else greatest(0, least(excluded.last_granted, ${half('?::int - w.used')})) end,
    ends_at = case when w.ends_at <= excluded.ends_at - ?::int * interval '1 millisecond' then excluded.ends_at else w.ends_at end
  returning last_granted as granted, greatest(0, extract(epoch from (ends_at - clock_timestamp())) * 1000)::float8 as ms_left`;

/** `half('?::int')` holds three placeholders: the window's points, thrice. */
const thrice = (n: number) => [n, n, n];

/** Windows that ended this long ago are deleted (by the first lease after each such interval). */
const SWEEP_AFTER_MS = 3_600_000;

export class RateLimitWindowsStore implements WindowStore {
  private nextSweep = 0;

  constructor(
    private readonly db: Database,
    private readonly now: () => number = Date.now,
  ) {}

  async lease(key: string, want: number, limit: WindowLimit): Promise<Lease> {
    this.sweepNow();
    const [row] = await this.db
      .em()
      .execute<{ granted: number; ms_left: number }[]>(LEASE, [
      key, want, ...thrice(limit.points), want, ...thrice(limit.points), limit.windowMs,
      limit.windowMs, ...thrice(limit.points), limit.windowMs, ...thrice(limit.points), limit.windowMs,
    ]);
    return { granted: Number(row!.granted), msLeft: Number(row!.ms_left) };
  }

  /** Keys seen once (an address that failed once) would stay forever: the ended windows go, in the background. */
  private sweepNow(): void {
    const now = this.now();
    if (now < this.nextSweep) return;
    this.nextSweep = now + SWEEP_AFTER_MS;
    this.db
      .em()
      .execute(`delete from rate_limit_windows where ends_at < now() - interval '1 hour'`)
      .catch(() => undefined); // the next interval tries again
  }
}
