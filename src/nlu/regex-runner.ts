import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { compileEntityRegex, type EntityRegex } from '../content/regex.js';

// Regex entities of one model, matched so that no message holds the event loop. RE2 makes one
// search linear in the text, but finding every match is a search per match, and a search may
// read on to the end of the text (`(?:a{1,30})+b|a` on 2,000 a's: 2,000 searches, 5.5 s). So
// the work is counted in steps, each search at its worst case (program size x characters left,
// content/regex.ts): a message's first INLINE_STEPS are searched on the event loop (a few
// milliseconds at worst, whatever the machine's load: counted, not timed), the rest in a worker
// thread, one job per regex, up to WORKER_STEPS or WORKER_TIMEOUT_MS, whichever comes first;
// a regex cut by the steps keeps the matches found, one cut by the time gives none. The same
// engine searches from the same positions inline and in the worker, so where a match is found
// does not change it. The count is a worst case: real patterns take far less (285 matches of
// `#?[A-Z]{2}\d{4}` in 2,000 characters: 2.9 million steps counted, a few milliseconds), so
// only patterns whose searches really read on to the end meet the time limit.

/** Steps of regex search a message may take on the event loop (at worst ~3 ms, bench/nlu-worst-case.js). */
export const INLINE_STEPS = 100_000;
/** Steps each regex may take in the worker for one message (2,000 one-letter matches in 2,000 characters: 6 million). */
export const WORKER_STEPS = 50_000_000;
/** Time one regex's searches may take in the worker (its start included); then it is terminated. */
export const WORKER_TIMEOUT_MS = 2_000;

export interface RegexRule {
  entity: string;
  regex: string;
  flags: string;
}

export class RegexEntities {
  private readonly compiled: { rule: RegexRule; pattern: EntityRegex }[];

  /** Throws on a pattern `botver validate` refuses (validated content never has one). */
  constructor(rules: readonly RegexRule[]) {
    this.compiled = rules.map((rule) => ({ rule, pattern: compileEntityRegex(rule.regex, rule.flags) }));
  }

  /** Every rule's matches, rule by rule in order, each left to right. */
  async match(text: string): Promise<{ entity: string; value: string }[]> {
    if (!this.compiled.length) return [];
    let budget = INLINE_STEPS;
    const found: string[][] = [];
    const rest: (RegexRule & { index: number; from: number })[] = [];
    this.compiled.forEach(({ rule, pattern }, index) => {
      const { values, resume, steps } = pattern.matchAll(text, 0, budget);
      found[index] = values;
      budget -= steps;
      if (resume !== null) rest.push({ ...rule, index, from: resume });
    });
    // One worker job per search, so that a run-away pattern costs only its own matches.
    const more = await Promise.all(rest.map((search) => runInWorker(text, search)));
    rest.forEach(({ index }, k) => {
      found[index]!.push(...(more[k] ?? []));
    });
    return this.compiled.flatMap(({ rule }, index) => found[index]!.map((value) => ({ entity: rule.entity, value })));
  }
}

interface Search {
  regex: string;
  flags: string;
  from: number;
}

interface Job {
  id: number;
  text: string;
  search: Search;
  resolve: (matches: string[] | null) => void;
  timer?: NodeJS.Timeout;
}

// One worker for the process, started on first need; jobs run one at a time, in order.
let worker: Worker | null = null;
const queue: Job[] = [];
let nextId = 1;

/** The search's matches (all, or those within WORKER_STEPS), or null past WORKER_TIMEOUT_MS or if the worker failed. */
function runInWorker(text: string, search: Search): Promise<string[] | null> {
  return new Promise((resolve) => {
    queue.push({ id: nextId++, text, search, resolve });
    if (queue.length === 1) start();
  });
}

function start(): void {
  const job = queue[0];
  if (!job) {
    worker?.unref(); // idle: the process may exit
    return;
  }
  if (!worker) {
    let w: Worker;
    try {
      w = new Worker(workerFile());
    } catch {
      // No worker to be had (dist/ missing): the searches give nothing rather than block the loop.
      queue.shift();
      job.resolve(null);
      start();
      return;
    }
    w.on('message', (answer: { id: number; matches?: string[] }) => finish(answer.id, answer.matches ?? null));
    // A worker that dies (it should not) fails the job in hand; the next job gets a new worker.
    w.on('error', () => {});
    w.on('exit', () => {
      if (worker === w) {
        worker = null;
        if (queue[0]) finish(queue[0].id, null);
      }
    });
    worker = w;
  }
  worker.ref(); // a job in hand keeps the process (a `botver test` run) alive
  job.timer = setTimeout(() => {
    const w = worker;
    worker = null;
    finish(job.id, null);
    void w?.terminate();
  }, WORKER_TIMEOUT_MS);
  const { regex, flags, from } = job.search;
  worker.postMessage({ id: job.id, text: job.text, regex, flags, from });
}

function finish(id: number, matches: string[] | null): void {
  const job = queue[0];
  if (!job || job.id !== id) return;
  clearTimeout(job.timer);
  queue.shift();
  job.resolve(matches);
  start();
}

/**
 * dist/nlu/regex-worker.js, found from wherever this module runs: dist/nlu/ (the library),
 * dist/bin/ (the bundled CLI) or src/nlu/ (tests, after `npm run build`).
 */
function workerFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'nlu', 'regex-worker.js');
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find dist/nlu/regex-worker.js (run npm run build)');
    dir = up;
  }
}
