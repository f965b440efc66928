/** Decision search: filters in the address, newest first, cursor pages (never a count over 100,000 rows). */
import { useEffect, useState, type FormEvent } from 'react';
import type { PageProps } from '../../app/route.js';
import { href, navigate, seg } from '../../app/router.js';
import { useApi, useCursorList } from '../../app/use-api.js';
import { t } from '../../i18n/index.js';
import { Badge } from '../../ui/Badge.js';
import { ErrorNotice } from '../../ui/ErrorNotice.js';
import { dateTime } from '../../ui/format.js';
import { MoreButton, Page } from '../../ui/Page.js';
import { utcInput } from './replay.js';

interface Summary {
  id: string;
  type: string;
  createdAt: string;
  outcome: string;
  reasons: ({ code: string } | string)[];
  release: { name: string; version: string };
}

const FILTERS = ['type', 'outcome', 'release', 'reasonCode', 'from', 'to', 'customer'] as const;

export function DecisionSearch({ query }: PageProps) {
  const current = Object.fromEntries(FILTERS.map((f) => [f, query.get(f) ?? ''])) as Record<(typeof FILTERS)[number], string>;
  const [form, setForm] = useState(current);
  // The address is the search: Back, Forward or the menu's link change it, and the inputs follow.
  const asked = query.toString();
  useEffect(() => setForm(Object.fromEntries(FILTERS.map((f) => [f, query.get(f) ?? ''])) as typeof current), [asked]);
  const types = useApi<{ items: { name: string; outcomes: string[] }[] }>('/v1/decision-types?limit=500');
  const outcomes = types.data?.items.find((x) => x.name === form.type)?.outcomes ?? [...new Set(types.data?.items.flatMap((x) => x.outcomes) ?? [])];
  const list = useCursorList<Summary>('/v1/decisions', {
    type: current.type || undefined,
    outcome: current.outcome || undefined,
    release: current.release || undefined,
    reasonCode: current.reasonCode || undefined,
    from: utcInput(current.from),
    to: utcInput(current.to),
    customer: current.customer || undefined,
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    navigate('/decisions', form);
  };
  const field = (name: (typeof FILTERS)[number], label: string, extra: Record<string, unknown> = {}) => (
    <div>
      <label htmlFor={`f-${name}`}>{label}</label>
      <input id={`f-${name}`} value={form[name]} onChange={(e) => setForm({ ...form, [name]: e.target.value })} {...extra} />
    </div>
  );

  return (
    <Page title={t('auditors.decisions.title')}>
      <p className="muted">{t('auditors.decisions.intro')}</p>
      <form className="filters" onSubmit={submit} aria-label={t('auditors.decisions.search')}>
        <div>
          <label htmlFor="f-type">{t('auditors.decisions.type')}</label>
          <select id="f-type" value={form.type} onChange={(e) => setForm({ ...form, type: e.target.value, outcome: '' })}>
            <option value="">{t('auditors.decisions.anyType')}</option>
            {types.data?.items.map((x) => (
              <option key={x.name} value={x.name}>
                {x.name}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="f-outcome">{t('auditors.decisions.outcome')}</label>
          <select id="f-outcome" value={form.outcome} onChange={(e) => setForm({ ...form, outcome: e.target.value })}>
            <option value="">{t('auditors.decisions.anyOutcome')}</option>
            {outcomes.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </div>
        {field('release', t('auditors.decisions.release'), { placeholder: 'default@1.6.0', size: 16 })}
        {field('reasonCode', t('auditors.decisions.reasonCode'), { size: 16 })}
        {field('from', t('auditors.decisions.from'), { type: 'datetime-local' })}
        {field('to', t('auditors.decisions.to'), { type: 'datetime-local' })}
        <div>
          <label htmlFor="f-customer">{t('auditors.decisions.customer')}</label>
          <input id="f-customer" value={form.customer} onChange={(e) => setForm({ ...form, customer: e.target.value })} aria-describedby="f-customer-hint" />
          <span id="f-customer-hint" className="muted small">
            {t('auditors.decisions.customerHint')}
          </span>
        </div>
        <div className="page-actions">
          <button type="submit" className="primary">
            {t('auditors.decisions.search')}
          </button>
          <button type="button" onClick={() => (setForm(Object.fromEntries(FILTERS.map((f) => [f, ''])) as typeof form), navigate('/decisions'))}>
            {t('auditors.decisions.clear')}
          </button>
        </div>
      </form>
      <ErrorNotice error={list.error} onRetry={list.reload} />
      <div className="table-wrap" tabIndex={0}>
        <table>
          <thead>
            <tr>
              {(['at', 'type', 'outcome', 'reasons', 'release', 'id'] as const).map((c) => (
                <th key={c} scope="col">
                  {t(`auditors.decisions.columns.${c}`)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {list.items.map((d) => (
              <tr key={d.id}>
                <td>{dateTime(d.createdAt)}</td>
                <td>{d.type}</td>
                <td>
                  <Badge value={d.outcome} />
                </td>
                <td className="small">{d.reasons.map((r) => (typeof r === 'string' ? r : r.code)).join(', ')}</td>
                <td className="small">{d.release ? `${d.release.name}@${d.release.version}` : '—'}</td>
                <td>
                  <a href={href(`/decisions/${seg(d.id)}`)} className="mono small">
                    {d.id.slice(0, 13)}…
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <MoreButton hasMore={list.hasMore} loading={list.loading} onMore={list.more} count={list.items.length} />
    </Page>
  );
}
