/**
 * Fuel metering injected into a policy's Wasm at load time, so an evaluation that runs too long traps instead of
 * holding the process's one JS thread for good.
 *
 * The module gets one more mutable i64 global (appended after every other global, so no index shifts), exported as
 * FUEL_EXPORT. Probes subtract a static cost from it and trap (`unreachable`) once it is below zero: at every function
 * entry and every loop header (a loop header can run any number of times), and at the start of any other straight-line
 * segment large enough to be worth a probe of its own (see decodeBody). A probe charges the instructions of its
 * segment plus those of the small segments hanging off it, and its own ten: between two runs of a region's entry
 * control only moves forward, so each instruction runs at most once per charge and the fuel spent bounds the
 * instructions run. Bulk memory and table operations run a loop inside one instruction: they are charged by their
 * length operand as well.
 *
 * Every instruction of every body is decoded (MVP, sign extension, the 0xFC prefix: saturating truncation, bulk memory,
 * table operations, and reference types). Anything else (SIMD, threads, exceptions, tail calls, GC, multiple memories)
 * is refused rather than guessed at: a byte we misread could be a loop we did not meter.
 */
import { DomainError } from '../errors/index.js';
import { POLICY_BUNDLE_INVALID } from './policy-errors.js';

/** The export through which the host reads and sets the fuel left. */
export const FUEL_EXPORT = '__dp_fuel';

/** Bulk memory operations cost one step per this many bytes (a memset moves ~16 bytes in the time of one instruction). */
const BULK_BYTES_PER_STEP_LOG2 = 4n;

export interface MeteredWasm {
  /** The rewritten module. */
  bytes: Uint8Array<ArrayBuffer>;
  /** Limits (in 64 KiB pages) the module declares for the memory it imports, if it imports one. */
  memory?: { initial: number; maximum?: number };
}

export interface MeterOptions {
  /** The fuel the global starts with: what instantiation (a start function) and the first calls may spend. */
  initialFuel: bigint;
  /** Refuse a table that must start larger than this many entries; cap every table's growth at it. */
  maxTableEntries: number;
  /** A segment gets a probe of its own from this many instructions; smaller ones are charged with their parent. */
  minProbe?: number;
  /** Steps each probe adds to its charge for its own instructions. */
  probeCost?: number;
}

const DEFAULT_MIN_PROBE = 32;
/** A probe runs 10 instructions (11 with a bulk operation's extension): counted, so a step is an instruction run. */
const PROBE_COST = 10;

function refuse(what: string): DomainError {
  const message = `/policy.wasm ${what}`;
  return new DomainError(POLICY_BUNDLE_INVALID, message, 'unprocessable', [{ path: '/policy.wasm', message }]);
}

/** Reads the binary format: LEB128 integers are at most as long as their type allows, or the module is refused. */
class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos = 0,
    readonly end = buf.length,
  ) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  u8(): number {
    if (this.pos >= this.end) throw refuse(`ends unexpectedly at byte ${this.pos}`);
    return this.buf[this.pos++]!;
  }

  u32(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.u8();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) break;
        return result;
      }
      shift += 7;
    }
    throw refuse(`has a malformed unsigned integer at byte ${this.pos}`);
  }

  /** Skips a signed LEB128 of at most `bits` bits; answers whether it is negative. */
  signed(bits: number): boolean {
    const max = Math.ceil(bits / 7);
    for (let i = 0; i < max; i++) {
      const b = this.u8();
      if ((b & 0x80) === 0) return (b & 0x40) !== 0;
    }
    throw refuse(`has a malformed signed integer at byte ${this.pos}`);
  }

  skip(n: number): void {
    if (this.pos + n > this.end) throw refuse(`ends unexpectedly at byte ${this.pos}`);
    this.pos += n;
  }

  name(): string {
    const n = this.u32();
    const start = this.pos;
    this.skip(n);
    return new TextDecoder('utf-8', { fatal: false }).decode(this.buf.subarray(start, this.pos));
  }
}

/** Appends bytes; LEB128 encoders for what the meter writes. */
class Writer {
  private buf = new Uint8Array(1024);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): this {
    this.room(1);
    this.buf[this.length++] = b;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  u32(v: number): this {
    do {
      let b = v & 0x7f;
      v = Math.floor(v / 128);
      if (v !== 0) b |= 0x80;
      this.byte(b);
    } while (v !== 0);
    return this;
  }

  s64(v: bigint): this {
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      const done = (v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0);
      this.byte(done ? b : b | 0x80);
      if (done) return this;
    }
  }

  name(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u32(b.length).bytes(b);
  }

  result(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.length);
  }
}

