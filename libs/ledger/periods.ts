/** Billing periods: each starts at UTC midnight of the account's anchor day (1–28) of a month and ends where the next starts. */

/** One billing period: `start` inclusive, `end` exclusive (the next period's start), as canonical ISO-8601 UTC strings. */
export interface BillingPeriod {
  start: string;
  end: string;
}

const DAY_MS = 86_400_000;

/** Midnight UTC of `day` in month `month` (0-based, may overflow into other years) of `year`; years 0–99 stay literal. */
function utcMidnight(year: number, month: number, day: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  d.setUTCHours(0, 0, 0, 0);
  return d.getTime();
}

function assertAnchorDay(anchorDay: number): void {
  if (!Number.isInteger(anchorDay) || anchorDay < 1 || anchorDay > 28) {
    throw new RangeError(`cycleAnchorDay must be an integer from 1 to 28, got ${anchorDay}`);
  }
}

function toMs(timestamp: string | number | Date): number {
  const ms = typeof timestamp === 'number' ? timestamp : typeof timestamp === 'string' ? Date.parse(timestamp) : timestamp.getTime();
  if (!Number.isFinite(ms)) throw new RangeError(`not a valid timestamp: ${String(timestamp)}`);
  return ms;
}

/** Bounds of the period holding `ms`, in epoch milliseconds. */
export function periodBoundsMs(ms: number, anchorDay: number): { startMs: number; endMs: number } {
  assertAnchorDay(anchorDay);
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth();
  let startMonth = month;
  let startMs = utcMidnight(year, month, anchorDay);
  if (ms < startMs) {
    startMonth = month - 1;
    startMs = utcMidnight(year, startMonth, anchorDay);
  }
  return { startMs, endMs: utcMidnight(year, startMonth + 1, anchorDay) };
}

/**
 * The billing period holding `timestamp` (ISO string, epoch ms or Date) for an account whose
 * cycle starts on `anchorDay` (1–28: every month has those days, so periods never drift).
 */
export function periodOf(timestamp: string | number | Date, anchorDay: number): BillingPeriod {
  const { startMs, endMs } = periodBoundsMs(toMs(timestamp), anchorDay);
  return { start: new Date(startMs).toISOString(), end: new Date(endMs).toISOString() };
}

/** Whether `timestamp` is exactly a period start (= the previous period's end) of that anchor day. */
export function isPeriodBoundary(timestamp: string | number | Date, anchorDay: number): boolean {
  const ms = toMs(timestamp);
  return periodBoundsMs(ms, anchorDay).startMs === ms;
}

/** `timestamp` plus whole days (UTC, 24 h each), as a canonical ISO string. */
export function addDays(timestamp: string, days: number): string {
  return new Date(toMs(timestamp) + days * DAY_MS).toISOString();
}
