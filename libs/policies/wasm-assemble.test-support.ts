/** A tiny Wasm assembler for tests: hand-written modules (a spin loop, a recursion) to meter and run. */

export const op = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i32Store: 0x36,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Eqz: 0x45,
  i32LtS: 0x48,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  i64Add: 0x7c,
  void: 0x40,
  i32: 0x7f,
  i64: 0x7e,
} as const;

export function u32(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

export function s32(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

function vec(items: number[][]): number[] {
  return [...u32(items.length), ...items.flat()];
}

function name(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...u32(b.length), ...b];
}

function section(id: number, content: number[]): number[] {
  return [id, ...u32(content.length), ...content];
}

export interface FuncSpec {
  params?: number[];
  results?: number[];
  /** Local groups: [count, type]. */
  locals?: [number, number][];
  /** Instructions, without the final `end`. */
  body: number[];
  export?: string;
}

/** A global: its type, whether mutable, and its initial value (i32 or i64 constant). */
export interface GlobalSpec {
  type: typeof op.i32 | typeof op.i64;
  mutable?: boolean;
  init: number;
}

/**
 * A module of the given functions (each with its own type), optionally importing env.memory or defining tables, a
 * memory and globals, with raw sections placed after the exports (start, element or data count; or custom ones).
 */
export function assemble(
  funcs: FuncSpec[],
  opts: { memory?: { min: number; max?: number }; globals?: GlobalSpec[]; sections?: number[][]; tables?: { min: number; max?: number }[]; ownMemory?: { min: number } } = {},
): Uint8Array {
  const types = funcs.map((f) => [0x60, ...vec((f.params ?? []).map((t) => [t])), ...vec((f.results ?? []).map((t) => [t]))]);
  const imports = opts.memory
    ? [
        section(
          2,
          vec([[...name('env'), ...name('memory'), 0x02, ...(opts.memory.max === undefined ? [0x00, ...u32(opts.memory.min)] : [0x01, ...u32(opts.memory.min), ...u32(opts.memory.max)])]]),
        ),
      ]
    : [];
  const exports = funcs.flatMap((f, i) => (f.export ? [[...name(f.export), 0x00, ...u32(i)]] : []));
  const bodies = funcs.map((f) => {
    const body = [...vec((f.locals ?? []).map(([n, t]) => [...u32(n), t])), ...f.body, op.end];
    return [...u32(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...imports.flat(),
    ...section(3, vec(funcs.map((_, i) => u32(i)))),
    ...(opts.tables ? section(4, vec(opts.tables.map((t) => [0x70, ...(t.max === undefined ? [0x00, ...u32(t.min)] : [0x01, ...u32(t.min), ...u32(t.max)])]))) : []),
    ...(opts.ownMemory ? section(5, vec([[0x00, ...u32(opts.ownMemory.min)]])) : []),
    ...(opts.globals ? section(6, vec(opts.globals.map((g) => [g.type, g.mutable ? 1 : 0, g.type === op.i32 ? op.i32Const : op.i64Const, ...s32(g.init), op.end]))) : []),
    ...section(7, vec(exports)),
    ...(opts.sections ?? []).flat(),
    ...section(10, vec(bodies)),
  ]);
}

function readU32(b: Uint8Array, at: number): [value: number, next: number] {
  let v = 0;
  let shift = 0;
  for (;;) {
    const x = b[at++]!;
    v += (x & 0x7f) * 2 ** shift;
    shift += 7;
    if ((x & 0x80) === 0) return [v, at];
  }
}

/**
 * A copy of `wasm` in which the function exported as `exportName` has `body` (instructions, without the final `end`)
 * and no locals: how a test makes a real OPA module's entrypoint loop forever.
 */
export function replaceExportedFunction(wasm: Uint8Array, exportName: string, body: number[]): Uint8Array {
  const sections: { id: number; header: number; start: number; end: number }[] = [];
  for (let at = 8; at < wasm.length; ) {
    const id = wasm[at]!;
    const [size, start] = readU32(wasm, at + 1);
    sections.push({ id, header: at, start, end: start + size });
    at = start + size;
  }
  let importedFunctions = 0;
  const imports = sections.find((s) => s.id === 2);
  if (imports) {
    let [n, at] = readU32(wasm, imports.start);
    for (; n > 0; n--) {
      for (let k = 0; k < 2; k++) {
        const [len, next] = readU32(wasm, at);
        at = next + len;
      }
      const kind = wasm[at++]!;
      if (kind === 0) {
        importedFunctions++;
        at = readU32(wasm, at)[1];
      } else if (kind === 1) {
        at += 1;
        at = wasm[at] === 0 ? readU32(wasm, at + 1)[1] : readU32(wasm, readU32(wasm, at + 1)[1])[1];
      } else if (kind === 2) {
        at = wasm[at] === 0 ? readU32(wasm, at + 1)[1] : readU32(wasm, readU32(wasm, at + 1)[1])[1];
      } else at += 2;
    }
  }
  const exportsSection = sections.find((s) => s.id === 7)!;
  let target = -1;
  let [n, at] = readU32(wasm, exportsSection.start);
  for (; n > 0; n--) {
    const [len, next] = readU32(wasm, at);
    const name = new TextDecoder().decode(wasm.subarray(next, next + len));
    const kind = wasm[next + len]!;
    const [index, after] = readU32(wasm, next + len + 1);
    if (name === exportName && kind === 0) target = index - importedFunctions;
    at = after;
  }
  if (target < 0) throw new Error(`no exported function ${exportName}`);
  const code = sections.find((s) => s.id === 10)!;
  const [count, first] = readU32(wasm, code.start);
  let p = first;
  const bodies: number[][] = [];
  for (let i = 0; i < count; i++) {
    const [size, start] = readU32(wasm, p);
    const replaced = [0, ...body, op.end];
    bodies.push(i === target ? [...u32(replaced.length), ...replaced] : [...wasm.subarray(p, start + size)]);
    p = start + size;
  }
  const newCode = section(10, vec(bodies));
  return new Uint8Array([...wasm.subarray(0, code.header), ...newCode, ...wasm.subarray(code.end)]);
}
