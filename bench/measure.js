// Process-level measurement helpers for the botver benchmarks.
//
// Every sample is one whole process (start-up included), timed from the parent with
// a monotonic clock. Peak RSS comes from GNU time (`/usr/bin/time -f %M`, max RSS in
// KiB of the process and its waited-for children); when it is not available RSS is
// reported as null ("n/a") and everything else still works.

import { createServer } from 'node:net';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const TIME_BIN = process.env.BENCH_TIME_BIN ?? '/usr/bin/time'; // set to a missing path to test the fallback
let timeAvailable;

/** True when GNU time with `-f %M -o FILE` works here. */
export function hasGnuTime() {
  if (timeAvailable === undefined) {
    timeAvailable = false;
    if (existsSync(TIME_BIN)) {
      const dir = mkdtempSync(join(tmpdir(), 'botver-time-'));
      try {
        const r = spawnSync(TIME_BIN, ['-f', '%M', '-o', join(dir, 'rss'), 'true'], { stdio: 'ignore' });
        timeAvailable = r.status === 0 && /^\d+\s*$/m.test(readFileSync(join(dir, 'rss'), 'utf8'));
      } catch {
        timeAvailable = false;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  return timeAvailable;
}

let rssDir;
function rssFile() {
  rssDir ??= mkdtempSync(join(tmpdir(), 'botver-rss-'));
  return join(rssDir, 'rss');
}
process.on('exit', () => rssDir && rmSync(rssDir, { recursive: true, force: true }));

/**
 * Run one process to completion.
 * Returns { code, signal, wallMs, rssKb (null if unknown), stdout, stderr }.
 * @param {string} cmd
 * @param {string[]} [args]
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, input?: string, timeoutMs?: number }} [options]
 */
export function runOnce(cmd, args = [], { cwd, env, input, timeoutMs = 120_000 } = {}) {
  const useTime = hasGnuTime();
  const file = useTime ? rssFile() : '';
  const [bin, argv] = useTime ? [TIME_BIN, ['-f', '%M', '-o', file, cmd, ...args]] : [cmd, args];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(bin, argv, {
    cwd,
    env: env ? { ...process.env, ...env } : process.env,
    input,
    timeout: timeoutMs,
    maxBuffer: 256 * 1024 * 1024,
    encoding: 'utf8',
  });
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`);
  /** @type {number | null} */
  let rssKb = null;
  if (useTime) {
    // GNU time may prefix "Command exited with non-zero status N"; %M is the last line
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const n = Number(lines.at(-1));
    rssKb = Number.isFinite(n) ? n : null;
  }
  return { code: r.status, signal: r.signal, wallMs, rssKb, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

const sortNum = (a) => [...a].sort((x, y) => x - y);
export function median(values) {
  const s = sortNum(values);
  const m = s.length >> 1;
  return s.length === 0 ? null : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
/** Nearest-rank percentile (p in 0..100). */
export function percentile(values, p) {
  const s = sortNum(values);
  if (s.length === 0) return null;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export class BenchError extends Error {}

/**
 * Run a whole process `runs` times after `warmup` runs and summarise.
 *
 * spec: {
 *   name, cmd,
 *   args: string[] | (i) => string[]   // i counts warm-up and measured runs together
 *   runs = 10, warmup = 2,
 *   budgetMs                           // stop early (after minRuns) once measured time exceeds it
 *   minRuns = 3,
 *   env, cwd, input, timeoutMs,
 *   expectCode = 0,
 *   before(i), after(i, result)        // untimed hooks; `after` may throw to fail the row
 * }
 * Returns { name, runs, warmup, minMs, medianMs, p95Ms, meanMs, maxMs, peakRssKb, medianRssKb, samples }.
 * Throws BenchError (with the process output) when a run exits with an unexpected code.
 */
export async function measure(spec) {
  const { name, cmd, runs = 10, warmup = 2, budgetMs = Infinity, minRuns = 3, expectCode = 0 } = spec;
  const argsFor = typeof spec.args === 'function' ? spec.args : () => spec.args ?? [];
  const samples = [];
  let spent = 0;
  for (let i = 0; i < warmup + runs; i++) {
    const measured = i >= warmup;
    if (measured && samples.length >= minRuns && spent >= budgetMs) break;
    await spec.before?.(i);
    const args = argsFor(i);
    const r = runOnce(cmd, args, spec);
    if (expectCode !== null && r.code !== expectCode) {
      const out = (r.stderr || r.stdout).trim().split('\n').slice(-15).join('\n');
      throw new BenchError(
        `${name}: \`${[cmd, ...args].join(' ')}\` exited with ${r.signal ?? r.code} (expected ${expectCode})` +
          (out ? `\n--- output (tail) ---\n${out}` : ''),
      );
    }
    await spec.after?.(i, r);
    if (measured) {
      samples.push({ wallMs: r.wallMs, rssKb: r.rssKb });
      spent += r.wallMs;
    }
  }
  return summarise(name, samples, warmup);
}

