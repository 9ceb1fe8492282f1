#!/usr/bin/env node
// Isolation benchmark (issue #9, "Measured"): does one version's or client's load reach
// production? Production's GET /v1/resolve is probed at a steady pace the whole time, first
// with nothing else going on (quiet), then while one of these hits ANOTHER version or
// environment of the same server:
//   a. a 50 MB version is pushed: a ~50 MB intent file (a million expressions, generated
//      deterministically) committed to v2 with native git plumbing, then v2's ref moved;
//   b. a ReDoS-shaped regex entity ((a+)+$) on v2, committed and given time to train, meets
//      a hostile message ("a" x 30 + "!") sent over and over to v2's token;
//   c. 100,000 new conversations, each with ~60 KB of memory, arrive on staging's token;
//   d. 64 connections send bodies of nested arrays at the 256 KB limit (the costliest JSON to hold per byte)
//      to /v2/request on staging's token: the request-body budget at work.
// Each load gets a fresh example repository and a fresh `botver serve` (a child process, so its
// memory is its own): quiet p99, p99 and max under load, how many probes took over 100 ms or
// were not answered, and the server's peak resident memory during the load (VmHWM from
// /proc/PID/status, reset through clear_refs when the load starts, and VmRSS sampled every
// 100 ms). A server growing past --rss-guard-mb is killed (and that is reported) so that the
// bench cannot take the machine down.
//
// The prober is a separate process (this file with --probe): 4 keep-alive connections, each
// sending one request every 5 ms (at most ~800 req/s), so the probe itself neither saturates
// the server nor is delayed by the load generator's own event loop. A probe still unanswered
// when the window closes counts with the time it had waited so far.
//
// Targets: p99 under load within 2x the quiet p99, and no probe slower than 100 ms.
//
// Usage: node bench/isolation.bench.js [--quick] [--quiet S] [--load S] [--conversations N]
//          [--conversation-seconds S] [--rss-guard-mb MB] [--only a,b,c,d] [--keep] [--enforce-targets]
//   --quick            3 s quiet, 8 s loads, 5,000 conversations within 30 s (smoke test, ~1.5 minutes)
//   --quiet S          quiet seconds before each load (default 8)
//   --load S           seconds of loads a, b and d (default 20); c lasts until its conversations are sent
//   --conversations N  conversations of load c (default 100000), sent by 8 connections
//   --conversation-seconds S  stop load c after S seconds even if not all were sent (default 150)
//   --rss-guard-mb MB  kill a server whose VmRSS passes this (default 4096)
//   --only a,c         run only these loads
//   --keep             keep the temporary repositories
//   --enforce-targets  exit 1 when a target is missed (by default targets are only reported)
// Prints a markdown table and writes bench/results/isolation.json.

