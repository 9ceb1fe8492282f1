import type { BundleData } from '../content/version-content.js';

// A small client for bots: fetches what the bot's token resolves to, revalidates with
// If-None-Match (a 304 costs a few bytes), and keeps the last good answer when the resolver
// cannot be reached, so a resolver restart or a network blip does not take the bot down.
// Configuration errors (an unknown token, a bad path) are never hidden behind the cache.

export interface Resolved {
  bot: string;
  /** null for a version token. */
  environment: string | null;
  version: string;
  commit: string;
  manifestCommit: string;
  bundle: BundleData;
}

export interface ResolveResult extends Resolved {
  /** network: a new answer; not-modified: the cached one, confirmed; stale: the cached one, as the resolver could not be reached. */
  source: 'network' | 'not-modified' | 'stale';
  /** Why the answer is stale. */
  error?: ResolverClientError;
}

export interface ResolverClientOptions {
  /** The resolver's base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  /** A version or environment token. */
  token: string;
  /** Per request; default 5000 ms. */
  timeoutMs?: number;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
}

export interface ResolverClient {
  /** What the token resolves to now, or the last good answer when the resolver is unreachable. */
  resolve(): Promise<ResolveResult>;
  /** One raw file of the version the token resolves to. */
  file(path: string): Promise<string>;
  /** The last good answer, if any. */
  readonly last: Resolved | null;
}

export class ResolverClientError extends Error {
  constructor(
    /** The HTTP status, or 0 when there was no answer. */
    readonly status: number,
    /** The resolver's error code, or UNREACHABLE / BAD_ANSWER. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ResolverClientError';
  }

  /** Worth answering from the cache: no answer, a server error, or a garbled answer. */
  get transient(): boolean {
    return this.status === 0 || this.status >= 500 || this.code === 'BAD_ANSWER';
  }
}

export function createResolverClient(options: ResolverClientOptions): ResolverClient {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 5000;
  let last: Resolved | null = null;
  let etag: string | null = null;
  let inFlight: Promise<ResolveResult> | null = null;

  async function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    try {
      return await doFetch(`${base}${path}`, {
        headers: { Authorization: `Token ${options.token}`, ...headers },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new ResolverClientError(0, 'UNREACHABLE', `resolver at ${base} unreachable: ${(err as Error).message}`);
    }
  }

  async function failure(res: Response): Promise<ResolverClientError> {
    const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
    return new ResolverClientError(
      res.status,
      body?.error?.code ?? `HTTP_${res.status}`,
      body?.error?.message ?? `resolver answered ${res.status}`,
    );
  }

  async function fetchResolved(): Promise<ResolveResult> {
    const res = await get('/v1/resolve', etag && last ? { 'If-None-Match': etag } : {});
    if (res.status === 304 && last) {
      // Same commit, so the same bundle; which version, environment and manifest commit it is
      // served as may have changed (a promotion between versions at one commit): the 304 says.
      const h = res.headers;
      last = {
        ...last,
        version: h.get('x-botver-version') ?? last.version,
        environment: h.get('x-botver-environment') ?? (h.get('x-botver-version') ? null : last.environment),
        manifestCommit: h.get('x-botver-manifest-commit') ?? last.manifestCommit,
      };
      return { ...last, source: 'not-modified' };
    }
    if (!res.ok) throw await failure(res);
    const body = (await res.json().catch(() => null)) as Resolved | null;
    if (!body || typeof body.commit !== 'string' || typeof body.bundle !== 'object' || body.bundle === null) {
      throw new ResolverClientError(
        res.status,
        'BAD_ANSWER',
        'the resolver answered something that is not a resolved bundle',
      );
    }
    last = body;
    etag = res.headers.get('etag');
    return { ...body, source: 'network' };
  }

  return {
    get last() {
      return last;
    },
    resolve() {
      // Callers asking at the same time share one request.
      inFlight ??= fetchResolved()
        .catch((err: unknown) => {
          const error =
            err instanceof ResolverClientError ? err : new ResolverClientError(0, 'UNREACHABLE', String(err));
          if (error.transient && last) return { ...last, source: 'stale' as const, error };
          throw error;
        })
        .finally(() => {
          inFlight = null;
        });
      return inFlight;
    },
    async file(path: string) {
      const encoded = path.split('/').map(encodeURIComponent).join('/');
      const res = await get(`/v1/files/${encoded}`);
      if (!res.ok) throw await failure(res);
      return res.text();
    },
  };
}
