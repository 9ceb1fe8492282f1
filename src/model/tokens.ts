import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// Tokens are shown once and stored only as their SHA-256: a leaked repository leaks no
// credential. 32 random bytes make guessing hopeless, so a plain (unsalted) hash is enough
// and lets the resolver find a token by hash in one map look-up.

export const TOKEN_PREFIX = 'bvt_';
export const SECRET_PREFIX = 'bvs_';

export function generateToken(prefix = TOKEN_PREFIX): string {
  return prefix + randomBytes(32).toString('base64url');
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented secret with a stored SHA-256. */
export function matchesHash(secret: string, hashHex: string): boolean {
  const a = createHash('sha256').update(secret, 'utf8').digest();
  const b = Buffer.from(hashHex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
