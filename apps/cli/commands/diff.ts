/** `decisions diff <a.json> <b.json>`: rules added/removed/changed, parameter and parameter-table changes and fact-schema changes. */
import { diffPacks, type PackDiff } from '../../../libs/rules/index.js';
import type { Command } from '../command.js';
import { CliError } from '../output.js';
import { loadPacks } from '../packs.js';

const short = (v: unknown): string => {
  const s = JSON.stringify(v) ?? 'undefined';
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

type Table = { description?: string; key: { fact: string; path?: string }; values: Record<string, unknown>; default: unknown };

const keyName = (t: Table): string => `${t.key.fact}${t.key.path ? t.key.path.slice(1) : ''}`;

function describeTable(value: unknown): string {
  const t = value as Table;
  const n = Object.keys(t.values).length;
  return `by ${keyName(t)}: ${n} ${n === 1 ? 'entry' : 'entries'}, default ${short(t.default)}`;
}

/** A changed table entry by entry: a table of 180 currencies with one new rate reads as that rate. */
function tableChanges(fromValue: unknown, toValue: unknown): string[] {
  const [a, b] = [fromValue as Table, toValue as Table];
  const out: string[] = [];
  if (keyName(a) !== keyName(b)) out.push(`key ${keyName(a)} -> ${keyName(b)}`);
  for (const [k, v] of Object.entries(b.values)) {
    if (!Object.hasOwn(a.values, k)) out.push(`+ ${k} = ${short(v)}`);
    else if (JSON.stringify(a.values[k]) !== JSON.stringify(v)) out.push(`${k} ${short(a.values[k])} -> ${short(v)}`);
  }
  for (const [k, v] of Object.entries(a.values)) if (!Object.hasOwn(b.values, k)) out.push(`- ${k} (was ${short(v)})`);
  if (JSON.stringify(a.default) !== JSON.stringify(b.default)) out.push(`default ${short(a.default)} -> ${short(b.default)}`);
  if (a.description !== b.description) out.push('description');
  return out;
}

function render(d: PackDiff): string[] {
  const lines = [`${d.from} -> ${d.to}${d.same ? ': no changes but the version' : ''}`];
  if (d.same) return lines;
  for (const h of d.header) lines.push(`${h.name}: ${short(h.from)} -> ${short(h.to)}`);
  const { rules, parameters, factSchema, tests } = d;
  if (rules.added.length + rules.removed.length + rules.changed.length || rules.reordered) {
    lines.push('rules:');
    for (const r of rules.added) lines.push(`  + ${r}`);
    for (const r of rules.removed) lines.push(`  - ${r}`);
    for (const r of rules.changed) lines.push(`  ~ ${r.name} (${r.fields.join(', ')})`);
    if (rules.reordered) lines.push('  ~ order of rules changed');
  }
  if (parameters.added.length + parameters.removed.length + parameters.changed.length) {
    lines.push('parameters:');
    for (const p of parameters.added) lines.push(`  + ${p.name} = ${short(p.to)}`);
    for (const p of parameters.removed) lines.push(`  - ${p.name} (was ${short(p.from)})`);
    for (const p of parameters.changed) lines.push(`  ~ ${p.name}: ${short(p.from)} -> ${short(p.to)}`);
  }
  const tables = d.parameterTables;
  if (tables.added.length + tables.removed.length + tables.changed.length) {
    lines.push('parameter tables:');
    for (const p of tables.added) lines.push(`  + ${p.name} (${describeTable(p.to)})`);
    for (const p of tables.removed) lines.push(`  - ${p.name} (was ${describeTable(p.from)})`);
    for (const p of tables.changed) lines.push(`  ~ ${p.name}: ${tableChanges(p.from, p.to).join('; ')}`);
  }
  if (factSchema.added.length + factSchema.removed.length + factSchema.changed.length) {
    lines.push('fact schema:');
    for (const p of factSchema.added) lines.push(`  + ${p}`);
    for (const p of factSchema.removed) lines.push(`  - ${p}`);
    for (const c of factSchema.changed) lines.push(`  ~ ${c.path}: ${short(c.from)} -> ${short(c.to)}`);
  }
  if (tests.added.length || tests.removed.length || tests.changed.length || tests.defaultsChanged || tests.from !== tests.to) {
    lines.push(`tests: ${tests.from} -> ${tests.to} cases`);
    for (const t of tests.added) lines.push(`  + ${t}`);
    for (const t of tests.removed) lines.push(`  - ${t}`);
    for (const t of tests.changed) lines.push(`  ~ ${t}`);
    if (tests.defaultsChanged) lines.push('  ~ defaults');
  }
  return lines;
}

export const diff: Command = {
  name: 'diff',
  args: '<pack-a.json> <pack-b.json>',
  summary: 'what changed between two packs: rules, parameters, parameter tables, fact schema, tests',
  async run({ io, positionals }) {
    if (positionals.length !== 2) throw new CliError('diff needs two pack files', 2);
    const [a, b] = await loadPacks(positionals);
    const d = diffPacks(a!.pack, b!.pack);
    if (io.json) io.out(JSON.stringify(d, null, 2));
    else for (const line of render(d)) io.out(line);
    return 0;
  },
};
