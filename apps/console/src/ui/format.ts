/** Numbers, money and times as the reader's locale writes them. Money arrives in integer minor units. */
import { LOCALE, t } from '../i18n/index.js';

/**
 * Decimal places of a currency's minor unit, from the same ISO 4217 data the service uses (Intl's, as
 * libs/reviews/resolution.ts reads it): JPY 0, EUR 2, KWD 3, XOF 0 …; undefined for a code Intl does not know.
 */
export function minorDigits(currency: string): number | undefined {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return undefined;
  }
}

/** Minor units as money; without a currency (or with one Intl does not know) the bare minor units and the code. */
export function money(minor: number | null | undefined, currency: string | null | undefined): string {
  if (minor === null || minor === undefined) return t('format.none');
  const digits = currency ? minorDigits(currency) : undefined;
  if (!currency || digits === undefined) return currency ? `${number(minor)} ${currency}` : number(minor);
  return new Intl.NumberFormat(LOCALE, { style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits }).format(minor / 10 ** digits);
}

/** Minor units as a person would type them back ("1250" EUR → "12.50", "5000" JPY → "5000"): the amount field's prefill. */
export function moneyInput(minor: number, currency: string): string {
  const digits = minorDigits(currency) ?? 0;
  if (digits === 0) return String(minor);
  const s = String(Math.abs(minor)).padStart(digits + 1, '0');
  return `${minor < 0 ? '-' : ''}${s.slice(0, -digits)}.${s.slice(-digits)}`;
}

/** Minor units from what a person types ("12.50" → 1250 for EUR); undefined when it is not an amount. */
export function parseMoney(text: string, currency: string): number | undefined {
  const digits = minorDigits(currency);
  if (digits === undefined) return undefined;
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
