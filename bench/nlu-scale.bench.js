#!/usr/bin/env node
// NLU at the size of real assistants (issue #11), in process (dist/nlu/engine.js: trainModel,
// NluModel.analyse, the manifest's default threshold 0.5 applied as /v2/request applies it):
//   1. Banking77 (Casanueva et al. 2020, CC BY 4.0; read from BOTVER_CORPORA/banking77, by
//      default from a `corpora/banking77` folder found beside the checkout or one of its
//      parents' sibling folders; nothing of it is copied here): 77 intents, 10,003 training expressions, the 3,080 test
//      sentences; accuracy of the top intent, and at the threshold (no intent counts as wrong).
//   2. Out of scope: (a) cross-domain: every sentence of the three Braun et al. corpora (Ubuntu,
//      web applications, a travel chatbot; bench/.cache/nlu-corpora, see nlu.bench.js) sent to
//      the Banking77 model; (b) Banking77-OOS-style: the model trained on two intents in three,
//      the test sentences of the others are out of scope (hard: they are banking questions too);
//      then the same bot given out-of-scope examples (the training expressions of half of the
//      other intents), measured on the other half.
//   3. What each confidence band holds (in-scope Banking77 test): the mean confidence and the
//      share that is right, so one can see what a threshold means.
//   4. Training time (median of 3 after a warm-up for 1k; one run for the larger) and model
//      size at 1,000 expressions (40 synthetic intents), 10,003 (Banking77) and 14,476 (150
//      intents: Banking77's, and each again with its words reversed), with the time to load the
//      model and analyse's p50/p99 on it.
// Anchors (published, not re-run): Banking77 fine-tuned BERT 0.930, USE 0.928, USE+ConveRT
// 0.934 (Casanueva et al.); 150-intent CLINC in-scope: Dialogflow 0.917, Rasa 0.915, linear
// SVM 0.910, BERT 0.969; OOS recall Rasa 0.453 (Larson et al. 2019).
//
// Usage: node bench/nlu-scale.bench.js [--quick] [--enforce-targets]
// Prints markdown tables and writes bench/results/nlu-scale.json.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from './fixture.js';
import {
  BENCH_ENV,
  BenchError,
  benchArgs,
  finishReport,
  freePort,
  hostInfo,
  median,
  percentile,
  table,
} from './measure.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BANKING = join(process.env.BOTVER_CORPORA ?? findCorpora() ?? 'corpora', 'banking77');
const BRAUN = join(ROOT, 'bench', '.cache', 'nlu-corpora');
const { flag } = benchArgs();
const QUICK = flag('--quick');
const TARGETS = { banking: 0.9, oosRecall: 0.45, train15kMs: 10_000 };
const f3 = (x) => x.toFixed(3);

/** A `corpora` folder holding banking77, beside the checkout or an ancestor, or in a sibling of one. */
function findCorpora() {
  for (let dir = dirname(ROOT); dir !== dirname(dir); dir = dirname(dir)) {
    const candidates = [
      join(dir, 'corpora'),
      ...readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => join(dir, e.name, 'corpora')),
    ];
    const found = candidates.find((c) => existsSync(join(c, 'banking77', 'train.csv')));
    if (found) return found;
  }
  return null;
}

/** RFC 4180 CSV (quoted fields may hold commas, quotes and newlines); the header row dropped. */
function csv(file) {
  const text = readFileSync(file, 'utf8');
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch !== '"') field += ch;
      else if (text[i + 1] === '"') {
        field += '"';
        i++;
      } else quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else if (ch !== '\r') field += ch;
  }
  if (field || row.length) rows.push([...row, field]);
  // Labels as intent slugs (lowercase, no underscore): Refund_not_showing_up -> refund-not-showing-up.
  return rows.slice(1).map(([text, label]) => ({
    text: /** @type {string} */ (text),
    label: /** @type {string} */ (label)
      .toLowerCase()
      .replace(/[^a-z0-9.-]+/g, '-')
      .replace(/-+$/, ''),
  }));
}

