import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
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

export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

export function tokenOwner(snapshot: Snapshot, header: string | undefined): TokenOwner | null {
  const token = presentedToken(header);
  return token ? (snapshot.tokens.get(sha256(token)) ?? null) : null;
}

/**
 * Admin routes: the token must equal BOTVER_ADMIN_TOKEN (compared in constant time, through
 * its hash so lengths do not leak). Without an admin token configured, nobody is admin.
 */
export function requireAdmin(adminToken: string | undefined): RequestHandler {
  const expected = adminToken ? createHash('sha256').update(adminToken).digest() : null;
  return (req, _res, next) => {
    const token = presentedToken(req.headers.authorization);
    if (!expected || !token || !timingSafeEqual(createHash('sha256').update(token).digest(), expected))
      return next(unauthorized());
    next();
  };
}

export const notReady = (why: string) => new HttpError(503, 'NOT_READY', why, { 'Retry-After': '1' });
