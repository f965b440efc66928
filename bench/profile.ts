/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): where the busy time goes, by package/area (self time), by function
 * (self time), and inclusive time of the synchronous hot spots of a refund request.
 * `node dist/bench/profile.js <file.cpuprofile> [top] [fromUs toUs]` prints the same summary for any profile
 * (optionally only the samples between two CLOCK_MONOTONIC times, as bench/results/profile.json records them).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  startTime: number;
  endTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Share {
  name: string;
  ms: number;
  /** Percent of busy time (samples that were not idle). */
  pct: number;
}

/** A stretch of CLOCK_MONOTONIC time in microseconds (process.hrtime.bigint() / 1000 on Linux, as V8's profile clock). */
export interface Window {
  fromUs: number;
  toUs: number;
}

/** Which part of a request an area (of the code that caused the work) belongs to; the layers partition busy time. */
export function layer(areaName: string): string {
  if (/^(@mikro-orm\/|kysely|pg$|pg-|@electric-sql\/)|^[0-9a-f]{8}$/.test(areaName))
    return 'persistence: MikroORM, kysely, pg driver, socket writes (PGlite when used)';
  // libs/decisions' own files are content hashing (the idempotency request hash), release compilation and the
  // combining rule: app work on the request path; the evaluation itself is libs/decisions/types (the decision-type
  // pipeline; libs/decisions/refund, the hand-written refund decider, before it).
  if (/^(opa\.wasm|@open-policy-agent\/|json-rules-engine|clone|eventemitter2|jsonpath-plus|ajv|ajv-formats|fast-uri|libs\/(rules|decisions\/types|decisions\/refund|policies)|native validate\d+)/.test(areaName))
    return 'decision: ajv validation, opa-wasm, json-rules-engine, libs/decisions/refund, libs/rules, libs/policies';
  if (/^(fastify|@fastify\/|find-my-way|secure-json-parse|avvio|light-my-request|fast-json-stringify|toad-cache|@nestjs\/|reflect-metadata|rxjs|node:_http_\w+)/.test(areaName))
    return 'HTTP: fastify, Nest, body parsing';
  if (/^(apps\/|libs\/(persistence|errors|decisions))/.test(areaName)) return 'app: decisions service, idempotency (hash, answer), auth guard, repositories';
  if (/^\((garbage collector|program)\)$|^node:|^native /.test(areaName)) return 'runtime: GC, microtasks, event loop, other native';
  return 'other';
}

export interface ProfileSummary {
  file: string;
  /** Only samples inside this window were counted (the measured part of the run), when given and overlapping. */
  window?: Window;
  totalMs: number;
  busyMs: number;
  byLayer: Share[];
  byArea: Share[];
  byFunction: Share[];
  inclusive: Share[];
}

/** Which package or part of this repository a frame belongs to. */
export function area(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : `native ${functionName || '(anonymous)'}`;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const dist = /\/dist\/((?:libs|apps)\/[^/]+(?:\/[^/]+)?)\//.exec(url);
  if (dist) return dist[1]!;
  if (url.startsWith('node:')) {
    const m = /^node:(?:internal\/)?([^/]+)/.exec(url);
    return `node:${m?.[1] ?? url}`;
  }
  return url.slice(url.lastIndexOf('/') + 1);
}

function label(frame: CallFrame): string {
  const file = frame.url.slice(frame.url.lastIndexOf('/') + 1);
  return `${frame.functionName || '(anonymous)'} ${file ? `${file}:${frame.lineNumber + 1}` : ''}`.trim();
}

/**
 * Synchronous stretches of a refund request, measured inclusive (the function and everything it calls before it
 * returns or awaits). Async functions are left out: after an await their callers are no longer on the stack.
 */
