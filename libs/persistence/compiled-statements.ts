/**
 * Statements whose text depends only on their shape, compiled once per shape and bound to each call's values.
 *
 * Kysely builds and compiles a template on every call. For the refund decision's read with features that meant
 * building the aggregates' subqueries, compiling them and naming the long text again (prepared-statements.ts hashes a
 * text it has not seen as that very string): 28–54 µs per read with two to four features, against 3–4 µs bound to a
 * text compiled once (docs/benchmarks.md, 2026-12-05, thirteenth session). Compiled once, a call computes its values
 * only, and its text is the same string every time.
 *
 * The builder is the one the uncompiled path runs: `build` gets stand-ins (`slot`) for the values a call brings, so
 * the text and the order of its parameters come from one place. Whatever else `build` reads must be the same for
 * every call of a shape: the shape's key must name it.
 */
import { CompiledQuery, type QueryExecutorProvider, type RawBuilder } from 'kysely';

const VALUE = Symbol('slot');

/** A stand-in for a call's value while the statement compiles: Kysely passes it on as a parameter. */
interface Slot<A> {
  readonly [VALUE]: (args: A) => unknown;
}

function isSlot<A>(v: unknown): v is Slot<A> {
  return typeof v === 'object' && v !== null && VALUE in v;
}

/** A stand-in for the value `get` takes from a call's arguments, typed as that value for the builder. */
export type SlotOf<A> = <T>(get: (args: A) => T) => T;

interface Compiled {
  sql: string;
  /** Constants as compiled, and the stand-ins to replace with each call's values. */
  parameters: readonly unknown[];
  /** Each distinct stand-in's reader, once: a stand-in used in several places (a tenant, a time) is read once a call. */
  readers: readonly ((args: unknown) => unknown)[];
  /** For each parameter, the index of its reader in `readers`, or -1 for a constant. */
  readerOf: readonly number[];
}

/**
 * The key of a statement's shape: every part of `shape`, the only thing its builder reads besides stand-ins, so two
 * shapes that differ in any part have different keys. Parts in the order the object lists them.
 */
export function shapeKey(shape: Readonly<Record<string, boolean | number>>): string {
  let key = '';
  for (const v of Object.values(shape)) key += typeof v === 'boolean' ? (v ? 't' : 'f') : `${v},`;
  return key;
}

/** Shapes kept at most: one per declared feature set (a few per loaded decision type), never one per call. */
const MAX_SHAPES = 256;

export class CompiledStatements<A> {
  private readonly byShape = new Map<string, Compiled>();

  constructor(private readonly maxShapes = MAX_SHAPES) {}

  /** The statement of `shape` with `args`' values, compiled by `build` the first time the shape is seen. */
  bind<R>(db: QueryExecutorProvider, shape: string, args: A, build: (slot: SlotOf<A>) => RawBuilder<R>): CompiledQuery<R> {
    let compiled = this.byShape.get(shape);
    if (compiled === undefined) {
      const slot = (<T>(get: (args: A) => T): T => ({ [VALUE]: get }) as unknown as T) as SlotOf<A>;
      const query = build(slot).compile(db);
      const readers: ((args: unknown) => unknown)[] = [];
      const seen = new Map<Slot<A>, number>();
      const readerOf = query.parameters.map((p) => {
        if (!isSlot<A>(p)) return -1;
        let index = seen.get(p);
        if (index === undefined) seen.set(p, (index = readers.push(p[VALUE] as (args: unknown) => unknown) - 1));
        return index;
      });
      compiled = { sql: query.sql, parameters: query.parameters, readers, readerOf };
      // Shapes come from loaded decision types: past the bound (releases come and go), start again rather than grow.
      if (this.byShape.size >= this.maxShapes) this.byShape.clear();
      this.byShape.set(shape, compiled);
    }
    const { parameters, readers, readerOf } = compiled;
    const read = readers.map((r) => r(args));
    const values = parameters.map((p, i) => (readerOf[i]! < 0 ? p : read[readerOf[i]!]));
    return CompiledQuery.raw(compiled.sql, values);
  }

  get size(): number {
    return this.byShape.size;
  }
}
