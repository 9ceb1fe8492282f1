#!/usr/bin/env node
// Benchmark of the resolver (`botver serve`), each server in its own process, load from this one.
//
// Sections, side by side in one run:
//   1. /v1/resolve throughput and latency at 16 connections (autocannon, after a warm-up),
//      the resolver against a bare Express app sending the same bytes with the same headers
//      (bench/bare-server.js), on the example bot (scripts/make-example-repo.js) and on the
//      large fixture (bench/fixture.js: 5 versions x 200 intents x 30 expressions). Each gets
//      --duration seconds in all, measured in alternating rounds (resolver, bare, bare,
//      resolver, ...) so that a busy neighbour on the machine weighs on both alike; also the
//      server process's CPU time per answer (/proc/PID/stat), steadier than req/s.
//   2. Promotion to served: `botver env set staging vX` run as a process N times against a
//      running resolver (default --poll-ms), each timed from the moment the control branch's
//      ref file changes (seen with fs.watch on refs/heads) until a client polling /v1/resolve
//      every 5 ms (If-None-Match) gets the new version; also from the CLI process's exit.
//   3. Cold start on the large fixture: from spawning `botver serve` to the "resolver listening"
//      log line and to /readyz answering 200 (polled every 10 ms); warm file-system cache.
//   4. Resident memory (VmRSS, VmHWM from /proc/PID/status) of the resolver on the large
//      fixture after its load test.
//
// Usage: node bench/resolver.bench.js [--quick] [--duration S] [--promotions N] [--keep] [--enforce-targets] [--cpu-prof]
//   --quick            shorter load tests and fewer promotions and starts (smoke test)
//   --duration S       measured seconds of load per server and repository (default 10 in 5 rounds; --quick 2 in 2)
//   --promotions N     promotions per repository (default 30; --quick 10)
//   --keep             keep the temporary repositories and print where they are
//   --enforce-targets  exit 1 when a target is missed (by default targets are only reported)
//   --cpu-prof         run the resolvers with --cpu-prof (profiles in bench/results/resolver-prof/)
//                      and print the top functions by self time of each after its load test
// Environment: BOTVER_BIN=path/to/cli.js benchmarks that entry point instead of bin/botver.js.
// Prints markdown tables and writes bench/results/resolver.json. Exits 1 if a server fails to
// start, a request fails or answers other than 200, or a promotion is never served.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { copyLargeRepo, ensureLargeRepo, envToken } from './fixture.js';
import {
  BENCH_ENV,
  BenchError,
  benchArgs,
  finishReport,
  fmtMb,
  fmtMs,
  hostInfo,
  median,
  percentile,
  table,
  versionOf,
  freePort,
} from './measure.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const BOTVER = process.env.BOTVER_BIN ? resolve(process.env.BOTVER_BIN) : join(ROOT, 'bin', 'botver.js');
const BARE = join(BENCH_DIR, 'bare-server.js');
const RESULTS = join(BENCH_DIR, 'results', 'resolver.json');
const PROF_DIR = join(BENCH_DIR, 'results', 'resolver-prof');
const NODE = process.execPath;
const HOST = '127.0.0.1';

const { flag, opt } = benchArgs();
const QUICK = flag('--quick');
const KEEP = flag('--keep');
const ENFORCE = flag('--enforce-targets');
const CPU_PROF = flag('--cpu-prof');
const DURATION_S = opt('--duration') ? Math.max(1, Number(opt('--duration'))) : QUICK ? 2 : 10;
const WARMUP_S = QUICK ? 1 : 3;
const PROMOTIONS = opt('--promotions') ? Math.max(2, Number(opt('--promotions'))) : QUICK ? 10 : 30;
const COLD_RUNS = QUICK ? 3 : 5;
const CONNECTIONS = 16;
const ROUNDS = QUICK ? 2 : 5; // each server's measured time is split into this many rounds
const roundS = (total) => Math.max(1, Math.round(total / ROUNDS));
const POLL_CLIENT_MS = 5;
const READY_POLL_MS = 10;

const MB = 1024; // KiB per MiB
const TARGETS = {
  throughputRatio: 0.8, // resolver req/s >= 0.8 x bare Express req/s
  p99Ms: 10, // resolver p99 at 16 connections
  promotionP99Ms: 1000, // ref change -> served, p99
  coldStartMs: 2000, // spawn -> /readyz 200, median, large fixture
  rssKb: 200 * MB, // VmRSS and VmHWM after the load test, large fixture
};

