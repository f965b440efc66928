/** Reading packs from disk: one file, or every `<name>/<version>.json` under a rule-packs directory. */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DomainError, type ErrorDetail } from '../errors/index.js';
import type { LoadedPack, RulePack } from './types.js';
import { validatePack } from './validate.js';

/**
 * Reads, parses and validates one pack file.
 * @throws DomainError RULE_PACK_NOT_FOUND, or RULE_PACK_INVALID whose summary and every error message name the file.
 */
export async function loadPackFile(file: string): Promise<RulePack> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DomainError('RULE_PACK_NOT_FOUND', `${file}: no such rule pack file`, 'not_found');
    }
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const message = `${file}: not valid JSON: ${(error as Error).message}`;
    throw new DomainError('RULE_PACK_INVALID', message, 'unprocessable', [{ path: '', message }]);
  }
  try {
    return validatePack(json);
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    throw new DomainError(
      error.code,
      `${file}: ${error.message}`,
      error.kind,
      error.errors.map((e) => ({ ...e, message: `${file}: ${e.message}` })),
    );
  }
}

/**
 * Loads every `*\/*.json` under `dir` (a rule-packs directory), checking that each file sits at
 * `<name>/<version>.json` of its own pack. Reports the errors of all files together. Sorted by file.
 */
export async function loadPackDirectory(dir: string): Promise<LoadedPack[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DomainError('RULE_PACK_NOT_FOUND', `${dir}: no such rule-packs directory`, 'not_found');
    }
    throw error;
  }
  const files: string[] = [];
  for (const entry of entries.filter((e) => e.isDirectory())) {
    const inner = await readdir(join(dir, entry.name), { withFileTypes: true });
    for (const f of inner) if (f.isFile() && f.name.endsWith('.json')) files.push(join(dir, entry.name, f.name));
  }
  files.sort();

  const loaded: LoadedPack[] = [];
  const errors: ErrorDetail[] = [];
  let invalidFiles = 0;
  for (const file of files) {
    try {
      const pack = await loadPackFile(file);
      const location = locationErrors(file, pack);
      if (location.length > 0) {
        errors.push(...location);
        invalidFiles++;
      } else loaded.push({ file, pack });
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      errors.push(...(error.errors.length > 0 ? error.errors : [{ path: '', message: error.message }]));
      invalidFiles++;
    }
  }
  if (errors.length > 0) {
    throw new DomainError(
      'RULE_PACK_INVALID',
      `${invalidFiles} of ${files.length} rule pack file(s) under ${dir} are invalid; first: ${errors[0]!.message}`,
      'unprocessable',
      errors,
    );
  }
  return loaded;
}

/** The directory and file name are the pack's identity on disk; they must agree with its content. */
function locationErrors(file: string, pack: RulePack): ErrorDetail[] {
  const errors: ErrorDetail[] = [];
  const dirName = basename(join(file, '..'));
  const version = basename(file, '.json');
  if (pack.name !== dirName) {
    errors.push({ path: '/name', message: `${file}: pack name '${pack.name}' does not match its directory '${dirName}'` });
  }
  if (pack.version !== version) {
    errors.push({ path: '/version', message: `${file}: pack version '${pack.version}' does not match its file name '${version}.json'` });
  }
  return errors;
}
