#!/usr/bin/env node
// Fleet benchmark (issue #10): botver serve as several replicas.
//   1. /build/v1/dialog with the Redis conversation store against the in-memory one: the same
//      example bot, the same load (16 connections, each message continuing one of 1,000
//      conversations), alternating rounds after a warm-up. Target: Redis at least 0.7 of the
//      in-memory throughput, p99 under 20 ms.
//   2. A push to the remote -> served by every one of 3 replicas (--remote, sharing Redis):
//      p50/p99 over N pushes with a push webhook to one replica (target p99 under 1 s), and with
//      polling only (--fetch-interval 1s: it should be about the interval plus a fetch). Anchors:
//      Argo CD polls every 180 s by default, Rasa X polled a model tag about every 10 s.
//   3. The cost of a fetch that brings nothing new (botver_fetch_duration_seconds), on the
//      example bot and on the large benchmark bot (bench/fixture.js: 5 versions of 200 intents,
//      5,000 commits), and of one that brings a new version of the large bot: all 200 intents of
//      v5 rewritten and staging promoted to it, pushed atomically, from the push to served.
// The remote is a bare repository reached by file:// (the same native git fetch as over HTTPS,
// without a network stack to measure); a real redis-server is started on a free port.
//
// Usage: node bench/fleet.bench.js [--quick] [--pushes N] [--duration S] [--keep]
//   --quick      fewer pushes, shorter load (smoke test, ~1 minute)
//   --pushes N   pushes measured with the webhook (default 30; polling measures a third as many)
//   --duration S measured seconds of dialog load per store (default 10: 2 rounds of 5 s)
// Prints markdown tables and writes bench/results/fleet.json.

import { spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyLargeRepo, ensureLargeRepo, envToken } from './fixture.js';
import { BENCH_ENV, BenchError, benchArgs, finishReport, freePort, hostInfo, percentile, table } from './measure.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BOTVER = join(ROOT, 'bin', 'botver.js');
const HOST = '127.0.0.1';
const ADMIN = 'bench-admin-token';
const SECRET = 'bench-webhook-secret';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (x, d = 2) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

const { flag, opt } = benchArgs();
const quick = flag('--quick');
const pushes = Number(opt('--pushes') ?? (quick ? 8 : 30));
const durationS = Number(opt('--duration') ?? (quick ? 4 : 10));
const keep = flag('--keep');
const env = { ...process.env, ...BENCH_ENV, BOTVER_ADMIN_TOKEN: ADMIN, BOTVER_WEBHOOK_SECRET: SECRET };
const work = mkdtempSync(join(os.tmpdir(), 'botver-bench-fleet-'));
const children = [];

