/** A page's frame: its heading (the document title follows it) and an optional toolbar. */
import { useEffect, type ReactNode } from 'react';
import { t } from '../i18n/index.js';

export function Page({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · ${t('app.title')}`;
  }, [title]);
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="page-header">
        <h1 id="page-title" tabIndex={-1}>
          {title}
        </h1>
        {actions ? <div className="page-actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

export function Loading() {
  return (
    <p className="muted" role="status" aria-live="polite">
      {t('list.loading')}
    </p>
  );
}

/** A "load more" footer for cursor lists. */
export function MoreButton({ hasMore, loading, onMore, count }: { hasMore: boolean; loading: boolean; onMore: () => void; count: number }) {
  return (
    <div className="list-footer">
      <span className="muted" role="status" aria-live="polite">
        {loading ? t('list.loading') : count === 0 ? t('list.empty') : t('list.showing', { count })}
      </span>
      {hasMore ? (
        <button type="button" onClick={onMore} disabled={loading}>
          {t('list.more')}
        </button>
      ) : null}
    </div>
  );
}
