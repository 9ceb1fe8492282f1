import { parentPort } from 'node:worker_threads';
import { compileEntityRegex, type EntityRegex } from '../content/regex.js';
import { WORKER_STEPS } from './regex-runner.js';

// Entity regex searches too long for the event loop (regex-runner.ts): one job in
// ({id, text, searches: [{regex, flags, from}]}), the matches of each out, in order, the job's
// searches together limited to WORKER_STEPS (a search cut there keeps the matches it found).

const compiled = new Map<string, EntityRegex>();

function regexOf(regex: string, flags: string): EntityRegex {
  const key = `${flags}/${regex}`;
  let re = compiled.get(key);
  if (!re) {
    if (compiled.size >= 1000) compiled.clear(); // patterns of models no longer served
    re = compileEntityRegex(regex, flags);
    compiled.set(key, re);
  }
  return re;
}

interface Job {
  id: number;
  text: string;
  searches: { regex: string; flags: string; from: number }[];
}

parentPort!.on('message', ({ id, text, searches }: Job) => {
  try {
    let budget = WORKER_STEPS;
    const matches = searches.map(({ regex, flags, from }) => {
      const { values, steps } = regexOf(regex, flags).matchAll(text, from, budget);
      budget -= steps;
      return values;
    });
    parentPort!.postMessage({ id, matches });
  } catch (err) {
    parentPort!.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
