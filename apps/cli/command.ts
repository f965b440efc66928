/** What every CLI command is: a name, its usage, its own options, and a run that answers an exit code. */
import type { ApiClient } from './http.js';
import type { Io } from './output.js';

export type OptionSpec = { type: 'string' | 'boolean'; multiple?: boolean; short?: string };
export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Context {
  io: Io;
  positionals: string[];
  values: OptionValues;
  /** The API client for --url/--key (DECISIONS_URL, DECISIONS_API_KEY). */
  client: () => ApiClient;
}

export interface Command {
  name: string;
  /** Arguments after the command name, for the usage text. */
  args: string;
  summary: string;
  options?: Record<string, OptionSpec>;
  run: (ctx: Context) => Promise<number>;
}

/** The one string value of an option, or undefined. */
export function str(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}