import { fork, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import os, { setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BENCH_ENV,
  BenchError,
  benchArgs,
  finishReport,
  fmtMb,
  fmtMs,
  hostInfo,
  percentile,
  table,
  versionOf,
  freePort,
} from './measure.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const SELF = fileURLToPath(import.meta.url);
const BOTVER = join(ROOT, 'bin', 'botver.js');
const RESULTS = join(BENCH_DIR, 'results', 'isolation.json');
const HOST = '127.0.0.1';
const ADMIN = 'isolation-bench-admin-token';

const PROBE_CONNECTIONS = 4;
const PROBE_INTERVAL_MS = 5;
const TARGETS = { p99Ratio: 2, maxMs: 100 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (x, d = 2) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

if (process.argv[2] === '--probe') probe();
else if (process.argv[2] === '--flood') void flood();
else
  main().catch((err) => {
    console.error(err.stack ?? err);
    process.exit(1);
  });

// ---------------------------------------------------------------------------
// the prober (a child process): GET /v1/resolve at a steady pace, latencies by segment

function probe() {
  const [url, token] = process.argv.slice(3);
  const agent = new Agent({ keepAlive: true, maxSockets: PROBE_CONNECTIONS });
  /** @typedef {{ latencies: number[], errors: number, statuses: Record<string, number>, unanswered?: number }} Segment */
  /** @type {Segment[]} */
  const segments = [{ latencies: [], errors: 0, statuses: {} }];
  const current = () => /** @type {Segment} */ (segments.at(-1));
  /** start times of the requests in flight, with their segment */
  const inFlight = new Map();
  let running = true;
  let next = 0;
  const get = () =>
    new Promise((done) => {
      const req = request(`${url}/v1/resolve`, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
        res.resume();
        res.on('end', () => done(String(res.statusCode)));
        res.on('error', () => done('error'));
      });
      req.on('error', () => done('error'));
      req.end();
    });
  const loop = async () => {
    while (running) {
      const id = next++;
      const segment = current();
      const t0 = performance.now();
      inFlight.set(id, { t0, segment });
      const status = await get();
      if (!inFlight.delete(id)) continue; // counted as unanswered when its segment closed
      const ms = performance.now() - t0;
      if (status === 'error') segment.errors++;
      else {
        segment.latencies.push(ms);
        segment.statuses[status] = (segment.statuses[status] ?? 0) + 1;
      }
      await sleep(Math.max(0, PROBE_INTERVAL_MS - ms));
    }
  };
  for (let i = 0; i < PROBE_CONNECTIONS; i++) void loop();
  process.on('message', (m) => {
    const now = performance.now();
    // requests of the closing segment still waiting count with what they waited so far
    const close = () => {
      const s = current();
      s.unanswered = 0;
      for (const [id, f] of inFlight)
        if (f.segment === s) {
          s.latencies.push(now - f.t0);
          // one in flight for a few ms is normal; one waiting longer than the target is not answered
          if (now - f.t0 > TARGETS.maxMs) s.unanswered++;
          inFlight.delete(id);
        }
    };
    if (m === 'mark') {
      close();
      segments.push({ latencies: [], errors: 0, statuses: {} });
    } else if (m === 'stop') {
      close();
      running = false;
      process.send?.(segments, () => process.exit(0));
    }
  });
}

// ---------------------------------------------------------------------------
// loads c and d's generator (a child process): autocannon as fast as the server answers

/** The bodies a flood sends: c, new conversations with ~60 KB of memory; d, 256 KB (the limit) of nested arrays. */
const FLOOD_BODIES = {
  conversations: () => {
    const memory = JSON.stringify({ profile: { name: 'bench', tier: 'gold' }, notes: 'n'.repeat(60 * 1024 - 60) });
    const head = `{"message":{"type":"text","content":"hello"},"memory":${memory},"conversation_id":"bench-`;
    let n = 0;
    return { path: '/build/v1/dialog', body: () => `${head}${n++}"}` };
  },
  // A message the ReDoS-shaped regex would backtrack on for seconds on a backtracking engine.
  hostile: () => ({ path: '/v2/request', body: () => JSON.stringify({ text: `${'a'.repeat(30)}!` }) }),
  // The costliest body to parse per byte: JSON.parse makes an array of every 3 bytes.
  nested: () => {
    const body = `{"text":"hello","pad":[${'[],'.repeat(Math.floor((256 * 1024 - 40) / 3) - 1)}[]]}`;
    return { path: '/v2/request', body: () => body };
  },
};

async function flood() {
  const { url, token, amount, seconds, kind, connections } = JSON.parse(process.argv[3] ?? '{}');
  const { default: autocannon } = await import('autocannon');
  const { path, body } = FLOOD_BODIES[/** @type {keyof typeof FLOOD_BODIES} */ (kind)]();
  const instance = autocannon(
    {
      url,
      connections,
      // a count of requests, or (0) as many as fit in the time (the parent stops both at `seconds`)
      ...(amount ? { amount } : { duration: seconds + 5 }),
      timeout: 30,
      requests: [
        {
          method: 'POST',
          path,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          setupRequest: (req) => ({ ...req, body: body() }),
        },
      ],
    },
    (err, res) => {
      if (err) throw err;
      const { requests, errors, timeouts, statusCodeStats } = res;
      process.send?.({ requests, errors, timeouts, statusCodeStats }, () => process.exit(0));
    },
  );
  process.on('message', (m) => m === 'stop' && instance.stop());
}

/**
 * Runs a flood child on staging's token (or `token`) until it has sent `amount` requests (0:
 * any number) or `seconds` passed (or the server died), and describes what it sent. The generator runs at nice 10: in production the clients
 * are other machines, and here a generator at the server's priority would take the CPU the
 * server and the prober need (2 cores for three busy processes). It still sends as fast as the
 * server answers (each connection sends its next request when the previous is answered).
 */
async function runFlood(ctx, { kind, connections, amount, seconds, token = ctx.tokens.environments.staging }) {
  const t0 = performance.now();
  const config = { url: ctx.server.url, token, amount, seconds, kind, connections };
  const child = fork(SELF, ['--flood', JSON.stringify(config)], { stdio: 'inherit' });
  if (child.pid) setPriority(child.pid, 10);
  const result = await new Promise((done, fail) => {
    child.once('message', done);
    child.once('exit', (code) => fail(new BenchError(`the load generator exited (${code}) without a result`)));
    // a server that died, or the time cap (the bench must end): stop sending
    const guard = setInterval(() => {
      if (!ctx.server.exited && performance.now() - t0 <= seconds * 1000) return;
      clearInterval(guard);
      if (child.connected) child.send('stop');
    }, 200);
    child.once('exit', () => clearInterval(guard));
  });
  const took = (performance.now() - t0) / 1000;
  const codes = Object.entries(result.statusCodeStats ?? {})
    .map(([c, x]) => `${c} x ${x.count}`)
    .join(', ');
  const capped = amount && result.requests.total < amount && !ctx.server.exited ? ` (cut at ${seconds} s)` : '';
  const of = amount ? ` of ${amount}` : '';
  return `${result.requests.total}${of} sent in ${took.toFixed(0)} s${capped}, ${Math.round(result.requests.total / took)}/s (${codes || 'no answers'}; ${result.errors} errors, ${result.timeouts} timeouts)`;
}

function summariseSegment(s) {
  const l = s.latencies;
  return {
    probes: l.length,
    p50Ms: round(percentile(l, 50)),
    p99Ms: round(percentile(l, 99)),
    maxMs: round(l.reduce((a, b) => Math.max(a, b), 0)),
    over100Ms: l.filter((x) => x > TARGETS.maxMs).length,
    unanswered: s.unanswered ?? 0,
    errors: s.errors,
    statuses: s.statuses,
  };
}

// ---------------------------------------------------------------------------
// processes, git and HTTP helpers

const ENV = { ...BENCH_ENV, BOTVER_LOG_LEVEL: 'warn', BOTVER_CONTROL_BRANCH: '', BOTVER_ADMIN_TOKEN: ADMIN };

/**
 * @param {string} repo
 * @param {string[]} args
 * @param {{ input?: string | Buffer, env?: Record<string, string> }} [options]
 */
function git(repo, args, { input, env = {} } = {}) {
  const r = spawnSync('git', ['-C', repo, ...args], {
    input,
    env: { ...process.env, ...ENV, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new BenchError(`git ${args.join(' ')} failed: ${String(r.stderr).trim()}`);
  return String(r.stdout).trim();
}

/**
 * A commit on top of `branch` adding `files` (path -> Buffer), made with native plumbing
 * (hash-object, a temporary index, write-tree, commit-tree); the ref is not moved.
 */
function plumbingCommit(repo, branch, files, message) {
  const gitdir = git(repo, ['rev-parse', '--absolute-git-dir']);
  const index = join(gitdir, `bench-index-${process.pid}`);
  const env = { GIT_INDEX_FILE: index };
  try {
    const parent = git(repo, ['rev-parse', `refs/heads/${branch}`]);
    git(repo, ['read-tree', parent], { env });
    for (const [path, bytes] of Object.entries(files)) {
      const blob = git(repo, ['hash-object', '-w', '--stdin'], { input: bytes });
      git(repo, ['update-index', '--add', '--cacheinfo', `100644,${blob},${path}`], { env });
    }
    const tree = git(repo, ['write-tree'], { env });
    return { parent, commit: git(repo, ['commit-tree', tree, '-p', parent, '-m', message]) };
  } finally {
    rmSync(index, { force: true });
  }
}

function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1] ?? Number.NaN);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return { rssKb: null, hwmKb: null };
  }
}

