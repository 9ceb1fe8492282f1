import { useEffect, useState } from 'preact/hooks';
import { type ApiError, REFUSED, request } from './api';
import { emailProblem, loadIdentity, nameProblem, type Session } from './session';

// Sign-in: the admin token (BOTVER_ADMIN_TOKEN) and who the operator is, for the commits the
// console makes. The token is checked against the server before it is kept.

export function SignIn({ onSignedIn, notice }: { onSignedIn: (s: Session) => void; notice?: string }) {
  const [token, setToken] = useState('');
  // After a refused token the name and e-mail are still known: only the token is asked again.
  const [name, setName] = useState(() => loadIdentity().name);
  const [email, setEmail] = useState(() => loadIdentity().email);
  const [error, setError] = useState<string | null>(notice ?? null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = 'Sign in · botver console';
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    const problem = !token.trim() ? 'Enter the admin token.' : (nameProblem(name) ?? emailProblem(email));
    if (problem) return setError(problem);
    const candidate: Session = { token: token.trim(), name: name.trim(), email: email.trim() };
    setBusy(true);
    setError(null);
    try {
      try {
        await request('GET', '/v1/server', undefined, candidate);
      } catch (err) {
        // A server without /v1/server yet: any admin route proves the token.
        if ((err as ApiError).status !== 404) throw err;
        await request('GET', '/v1/environments', undefined, candidate);
      }
      setToken('');
      onSignedIn(candidate);
    } catch (err) {
      setError(
        (err as ApiError).status === 401
          ? `${REFUSED} Check the value of BOTVER_ADMIN_TOKEN the server was started with.`
          : (err as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="signin">
      <h1>Sign in to the botver console</h1>
      <form onSubmit={submit} noValidate aria-describedby="signin-help">
        <p id="signin-help">
          The admin token is the server's BOTVER_ADMIN_TOKEN. It is kept in this tab only, until you sign out or close
          it. Your name and e-mail sign the commits the console makes.
        </p>
        <label for="token">Admin token</label>
        <input
          id="token"
          type="password"
          autocomplete="off"
          required
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
        />
        <label for="name">Your name</label>
        <input id="name" autocomplete="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <label for="email">Your e-mail</label>
        <input
          id="email"
          type="email"
          autocomplete="email"
          required
          value={email}
          onInput={(e) => setEmail(e.currentTarget.value)}
        />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
