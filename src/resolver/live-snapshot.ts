import { existsSync, watch, type FSWatcher } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { GitRepo } from '../git/repo.js';
import { formatProblem } from '../errors.js';
import { DEFAULT_REMOTE } from '../git/branch-view.js';
import { buildSnapshot, type ResolverState, type Snapshot, type SnapshotSource } from './snapshot.js';
import { ContentCache, type VersionContent } from '../content/version-content.js';
import { ContentLoader, type ContentLoaderOptions } from '../content/content-loader.js';
import { CoalescedRun } from './coalesced-run.js';

// Keeps the current snapshot in step with the repository. A refresh is cheap when nothing
// moved (one read of the refs); it runs when fs.watch sees the refs change and on a poll as a
// fallback (watchers miss events on some file systems and in nested ref folders). Refreshes
// never overlap: one that is asked for while another runs happens right after it.

export interface LiveSnapshotOptions {
  git: GitRepo;
  controlBranch: string;
  /** Whose remote-tracking branches stand in for missing version branches (a clone); default origin. */
  remoteName?: string;
  logger: Logger;
  /** Poll interval in ms (the fallback to fs.watch). Default 500; 0 turns polling off. */
  pollMs?: number;
  /** Commits whose content is kept in memory. Default 32. */
  cacheSize?: number;
  /** The content worker's bounds (parsed-file cache, idle time, memory, time limit); the repository is `git`'s. */
  loader?: Omit<ContentLoaderOptions, 'location'>;
  /** Called after every change of state: a new snapshot, or new problems. */
  onChange?: (state: ResolverState) => void;
}

export const DEFAULT_POLL_MS = 500;
/** Ref writes come in bursts (lock, rename, reflog): wait this long after a change is seen. */
const SETTLE_MS = 15;

export class LiveSnapshot implements SnapshotSource {
  state: ResolverState = { snapshot: null, problems: [] };
  private git: GitRepo;
  private readonly contents: ContentCache;
  private readonly loader: ContentLoader;
  private fingerprint = '';
  private packs = new Set<string>();
  private readonly refreshes = new CoalescedRun(
    () => this.refreshOnce(),
    () => this.stopped,
  );
  private timer: NodeJS.Timeout | null = null;
  private settle: NodeJS.Timeout | null = null;
  private watchers: FSWatcher[] = [];
  private stopped = false;
  private lastReported = '';
  private readonly remote: string;

  constructor(private readonly options: LiveSnapshotOptions) {
    this.git = options.git;
    this.remote = options.remoteName ?? DEFAULT_REMOTE;
    // Content is read and parsed in a worker thread: a large version loading never holds the
    // event loop, so every other token keeps being answered meanwhile.
    this.loader = new ContentLoader({ ...options.loader, location: options.git.location });
    this.contents = new ContentCache(async (commit, limits) => {
      const started = performance.now();
      options.logger.debug({ commit }, 'loading content');
      const { content, files, parsed, retry } = await this.loader.load(commit, limits);
      const ms = Math.round(performance.now() - started);
      options.logger.debug({ commit, files, parsed, ms }, 'loaded content');
      // Served as failed by this snapshot, loaded again by the next one (after the next ref change).
      if (retry) this.contents.forget(commit, limits);
      return content;
    }, options.cacheSize ?? 32);
  }

  get gitdir(): string {
    return this.git.gitdir;
  }

  /** A commit's content, through the same cache (a conversation keeps the commit it started on). */
  content(commit: string): Promise<VersionContent> {
    return this.contents.get(commit, this.state.snapshot?.limits);
  }

  /** One file of a commit (null when there is no such file), through the same object cache. */
  async readFile(commit: string, path: string): Promise<{ oid: string; bytes: Uint8Array } | null> {
    const oid = await this.git.fileOid(commit, path);
    return oid ? { oid, bytes: await this.git.readBlob(oid) } : null;
  }

  /** Reads the repository once, then follows it. */
  async start(): Promise<void> {
    await this.refresh();
    if (this.stopped) return;
    this.watch();
    const pollMs = this.options.pollMs ?? DEFAULT_POLL_MS;
    if (pollMs > 0) {
      const tick = () => {
        this.timer = setTimeout(() => void this.refresh().finally(() => !this.stopped && tick()), pollMs);
        this.timer.unref();
      };
      tick();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.settle) clearTimeout(this.settle);
    for (const w of this.watchers.splice(0)) w.close();
    void this.loader.close();
  }

  /** Brings the snapshot up to date with the refs; resolves once it is. Never throws. */
  refresh(): Promise<void> {
    return this.refreshes.run();
  }