/** Resets VmHWM to the current RSS (Linux: "5" in clear_refs); false where that is not possible. */
function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * An HTTP exchange: { status, body } or { status: 0, error } (no answer within timeoutMs).
 * @param {string} url
 * @param {{ method?: string, headers?: Record<string, string>, body?: string, timeoutMs?: number }} [options]
 * @returns {Promise<{ status: number, body: string, error?: string }>}
 */
function http(url, { method = 'GET', headers = {}, body, timeoutMs = 10_000 } = {}) {
  return new Promise((done) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', (err) => done({ status: 0, body: '', error: err.message }));
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => done({ status: 0, body: '', error: err.message }));
    req.on('close', () => clearTimeout(timer));
    req.end(body);
  });
}

/** `botver serve` on `repo` as a child process, ready once /healthz answers. */
async function startResolver(repo) {
  const port = await freePort();
  const url = `http://${HOST}:${port}`;
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      BOTVER,
      'serve',
      '--repo',
      repo,
      '--port',
      String(port),
      '--host',
      HOST,
    ],
    {
      env: { ...process.env, ...ENV },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines = [];
  const keep = (chunk) => {
    if (process.env.BENCH_SERVER_LOG) appendFileSync(process.env.BENCH_SERVER_LOG, chunk);
    for (const line of String(chunk).split('\n').filter(Boolean)) {
      lines.push(line.slice(0, 400));
      if (lines.length > 30) lines.shift();
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  /** @typedef {{ code: number | null, signal: string | null }} ExitStatus */
  /** @type {ExitStatus | null} (the cast keeps TS from narrowing it to null) */
  let exited = /** @type {ExitStatus | null} */ (null);
  const exit = new Promise((done) => child.once('exit', (code, signal) => done((exited = { code, signal }))));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new BenchError(`botver serve exited (${exited.signal ?? exited.code}):\n${lines.join('\n')}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new BenchError(`botver serve was not ready within 60 s:\n${lines.join('\n')}`);
    }
    const r = await http(`${url}/readyz`, { headers: { authorization: `Bearer ${ADMIN}` }, timeoutMs: 2000 });
    if (r.status === 200) break;
    await sleep(50);
  }
  return {
    url,
    pid: /** @type {number} */ (child.pid),
    lines,
    get exited() {
      return exited;
    },
    kill: () => child.kill('SIGKILL'),
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exit;
        clearTimeout(killer);
      }
      return exited;
    },
  };
}

/** Samples the server's VmRSS every 100 ms; kills it past the guard. */
function watchMemory(server, guardKb) {
  const state = { maxRssKb: 0, guardHit: false };
  const timer = setInterval(() => {
    const { rssKb } = memoryOf(server.pid);
    if (rssKb == null || Number.isNaN(rssKb)) return;
    state.maxRssKb = Math.max(state.maxRssKb, rssKb);
    if (rssKb > guardKb && !state.guardHit) {
      state.guardHit = true;
      server.kill();
    }
  }, 100);
  return {
    state,
    stop: () => clearInterval(timer),
  };
}

// ---------------------------------------------------------------------------
// the loads

/** ~`bytes` of intent file: one intent, a million expressions of a seeded vocabulary (deterministic). */
function hugeIntentFile(bytes) {
  let seed = 0x9e3779b9;
  const rand = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const words =
    'pizza order large small medium pepperoni mushroom cheese deliver tonight please want would like get me a the one two three with without extra crust thin thick bake hot spicy menu open hours today tomorrow cancel status where is my food fast quick friend party family big bag box'.split(
      ' ',
    );
  const first = 'slug: huge\ndescription: a 50 MB intent (isolation bench)\nexpressions:\n';
  const parts = [first];
  let size = first.length;
  for (let i = 0; size < bytes; i++) {
    const n = 4 + Math.floor(rand() * 7);
    let line = `  - ${i}`;
    for (let j = 0; j < n; j++) line += ` ${words[Math.floor(rand() * words.length)]}`;
    line += '\n';
    parts.push(line);
    size += line.length;
  }
  return Buffer.from(parts.join(''));
}

/** Readiness as the admin sees it. */
async function readyz(url) {
  const r = await http(`${url}/readyz`, { headers: { authorization: `Bearer ${ADMIN}` }, timeoutMs: 5000 });
  try {
    return { status: r.status, body: JSON.parse(r.body) };
  } catch {
    return { status: r.status, body: null };
  }
}

/** v2's state for a given head: 'served' (with a model), 'refused' (by /readyz), or null (still working). */
async function v2Settled(url, commit, v2Token) {
  const z = await readyz(url);
  if (z.body?.problems?.some((p) => p.name === 'v2' && p.commit === commit)) return 'refused';
  const r = await http(`${url}/v2/request`, {
    method: 'POST',
    headers: { authorization: `Bearer ${v2Token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ text: 'hello' }),
    timeoutMs: 5000,
  });
  if (r.status === 200 && JSON.parse(r.body).results?.botver?.commit === commit) return 'served';
  if (r.status === 200 && z.status === 200 && z.body?.status !== 'training') {
    const resolved = await http(`${url}/v1/resolve`, { headers: { authorization: `Bearer ${v2Token}` } });
    if (resolved.status === 200 && JSON.parse(resolved.body).commit === commit) return 'served';
  }
  return null;
}

