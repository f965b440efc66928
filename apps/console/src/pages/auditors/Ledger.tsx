/** The reward ledger: accounts violating Reward Integrity, and any account by id with its entries, timeline and verdict. */
import { useEffect, useState } from 'react';
import type { PageProps } from '../../app/route.js';
import { href, navigate, seg } from '../../app/router.js';
import { useApi, useCursorList } from '../../app/use-api.js';
import { t } from '../../i18n/index.js';
import { StepLine } from '../../ui/charts/StepLine.js';
import { ErrorNotice } from '../../ui/ErrorNotice.js';
import { dateTime, money, number } from '../../ui/format.js';
import { Loading, MoreButton, Page } from '../../ui/Page.js';
import { balancePoints } from './replay.js';

/** The most entries the reward timeline loads (pages of 200, oldest first) before it says it is partial. */
const TIMELINE_MAX_ENTRIES = 2_000;

interface Integrity {
  rewardIntegrity: boolean;
  /** REWARD_EXCEEDS_SHARE (a transaction keeps more than its share) or DEBT_DISCARDED (the account's balance was floored). */
  violations: { code: string; transactionId: string | null; reward: number; share: number }[];
}
interface Account {
  accountId: string;
  program: string;
  currency: string;
  balance: number;
  redeemed: number;
  netSpend: number;
  netReward: number;
  rewardBound: number;
  integrity: Integrity;
  violatedAt?: string;
  transactions?: { transactionId: string }[];
}
interface Entry {
  seq: number;
  at: string;
  type: string;
  amount: number;
  balanceAfter: number;
  transactionId: string | null;
  cause: { kind: string; id: string };
}

