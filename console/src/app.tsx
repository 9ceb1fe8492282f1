import { useState } from 'preact/hooks';
import { configure, REFUSED } from './api';
import { DataContext, useLoadData } from './data';
import { DiffPage } from './diff';
import { EnvironmentsPage } from './environments';
import { MonitorPage } from './monitor';
import { OverviewPage } from './overview';
import { Page } from './page';
import { href, useRoute } from './router';
import { clearSession, clearToken, loadSession, type Session, saveSession } from './session';
import { SignIn } from './signin';
import { VersionsPage } from './versions';

// The shell: sign-in until a token is accepted, then the header (bot, version switcher,
// sign-out), the section tabs and the page the hash names.

const TABS = [
  { page: 'overview', label: 'Overview' },
  { page: 'versions', label: 'Versions' },
  { page: 'environments', label: 'Environments' },
  { page: 'monitor', label: 'Monitor' },
];

export function App() {
  const [session, setSession] = useState<Session | null>(() => {
    const s = loadSession();
    configure(s, refused);
    return s;
  });
  const [notice, setNotice] = useState<string>();

  // Any 401 later on (token rotated on the server): back to sign-in, saying why; the name and
  // e-mail stay (prefilled), only the token is forgotten.
  function refused() {
    clearToken();
    configure(null);
    setNotice(`${REFUSED} Sign in again.`);
    setSession(null);
  }

  if (!session)
    return (
      <SignIn
        notice={notice}
        onSignedIn={(s) => {
          saveSession(s);
          configure(s, refused);
          setNotice(undefined);
          setSession(s);
        }}
      />
    );
  return (
    <Console
      session={session}
      onSignOut={() => {
        clearSession();
        configure(null);
        setSession(null);
      }}
    />
  );
}

function Console({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const data = useLoadData();
  const route = useRoute();
  // The diff is reached from Versions; an environment's page is part of Environments.
  const tab = route.page === 'diff' ? 'versions' : route.page;

  return (
    <DataContext.Provider value={data}>
      {/* A button, not a link: the hash belongs to the router. */}
      <button type="button" class="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <div class="topbar">
          <p class="brand">
            <span class="product">botver</span> <span class="bot">{data.bot || '…'}</span>
          </p>
          <div class="switcher">
            <label for="version-switcher">Version shown</label>
            <select id="version-switcher" value={data.version} onChange={(e) => data.setVersion(e.currentTarget.value)}>
              <option value="">All versions</option>
              {data.versions?.map((v) => (
                <option key={v.name} value={v.name}>
                  {v.name}
                </option>
              ))}
            </select>
          </div>
          <div class="who">
            <span class="muted">Signed in as {session.name}</span>
            <button type="button" class="secondary" onClick={onSignOut}>
              Sign out
            </button>
          </div>
        </div>
        <nav aria-label="Sections">
          <ul>
            {TABS.map((t) => (
              <li key={t.page}>
                <a href={href(t.page)} aria-current={tab === t.page ? 'page' : undefined}>
                  {t.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        {data.server?.writable === false && (
          <p class="notice warn">
            This resolver follows a remote Git repository{data.server.remote ? ` (${data.server.remote})` : ''}: actions
            show the commands to run and push instead of committing.
          </p>
        )}
        {route.page === 'overview' && <OverviewPage />}
        {route.page === 'versions' && <VersionsPage />}
        {route.page === 'diff' && <DiffPage from={route.query.get('from') ?? ''} to={route.query.get('to') ?? ''} />}
        {route.page === 'environments' && <EnvironmentsPage name={route.param} />}
        {route.page === 'monitor' && <MonitorPage />}
        {!['overview', 'versions', 'diff', 'environments', 'monitor'].includes(route.page) && (
          <Page title="Page not found" bot={data.bot}>
            <p>
              There is no page “{route.page}”. Go to the <a href={href('overview')}>overview</a>.
            </p>
          </Page>
        )}
      </main>
    </DataContext.Provider>
  );
}