const LOADS = [
  {
    id: 'a',
    what: 'a 50 MB version pushed to v2',
    async prepare(ctx) {
      ctx.file ??= hugeIntentFile(50 * 1024 * 1024);
      const made = plumbingCommit(
        ctx.repo,
        'v2',
        { 'training/intents/huge.yaml': ctx.file },
        'a 50 MB intent (isolation bench)',
      );
      return { ...made, note: `${(ctx.file.length / 2 ** 20).toFixed(1)} MB file` };
    },
    async run(ctx, prepared) {
      const t0 = performance.now();
      git(ctx.repo, ['update-ref', 'refs/heads/v2', prepared.commit, prepared.parent]);
      /** @type {string | null} */
      let settled = null;
      /** @type {number | null} */
      let settledMs = null;
      while (performance.now() - t0 < ctx.loadS * 1000 && !ctx.server.exited) {
        settled = await v2Settled(ctx.server.url, prepared.commit, ctx.tokens.versions.v2).catch(() => null);
        if (settled) {
          settledMs = performance.now() - t0;
          break;
        }
        await sleep(250);
      }
      // the window lasts loadS in any case, so every load is probed as long
      await sleep(Math.max(0, ctx.loadS * 1000 - (performance.now() - t0)));
      return settled
        ? `v2 ${settled} after ${fmtMs(settledMs)}`
        : `v2 not settled (loaded and trained, or refused) within ${ctx.loadS} s`;
    },
  },
  {
    id: 'b',
    what: 'ReDoS regex (a+)+$ on v2 meets a hostile message, over and over',
    async prepare(ctx) {
      const made = plumbingCommit(
        ctx.repo,
        'v2',
        { 'training/entities/runaway.yaml': Buffer.from("slug: runaway\nregex: '(a+)+$'\n") },
        'a regex entity that backtracks (isolation bench)',
      );
      git(ctx.repo, ['update-ref', 'refs/heads/v2', made.commit, made.parent]);
      // before the quiet window: v2 serves the regex with its model trained, or refuses it
      const deadline = performance.now() + 60_000;
      /** @type {string | null} */
      let settled = null;
      while (!settled && performance.now() < deadline) {
        settled = await v2Settled(ctx.server.url, made.commit, ctx.tokens.versions.v2).catch(() => null);
        if (!settled) await sleep(200);
      }
      return { ...made, note: `v2 ${settled ?? 'not settled within 60 s'} with the regex` };
    },
    // 2 connections, each sending its next message as soon as the last is answered.
    run: (ctx) =>
      runFlood(ctx, { kind: 'hostile', connections: 2, amount: 0, seconds: ctx.loadS, token: ctx.tokens.versions.v2 }),
  },
  {
    id: 'c',
    what: 'new conversations with 60 KB of memory each, on staging',
    run: (ctx) =>
      runFlood(ctx, {
        kind: 'conversations',
        connections: 8,
        amount: ctx.conversations,
        seconds: ctx.conversationS,
      }),
  },
  {
    id: 'd',
    what: '256 KB bodies of nested arrays on 64 connections, on staging',
    run: (ctx) => runFlood(ctx, { kind: 'nested', connections: 64, amount: 0, seconds: ctx.loadS }),
  },
];

