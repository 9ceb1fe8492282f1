#!/usr/bin/env node
// Benchmark of botver's versioning core on a large repository (bench/fixture.js):
// 5 versions x 200 intents x 30 expressions, 5,000 commits, 500 staging promotions.
//
// Rows, side by side in one run, each on its own copy of the cached fixture:
//   node -e 0                         Node's start-up floor
//   native git promotion              the same promotion commit made with plumbing (bash -c)
//   botver env set staging v4|v2      a promotion through the CLI (alternating: always a real change)
//   botver validate v1                one version
//   botver validate                   the manifest and every version
//   botver history staging            500 changes among 5,000 commits
//
// Usage: node bench/core.bench.js [--quick] [--runs N] [--keep] [--enforce-targets]
//   --quick            fewer runs (smoke test)
//   --runs N           measured runs per row (warm-up runs stay as they are)
//   --keep             keep the temporary copies and print where they are
//   --enforce-targets  exit 1 when a target is missed (by default targets are only reported)
// Environment: BOTVER_BIN=path/to/cli.js benchmarks that entry point instead of bin/botver.js.
// Prints a markdown table and writes bench/results/core.json. Exits 1 if any botver
// command fails or does not do what it should (the failure is printed in full).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyLargeRepo, ensureLargeRepo, manifestEnvVersion } from './fixture.js';
import {
  BENCH_ENV,
  BenchError,
  benchArgs,
  finishReport,
  fmtMb,
  fmtMs,
  hasGnuTime,
  hostInfo,
  measure,
  table,
  versionOf,
} from './measure.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
// BOTVER_BIN: benchmark another entry point (e.g. an installed build) instead of bin/botver.js
const BOTVER = process.env.BOTVER_BIN ? resolve(process.env.BOTVER_BIN) : join(ROOT, 'bin', 'botver.js');
const RESULTS = join(BENCH_DIR, 'results', 'core.json');
const NODE = process.execPath;

const { flag, opt } = benchArgs();
const QUICK = flag('--quick');
const RUNS = opt('--runs') ? Math.max(1, Number(opt('--runs'))) : undefined;
const KEEP = flag('--keep');
const ENFORCE = flag('--enforce-targets');

const MB = 1024; // KiB per MiB
const TARGETS = {
  envSetMs: 250,
  validateOneMs: 1000,
  peakRssKb: 150 * MB,
};

// A fixed, clean identity and git environment for every row (same for git and botver).
const ENV = {
  ...BENCH_ENV,
};

const runs = (n) => RUNS ?? (QUICK ? Math.max(3, Math.ceil(n / 4)) : n);
const warm = (n) => (QUICK ? Math.min(n, 1) : n);

// ---------------------------------------------------------------------------
// repository inspection (untimed)

