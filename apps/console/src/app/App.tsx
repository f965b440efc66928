/** The console's frame: sign-in gate, menu by role, and the page the address names. */
import { ErrorBoundary } from '../ui/ErrorBoundary.js';
import { useEffect, useRef, useState } from 'react';
import { api, onSignedOut } from '../api/client.js';
import { clearSession, hasRole, loadSession, type Session } from '../api/session.js';
import { t } from '../i18n/index.js';
import { SignIn } from '../pages/SignIn.js';
import { Page } from '../ui/Page.js';
import { href, match, useLocation } from './router.js';
import { routes } from './routes.js';

export function App() {
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const [notice, setNotice] = useState<string | undefined>();
  const loc = useLocation();

  // A call answered 401 (the key was revoked or expired while this tab was open): back to sign-in, saying why.
  useEffect(
    () =>
      onSignedOut(() => {
        setSession(undefined);
        setNotice(t('signIn.expired'));
      }),
    [],
  );

  // A kept session is checked once per load: a key revoked since shows the sign-in page and why, not broken pages.
  const keyId = session?.keyId;
  useEffect(() => {
    if (keyId) api('/v1/session').catch(() => undefined);
  }, [keyId]);

  if (!session) return <SignIn notice={notice} onSignedIn={(s) => (setNotice(undefined), setSession(s))} />;

  const found = routes.map((r) => ({ r, params: match(r.pattern, loc.path) })).find((x) => x.params);
  const menu = routes.filter((r) => r.nav && hasRole(session, ...r.roles));
  let body;
  if (loc.path === '/') body = <Home session={session} />;
  else if (!found) body = <Page title={t('errors.notFound')}><p>{t('errors.unknownPage')}</p></Page>;
  else if (!hasRole(session, ...found.r.roles)) body = <Page title={t('errors.title')}><p>{t('errors.forbidden', { detail: found.r.roles.join(', ') })}</p></Page>;
  else body = found.r.render({ params: found.params!, query: loc.query, session });

  return (
    <div className="frame">
      <a className="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('page-title')?.focus())}>
        {t('app.skipToContent')}
      </a>
      <header className="topbar">
        <a className="brand" href={href('/')}>
          {t('app.title')}
        </a>
        <Menu items={menu.map((r) => ({ path: r.pattern, label: t(r.nav!) }))} path={loc.path} />
        <div className="who">
          <span className="small" title={t('app.roles', { roles: session.roles.join(', ') })}>
            {t('app.signedInAs', { name: session.name, tenant: session.tenant })}
          </span>
          <button
            type="button"
            onClick={() => {
              clearSession();
              setSession(undefined);
              window.location.hash = '';
            }}
          >
            {t('app.signOut')}
          </button>
        </div>
      </header>
      {/* Keyed by the address: another case or decision is a fresh page (no form, verdict or replay of the previous one). */}
      <main id="main" key={loc.path}>
        <ErrorBoundary>{body}</ErrorBoundary>
      </main>
    </div>
  );
}

function Menu({ items, path }: { items: { path: string; label: string }[]; path: string }) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLElement>(null);
  useEffect(() => setOpen(false), [path]);
  return (
    <nav aria-label={t('app.nav')} ref={ref} className={open ? 'menu open' : 'menu'}>
      <button type="button" className="menu-toggle" aria-expanded={open} aria-controls="menu-list" onClick={() => setOpen(!open)}>
        {t('app.menu')}
      </button>
      <ul id="menu-list">
        {items.map((i) => {
          const current = path === i.path || path.startsWith(`${i.path}/`);
          return (
            <li key={i.path}>
              <a href={href(i.path)} aria-current={current ? 'page' : undefined}>
                {i.label}
              </a>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

function Home({ session }: { session: Session }) {
  const mine = routes.filter((r) => r.nav && hasRole(session, ...r.roles));
  return (
    <Page title={t('home.title', { name: session.name })}>
      {mine.length === 0 ? (
        <p>{t('home.noRoles')}</p>
      ) : (
        <>
          <p>{t('home.intro')}</p>
          <ul>
            {(['reviewer', 'author', 'publisher', 'auditor', 'service'] as const)
              .filter((r) => session.roles.includes(r))
              .map((r) => (
                <li key={r}>{t(`home.can.${r}`)}</li>
              ))}
          </ul>
          <h2>{t('home.pages')}</h2>
          <ul className="home-links">
            {mine.map((r) => (
              <li key={r.pattern}>
                <a href={href(r.pattern)}>{t(r.nav!)}</a>
              </li>
            ))}
          </ul>
        </>
      )}
    </Page>
  );
}
