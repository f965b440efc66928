/** Two releases side by side: the components that differ, and for each rule pack its parameters and rules, changed lines marked. */
import { useEffect, useState } from 'react';
import { api, ApiError } from '../../api/client.js';
import type { PageProps } from '../../app/route.js';
import { href, seg } from '../../app/router.js';
import { useApi } from '../../app/use-api.js';
import { t } from '../../i18n/index.js';
import { ErrorNotice } from '../../ui/ErrorNotice.js';
import { Loading, Page } from '../../ui/Page.js';
import { ComponentTable } from './ComponentTable.js';
import { componentChanges, groupTableRows, isQuietTableRow, lineDiff, paramDiff, parameterRows, parseRef, prettyLines, type ComponentChange, type DiffLine } from './diff.js';
import { show } from '../../explain/trace.js';
import type { Release } from './Releases.js';

interface PackDoc {
  pack?: { parameters?: Record<string, unknown>; parameterTables?: Record<string, unknown>; rules?: unknown[]; [k: string]: unknown };
}

export function DiffPage({ query }: PageProps) {
  const a = parseRef(query.get('a'));
  const b = parseRef(query.get('b'));
  const ra = useApi<Release>(a ? `/v1/releases/${seg(a.name)}/${seg(a.version)}` : undefined);
  const rb = useApi<Release>(b ? `/v1/releases/${seg(b.name)}/${seg(b.version)}` : undefined);
  const changes = ra.data && rb.data ? componentChanges(ra.data.components, rb.data.components) : [];
  return (
    <Page
      title={t('authors.diff.title', { a: query.get('a') ?? '?', b: query.get('b') ?? '?' })}
      actions={
        <a className="button" href={href('/releases')}>
          {t('authors.release.back')}
        </a>
      }
    >
      {!a || !b ? <p>{t('authors.diff.pick')}</p> : null}
      <ErrorNotice error={ra.error ?? rb.error} />
      {(ra.loading || rb.loading) && !(ra.data && rb.data) ? <Loading /> : null}
      {ra.data && rb.data ? (
        <>
          <h2>{t('authors.diff.components')}</h2>
          <ComponentTable changes={changes} />
          <p className="muted small">{t('authors.diff.legend')}</p>
          {changes.map((c) => (
            <ComponentDiff key={c.name} change={c} />
          ))}
        </>
      ) : null}
    </Page>
  );
}

