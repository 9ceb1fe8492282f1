#!/usr/bin/env node
// Runs every bench/*.bench.js in sequence (alphabetical), forwarding their output and
// any arguments given here (e.g. `node bench/run.js --quick`). Exits 1 if any of them failed.
// Run only some: BENCH_FILTER=core node bench/run.js

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const filter = process.env.BENCH_FILTER;
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.js') && (!filter || f.includes(filter)))
  .sort();

if (files.length === 0) {
  console.error(`no bench/*.bench.js files${filter ? ` matching "${filter}"` : ''}`);
  process.exit(1);
}

const summary = [];
for (const f of files) {
  console.log(`\n=== ${f} ===\n`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(dir, f), ...process.argv.slice(2)], { stdio: 'inherit' });
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  const ok = r.status === 0;
  summary.push({ f, ok, s, why: r.error?.message ?? (r.signal ? `signal ${r.signal}` : `exit ${r.status}`) });
}

console.log('\n=== summary ===');
for (const { f, ok, s, why } of summary)
  console.log(`${ok ? 'ok    ' : 'FAILED'} ${f} (${s} s)${ok ? '' : ` — ${why}`}`);
process.exit(summary.every((x) => x.ok) ? 0 : 1);
