import { UsageError } from '../errors.js';

// Parsers of numeric flag values and variables: a bad value is a usage error (exit 2) naming
// the flag or variable, before anything runs.

/** A whole number above 0 (--limit, --cache-size). */
export function parsePositive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} takes a whole number above 0, not "${value}"`);
  return n;
}

/** A whole number, 0 included (--poll-ms). */
export function parseCount(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw new UsageError(`${flag} takes a whole number, not "${value}"`);
  return n;
}

export function parsePort(value: string): number {
  const n = parseCount(value, 'the port');
  if (n > 65535) throw new UsageError(`a port is at most 65535, not ${value}`);
  return n;
}

/** A duration as people write it: "30s", "500ms", "2m", "1h", or a number of seconds; in ms. */
export function parseDuration(value: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(value.trim());
  const ms = m
    ? Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const)[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h']
    : Number.NaN;
  if (!(ms > 0)) throw new UsageError(`${what} must be a duration such as 30s, 500ms or 2m (got "${value}")`);
  return ms;
}
