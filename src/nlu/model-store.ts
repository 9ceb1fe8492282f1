import { Worker } from 'node:worker_threads';
import { existsSync, promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LRUCache } from 'lru-cache';
import { writeFileAtomic } from '../git/atomic-fs.js';
import { MODEL_FORMAT, NluModel, trainModel, type TrainingInput } from './engine.js';

// NLU models by commit: trained once per commit in a worker thread and kept on disk in
// <gitdir>/botver/models/, so neither a restart nor a return to an old commit retrains; loaded
// into memory on first use (milliseconds), the least recently used dropped past `capacity`, so
// memory follows the versions actually asked, not every version served. `ensure` starts the
// training, `has` says it is done, `load` gives the model, `get` waits for it; meanwhile the
// resolver answers with the previous one (nlu-service.ts).

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
  /** Train in this thread (no worker): for tools that train one model and exit. */
  inline?: boolean;
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
  private readonly dir: string;
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (result: { model?: string; error?: string }) => void>();
  private closed = false;

  constructor(private readonly options: ModelStoreOptions) {
    this.dir = join(options.gitdir, 'botver', 'models');
    this.loaded = new LRUCache({ max: this.capacity });
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
    if (existsSync(this.file(commit))) {
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
        // An unreadable cache file was dropped by read() (and its entry with it): train once more.
        if (attempt > 1 || this.models.has(commit)) throw err;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const resolve of this.pending.values()) resolve({ error: 'model store closed' });
    this.pending.clear();
    await this.worker?.terminate();
    this.worker = null;
  }

  private file(commit: string): string {
    return join(this.dir, `${commit}.v${MODEL_FORMAT}.json`);
  }

  /** A training ended (the entry says how): bounds the models kept as JSON, tells the owner. */
  private settled(commit: string): void {
    // Models kept as JSON (the disk cache could not be written) are bounded like loaded ones:
    // the oldest is dropped and trained again if it is asked for again.
    const inMemory = [...this.models].filter(([, e]) => e.state === 'stored' && e.json !== undefined);
    for (const [old] of inMemory.slice(0, Math.max(0, inMemory.length - this.capacity))) this.models.delete(old);
    this.options.onSettled?.(commit);
  }

  /** Loads a stored model; a cache file that does not load is deleted and the model trained again. */
  private async read(commit: string, json?: string): Promise<NluModel> {
    const text = json ?? (await fsp.readFile(this.file(commit), 'utf8'));
    try {
      return await NluModel.load(text);
    } catch (err) {
      this.options.logger.warn(
        { commit, error: (err as Error).message },
        'cached NLU model unreadable; training again',
      );
      await fsp.rm(this.file(commit), { force: true });
      this.models.delete(commit);
      throw err;
    }
  }

  /** Trains the model and writes it to the disk cache; returns its JSON when that could not be written. */
  private async train(commit: string, input: () => TrainingInput): Promise<string | undefined> {
    const started = performance.now();
    const json = this.options.inline ? await trainModel(input()) : await this.trainInWorker(input());
    this.options.logger.info(
      { commit, ms: Math.round(performance.now() - started) },
      `trained the NLU model of ${commit.slice(0, 12)}`,
    );
    try {
      await fsp.mkdir(this.dir, { recursive: true });
      await writeFileAtomic(this.file(commit), json);
      return undefined;
    } catch (err) {
      // A read-only repository still serves (the model stays in memory); it retrains after a restart.
      this.options.logger.warn(
        { file: this.file(commit), error: (err as Error).message },
        'cannot cache the NLU model on disk',
      );
      return json;
    }
  }

  private trainInWorker(input: TrainingInput): Promise<string> {
    if (!this.worker) {
      // A small young generation keeps training's peak memory down; the worker is ended once
      // nothing is left to train (see below), so its heap is not kept for the server's life.
      this.worker = new Worker(workerFile(), { resourceLimits: { maxYoungGenerationSizeMb: 8 } });
      this.worker.unref();
      this.worker.on('message', ({ id, model, error }: { id: number; model?: string; error?: string }) => {
        this.pending.get(id)?.({ model, error });
        this.pending.delete(id);
        if (this.pending.size === 0) {
          void this.worker?.terminate();
          this.worker = null;
        }
      });
      this.worker.on('error', (err) => {
        for (const resolve of this.pending.values()) resolve({ error: `training worker failed: ${err.message}` });
        this.pending.clear();
        this.worker = null;
      });
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, ({ model, error }) => (model !== undefined ? resolve(model) : reject(new Error(error))));
      this.worker!.postMessage({ id, input });
    });
  }
}

/**
 * dist/nlu/train-worker.js, found from wherever this module runs: dist/nlu/ (the library),
 * dist/bin/ (the bundled CLI) or src/nlu/ (tests, after `npm run build`).
 */
function workerFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'nlu', 'train-worker.js');
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find dist/nlu/train-worker.js (run npm run build)');
    dir = up;
  }
}