const SECTION = { custom: 0, type: 1, import: 2, function: 3, table: 4, memory: 5, global: 6, export: 7, start: 8, element: 9, code: 10, data: 11, dataCount: 12 } as const;
/** Position of each known section in the required order (the tag section, 13, belongs to exceptions: refused). */
const ORDER: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9, 12: 10, 10: 11, 11: 12 };

const I32 = 0x7f;
const I64 = 0x7e;
const VALTYPES = new Set([I32, I64, 0x7d, 0x7c, 0x70, 0x6f]);

function valtype(r: Reader): number {
  const t = r.u8();
  if (!VALTYPES.has(t)) throw refuse(`uses value type 0x${t.toString(16)}, which is not supported (byte ${r.pos - 1})`);
  return t;
}

function reftype(r: Reader): number {
  const t = r.u8();
  if (t !== 0x70 && t !== 0x6f) throw refuse(`uses reference type 0x${t.toString(16)}, which is not supported (byte ${r.pos - 1})`);
  return t;
}

/** Table limits: no 64-bit tables. */
function limits(r: Reader, what: string): { min: number; max?: number } {
  const flag = r.u8();
  if (flag === 0x00) return { min: r.u32() };
  if (flag === 0x01) return { min: r.u32(), max: r.u32() };
  throw refuse(`declares ${what} limits with flags 0x${flag.toString(16)} (shared or 64-bit), which are not supported`);
}

/** Block type: empty, one value type, or a type index (a non-negative s33). */
function blocktype(r: Reader): void {
  const b = r.buf[r.pos];
  if (b === 0x40) return void r.pos++;
  if (b !== undefined && VALTYPES.has(b)) return void r.pos++;
  if (r.signed(33)) throw refuse(`has an unknown block type at byte ${r.pos}`);
}

/**
 * A local or global index, which must name one the module declares: the fuel global and the scratch local are indices
 * past those, so a module naming them is invalid as uploaded but would validate once metered (and refill its fuel).
 */
function index(r: Reader, count: number, what: string): void {
  const at = r.pos;
  const i = r.u32();
  if (i >= count) throw refuse(`uses ${what} ${i}, which it does not declare (byte ${at})`);
}

/** Immediates of a load or store: alignment (without the multi-memory flag) and offset. */
function memarg(r: Reader): void {
  const align = r.u32();
  if (align >= 64) throw refuse(`addresses a second memory at byte ${r.pos} (multiple memories are not supported)`);
  r.u32();
}

function zeroByte(r: Reader): void {
  const at = r.pos;
  if (r.u8() !== 0) throw refuse(`addresses a second memory at byte ${at} (multiple memories are not supported)`);
}

/**
 * A straight-line stretch of a body, from a point where control may start running it to the next such point. It is
 * charged by a probe of its own, or (when small) by the segment it hangs off, which runs at least once per run of it.
 */
interface Segment {
  /** Offset in the module where its probe goes. */
  at: number;
  /** Instructions in it. */
  cost: number;
  /** The segment that always runs before it within the same entry of its region, or -1 for a region's entry. */
  parent: number;
}

/** A bulk operation whose length operand (top of the stack at `at`) is charged, shifted right by `shift`. */
interface BulkProbe {
  at: number;
  shift: bigint;
}

interface DecodedBody {
  segments: Segment[];
  bulk: BulkProbe[];
}

/**
 * Decodes one function's instructions from `r.pos` to `r.end` into segments.
 *
 * Where a new segment starts: the function's entry and each loop header (a region: always probed, since a loop header
 * can run any number of times), each arm of an `if`, after each `br_if` and after each `end` (only some runs get
 * there), and after `br`, `br_table`, `return` and `unreachable` (dead code up to the next `end`). A segment's parent is
 * the segment that was running where it branched off: the `if`'s for an arm; for the code after an `end`, the segment
 * from which the block, `if` or loop was entered. Within one entry of a region control only moves forward, so a
 * segment runs at most once per run of its parent: charging a small segment with its parent is sound, and only
 * overcharges when it does not run.
 */
