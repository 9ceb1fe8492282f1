#!/usr/bin/env node
// Benchmark of the console (issue #12): its weight and how fast it shows data.
//
//   1. Weight: the console's files as `botver serve` sends them to a browser (gzip), JavaScript
//      and CSS against the 150 KB target; the raw sizes beside them.
//   2. First render with data: Debian's Chromium (playwright-core) opens /console/ already signed
//      in (the session storage set before the page's scripts run), with an empty cache each time;
//      timed from navigation start, in the page's own clock, until the Overview shows every
//      environment's card, and until the Monitor's feed shows its rows and the first chart is
//      drawn (a MutationObserver records the moment). DOMContentLoaded beside it: the floor that
//      any page of that size has. On the example bot with 200 requests in the log.
//
// Usage: node bench/console.bench.js [--quick] [--runs N] [--enforce-targets]
//   --runs N   page loads per page (default 15; --quick 5)
// Environment: BOTVER_CHROMIUM=path (default /usr/bin/chromium).
// Prints markdown tables and writes bench/results/console.json.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import {
  BENCH_ENV,
  BenchError,
  benchArgs,
  finishReport,
  fmtMs,
  hostInfo,
  median,
  percentile,
  table,
} from './measure.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const BOTVER = join(ROOT, 'bin', 'botver.js');
const RESULTS = join(BENCH_DIR, 'results', 'console.json');
const CHROMIUM = process.env.BOTVER_CHROMIUM ?? '/usr/bin/chromium';
const ADMIN = 'bench-admin-token-7d1e';
const TARGET_KB = 150;
const TARGET_RENDER_MS = 1000;

const { flag, opt } = benchArgs();
const quick = flag('--quick');
const runs = Number(opt('--runs') ?? (quick ? 5 : 15));

/** The example bot in a temporary folder, with its tokens. */
function exampleRepo(dir) {
  const tokensFile = join(dir, 'tokens.json');
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'scripts', 'make-example-repo.js'), join(dir, 'bot'), '--tokens-file', tokensFile],
    {
      env: { ...process.env, ...BENCH_ENV },
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new BenchError(`make-example-repo failed: ${r.stderr}`);
  return { repo: join(dir, 'bot'), tokensFile };
}

async function startServe(repo) {
  const child = spawn(process.execPath, [BOTVER, 'serve', '--repo', repo, '--port', '0'], {
    env: { ...process.env, ...BENCH_ENV, BOTVER_ADMIN_TOKEN: ADMIN, BOTVER_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    let partial = '';
    child.stdout.on('data', (c) => {
      partial += c;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const entry = line.trim() ? JSON.parse(line) : {};
        if (entry.msg === 'resolver listening') resolve(entry.url);
      }
    });
    child.once('exit', (code) => reject(new BenchError(`botver serve exited ${code}`)));
  });
  for (;;) {
    if ((await fetch(`${url}/readyz`)).status === 200) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url };
}

