import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TrainingInput } from './engine.js';

// Trainings run one at a time in a worker thread, each under two limits, so that no version
// can keep a model "training" for ever or take the server down with it:
// - time: past `timeoutMs` the worker is terminated (which stops even a synchronous loop) and
//   the training fails with a message naming the limit;
// - memory: the worker's heap is capped (`resourceLimits.maxOldGenerationSizeMb`); a training
//   that needs more fails with ERR_WORKER_OUT_OF_MEMORY in the worker, not in the server.
// Either way the next training gets a fresh worker. The worker ends when nothing is queued, so
// its heap is not kept for the server's life.

/**
 * How long one training may take before it is stopped and recorded as failed (30 minutes): a
 * version at the default expression limit (50,000) takes minutes of CPU, and the server's
 * requests share the machine.
 */
export const DEFAULT_TRAINING_TIMEOUT_MS = 30 * 60 * 1000;
/**
 * The training worker's heap limit in MB. Measured: a version at the default expression limit
 * (50,000 expressions) trains within it; a larger one fails cleanly.
 */
export const DEFAULT_TRAINING_MEMORY_MB = 2048;

export interface TrainingLimits {
  timeoutMs: number;
  memoryMb: number;
}

interface Job {
  input: TrainingInput;
  resolve: (model: string) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

export class TrainingRunner {
  private worker: Worker | null = null;
  private readonly queue: Job[] = [];
  private current: Job | null = null;
  private closed = false;

  constructor(private readonly limits: TrainingLimits) {}

  /** Trains in the worker; resolves with the model's JSON, rejects with why it failed. */
  train(input: TrainingInput): Promise<string> {
    if (this.closed) return Promise.reject(new Error('model store closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.next();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const jobs = [...(this.current ? [this.current] : []), ...this.queue.splice(0)];
    this.current = null;
    for (const job of jobs) {
      clearTimeout(job.timer);
      job.reject(new Error('model store closed'));
    }
    const worker = this.worker;
    this.worker = null;
    await worker?.terminate();
  }

  private next(): void {
    if (this.current || this.closed) return;
    const job = this.queue.shift();
    if (!job) {
      const idle = this.worker;
      this.worker = null;
      void idle?.terminate();
      return;
    }
    this.current = job;
    let worker: Worker;
    try {
      worker = this.worker ?? this.spawn();
    } catch (err) {
      this.settle({ error: `cannot start the training worker: ${(err as Error).message}` });
      return;
    }
    this.worker = worker;
    job.timer = setTimeout(
      () =>
        this.fail(
          worker,
          `training took longer than ${this.limits.timeoutMs} ms (the training time limit) and was stopped`,
        ),
      this.limits.timeoutMs,
    );
    job.timer.unref();
    worker.postMessage({ input: job.input, memoryMb: this.limits.memoryMb });
  }

  private spawn(): Worker {
    // A small young generation keeps training's peak memory down; the old generation is the
    // memory bound of one training.
    const worker = new Worker(workerFile(), {
      resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: this.limits.memoryMb },
    });
    worker.unref();
    worker.on('message', ({ model, error }: { model?: string; error?: string }) => {
      if (worker === this.worker) this.settle(model !== undefined ? { model } : { error: error ?? 'training failed' });
    });
    worker.on('error', (err: NodeJS.ErrnoException) =>
      this.fail(
        worker,
        err.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `training needed more than ${this.limits.memoryMb} MB of memory (the training memory limit) and was stopped`
          : `the training worker failed: ${err.message}`,
      ),
    );
    worker.on('exit', (code) => this.fail(worker, `the training worker exited with code ${code}`));
    return worker;
  }

  /** The worker is beyond use: the training in it fails, the next one gets a new worker. */
  private fail(worker: Worker, error: string): void {
    if (worker !== this.worker) return; // a late event of a worker already replaced
    this.worker = null;
    void worker.terminate();
    this.settle({ error });
  }

  private settle(result: { model?: string; error?: string }): void {
    const job = this.current;
    this.current = null;
    if (job) {
      clearTimeout(job.timer);
      if (result.model !== undefined) job.resolve(result.model);
      else job.reject(new Error(result.error));
    }
    this.next();
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
