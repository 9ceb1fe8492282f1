import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Problem } from '../errors.js';
import type { RepoLocation } from '../git/location.js';
import type { ContentLimits } from './limits.js';
import { DEFAULT_PARSED_CACHE_BYTES } from './parsed-cache.js';
import { contentFromJson, type VersionContent } from './version-content.js';

// Loads commits' content in a worker thread (load-worker.ts), so that reading and parsing a
// large version never holds the resolver's event loop: requests of every other version and
// environment keep being answered while it loads. The main thread receives the problems and
// the bundle's JSON, a single string (copying it costs ~1 ms per 2 MB; a structured clone of
// the parsed bundle costs 3–5 times more, and parsing happens only if the data is needed).
//
// One load at a time, in order: a worker that dies (out of memory) or a load that runs past
// its time limit is then the fault of exactly one commit, which becomes a problem of that
// commit — never of the repository — and the next load gets a new worker. The worker, and
// the files it has parsed, stay while loads come; it ends after `idleMs` without one.
//
// The CLI does not use this: a command loads a version or two and exits, so a worker would
// only add its start-up (~100 ms of module loading) to the command's time.

export interface ContentLoaderOptions {
  location: RepoLocation;
  /** Estimated heap of parsed files the worker keeps (default 64 MB). */
  cacheBytes?: number;
  /** The worker (and its parsed files) ends after this long without a load. Default 10 minutes. */
  idleMs?: number;
  /** The worker's heap limit, MB (default 1024): a load that needs more fails, the server does not. */
  memoryMb?: number;
  /** One load's time limit, ms (default 5 minutes): past it the worker is stopped and the commit fails. */
  timeoutMs?: number;
  /** The worker thread's nice value on Linux (default 10; 0 keeps the server's priority). */
  nice?: number;
}

export const DEFAULT_LOADER_IDLE_MS = 10 * 60 * 1000;
export const DEFAULT_LOADER_MEMORY_MB = 1024;
export const DEFAULT_LOAD_TIMEOUT_MS = 5 * 60 * 1000;
export const DEFAULT_LOADER_NICE = 10;

/** A loaded commit, with how many content files it has and how many had to be parsed (not in the worker's cache). */
export interface LoadResult {
  content: VersionContent;
  files: number;
  parsed: number;
  /**
   * The load failed for a reason that may not recur (its time limit on a busy machine, a worker
   * that crashed, a read error): keep the result for this snapshot, load it again next time.
   * False for content that is what it is, and for a load that ran out of memory (it would again).
   */
  retry: boolean;
}

/** Messages to the worker. */
export type LoaderRequest = { type: 'load'; id: number; commit: string; limits: ContentLimits } | { type: 'renew' };
/** Messages from the worker: the content, or why it could not be loaded. */
export type LoaderReply =
  | {
      id: number;
      problems: Problem[];
      ok: boolean;
      bundleJson: string | null;
      files: number;
      parsed: number;
      /** An object could not be read: the failure may pass, so the result is not kept. */
      retry: boolean;
    }
  | { id: number; error: string };
export interface LoaderWorkerData {
  location: RepoLocation;
  cacheBytes: number;
  /** The worker thread's nice value (Linux): above 0, the server's thread gets the CPU first. */
  nice: number;
}

interface Job {
  id: number;
  commit: string;
  limits: ContentLimits;
  resolve: (result: LoadResult) => void;
  timer?: NodeJS.Timeout;
}