// ---------------------------------------------------------------------------

async function main() {
  const { flag, opt } = benchArgs();
  const quick = flag('--quick');
  const num = (name, fallback) => (opt(name) !== undefined ? Number(opt(name)) : fallback);
  const options = {
    quick,
    quietS: num('--quiet', quick ? 3 : 8),
    loadS: num('--load', quick ? 8 : 20),
    conversations: num('--conversations', quick ? 5_000 : 100_000),
    conversationS: num('--conversation-seconds', quick ? 30 : 150),
    rssGuardMb: num('--rss-guard-mb', 4096),
  };
  const started = performance.now();
  console.log('# botver isolation benchmark\n');
  if (!existsSync(BOTVER))
    throw new BenchError('bin/botver.js not found: run `npm run build` first (or `npm run bench`)');
  const { makeExampleRepo } = await import('../scripts/make-example-repo.js').catch((err) => {
    throw new BenchError(`cannot load scripts/make-example-repo.js (is dist/ built?): ${err.message}`);
  });
  const tmp = mkdtempSync(join(os.tmpdir(), 'botver-bench-isolation-'));
  process.on('exit', () =>
    flag('--keep') ? console.log(`kept ${tmp}`) : rmSync(tmp, { recursive: true, force: true }),
  );
  console.log(
    `quiet ${options.quietS} s then load per row; loads a, b and d ${options.loadS} s, c ${options.conversations} conversations; ` +
      `production probed by ${PROBE_CONNECTIONS} keep-alive connections, one request each every ${PROBE_INTERVAL_MS} ms\n`,
  );

  const rows = [];
  const failures = [];
  const shared = {};
  const only = opt('--only')?.split(',');
  for (const load of LOADS.filter((l) => !only || only.includes(l.id))) {
    process.stdout.write(`running: ${load.id}. ${load.what} ... `);
    const dir = join(tmp, `repo-${load.id}`);
    /** @type {Awaited<ReturnType<typeof startResolver>> | null} */
    let server = null;
    /** @type {import('node:child_process').ChildProcess | null} */
    let prober = null;
    /** @type {ReturnType<typeof watchMemory> | null} */
    let watch = null;
    try {
      const tokensFile = join(tmp, `tokens-${load.id}.json`);
      await makeExampleRepo({ dir, tokensFile });
      const tokens = JSON.parse(readFileSync(tokensFile, 'utf8'));
      server = await startResolver(dir);
      const ctx = Object.assign(shared, { repo: dir, server, tokens, ...options });
      /** @type {{ parent?: string, commit?: string, note?: string }} */
      const prepared = (await load.prepare?.(ctx)) ?? {};
      const probeProcess = fork(SELF, ['--probe', server.url, tokens.environments.production], { stdio: 'inherit' });
      prober = probeProcess;
      const segments = new Promise((done) => probeProcess.once('message', done));
      await sleep(options.quietS * 1000);
      const peakReset = resetPeak(server.pid);
      watch = watchMemory(server, options.rssGuardMb * 1024);
      probeProcess.send('mark');
      const note = await load.run(ctx, prepared);
      probeProcess.send('stop');
      const [quiet, loaded] = /** @type {any[]} */ (await segments).map(summariseSegment);
      watch.stop();
      if (!quiet || !loaded) throw new BenchError('the prober sent back no measurements');
      const mem = memoryOf(server.pid);
      const peakKb = Math.max(watch.state.maxRssKb, peakReset && mem.hwmKb ? mem.hwmKb : 0) || null;
      const died = server.exited;
      const row = {
        id: load.id,
        what: load.what,
        quiet,
        loaded,
        ratio: quiet.p99Ms && loaded.p99Ms ? round(loaded.p99Ms / quiet.p99Ms) : null,
        peakRssKb: peakKb,
        rssAtEndKb: mem.rssKb,
        serverExited: died
          ? watch.state.guardHit
            ? `killed past the ${options.rssGuardMb} MB guard`
            : `exited (${died.signal ?? died.code})`
          : null,
        prepared: prepared.note ?? null,
        note,
        serverLog: died ? server.lines.slice(-5) : undefined,
      };
      rows.push(row);
      console.log(`p99 ${fmtMs(quiet.p99Ms)} quiet, ${fmtMs(loaded.p99Ms)} loaded; ${note}`);
    } catch (err) {
      console.log('FAILED');
      failures.push({ what: `${load.id}. ${load.what}`, error: /** @type {Error} */ (err).message });
    } finally {
      watch?.stop();
      prober?.kill();
      await server?.stop();
    }
  }

  // report
  const missed = [];
  const tableRows = rows.map((r) => {
    const ratioOk = r.ratio !== null && r.ratio <= TARGETS.p99Ratio && !r.serverExited;
    const maxOk = r.loaded.maxMs < TARGETS.maxMs && r.loaded.errors === 0 && !r.serverExited;
    if (!ratioOk) missed.push(`${r.id}: p99 ${r.ratio ?? 'n/a'} x quiet`);
    if (!maxOk) missed.push(`${r.id}: max ${fmtMs(r.loaded.maxMs)}`);
    return [
      `${r.id}. ${r.what}`,
      fmtMs(r.quiet.p99Ms),
      fmtMs(r.loaded.p99Ms),
      r.ratio === null ? 'n/a' : `${r.ratio} x`,
      fmtMs(r.loaded.maxMs),
      `${r.loaded.over100Ms} / ${r.loaded.probes}`,
      r.loaded.unanswered + r.loaded.errors,
      fmtMb(r.peakRssKb),
      [r.prepared, r.note, r.serverExited && `server ${r.serverExited}`].filter(Boolean).join('; '),
      `${ratioOk ? 'met' : 'MISSED'}, ${maxOk ? 'met' : 'MISSED'}`,
    ];
  });
  console.log(
    `\n## production GET /v1/resolve while another version or environment is under load\n\n${table(
      [
        'load (on another version / environment)',
        'quiet p99',
        'p99 under load',
        'vs quiet',
        'max',
        '> 100 ms',
        'unanswered',
        'server peak RSS',
        'what happened',
        `target: ≤ ${TARGETS.p99Ratio} x quiet, max < ${TARGETS.maxMs} ms`,
      ],
      tableRows,
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l'],
    )}`,
  );
  const cpus = os.cpus();
  console.log(
    `\n${cpus.length} CPU(s) ${cpus[0]?.model ?? ''}, ${process.version}, ${versionOf('git')}; server, prober and load share the machine. ` +
      `Quiet: the same server just before its load. Unanswered: probes that failed, or were still waiting (over ${TARGETS.maxMs} ms) when the window closed; p99 and max count them with their wait so far. ` +
      `Peak RSS: VmHWM (reset when the load starts) and VmRSS sampled every 100 ms. Total ${fmtMs(performance.now() - started)}.`,
  );
  mkdirSync(dirname(RESULTS), { recursive: true });
  finishReport({
    file: RESULTS,
    root: ROOT,
    report: {
      benchmark: 'isolation',
      generatedAt: new Date().toISOString(),
      host: hostInfo({ git: versionOf('git') }),
      options: {
        ...options,
        only: only ?? null,
        probeConnections: PROBE_CONNECTIONS,
        probeIntervalMs: PROBE_INTERVAL_MS,
      },
      targets: TARGETS,
      rows,
      failures,
      missedTargets: missed,
    },
    failures,
    missed,
    enforce: flag('--enforce-targets'),
  });
}
