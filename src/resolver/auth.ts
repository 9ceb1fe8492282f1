import type { RequestHandler } from 'express';
import { matchesHash, sha256Hex } from '../model/tokens.js';
import type { Snapshot, TokenOwner } from './snapshot.js';
import { HttpError, unauthorized } from './http-errors.js';

// Tokens are looked up by their SHA-256, as stored in the manifest: the resolver never holds
// a token, only hashes. A missing, malformed and unknown token all get the same 401.

const MAX_TOKEN_LENGTH = 512;
const AUTHORIZATION = /^(?:token|bearer)[ \t]+([\x21-\x7e]+)[ \t]*$/i;

/** The token of an `Authorization: Token …` / `Bearer …` header, or null. */
export function presentedToken(header: string | undefined): string | null {
  if (!header || header.length > MAX_TOKEN_LENGTH + 16) return null;
  const match = AUTHORIZATION.exec(header);
  return match ? match[1]! : null;
}

/**
 * The version or environment a token opens: found by its SHA-256 in the snapshot's index, so
 * the look-up depends only on the hash of the token, never on how much of a stored one it matches.
 */
export function tokenOwner(snapshot: Snapshot, header: string | undefined): TokenOwner | null {
  const token = presentedToken(header);
  return token ? (snapshot.tokens.get(sha256Hex(token)) ?? null) : null;
}

/** Any 32-byte hash: compared against when there is nothing to compare, so every answer costs the same. */
const NO_HASH = '0'.repeat(64);

/**
 * The environment a channel's secret opens, found as a token's: `Authorization: Token <secret>`
 * (or Bearer) compared with the channel's stored SHA-256 in constant time. An unknown channel
 * and a wrong secret both give null (the same 401).
 */
export function channelOwner(snapshot: Snapshot, channel: string, header: string | undefined): TokenOwner | null {
  const secret = presentedToken(header);
  const env = [...snapshot.environments.values()].find((e) => e.channels.some((c) => c.name === channel));
  const stored = env?.channels.find((c) => c.name === channel)?.secretSha256;
  const matches = matchesHash(secret ?? '', stored ?? NO_HASH);
  return env && stored && secret && matches ? { kind: 'environment', name: env.name } : null;
}

/**
 * Admin routes: the token must equal the admin token (compared in constant time, through its
 * hash so lengths do not leak). Without an admin token configured, nobody is admin.
 */
export function requireAdmin(adminToken: string | undefined): RequestHandler {
  const isAdmin = adminCheck(adminToken);
  return (req, _res, next) => {
    if (!isAdmin(req.headers.authorization)) return next(unauthorized());
    next();
  };
}

/** Whether an Authorization header carries the admin token (constant time; never without one configured). */
export function adminCheck(adminToken: string | undefined): (header: string | undefined) => boolean {
  const expected = adminToken ? sha256Hex(adminToken) : null;
  return (header) => {
    const token = presentedToken(header);
    return expected !== null && token !== null && matchesHash(token, expected);
  };
}

export const notReady = (why: string) => new HttpError('NOT_READY', why, { 'Retry-After': '1' });