// A fixed, clean identity and git environment for every process (as in core.bench.js).
const ENV = {
  ...BENCH_ENV,
  BOTVER_LOG_LEVEL: 'info',
  BOTVER_CONTROL_BRANCH: '',
  BOTVER_ADMIN_TOKEN: '',
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (x, d = 2) => (x == null ? null : Math.round(x * 10 ** d) / 10 ** d);

function git(repo, ...args) {
  const r = spawnSync('git', ['-C', repo, ...args], { encoding: 'utf8', env: { ...process.env, ...ENV } });
  if (r.status !== 0) throw new BenchError(`git -C ${repo} ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** VmRSS and VmHWM of a live process, in KiB (null where /proc is not there). */
function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return { rssKb: null, hwmKb: null };
  }
}

/** User + system CPU time of a live process so far, in ms (null where /proc is not there). */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
function cpuMsOf(pid) {
  try {
    // A malformed line throws here (no second part): reported as unknown (null) below.
    const fields = /** @type {string} */ (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK; // utime, stime
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------
// server processes

/**
 * Spawns a server and waits until `readyPath` answers 200 (polled every READY_POLL_MS).
 * Returns { pid, url, port, times: { listeningMs, readyMs } (from spawn), lines, stop() }.
 * @param {string} label
 * @param {string[]} args
 * @param {{ port: number, readyPath: string, env?: NodeJS.ProcessEnv, nodeArgs?: string[], listenLine?: string,
 *   timeoutMs?: number }} options listenLine: the output line whose appearance is timed as "listening"
 */
async function startServer(label, args, { port, readyPath, env = {}, nodeArgs = [], listenLine, timeoutMs = 60_000 }) {
  const url = `http://${HOST}:${port}`;
  const t0 = performance.now();
  const child = spawn(NODE, [...nodeArgs, ...args], {
    env: { ...process.env, ...ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = []; // a tail of what it printed, for error messages
  /** @type {{ listeningMs: number | null, readyMs: number | null }} */
  const times = { listeningMs: null, readyMs: null };
  let buffered = '';
  const onData = (chunk) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) {
      if (times.listeningMs === null && listenLine && line.includes(listenLine))
        times.listeningMs = performance.now() - t0;
      lines.push(line);
      if (lines.length > 40) lines.shift();
    }
  };
  child.stdout.setEncoding('utf8').on('data', onData);
  child.stderr.setEncoding('utf8').on('data', onData);
  /** @typedef {{ code: number | null, signal: NodeJS.Signals | null }} ExitStatus */
  /** @type {ExitStatus | null} set when the process exits (the cast keeps TS from narrowing it to null) */
  let exited = /** @type {ExitStatus | null} */ (null);
  const exit = new Promise((done) => child.once('exit', (code, signal) => done((exited = { code, signal }))));
  const tail = () => lines.slice(-15).join('\n');

  const deadline = t0 + timeoutMs;
  for (;;) {
    if (exited)
      throw new BenchError(
        `${label} exited (${exited.signal ?? exited.code}) before it was ready\n--- output (tail) ---\n${tail()}`,
      );
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new BenchError(`${label} was not ready after ${timeoutMs} ms\n--- output (tail) ---\n${tail()}`);
    }
    const status = await fetch(`${url}${readyPath}`)
      .then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      })
      .catch(() => 0);
    if (status === 200) break;
    await sleep(READY_POLL_MS);
  }
  times.readyMs = performance.now() - t0;

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(killer);
    }
    return /** @type {ExitStatus} */ (exited);
  };
  return {
    label,
    pid: child.pid,
    url,
    port,
    times,
    lines,
    stop,
    get exited() {
      return exited;
    },
  };
}

/**
 * `botver serve` on `repo`, ready once /readyz answers 200.
 * @param {string} label
 * @param {string} repo
 * @param {{ nodeArgs?: string[] }} [options]
 */
async function startResolver(label, repo, { nodeArgs = [] } = {}) {
  const port = await freePort();
  return startServer(label, [BOTVER, 'serve', '--repo', repo, '--port', String(port), '--host', HOST], {
    port,
    readyPath: '/readyz',
    listenLine: '"resolver listening"',
    nodeArgs,
  });
}

// ---------------------------------------------------------------------------
// 1. load

/**
 * One autocannon run; throws when anything but 200 came back. Adds to `acc` the answers, the
 * seconds, every latency (ms, as autocannon times them, kept at full resolution) and the
 * server's CPU time (`pid`, from /proc).
 */