const HOT_SPOTS: readonly { name: string; match: (f: CallFrame) => boolean }[] = [
  { name: 'request body validation: SchemaValidator.validate (ajv)', match: (f) => f.functionName.endsWith('validate') && f.url.endsWith('/decisions/schema-validator.js') },
  { name: 'decision type: case check (BoundDecisionType.inputErrors, ajv)', match: (f) => f.functionName.endsWith('inputErrors') && f.url.endsWith('/decisions/types/pipeline.js') },
  { name: 'decision type: derived facts (derivations.js)', match: (f) => f.url.endsWith('/decisions/types/derivations.js') },
  { name: 'risk policy: LoadedPolicy.evaluate (opa-wasm)', match: (f) => f.functionName.endsWith('evaluate') && f.url.endsWith('/policies/loaded-policy.js') },
  { name: 'rule pack: fact schema check (validateFacts, ajv)', match: (f) => f.functionName === 'validateFacts' && f.url.endsWith('/rules/compile.js') },
  { name: 'rule pack: json-rules-engine (all frames)', match: (f) => f.url.includes('/node_modules/json-rules-engine/') },
  { name: 'rule pack: result and trace building (toResult)', match: (f) => f.functionName === 'toResult' && f.url.endsWith('/rules/compile.js') },
  { name: 'idempotency: requestHash (canonical JSON + sha256)', match: (f) => f.functionName === 'requestHash' },
  { name: 'JSON.stringify (any caller)', match: (f) => f.functionName === 'stringify' && f.url === '' },
  { name: 'JSON.parse (any caller)', match: (f) => f.functionName === 'parse' && f.url === '' },
  { name: 'pg: Connection._send (one socket write per protocol message)', match: (f) => f.functionName === '_send' && f.url.endsWith('/pg/lib/connection.js') },
  { name: 'MikroORM: convertJsonToDatabaseValue (JSON.stringify of jsonb columns)', match: (f) => f.functionName === 'convertJsonToDatabaseValue' },
  { name: 'MikroORM: formatQuery (parameters inlined into SQL text)', match: (f) => f.functionName === 'formatQuery' },
  { name: 'MikroORM (all @mikro-orm frames)', match: (f) => f.url.includes('/node_modules/@mikro-orm/') },
  { name: 'pg driver (pg, pg-protocol, pg-pool)', match: (f) => /\/node_modules\/pg(-protocol|-pool)?\//.test(f.url) },
  { name: 'PGlite (@electric-sql/pglite)', match: (f) => f.url.includes('/node_modules/@electric-sql/') },
  { name: 'Nest (@nestjs/*)', match: (f) => f.url.includes('/node_modules/@nestjs/') },
  { name: 'fastify + its deps (fastify, find-my-way, light-my-request…)', match: (f) => /\/node_modules\/(fastify|@fastify|find-my-way|avvio|light-my-request|fast-json-stringify)\//.test(f.url) },
  { name: 'auth guard: AuthGuard.canActivate (sync part)', match: (f) => f.functionName.endsWith('canActivate') && f.url.endsWith('/auth/auth.guard.js') },
  { name: 'garbage collector', match: (f) => f.functionName === '(garbage collector)' },
];

export function summariseProfile(file: string, top = 25, window?: Window): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // Boot, migrations and shutdown are not what the bench measures: keep the window's samples when it overlaps.
  const useWindow = window !== undefined && window.fromUs < profile.endTime && window.toUs > profile.startTime;
  const selfUs = new Map<number, number>();
  let total = 0;
  let at = profile.startTime;
  // timeDeltas[i] is the time since the previous sample; the later sample's delta is this sample's duration.
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (useWindow && (at < window.fromUs || at > window.toUs)) continue;
    const dt = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    total += dt;
  }
  let idle = 0;
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const layers = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const a = area(node.callFrame);
    // For layers, node internals and natives (socket writes, Buffer.byteLength flattening a string, crypto) belong
    // to the nearest caller outside them: pg's socket writes are persistence, the request hash's sha256 is the app's.
    let owner = a;
    for (let cur = parent.get(id); /^(node:|native )/.test(owner) && cur !== undefined; cur = parent.get(cur)) owner = area(byId.get(cur)!.callFrame);
    const l = layer(/^\((root|program)\)$/.test(owner) ? a : owner);
    layers.set(l, (layers.get(l) ?? 0) + us);
    areas.set(a, (areas.get(a) ?? 0) + us);
    const f = `${label(node.callFrame)} [${a}]`;
    functions.set(f, (functions.get(f) ?? 0) + us);
    // Each hot spot counts once per sample however deep it recurses.
    const hit = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)!.callFrame;
      for (const h of HOT_SPOTS) if (!hit.has(h.name) && h.match(frame)) hit.add(h.name);
    }
    for (const h of hit) inclusive.set(h, (inclusive.get(h) ?? 0) + us);
  }
  const busy = total - idle;
  const shares = (m: Map<string, number>, limit: number): Share[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, pct: Math.round((us / busy) * 1000) / 10 }));
  return {
    file,
    ...(useWindow && { window }),
    totalMs: Math.round(total / 1000),
    busyMs: Math.round(busy / 1000),
    byLayer: shares(layers, 10),
    byArea: shares(areas, top),
    byFunction: shares(functions, top),
    inclusive: HOT_SPOTS.map((h) => ({ name: h.name, ms: Math.round((inclusive.get(h.name) ?? 0) / 100) / 10, pct: Math.round(((inclusive.get(h.name) ?? 0) / busy) * 1000) / 10 })),
  };
}

export function formatProfile(s: ProfileSummary): string {
  const rows = (list: Share[]) => list.map((x) => `  ${x.pct.toFixed(1).padStart(5)}%  ${String(x.ms).padStart(8)} ms  ${x.name}`).join('\n');
  return [
    `${s.file}: ${s.totalMs} ms ${s.window ? 'of the measured window' : 'profiled'}, ${s.busyMs} ms busy (${Math.round((s.busyMs / s.totalMs) * 100)}% of the main thread); shares are of busy time`,
    'Self time by layer:',
    rows(s.byLayer),
    'Self time by area:',
    rows(s.byArea),
    'Self time by function:',
    rows(s.byFunction),
    'Inclusive time of hot spots (synchronous stretches; overlapping, so they do not sum to 100%):',
    rows(s.inclusive),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node dist/bench/profile.js <file.cpuprofile> [top] [fromUs toUs]');
    process.exit(2);
  }
  const [top, fromUs, toUs] = process.argv.slice(3).map(Number);
  const window = fromUs !== undefined && toUs !== undefined ? { fromUs, toUs } : undefined;
  console.log(formatProfile(summariseProfile(file, top ?? 25, window)));
}