export function LedgerHome(_: PageProps) {
  const [id, setId] = useState('');
  const list = useCursorList<Account>('/v1/ledger/accounts', { integrity: 'violated' });
  return (
    <Page title={t('auditors.ledger.title')}>
      <p className="muted">{t('auditors.ledger.intro')}</p>
      <form className="filters" onSubmit={(e) => (e.preventDefault(), id.trim() && navigate(`/ledger/${seg(id.trim())}`))} aria-label={t('auditors.ledger.open')}>
        <div>
          <label htmlFor="account-id">{t('auditors.ledger.accountId')}</label>
          <input id="account-id" value={id} onChange={(e) => setId(e.target.value)} />
        </div>
        <div>
          <button type="submit" className="primary">
            {t('auditors.ledger.go')}
          </button>
        </div>
      </form>
      <h2>{t('auditors.ledger.violated')}</h2>
      <ErrorNotice error={list.error} onRetry={list.reload} />
      {!list.loading && list.items.length === 0 && !list.error ? <p className="notice notice-ok">{t('auditors.ledger.none')}</p> : null}
      {list.items.length > 0 ? (
        <div className="table-wrap" tabIndex={0}>
          <table>
            <thead>
              <tr>
                {(['account', 'program', 'netSpend', 'netReward', 'bound', 'violatedAt'] as const).map((c) => (
                  <th key={c} scope="col">
                    {t(`auditors.ledger.columns.${c}`)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {list.items.map((a) => (
                <tr key={a.accountId}>
                  <td>
                    <a href={href(`/ledger/${seg(a.accountId)}`)}>{a.accountId}</a>
                  </td>
                  <td>{a.program}</td>
                  <td className="num">{money(a.netSpend, a.currency)}</td>
                  <td className="num">{money(a.netReward, a.currency)}</td>
                  <td className="num">{money(a.rewardBound, a.currency)}</td>
                  <td>{dateTime(a.violatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <MoreButton hasMore={list.hasMore} loading={list.loading} onMore={list.more} count={list.items.length} />
    </Page>
  );
}

export function LedgerAccount({ params }: PageProps) {
  const id = params.accountId!;
  const account = useApi<Account>(`/v1/ledger/accounts/${seg(id)}`);
  const entries = useCursorList<Entry>(`/v1/ledger/accounts/${seg(id)}/entries`, {}, 200);
  // Entries page oldest first: the timeline must reach today's balance, so the pages are followed up to a bound
  // (an account's history is bounded in practice); past it the chart says it is partial.
  const { hasMore, loading, more, error } = entries;
  const count = entries.items.length;
  useEffect(() => {
    if (hasMore && !loading && !error && count < TIMELINE_MAX_ENTRIES) more();
  }, [hasMore, loading, error, count, more]);
  const a = account.data;
  const cur = a?.currency ?? 'EUR';
  return (
    <Page
      title={t('auditors.account.title', { id })}
      actions={
        <a className="button" href={href('/ledger')}>
          {t('auditors.account.back')}
        </a>
      }
    >
      <ErrorNotice error={account.error} onRetry={account.reload} />
      {account.loading && !a ? <Loading /> : null}
      {a ? (
        <div className="grid">
          <section className="card" aria-labelledby="figures-h">
            <h2 id="figures-h">{t('auditors.account.figures')}</h2>
            <dl className="kv">
              <dt>{t('auditors.account.program')}</dt>
              <dd>{a.program}</dd>
              <dt>{t('auditors.account.balance')}</dt>
              <dd>{money(a.balance, cur)}</dd>
              <dt>{t('auditors.account.redeemed')}</dt>
              <dd>{money(a.redeemed, cur)}</dd>
              <dt>{t('auditors.account.netSpend')}</dt>
              <dd>{money(a.netSpend, cur)}</dd>
              <dt>{t('auditors.account.netReward')}</dt>
              <dd>{money(a.netReward, cur)}</dd>
              <dt>{t('auditors.account.bound')}</dt>
              <dd>{money(a.rewardBound, cur)}</dd>
            </dl>
          </section>
          <section className="card" aria-labelledby="verdict-h">
            <h2 id="verdict-h">{t('auditors.account.verdict')}</h2>
            {a.integrity.rewardIntegrity ? (
              <p className="notice notice-ok">{t('auditors.account.holds')}</p>
            ) : (
              <>
                <p className="notice notice-error">
                  {t('auditors.account.violated')}
                </p>
                <h3>{t('auditors.account.violations')}</h3>
                <div className="table-wrap" tabIndex={0}>
                  <table>
                    <thead>
                      <tr>
                        {(['code', 'transaction', 'reward', 'share'] as const).map((c) => (
                          <th key={c} scope="col">
                            {t(`auditors.account.violationColumns.${c}`)}
                          </th>
                        ))}
                      </tr>
                    </thead>
                    <tbody>
                      {a.integrity.violations.map((v, i) => (
                        <tr key={i}>
                          <td>
                            <code>{v.code}</code>
                          </td>
                          <td className="mono small">{v.transactionId ?? t('auditors.account.wholeAccount')}</td>
                          <td className="num">{money(v.reward, cur)}</td>
                          <td className="num">{money(v.share, cur)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </>
            )}
          </section>
        </div>
      ) : null}
      <section className="card" aria-labelledby="timeline-h">
        <h2 id="timeline-h">{t('auditors.account.timeline')}</h2>
        <StepLine points={balancePoints(entries.items)} caption={t('auditors.account.timelineCaption')} format={(v) => money(v, cur)} />
        {hasMore && count >= TIMELINE_MAX_ENTRIES ? <p className="muted small">{t('auditors.account.timelinePartial', { count: number(count) })}</p> : null}
      </section>
      <h2>{t('auditors.account.entries')}</h2>
      <ErrorNotice error={entries.error} onRetry={entries.reload} />
      <div className="table-wrap" tabIndex={0}>
        <table>
          <thead>
            <tr>
              {(['seq', 'at', 'type', 'amount', 'balance', 'cause', 'transaction'] as const).map((c) => (
                <th key={c} scope="col">
                  {t(`auditors.account.entryColumns.${c}`)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {entries.items.map((e) => (
              <tr key={e.seq}>
                <td className="num">{e.seq}</td>
                <td>{dateTime(e.at)}</td>
                <td>
                  <code>{e.type}</code>
                </td>
                <td className="num">{money(e.amount, cur)}</td>
                <td className="num">{money(e.balanceAfter, cur)}</td>
                <td className="small">
                  {e.cause.kind} {e.cause.id}
                </td>
                <td className="mono small">{e.transactionId ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <MoreButton hasMore={entries.hasMore} loading={entries.loading} onMore={entries.more} count={entries.items.length} />
    </Page>
  );
}