function decodeBody(r: Reader, globals: number, locals: number): DecodedBody {
  const segments: Segment[] = [{ at: r.pos, cost: 0, parent: -1 }];
  const bulk: BulkProbe[] = [];
  // Open control frames: the segment running where each was entered, and whether it is an `if` still in its then-arm.
  const frames: { entry: number; isIf: boolean }[] = [{ entry: -1, isIf: false }];
  let current = 0;
  const begin = (parent: number) => {
    segments.push({ at: r.pos, cost: 0, parent });
    current = segments.length - 1;
  };
  while (frames.length > 0) {
    const op = r.u8();
    segments[current]!.cost++;
    switch (op) {
      case 0x00: // unreachable
      case 0x0f: // return
        begin(current);
        break;
      case 0x01: // nop
      case 0x1a: // drop
      case 0x1b: // select
      case 0xd1: // ref.is_null
        break;
      case 0x02: // block
        blocktype(r);
        frames.push({ entry: current, isIf: false });
        break;
      case 0x04: {
        // if
        blocktype(r);
        const entry = current;
        frames.push({ entry, isIf: true });
        begin(entry);
        break;
      }
      case 0x03: {
        // loop: its header is a region of its own, charged on every entry and every branch back to it
        blocktype(r);
        frames.push({ entry: current, isIf: false });
        begin(-1);
        break;
      }
      case 0x05: {
        // else
        const f = frames[frames.length - 1]!;
        if (!f.isIf) throw refuse(`has an else outside an if at byte ${r.pos - 1}`);
        f.isIf = false;
        begin(f.entry);
        break;
      }
      case 0x0b: {
        // end
        const f = frames.pop()!;
        if (frames.length > 0) begin(f.entry);
        break;
      }
      case 0x0c: // br
        r.u32();
        begin(current);
        break;
      case 0x0d: // br_if
        r.u32();
        begin(current);
        break;
      case 0x20: // local.get
      case 0x21: // local.set
      case 0x22: // local.tee
        index(r, locals, 'local');
        break;
      case 0x23: // global.get
      case 0x24: // global.set
        index(r, globals, 'global');
        break;
      case 0x10: // call
      case 0x25: // table.get
      case 0x26: // table.set
      case 0xd2: // ref.func
        r.u32();
        break;
      case 0x0e: {
        // br_table
        const n = r.u32();
        for (let i = 0; i <= n; i++) r.u32();
        begin(current);
        break;
      }
      case 0x11: // call_indirect: type, table
        r.u32();
        r.u32();
        break;
      case 0x1c: {
        // select with types
        const n = r.u32();
        for (let i = 0; i < n; i++) valtype(r);
        break;
      }
      case 0x3f: // memory.size
      case 0x40: // memory.grow (bounded by the memory's maximum)
        zeroByte(r);
        break;
      case 0x41:
        r.signed(32);
        break;
      case 0x42:
        r.signed(64);
        break;
      case 0x43:
        r.skip(4);
        break;
      case 0x44:
        r.skip(8);
        break;
      case 0xd0: // ref.null
        reftype(r);
        break;
      case 0xfc: {
        const at = r.pos - 1;
        const sub = r.u32();
        if (sub <= 7) break; // saturating truncation
        switch (sub) {
          case 8: // memory.init data, memory
            r.u32();
            zeroByte(r);
            bulk.push({ at, shift: BULK_BYTES_PER_STEP_LOG2 });
            break;
          case 9: // data.drop
          case 13: // elem.drop
          case 16: // table.size
            r.u32();
            break;
          case 10: // memory.copy
            zeroByte(r);
            zeroByte(r);
            bulk.push({ at, shift: BULK_BYTES_PER_STEP_LOG2 });
            break;
          case 11: // memory.fill
            zeroByte(r);
            bulk.push({ at, shift: BULK_BYTES_PER_STEP_LOG2 });
            break;
          case 12: // table.init elem, table
          case 14: // table.copy table, table
            r.u32();
            r.u32();
            bulk.push({ at, shift: 0n });
            break;
          case 15: // table.grow
          case 17: // table.fill
            r.u32();
            bulk.push({ at, shift: 0n });
            break;
          default:
            throw refuse(`uses instruction 0xfc ${sub} at byte ${at}, which is not supported`);
        }
        break;
      }
      default:
        if (op >= 0x28 && op <= 0x3e) memarg(r);
        else if (op >= 0x45 && op <= 0xc4) break; // numeric instructions and sign extension: no immediates
        else throw refuse(`uses opcode 0x${op.toString(16)} at byte ${r.pos - 1}, which is not supported`);
    }
  }
  if (r.pos !== r.end) throw refuse(`has a function body that ends before its declared size (byte ${r.pos})`);
  return { segments, bulk };
}

