/** The Wasm fuel meter: loops, recursion and bulk operations stop when the fuel runs out; what it cannot decode it refuses. */
import fc from 'fast-check';
import { DomainError } from '../errors/index.js';
import { FUEL_EXPORT, meterWasm, meterWasmAsync } from './wasm-meter.js';
import { assemble, op, s32, u32, type FuncSpec } from './wasm-assemble.test-support.js';

interface Exports {
  [name: string]: unknown;
}
const W = (globalThis as unknown as {
  WebAssembly: {
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: Exports };
    Memory: new (d: { initial: number; maximum?: number }) => object;
    validate(bytes: Uint8Array): boolean;
  };
}).WebAssembly;

const OPTS = { initialFuel: 0n, maxTableEntries: 1000 };

/** Instantiates the metered module; `run(name, fuel, ...args)` calls an export with that much fuel. */
function metered(bytes: Uint8Array, imports: object = {}) {
  const m = meterWasm(bytes, OPTS);
  const inst = new W.Instance(new W.Module(m.bytes), imports);
  const fuel = inst.exports[FUEL_EXPORT] as { value: bigint };
  return {
    fuel,
    run(name: string, steps: number, ...args: number[]): { value?: number; trapped: boolean; used: number } {
      fuel.value = BigInt(steps);
      try {
        const value = (inst.exports[name] as (...a: number[]) => number)(...args);
        return { value, trapped: false, used: steps - Number(fuel.value) };
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
        return { trapped: true, used: steps - Number(fuel.value) };
      }
    },
  };
}

function plain(bytes: Uint8Array, imports: object = {}): Exports {
  return new W.Instance(new W.Module(bytes), imports).exports;
}

const spin: FuncSpec = { export: 'spin', body: [op.loop, op.void, op.br, 0, op.end] };
// fib(n) = n < 2 ? n : fib(n - 1) + fib(n - 2): exponential, and no loop anywhere.
const fib: FuncSpec = {
  export: 'fib',
  params: [op.i32],
  results: [op.i32],
  body: [
    op.localGet, 0, op.i32Const, 2, op.i32LtS, op.if, op.i32,
    op.localGet, 0,
    op.else,
    op.localGet, 0, op.i32Const, 1, op.i32Sub, op.call, 0,
    op.localGet, 0, op.i32Const, 2, op.i32Sub, op.call, 0,
    op.i32Add,
    op.end,
  ],
};
/** sum(n) = n + (n-1) + ... + 1 with a counted loop; `pad` nops in the loop body. */
function sumLoop(pad = 0): FuncSpec {
  return {
    export: 'sum',
    params: [op.i32],
    results: [op.i32],
    locals: [[1, op.i32]],
    body: [
      op.block, op.void,
      op.loop, op.void,
      op.localGet, 0, op.i32Eqz, op.brIf, 1,
      ...Array<number>(pad).fill(0x01),
      op.localGet, 1, op.localGet, 0, op.i32Add, op.localSet, 1,
      op.localGet, 0, op.i32Const, 1, op.i32Sub, op.localSet, 0,
      op.br, 0,
      op.end,
      op.end,
      op.localGet, 1,
    ],
  };
}

function refusal(bytes: Uint8Array): DomainError {
  try {
    meterWasm(bytes, OPTS);
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    return e as DomainError;
  }
  throw new Error('the meter accepted the module');
}