export function summarise(name, samples, warmup = 0) {
  const t = samples.map((s) => s.wallMs);
  const rss = samples.map((s) => s.rssKb).filter((x) => x != null);
  const round = (x) => (x == null ? null : Math.round(x * 100) / 100);
  return {
    name,
    runs: samples.length,
    warmup,
    minMs: round(Math.min(...t)),
    medianMs: round(median(t)),
    p95Ms: round(percentile(t, 95)),
    meanMs: round(t.reduce((a, b) => a + b, 0) / t.length),
    maxMs: round(Math.max(...t)),
    peakRssKb: rss.length ? Math.max(...rss) : null,
    medianRssKb: rss.length ? median(rss) : null,
    samples: samples.map((s) => ({ wallMs: round(s.wallMs), rssKb: s.rssKb })),
  };
}

// ---------------------------------------------------------------------------
// formatting

export const fmtMs = (ms) => (ms == null ? 'n/a' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
export const fmtMb = (kb) => (kb == null ? 'n/a' : `${(kb / 1024).toFixed(1)} MB`);

/** Markdown table; `align` is an optional array of 'l' | 'r'. */
export function table(headers, rows, align = []) {
  const cells = [headers, ...rows].map((r) => r.map((c) => String(c ?? '')));
  const widths = headers.map((_, j) => Math.max(3, ...cells.map((r) => r[j].length)));
  const line = (r) =>
    `| ${r.map((c, j) => (align[j] === 'r' ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join(' | ')} |`;
  const sep = `|${widths.map((w, j) => (align[j] === 'r' ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(cells[0]), sep, ...cells.slice(1).map(line)].join('\n');
}

/** `cmd --version`, or null when it does not run. */
export function versionOf(cmd) {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** The machine a bench ran on, for its results file. */
export function hostInfo(extra = {}) {
  const cpus = os.cpus();
  return {
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model,
    totalMemMb: Math.round(os.totalmem() / 2 ** 20),
    node: process.version,
    ...extra,
  };
}

/**
 * Writes a bench's results file and reports how it ended: failures make the exit code 1;
 * missed targets are listed, and make it 1 only with --enforce-targets.
 */
export function finishReport({ file, root, report, failures, missed, enforce, label = (f) => f.label ?? f.what }) {
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${relative(root, file)}`);
  if (failures.length) {
    console.error(`\n${failures.length} benchmark(s) FAILED:`);
    for (const f of failures) console.error(`\n## ${label(f)}\n${f.error}`);
    process.exitCode = 1;
  } else if (missed.length) {
    console.log(`\ntargets missed: ${missed.join('; ')}`);
    if (enforce) process.exitCode = 1;
  }
}

/** A pinned git identity and no user/system config, for every process a bench starts. */
export const BENCH_ENV = Object.freeze({
  GIT_AUTHOR_NAME: 'Bench Runner',
  GIT_AUTHOR_EMAIL: 'bench@botver.example',
  GIT_COMMITTER_NAME: 'Bench Runner',
  GIT_COMMITTER_EMAIL: 'bench@botver.example',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
  NO_COLOR: '1',
  LC_ALL: 'C',
});

/** The command line of a bench: `flag('--quick')`, `opt('--duration')` (the value after it). */
export function benchArgs(argv = process.argv.slice(2)) {
  return {
    argv,
    flag: (f) => argv.includes(f),
    opt: (f) => {
      const i = argv.indexOf(f);
      return i >= 0 ? argv[i + 1] : undefined;
    },
  };
}

/**
 * A baseline server of a bench (bare-server.js, bare-nlu-server.js): listens on the command
 * line's --port and --host, says "bare server listening on URL" once it does (the bench waits
 * for that line), and closes on SIGTERM or SIGINT.
 * @param {import('node:http').Server} server
 */
export function listenAsBareServer(server) {
  const { opt } = benchArgs();
  server.listen(Number(opt('--port') ?? '0'), opt('--host') ?? '127.0.0.1', () => {
    const a = /** @type {import('node:net').AddressInfo} */ (server.address());
    process.stdout.write(`bare server listening on http://${a.address}:${a.port}\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** A TCP port free right now on 127.0.0.1 (a server is then started on it). */
export function freePort(host = '127.0.0.1') {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, host, () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (s.address());
      s.close(() => done(port));
    });
  });
}
