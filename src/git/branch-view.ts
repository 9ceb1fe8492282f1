import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import git from 'isomorphic-git';
import * as fs from 'node:fs';
import { MissingHistoryError } from '../errors.js';
import type { GitRepo } from './repo.js';

// Branches as every reading command sees them, in a repository of one's own or in a clone: a
// version's branch is its local branch, else its remote-tracking branch (`refs/remotes/<remote>/
// <name>`), which is all an ordinary `git clone` or a pull request's CI checkout has. What was
// read from a remote-tracking branch is remembered, so that the command can say so. Writing
// commands move local branches only.

/** The remote whose tracking branches stand in for missing local ones, by default. */
export const DEFAULT_REMOTE = 'origin';

export interface BranchHead {
  commit: string;
  /** The full ref it was read from: refs/heads/<name> or refs/remotes/<remote>/<name>. */
  ref: string;
}

/** What kind of clone a repository is, as far as reading versions goes. */
export interface CloneShape {
  /** A shallow clone (`--depth`): history stops at the commits in .git/shallow. */
  shallow: boolean;
  /** The remote's URL, or null when the repository has no such remote. */
  remoteUrl: string | null;
  /** Whether the remote's fetch refspecs bring every branch (false for --single-branch, --depth without --no-single-branch, CI checkouts). */
  fetchesAllBranches: boolean;
}

/** The refspec that makes a clone fetch every branch of its remote. */
export const fetchAllRefspec = (remote: string) => `+refs/heads/*:refs/remotes/${remote}/*`;

export class BranchView {
  /** Branches read from their remote-tracking ref, name -> ref, in the order first read. */
  readonly fromRemote = new Map<string, string>();
  private shape: Promise<CloneShape> | undefined;
  private shallowEdge: Promise<Set<string>> | undefined;

  constructor(
    readonly repo: GitRepo,
    readonly remote: string = DEFAULT_REMOTE,
  ) {}

  /** A branch's head: the local branch, else the remote-tracking one; null when neither exists. */
  async head(name: string): Promise<BranchHead | null> {
    const local = await this.repo.branchHead(name);
    if (local) return { commit: local, ref: `refs/heads/${name}` };
    const ref = `refs/remotes/${this.remote}/${name}`;
    const tracking = await this.repo.readRef(ref).catch(() => null);
    if (!tracking) return null;
    this.fromRemote.set(name, ref);
    return { commit: tracking, ref };
  }

  /** BranchSource (manifest/rules.ts): the head commit only. */
  async branchHead(name: string): Promise<string | null> {
    return (await this.head(name))?.commit ?? null;
  }

  /**
   * Whether `ancestor` is reachable from `descendant`. In a shallow clone a "no" cannot be told
   * from a walk that met the end of the fetched history: that is a MissingHistoryError.
   */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    let found: boolean;
    try {
      found = await this.repo.isAncestor(ancestor, descendant);
    } catch (err) {
      if ((await this.cloneShape()).shallow) throw new MissingHistoryError(this.remote);
      throw err;
    }
    // A walk that stopped at the shallow edge without meeting it proves nothing.
    if (!found && (await this.cloneShape()).shallow) throw new MissingHistoryError(this.remote);
    return found;
  }

  /**
   * Throws MissingHistoryError when `commit` is at the edge of a shallow clone (its parents were
   * not fetched): a walk of history must not take the edge for the beginning.
   */
  async assertParentsHere(commit: string): Promise<void> {
    this.shallowEdge ??= readFile(join(this.repo.gitdir, 'shallow'), 'utf8').then(
      (text) => new Set(text.split('\n').filter(Boolean)),
      () => new Set<string>(),
    );
    if ((await this.shallowEdge).has(commit)) throw new MissingHistoryError(this.remote);
  }

  /** How this repository was cloned (read once). */
  cloneShape(): Promise<CloneShape> {
    this.shape ??= readCloneShape(this.repo, this.remote);
    return this.shape;
  }

  /**
   * In a clone, why branches are missing and how to fetch them (one sentence, for every missing
   * one at once); null in a repository without the remote, where a missing branch is just missing.
   */
  async missingHint(names: readonly string[]): Promise<string | null> {
    const shape = await this.cloneShape();
    if (!shape.remoteUrl) return null;
    const fetch = shape.fetchesAllBranches
      ? `git fetch ${this.remote}`
      : `git fetch ${this.remote} '${fetchAllRefspec(this.remote)}'`;
    const refs = names.map((n) => `refs/remotes/${this.remote}/${n}`).join(', ');
    return `${refs} ${names.length > 1 ? 'are' : 'is'} not in this clone either (${
      shape.fetchesAllBranches ? 'not fetched yet' : 'it fetches only some branches'
    }): fetch them with ${fetch} (in GitHub Actions: actions/checkout with fetch-depth: 0)`;
  }
}

async function readCloneShape(repo: GitRepo, remote: string): Promise<CloneShape> {
  const gitdir = repo.gitdir;
  const config = (path: string) => git.getConfigAll({ fs, gitdir, path }).catch(() => [] as unknown[]);
  const [url] = await config(`remote.${remote}.url`);
  const fetches = (await config(`remote.${remote}.fetch`)).map(String);
  return {
    shallow: existsSync(join(gitdir, 'shallow')),
    remoteUrl: typeof url === 'string' ? url : null,
    fetchesAllBranches: fetches.some((f) => f.replace(/^\+/, '') === fetchAllRefspec(remote).slice(1)),
  };
}