/**
 * The charge of each probed segment: its own cost plus that of every small segment charged with it. A region's entry
 * is always probed; another segment only when it would carry at least `minProbe` steps (a probe costs ~10 instructions).
 */
function charges(segments: Segment[], minProbe: number): Map<number, number> {
  const total = segments.map((s) => s.cost);
  const probed = new Map<number, number>();
  // Children come after their parents, so walking backwards settles every child before its parent.
  for (let i = segments.length - 1; i >= 0; i--) {
    const s = segments[i]!;
    if (s.parent < 0 || total[i]! >= minProbe) probed.set(i, total[i]!);
    else total[s.parent]! += total[i]!;
  }
  return probed;
}

/** Subtract `amount` (an i64 already on the stack is not needed: `push` puts it there) and trap below zero. */
function emitCharge(w: Writer, fuel: number, push: (w: Writer) => void): void {
  w.byte(0x23).u32(fuel); // global.get fuel
  push(w);
  w.byte(0x7d); // i64.sub
  w.byte(0x24).u32(fuel); // global.set fuel
  w.byte(0x23).u32(fuel); // global.get fuel
  w.byte(0x42).byte(0x00); // i64.const 0
  w.byte(0x53); // i64.lt_s
  w.byte(0x04).byte(0x40).byte(0x00).byte(0x0b); // if unreachable end
}

/** A function body, decoded. */
interface FunctionBody extends DecodedBody {
  localsStart: number;
  codeStart: number;
  end: number;
  /** Local groups declared, and the index the scratch local gets (parameters and locals before it). */
  groups: number;
  scratch: number;
}

function decodeFunction(r: Reader, paramCount: number, globals: number): FunctionBody {
  const localsStart = r.pos;
  const groups = r.u32();
  let locals = paramCount;
  for (let i = 0; i < groups; i++) {
    locals += r.u32();
    valtype(r);
  }
  const codeStart = r.pos;
  return { ...decodeBody(r, globals, locals), localsStart, codeStart, end: r.end, groups, scratch: locals };
}

function emitFunction(wasm: Uint8Array, b: FunctionBody, fuel: number, o: Required<Pick<MeterOptions, 'minProbe' | 'probeCost'>>, out: Writer): void {
  const probes: ({ at: number; charge: number } | { at: number; shift: bigint })[] = [];
  for (const [i, charge] of charges(b.segments, o.minProbe)) probes.push({ at: b.segments[i]!.at, charge: charge + o.probeCost });
  // A stable sort keeps a segment's probe before a bulk operation starting at the same offset.
  probes.push(...b.bulk);
  probes.sort((x, y) => x.at - y.at);

  const body = new Writer();
  if (b.bulk.length > 0) {
    // One i32 local more, declared last: no existing local changes index.
    body.u32(b.groups + 1).bytes(wasm.subarray(b.localsStart + leb32Length(wasm, b.localsStart), b.codeStart));
    body.u32(1).byte(I32);
  } else {
    body.bytes(wasm.subarray(b.localsStart, b.codeStart));
  }
  let from = b.codeStart;
  for (const p of probes) {
    body.bytes(wasm.subarray(from, p.at));
    from = p.at;
    if ('charge' in p) {
      const cost = BigInt(p.charge);
      emitCharge(body, fuel, (w) => w.byte(0x42).s64(cost));
    } else {
      body.byte(0x22).u32(b.scratch); // local.tee scratch: the length stays on the stack for the operation
      emitCharge(body, fuel, (w) => {
        w.byte(0x20).u32(b.scratch).byte(0xad); // local.get scratch; i64.extend_i32_u
        if (p.shift > 0n) w.byte(0x42).s64(p.shift).byte(0x88); // i64.const shift; i64.shr_u
      });
    }
  }
  body.bytes(wasm.subarray(from, b.end));
  const bytes = body.result();
  out.u32(bytes.length).bytes(bytes);
}