async function loadRun(url, token, seconds, pid, acc) {
  const cpu0 = cpuMsOf(pid);
  const latencies = [];
  const r = await new Promise((done, fail) => {
    const instance = autocannon(
      { url, connections: CONNECTIONS, duration: seconds, headers: { authorization: `Bearer ${token}` } },
      (err, result) => (err ? fail(err) : done(result)),
    );
    instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  });
  const cpu1 = cpuMsOf(pid);
  const bad = r.errors + r.timeouts + r.non2xx + r.resets + r.mismatches;
  if (bad) {
    const codes = Object.entries(r.statusCodeStats ?? {})
      .map(([c, x]) => `${c}: ${x.count}`)
      .join(', ');
    throw new BenchError(
      `${url}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx (${codes}), ${r.resets} resets`,
    );
  }
  if (acc) {
    acc.requests += r.requests.total;
    acc.seconds += r.duration;
    acc.bytes += r.throughput.total;
    for (const ms of latencies) acc.latencies.push(ms);
    acc.cpuMs = cpu0 === null || cpu1 === null || acc.cpuMs === null ? null : acc.cpuMs + (cpu1 - cpu0);
  }
}

const newAcc = () => ({ requests: 0, seconds: 0, bytes: 0, latencies: [], cpuMs: 0 });
function summariseLoad(acc) {
  const l = acc.latencies;
  return {
    seconds: round(acc.seconds),
    requests: acc.requests,
    rps: round(acc.requests / acc.seconds, 1),
    p50Ms: round(percentile(l, 50)),
    p99Ms: round(percentile(l, 99)),
    maxMs: round(l.reduce((x, y) => Math.max(y, x), 0)),
    meanMs: round(l.reduce((x, y) => x + y, 0) / l.length),
    mbPerS: round(acc.bytes / acc.seconds / 2 ** 20, 1),
    // the server's CPU time (user + system) per answer: steadier than req/s on a shared machine
    cpuUsPerRequest: acc.cpuMs === null ? null : round((acc.cpuMs * 1000) / acc.requests, 1),
    cpuShare: acc.cpuMs === null ? null : round(acc.cpuMs / (acc.seconds * 1000)),
  };
}

/** The bytes and headers of one /v1/resolve answer (what the bare app will send). */
async function sample(url, token) {
  const res = await fetch(`${url}/v1/resolve`, { headers: { authorization: `Bearer ${token}` } });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200)
    throw new BenchError(`GET ${url}/v1/resolve answered ${res.status}: ${body.toString().slice(0, 300)}`);
  const headers = {};
  const skip = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);
  for (const [k, v] of res.headers) if (!skip.has(k)) headers[k] = v;
  return { body, headers, rawHeaders: [...res.headers.keys()].sort() };
}

