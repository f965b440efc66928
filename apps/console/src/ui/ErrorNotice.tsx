/** One way to show a failed call: the service's problem (title, detail, the fields it names) and its request id. */
import { ApiError, NetworkError } from '../api/client.js';
import { t } from '../i18n/index.js';

export function describeError(error: unknown): string {
  if (error instanceof NetworkError) return t('errors.network');
  if (error instanceof ApiError) {
    // A missing role is FORBIDDEN; other 403s are business refusals (FOUR_EYES_SAME_REVIEWER) that say why themselves.
    if (error.status === 403 && (error.problem.code ?? 'FORBIDDEN') === 'FORBIDDEN') return t('errors.forbidden', { detail: error.problem.detail ?? '' });
    if (error.status === 404) return error.problem.detail ?? t('errors.notFound');
    const fields = (error.problem.errors ?? []).map((e) => [e.path ?? e.field, e.message].filter(Boolean).join(': ')).filter(Boolean);
    const base = t('errors.problem', { title: error.problem.title ?? `HTTP ${error.status}`, detail: error.problem.detail ?? '' });
    return fields.length ? `${base} (${fields.join('; ')})` : base;
  }
  return (error as Error)?.message ?? String(error);
}

export function ErrorNotice({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  const requestId = error instanceof ApiError ? error.problem.requestId : undefined;
  return (
    <div className="notice notice-error" role="alert">
      <p>{describeError(error)}</p>
      {requestId ? <p className="muted small">{t('errors.requestId')} <code>{requestId}</code></p> : null}
      {onRetry ? (
        <button type="button" onClick={onRetry}>
          {t('errors.retry')}
        </button>
      ) : null}
    </div>
  );
}
