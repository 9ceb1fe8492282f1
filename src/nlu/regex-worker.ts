import { parentPort } from 'node:worker_threads';
import { compileEntityRegex, type EntityRegex } from '../content/regex.js';
import { WORKER_STEPS } from './regex-runner.js';

// Entity regex searches too long for the event loop (regex-runner.ts): one job in
// ({id, text, regex, flags, from}), its matches out, limited to WORKER_STEPS (a search cut
// there keeps the matches it found).

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
  regex: string;
  flags: string;
  from: number;
}

parentPort!.on('message', ({ id, text, regex, flags, from }: Job) => {
  try {
    parentPort!.postMessage({ id, matches: regexOf(regex, flags).matchAll(text, from, WORKER_STEPS).values });
  } catch (err) {
    parentPort!.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
