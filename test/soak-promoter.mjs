#!/usr/bin/env node
// The promoter of test/soak.test.ts, run as its own process against the built library
// (dist/, `npm run build` first): while the test's clients hammer the resolver it
//   - flips `staging` between v1 and v2 every TICK_MS (a promotion every tick),
//   - every 3rd tick flips `canary` between v2 pinned to its current head and v1 unpinned,
//   - every 5th tick commits a new training/intents/soak.yaml onto v2 (its head moves).
// Each change is printed as one JSON line on stdout. It stops, after finishing the change in
// progress, on SIGTERM, when its stdin closes (the test died) or after MAX_MS, and exits 0;
// any failed change is printed on stderr and makes it exit 1.
//
// Usage: node test/soak-promoter.mjs REPO [TICK_MS]

import { commitFiles, openBotRepo, setEnvironment } from '../dist/index.js';

const [repoDir, tickArg] = process.argv.slice(2);
if (!repoDir) {
  process.stderr.write('usage: node test/soak-promoter.mjs REPO [TICK_MS]\n');
  process.exit(2);
}
const TICK_MS = Number(tickArg ?? 100);
const MAX_MS = 120_000; // never outlives a stuck test by much

let stopping = false;
const stop = () => void (stopping = true);
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdin.on('end', stop).on('error', stop).resume();
setTimeout(stop, MAX_MS).unref();

const emit = (event) => process.stdout.write(`${JSON.stringify({ t: Date.now(), ...event })}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const repo = await openBotRepo({ repo: repoDir });
let failures = 0;
const started = performance.now();
emit({ kind: 'ready' });

for (let tick = 1; !stopping; tick++) {
  try {
    const staging = tick % 2 ? 'v1' : 'v2';
    const s = await setEnvironment(repo, 'staging', staging);
    emit({ kind: 'promote', environment: 'staging', version: staging, manifestCommit: s.manifestCommit });
    if (tick % 3 === 0) {
      const pin = (tick / 3) % 2 === 1;
      const c = await setEnvironment(repo, 'canary', pin ? 'v2' : 'v1', { pin });
      emit({
        kind: 'promote',
        environment: 'canary',
        version: c.to.version,
        pinned: c.to.commit ?? null,
        manifestCommit: c.manifestCommit,
      });
    }
    if (tick % 5 === 0) {
      const text = `slug: soak\nexpressions:\n  - soak round ${tick}\n`;
      const v = await commitFiles(repo, 'v2', { 'training/intents/soak.yaml': text }, `soak round ${tick}`);
      emit({ kind: 'commit', version: 'v2', commit: v.commit, marker: `soak round ${tick}` });
    }
  } catch (err) {
    failures++;
    process.stderr.write(`tick ${tick}: ${/** @type {Error} */ (err)?.stack ?? err}\n`);
  }
  // A fixed cadence: the next tick is due TICK_MS after the previous one was due.
  const due = started + (tick + 1) * TICK_MS;
  await sleep(Math.max(0, due - performance.now()));
}
emit({ kind: 'stopped', failures });
process.exit(failures ? 1 : 0);