/** Resolver vs bare Express on one repository; returns { rows, resolver } (the resolver left running). */
async function loadSection(name, repo, token, tmp, profile) {
  const resolver = await startResolver(`resolver (${name})`, repo, {
    nodeArgs: profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [],
  });
  let bare;
  try {
    const { body, headers, rawHeaders } = await sample(resolver.url, token);
    const bodyFile = join(tmp, `${name}.body`);
    writeFileSync(bodyFile, body);
    const port = await freePort();
    bare = await startServer(
      `bare Express (${name})`,
      [BARE, '--port', String(port), '--host', HOST, '--body', bodyFile, '--headers', JSON.stringify(headers)],
      { port, readyPath: '/v1/resolve' },
    );
    // the baseline really sends the same thing
    const same = await sample(bare.url, token);
    if (!same.body.equals(body)) throw new BenchError(`bare app (${name}) does not send the resolver's bytes`);
    if (JSON.stringify(same.rawHeaders) !== JSON.stringify(rawHeaders)) {
      throw new BenchError(
        `bare app (${name}) headers ${same.rawHeaders.join(',')} differ from the resolver's ${rawHeaders.join(',')}`,
      );
    }
    // Warm both up, then measure them in alternating rounds (the order flipped each round), so
    // that whatever else the machine does in the meantime falls on both alike.
    const servers = [
      { server: resolver, name: 'resolver', acc: newAcc() },
      { server: bare, name: 'bare Express', acc: newAcc() },
    ];
    process.stdout.write(
      `running: ${name}: resolver and bare Express, ${CONNECTIONS} connections, ${WARMUP_S} s warm-up each, then ${ROUNDS} x ${roundS(DURATION_S)} s each, alternating ... `,
    );
    for (const x of servers) await loadRun(`${x.server.url}/v1/resolve`, token, WARMUP_S, x.server.pid, null);
    for (let i = 0; i < ROUNDS; i++) {
      for (const x of i % 2 ? [...servers].reverse() : servers)
        await loadRun(`${x.server.url}/v1/resolve`, token, roundS(DURATION_S), x.server.pid, x.acc);
    }
    const rows = servers.map((x) => ({ repo: name, server: x.name, bodyBytes: body.length, ...summariseLoad(x.acc) }));
    console.log(rows.map((r) => `${r.server} ${(r.rps ?? Number.NaN).toFixed(0)} req/s, p99 ${r.p99Ms} ms`).join('; '));
    await bare.stop();
    return { rows, resolver };
  } catch (err) {
    await bare?.stop();
    await resolver.stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------
// 2. promotion to served

/** The value of refs/heads/<branch> now: the loose ref, else packed-refs. */
function readRef(gitdir, branch) {
  try {
    return readFileSync(join(gitdir, 'refs', 'heads', branch), 'utf8').trim();
  } catch {
    const packed = existsSync(join(gitdir, 'packed-refs')) ? readFileSync(join(gitdir, 'packed-refs'), 'utf8') : '';
    return packed.match(new RegExp(`^([0-9a-f]{40}) refs/heads/${branch}$`, 'm'))?.[1] ?? null;
  }
}

/**
 * Promotes `staging` alternately to each of `targets` with the CLI, `n` times, while a client
 * polls the resolver; returns per-promotion timings.
 */
async function promotionSection(name, repo, url, token, targets, n) {
  const gitdir = resolve(repo, git(repo, 'rev-parse', '--git-dir'));
  /** @type {{ version: string | null, etag: string | null, at: number, manifestCommit: string | null }} */
  const seen = { version: null, etag: null, at: 0, manifestCommit: null };
  let polling = true;
  let pollErrors = 0;
  const poller = (async () => {
    while (polling) {
      const started = performance.now();
      try {
        const res = await fetch(`${url}/v1/resolve`, {
          headers: { authorization: `Bearer ${token}`, ...(seen.etag && { 'if-none-match': seen.etag }) },
        });
        if (res.status === 200) {
          const body = await res.json();
          if (body.version !== seen.version || body.manifestCommit !== seen.manifestCommit)
            Object.assign(seen, { version: body.version, manifestCommit: body.manifestCommit, at: performance.now() });
          seen.etag = res.headers.get('etag');
        } else {
          await res.arrayBuffer();
          if (res.status !== 304) pollErrors++;
        }
      } catch {
        pollErrors++;
      }
      await sleep(Math.max(0, POLL_CLIENT_MS - (performance.now() - started)));
    }
  })();

  // the moment main's ref file changes (fs.watch on refs/heads: git renames main.lock over main)
  let refValue = readRef(gitdir, 'main');
  /** @type {number | null} */
  let refChangedAt = null;
  const onRef = () => {
    const v = readRef(gitdir, 'main');
    if (v && v !== refValue) {
      refValue = v;
      refChangedAt ??= performance.now();
    }
  };
  const watcher = watch(join(gitdir, 'refs', 'heads'), { persistent: false }, onRef);

  const samples = [];
  try {
    while (seen.version === null) await sleep(5);
    process.stdout.write(`running: ${n} promotions on ${name} (botver env set staging ${targets.join('|')}) ... `);
    for (let i = 0; i < n; i++) {
      const target = targets.find((t) => t !== seen.version) ?? targets[i % targets.length];
      refChangedAt = null;
      const t0 = performance.now();
      const cli = spawn(NODE, [BOTVER, '--repo', repo, 'env', 'set', 'staging', target], {
        env: { ...process.env, ...ENV },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      cli.stdout.on('data', (b) => (out += b));
      cli.stderr.on('data', (b) => (out += b));
      const code = await new Promise((done) => cli.once('exit', (c, s) => done(s ?? c)));
      const exitedAt = performance.now();
      if (code !== 0)
        throw new BenchError(`botver env set staging ${target} exited with ${code}\n--- output ---\n${out.trim()}`);
      onRef(); // in case the watcher has not fired yet (or at all)
      const refAt = refChangedAt ?? exitedAt;
      const deadline = exitedAt + 10_000;
      while (seen.version !== target && performance.now() < deadline) await sleep(1);
      if (seen.version !== target)
        throw new BenchError(`${name}: staging -> ${target} was not served 10 s after botver env set exited`);
      samples.push({
        target,
        cliMs: round(exitedAt - t0),
        refToServedMs: round(seen.at - refAt),
        exitToServedMs: round(seen.at - exitedAt),
        refSeenByWatch: refChangedAt !== null && refChangedAt <= exitedAt,
      });
      await sleep(20 + Math.random() * 30); // not in lockstep with the resolver's poll
    }
  } finally {
    polling = false;
    watcher.close();
    await poller;
  }
  const ref = samples.map((s) => s.refToServedMs);
  const exit = samples.map((s) => s.exitToServedMs);
  const r = {
    repo: name,
    promotions: samples.length,
    refToServed: { p50Ms: median(ref), p99Ms: percentile(ref, 99), maxMs: Math.max(...ref), minMs: Math.min(...ref) },
    exitToServed: { p50Ms: median(exit), p99Ms: percentile(exit, 99), maxMs: Math.max(...exit) },
    cliMedianMs: round(median(samples.map((s) => s.cliMs))),
    refSeenByWatch: samples.filter((s) => s.refSeenByWatch).length,
    pollErrors,
    samples,
  };
  console.log(
    `p50 ${fmtMs(r.refToServed.p50Ms)}, p99 ${fmtMs(r.refToServed.p99Ms)}, max ${fmtMs(r.refToServed.maxMs)}`,
  );
  if (pollErrors) throw new BenchError(`${name}: the polling client got ${pollErrors} errors or unexpected statuses`);
  return r;
}

// ---------------------------------------------------------------------------
// 3. cold start

async function coldStartSection(repo, runs) {
  process.stdout.write(`running: cold start on the large fixture, 1 warm-up + ${runs} runs ... `);
  const samples = [];
  for (let i = 0; i < runs + 1; i++) {
    const s = await startResolver('resolver (cold start)', repo);
    const memory = memoryOf(s.pid);
    const exited = await s.stop();
    if (exited.code !== 0)
      throw new BenchError(
        `botver serve exited with ${exited.signal ?? exited.code} on SIGTERM\n${s.lines.slice(-10).join('\n')}`,
      );
    if (s.times.listeningMs === null) throw new BenchError('botver serve never logged "resolver listening"');
    if (i > 0) samples.push({ listeningMs: round(s.times.listeningMs), readyMs: round(s.times.readyMs), ...memory });
  }
  const ready = samples.map((s) => s.readyMs);
  const r = {
    runs: samples.length,
    readyMedianMs: median(ready),
    readyMinMs: Math.min(...ready),
    readyMaxMs: Math.max(...ready),
    listeningMedianMs: median(samples.map((s) => s.listeningMs)),
    rssAtReadyMedianKb: median(samples.map((s) => s.rssKb)),
    samples,
  };
  console.log(`listening ${fmtMs(r.listeningMedianMs)}, ready ${fmtMs(r.readyMedianMs)} (median)`);
  return r;
}

// ---------------------------------------------------------------------------
// --cpu-prof: where the resolver's busy time goes

/** For a bundled file (dist/bin/*.mjs), the module each line came from (esbuild's `// path` markers). */
const bundleMaps = new Map();
function moduleAt(url, line) {
  if (!url || url.startsWith('node:')) return null;
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (path.includes(`${join('dist', 'bin')}/`)) {
    if (!bundleMaps.has(path)) {
      const marks = [];
      readFileSync(path, 'utf8')
        .split('\n')
        .forEach((text, i) => {
          const m = /^\/\/ ((?:node_modules|src|dist)\/\S+)$/.exec(text);
          if (m) marks.push([i, m[1]]);
        });
      bundleMaps.set(path, marks);
    }
    let found = relative(ROOT, path);
    for (const [at, name] of bundleMaps.get(path)) {
      if (at > line) break;
      found = name;
    }
    return found.replace(/^node_modules\//, '');
  }
  const nm = path.lastIndexOf('node_modules/');
  return nm >= 0 ? path.slice(nm + 'node_modules/'.length) : relative(ROOT, path);
}

/**
 * Busy time (idle excluded) by function (self time) and by module: each sample goes to the
 * nearest JavaScript module on its stack (Node's own internals go to the module that called them).
 */
function profileSummary(file, n = 12) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of prof.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const selfUs = new Map();
  prof.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
  });
  const byFunction = new Map();
  const byModule = new Map();
  let busy = 0;
  const add = (map, key, us) => map.set(key, (map.get(key) ?? 0) + us);
  for (const [id, us] of selfUs) {
    const f = byId.get(id).callFrame;
    if (f.functionName === '(idle)') continue;
    busy += us;
    // a bundled frame is named by its module (its line numbers are the bundle's)
    const where = !f.url
      ? ''
      : f.url.includes('/dist/bin/')
        ? moduleAt(f.url, f.lineNumber)
        : `${moduleAt(f.url, f.lineNumber) ?? f.url}:${f.lineNumber + 1}`;
    add(byFunction, `${f.functionName || '(anonymous)'}${where ? ` (${where})` : ''}`, us);
    let owner = f.functionName === '(garbage collector)' || f.functionName === '(program)' ? f.functionName : null;
    for (let cur = id; !owner && cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur).callFrame;
      owner = moduleAt(frame.url, frame.lineNumber);
    }
    add(byModule, owner ?? 'node internals', us);
  }
  const top = (map) =>
    [...map]
      .sort((x, y) => y[1] - x[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: round(us / 1000, 1), share: round((100 * us) / busy, 1) }));
  return { busyMs: round(busy / 1000, 1), functions: top(byFunction), modules: top(byModule) };
}

