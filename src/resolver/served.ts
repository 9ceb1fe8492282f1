import type { Request, RequestHandler, Response } from 'express';
import type { Snapshot, SnapshotSource, TokenOwner } from './snapshot.js';
import type { VersionContent } from '../content/version-content.js';
import { tokenOwner, notReady } from './auth.js';
import { HttpError, unauthorized } from './http-errors.js';

// What a version or environment token (or a channel's secret) resolves to, taken from one
// snapshot at the start of the request and kept in res.locals for the route and for the
// request log.

export interface Served {
  snapshot: Snapshot;
  owner: TokenOwner;
  /** null for a version token. */
  environment: string | null;
  version: string;
  content: VersionContent;
}

export function servedOf(res: Response): Served {
  return res.locals.served as Served;
}

/** The client a request counts against for fairness (admission.ts): its version or environment. */
export function clientOf(_req: Request, res: Response): string {
  const { owner } = servedOf(res);
  return `${owner.kind}:${owner.name}`;
}

/** Who the request speaks for in a snapshot (null: nobody, answered 401). */
export type Identify = (snapshot: Snapshot, req: Request) => TokenOwner | null;

const byToken: Identify = (snapshot, req) => tokenOwner(snapshot, req.headers.authorization);

/**
 * Authenticates the request (by default its version or environment token; `identify` says
 * otherwise, e.g. a channel's secret) and resolves it against the current snapshot.
 */
export function resolveToken(live: SnapshotSource, identify: Identify = byToken): RequestHandler {
  return (req, res, next) => {
    const snapshot = live.state.snapshot;
    if (!snapshot) return next(notReady('the resolver has no valid manifest to serve yet; see /readyz'));
    const owner = identify(snapshot, req);
    if (!owner) return next(unauthorized());
    const { environment, version, content } = targetOf(snapshot, owner);
    res.locals.environment = environment;
    res.locals.version = version;
    if (!content) {
      const what = environment ? `environment ${environment} (version ${version})` : `version ${version}`;
      return next(
        new HttpError('VERSION_UNAVAILABLE', `${what} has no commit that passes validation; see /readyz`, {
          'Retry-After': '5',
        }),
      );
    }
    res.locals.commit = content.commit;
    res.locals.served = { snapshot, owner, environment, version, content } satisfies Served;
    next();
  };
}

/** What a token owner resolves to in a snapshot: its environment (if any), version and the content served. */
export function targetOf(
  snapshot: Snapshot,
  owner: TokenOwner,
): { environment: string | null; version: string; content: VersionContent | null } {
  if (owner.kind === 'environment') {
    const env = snapshot.environments.get(owner.name)!;
    return { environment: env.name, version: env.version, content: env.content };
  }
  return { environment: null, version: owner.name, content: snapshot.versions.get(owner.name)!.content };
}

/** Whether an If-None-Match header matches the entity tag `etag` (weak comparison, as for GET). */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
