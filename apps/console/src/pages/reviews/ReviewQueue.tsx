/** The review queue: open items first by SLA deadline (the API's order), overdue marked, j/k/Enter to work it. */
import { useEffect, useState } from 'react';
import type { PageProps } from '../../app/route.js';
import { href, navigate, seg } from '../../app/router.js';
import { useShortcuts } from '../../app/shortcuts.js';
import { useCursorList } from '../../app/use-api.js';
import { t } from '../../i18n/index.js';
import { Badge } from '../../ui/Badge.js';
import { ErrorNotice } from '../../ui/ErrorNotice.js';
import { dateTime, money, relative } from '../../ui/format.js';
import { MoreButton, Page } from '../../ui/Page.js';
import { ShortcutHelp } from '../../ui/ShortcutHelp.js';
import { claimHolder, isOverdue, type ReviewItem } from './queue.js';

export function ReviewQueue({ query, session }: PageProps) {
  const state = query.get('state') ?? 'OPEN';
  const overdue = query.get('overdue') === 'true';
  const mine = query.get('mine') === 'true';
  const list = useCursorList<ReviewItem>('/v1/reviews', {
    state: state === 'ANY' ? undefined : state,
    overdue: overdue ? 'true' : undefined,
    assignee: mine ? session.keyId : undefined,
  });
  const [selected, setSelected] = useState(0);
  const [help, setHelp] = useState(false);
  const now = Date.now();
  const set = (k: string, v: string | undefined) => navigate('/reviews', { state, overdue: overdue ? 'true' : undefined, mine: mine ? 'true' : undefined, [k]: v });

  useEffect(() => setSelected(0), [state, overdue, mine]);
  useEffect(() => {
    document.getElementById(`review-row-${selected}`)?.scrollIntoView({ block: 'nearest' });
  }, [selected]);
  useShortcuts({
    j: () => setSelected((i) => Math.min(i + 1, Math.max(0, list.items.length - 1))),
    k: () => setSelected((i) => Math.max(0, i - 1)),
    Enter: () => {
      const item = list.items[selected];
      if (item) navigate(`/reviews/${seg(item.id)}`);
    },
    '?': () => setHelp((h) => !h),
  });

  return (
    <Page title={t('reviews.queue.title')}>
      <p className="muted">
        {t('reviews.queue.intro')} {t('reviews.queue.shortcuts')}
      </p>
      <ShortcutHelp open={help} onClose={() => setHelp(false)} lines={['reviews.help.queue', 'reviews.help.case']} />
      <form className="filters" aria-label={t('reviews.queue.filters')} onSubmit={(e) => e.preventDefault()}>
        <div>
          <label htmlFor="review-state">{t('reviews.queue.state')}</label>
          <select id="review-state" value={state} onChange={(e) => set('state', e.target.value)}>
            {['OPEN', 'APPROVED', 'DENIED', 'CANCELED'].map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
            <option value="ANY">{t('reviews.queue.anyState')}</option>
          </select>
        </div>
        <div>
          <label>
            <input type="checkbox" checked={overdue} onChange={(e) => set('overdue', e.target.checked ? 'true' : undefined)} /> {t('reviews.queue.onlyOverdue')}
          </label>
        </div>
        <div>
          <label>
            <input type="checkbox" checked={mine} onChange={(e) => set('mine', e.target.checked ? 'true' : undefined)} /> {t('reviews.queue.onlyMine')}
          </label>
        </div>
      </form>
      <ErrorNotice error={list.error} onRetry={list.reload} />
      <div className="table-wrap" tabIndex={0}>
        <table>
          <thead>
            <tr>
              <th scope="col">{t('reviews.queue.columns.deadline')}</th>
              <th scope="col">{t('reviews.queue.columns.item')}</th>
              <th scope="col" className="num">
                {t('reviews.queue.columns.amount')}
              </th>
              <th scope="col">{t('reviews.queue.columns.risk')}</th>
              <th scope="col">{t('reviews.queue.columns.state')}</th>
              <th scope="col">{t('reviews.queue.columns.assignee')}</th>
              <th scope="col">{t('reviews.queue.columns.approvals')}</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((item, i) => {
              const late = isOverdue(item, now);
              const holder = claimHolder(item, now);
              return (
                <tr key={item.id} id={`review-row-${i}`} className={[late ? 'overdue' : '', i === selected ? 'selected' : ''].join(' ').trim() || undefined} aria-current={i === selected ? true : undefined}>
                  <td>
                    {late ? <Badge value={t('reviews.queue.overdue')} tone="bad" /> : null}{' '}
                    <span title={dateTime(item.deadline)}>
                      {late ? t('reviews.queue.overdueBy', { when: relative(item.deadline, now) }) : t('reviews.queue.dueIn', { when: relative(item.deadline, now) })}
                    </span>
                  </td>
                  <td>
                    <a href={href(`/reviews/${seg(item.id)}`)}>{item.refundId ?? item.id}</a>
                    <div className="muted small">{item.type}</div>
                  </td>
                  <td className="num">{money(item.amount, item.currency)}</td>
                  <td>{item.riskBand ?? '—'}</td>
                  <td>
                    <Badge value={item.state} />
                  </td>
                  <td>{holder ? (holder === session.keyId ? t('reviews.queue.you') : <code>{holder.slice(0, 8)}</code>) : t('reviews.queue.nobody')}</td>
                  <td>{t('reviews.queue.approvals', { done: item.approvals.length, required: item.requiredApprovals ?? 1 })}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <MoreButton hasMore={list.hasMore} loading={list.loading} onMore={list.more} count={list.items.length} />
    </Page>
  );
}