export class ContentLoader {
  private worker: Worker | null = null;
  private readonly queue: Job[] = [];
  private current: Job | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: ContentLoaderOptions) {}

  /** The commit's content, checked under `limits`. Never rejects: a load that fails is a failed content. */
  load(commit: string, limits: ContentLimits): Promise<LoadResult> {
    if (this.closed) return Promise.resolve(failed(commit, 'the content loader is closed'));
    return new Promise((resolve) => {
      this.queue.push({ id: this.nextId++, commit, limits, resolve });
      this.next();
    });
  }

  /** The packs were replaced (git gc): the worker opens the repository afresh (its parsed files stay). */
  renew(): void {
    this.worker?.postMessage({ type: 'renew' } satisfies LoaderRequest);
  }

  /** Whether a worker is running (it ends when idle). */
  get running(): boolean {
    return this.worker !== null;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const job of [...(this.current ? [this.current] : []), ...this.queue.splice(0)]) {
      clearTimeout(job.timer);
      job.resolve(failed(job.commit, 'the content loader is closed'));
    }
    this.current = null;
    const worker = this.worker;
    this.worker = null;
    await worker?.terminate();
  }

  private next(): void {
    if (this.current || this.closed) return;
    const job = this.queue.shift();
    if (!job) {
      this.idle();
      return;
    }
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.current = job;
    let worker: Worker;
    try {
      worker = this.worker ?? this.spawn();
    } catch (err) {
      this.settle(failed(job.commit, `the content worker cannot start: ${(err as Error).message}`));
      return;
    }
    this.worker = worker;
    worker.ref(); // a load in flight keeps the process alive, an idle worker does not
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS;
    job.timer = setTimeout(
      () => this.fail(worker, `loading took longer than ${timeoutMs} ms (the content loader's time limit)`),
      timeoutMs,
    );
    job.timer.unref();
    worker.postMessage({ type: 'load', id: job.id, commit: job.commit, limits: job.limits } satisfies LoaderRequest);
  }

  /** Nothing queued: the worker stays for a while (its parsed files serve the next commits), then ends. */
  private idle(): void {
    if (!this.worker || this.idleTimer) return;
    this.worker.unref();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.current || this.queue.length) return;
      const worker = this.worker;
      this.worker = null;
      void worker?.terminate();
    }, this.options.idleMs ?? DEFAULT_LOADER_IDLE_MS);
    this.idleTimer.unref();
  }

  private spawn(): Worker {
    const memoryMb = this.options.memoryMb ?? DEFAULT_LOADER_MEMORY_MB;
    const workerData: LoaderWorkerData = {
      location: this.options.location,
      cacheBytes: this.options.cacheBytes ?? DEFAULT_PARSED_CACHE_BYTES,
      nice: this.options.nice ?? DEFAULT_LOADER_NICE,
    };
    const worker = new Worker(workerFile(), {
      workerData,
      // A small young generation keeps a load's peak down; the old generation bounds it.
      resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: memoryMb },
    });
    worker.unref();
    worker.on('message', (reply: LoaderReply) => {
      const job = this.current;
      if (worker !== this.worker || !job || reply.id !== job.id) return;
      if ('error' in reply) return this.settle(failed(job.commit, reply.error));
      this.settle({
        content: contentFromJson(job.commit, reply.problems, reply.ok, reply.bundleJson),
        files: reply.files,
        parsed: reply.parsed,
        retry: reply.retry,
      });
    });
    worker.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? this.fail(
            worker,
            `loading needed more than ${memoryMb} MB of memory (the content loader's memory limit)`,
            false,
          )
        : this.fail(worker, `the content worker failed: ${err.message}`),
    );
    worker.on('exit', (code) => this.fail(worker, `the content worker exited with code ${code}`));
    return worker;
  }

  /** The worker is beyond use: the load in it fails, the next one gets a new worker. */
  private fail(worker: Worker, error: string, retry = true): void {
    if (worker !== this.worker) return; // a late event of a worker already replaced or ended
    this.worker = null;
    void worker.terminate();
    if (this.current) this.settle(failed(this.current.commit, error, retry));
  }

  private settle(result: LoadResult): void {
    const job = this.current;
    this.current = null;
    if (job) {
      clearTimeout(job.timer);
      job.resolve(result);
    }
    this.next();
  }
}

/** A commit that could not be loaded: one error at the root of its tree, so it fails alone. */
function failed(commit: string, message: string, retry = true): LoadResult {
  const problem: Problem = {
    file: '.',
    line: 1,
    column: 1,
    message: `cannot be loaded at commit ${commit.slice(0, 12)}: ${message}`,
    severity: 'error',
  };
  return { content: contentFromJson(commit, [problem], false, null), files: 0, parsed: 0, retry };
}

/**
 * dist/content/load-worker.js, found from wherever this module runs: dist/content/ (the
 * library), dist/bin/ (the bundled CLI) or src/content/ (tests, after `npm run build`).
 */
function workerFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'content', 'load-worker.js');
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find dist/content/load-worker.js (run npm run build)');
    dir = up;
  }
}
