import { Worker } from 'node:worker_threads';
import { existsSync, promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../git/atomic-fs.js';
import { MODEL_FORMAT, NluModel, trainModel, type TrainingInput } from './engine.js';

// NLU models by commit: trained once per commit in a worker thread, kept in memory (least
// recently used out past `capacity`) and on disk in <gitdir>/botver/models/, so neither a
// restart nor a return to an old commit retrains. A commit's model is asked for with `ensure`
// and answered by `ready` once trained; meanwhile callers serve the previous good model.

/** The part of a pino logger the store uses (the CLI passes a silent one without loading pino). */
export type StoreLog = { [level in 'info' | 'warn' | 'error']: (fields: object, message: string) => void };

export const SILENT: StoreLog = { info: () => {}, warn: () => {}, error: () => {} };

export interface ModelStoreOptions {
  /** The repository's git directory: models go to <gitdir>/botver/models/. */
  gitdir: string;
  logger: StoreLog;
  /** Models kept in memory. Default 8. */
  capacity?: number;
  /** Called when a model becomes ready (or fails). */
  onSettled?: (commit: string) => void;
  /** Train in this thread (no worker): for tools that train one model and exit. */
  inline?: boolean;
}

type Entry = { state: 'training' } | { state: 'ready'; model: NluModel } | { state: 'failed'; error: string };

export class ModelStore {
  private readonly entries = new Map<string, Entry>();
  private readonly dir: string;
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (result: { model?: string; error?: string }) => void>();
  private closed = false;

  constructor(private readonly options: ModelStoreOptions) {
    this.dir = join(options.gitdir, 'botver', 'models');
  }

  /** The commit's model when it is ready, else null (and training, or loading from disk, starts). */
  ready(commit: string): NluModel | null {
    const entry = this.entries.get(commit);
    if (entry?.state === 'ready') {
      this.entries.delete(commit); // most recently used last
      this.entries.set(commit, entry);
      return entry.model;
    }
    return null;
  }

  /** Commits whose model is being trained or loaded. */
  get training(): string[] {
    return [...this.entries].filter(([, e]) => e.state === 'training').map(([c]) => c);
  }

  failure(commit: string): string | null {
    const entry = this.entries.get(commit);
    return entry?.state === 'failed' ? entry.error : null;
  }

  /** Starts getting the commit's model (disk, else training) unless it is there or on its way. */
  ensure(commit: string, input: () => TrainingInput): void {
    if (this.entries.has(commit) || this.closed) return;
    this.entries.set(commit, { state: 'training' });
    void this.obtain(commit, input).then(
      (model) => this.settle(commit, { state: 'ready', model }),
      (err: unknown) => {
        const error = err instanceof Error ? err.message : String(err);
        this.options.logger.error({ commit, error }, `training the NLU model of ${commit.slice(0, 12)} failed`);
        this.settle(commit, { state: 'failed', error });
      },
    );
  }

  /** Resolves once the commit's model is ready (training it if needed); throws if training fails. */
  async get(commit: string, input: () => TrainingInput): Promise<NluModel> {
    this.ensure(commit, input);
    for (;;) {
      const entry = this.entries.get(commit);
      if (entry?.state === 'ready') return entry.model;
      if (entry?.state === 'failed') throw new Error(entry.error);
      if (!entry) this.ensure(commit, input); // evicted meanwhile
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const resolve of this.pending.values()) resolve({ error: 'model store closed' });
    this.pending.clear();
    await this.worker?.terminate();
    this.worker = null;
  }

  private settle(commit: string, entry: Entry): void {
    if (this.closed) return;
    this.entries.set(commit, entry);
    const capacity = this.options.capacity ?? 8;
    for (const [key, e] of this.entries) {
      if (this.entries.size <= capacity) break;
      if (e.state !== 'training' && key !== commit) this.entries.delete(key);
    }
    this.options.onSettled?.(commit);
  }

  private async obtain(commit: string, input: () => TrainingInput): Promise<NluModel> {
    const file = join(this.dir, `${commit}.v${MODEL_FORMAT}.json`);
    const cached = await fsp.readFile(file, 'utf8').catch(() => null);
    if (cached !== null) {
      try {
        return await NluModel.load(cached);
      } catch (err) {
        this.options.logger.warn({ commit, file, error: (err as Error).message }, 'cached NLU model unreadable; training again');
      }
    }
    const started = performance.now();
    const json = this.options.inline ? await trainModel(input()) : await this.trainInWorker(input());
    const model = await NluModel.load(json);
    this.options.logger.info({ commit, ms: Math.round(performance.now() - started) }, `trained the NLU model of ${commit.slice(0, 12)}`);
    try {
      await fsp.mkdir(this.dir, { recursive: true });
      await writeFileAtomic(file, json);
    } catch (err) {
      // A read-only repository still serves; it retrains after a restart.
      this.options.logger.warn({ file, error: (err as Error).message }, 'cannot cache the NLU model on disk');
    }
    return model;
  }

  private trainInWorker(input: TrainingInput): Promise<string> {
    if (!this.worker) {
      this.worker = new Worker(workerFile());
      this.worker.unref();
      this.worker.on('message', ({ id, model, error }: { id: number; model?: string; error?: string }) => {
        this.pending.get(id)?.({ model, error });
        this.pending.delete(id);
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