/**
 * The real path: the bundles as YAML intent files on version branches of a repository (the
 * example bot's, its files removed: v2 = Banking77, served to staging; v1 = the 150 intents,
 * served to production), `botver serve` in its own process, and POST /v2/request:
 *   - from start to each model answering (the resolver trains them in its worker);
 *   - every Banking77 test sentence, the top intent at the manifest's threshold;
 *   - 16 connections on the 150-intent model, against a bare node:http server calling the
 *     same model file (bench/bare-nlu-server.js), in alternating rounds.
 */
async function servedSection(banking, large, test, seconds) {
  const { makeExampleRepo } = await import(join(ROOT, 'scripts', 'make-example-repo.js'));
  const { commitFiles, openBotRepo } = await import(join(ROOT, 'dist', 'index.js'));
  const { stringify } = await import('yaml');
  const autocannon = (await import('autocannon')).default;
  const tmp = mkdtempSync(join(os.tmpdir(), 'botver-bench-nlu-scale-'));
  const children = [];
  try {
    const example = await makeExampleRepo({ dir: join(tmp, 'bot'), tokensFile: join(tmp, 'tokens.json') });
    const repo = await openBotRepo({ repo: example.dir });
    for (const [branch, bundle] of /** @type {const} */ ([
      ['v2', banking],
      ['v1', large],
    ])) {
      const listed = spawnSync('git', ['ls-tree', '-r', '--name-only', branch], { cwd: example.dir, encoding: 'utf8' });
      /** @type {Record<string, string | null>} */
      const files = Object.fromEntries(
        listed.stdout
          .trim()
          .split('\n')
          .filter((f) => /^(training|skills|tests)\//.test(f))
          .map((f) => [f, null]),
      );
      for (const intent of bundle.intents) files[`training/intents/${intent.slug}.yaml`] = stringify(intent);
      await commitFiles(repo, branch, files, `bench: ${bundle.intents.length} intents`);
    }
    const head = (branch) =>
      spawnSync('git', ['rev-parse', branch], { cwd: example.dir, encoding: 'utf8' }).stdout.trim();
    /** @type {Record<string, string>} */
    const heads = { banking: head('v2'), large: head('v1') };
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const started = performance.now();
    const server = spawn(
      process.execPath,
      [join(ROOT, 'bin', 'botver.js'), 'serve', '--repo', example.dir, '--port', String(port)],
      {
        env: { ...process.env, ...BENCH_ENV, BOTVER_LOG_LEVEL: 'warn' },
        stdio: 'ignore',
      },
    );
    children.push(server);
    const ask = (token, text) =>
      fetch(`${url}/v2/request`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
      }).catch(() => null);
    const { staging, production } = example.tokens.environments;
    /** @type {{banking?: number, large?: number}} */
    const readyMs = {};
    for (let i = 0; Object.keys(readyMs).length < 2; i++) {
      if (i > 12_000) throw new BenchError('the models were not served within 2 minutes');
      for (const [name, token] of [
        ['banking', staging],
        ['large', production],
      ]) {
        if (readyMs[/** @type {'banking' | 'large'} */ (name)] !== undefined) continue;
        const res = await ask(token, 'hello');
        // Answered by the model of the commit just made (not an older one while it trains).
        const answered = res?.status === 200 ? (await res.json()).results.botver.commit : await res?.arrayBuffer();
        if (answered === heads[name]) readyMs[/** @type {'banking' | 'large'} */ (name)] = performance.now() - started;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    let right = 0;
    for (const { text, label } of test) {
      const res = /** @type {Response} */ (await ask(staging, text));
      if (res.status !== 200) throw new BenchError(`POST /v2/request answered ${res.status}`);
      if ((await res.json()).results.intents[0]?.slug === label) right++;
    }
    const v1 = heads.large;
    const models = join(example.dir, '.git', 'botver', 'models');
    const modelFile = join(models, `${v1}.v4.json`);
    if (!existsSync(modelFile))
      throw new BenchError(`no model file for v1 (${v1}) in ${models}: ${readdirSync(models).join(', ')}`);
    const barePort = await freePort();
    const bare = spawn(
      process.execPath,
      [join(ROOT, 'bench', 'bare-nlu-server.js'), '--port', String(barePort), '--model', modelFile],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    children.push(bare);
    await new Promise((resolve, reject) => {
      bare.stdout.once('data', resolve);
      bare.once('exit', (code) => reject(new BenchError(`the bare server exited (${code})`)));
    });
    const requests = test.slice(0, 200).map(({ text }) => ({
      method: 'POST',
      path: '/v2/request',
      headers: { authorization: `Bearer ${production}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text }),
    }));
    const load = async (/** @type {string} */ target) => {
      /** @type {number[]} */
      const latencies = [];
      const r = await new Promise((done, fail) => {
        const run = autocannon({ url: target, connections: 16, duration: seconds, requests }, (err, result) =>
          err ? fail(err) : done(result),
        );
        run.on('response', (_c, _s, _b, ms) => latencies.push(ms));
      });
      if (r.non2xx || r.errors) throw new BenchError(`${target}: ${r.non2xx} non-2xx, ${r.errors} errors`);
      return { requests: r.requests.total, seconds: r.duration, latencies };
    };
    const targets = { resolver: url, bare: `http://127.0.0.1:${barePort}` };
    /** @typedef {{requests: number, seconds: number, latencies: number[]}} Acc */
    const acc = {
      resolver: /** @type {Acc} */ ({ requests: 0, seconds: 0, latencies: [] }),
      bare: /** @type {Acc} */ ({ requests: 0, seconds: 0, latencies: [] }),
    };
    await load(targets.resolver);
    await load(targets.bare);
    for (let round = 0; round < 2; round++)
      for (const name of round % 2
        ? /** @type {const} */ (['bare', 'resolver'])
        : /** @type {const} */ (['resolver', 'bare'])) {
        const r = await load(targets[name]);
        const into = acc[name];
        into.requests += r.requests;
        into.seconds += r.seconds;
        into.latencies.push(...r.latencies);
      }
    const figures = (a) => ({
      rps: a.requests / a.seconds,
      p50: percentile(a.latencies, 50),
      p99: percentile(a.latencies, 99),
    });
    return {
      readyMs,
      bankingAccuracy: right / test.length,
      resolver: figures(acc.resolver),
      bare: figures(acc.bare),
    };
  } finally {
    for (const c of children) c.kill('SIGTERM');
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** @param {{text: string, label: string}[]} examples */
function bundleOf(examples) {
  /** @type {Map<string, string[]>} */
  const by = new Map();
  for (const { text, label } of examples) by.set(label, [...(by.get(label) ?? []), text]);
  return {
    intents: [...by].map(([slug, expressions]) => ({ slug, expressions })),
    entities: [],
    skills: [],
    tests: [],
  };
}

async function main() {
  if (!existsSync(join(BANKING, 'train.csv')))
    throw new BenchError(`Banking77 is not in ${BANKING}: set BOTVER_CORPORA to the folder that holds banking77/`);
  if (!existsSync(join(BRAUN, 'AskUbuntuCorpus.json')))
    throw new BenchError(`the Braun corpora are not in ${BRAUN}: run bench/nlu.bench.js once to fetch them`);
  const engine = await import(join(ROOT, 'dist', 'nlu', 'engine.js'));
  const train = csv(join(BANKING, 'train.csv'));
  const test = csv(join(BANKING, 'test.csv'));
  const braun = ['ChatbotCorpus', 'AskUbuntuCorpus', 'WebApplicationCorpus'].flatMap((n) =>
    JSON.parse(readFileSync(join(BRAUN, `${n}.json`), 'utf8')).sentences.map((s) => s.text),
  );
  const threshold = 0.5;
  console.log('# botver NLU at scale\n');

  const trainTimed = async (bundle) => {
    const t0 = performance.now();
    const json = await engine.trainModel({ bundle, language: 'en' });
    const trainMs = performance.now() - t0;
    const t1 = performance.now();
    const model = await engine.NluModel.load(json);
    const loadMs = performance.now() - t1;
    // The classifier's typed arrays and feature index, as the model counts them (a heap delta
    // after a collection was too noisy here, the training's garbage going at the same time).
    return { model, json, trainMs, loadMs, bytes: model.classifierBytes };
  };
  const topOf = async (model, text) => (await model.analyse(text, 'en')).intents[0];

  // 1-3. Banking77
  process.stdout.write('running: Banking77 (77 intents) ... ');
  const bank = await trainTimed(bundleOf(train));
  let top1 = 0;
  let atThreshold = 0;
  const bands = Array.from({ length: 5 }, () => ({ n: 0, right: 0, confidence: 0 }));
  const latencies = [];
  for (const { text, label } of test) {
    const t0 = performance.now();
    const best = await topOf(bank.model, text);
    latencies.push(performance.now() - t0);
    const right = best?.slug === label;
    if (right) top1++;
    if (right && best.confidence >= threshold) atThreshold++;
    const band = /** @type {(typeof bands)[number]} */ (bands[Math.min(4, Math.floor((best?.confidence ?? 0) * 5))]);
    band.n++;
    band.confidence += best?.confidence ?? 0;
    if (right) band.right++;
  }
  let crossRejected = 0;
  for (const text of braun) if (((await topOf(bank.model, text))?.confidence ?? 0) < threshold) crossRejected++;
  console.log(`${f3(atThreshold / test.length)} at the threshold`);

  process.stdout.write('running: Banking77, two intents in three in scope, the others out of scope ... ');
  const labels = [...new Set(train.map((e) => e.label))].sort();
  const inScope = new Set(labels.filter((_, i) => i % 3 !== 2));
  /** In-scope accuracy (the right intent at the threshold) and out-of-scope recall (no intent) of a model. */
  const openSet = async (model, sentences) => {
    let inside = 0;
    let right = 0;
    let outsideCount = 0;
    let rejected = 0;
    for (const { text, label } of sentences) {
      const best = await topOf(model, text);
      const kept = best && best.confidence >= threshold;
      if (inScope.has(label)) {
        inside++;
        if (kept && best.slug === label) right++;
      } else {
        outsideCount++;
        if (!kept) rejected++;
      }
    }
    return { accuracy: right / inside, recall: rejected / outsideCount };
  };
  const split = await openSet((await trainTimed(bundleOf(train.filter((e) => inScope.has(e.label))))).model, test);
  console.log(`in scope ${f3(split.accuracy)}, out-of-scope recall ${f3(split.recall)}`);

  // The same, the bot given out-of-scope examples: the training expressions of half the
  // out-of-scope intents, as intent `out-of-scope`; measured on the test sentences of the other
  // half (kinds of message it was not shown) and of the in-scope intents.
  process.stdout.write('running: the same with out-of-scope examples (half the other intents) ... ');
  const outside = labels.filter((l) => !inScope.has(l));
  const shown = new Set(outside.filter((_, i) => i % 2 === 0));
  const taughtModel = await trainTimed(
    bundleOf([
      ...train.filter((e) => inScope.has(e.label)),
      ...train.filter((e) => shown.has(e.label)).map((e) => ({ text: e.text, label: 'out-of-scope' })),
    ]),
  );
  const taught = await openSet(
    taughtModel.model,
    test.filter((e) => !shown.has(e.label)),
  );
  console.log(`in scope ${f3(taught.accuracy)}, out-of-scope recall ${f3(taught.recall)}`);

  // 4. training at 1k, 10k, 15k
  process.stdout.write('running: training 1,000 / 10,003 / 14,476 expressions ... ');
  const rand = mulberry32(0x1000);
  const words = ['cancel', 'book', 'change', 'find', 'pay', 'order', 'track', 'return', 'open', 'close'];
  const nouns = ['flight', 'hotel', 'card', 'account', 'pizza', 'parcel', 'table', 'ticket'];
  const thousand = bundleOf(
    Array.from({ length: 1000 }, (_, i) => {
      const label = `${words[i % 10]}-${nouns[Math.floor(i / 10) % 4]}`;
      const filler = ['please', 'now', 'today', 'for me', 'quickly', ''][Math.floor(rand() * 6)];
      return { text: `I want to ${label.replace('-', ' my ')} ${filler} ${Math.floor(rand() * 100)}`, label };
    }),
  );
  const runs = [];
  for (let i = 0; i < (QUICK ? 2 : 4); i++) runs.push((await trainTimed(thousand)).trainMs);
  const doubled = [];
  const byLabel = bundleOf(train).intents;
  for (const intent of byLabel) {
    doubled.push({ slug: intent.slug, expressions: intent.expressions.slice(0, 100) });
    if (doubled.length < 150)
      doubled.push({
        slug: `${intent.slug}-reversed`,
        expressions: intent.expressions.slice(0, 100).map((e) => `${e.split(' ').reverse().join(' ')} please now`),
      });
  }
  const large = { intents: doubled.slice(0, 150), entities: [], skills: [], tests: [] };
  const big = await trainTimed(large);
  const bigLatency = [];
  for (const { text } of test.slice(0, 1000)) {
    const t0 = performance.now();
    await big.model.analyse(text, 'en');
    bigLatency.push(performance.now() - t0);
  }
  const count = (b) => b.intents.reduce((n, i) => n + i.expressions.length, 0);
  console.log(`${Math.round(big.trainMs)} ms for ${count(large)}`);

  process.stdout.write('running: the real path: YAML on version branches, botver serve, POST /v2/request ... ');
  const served = await servedSection(bundleOf(train), large, test, QUICK ? 3 : 5);
  console.log(`Banking77 ${f3(served.bankingAccuracy)}, p99 ${served.resolver.p99.toFixed(1)} ms`);

  const rows = {
    served: [
      [
        'Banking77 through POST /v2/request (YAML on a version branch, the manifest threshold)',
        f3(served.bankingAccuracy),
        '',
        `≥ ${TARGETS.banking}: ${served.bankingAccuracy >= TARGETS.banking ? 'met' : 'MISSED'}`,
      ],
      [
        'from `botver serve` started to answering: Banking77 / 150 intents (both trained in its worker)',
        `${((served.readyMs.banking ?? 0) / 1000).toFixed(1)} s / ${((served.readyMs.large ?? 0) / 1000).toFixed(1)} s`,
        '',
        '',
      ],
      [
        'POST /v2/request on the 150-intent model, 16 connections: req/s, p50 / p99',
        `${Math.round(served.resolver.rps)}, ${served.resolver.p50.toFixed(1)} / ${served.resolver.p99.toFixed(1)} ms`,
        `bare node:http, same model: ${Math.round(served.bare.rps)}, ${served.bare.p50.toFixed(1)} / ${served.bare.p99.toFixed(1)} ms (${(served.resolver.rps / served.bare.rps).toFixed(2)}x)`,
        `p99 < 15 ms: ${served.resolver.p99 < 15 ? 'met' : 'MISSED'}`,
      ],
    ],
    accuracy: [
      ['Banking77, top intent', f3(top1 / test.length), 'BERT 0.930, USE 0.928, USE+ConveRT 0.934', ''],
      [
        `Banking77 at the default threshold (${threshold}; below it, no intent: counted wrong)`,
        f3(atThreshold / test.length),
        '',
        `≥ ${TARGETS.banking}: ${atThreshold / test.length >= TARGETS.banking ? 'met' : 'MISSED'}`,
      ],
      [
        'out of scope, cross-domain: the 736 Braun sentences sent to the Banking77 model, recall',
        f3(crossRejected / braun.length),
        'Rasa 0.453 (CLINC)',
        `≥ ${TARGETS.oosRecall}: ${crossRejected / braun.length >= TARGETS.oosRecall ? 'met' : 'MISSED'}`,
      ],
      [
        `Banking77-OOS style (${inScope.size} intents in scope, ${outside.length} out): in-scope accuracy`,
        f3(split.accuracy),
        '',
        '',
      ],
      ['… out-of-scope recall (other banking questions: the hard case)', f3(split.recall), '', ''],
      [
        `… with out-of-scope examples (the training expressions of ${shown.size} of the ${outside.length} other intents): in-scope accuracy`,
        f3(taught.accuracy),
        '',
        '',
      ],
      [
        `… out-of-scope recall on the other ${outside.length - shown.size} intents' sentences (kinds it was not shown)`,
        f3(taught.recall),
        '',
        '',
      ],
    ],
    bands: bands.map((b, i) => [
      `${(i / 5).toFixed(1)}–${((i + 1) / 5).toFixed(1)}`,
      b.n,
      b.n ? f3(b.confidence / b.n) : '',
      b.n ? f3(b.right / b.n) : '',
    ]),
    training: [
      ['1,000 (40 intents)', `${Math.round(median(runs.slice(1)))} ms`, '', '', '', ''],
      [
        `${count(bundleOf(train)).toLocaleString('en')} (Banking77, 77 intents)`,
        `${Math.round(bank.trainMs)} ms`,
        `${(bank.json.length / 1e6).toFixed(1)} MB`,
        `${(bank.bytes / 1e6).toFixed(1)} MB`,
        `${Math.round(bank.loadMs)} ms`,
        `${percentile(latencies, 50).toFixed(2)} / ${percentile(latencies, 99).toFixed(2)} ms`,
      ],
      [
        `${count(large).toLocaleString('en')} (150 intents)`,
        `${Math.round(big.trainMs)} ms`,
        `${(big.json.length / 1e6).toFixed(1)} MB`,
        `${(big.bytes / 1e6).toFixed(1)} MB`,
        `${Math.round(big.loadMs)} ms`,
        `${percentile(bigLatency, 50).toFixed(2)} / ${percentile(bigLatency, 99).toFixed(2)} ms`,
      ],
    ],
  };
  console.log('\n## through the resolver\n');
  console.log(table(['measure', 'botver', 'anchor', 'target'], rows.served));
  console.log('\n## accuracy and out of scope (in process)\n');
  console.log(table(['measure', 'botver', 'anchor', 'target'], rows.accuracy));
  console.log('\n## what each confidence band holds (Banking77 test, top intent)\n');
  console.log(table(['confidence', 'sentences', 'mean confidence', 'share right'], rows.bands));
  console.log('\n## training (in process, one thread), model size, analyse\n');
  console.log(
    table(
      ['expressions', 'training', 'model (JSON)', 'classifier in memory', 'load', 'analyse p50 / p99'],
      rows.training,
    ),
  );

  const missed = [];
  if (atThreshold / test.length < TARGETS.banking) missed.push(`Banking77 ${f3(atThreshold / test.length)}`);
  if (crossRejected / braun.length < TARGETS.oosRecall) missed.push('out-of-scope recall');
  if (served.bankingAccuracy < TARGETS.banking)
    missed.push(`Banking77 through /v2/request ${f3(served.bankingAccuracy)}`);
  if (served.resolver.p99 >= 15) missed.push(`/v2/request p99 ${served.resolver.p99.toFixed(1)} ms`);
  if (big.trainMs >= TARGETS.train15kMs) missed.push(`training 15k in ${Math.round(big.trainMs)} ms`);
  const resultsDir = join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  finishReport({
    file: join(resultsDir, 'nlu-scale.json'),
    root: ROOT,
    report: {
      benchmark: 'nlu-scale',
      generatedAt: new Date().toISOString(),
      host: hostInfo(),
      rows,
      missedTargets: missed,
    },
    failures: [],
    missed,
    enforce: flag('--enforce-targets'),
  });
}

main().catch((err) => {
  console.error(err.stack ?? err);
  process.exitCode = 1;
});
