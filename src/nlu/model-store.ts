import { accessSync, constants, promises as fsp, lstatSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LRUCache } from 'lru-cache';
import { writeFileAtomic } from '../git/atomic-fs.js';
import { MODEL_FORMAT, NluModel, trainModel, type TrainingInput } from './engine.js';
import { DEFAULT_TRAINING_MEMORY_MB, DEFAULT_TRAINING_TIMEOUT_MS, TrainingRunner } from './train-runner.js';
import { oversizedTraining } from './training-size.js';

// NLU models by commit: trained once per commit in a worker thread (train-runner.ts: one at a
// time, under a time and a memory limit) and kept on disk in <gitdir>/botver/models/, so
// neither a restart nor a return to an old commit retrains; loaded into memory on first use
// (milliseconds), the least recently used dropped past `capacity`, so memory follows the
// versions actually asked, not every version served. `ensure` starts the training, `has` says
// it is done, `load` gives the model, `get` waits for it; meanwhile the resolver answers with
// the previous one (nlu-service.ts).
//
// The disk cache is only a cache: a model file that cannot be read (a folder in its place,
// another user's file, a file that does not parse) or written (a read-only or full disk, a file
// where the models folder should be) is logged once, recorded as a cache fault (`cacheFaults`,
// which /readyz lists), and the model is trained and kept in memory. Nothing read from the
// cache can leave a commit "training" or "stored but unloadable".

/** The part of a pino logger the store uses (the CLI passes a silent one without loading pino). */
export type StoreLog = { [level in 'info' | 'warn' | 'error']: (fields: object, message: string) => void };

export const SILENT: StoreLog = { info: () => {}, warn: () => {}, error: () => {} };

export interface ModelStoreOptions {
  /** The repository's git directory: models go to <gitdir>/botver/models/. */
  gitdir: string;
  logger: StoreLog;
  /** Models kept in memory. Default 8. */
  capacity?: number;
  /** Called when a model is trained (or fails). */
  onSettled?: (commit: string) => void;
  /** Train in this thread (no worker, so neither limit below applies): for tools that train one model and exit. */
  inline?: boolean;
  /** A training running longer is stopped and recorded as failed. Default 30 minutes. */
  trainingTimeoutMs?: number;
  /** The training worker's heap limit, MB. Default 2048. */
  trainingMemoryMb?: number;
}

/** A model file of the disk cache that could not be used: the model is kept in memory instead. */
export interface CacheFault {
  commit: string;
  /** The file, relative to the git directory (never absolute: /readyz shows it). */
  file: string;
  operation: 'read' | 'write';
  /** What failed, with paths made relative to the git directory. */
  error: string;
}

/**
 * A commit's model as the store knows it. `trained` settles once training ends: it resolves
 * when the model is stored (on disk, or as `json` when the disk cache could not be written)
 * and rejects with the training error. Waiting for a model is awaiting it, never polling.
 */
interface ModelEntry {
  state: 'training' | 'stored' | 'failed';
  trained: Promise<void>;
  /** The model's JSON when it could not be written to the disk cache. */
  json?: string;
  error?: string;
}

const STORED: Promise<void> = Promise.resolve();

export class ModelStore {
  /** Every commit asked for, one entry each, from the first `ensure` on. */
  private readonly models = new Map<string, ModelEntry>();
  /** Models in memory: loaded on first use, at most `capacity`, the least recently used dropped. */
  private readonly loaded: LRUCache<string, Promise<NluModel>>;
  /** Commits whose cache file could not be used (each logged once); their models live in memory. */
  private readonly faults = new Map<string, CacheFault>();
  private readonly dir: string;
  private readonly runner: TrainingRunner;
  private closed = false;

