import { LRUCache } from 'lru-cache';
import type { GitRepo } from '../git/repo.js';
import type { Problem } from '../errors.js';
import { loadBundle, type Bundle } from './bundle.js';
import type { ParsedFileCache } from './parsed-cache.js';
import { DEFAULT_LIMITS, limitsKey, type ContentLimits } from './limits.js';
import type { Entity, Intent, Skill, TestFile } from './types.js';

// A version's content at one commit as the programs that serve it keep it: the validated
// content as plain data (the YAML documents and their positions are dropped once checked) and
// its JSON, built once, because every /v1/resolve answer for the commit carries the same bundle.
// The resolver loads it in a worker thread (content-loader.ts), which hands back only the
// JSON: the plain data is parsed from it here on first use, and most commits never need it
// (/v1/resolve serves the JSON; the NLU needs the data only to train a model not on disk).

/** The `bundle` of a /v1/resolve answer: a version's content, each list in path order. */
export interface BundleData {
  intents: Intent[];
  entities: Entity[];
  skills: Skill[];
  tests: TestFile[];
}

export interface VersionContent {
  commit: string;
  /** Errors and warnings, with file, line and column. */
  problems: Problem[];
  /** True when the commit has no errors: only then is it served. */
  ok: boolean;
  /** Set when an object could not be read: a failure that may pass, so a cache must not keep it. */
  unreadable?: boolean;
  /** Only when ok. */
  bundle: BundleData | null;
  /** JSON.stringify(bundle), only when ok. */
  bundleJson: string | null;
}

/** Loads and checks a commit's content in this thread (`parsed`: files already parsed, by blob). */
export async function loadVersionContent(
  git: GitRepo,
  commit: string,
  limits: ContentLimits = DEFAULT_LIMITS,
  options: { parsed?: ParsedFileCache } = {},
): Promise<VersionContent> {
  const { bundle, problems, unreadable } = await loadBundle(git, commit, limits, options);
  const ok = !problems.some((p) => p.severity === 'error');
  if (!ok) return { commit, problems, ok, bundle: null, bundleJson: null, ...(unreadable ? { unreadable } : {}) };
  const data = bundleData(bundle);
  return { commit, problems, ok, bundle: data, bundleJson: JSON.stringify(data) };
}

/** Content as the worker hands it over: `bundle` is parsed from `bundleJson` on first use, once. */
export function contentFromJson(
  commit: string,
  problems: Problem[],
  ok: boolean,
  bundleJson: string | null,
): VersionContent {
  return new JsonContent(commit, problems, ok, ok ? bundleJson : null);
}

class JsonContent implements VersionContent {
  private data: BundleData | null | undefined;

  constructor(
    readonly commit: string,
    readonly problems: Problem[],
    readonly ok: boolean,
    readonly bundleJson: string | null,
  ) {}

  get bundle(): BundleData | null {
    if (this.data === undefined)
      this.data = this.bundleJson === null ? null : (JSON.parse(this.bundleJson) as BundleData);
    return this.data;
  }
}

/** A checked bundle as plain data, without the YAML documents. */
export function bundleData(bundle: Bundle): BundleData {
  return {
    intents: bundle.intents.map((f) => f.data),
    entities: bundle.entities.map((f) => f.data),
    skills: bundle.skills.map((f) => f.data),
    tests: bundle.tests.map((f) => f.data),
  };
}

/**
 * Version content by commit id, least recently used evicted past `capacity`. Commits are
 * immutable, so an entry never goes stale: an environment moving back to an old commit is a
 * cache hit. Concurrent loads of one commit share one promise.
 */
export class ContentCache {
  private readonly entries: LRUCache<string, Promise<VersionContent>>;

  constructor(
    private readonly load: (commit: string, limits: ContentLimits) => Promise<VersionContent>,
    readonly capacity = 32,
  ) {
    this.entries = new LRUCache({ max: capacity });
  }

  get size(): number {
    return this.entries.size;
  }

  /** Content checked under `limits` (the manifest's): other limits are another entry. */
  get(commit: string, limits: ContentLimits = DEFAULT_LIMITS): Promise<VersionContent> {
    const key = cacheKey(commit, limits);
    let entry = this.entries.get(key);
    if (!entry) {
      const loading = this.load(commit, limits);
      // A failed read (e.g. a missing object) is not cached: the next refresh tries again.
      loading.catch(() => this.entries.peek(key) === loading && this.entries.delete(key));
      this.entries.set(key, loading);
      entry = loading;
    }
    return entry;
  }

  /** Drops the commit's entry: the next get loads it again (a load that failed for a passing reason). */
  forget(commit: string, limits: ContentLimits = DEFAULT_LIMITS): void {
    this.entries.delete(cacheKey(commit, limits));
  }

  /** Keeps these commits (the ones a snapshot serves) from being the next evicted. */
  touch(commits: Iterable<string>, limits: ContentLimits = DEFAULT_LIMITS): void {
    for (const commit of commits) this.entries.get(cacheKey(commit, limits));
  }
}

const cacheKey = (commit: string, limits: ContentLimits) => {
  const key = limitsKey(limits);
  return key ? `${commit} ${key}` : commit;
};
