/** Numbers, money and times as the reader's locale writes them. Money arrives in integer minor units. */
import { LOCALE, t } from '../i18n/index.js';

const DIGITS: Record<string, number> = { JPY: 0, KRW: 0, CLP: 0, VND: 0, ISK: 0, HUF: 2, KWD: 3, BHD: 3, JOD: 3, OMR: 3, TND: 3 };

export function money(minor: number | null | undefined, currency: string | null | undefined): string {
  if (minor === null || minor === undefined) return t('format.none');
  const code = currency ?? 'EUR';
  const digits = DIGITS[code] ?? 2;
  try {
    return new Intl.NumberFormat(LOCALE, { style: 'currency', currency: code, minimumFractionDigits: digits, maximumFractionDigits: digits }).format(minor / 10 ** digits);
  } catch {
    return `${minor} ${code}`;
  }
}

/** Minor units from what a person types ("12.50" → 1250 for EUR); undefined when it is not an amount. */
export function parseMoney(text: string, currency: string): number | undefined {
  const digits = DIGITS[currency] ?? 2;
  const m = /^\s*(\d+)(?:[.,](\d*))?\s*$/.exec(text);
  if (!m) return undefined;
  const frac = (m[2] ?? '').padEnd(digits, '0');
  if (frac.length > digits) return undefined;
  return Number(m[1]) * 10 ** digits + (digits ? Number(frac) : 0);
}

export const number = (n: number | null | undefined): string => (n === null || n === undefined ? t('format.none') : new Intl.NumberFormat(LOCALE).format(n));

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return t('format.none');
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : new Intl.DateTimeFormat(LOCALE, { dateStyle: 'medium', timeStyle: 'medium' }).format(d);
}

/** "in 3 h" / "2 d ago" relative to now. */
export function relative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return t('format.none');
  const ms = new Date(iso).getTime() - now;
  const rtf = new Intl.RelativeTimeFormat(LOCALE, { numeric: 'auto' });
  const abs = Math.abs(ms);
  if (abs < 60_000) return rtf.format(Math.round(ms / 1000), 'second');
  if (abs < 3_600_000) return rtf.format(Math.round(ms / 60_000), 'minute');
  if (abs < 86_400_000) return rtf.format(Math.round(ms / 3_600_000), 'hour');
  return rtf.format(Math.round(ms / 86_400_000), 'day');
}

export const percent = (x: number): string => new Intl.NumberFormat(LOCALE, { style: 'percent', maximumFractionDigits: 1 }).format(x);
