/**
 * What `validate` and `test` read: rule packs and decision types named on the command line (files, a pack's or type's
 * folder, a rule-packs or decision-types folder, or a content folder laid out as the service's content root is:
 * decision-types/, rule-packs/, policies/), and the local release a type's cases run on.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { FileComponentSource, ReleaseCompiler, validateDecisionType, type DecisionTypeDocument } from '../../libs/decisions/index.js';
import { DomainError, type ErrorDetail } from '../../libs/errors/index.js';
import { compareSemver, isSemver } from '../../libs/names/index.js';
import { programFromPack, REWARD_PROGRAM_KIND } from '../../libs/ledger/index.js';
import { readBundle } from '../../libs/policies/index.js';
import { loadPackDirectory, loadPackFile, type RulePack } from '../../libs/rules/index.js';

export interface PackFile {
  file: string;
  pack: RulePack;
}

export interface TypeFile {
  file: string;
  doc: DecisionTypeDocument;
  /** The content folder when the file sits at <root>/decision-types/<name>/<version>.json: where its pack and bundle are looked for. */
  root?: string;
}

export interface Content {
  packs: PackFile[];
  types: TypeFile[];
  /** Content folders named on the command line (their policies/ are tested with `opa test`). */
  roots: string[];
}

async function isDirectory(path: string): Promise<boolean | undefined> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return undefined;
  }
}