async function main() {
  const tmp = mkdtempSync(join(os.tmpdir(), 'botver-bench-console-'));
  const { repo, tokensFile } = exampleRepo(tmp);
  const tokens = JSON.parse(readFileSync(tokensFile, 'utf8'));
  const { child, url } = await startServe(repo);
  const failures = [];
  const missed = [];
  const report = {
    host: hostInfo({ chromium: spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).stdout.trim() }),
  };
  console.log('# botver console\n');
  try {
    // Traffic for the feed and the charts: 200 NLU requests on both environments.
    const texts = [
      'hello there',
      'I would like a large pizza',
      'where is my order 1234',
      'what is the capital of peru',
    ];
    for (let i = 0; i < 200; i++) {
      const token = i % 2 ? tokens.environments.production : tokens.environments.staging;
      const res = await fetch(`${url}/v2/request`, {
        method: 'POST',
        headers: { Authorization: `Token ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ text: texts[i % texts.length], language: 'en' }),
      });
      if (res.status !== 200) throw new BenchError(`/v2/request answered ${res.status}`);
      await res.arrayBuffer();
    }

    // 1. Weight, as sent.
    const index = await (await fetch(`${url}/console/`)).text();
    const files = ['', ...[...index.matchAll(/(?:src|href)="\.\/([^"]+)"/g)].map((m) => m[1])];
    const weights = [];
    for (const name of files) {
      const gz = await fetch(`${url}/console/${name}`, { headers: { 'Accept-Encoding': 'gzip' } });
      const raw = await fetch(`${url}/console/${name}`, { headers: { 'Accept-Encoding': 'identity' } });
      // fetch decompresses: the header says what travelled.
      const gzipBytes = Number(gz.headers.get('content-length'));
      const rawBytes = (await raw.arrayBuffer()).byteLength;
      await gz.arrayBuffer();
      weights.push({ file: name || 'index.html', type: gz.headers.get('content-type'), gzipBytes, rawBytes });
    }
    const jsCss = weights.filter((w) => /javascript|css/.test(w.type ?? ''));
    const jsCssKb = jsCss.reduce((a, w) => a + w.gzipBytes, 0) / 1024;
    report.weight = { files: weights, jsCssGzipKb: jsCssKb, targetKb: TARGET_KB };
    if (jsCssKb >= TARGET_KB) missed.push(`JS+CSS ${jsCssKb.toFixed(1)} KB gzip`);
    console.log('## Weight (as sent by botver serve)\n');
    console.log(
      table(
        ['file', 'gzip', 'raw'],
        [
          ...weights.map((w) => [
            w.file,
            `${(w.gzipBytes / 1024).toFixed(1)} KB`,
            `${(w.rawBytes / 1024).toFixed(1)} KB`,
          ]),
          [
            '**JS + CSS**',
            `**${jsCssKb.toFixed(1)} KB**`,
            `target < ${TARGET_KB} KB gzip: ${jsCssKb < TARGET_KB ? 'met' : 'MISSED'}`,
          ],
        ],
        ['', 'right', 'right'],
      ),
    );

    // 2. First render with data.
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    /** @type {Record<'overview' | 'monitor' | 'domContentLoaded', number[]>} */
    const timings = { overview: [], monitor: [], domContentLoaded: [] };
    const environments = Object.keys(tokens.environments).length;
    try {
      // Ready: at least `count` elements match `selector`, and `also` matches one (if given).
      for (const [page, hash, ready] of /** @type {const} */ ([
        ['overview', '#/overview', { selector: 'main article', count: environments, also: null }],
        ['monitor', '#/monitor', { selector: 'main tbody tr', count: 1, also: 'main canvas' }],
      ])) {
        for (let i = 0; i < runs; i++) {
          const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
          await context.addInitScript(
            ({ token, check: { selector, count, also } }) => {
              sessionStorage.setItem('botver.adminToken', token);
              sessionStorage.setItem('botver.name', 'Bench Runner');
              sessionStorage.setItem('botver.email', 'bench@botver.example');
              // The moment the page first satisfies `check`, in its own clock (ms since navigation start).
              const done = () =>
                document.querySelectorAll(selector).length >= count && (also === null || document.querySelector(also));
              const observer = new MutationObserver(() => {
                if (!done()) return;
                globalThis.__botverReady = performance.now();
                observer.disconnect();
              });
              document.addEventListener('DOMContentLoaded', () =>
                observer.observe(document.documentElement, { childList: true, subtree: true }),
              );
            },
            { token: ADMIN, check: ready },
          );
          const tab = await context.newPage();
          await tab.goto(`${url}/console/${hash}`);
          await tab.waitForFunction(() => globalThis.__botverReady !== undefined, null, { timeout: 15_000 });
          const t = await tab.evaluate(() => ({
            ready: globalThis.__botverReady,
            dcl:
              /** @type {PerformanceNavigationTiming | undefined} */ (performance.getEntriesByType('navigation')[0])
                ?.domContentLoadedEventEnd ?? null,
          }));
          timings[page].push(t.ready);
          if (page === 'overview' && t.dcl !== null) timings.domContentLoaded.push(t.dcl);
          await context.close();
        }
      }
    } finally {
      await browser.close();
    }
    const row = (what, values, target) => {
      const p50 = median(values);
      const p90 = percentile(values, 90);
      const max = Math.max(...values);
      if (target && max >= target) missed.push(`${what} max ${fmtMs(max)}`);
      return [
        what,
        fmtMs(p50),
        fmtMs(p90),
        fmtMs(max),
        target ? `< ${fmtMs(target)}: ${max < target ? 'met' : 'MISSED'}` : 'floor',
      ];
    };
    report.render = { runs, timings, targetMs: TARGET_RENDER_MS };
    console.log(`\n## First render with data (${runs} loads each, empty cache, Chromium, 1280 px)\n`);
    console.log(
      table(
        ['measure, from navigation start', 'median', 'p90', 'max', 'target'],
        [
          row('Overview: every environment card shown', timings.overview, TARGET_RENDER_MS),
          row('Monitor: feed rows and a chart drawn', timings.monitor, TARGET_RENDER_MS),
          row('DOMContentLoaded (any page this size)', timings.domContentLoaded),
        ],
        ['', 'right', 'right', 'right', ''],
      ),
    );
  } catch (err) {
    failures.push({ what: 'console', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  } finally {
    child.kill('SIGTERM');
    rmSync(tmp, { recursive: true, force: true });
  }
  finishReport({ file: RESULTS, root: ROOT, report, failures, missed, enforce: flag('--enforce-targets') });
}

await main();
