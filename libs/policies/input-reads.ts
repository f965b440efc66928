/**
 * Which parts of its input a policy can read, found in the Rego sources its bundle carries: so that an evaluation
 * is handed only those (less JSON to write into the Wasm, parse and hash there) without the decision type having to
 * declare them, and without any change to what the policy sees at the paths it reads.
 *
 * The scan is conservative: it answers undefined (the policy may read all of its input) unless every mention of
 * `input` is one of
 * - `input.a.b…` (the path up to the first `[` or anything else that is not `.name`): the value there, whole;
 * - `object.get(input, "a", …)` or `object.get(input, ["a", "b", …], …)` with literal strings (up to the first element
 *   that is not one): the value there, whole;
 * - `import input.a…` (the same as `input.a…`).
 * Anything else — `input` alone (`is_object(input)`, `some x in input`, `with input as …`, `f(input)`), a string
 * literal that mentions `input` (OPA may one day interpolate strings), a bundle without Rego — means all of it.
 * Comments are skipped; `x.input` is a field, not the input document.
 */

/** JSON pointers of the input's parts the sources can read, ascending, or undefined for the whole input. */
export function inputReads(sources: readonly string[]): string[] | undefined {
  if (sources.length === 0) return undefined;
  const paths = new Set<string>();
  for (const source of sources) {
    const found = scan(tokens(source));
    if (found === undefined) return undefined;
    for (const p of found) paths.add(p);
  }
  // A path under another one kept whole adds nothing.
  const sorted = [...paths].sort();
  return sorted.filter((p) => !sorted.some((q) => q !== p && p.startsWith(`${q}/`)));
}

/** `exact`: a string whose text is its value (no escape this scan would have to decode). */
type Token = { kind: 'name' | 'string' | 'punct' | 'other'; text: string; exact?: boolean };

function tokens(source: string): Token[] | undefined {
  const out: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === '#') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === '`') {
      let j = i + 1;
      let text = '';
      let exact = true;
      for (; j < source.length && source[j] !== c; j++) {
        if (c === '"' && source[j] === '\\') {
          // Escaped: kept raw for the `input` check, but never used as a key (\n, \u… would need decoding).
          exact = false;
          text += source[j]! + (source[++j] ?? '');
        } else text += source[j];
      }
      if (j >= source.length) return undefined; // unterminated: not Rego this scan understands
      out.push({ kind: 'string', text, exact });
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < source.length && /[A-Za-z0-9_]/.test(source[j]!)) j++;
      out.push({ kind: 'name', text: source.slice(i, j) });
      i = j;
    } else if ('.,[]()'.includes(c)) {
      out.push({ kind: 'punct', text: c });
      i++;
    } else {
      out.push({ kind: 'other', text: c });
      i++;
    }
  }
  return out;
}

function scan(list: Token[] | undefined): string[] | undefined {
  if (list === undefined) return undefined;
  const paths: string[] = [];
  for (let i = 0; i < list.length; i++) {
    const t = list[i]!;
    if (t.kind === 'string') {
      if (t.text.includes('input')) return undefined;
      continue;
    }
    if (t.kind !== 'name' || t.text !== 'input') continue;
    if (list[i - 1]?.text === '.') continue; // a field named input
    const path = dotted(list, i + 1) ?? objectGet(list, i);
    if (path === undefined || path.length === 0) return undefined;
    paths.push(pointer(path));
  }
  return paths;
}

/** `.a.b…` from `at`: the names, or undefined when `input` is not followed by a dot. */
function dotted(list: Token[], at: number): string[] | undefined {
  const names: string[] = [];
  for (let k = at; list[k]?.text === '.' && list[k + 1]?.kind === 'name'; k += 2) names.push(list[k + 1]!.text);
  return names.length > 0 ? names : undefined;
}

/** `object.get(input, <literal path>, …)` around `input` at `at`: the literal path's leading strings. */
function objectGet(list: Token[], at: number): string[] | undefined {
  const [o, dot, get, open] = [list[at - 4], list[at - 3], list[at - 2], list[at - 1]];
  if (o?.text !== 'object' || dot?.text !== '.' || get?.text !== 'get' || open?.text !== '(' || list[at - 5]?.text === '.') return undefined;
  if (list[at + 1]?.text !== ',') return undefined;
  const key = list[at + 2];
  if (key?.kind === 'string') return key.exact && list[at + 3]?.text === ',' ? [key.text] : undefined;
  if (key?.text !== '[') return undefined;
  const names: string[] = [];
  for (let k = at + 3; list[k]?.kind === 'string' && list[k]!.exact; k += 2) {
    names.push(list[k]!.text);
    if (list[k + 1]?.text !== ',') break;
  }
  return names;
}

function pointer(path: readonly string[]): string {
  return path.map((p) => `/${p.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}
