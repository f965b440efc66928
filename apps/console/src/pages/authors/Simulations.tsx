/**
 * Simulations: recent runs, and a new one on a candidate release — a stored release, or the active release with
 * changed parameters of one of its rule packs (stored first as a pre-release pack version, since a simulation names
 * stored components). Replay keeps each decision's stored features; a backtest recomputes them as of each case.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { actionKey, api, ApiError } from '../../api/client.js';
import type { PageProps } from '../../app/route.js';
import { href, navigate, seg } from '../../app/router.js';
import { useApi, useCursorList } from '../../app/use-api.js';
import { t } from '../../i18n/index.js';
import { Badge } from '../../ui/Badge.js';
import { ErrorNotice } from '../../ui/ErrorNotice.js';
import { dateTime, number } from '../../ui/format.js';
import { MoreButton, Page } from '../../ui/Page.js';
import { utcInput } from '../auditors/replay.js';
import { ref, type ActiveRelease, type Release } from './Releases.js';

export interface SimulationJob {
  id: string;
  status: string;
  mode?: string;
  domain?: string;
  release?: { name: string; version: string; components?: Record<string, string> };
  progress?: { done: number; total: number };
  summary?: { total: number; changed: number; transitions: Record<string, number>; outcomes?: { baseline: Record<string, number>; candidate: Record<string, number> }; reasonCodes?: { added: Record<string, number>; removed: Record<string, number> } } | null;
  results?: { caseRef: unknown; baseline: Record<string, unknown>; candidate: Record<string, unknown> }[] | null;
  resultsTruncated?: boolean;
  error?: { code: string; message: string } | null;
  createdAt?: string;
  finishedAt?: string | null;
}

const isoInput = (d: Date) => d.toISOString().slice(0, 16);

export function Simulations(_: PageProps) {
  const list = useCursorList<SimulationJob>('/v1/simulations', {});
  return (
    <Page title={t('authors.simulations.title')}>
      <NewSimulation />
      <h2>{t('authors.simulations.list')}</h2>
      <ErrorNotice error={list.error} onRetry={list.reload} />
      <div className="table-wrap" tabIndex={0}>
        <table>
          <thead>
            <tr>
              {(['created', 'status', 'mode', 'release', 'progress', 'changed'] as const).map((c) => (
                <th key={c} scope="col">
                  {t(`authors.simulations.columns.${c}`)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {list.items.map((s) => (
              <tr key={s.id}>
                <td>
                  <a href={href(`/simulations/${seg(s.id)}`)}>{dateTime(s.createdAt)}</a>
                </td>
                <td>
                  <Badge value={s.status.toUpperCase()} />
                </td>
                <td>{s.mode ?? '—'}</td>
                <td>{ref(s.release)}</td>
                <td className="num">{s.progress ? `${number(s.progress.done)} / ${number(s.progress.total)}` : '—'}</td>
                <td className="num">{s.summary ? number(s.summary.changed) : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <MoreButton hasMore={list.hasMore} loading={list.loading} onMore={list.more} count={list.items.length} />
    </Page>
  );
}

interface PackDoc {
  name: string;
  version: string;
  pack: { version: string; parameters?: Record<string, unknown>; parameterTables?: Record<string, unknown>; tests?: { cases?: unknown[] }; [k: string]: unknown };
}

function NewSimulation() {
  const active = useApi<ActiveRelease>('/v1/releases/active');
  const releases = useApi<{ items: Release[]; builtin: Release }>('/v1/releases?limit=100');
  const types = useApi<{ items: { name: string }[] }>('/v1/decision-types?limit=500');
  const [domain, setDomain] = useState('refund');
  const [mode, setMode] = useState<'params' | 'stored'>('params');
  const [stored, setStored] = useState('');
  const [packName, setPackName] = useState('');
  const [pack, setPack] = useState<PackDoc | undefined>();
  const [params, setParams] = useState<Record<string, string>>({});
  const [from, setFrom] = useState(() => isoInput(new Date(Date.now() - 365 * 86_400_000)));
  const [to, setTo] = useState(() => isoInput(new Date(Date.now() + 60_000)));
  const [limit, setLimit] = useState('10000');
  const [features, setFeatures] = useState<'stored' | 'recompute'>('stored');
  const [busy, setBusy] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  const [problem, setProblem] = useState<string | undefined>();
  const [failing, setFailing] = useState<{ path: string; message: string }[] | undefined>();
  const [dropFailing, setDropFailing] = useState(false);

  // The active release's rule packs: the components GET /v1/rule-packs/{name}/{version} answers.
  const [packs, setPacks] = useState<string[]>([]);
  useEffect(() => {
    if (!active.data) return;
    let live = true;
    void Promise.all(
      Object.entries(active.data.components).map(([n, v]) =>
        api<PackDoc>(`/v1/rule-packs/${seg(n)}/${seg(v)}`).then(
          (p) => (Object.keys({ ...p.pack?.parameters, ...p.pack?.parameterTables }).length ? n : undefined),
          () => undefined,
        ),
      ),
    ).then((names) => live && setPacks(names.filter((x): x is string => !!x)));
    return () => {
      live = false;
    };
  }, [active.data]);

  useEffect(() => {
    if (!active.data || !packName) return setPack(undefined);
    let live = true;
    api<PackDoc>(`/v1/rule-packs/${seg(packName)}/${seg(active.data.components[packName]!)}`).then(
      (p) => {
        if (!live) return;
        setPack(p);
        // Parameter tables beside the parameters, each as its JSON ({key, values, default}): a name is one or the other.
        setParams(Object.fromEntries(Object.entries({ ...p.pack.parameters, ...p.pack.parameterTables }).map(([k, v]) => [k, JSON.stringify(v)])));
        setFailing(undefined);
      },
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [packName, active.data]);

  async function storeCandidatePack(): Promise<string | undefined> {
    if (!pack || !active.data) return undefined;
    const changed: Record<string, unknown> = {};
    const changedTables: Record<string, unknown> = {};
    const tables = pack.pack.parameterTables ?? {};
    for (const [k, text] of Object.entries(params)) {
      try {
        // defineProperty: a parameter may be named __proto__, which an assignment would take for the prototype.
        Object.defineProperty(Object.hasOwn(tables, k) ? changedTables : changed, k, { value: JSON.parse(text), enumerable: true, writable: true, configurable: true });
      } catch {
        setProblem(t('authors.simulations.badJson', { name: k }));
        return undefined;
      }
    }
    if (JSON.stringify(changed) === JSON.stringify(pack.pack.parameters ?? {}) && JSON.stringify(changedTables) === JSON.stringify(tables)) {
      setProblem(t('authors.simulations.noChange'));
      return undefined;
    }
    // A pre-release of the pack's version: immutable like any pack, but plainly a what-if (README "Console").
    const version = `${pack.pack.version.split(/[-+]/)[0]}-whatif.${Date.now()}`;
    const body: Record<string, unknown> = { ...pack.pack, version, parameters: changed, ...(pack.pack.parameterTables ? { parameterTables: changedTables } : {}) };
    if (dropFailing && failing?.length && pack.pack.tests?.cases) {
      const drop = new Set(failing.map((f) => Number(/\/tests\/cases\/(\d+)/.exec(f.path)?.[1])));
      body.tests = { ...pack.pack.tests, cases: pack.pack.tests.cases.filter((_, i) => !drop.has(i)) };
    }
    setBusy(t('authors.simulations.storing', { pack: `${pack.name}@${version}` }));
    try {
      await api('/v1/rule-packs', { method: 'POST', body, idempotencyKey: actionKey('whatif-pack') });
      setFailing(undefined);
      return version;
    } catch (e) {
      if (e instanceof ApiError && e.problem.code === 'RULE_PACK_TESTS_FAILED') {
        setFailing((e.problem.errors ?? []).map((x) => ({ path: x.path ?? '', message: x.message ?? '' })));
        return undefined;
      }
      throw e;
    }
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(undefined);
    setProblem(undefined);
    try {
      let release: { name: string; version: string; components: Record<string, string> } | undefined;
      if (mode === 'stored') {
        const r = [...(releases.data?.items ?? []), ...(releases.data ? [releases.data.builtin] : [])].find((x) => ref(x) === stored);
        if (r) release = { name: r.name, version: r.version, components: r.components };
      } else if (active.data && pack) {
        const version = await storeCandidatePack();
        if (!version) return;
        release = { name: `${active.data.name}-whatif`, version: `${active.data.version.split(/[-+]/)[0]}-whatif.${Date.now()}`, components: { ...active.data.components, [pack.name]: version } };
      }
      if (!release) return;
      setBusy(t('authors.simulations.running'));
      const job = await api<SimulationJob>('/v1/simulations', {
        method: 'POST',
        idempotencyKey: actionKey('simulation'),
        body: { domain, release, replay: { from: utcInput(from), to: utcInput(to), limit: Number(limit) || 10000 }, features },
      });
      navigate(`/simulations/${seg(job.id)}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(undefined);
    }
  }

  const all = [...(releases.data?.items ?? []), ...(releases.data ? [releases.data.builtin] : [])];
  return (
    <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="new-sim-h" noValidate>
      <h2 id="new-sim-h">{t('authors.simulations.new')}</h2>
      <label htmlFor="sim-domain">{t('authors.simulations.domain')}</label>
      <select id="sim-domain" value={domain} onChange={(e) => setDomain(e.target.value)}>
        {(types.data?.items ?? [{ name: domain }]).map((x) => (
          <option key={x.name} value={x.name}>
            {x.name}
          </option>
        ))}
      </select>
      <fieldset>
        <legend>{t('authors.simulations.candidate')}</legend>
        <label>
          <input type="radio" name="candidate" checked={mode === 'params'} onChange={() => setMode('params')} /> {t('authors.simulations.candidateParams')}
        </label>
        <label>
          <input type="radio" name="candidate" checked={mode === 'stored'} onChange={() => setMode('stored')} /> {t('authors.simulations.candidateStored')}
        </label>
      </fieldset>
      {mode === 'stored' ? (
        <>
          <label htmlFor="sim-release">{t('authors.simulations.release')}</label>
          <select id="sim-release" value={stored} onChange={(e) => setStored(e.target.value)}>
            <option value="" />
            {all.map((r) => (
              <option key={ref(r)} value={ref(r)}>
                {ref(r)}
              </option>
            ))}
          </select>
        </>
      ) : (
        <>
          <label htmlFor="sim-pack">{t('authors.simulations.pack')}</label>
          <select id="sim-pack" value={packName} onChange={(e) => setPackName(e.target.value)}>
            <option value="" />
            {packs.map((n) => (
              <option key={n} value={n}>
                {n}@{active.data?.components[n]}
              </option>
            ))}
          </select>
          {pack ? (
            <fieldset>
              <legend>{t('authors.simulations.parameters')}</legend>
              <div className="param-grid">
                {Object.keys(params).map((k) => (
                  <div key={k} style={{ display: 'contents' }}>
                    <label htmlFor={`param-${k}`}>{k}</label>
                    <input id={`param-${k}`} className="mono" value={params[k]} onChange={(e) => setParams({ ...params, [k]: e.target.value })} />
                  </div>
                ))}
              </div>
            </fieldset>
          ) : null}
          {failing ? (
            <div className="notice notice-warn" role="alert">
              <p>{t('authors.simulations.testsFailed', { count: failing.length })}</p>
              <ul className="small">
                {failing.map((f) => (
                  <li key={f.path} className="mono">
                    {f.message.split('\n')[0]}
                  </li>
                ))}
              </ul>
              <label>
                <input type="checkbox" checked={dropFailing} onChange={(e) => setDropFailing(e.target.checked)} /> {t('authors.simulations.dropTests')}
              </label>
            </div>
          ) : null}
        </>
      )}
      <fieldset>
        <legend>{t('authors.simulations.window')}</legend>
        <div className="filters">
          <div>
            <label htmlFor="sim-from">{t('authors.simulations.from')}</label>
            <input id="sim-from" type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
          </div>
          <div>
            <label htmlFor="sim-to">{t('authors.simulations.to')}</label>
            <input id="sim-to" type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} />
          </div>
          <div>
            <label htmlFor="sim-limit">{t('authors.simulations.limit')}</label>
            <input id="sim-limit" inputMode="numeric" value={limit} onChange={(e) => setLimit(e.target.value)} size={7} />
          </div>
          <div>
            <label htmlFor="sim-features">{t('authors.simulations.features')}</label>
            <select id="sim-features" value={features} onChange={(e) => setFeatures(e.target.value as 'stored' | 'recompute')}>
              <option value="stored">{t('authors.simulations.featuresStored')}</option>
              <option value="recompute">{t('authors.simulations.featuresRecompute')}</option>
            </select>
          </div>
        </div>
      </fieldset>
      {problem ? (
        <p className="notice notice-error" role="alert">
          {problem}
        </p>
      ) : null}
      <ErrorNotice error={error} />
      {busy ? (
        <p role="status" className="muted">
          {busy}
        </p>
      ) : null}
      <button type="submit" className="primary" disabled={!!busy || (mode === 'stored' ? !stored : !pack)}>
        {t('authors.simulations.run')}
      </button>
    </form>
  );
}