/** `bytes` with one more export: global `index` as "g" (the export section is rebuilt). */
function withExportOf(bytes: Uint8Array, index: number): Uint8Array {
  let at = 8;
  for (;;) {
    const id = bytes[at]!;
    let size = 0;
    let shift = 0;
    let p = at + 1;
    for (;;) {
      const b = bytes[p++]!;
      size += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    if (id === 7) {
      const count = bytes[p]!; // fewer than 128 exports in these tests
      const entries = [...bytes.subarray(p + 1, p + size), 1, 0x67, 0x03, ...u32(index)];
      const content = [count + 1, ...entries];
      return new Uint8Array([...bytes.subarray(0, at), 7, ...u32(content.length), ...content, ...bytes.subarray(p + size)]);
    }
    at = p + size;
  }
}

describe('meterWasm: what runs out of fuel', () => {
  it('stops `loop br 0` once the fuel is spent, and says so through the exported global', () => {
    const m = metered(assemble([spin]));
    const r = m.run('spin', 1_000_000);
    expect(r.trapped).toBe(true);
    expect(m.fuel.value).toBeLessThan(0n);
  });

  it('stops an exponential recursion that has no loop: every call is charged', () => {
    const m = metered(assemble([fib]));
    expect(m.run('fib', 1_000_000, 60)).toMatchObject({ trapped: true });
    expect(m.fuel.value).toBeLessThan(0n);
    // With enough fuel it answers what the unmetered module answers.
    expect(m.run('fib', 10_000_000, 20)).toMatchObject({ trapped: false, value: 6765 });
  });

  it('charges bulk memory operations by their length', () => {
    const fill = (n: number): FuncSpec => ({ export: `fill${n}`, body: [op.i32Const, 0, op.i32Const, 0, op.i32Const, ...s32(n), 0xfc, ...u32(11), 0x00] });
    const memory = new W.Memory({ initial: 2, maximum: 2 });
    const m = metered(assemble([fill(16), fill(65536)], { memory: { min: 1 } }), { env: { memory } });
    const small = m.run('fill16', 1_000_000).used;
    const large = m.run('fill65536', 1_000_000).used;
    expect(large - small).toBeGreaterThanOrEqual(65536 / 16 - 1);
    // A loop of 64 KiB fills is stopped too, long before 10^6 iterations.
    const looped = metered(assemble([{ export: 'fills', body: [op.loop, op.void, ...fill(65536).body, op.br, 0, op.end] }], { memory: { min: 1 } }), { env: { memory } });
    expect(looped.run('fills', 1_000_000)).toMatchObject({ trapped: true, used: expect.any(Number) });
  });

  it('answers like the unmetered module and spends the same steps on every run', () => {
    const bytes = assemble([sumLoop(3)]);
    const m = metered(bytes);
    const ref = plain(bytes).sum as (n: number) => number;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2000 }), (n) => {
        const a = m.run('sum', 10_000_000, n);
        const b = m.run('sum', 10_000_000, n);
        expect(a).toEqual({ value: ref(n), trapped: false, used: b.used });
      }),
    );
  });

  it('charges at least every instruction it runs (a loop body of k instructions, n times, costs ≥ n·k)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 300 }), (pad, n) => {
        const perIteration = 3 + pad + 8 + 1; // test and exit, padding, the two updates, the branch back
        const { used, trapped } = metered(assemble([sumLoop(pad)])).run('sum', 100_000_000, n);
        expect(trapped).toBe(false);
        expect(used).toBeGreaterThanOrEqual(n * perIteration);
      }),
      { numRuns: 40 },
    );
  });
});

describe('meterWasm: the rewritten module', () => {
  it('appends its global after the module own ones, so global indices keep their meaning', () => {
    const bytes = assemble(
      [{ export: 'bump', results: [op.i64], body: [0x23, 1, op.i64Const, 1, op.i64Add, 0x24, 1, 0x23, 1] }],
      { globals: [{ type: op.i32, init: 7 }, { type: op.i64, mutable: true, init: 40 }] },
    );
    const m = metered(bytes);
    expect(m.run('bump', 1000).value).toBe(41n);
    expect(m.run('bump', 1000).value).toBe(42n);
  });

  it('keeps custom sections, and a module without globals or exports gets both', () => {
    const custom = [0, ...u32(6), ...u32(4), ...new TextEncoder().encode('note'), 0x2a];
    const bytes = assemble([{ body: [] }], { sections: [custom] });
    const out = meterWasm(bytes, OPTS).bytes;
    expect(W.validate(out)).toBe(true);
    expect(Buffer.from(out).includes(Buffer.from('note'))).toBe(true);
    expect(Object.keys(plain(out))).toEqual([FUEL_EXPORT]);
  });

  it('meterWasmAsync gives the event loop its turn while it works, and writes the same module', async () => {
    const bytes = assemble(Array.from({ length: 200 }, () => sumLoop(50)).map((f, i) => ({ ...f, export: `sum${i}` })));
    const order: string[] = [];
    const metering = meterWasmAsync(bytes, OPTS, 0).then((m) => {
      order.push('metered');
      return m;
    });
    setImmediate(() => order.push('another callback'));
    const m = await metering;
    expect(order).toEqual(['another callback', 'metered']);
    expect(m.bytes).toEqual(meterWasm(bytes, OPTS).bytes);
  });

  it('reports the memory the module imports, with its limits', () => {
    expect(meterWasm(assemble([spin], { memory: { min: 2 } }), OPTS).memory).toEqual({ initial: 2 });
    expect(meterWasm(assemble([spin], { memory: { min: 2, max: 9 } }), OPTS).memory).toEqual({ initial: 2, maximum: 9 });
    expect(meterWasm(assemble([spin]), OPTS).memory).toBeUndefined();
  });
});