async function subdirs(dir: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** A folder laid out as a content root: it has decision-types/ or rule-packs/. */
export async function isContentFolder(dir: string): Promise<boolean> {
  return (await isDirectory(join(dir, 'decision-types'))) === true || (await isDirectory(join(dir, 'rule-packs'))) === true;
}

/** `file: message` on the error and every detail, as loadPackFile does for packs. */
function inFile(file: string, e: DomainError): DomainError {
  return new DomainError(
    e.code,
    `${file}: ${e.message}`,
    e.kind,
    e.errors.map((d) => ({ ...d, message: `${file}: ${d.message}` })),
  );
}

/** The file's JSON, or why it is not JSON. */
async function readJson(file: string): Promise<{ json: unknown } | { error: string }> {
  const text = await readFile(file, 'utf8');
  try {
    return { json: JSON.parse(text) as unknown };
  } catch (e) {
    return { error: `${file}: not valid JSON: ${(e as Error).message}` };
  }
}

/** The content folder of a file at <root>/<layoutDir>/<name>/<version>.json, or undefined. */
function layoutRoot(file: string, layoutDir: string): string | undefined {
  const abs = resolve(file);
  return basename(dirname(dirname(abs))) === layoutDir ? dirname(dirname(dirname(abs))) : undefined;
}

/** Reads a decision-type file: the schema and semantic checks of validateDecisionType, every error naming the file. */
export async function loadTypeFile(file: string, json?: unknown): Promise<TypeFile> {
  if (json === undefined) {
    const read = await readJson(file);
    if ('error' in read) throw new DomainError('DECISION_TYPE_INVALID', read.error, 'unprocessable', [{ path: '', message: read.error }]);
    json = read.json;
  }
  let doc: DecisionTypeDocument;
  try {
    doc = validateDecisionType(json, true);
  } catch (e) {
    throw e instanceof DomainError ? inFile(file, e) : e;
  }
  const root = layoutRoot(file, 'decision-types');
  if (root !== undefined) {
    // In a content folder the path is the type's identity, as the service reads it.
    const errors: ErrorDetail[] = [];
    const dir = basename(dirname(file));
    const version = basename(file, '.json');
    if (doc.name !== dir) errors.push({ path: '/name', message: `${file}: decision type name '${doc.name}' does not match its directory '${dir}'` });
    if (doc.version !== version) errors.push({ path: '/version', message: `${file}: decision type version '${doc.version}' does not match its file name '${version}.json'` });
    if (errors.length > 0) throw new DomainError('DECISION_TYPE_INVALID', errors[0]!.message, 'unprocessable', errors);
  }
  return { file, doc, ...(root !== undefined && { root }) };
}

/** One .json file: a decision type when its kind says so, else a rule pack. */
async function loadFile(file: string, into: Content): Promise<void> {
  const read = await readJson(file);
  // Not JSON: loadPackFile reports it, as it always has.
  if ('json' in read && (read.json as { kind?: unknown } | null)?.kind === 'decision-type') into.types.push(await loadTypeFile(file, read.json));
  else into.packs.push({ file, pack: checkedProgram(file, await loadPackFile(file)) });
}

const checkedPrograms = <T extends { file: string; pack: RulePack }>(loaded: T[]): T[] => loaded.map((l) => ({ ...l, pack: checkedProgram(l.file, l.pack) }));

/** A reward program's parameters checked as an upload checks them (checkPackUpload), naming the file. */
function checkedProgram(file: string, pack: RulePack): RulePack {
  if (pack.kind !== REWARD_PROGRAM_KIND) return pack;
  try {
    programFromPack(pack);
  } catch (e) {
    if (!(e instanceof DomainError)) throw e;
    throw new DomainError(e.code, `${file}: ${e.message}`, e.kind, e.errors.map((x) => ({ ...x, message: `${file}: ${x.message}` })));
  }
  return pack;
}

/** Every decision-types/<name>/<version>.json under `dir`, sorted by file. */
async function loadTypeDirectory(dir: string, shown: string): Promise<TypeFile[]> {
  const out: TypeFile[] = [];
  for (const name of await subdirs(dir)) {
    for (const f of (await readdir(join(dir, name))).filter((x) => x.endsWith('.json')).sort()) out.push(await loadTypeFile(join(shown, name, f)));
  }
  return out;
}

/**
 * Loads what the paths name (default: ./rule-packs). A file is a decision type when its `kind` is `decision-type`, else
 * a pack; a folder is a content folder (decision-types/, rule-packs/), a decision-types or rule-packs folder, or the
 * folder of one pack or type (its <version>.json files).
 * @throws DomainError RULE_PACK_NOT_FOUND for a path that does not exist; RULE_PACK_INVALID, DECISION_TYPE_INVALID naming the file.
 */
export async function loadContent(paths: string[]): Promise<Content> {
  const content: Content = { packs: [], types: [], roots: [] };
  for (const p of paths.length ? paths : ['rule-packs']) {
    const abs = resolve(p);
    const dir = await isDirectory(abs);
    if (dir === undefined) throw new DomainError('RULE_PACK_NOT_FOUND', `${p}: no such file or directory`, 'not_found');
    if (!dir) {
      await loadFile(p, content);
      continue;
    }
    if (await isContentFolder(abs)) {
      content.roots.push(p);
      if (await isDirectory(join(abs, 'rule-packs'))) content.packs.push(...checkedPrograms(await loadPackDirectory(join(p, 'rule-packs'))));
      if (await isDirectory(join(abs, 'decision-types'))) content.types.push(...(await loadTypeDirectory(join(abs, 'decision-types'), join(p, 'decision-types'))));
      continue;
    }
    const own = (await readdir(abs)).filter((f) => f.endsWith('.json')).sort();
    if (own.length) for (const f of own) await loadFile(join(p, f), content);
    else if (basename(abs) === 'decision-types') content.types.push(...(await loadTypeDirectory(abs, p)));
    // A rule-packs root holds <name>/<version>.json.
    else content.packs.push(...checkedPrograms(await loadPackDirectory(abs)));
  }
  return content;
}

/** The newest version of each name among `items`. */
function newestByName<T>(items: { name: string; version: string; item: T }[]): Map<string, { version: string; item: T }> {
  const out = new Map<string, { version: string; item: T }>();
  for (const x of items) {
    const seen = out.get(x.name);
    if (!seen || (isSemver(x.version) && isSemver(seen.version) && compareSemver(x.version, seen.version) > 0)) out.set(x.name, { version: x.version, item: x.item });
  }
  return out;
}

/** What a type's local run used, or why it could not run. */
export type LocalTypeRun =
  | { ran: true; components: Record<string, string>; passed: number; failures: { case: string; index: number; message: string }[] }
  | { ran: false; note: string };

/**
 * Runs a type's embedded cases the way activation does: a release of the type plus, from its content folder, the newest
 * pack of each kind its rules steps take and the newest built bundle exposing each policy entrypoint (and so for every
 * type whose decisions its features count, newest in the folder), compiled by a ReleaseCompiler over the folder (FileComponentSource) and bound with bindDecisionType. Does not run when the type is
 * not in a content folder, or a pack or bundle is missing there or ambiguous.
 * @throws DomainError RELEASE_INCOMPLETE, RELEASE_TYPE_CHECK_FAILED, … when the folder's components cannot serve the type.
 */
export async function runTypeCases(t: TypeFile): Promise<LocalTypeRun> {
  if (t.root === undefined) return { ran: false, note: `not in a content folder (<folder>/decision-types/${t.doc.name}/${t.doc.version}.json), so no pack or bundle to run it with` };
  const root = t.root;
  const shownRoot = dirname(dirname(dirname(t.file)));
  // A release of the folder that names this version is what it ships with: its components, not the newest of each
  // (an older type next to a newer pack of its kind would otherwise be run with a pack written for its successor).
  // Newest first; one the folder cannot serve is passed over, and with none the newest of each kind is taken below.
  for (const shipped of await releasesNaming(root, t.doc.name, t.doc.version)) {
    let release;
    try {
      release = await new ReleaseCompiler(new FileComponentSource(root)).compile({ name: 'local', version: '0.0.0', components: shipped });
    } catch (e) {
      if (e instanceof DomainError) continue;
      throw e;
    }
    const failures = await release.decisionType(t.doc.name).testFailures();
    return { ran: true, components: shipped, passed: (t.doc.tests?.cases.length ?? 0) - failures.length, failures };
  }
  const components: Record<string, string> = { [t.doc.name]: t.doc.version };

  const packDir = join(root, 'rule-packs');
  const packs = (await isDirectory(packDir)) ? await loadPackDirectory(packDir) : [];
  let bundles: { name: string; version: string; item: string[] }[] | undefined;
  // The type, then every type whose decisions its features count (newest in the folder), with their packs and bundles:
  // a release refuses a feature that counts a type it does not hold.
  const queue: DecisionTypeDocument[] = [t.doc];
  for (let doc = queue.shift(); doc !== undefined; doc = queue.shift()) {
    for (const step of doc.pipeline) {
      if (step.step === 'rules') {
        const found = newestByName(packs.filter(({ pack }) => pack.kind === step.packKind).map(({ pack }) => ({ name: pack.name, version: pack.version, item: pack })));
        if (found.size !== 1) {
          return { ran: false, note: found.size ? `${found.size} packs of kind ${step.packKind} in ${join(shownRoot, 'rule-packs')} (${[...found.keys()].join(', ')}); the cases need exactly one` : `no pack of kind ${step.packKind} in ${join(shownRoot, 'rule-packs')}` };
        }
        const [name, { version }] = [...found][0]!;
        components[name] = version;
      } else if (step.step === 'policy') {
        bundles ??= await builtBundles(root);
        const found = newestByName(bundles.filter((b) => b.item.includes(step.entrypoint)));
        if (found.size !== 1) {
          return {
            ran: false,
            note: found.size
              ? `${found.size} bundles expose ${step.entrypoint} in ${join(shownRoot, 'policies/bundles')} (${[...found.keys()].join(', ')}); the cases need exactly one`
              : `no built bundle exposes ${step.entrypoint} in ${join(shownRoot, 'policies/bundles')} (run: decisions build ${shownRoot})`,
          };
        }
        const [name, { version }] = [...found][0]!;
        components[name] = version;
      }
    }
    for (const f of Object.values(doc.features ?? {})) {
      if (!('decisions' in f.source)) continue;
      for (const name of typeof f.source.decisions === 'string' ? [f.source.decisions] : f.source.decisions) {
        if (Object.hasOwn(components, name)) continue;
        const counted = await newestType(root, name);
        // Not in the folder: the release compiler names the missing type.
        if (counted === undefined) continue;
        components[name] = counted.version;
        queue.push(counted);
      }
    }
  }
  const release = await new ReleaseCompiler(new FileComponentSource(root)).compile({ name: 'local', version: '0.0.0', components });
  const failures = await release.decisionType(t.doc.name).testFailures();
  return { ran: true, components, passed: (t.doc.tests?.cases.length ?? 0) - failures.length, failures };
}

/** The components of every <root>/releases/<name>/<version>.json naming `type` at `version`, newest version first. */
async function releasesNaming(root: string, type: string, version: string): Promise<Record<string, string>[]> {
  const dir = join(root, 'releases');
  if (!(await isDirectory(dir))) return [];
  const found: { version: string; components: Record<string, string> }[] = [];
  for (const name of await subdirs(dir)) {
    for (const f of (await readdir(join(dir, name))).filter((x) => x.endsWith('.json'))) {
      let manifest: unknown;
      try {
        manifest = JSON.parse(await readFile(join(dir, name, f), 'utf8'));
      } catch {
        continue; // not a release this run can use
      }
      if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest)) continue;
      const { version: v, components } = manifest as { version?: unknown; components?: unknown };
      if (typeof v !== 'string' || !isSemver(v) || components === null || typeof components !== 'object' || Array.isArray(components)) continue;
      const entries = Object.entries(components);
      if (!entries.every(([, x]) => typeof x === 'string') || (components as Record<string, unknown>)[type] !== version) continue;
      found.push({ version: v, components: Object.fromEntries(entries) });
    }
  }
  return found.sort((a, b) => compareSemver(b.version, a.version)).map((r) => r.components);
}

