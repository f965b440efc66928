/** Sign-in: the key is checked with GET /v1/session before it is kept (session storage of this tab only). */
import { useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client.js';
import { saveSession, type Session } from '../api/session.js';
import { t } from '../i18n/index.js';
import { describeError } from '../ui/ErrorNotice.js';

export function SignIn({ onSignedIn, notice }: { onSignedIn: (s: Session) => void; notice?: string }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const k = key.trim();
    if (!k) return setError(t('signIn.empty'));
    setBusy(true);
    setError(undefined);
    try {
      const who = await api<Omit<Session, 'key'>>('/v1/session', { key: k });
      const s: Session = { key: k, tenant: who.tenant, keyId: who.keyId, name: who.name, roles: who.roles, approvalLimit: who.approvalLimit ?? null };
      saveSession(s);
      onSignedIn(s);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError(t('signIn.invalid'));
      else if (err instanceof ApiError && err.status === 429) setError(t('signIn.throttled', { seconds: err.retryAfter ?? 60 }));
      else setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" className="signin">
      <h1>{t('app.title')}</h1>
      <form onSubmit={(e) => void submit(e)} className="card" aria-labelledby="signin-title" noValidate>
        <h2 id="signin-title">{t('signIn.title')}</h2>
        <p>{t('signIn.intro')}</p>
        {notice ? (
          <p className="notice notice-warn" role="status">
            {notice}
          </p>
        ) : null}
        <label htmlFor="api-key">{t('signIn.keyLabel')}</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-describedby="api-key-hint"
          aria-invalid={error ? true : undefined}
        />
        <p id="api-key-hint" className="muted small">
          {t('signIn.keyHint')}
        </p>
        {error ? (
          <p className="notice notice-error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? t('signIn.checking') : t('signIn.submit')}
        </button>
      </form>
    </main>
  );
}
