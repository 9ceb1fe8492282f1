import { author, type Session } from './session';
import type { TestReport } from './types';

// The admin API: JSON in and out, the admin token as a bearer token, the operator as
// X-Botver-Author on every action. Any failure becomes an ApiError saying what happened.

export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  /** TESTS_FAILED: the tests report. */
  readonly report?: TestReport;
  /** REMOTE_REPOSITORY: the CLI commands to run instead. */
  readonly commands?: string[];

  constructor(status: number, code: string, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    if (extra.report && typeof extra.report === 'object') this.report = extra.report as TestReport;
    if (Array.isArray(extra.commands)) this.commands = extra.commands.map(String);
  }
}

export const REFUSED = 'The admin token was refused.';

let session: Session | null = null;
let onRefused: () => void = () => {};

/**
 * The control-branch commit the page's data was read at: sent with every action
 * (X-Botver-Manifest-Commit), so that an action decided on a stale screen (another operator
 * acted meanwhile) is refused with CONFLICT instead of applied on top of what nobody saw.
 */
let basedOn: string | null = null;

export function setBasedOn(manifestCommit: string | null): void {
  basedOn = manifestCommit;
}

/** Sets who calls, and what happens when the server refuses the token (back to sign-in). */
export function configure(s: Session | null, refused: () => void = onRefused): void {
  session = s;
  onRefused = refused;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export async function request<T>(
  method: Method,
  path: string,
  body?: unknown,
  as: Session | null = session,
): Promise<T> {
  if (!as) throw new ApiError(401, 'UNAUTHORIZED', 'Sign in first.');
  const headers: Record<string, string> = { Accept: 'application/json', Authorization: `Bearer ${as.token}` };
  if (method !== 'GET') {
    headers['X-Botver-Author'] = author(as);
    if (basedOn) headers['X-Botver-Manifest-Commit'] = basedOn;
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit', // nothing but the bearer token authenticates the console
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The server could not be reached. Check that botver serve is running.');
  }
  const data: unknown = await res.json().catch(() => null);
  if (res.ok) return data as T;
  const error = (data as { error?: Record<string, unknown> } | null)?.error;
  if (res.status === 401) {
    if (as === session) onRefused();
    throw new ApiError(401, 'UNAUTHORIZED', REFUSED);
  }
  const code = typeof error?.code === 'string' ? error.code : `HTTP_${res.status}`;
  const message =
    typeof error?.message === 'string'
      ? error.message
      : res.status === 404
        ? `This server does not offer ${method} ${path.split('?')[0]} yet.`
        : `The server answered ${res.status} ${res.statusText}.`;
  throw new ApiError(res.status, code, message, error ?? {});
}

export const get = <T>(path: string) => request<T>('GET', path);
export const post = <T>(path: string, body: unknown = {}) => request<T>('POST', path, body);
export const put = <T>(path: string, body: unknown) => request<T>('PUT', path, body);
export const del = <T>(path: string) => request<T>('DELETE', path);

/** A path with its query: empty values left out. */
export function withQuery(path: string, query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const q = params.toString();
  return q ? `${path}?${q}` : path;
}

export const enc = encodeURIComponent;