const git = (cwd, ...args) => {
  const r = spawnSync('git', args, { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new BenchError(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
};
const botver = (repo, ...args) => {
  const r = spawnSync(process.execPath, [BOTVER, '--repo', repo, ...args], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new BenchError(`botver ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  children.push(child);
  for (let i = 0; i < 500; i++) {
    if (spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG') break;
    await sleep(20);
  }
  return `redis://${HOST}:${port}`;
}

/** `botver serve` as a child process, ready once `ready` (admin) is 200. */
async function serve(args, ready = '/readyz') {
  const port = await freePort();
  const child = spawn(process.execPath, [BOTVER, 'serve', '--port', String(port), '--host', HOST, ...args], {
    env: { ...env, BOTVER_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  const url = `http://${HOST}:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new BenchError(`botver serve ${args.join(' ')} exited ${child.exitCode}`);
    const ok = await fetch(`${url}${ready}`, { headers: { authorization: `Bearer ${ADMIN}` } })
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) break;
    if (i > 1500) throw new BenchError(`botver serve ${args.join(' ')} not ready within 60 s`);
    await sleep(40);
  }
  return { url, child, stop: () => child.kill('SIGTERM') };
}

/** A signed push webhook, as GitHub sends it. */
async function pushWebhook(url, ref) {
  const body = JSON.stringify({ ref });
  const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const res = await fetch(`${url}/v1/hooks/git`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
    body,
  });
  if (res.status !== 202 && res.status !== 200) throw new BenchError(`webhook answered ${res.status}`);
}

/** The fetches a replica has made (count) and their total duration in ms, from /metrics. */
async function fetchTotals(url) {
  const metrics = await (await fetch(`${url}/metrics`)).text();
  return {
    ms: Number(/^botver_fetch_duration_seconds_sum (\S+)$/m.exec(metrics)?.[1]) * 1000,
    count: Number(/^botver_fetch_duration_seconds_count (\S+)$/m.exec(metrics)?.[1]),
  };
}

/** Waits (polling /metrics) until the replica has made more than `count` fetches. */
async function fetchedAfter(url, count) {
  for (let i = 0; i < 3000; i++) {
    const totals = await fetchTotals(url);
    if (totals.count > count) return totals;
    await sleep(10);
  }
  throw new BenchError('no fetch within 30 s of a webhook');
}

/**
 * The large benchmark bot followed by one replica: its first fetch (a clone) to served, fetches
 * that bring nothing, and one that brings a new version (v5's 200 intents rewritten, staging
 * promoted to it, pushed atomically as `botver … --push` does), from the push to served.
 */
async function largeBotFetches() {
  await ensureLargeRepo();
  const remote = join(work, 'large-remote.git');
  await copyLargeRepo(remote);
  const dev = join(work, 'large-dev');
  git(work, 'clone', '--quiet', remote, dev);
  const started = performance.now();
  const replica = await serve(
    ['--remote', `file://${remote}`, '--cache-dir', join(work, 'cache-large'), '--fetch-interval', '1h'],
    '/readyz?probe=serving',
  );
  const firstMs = performance.now() - started;
  // Measured on a settled replica: its five models trained (they train in workers, on the same 2 cores).
  for (let i = 0; ; i++) {
    const res = await fetch(`${replica.url}/readyz`, { headers: { authorization: `Bearer ${ADMIN}` } });
    if (res.status === 200) break;
    if (i > 3000) throw new BenchError('the large bot was not ready (models trained) within 5 minutes');
    await sleep(100);
  }
  const readyMs = performance.now() - started;
  const nothing = [];
  for (let i = 0; i < 10; i++) {
    const before = await fetchTotals(replica.url);
    await pushWebhook(replica.url, 'refs/heads/main');
    const after = await fetchedAfter(replica.url, before.count);
    nothing.push((after.ms - before.ms) / (after.count - before.count));
  }

  // A new version: every intent of v5 gets one expression more; staging is promoted to it.
  git(dev, 'switch', '--quiet', 'v5');
  const intents = git(dev, 'ls-files', 'training/intents').split('\n');
  for (const file of intents) appendFileSync(join(dev, file), '  - a new way to ask for this, pushed to the host\n');
  git(dev, 'commit', '--quiet', '-am', 'v5: one expression more in every intent');
  const commit = git(dev, 'rev-parse', 'HEAD');
  git(dev, 'switch', '--quiet', '--detach');
  botver(dev, 'env', 'set', 'staging', 'v5');
  const before = await fetchTotals(replica.url);
  git(dev, 'push', '--quiet', '--atomic', 'origin', 'main', 'v5');
  const pushed = performance.now();
  await pushWebhook(replica.url, 'refs/heads/main');
  for (let i = 0; ; i++) {
    const a = await fetch(`${replica.url}/v1/resolve`, { headers: { authorization: `Bearer ${envToken('staging')}` } });
    if ((await a.json()).commit === commit) break;
    if (i > 6000) throw new BenchError('the new version of the large bot was not served within 60 s');
    await sleep(5);
  }
  const servedMs = performance.now() - pushed;
  const after = await fetchedAfter(replica.url, before.count);
  replica.stop();
  return {
    intents: intents.length,
    firstServedMs: firstMs,
    readyMs,
    nothingMs: percentile(nothing, 50),
    newVersionFetchMs: (after.ms - before.ms) / (after.count - before.count),
    newVersionServedMs: servedMs,
  };
}

async function dialogLoad(url, token, seconds) {
  const { default: autocannon } = await import('autocannon');
  let n = 0;
  const result = await autocannon({
    url,
    connections: 16,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/build/v1/dialog',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        setupRequest: (req) => ({
          ...req,
          body: JSON.stringify({
            message: { type: 'text', content: n % 3 ? 'hello there' : 'what is on the menu?' },
            conversation_id: `bench-${n++ % 1000}`,
          }),
        }),
      },
    ],
  });
  return {
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
  };
}

async function main() {
  const repo = join(work, 'bot');
  spawnSync(process.execPath, [join(ROOT, 'scripts', 'make-example-repo.js'), repo], { env, stdio: 'ignore' });
  const token = JSON.parse(botver(repo, 'token', 'rotate', '--env', 'production', '--json')).token;
  const staging = JSON.parse(botver(repo, 'token', 'rotate', '--env', 'staging', '--json')).token;
  const redisUrl = await startRedis();
  console.log(`# botver fleet benchmark\n`);

  // 1. dialog: memory vs Redis, alternating rounds after a warm-up each
  process.stdout.write('running: /build/v1/dialog, in-memory vs Redis store ... ');
  const memory = await serve(['--repo', repo]);
  const shared = await serve(['--repo', repo, '--redis', redisUrl]);
  /** @typedef {Awaited<ReturnType<typeof dialogLoad>>} Load */
  /** @type {{ memory: Load[], redis: Load[] }} */
  const runs = { memory: [], redis: [] };
  await dialogLoad(memory.url, token, 2);
  await dialogLoad(shared.url, token, 2);
  for (let r = 0; r < 2; r++) {
    runs.memory.push(await dialogLoad(memory.url, token, durationS / 2));
    runs.redis.push(await dialogLoad(shared.url, token, durationS / 2));
  }
  memory.stop();
  shared.stop();
  const sum = (/** @type {Load[]} */ list) => ({
    requests: list.reduce((a, x) => a + x.requests, 0),
    rps: list.reduce((a, x) => a + x.rps, 0) / list.length,
    p50: Math.max(...list.map((x) => x.p50)),
    p99: Math.max(...list.map((x) => x.p99)),
    non2xx: list.reduce((a, x) => a + x.non2xx, 0),
  });
  const dialog = { memory: sum(runs.memory), redis: sum(runs.redis) };
  dialog.ratio = round(dialog.redis.rps / dialog.memory.rps);
  console.log(`memory ${Math.round(dialog.memory.rps)}/s, Redis ${Math.round(dialog.redis.rps)}/s (${dialog.ratio}x)`);

  // 2. push -> served by 3 replicas
  const remote = join(work, 'remote.git');
  git(work, 'clone', '--quiet', '--bare', repo, remote);
  const dev = join(work, 'dev');
  git(work, 'clone', '--quiet', remote, dev);
  git(dev, 'switch', '--quiet', 'v2');
  const measurePushes = async (count, fetchInterval, webhook) => {
    const cache = join(work, `cache-${fetchInterval}`);
    mkdirSync(cache, { recursive: true });
    const replicas = [];
    for (let i = 0; i < 3; i++)
      replicas.push(
        await serve([
          '--remote',
          `file://${remote}`,
          '--cache-dir',
          join(cache, String(i)),
          '--fetch-interval',
          fetchInterval,
          '--redis',
          redisUrl,
        ]),
      );
    const times = [];
    for (let k = 0; k < count; k++) {
      git(dev, 'commit', '--quiet', '--allow-empty', '-m', `push ${k}`);
      const commit = git(dev, 'rev-parse', 'HEAD');
      git(dev, 'push', '--quiet', 'origin', 'v2');
      const t0 = performance.now();
      if (webhook) await pushWebhook(replicas[k % 3].url, 'refs/heads/v2');
      const served = new Set();
      while (served.size < 3) {
        if (performance.now() - t0 > 30_000) throw new BenchError(`push ${k} not served by every replica within 30 s`);
        await Promise.all(
          replicas.map(async (r, i) => {
            if (served.has(i)) return;
            const a = await fetch(`${r.url}/v1/resolve`, { headers: { authorization: `Bearer ${staging}` } });
            if ((await a.json()).commit === commit) served.add(i);
          }),
        );
        if (served.size < 3) await sleep(5);
      }
      times.push(performance.now() - t0);
    }
    // 3. what a fetch costs, from the replicas' own histogram
    const totals = await fetchTotals(replicas[0].url);
    for (const r of replicas) r.stop();
    return {
      count,
      p50: percentile(times, 50),
      p99: percentile(times, 99),
      max: Math.max(...times),
      meanFetchMs: totals.ms / totals.count,
    };
  };
  process.stdout.write(`running: ${pushes} pushes, webhook to one of 3 replicas ... `);
  const viaWebhook = await measurePushes(pushes, '1h', true);
  console.log(`p50 ${viaWebhook.p50.toFixed(0)} ms, p99 ${viaWebhook.p99.toFixed(0)} ms`);
  const polled = Math.max(3, Math.round(pushes / 3));
  process.stdout.write(`running: ${polled} pushes, polling every 1 s, no webhook ... `);
  const viaPolling = await measurePushes(polled, '1s', false);
  console.log(`p50 ${viaPolling.p50.toFixed(0)} ms, p99 ${viaPolling.p99.toFixed(0)} ms`);
  process.stdout.write('running: fetches of the large benchmark bot ... ');
  const large = await largeBotFetches();
  console.log(`a new version served in ${large.newVersionServedMs.toFixed(0)} ms`);

  console.log('\n## /build/v1/dialog, 16 connections, 1,000 conversations\n');
  console.log(
    table(
      ['store', 'requests', 'req/s', 'p50', 'p99', 'non-2xx', 'target'],
      [
        [
          'in memory',
          dialog.memory.requests,
          Math.round(dialog.memory.rps),
          `${dialog.memory.p50} ms`,
          `${dialog.memory.p99} ms`,
          dialog.memory.non2xx,
          '',
        ],
        [
          'Redis',
          dialog.redis.requests,
          `${Math.round(dialog.redis.rps)} (${dialog.ratio}x)`,
          `${dialog.redis.p50} ms`,
          `${dialog.redis.p99} ms`,
          dialog.redis.non2xx,
          '>= 0.7x, p99 < 20 ms',
        ],
      ].map((r) => r.map(String)),
    ),
  );
  /** @param {string} how @param {Awaited<ReturnType<typeof measurePushes>>} r @param {string} target */
  const pushRow = (how, r, target) => [
    how,
    r.count,
    ...[r.p50, r.p99, r.max, r.meanFetchMs].map((ms) => `${ms.toFixed(0)} ms`),
    target,
  ];
  console.log('\n## a push to the remote -> served by all 3 replicas\n');
  console.log(
    table(
      ['how', 'pushes', 'p50', 'p99', 'max', 'a fetch (mean)', 'target'],
      [
        pushRow('webhook to one replica, Redis pub/sub to the others', viaWebhook, 'p99 < 1 s'),
        pushRow('polling only, --fetch-interval 1s (±20 %)', viaPolling, '≈ interval + a fetch'),
      ].map((r) => r.map(String)),
    ),
  );
  console.log('\n## fetches of the large benchmark bot (5 versions of 200 intents, 5,000 commits), one replica\n');
  console.log(
    table(
      ['what', 'time'],
      [
        [
          'a fresh replica: first fetch (a clone) to served (process start included)',
          `${large.firstServedMs.toFixed(0)} ms`,
        ],
        ['… to ready, the NLU models of its 5 versions trained', `${(large.readyMs / 1000).toFixed(1)} s`],
        ['a fetch that brings nothing new (median of 10)', `${large.nothingMs.toFixed(0)} ms`],
        [
          `a fetch that brings a new version (${large.intents} intents rewritten, staging promoted)`,
          `${large.newVersionFetchMs.toFixed(0)} ms`,
        ],
        [
          '… that new version, from the push (and webhook) to served by the replica',
          `${large.newVersionServedMs.toFixed(0)} ms`,
        ],
      ],
    ),
  );
  const missed = [];
  if (dialog.ratio < 0.7) missed.push(`dialog Redis ${dialog.ratio}x of memory`);
  if (dialog.redis.p99 >= 20) missed.push(`dialog Redis p99 ${dialog.redis.p99} ms`);
  if (viaWebhook.p99 >= 1000) missed.push(`push served p99 ${viaWebhook.p99.toFixed(0)} ms`);
  const resultsDir = join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  finishReport({
    file: join(resultsDir, 'fleet.json'),
    root: ROOT,
    report: {
      benchmark: 'fleet',
      generatedAt: new Date().toISOString(),
      host: hostInfo(),
      dialog,
      viaWebhook,
      viaPolling,
      large,
      missedTargets: missed,
    },
    failures: [],
    missed,
    enforce: flag('--enforce-targets'),
  });
}

main()
  .catch((err) => {
    console.error(err.stack ?? err);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) c.kill('SIGKILL');
    if (!keep) rmSync(work, { recursive: true, force: true });
  });