function git(repo, ...args) {
  const r = spawnSync('git', ['-C', repo, ...args], { encoding: 'utf8', env: { ...process.env, ...ENV } });
  if (r.status !== 0) throw new BenchError(`git -C ${repo} ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout;
}
const head = (repo, ref = 'refs/heads/main') => git(repo, 'rev-parse', '--verify', `${ref}^{commit}`).trim();

function changedLines(a, b) {
  const x = a.split('\n');
  const y = b.split('\n');
  if (x.length !== y.length) return Infinity;
  return x.filter((l, i) => l !== y[i]).length;
}

/**
 * Hooks checking that a promotion really happened: main moved forward by one commit
 * whose parent is the old main, and its manifest links staging to the target.
 */
function promotionChecks(repo, target, label) {
  let before;
  let manifestBefore;
  const notes = new Set();
  return {
    notes,
    before() {
      before = head(repo);
      manifestBefore = git(repo, 'show', 'refs/heads/main:environments.yaml');
    },
    after(i) {
      const want = target(i);
      const now = head(repo);
      if (now === before) throw new BenchError(`${label}: refs/heads/main did not move (staging -> ${want})`);
      const parent = git(repo, 'rev-parse', `${now}^1`).trim();
      if (parent !== before) throw new BenchError(`${label}: new main ${now} is not a child of the old main ${before}`);
      const manifest = git(repo, 'show', 'refs/heads/main:environments.yaml');
      const got = manifestEnvVersion(manifest, 'staging');
      if (got !== want) {
        const envs = manifest
          .slice(Math.max(0, manifest.search(/^environments\s*:/m)))
          .split('\n')
          .slice(0, 20)
          .join('\n');
        throw new BenchError(
          `${label}: after promoting, main:environments.yaml links staging to ${got ?? '(nothing)'}, expected ${want}\n${envs}`,
        );
      }
      const n = changedLines(manifestBefore, manifest);
      if (n !== 1)
        notes.add(
          `manifest rewritten beyond the staging line (${n === Infinity ? 'line count changed' : `${n} lines changed`})`,
        );
    },
  };
}

// ---------------------------------------------------------------------------
// the native-git promotion: same commit as `botver env set`, made with plumbing

const NATIVE_PROMOTE = String.raw`
set -euo pipefail
export GIT_DIR="$1" target="$2"
old=$(git rev-parse --verify 'refs/heads/main^{commit}')
blob=$(git cat-file blob "$old:environments.yaml" \
  | sed -e '/^  staging:$/,/^  [^ ]/ s/^\(    version:\) .*/\1 '"$target"'/' \
  | git hash-object -w --stdin)
tree=$(git ls-tree "$old" \
  | sed -e "s/^\(100644 blob \)[0-9a-f]*\(\tenvironments\.yaml\)$/\1$blob\2/" \
  | git mktree)
new=$(git commit-tree "$tree" -p "$old" -m "Promote staging to $target")
git update-ref -m "promote staging to $target" refs/heads/main "$new" "$old"
`;

// ---------------------------------------------------------------------------

async function main() {
  const started = performance.now();
  console.log('# botver core benchmark\n');
  const fixture = await ensureLargeRepo({ log: (m) => console.log(m) });
  const s = fixture.info.stats;
  console.log(
    `fixture: ${s.commits} commits (${Object.entries(s.commitsByBranch)
      .map(([b, n]) => `${b}: ${n}`)
      .join(', ')}), ` +
      `${s.stagingChanges} staging promotions, ${s.countObjects['size-pack']} KiB in ${s.countObjects.packs} pack`,
  );
  if (!hasGnuTime()) console.log('note: /usr/bin/time (GNU time) not available: peak RSS is reported as n/a');
  const haveBotver = existsSync(BOTVER);
  if (!haveBotver)
    console.log(
      `note: ${relative(ROOT, BOTVER)} not found: botver rows are SKIPPED (only node and native git are measured)`,
    );

  const tmp = mkdtempSync(join(os.tmpdir(), 'botver-bench-core-'));
  const cleanup = () =>
    KEEP ? console.log(`kept temporary copies in ${tmp}`) : rmSync(tmp, { recursive: true, force: true });
  process.on('exit', cleanup);
  const copy = async (name) => copyLargeRepo(join(tmp, name));

  const rows = []; // { key, label, result|null, status, target, notes }
  const failures = [];
  const alt = (i) => (i % 2 === 0 ? 'v4' : 'v2'); // fixture starts with staging -> v2

  /**
   * @param {string} key
   * @param {string} label
   * @param {() => Promise<{ spec: object, notes?: Iterable<string>, finish?: () => unknown }>} specFn
   * @param {{ target?: object, skip?: string }} [options] target: the budget the row is judged against
   */
  async function row(key, label, specFn, { target, skip } = {}) {
    if (skip) {
      rows.push({ key, label, result: null, status: 'skipped', target, notes: [skip] });
      return;
    }
    process.stdout.write(`running: ${label} ... `);
    try {
      const { spec, notes, finish } = await specFn();
      const result = await measure({ env: ENV, ...spec, name: label });
      await finish?.();
      rows.push({ key, label, result, status: 'ok', target, notes: [...(notes ?? [])] });
      console.log(`${result.runs} runs, median ${fmtMs(result.medianMs)}`);
    } catch (err) {
      console.log('FAILED');
      const message = /** @type {Error} */ (err).message;
      failures.push({ key, label, error: message });
      rows.push({ key, label, result: null, status: 'FAILED', target, notes: [message.split('\n')[0]] });
    }
  }

  // 1. Node's start-up floor
  await row('node-floor', '`node -e 0`', async () => ({
    spec: { cmd: NODE, args: ['-e', '0'], runs: runs(20), warmup: warm(3) },
  }));

  // 2. native git promotion
  await row('git-promote', 'native git promotion (bash + plumbing)', async () => {
    const repo = await copy('git-promote.git');
    const checks = promotionChecks(repo, alt, 'native git promotion');
    return {
      spec: {
        cmd: 'bash',
        args: (i) => ['-c', NATIVE_PROMOTE, 'promote', repo, alt(i)],
        runs: runs(20),
        warmup: warm(2),
        before: checks.before,
        after: checks.after,
      },
      notes: checks.notes,
    };
  });

  const skip = haveBotver ? undefined : `${relative(ROOT, BOTVER)} not found`;
  const botver = (repo, ...args) => [BOTVER, '--repo', repo, ...args];

  // 3. botver env set (promotion)
  await row(
    'botver-env-set',
    '`botver env set staging v4/v2`',
    async () => {
      const repo = await copy('env-set.git');
      const checks = promotionChecks(repo, alt, 'botver env set');
      return {
        spec: {
          cmd: NODE,
          args: (i) => botver(repo, 'env', 'set', 'staging', alt(i)),
          runs: runs(20),
          warmup: warm(2),
          budgetMs: 20_000,
          before: checks.before,
          after: checks.after,
        },
        notes: checks.notes,
        // whatever botver wrote must be valid for native git too
        finish: () => git(repo, 'fsck', '--strict', '--no-progress', '--no-dangling'),
      };
    },
    { target: { medianMs: TARGETS.envSetMs, peakRssKb: TARGETS.peakRssKb }, skip },
  );

  // 4-6. read-only commands share one copy
  let roRepo;
  const readOnly = async () => (roRepo ??= await copy('read-only.git'));

  await row(
    'botver-validate-one',
    '`botver validate v1`',
    async () => ({
      spec: {
        cmd: NODE,
        args: botver(await readOnly(), 'validate', 'v1'),
        runs: runs(10),
        warmup: warm(1),
        budgetMs: 30_000,
      },
    }),
    { target: { medianMs: TARGETS.validateOneMs, peakRssKb: TARGETS.peakRssKb }, skip },
  );
  await row(
    'botver-validate-all',
    '`botver validate` (manifest + 5 versions)',
    async () => ({
      spec: { cmd: NODE, args: botver(await readOnly(), 'validate'), runs: runs(5), warmup: warm(1), budgetMs: 30_000 },
    }),
    { target: { peakRssKb: TARGETS.peakRssKb }, skip },
  );
  await row(
    'botver-history',
    '`botver history staging` (500 changes / 5,000 commits)',
    async () => {
      const repo = await readOnly();
      const notes = new Set();
      return {
        spec: {
          cmd: NODE,
          args: botver(repo, 'history', 'staging'),
          runs: runs(5),
          warmup: warm(1),
          budgetMs: 20_000,
          after: (_i, r) => {
            const lines = r.stdout.trim().split('\n').length;
            if (lines < 2)
              throw new BenchError(
                `botver history staging printed ${lines} line(s); expected about ${s.stagingChanges + 1} changes`,
              );
            notes.clear();
            notes.add(`printed ${lines} lines`);
          },
        },
        notes,
      };
    },
    { target: { peakRssKb: TARGETS.peakRssKb }, skip },
  );

  // ---------------------------------------------------------------------------
  // report

  const floor = rows.find((r) => r.key === 'node-floor')?.result?.medianMs;
  const missed = [];
  const targetText = (r) => {
    const t = r.target;
    if (!t) return '';
    const parts = [];
    if (t.medianMs) parts.push(`median < ${fmtMs(t.medianMs)}`);
    if (t.peakRssKb) parts.push(`RSS < ${fmtMb(t.peakRssKb)}`);
    return parts.join(', ');
  };
  const verdict = (r) => {
    if (r.status !== 'ok') return r.status;
    const t = r.target;
    if (!t) return '';
    const miss = [];
    if (t.medianMs && r.result.medianMs >= t.medianMs) miss.push('time');
    if (t.peakRssKb && r.result.peakRssKb != null && r.result.peakRssKb >= t.peakRssKb) miss.push('RSS');
    if (miss.length) missed.push(`${r.label}: ${miss.join(' and ')}`);
    return miss.length ? `MISSED (${miss.join(', ')})` : 'met';
  };
  const tableRows = rows.map((r) => {
    const x = r.result;
    const d = x && floor != null && r.key !== 'node-floor' ? x.medianMs - floor : null;
    const overFloor = d == null ? '' : `${d < 0 ? '−' : '+'}${fmtMs(Math.abs(d))}`;
    return [
      r.label,
      x?.runs ?? '-',
      fmtMs(x?.minMs),
      fmtMs(x?.medianMs),
      fmtMs(x?.p95Ms),
      overFloor,
      fmtMb(x?.peakRssKb),
      targetText(r),
      verdict(r),
    ];
  });
  console.log('');
  console.log(
    table(
      ['benchmark', 'runs', 'min', 'median', 'p95', 'median over node floor', 'peak RSS', 'target', 'status'],
      tableRows,
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l'],
    ),
  );
  const notes = rows.filter((r) => r.notes.length && r.status !== 'FAILED');
  if (notes.length) {
    console.log('');
    for (const r of notes) console.log(`- ${r.label}: ${r.notes.join('; ')}`);
  }
  const cpus = os.cpus();
  console.log(
    `\n${cpus.length} CPU(s) ${cpus[0]?.model ?? ''}, ${process.version}, ${versionOf('git')}; ` +
      `wall time measured around the whole process, RSS = max resident set (GNU time %M). ` +
      `Total bench time ${fmtMs(performance.now() - started)}.`,
  );

  mkdirSync(dirname(RESULTS), { recursive: true });
  const report = {
    benchmark: 'core',
    generatedAt: new Date().toISOString(),
    host: hostInfo({ git: versionOf('git'), gnuTime: hasGnuTime() }),
    options: { quick: QUICK, runs: RUNS ?? null },
    fixture: {
      fixtureVersion: fixture.info.fixtureVersion,
      cached: fixture.cached,
      buildMs: fixture.info.timingsMs.total,
      stats: s,
    },
    targets: TARGETS,
    botverAvailable: haveBotver,
    rows: rows.map((r) => ({
      key: r.key,
      label: r.label,
      status: r.status,
      target: r.target ?? null,
      notes: r.notes,
      ...(r.result ?? {}),
    })),
    failures,
    missedTargets: missed,
  };
  finishReport({ file: RESULTS, root: ROOT, report, failures, missed, enforce: ENFORCE, label: (f) => f.label });
}

main().catch((err) => {
  console.error(err.stack ?? err);
  process.exit(1);
});
