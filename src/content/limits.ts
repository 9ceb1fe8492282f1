import type { ManifestLimits } from './types.js';

// The limits a version's content must keep (docs/formats.md#limits), in one place so that
// `botver validate`, every CLI command and the resolver refuse exactly the same things. Sizes
// are checked from the object store before a blob is read, YAML shape (aliases, nesting) before
// the parsed value is built, and a version that breaks one is a problem of that version alone.
//
// The defaults are generous for real bots: the 15,000-expression benchmark bot (150 intents,
// about 1.5 MB of YAML, ~10 KB a file) passes with room to grow 3 to 100 times on each
// measure, while a hostile push (a 50 MB file, an alias bomb, a 10,000-deep nesting) is refused
// before it costs memory or time. A manifest may set any of them under `limits:`.

export interface ContentLimits {
  /** Bytes of one file of a version (its blob), checked before the blob is read. */
  maxFileBytes: number;
  /** Bytes of all the content files of a version together. */
  maxVersionBytes: number;
  /** Files in a version's content folders. */
  maxFiles: number;
  /** Expressions of all intents of a version: what the NLU is trained on, so it bounds training memory. */
  maxExpressions: number;
  /** Alias references in one YAML file, counted after expansion (an alias of a list holding aliases counts them all). */
  maxAliases: number;
  /** Nesting of collections in one YAML file, aliases expanded. */
  maxDepth: number;
  /** Folders from the root of a version's tree down to the deepest content file. */
  maxTreeDepth: number;
}

export const DEFAULT_LIMITS: Readonly<ContentLimits> = Object.freeze({
  maxFileBytes: 1024 * 1024,
  maxVersionBytes: 32 * 1024 * 1024,
  maxFiles: 10_000,
  maxExpressions: 50_000,
  maxAliases: 100,
  maxDepth: 64,
  maxTreeDepth: 8,
});

export const LIMIT_KEYS = Object.keys(DEFAULT_LIMITS) as (keyof ContentLimits)[];

/** Longest path of a file in a version, in characters (git hosts and file systems cap near here). */
export const MAX_PATH_LENGTH = 255;

/** The limits in force: the manifest's `limits:` over the defaults (an absent or invalid manifest gives the defaults). */
export function resolveLimits(manifest?: ManifestLimits | null): ContentLimits {
  const limits: ContentLimits = { ...DEFAULT_LIMITS };
  for (const key of LIMIT_KEYS) {
    const value = manifest?.[key];
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) limits[key] = value;
  }
  return limits;
}

/** A short stable key of limits, for caches of content checked under them ('' for the defaults). */
export function limitsKey(limits: ContentLimits): string {
  const changed = LIMIT_KEYS.filter((k) => limits[k] !== DEFAULT_LIMITS[k]);
  return changed.map((k) => `${k}=${limits[k]}`).join(',');
}

/**
 * Why one name of a tree entry is not allowed in a version, or null when it is fine. Git itself
 * never writes these, but a tree can be made by hand (`git hash-object -t tree --literally`),
 * and such a name would mean another path on disk (`..`), or none, to whoever checks it out.
 */
export function unsafeNameReason(name: string): string | null {
  if (name === '') return 'an empty name';
  if (name === '.' || name === '..') return `the name "${name}"`;
  if (name.includes('/') || name.includes('\\')) return 'a slash or backslash in a name';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'a control character in a name';
  if (name.toLowerCase() === '.git') return 'the name ".git"';
  return null;
}

/** How a byte count reads in a message: "1.5 MB", "812 KB", "90 bytes". */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Number((n / (1024 * 1024)).toFixed(1))} MB`;
  if (n >= 1024) return `${Number((n / 1024).toFixed(1))} KB`;
  return `${n} bytes`;
}

/** The end of every limit message: which manifest key raises it. */
export function raiseHint(key: keyof ContentLimits): string {
  return `raise limits.${key} in environments.yaml if this is intended`;
}
