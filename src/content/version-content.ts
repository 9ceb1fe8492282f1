import { LRUCache } from 'lru-cache';
import type { GitRepo } from '../git/repo.js';
import type { Problem } from '../errors.js';
import { loadBundle, type Bundle } from './bundle.js';
import type { Entity, Intent, Skill, TestFile } from './types.js';

// A version's content at one commit as the programs that serve it keep it: the validated
// content as plain data (the YAML documents and their positions are dropped once checked) and
// its JSON, built once, because every /v1/resolve answer for the commit carries the same bundle.

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
  /** Only when ok. */
  bundle: BundleData | null;
  /** JSON.stringify(bundle), only when ok. */
  bundleJson: string | null;
}

export async function loadVersionContent(git: GitRepo, commit: string): Promise<VersionContent> {
  const { bundle, problems } = await loadBundle(git, commit);
  const ok = !problems.some((p) => p.severity === 'error');
  if (!ok) return { commit, problems, ok, bundle: null, bundleJson: null };
  const data = bundleData(bundle);
  return { commit, problems, ok, bundle: data, bundleJson: JSON.stringify(data) };
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
    private readonly load: (commit: string) => Promise<VersionContent>,
    readonly capacity = 32,
  ) {
    this.entries = new LRUCache({ max: capacity });
  }

  get size(): number {
    return this.entries.size;
  }

  get(commit: string): Promise<VersionContent> {
    let entry = this.entries.get(commit);
    if (!entry) {
      const loading = this.load(commit);
      // A failed read (e.g. a missing object) is not cached: the next refresh tries again.
      loading.catch(() => this.entries.peek(commit) === loading && this.entries.delete(commit));
      this.entries.set(commit, loading);
      entry = loading;
    }
    return entry;
  }

  /** Keeps these commits (the ones a snapshot serves) from being the next evicted. */
  touch(commits: Iterable<string>): void {
    for (const commit of commits) this.entries.get(commit);
  }
}