  constructor(private readonly options: ModelStoreOptions) {
    this.dir = join(options.gitdir, 'botver', 'models');
    this.loaded = new LRUCache({ max: this.capacity });
    this.runner = new TrainingRunner({
      timeoutMs: options.trainingTimeoutMs ?? DEFAULT_TRAINING_TIMEOUT_MS,
      memoryMb: options.trainingMemoryMb ?? DEFAULT_TRAINING_MEMORY_MB,
    });
  }

  private get capacity(): number {
    return this.options.capacity ?? 8;
  }

  /** Whether the commit's model is trained (it loads in milliseconds on first use). */
  has(commit: string): boolean {
    return this.models.get(commit)?.state === 'stored';
  }

  /** Commits whose model is being trained. */
  get training(): string[] {
    return [...this.models].filter(([, e]) => e.state === 'training').map(([commit]) => commit);
  }

  failure(commit: string): string | null {
    const entry = this.models.get(commit);
    return entry?.state === 'failed' ? (entry.error ?? 'training failed') : null;
  }

  /** Model files that could not be read or written, by commit: their models are kept in memory. */
  cacheFault(commit: string): CacheFault | null {
    return this.faults.get(commit) ?? null;
  }

  /** Resolves once no model is training (trainings started meanwhile included). */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.models.values()].filter((e) => e.state === 'training').map((e) => e.trained);
      if (running.length === 0 || this.closed) return;
      await Promise.allSettled(running);
    }
  }

  /** Starts training the commit's model unless it is in the disk cache, trained or on its way. */
  ensure(commit: string, input: () => TrainingInput): void {
    if (this.models.has(commit) || this.closed) return;
    if (!this.faults.has(commit) && this.cached(commit)) {
      this.models.set(commit, { state: 'stored', trained: STORED });
      return;
    }
    const entry: ModelEntry = { state: 'training', trained: STORED };
    entry.trained = this.train(commit, input).then(
      (json) => {
        if (this.closed) throw new Error('model store closed');
        entry.state = 'stored';
        if (json !== undefined) entry.json = json;
        this.settled(commit);
      },
      (err: unknown) => {
        if (this.closed) throw new Error('model store closed'); // shutting down, not a failure
        const error = err instanceof Error ? err.message : String(err);
        this.options.logger.error({ commit, error }, `training the NLU model of ${commit.slice(0, 12)} failed`);
        entry.state = 'failed';
        entry.error = error;
        this.settled(commit);
        throw new Error(error);
      },
    );
    entry.trained.catch(() => {}); // awaited by get() and idle(); a failure is kept in the entry
    this.models.set(commit, entry);
  }

  /** The trained model of `commit`, loaded into memory if it is not there yet. */
  load(commit: string): Promise<NluModel> {
    let model = this.loaded.get(commit);
    if (!model) {
      const entry = this.models.get(commit);
      if (entry?.state !== 'stored')
        return Promise.reject(new Error(`the NLU model of ${commit.slice(0, 12)} is not trained`));
      const reading = this.read(commit, entry.json);
      reading.catch(() => this.loaded.peek(commit) === reading && this.loaded.delete(commit));
      this.loaded.set(commit, reading);
      model = reading;
    }
    return model;
  }

  /** Resolves once the commit's model is trained and loaded (training it if needed); throws if training fails. */
  async get(commit: string, input: () => TrainingInput): Promise<NluModel> {
    for (let attempt = 1; ; attempt++) {
      this.ensure(commit, input);
      if (this.closed) throw new Error('model store closed');
      await this.models.get(commit)?.trained;
      try {
        return await this.load(commit);
      } catch (err) {
        // A cache file that did not load was dropped by read() (and its entry with it): the
        // second attempt trains in memory.
        if (attempt > 1 || this.models.has(commit)) throw err;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.runner.close();
  }

  private file(commit: string): string {
    return join(this.dir, `${commit}.v${MODEL_FORMAT}.json`);
  }

  /**
   * Whether the disk cache holds the commit's model: a regular file at its path. Anything else
   * there (a folder, a path through a file) is a cache fault, and the model is trained.
   */
  private cached(commit: string): boolean {
    try {
      if (!lstatSync(this.file(commit)).isFile()) {
        this.fault(commit, 'read', new Error('it is not a regular file'));
        return false;
      }
      // Another user's file (mode 600) is found now, not by the first request that needs it.
      accessSync(this.file(commit), constants.R_OK);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.fault(commit, 'read', err);
    }
    return false;
  }

  /** Records (and logs, once per commit) a model file that cannot be used. */
  private fault(commit: string, operation: 'read' | 'write', err: unknown): void {
    if (this.faults.has(commit)) return;
    const file = relative(this.options.gitdir, this.file(commit));
    const message = err instanceof Error ? err.message : String(err);
    const error = message.split(`${this.options.gitdir}/`).join('').split(this.options.gitdir).join('.');
    this.faults.set(commit, { commit, file, operation, error });
    // Messages of earlier botvers, which log watchers may match on; the fields say which file.
    this.options.logger.warn(
      { commit, file, gitdir: this.options.gitdir, error },
      operation === 'read' ? 'cached NLU model unreadable; training again' : 'cannot cache the NLU model on disk',
    );
  }

  /** A training ended (the entry says how): bounds the models kept as JSON, tells the owner. */
  private settled(commit: string): void {
    // Models kept as JSON (the disk cache could not be written) are bounded like loaded ones:
    // the oldest is dropped and trained again if it is asked for again.
    const inMemory = [...this.models].filter(([, e]) => e.state === 'stored' && e.json !== undefined);
    for (const [old] of inMemory.slice(0, Math.max(0, inMemory.length - this.capacity))) this.models.delete(old);
    this.options.onSettled?.(commit);
  }

  /**
   * Loads a stored model. A cache file that does not load (unreadable, or not a model) is a
   * cache fault: its entry is dropped so that the next ensure() trains in memory, and a file
   * that does not parse is deleted (a later training may then write a good one).
   */
  private async read(commit: string, json?: string): Promise<NluModel> {
    let text = json;
    try {
      text ??= await fsp.readFile(this.file(commit), 'utf8');
    } catch (err) {
      this.fault(commit, 'read', err);
      this.models.delete(commit);
      throw err;
    }
    try {
      return await NluModel.load(text);
    } catch (err) {
      if (json !== undefined) throw err; // a model just trained: not the cache's fault
      this.fault(commit, 'read', new Error(`it is not a model of this botver: ${(err as Error).message}`));
      await fsp.rm(this.file(commit), { force: true }).catch(() => undefined);
      this.models.delete(commit);
      throw err;
    }
  }

  /** Trains in this thread, under the same size check as the worker (training-size.ts). */
  private trainInline(input: TrainingInput): Promise<string> {
    const oversized = oversizedTraining(input, this.options.trainingMemoryMb ?? DEFAULT_TRAINING_MEMORY_MB);
    if (oversized) throw new Error(oversized);
    return trainModel(input);
  }

  /** Trains the model and writes it to the disk cache; returns its JSON when that could not be written. */
  private async train(commit: string, input: () => TrainingInput): Promise<string | undefined> {
    const started = performance.now();
    const json = this.options.inline ? await this.trainInline(input()) : await this.runner.train(input());
    this.options.logger.info(
      { commit, ms: Math.round(performance.now() - started) },
      `trained the NLU model of ${commit.slice(0, 12)}`,
    );
    // A path known to be unusable is not tried again (a folder there would fail every write).
    if (this.faults.get(commit)?.error.startsWith('it is not a regular file')) return json;
    try {
      await fsp.mkdir(this.dir, { recursive: true });
      await writeFileAtomic(this.file(commit), json);
      this.faults.delete(commit); // a file that did not parse was replaced by a good one
      return undefined;
    } catch (err) {
      // A read-only repository still serves (the model stays in memory); it retrains after a restart.
      this.fault(commit, 'write', err);
      return json;
    }
  }
}