function leb32Length(buf: Uint8Array, at: number): number {
  let n = 0;
  while ((buf[at + n]! & 0x80) !== 0) n++;
  return n + 1;
}

/**
 * Rewrites a policy's Wasm with fuel metering. Throws POLICY_BUNDLE_INVALID (naming /policy.wasm) for anything it
 * cannot decode or does not support, so nothing unmetered ever runs.
 */
export function meterWasm(wasm: Uint8Array, opts: MeterOptions): MeteredWasm {
  const steps = meterSteps(wasm, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * meterWasm that yields to the event loop every `sliceMs` of work: an upload's module can be tens of MB (~30 MB/s
 * here), and other requests must not wait for it. A single function body is never split (V8 caps one at ~7.6 MB).
 */
export async function meterWasmAsync(wasm: Uint8Array, opts: MeterOptions, sliceMs = 5): Promise<MeteredWasm> {
  const steps = meterSteps(wasm, opts);
  let sliceStart = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() - sliceStart >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
}

/** Functions decoded or written between two chances to yield. */
const FUNCTIONS_PER_YIELD = 16;

function* meterSteps(wasm: Uint8Array, opts: MeterOptions): Generator<void, MeteredWasm> {
  const r = new Reader(wasm);
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (wasm.length < 8 || header.some((b, i) => wasm[i] !== b)) throw refuse('does not load: it is not a WebAssembly module (binary format version 1)');
  r.pos = 8;
  const sections: { id: number; start: number; end: number }[] = [];
  let lastOrder = 0;
  while (!r.done) {
    const id = r.u8();
    const size = r.u32();
    const start = r.pos;
    r.skip(size);
    if (id !== SECTION.custom) {
      const order = ORDER[id];
      if (order === undefined) throw refuse(`has section ${id}, which is not supported`);
      if (order <= lastOrder) throw refuse(`has section ${id} out of order`);
      lastOrder = order;
    }
    sections.push({ id, start, end: r.pos });
  }

  const types: number[] = []; // parameter count per type
  const funcTypes: number[] = []; // type index per defined function
  let importedGlobals = 0;
  const bodies: FunctionBody[] = [];
  let definedGlobals = 0;
  let memory: MeteredWasm['memory'];
  const exportNames = new Set<string>();

  for (const s of sections) {
    const sr = new Reader(wasm, s.start, s.end);
    switch (s.id) {
      case SECTION.type:
        for (let n = sr.u32(), i = 0; i < n; i++) {
          const form = sr.u8();
          if (form !== 0x60) throw refuse(`declares a type of form 0x${form.toString(16)}, which is not supported`);
          const params = sr.u32();
          for (let j = 0; j < params; j++) valtype(sr);
          for (let k = sr.u32(), j = 0; j < k; j++) valtype(sr);
          types.push(params);
        }
        break;
      case SECTION.import:
        for (let n = sr.u32(), i = 0; i < n; i++) {
          sr.name();
          sr.name();
          const kind = sr.u8();
          if (kind === 0x00) sr.u32();
          else if (kind === 0x01) throw refuse('imports a table, which the policy runtime does not provide');
          else if (kind === 0x02) {
            if (memory) throw refuse('imports more than one memory');
            const l = memLimits(sr);
            memory = l.max === undefined ? { initial: l.min } : { initial: l.min, maximum: l.max };
          } else if (kind === 0x03) {
            valtype(sr);
            sr.u8();
            importedGlobals++;
          } else throw refuse(`has an import of kind ${kind}, which is not supported`);
        }
        break;
      case SECTION.function:
        for (let n = sr.u32(), i = 0; i < n; i++) funcTypes.push(sr.u32());
        break;
      case SECTION.memory:
        // The host provides the memory (as `opa build` expects) and caps it; a memory of the module's own would not be.
        if (sr.u32() > 0) throw refuse('defines its own memory; a policy must import env.memory as opa build makes it');
        break;
      case SECTION.global:
        definedGlobals = sr.u32();
        break;
      case SECTION.export:
        for (let n = sr.u32(), i = 0; i < n; i++) {
          exportNames.add(sr.name());
          const kind = sr.u8();
          const at = sr.pos;
          const idx = sr.u32();
          if (kind === 0x03 && idx >= importedGlobals + definedGlobals) throw refuse(`exports global ${idx}, which it does not declare (byte ${at})`);
        }
        break;
      case SECTION.code: {
        const n = sr.u32();
        if (n !== funcTypes.length) throw refuse(`has ${n} function bodies for ${funcTypes.length} functions`);
        for (let i = 0; i < n; i++) {
          const size = sr.u32();
          const end = sr.pos + size;
          if (end > s.end) throw refuse('has a function body past the end of the code section');
          const params = types[funcTypes[i]!];
          if (params === undefined) throw refuse(`has function ${i} of an unknown type`);
          bodies.push(decodeFunction(new Reader(wasm, sr.pos, end), params, importedGlobals + definedGlobals));
          if (i % FUNCTIONS_PER_YIELD === 0) yield;
          sr.pos = end;
        }
        break;
      }
      default:
        break;
    }
  }
  if (bodies.length !== funcTypes.length) throw refuse(`has no body for ${funcTypes.length - bodies.length} of its functions`);
  const o = { minProbe: opts.minProbe ?? DEFAULT_MIN_PROBE, probeCost: opts.probeCost ?? PROBE_COST };
  if (exportNames.has(FUEL_EXPORT)) throw refuse(`already exports ${FUEL_EXPORT}`);
  const fuel = importedGlobals + definedGlobals;

  const out = new Writer().bytes(wasm.subarray(0, 8));
  const section = (id: number, content: Writer) => {
    const bytes = content.result();
    out.byte(id).u32(bytes.length).bytes(bytes);
  };
  const fuelGlobal = (w: Writer) => w.byte(I64).byte(0x01).byte(0x42).s64(opts.initialFuel).byte(0x0b); // mut i64 = initialFuel
  const fuelExport = (w: Writer) => w.name(FUEL_EXPORT).byte(0x03).u32(fuel);
  let wroteGlobal = false;
  let wroteExport = false;
  const before = (id: number) => {
    // A module without a global or export section gets one where the order puts it.
    const order = ORDER[id]!;
    if (!wroteGlobal && order > ORDER[SECTION.global]!) {
      section(SECTION.global, fuelGlobal(new Writer().u32(1)));
      wroteGlobal = true;
    }
    if (!wroteExport && order > ORDER[SECTION.export]!) {
      section(SECTION.export, fuelExport(new Writer().u32(1)));
      wroteExport = true;
    }
  };

  for (const s of sections) {
    const sr = new Reader(wasm, s.start, s.end);
    if (s.id !== SECTION.custom) before(s.id);
    switch (s.id) {
      case SECTION.table: {
        const w = new Writer();
        const n = sr.u32();
        w.u32(n);
        for (let i = 0; i < n; i++) {
          w.byte(reftype(sr));
          const l = limits(sr, 'table');
          if (l.min > opts.maxTableEntries) throw refuse(`declares a table of ${l.min} entries, more than the limit of ${opts.maxTableEntries}`);
          w.byte(0x01).u32(l.min).u32(Math.min(l.max ?? opts.maxTableEntries, opts.maxTableEntries));
        }
        section(s.id, w);
        break;
      }
      case SECTION.global: {
        const n = sr.u32();
        section(s.id, fuelGlobal(new Writer().u32(n + 1).bytes(wasm.subarray(sr.pos, s.end))));
        wroteGlobal = true;
        break;
      }
      case SECTION.export: {
        const n = sr.u32();
        section(s.id, fuelExport(new Writer().u32(n + 1).bytes(wasm.subarray(sr.pos, s.end))));
        wroteExport = true;
        break;
      }
      case SECTION.code: {
        const w = new Writer().u32(bodies.length);
        for (const [i, b] of bodies.entries()) {
          emitFunction(wasm, b, fuel, o, w);
          if (i % FUNCTIONS_PER_YIELD === 0) yield;
        }
        section(s.id, w);
        break;
      }
      default:
        out.byte(s.id).u32(s.end - s.start).bytes(wasm.subarray(s.start, s.end));
    }
  }
  before(SECTION.data);
  return memory ? { bytes: out.result(), memory } : { bytes: out.result() };
}

/** Memory limits: 32-bit, unshared. */
function memLimits(r: Reader): { min: number; max?: number } {
  return limits(r, 'memory');
}
