// The operator's session: admin token, name and e-mail, in this tab's sessionStorage only
// (gone when the tab closes; never a cookie, never in a URL, never in the page).

const TOKEN = 'botver.adminToken';
const NAME = 'botver.name';
const EMAIL = 'botver.email';

export interface Session {
  token: string;
  name: string;
  email: string;
}

function read(key: string): string {
  try {
    return sessionStorage.getItem(key) ?? '';
  } catch {
    return ''; // storage disabled: the operator signs in again on every load
  }
}

export function loadSession(): Session | null {
  const session = { token: read(TOKEN), name: read(NAME), email: read(EMAIL) };
  return session.token ? session : null;
}

export function saveSession(s: Session): void {
  sessionStorage.setItem(TOKEN, s.token);
  sessionStorage.setItem(NAME, s.name);
  sessionStorage.setItem(EMAIL, s.email);
}

/** Who signed in last in this tab (kept when only the token is dropped), to prefill the form. */
export function loadIdentity(): Pick<Session, 'name' | 'email'> {
  return { name: read(NAME), email: read(EMAIL) };
}

/** A refused token: forget it, keep who the operator is. */
export function clearToken(): void {
  try {
    sessionStorage.removeItem(TOKEN);
  } catch {
    // nothing stored
  }
}

export function clearSession(): void {
  try {
    sessionStorage.clear();
  } catch {
    // nothing stored
  }
}

/**
 * The X-Botver-Author value: "Name <email>", percent-encoded (the server decodes it), so that a
 * name in any script fits in an HTTP header, which carries Latin-1 only.
 */
export function author(s: Pick<Session, 'name' | 'email'>): string {
  return encodeURIComponent(`${s.name.trim()} <${s.email.trim()}>`);
}

/** Why a name cannot be a commit's author, or null: "<", ">" or a line break would change the author line's meaning. */
export function nameProblem(name: string): string | null {
  if (!name.trim()) return 'Enter your name.';
  if (/[<>\r\n]/.test(name)) return 'The name may not contain "<", ">" or line breaks.';
  return null;
}

export function emailProblem(email: string): string | null {
  return /^[^\s<>@]+@[^\s<>@]+$/.test(email.trim()) ? null : 'Enter an e-mail address such as ada@example.com.';
}