  private async refreshOnce(): Promise<void> {
    const { logger, controlBranch } = this.options;
    try {
      const fingerprint = await this.readFingerprint();
      if (fingerprint === this.fingerprint) return;
      await this.renewCacheAfterRepack();
      const previous = this.state.snapshot;
      const result = await buildSnapshot({
        git: this.git,
        controlBranch,
        remoteName: this.remote,
        contents: this.contents,
        previous,
      });
      this.fingerprint = fingerprint;
      if (result.ok) {
        this.state = { snapshot: result.snapshot, problems: result.snapshot.problems };
        if (previous?.manifestCommit !== result.snapshot.manifestCommit || previous === null) {
          logger.info(
            { manifestCommit: result.snapshot.manifestCommit, environments: describe(result.snapshot) },
            'serving snapshot',
          );
        } else {
          logger.info({ environments: describe(result.snapshot) }, 'serving new version heads');
        }
      } else {
        this.state = { snapshot: previous, problems: [result.problem] };
      }
      this.report();
    } catch (err) {
      // An unreadable repository (a missing object mid-push, a permission problem): keep
      // serving what we have, say why, and try again on the next change or poll.
      this.fingerprint = '';
      const message = err instanceof Error ? err.message : String(err);
      this.state = {
        snapshot: this.state.snapshot,
        problems: [
          {
            scope: 'repository',
            name: this.git.gitdir,
            commit: null,
            serving: this.state.snapshot?.manifestCommit ?? null,
            errors: [{ file: this.git.gitdir, line: 1, column: 1, message, severity: 'error' }],
          },
        ],
      };
      this.report();
    }
  }

  /** Tells the owner, and logs readiness problems once each, not on every poll. */
  private report(): void {
    this.options.onChange?.(this.state);
    const key = JSON.stringify(this.state.problems.map((p) => [p.scope, p.name, p.commit, p.serving]));
    if (key === this.lastReported) return;
    // "ready" once the problems are gone (not on a start without any: "serving snapshot" says it).
    const recovered = key === '[]' && this.lastReported !== '';
    this.lastReported = key;
    for (const p of this.state.problems) {
      const serving = p.serving ? `serving last good ${p.serving.slice(0, 12)}` : 'nothing served for it';
      const what =
        p.scope === 'repository'
          ? `the repository ${p.name} cannot be read`
          : `${p.scope} ${p.name}${p.commit ? ` at ${p.commit.slice(0, 12)}` : ''} fails validation`;
      // "name" is taken by the logger's own field.
      this.options.logger.warn(
        {
          scope: p.scope,
          [p.scope]: p.name,
          commit: p.commit,
          serving: p.serving,
          errors: p.errors.map(formatProblem),
        },
        `${what}; ${serving}`,
      );
    }
    if (recovered) this.options.logger.info('ready');
  }

  /** The control branch and every branch head, local or remote-tracking, loose or packed: any change means a rebuild. */
  private async readFingerprint(): Promise<string> {
    const control = await this.git.readRef(`refs/heads/${this.options.controlBranch}`);
    const heads = [
      ...(await this.git.listRefs('refs/heads/')),
      ...(await this.git.listRefs(`refs/remotes/${this.remote}/`)),
    ];
    return `${control}\n${heads
      .map(([r, o]) => `${r} ${o}`)
      .sort()
      .join('\n')}`;
  }

  /**
   * isomorphic-git caches pack indexes for the life of its cache. After `git gc` replaced the
   * packs, start a fresh cache so the old ones are let go.
   */
  private async renewCacheAfterRepack(): Promise<void> {
    const names = new Set(
      (await readdir(join(this.git.gitdir, 'objects', 'pack')).catch(() => [] as string[])).filter((n) =>
        n.endsWith('.idx'),
      ),
    );
    const gone = [...this.packs].some((n) => !names.has(n));
    this.packs = names;
    if (gone) {
      this.git = GitRepo.fromLocation(this.git.location);
      this.loader.renew();
    }
  }

  private watch(): void {
    const changed = () => {
      if (this.settle || this.stopped) return;
      this.settle = setTimeout(() => {
        this.settle = null;
        void this.refresh();
      }, SETTLE_MS);
    };
    const tracking = join(this.git.gitdir, 'refs', 'remotes', this.remote);
    for (const dir of [
      this.git.gitdir,
      join(this.git.gitdir, 'refs', 'heads'),
      ...(existsSync(tracking) ? [tracking] : []),
    ]) {
      try {
        const w = watch(dir, { persistent: false }, changed);
        w.on('error', (err) =>
          this.options.logger.warn({ dir, err: err.message }, 'file watcher failed; polling only'),
        );
        this.watchers.push(w);
      } catch (err) {
        this.options.logger.warn({ dir, err: (err as Error).message }, 'cannot watch for ref changes; polling only');
      }
    }
  }
}

function describe(snapshot: Snapshot) {
  return Object.fromEntries(
    [...snapshot.environments].map(([name, e]) => [name, `${e.version}@${e.content?.commit.slice(0, 12) ?? 'none'}`]),
  );
}