/** The newest <root>/decision-types/<name>/<version>.json, or undefined when the folder has none. */
async function newestType(root: string, name: string): Promise<DecisionTypeDocument | undefined> {
  const dir = join(root, 'decision-types', name);
  if (!(await isDirectory(dir))) return undefined;
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
  const docs = await Promise.all(files.map(async (f) => (await loadTypeFile(join(dir, f))).doc));
  return newestByName(docs.map((d) => ({ name: d.name, version: d.version, item: d }))).get(name)?.item;
}

/** Every policies/bundles/<name>/<version>.tar.gz under `root` with the entrypoints its manifest declares. */
async function builtBundles(root: string): Promise<{ name: string; version: string; item: string[] }[]> {
  const dir = join(root, 'policies', 'bundles');
  if (!(await isDirectory(dir))) return [];
  const out: { name: string; version: string; item: string[] }[] = [];
  for (const name of await subdirs(dir)) {
    for (const f of (await readdir(join(dir, name))).filter((x) => x.endsWith('.tar.gz'))) {
      const file = join(dir, name, f);
      let manifest;
      try {
        manifest = readBundle(await readFile(file)).manifest;
      } catch (e) {
        throw e instanceof DomainError ? inFile(file, e) : e;
      }
      out.push({ name, version: f.slice(0, -'.tar.gz'.length), item: (manifest.wasm ?? []).map((w) => w.entrypoint) });
    }
  }
  return out;
}