function ComponentDiff({ change }: { change: ComponentChange }) {
  const [docs, setDocs] = useState<{ before?: PackDoc; after?: PackDoc; kind?: string; error?: unknown }>();
  useEffect(() => {
    let live = true;
    const fetchPack = (v?: string) => (v ? api<PackDoc>(`/v1/rule-packs/${seg(change.name)}/${seg(v)}`) : Promise.resolve(undefined));
    Promise.all([fetchPack(change.before), fetchPack(change.after)]).then(
      ([before, after]) => live && setDocs({ before, after }),
      (e: unknown) => live && setDocs(e instanceof ApiError && e.status === 404 ? { kind: t('authors.diff.otherKind') } : { error: e }),
    );
    return () => {
      live = false;
    };
  }, [change.name, change.before, change.after]);

  return (
    <section className="card" aria-labelledby={`diff-${change.name}`}>
      <h2 id={`diff-${change.name}`}>
        {change.name}: {change.before ?? '—'} → {change.after ?? '—'}
      </h2>
      {!docs ? <Loading /> : null}
      <ErrorNotice error={docs?.error} />
      {docs?.kind ? <p className="muted">{t('authors.diff.notPack', { kind: docs.kind, before: change.before ?? '—', after: change.after ?? '—' })}</p> : null}
      {docs && !docs.kind && !docs.error ? (
        <>
          <h3>{t('authors.diff.parameters')}</h3>
          <div className="table-wrap" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  {(['name', 'before', 'after', 'change'] as const).map((c) => (
                    <th key={c} scope="col">
                      {t(`authors.diff.paramColumns.${c}`)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {groupTableRows(paramDiff(parameterRows(docs.before?.pack), parameterRows(docs.after?.pack)), tableNames(docs))
                  .filter((p) => !isQuietTableRow(p, tableNames(docs)))
                  .map((p) => (
                  <tr key={p.name} className={p.change === 'same' ? undefined : 'diff-chg'}>
                    <th scope="row">{p.name}</th>
                    <td className="mono small">{p.change === 'added' ? '—' : show(p.before)}</td>
                    <td className="mono small">{p.change === 'removed' ? '—' : show(p.after)}</td>
                    <td>{p.change === 'same' ? t('authors.diff.same') : <strong>{t(`authors.diff.${p.change}`)}</strong>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h3>{t('authors.diff.rules')}</h3>
          <SideBySide lines={lineDiff(prettyLines(docs.before?.pack?.rules ?? []), prettyLines(docs.after?.pack?.rules ?? []))} />
        </>
      ) : null}
    </section>
  );
}

/** The parameter tables of either side. */
function tableNames(docs: { before?: PackDoc; after?: PackDoc }): string[] {
  return [...new Set([...Object.keys(docs.before?.pack?.parameterTables ?? {}), ...Object.keys(docs.after?.pack?.parameterTables ?? {})])];
}

/** Pairs each run of removed lines with the run of added lines after it, so a changed line sits beside its new text. */
function rows(lines: DiffLine[]): { left?: DiffLine; right?: DiffLine }[] {
  const out: { left?: DiffLine; right?: DiffLine }[] = [];
  for (let i = 0; i < lines.length; ) {
    const l = lines[i]!;
    if (l.kind === 'same') {
      out.push({ left: l, right: l });
      i++;
      continue;
    }
    const dels: DiffLine[] = [];
    const adds: DiffLine[] = [];
    while (i < lines.length && lines[i]!.kind === 'del') dels.push(lines[i++]!);
    while (i < lines.length && lines[i]!.kind === 'add') adds.push(lines[i++]!);
    for (let k = 0; k < Math.max(dels.length, adds.length); k++) out.push({ left: dels[k], right: adds[k] });
  }
  return out;
}

function SideBySide({ lines }: { lines: DiffLine[] }) {
  if (lines.every((l) => l.kind === 'same')) return <p className="muted">{t('authors.diff.rulesSame')}</p>;
  const r = rows(lines);
  // Long unchanged stretches fold: only changes and three lines around them are shown.
  const near = new Set<number>();
  r.forEach((x, i) => {
    if (x.left?.kind !== 'same') for (let k = i - 3; k <= i + 3; k++) near.add(k);
  });
  return (
    <div className="table-wrap" tabIndex={0}>
      <table className="diff-table">
        <tbody>
          {r.map((x, i) =>
            near.has(i) ? (
              <tr key={i}>
                <td className="mark" aria-hidden="true">{x.left?.kind === 'del' ? '−' : ''}</td>
                <td className={x.left?.kind === 'del' ? 'diff-del' : undefined}>{x.left ? (x.left.kind === 'del' ? <span className="visually-hidden">{t('authors.diff.removedSr')}</span> : null) : null}{x.left?.text ?? ''}</td>
                <td className="mark" aria-hidden="true">{x.right?.kind === 'add' ? '+' : ''}</td>
                <td className={x.right?.kind === 'add' ? 'diff-add' : undefined}>{x.right ? (x.right.kind === 'add' ? <span className="visually-hidden">{t('authors.diff.addedSr')}</span> : null) : null}{x.right?.text ?? ''}</td>
              </tr>
            ) : near.has(i - 1) ? (
              <tr key={i}>
                <td colSpan={4} className="muted small">
                  ⋯
                </td>
              </tr>
            ) : null,
          )}
        </tbody>
      </table>
    </div>
  );
}