// ---------------------------------------------------------------------------

async function main() {
  const started = performance.now();
  console.log('# botver resolver benchmark\n');
  if (!existsSync(BOTVER))
    throw new BenchError(`${relative(ROOT, BOTVER)} not found: run \`npm run build\` first (or \`npm run bench\`)`);
  const { makeExampleRepo } = await import('../scripts/make-example-repo.js').catch((err) => {
    throw new BenchError(
      `cannot load scripts/make-example-repo.js (is dist/ built? \`npm run build\`): ${err.message}`,
    );
  });
  const { commitFiles, openBotRepo } = await import('../dist/index.js');

  const fixture = await ensureLargeRepo({ log: (m) => console.log(m) });
  const tmp = mkdtempSync(join(os.tmpdir(), 'botver-bench-resolver-'));
  const cleanup = () =>
    KEEP ? console.log(`kept temporary repositories in ${tmp}`) : rmSync(tmp, { recursive: true, force: true });
  process.on('exit', cleanup);
  if (CPU_PROF) {
    rmSync(PROF_DIR, { recursive: true, force: true });
    mkdirSync(PROF_DIR, { recursive: true });
  }

  // the example bot, with v2 one commit ahead of v1 (as `npm start` does) so that staging's
  // versions serve different commits (the promotion client revalidates with If-None-Match, and
  // the resolver's ETag is the commit alone: two versions at one commit would look unchanged)
  const example = await makeExampleRepo({ dir: join(tmp, 'example'), tokensFile: join(tmp, 'example-tokens.json') });
  const greetings = 'training/intents/greetings.yaml';
  const text = git(example.dir, 'show', `v2:${greetings}`);
  await commitFiles(
    await openBotRepo({ repo: example.dir }),
    'v2',
    { [greetings]: `${text}\n  - good day to you\n  - hello again\n` },
    'greetings: two more expressions',
  );
  const large = await copyLargeRepo(join(tmp, 'large.git'));
  const repos = [
    { name: 'example', repo: example.dir, token: example.tokens.environments.staging, targets: ['v1', 'v2'] },
    { name: 'large', repo: large, token: envToken('staging'), targets: ['v4', 'v2'] },
  ];
  const s = fixture.info.stats;
  console.log(
    `repositories: example bot (${example.files.length} files); large fixture (${s.commits} commits, 5 versions x 200 intents x 30 expressions, ` +
      `${s.countObjects['size-pack']} KiB packed)\n`,
  );

  const failures = [];
  const loadRows = [];
  const promotions = [];
  const memory = [];
  const profiles = [];
  let cold = /** @type {Awaited<ReturnType<typeof coldStartSection>> | null} */ (null);
  const attempt = async (what, fn) => {
    try {
      return await fn();
    } catch (err) {
      console.log('FAILED');
      failures.push({ what, error: /** @type {Error} */ (err).message });
      return null;
    }
  };

  for (const { name, repo, token, targets } of repos) {
    const profile = CPU_PROF ? join(PROF_DIR, name) : null;
    const section = await attempt(`load (${name})`, () => loadSection(name, repo, token, tmp, profile));
    if (!section) continue;
    loadRows.push(...section.rows);
    const { resolver } = section;
    memory.push({ repo: name, afterLoad: true, ...memoryOf(resolver.pid) });
    const p = await attempt(`promotion (${name})`, () =>
      promotionSection(name, repo, resolver.url, token, targets, PROMOTIONS),
    );
    if (p) promotions.push(p);
    const exited = await resolver.stop();
    if (exited.code !== 0)
      failures.push({
        what: `resolver (${name})`,
        error: `exited with ${exited.signal ?? exited.code} on SIGTERM\n${resolver.lines.slice(-10).join('\n')}`,
      });
    if (profile) {
      const file = readdirSync(profile).find((f) => f.endsWith('.cpuprofile'));
      if (file)
        profiles.push({
          repo: name,
          file: relative(ROOT, join(profile, file)),
          ...profileSummary(join(profile, file)),
        });
    }
  }

  cold = await attempt('cold start', async () =>
    coldStartSection(await copyLargeRepo(join(tmp, 'cold.git')), COLD_RUNS),
  );

  // ---------------------------------------------------------------------------
  // report

  const missed = [];
  const verdict = (ok, what) => {
    if (ok === null) return '';
    if (!ok) missed.push(what);
    return ok ? 'met' : 'MISSED';
  };

  console.log('\n## /v1/resolve at 16 connections (autocannon)\n');
  const loadTable = loadRows.map((r) => {
    const bare = loadRows.find((b) => b.repo === r.repo && b.server === 'bare Express');
    const isResolver = r.server === 'resolver';
    const ratio = isResolver && bare ? r.rps / bare.rps : null;
    r.ratioToBare = round(ratio, 3);
    r.cpuRatioToBare =
      isResolver && bare?.cpuUsPerRequest && r.cpuUsPerRequest
        ? round(bare.cpuUsPerRequest / r.cpuUsPerRequest, 3)
        : null;
    const status = isResolver
      ? [
          verdict(
            ratio === null ? null : ratio >= TARGETS.throughputRatio,
            `${r.repo}: resolver at ${ratio?.toFixed(2)} x bare throughput`,
          ),
          verdict(r.p99Ms < TARGETS.p99Ms, `${r.repo}: resolver p99 ${r.p99Ms} ms`),
        ].join(', ')
      : '';
    return [
      r.repo,
      r.server,
      `${(r.bodyBytes / 1024).toFixed(1)} KiB`,
      r.rps.toFixed(0),
      ratio === null ? '' : `${ratio.toFixed(2)} x`,
      `${r.p50Ms} ms`,
      `${r.p99Ms} ms`,
      `${r.maxMs} ms`,
      r.mbPerS,
      r.cpuUsPerRequest == null
        ? 'n/a'
        : `${r.cpuUsPerRequest} µs${r.cpuRatioToBare ? ` (bare/this ${r.cpuRatioToBare.toFixed(2)})` : ''}`,
      isResolver ? `≥ ${TARGETS.throughputRatio} x bare, p99 < ${TARGETS.p99Ms} ms` : '',
      status,
    ];
  });
  console.log(
    table(
      [
        'repo',
        'server',
        'body',
        'req/s',
        'vs bare',
        'p50',
        'p99',
        'max',
        'MiB/s',
        'server CPU/request',
        'target',
        'status',
      ],
      loadTable,
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l'],
    ),
  );
  console.log(
    '\nserver CPU/request: user + system CPU time of the server process during the measured run divided by the answers; ' +
      'steadier than req/s when the machine is shared (bare/this: the throughput ratio the CPU cost alone predicts).',
  );

  console.log('\n## promotion to served (`botver env set staging …` as a process, default --poll-ms)\n');
  console.log(
    table(
      [
        'repo',
        'promotions',
        'ref change → served p50',
        'p99',
        'max',
        'CLI exit → served p50',
        'p99',
        'CLI run (median)',
        'target',
        'status',
      ],
      promotions.map((p) => [
        p.repo,
        p.promotions,
        fmtMs(p.refToServed.p50Ms),
        fmtMs(p.refToServed.p99Ms),
        fmtMs(p.refToServed.maxMs),
        fmtMs(p.exitToServed.p50Ms),
        fmtMs(p.exitToServed.p99Ms),
        fmtMs(p.cliMedianMs),
        `p99 < ${fmtMs(TARGETS.promotionP99Ms)}`,
        verdict(p.refToServed.p99Ms < TARGETS.promotionP99Ms, `${p.repo}: promotion p99 ${fmtMs(p.refToServed.p99Ms)}`),
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l'],
    ),
  );
  if (promotions.length) {
    console.log(
      `\nref change: when fs.watch on refs/heads saw main's new value (${promotions.map((p) => `${p.repo} ${p.refSeenByWatch}/${p.promotions}`).join(', ')} seen; ` +
        `otherwise the CLI's exit is used). Served: when the client (polling every ${POLL_CLIENT_MS} ms) first got the new version. ` +
        `CLI exit → served is negative when the resolver served the change before the CLI finished its work after moving the ref.`,
    );
  }

  console.log('\n## cold start and memory (large fixture)\n');
  const memRows = [];
  if (cold) {
    memRows.push(['spawn → "resolver listening" (median)', fmtMs(cold.listeningMedianMs), '', '']);
    memRows.push([
      `spawn → /readyz 200 (median of ${cold.runs}; min ${fmtMs(cold.readyMinMs)}, max ${fmtMs(cold.readyMaxMs)})`,
      fmtMs(cold.readyMedianMs),
      `< ${fmtMs(TARGETS.coldStartMs)}`,
      verdict(cold.readyMedianMs < TARGETS.coldStartMs, `cold start ${fmtMs(cold.readyMedianMs)}`),
    ]);
    memRows.push(['VmRSS at ready (median)', fmtMb(cold.rssAtReadyMedianKb), '', '']);
  }
  for (const m of memory) {
    const target = m.repo === 'large';
    memRows.push([
      `VmRSS after the load test (${m.repo})`,
      fmtMb(m.rssKb),
      target ? `< ${fmtMb(TARGETS.rssKb)}` : '',
      target ? verdict(m.rssKb < TARGETS.rssKb, `VmRSS ${fmtMb(m.rssKb)}`) : '',
    ]);
    memRows.push([
      `VmHWM (peak) after the load test (${m.repo})`,
      fmtMb(m.hwmKb),
      target ? `< ${fmtMb(TARGETS.rssKb)}` : '',
      target ? verdict(m.hwmKb < TARGETS.rssKb, `VmHWM ${fmtMb(m.hwmKb)}`) : '',
    ]);
  }
  console.log(table(['measure', 'value', 'target', 'status'], memRows, ['l', 'r', 'l', 'l']));

  for (const p of profiles) {
    console.log(`\n## CPU profile of the resolver (${p.repo}): ${fmtMs(p.busyMs)} busy, idle excluded — ${p.file}\n`);
    console.log('(whole process life: start-up, both load runs of the resolver, the promotions)\n');
    console.log(
      table(
        ['module (nearest JS caller)', 'busy', 'share'],
        p.modules.map((t) => [t.name, fmtMs(t.ms), `${t.share} %`]),
        ['l', 'r', 'r'],
      ),
    );
    console.log('');
    console.log(
      table(
        ['function (self time)', 'busy', 'share'],
        p.functions.map((t) => [t.name, fmtMs(t.ms), `${t.share} %`]),
        ['l', 'r', 'r'],
      ),
    );
  }

  const cpus = os.cpus();
  console.log(
    `\n${cpus.length} CPU(s) ${cpus[0]?.model ?? ''}, ${process.version}, ${versionOf('git')}; servers and load generator share the machine. ` +
      `Latencies: every response as timed by autocannon (hrtime), all rounds together; promotion times from fs.watch on refs/heads and a client polling every ${POLL_CLIENT_MS} ms. ` +
      `Total bench time ${fmtMs(performance.now() - started)}.`,
  );

  mkdirSync(dirname(RESULTS), { recursive: true });
  const report = {
    benchmark: 'resolver',
    generatedAt: new Date().toISOString(),
    host: hostInfo({ git: versionOf('git') }),
    options: {
      quick: QUICK,
      durationS: DURATION_S,
      warmupS: WARMUP_S,
      connections: CONNECTIONS,
      promotions: PROMOTIONS,
      coldRuns: COLD_RUNS,
      cpuProf: CPU_PROF,
    },
    fixture: { fixtureVersion: fixture.info.fixtureVersion, cached: fixture.cached, stats: s },
    targets: TARGETS,
    load: loadRows,
    promotions,
    coldStart: cold,
    memory,
    profiles,
    failures,
    missedTargets: missed,
  };
  finishReport({ file: RESULTS, root: ROOT, report, failures, missed, enforce: ENFORCE, label: (f) => f.what });
}

main().catch((err) => {
  console.error(err.stack ?? err);
  process.exit(1);
});
