/** t(): looks a key up in the catalogue and fills its {placeholders}. One language today; the shape is ready for more. */
import { en } from './en/index.js';

type Leaves<T, P extends string = ''> = {
  [K in keyof T & string]: T[K] extends string ? `${P}${K}` : Leaves<T[K], `${P}${K}.`>;
}[keyof T & string];

export type MessageKey = Leaves<typeof en>;
export type Vars = Record<string, string | number>;

const catalogue: unknown = en;

export function t(key: MessageKey, vars?: Vars): string {
  let node: unknown = catalogue;
  for (const part of key.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  // A missing key shows itself, so a gap in a translation is visible rather than blank.
  if (typeof node !== 'string') return key;
  return vars ? node.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m)) : node;
}

/** The browser's number and date formats for the catalogue's language. */
export const LOCALE = 'en';