describe('meterWasm: what it refuses (POLICY_BUNDLE_INVALID naming /policy.wasm)', () => {
  const body = (...instructions: number[]) => assemble([{ export: 'f', body: instructions }]);
  it.each([
    ['SIMD (0xfd)', body(0xfd, 0x0c, ...Array<number>(16).fill(0), op.drop), /opcode 0xfd/],
    ['threads (0xfe)', body(op.i32Const, 0, 0xfe, 0x10, 0x02, 0x00, op.drop), /opcode 0xfe/],
    ['exceptions (try)', body(0x06, op.void, op.end), /opcode 0x6/],
    ['tail calls (return_call)', body(0x12, 0), /opcode 0x12/],
    ['an unknown 0xfc instruction', body(0xfc, ...u32(18), 0), /0xfc 18/],
    ['a second memory in a load', body(op.i32Const, 0, op.i32Load, 0x40, 1, 0, op.drop), /second memory/],
    ['a body that ends early', body(op.block, op.void), /ends/],
  ])('%s', (_, bytes, message) => {
    const e = refusal(bytes);
    expect(e).toMatchObject({ code: 'POLICY_BUNDLE_INVALID', kind: 'unprocessable', errors: [{ path: '/policy.wasm' }] });
    expect(e.message).toMatch(message);
  });

  it('refuses what is not Wasm, a memory of the module own, and an export named like its fuel', () => {
    expect(refusal(new TextEncoder().encode('not wasm at all')).message).toMatch(/does not load/);
    expect(refusal(assemble([spin], { ownMemory: { min: 1 } })).message).toMatch(/defines its own memory/);
    expect(refusal(assemble([{ ...spin, export: FUEL_EXPORT }])).message).toMatch(/already exports/);
  });

  it('refuses a module that names the fuel global or the scratch local, which only exist once it is metered', () => {
    // Invalid as uploaded, valid once rewritten: `global.set` on the index the fuel gets would refill it every iteration.
    const refill = [op.loop, op.void, op.i64Const, ...s32(2 ** 30), 0x24, 1, op.br, 0, op.end];
    const withGlobal = assemble([{ export: 'spin', body: refill }], { globals: [{ type: op.i32, init: 0 }] });
    expect(W.validate(withGlobal)).toBe(false);
    expect(refusal(withGlobal).message).toMatch(/global 1/);
    expect(refusal(assemble([{ export: 'get', results: [op.i64], body: [0x23, 0] }])).message).toMatch(/global 0/);
    // The scratch local a bulk operation gets (index 1 here: one parameter, no locals).
    const fill = [op.i32Const, 0, op.i32Const, 0, op.i32Const, 0, 0xfc, ...u32(11), 0x00];
    const scratch = assemble([{ export: 'f', params: [op.i32], body: [...fill, op.i32Const, 5, op.localSet, 1] }], { memory: { min: 1 } });
    expect(W.validate(scratch)).toBe(false);
    expect(refusal(scratch).message).toMatch(/local 1/);
    // Exporting the fuel global under another name.
    const exported = assemble([spin], { sections: [] });
    expect(refusal(withExportOf(exported, 0)).message).toMatch(/global 0/);
  });

  it('refuses a table larger than the limit and caps the growth of smaller ones', () => {
    expect(refusal(assemble([spin], { tables: [{ min: 5000 }] })).message).toMatch(/table of 5000 entries/);
    const grow: FuncSpec = { export: 'grow', params: [op.i32], results: [op.i32], body: [0xd0, 0x70, op.localGet, 0, 0xfc, ...u32(15), 0] };
    const m = metered(assemble([grow], { tables: [{ min: 10 }] }));
    expect(m.run('grow', 1_000_000, 990).value).toBe(10); // table.grow answers the old size
    expect(m.run('grow', 1_000_000, 1).value).toBe(-1); // 1,000 is OPTS.maxTableEntries
  });
});
