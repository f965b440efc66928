/**
 * What leaves the service in spans: statements and URLs without the values in them. A query string may carry a raw
 * customer id (GET /v1/decisions?customer=…), and MikroORM writes some statements with their values inlined (an API
 * key's hash, an audit row's details), so span attributes keep the shape and drop the values. Pure functions, used by
 * the instrumentations' hooks in telemetry.ts.
 */

/**
 * The tokens of a statement that may hold values or hide quotes, left to right: E'…' (backslash escapes), '…' ('' inside),
 * $tag$…$tag$, then line and block comments (an apostrophe in a comment must not pair with a literal's).
 */
const TOKENS = /(?<![A-Za-z0-9_$])[Ee]'(?:[^'\\]|''|\\[\s\S])*'|'(?:[^']|'')*'|\$([A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$\1\$|--[^\n]*|\/\*[\s\S]*?\*\//g;

/**
 * `text` with every quoted literal replaced by `?` and comments dropped: the statement's shape stays readable, the
 * values it inlined do not leave. An unterminated literal is cut off with everything after it. Parameterised statements
 * ($1, $2 …) keep their text; their values are never recorded.
 */
export function maskSqlLiterals(text: string): string {
  if (!text.includes("'") && !text.includes('$') && !text.includes('--') && !text.includes('/*')) return text;
  const masked = text.replace(TOKENS, (token) => (token.startsWith('--') || token.startsWith('/*') ? '' : '?'));
  // What is left of a quote opened and never closed would be a value.
  const open = masked.search(/'|\$[A-Za-z_]*\$/);
  return open < 0 ? masked : `${masked.slice(0, open)}?`;
}

/**
 * The SQL command a statement starts with, past its leading comments: the pool marks statements with one
 * (prepared-statements.ts: GENERIC_PLAN, THEN_COMMIT …), and the pg instrumentation would name their span `/*`.
 * Undefined when nothing comes after the comments.
 */
export function sqlCommand(text: string): string | undefined {
  const word = /^\s*([^\s;(]+)/.exec(text.replace(/^(?:\s*\/\*[\s\S]*?\*\/)+/, ''))?.[1];
  // An unterminated comment is not a command.
  return word === undefined || word.startsWith('/*') ? undefined : word.toUpperCase();
}

/** A query string (without the `?`) with its values dropped: `customer=cus_1&limit=5` → `customer=&limit=`. */
export function queryNamesOnly(query: string): string {
  if (query === '') return query;
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq < 0 ? pair : pair.slice(0, eq + 1);
    })
    .join('&');
}

/** A request URL's path without its query string. */
export function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
