#!/usr/bin/env node
// Benchmark of botver's NLU (dist/nlu/: the intent classifier trained per version, POST /v2/request).
//
// Sections:
//   1. Intent accuracy on the three public corpora of Braun et al. 2017 (Chatbot, AskUbuntu,
//      WebApplications; CC BY-SA 3.0), the ones NLP.js's own benchmark used: a bundle is built
//      from each corpus's training split (one intent per corpus intent, its `None` as intent
//      `none`), trained with trainModel, loaded with NluModel.load, and every sentence of the
//      test split classified with model.analyse. The prediction is the top intent, or `none`
//      when analyse returns no intent. One label per sentence, so micro-F1 = accuracy.
//      Compared with NLP.js's published figures; a few variants (threshold, `none` handling,
//      entities) show what moves the figure.
//      The corpora come from the npm package node-nlp@2.4.2 (examples/nlu-benchmark/), fetched
//      once with `npm pack` into bench/.cache/nlu-corpora/ (git-ignored).
//   2. Training time for 1,000 expressions (40 intents x 25, generated deterministically):
//      trainModel in this process (median of 3, after a warm-up), and the resolver's path
//      (ModelStore: a worker thread trains, the model is loaded and cached on disk).
//   3. POST /v2/request at 16 connections (autocannon, after a warm-up) on the example bot
//      (scripts/make-example-repo.js), the resolver in its own process, every connection sending
//      12 realistic sentences in turn; req/s, p50, p99, server CPU per answer. On the same server,
//      in alternating rounds: the same bot with its value-list entities rewritten as regexes
//      (committed onto v2, served to staging), which shows what the fuzzy entity search
//      costs; GET /v1/resolve for comparison; and model.analyse timed in-process (no HTTP).
//   4. Memory per loaded model: a child process (node --expose-gc) loads K copies of each model
//      (an almost empty one, the example bot's, the 1,000-expression one) and reports the heap
//      and RSS growth per model after garbage collection.
//
// Usage: node bench/nlu.bench.js [--quick] [--duration S] [--keep] [--enforce-targets]
//   --quick            shorter load test, fewer model copies (smoke test)
//   --duration S       measured seconds of /v2/request load (default 10; --quick 2)
//   --keep             keep the temporary repositories and models and print where they are
//   --enforce-targets  exit 1 when a target is missed (by default targets are only reported)
// Environment: BOTVER_BIN=path/to/cli.js benchmarks that entry point instead of bin/botver.js.
// Prints markdown tables and writes bench/results/nlu.json. Exits 1 if a section fails (a
// corpus cannot be fetched, the resolver does not start, a request answers other than 200).

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHE_DIR, mulberry32 } from './fixture.js';
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
  freePort,
} from './measure.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const SELF = fileURLToPath(import.meta.url);
const BOTVER = process.env.BOTVER_BIN ? resolve(process.env.BOTVER_BIN) : join(ROOT, 'bin', 'botver.js');
const DIST = join(ROOT, 'dist');
const RESULTS = join(BENCH_DIR, 'results', 'nlu.json');
const CORPUS_DIR = join(CACHE_DIR, 'nlu-corpora');
const NODE = process.execPath;
const HOST = '127.0.0.1';

const { argv, flag, opt } = benchArgs();
const QUICK = flag('--quick');
const KEEP = flag('--keep');
const ENFORCE = flag('--enforce-targets');
const DURATION_S = opt('--duration') ? Math.max(1, Number(opt('--duration'))) : QUICK ? 2 : 10;
const WARMUP_S = QUICK ? 1 : 3;
const RESOLVE_S = Math.max(1, Math.round(DURATION_S / 2)); // the /v1/resolve comparison
const CONNECTIONS = 16;
const TRAIN_RUNS = 3;
// copies of each kind of model loaded in the memory child (more of the small ones: their growth is small)
const MODEL_COPIES = QUICK ? { tiny: 20, example: 8, thousand: 4 } : { tiny: 50, example: 20, thousand: 10 };
const ANALYSE_ROUNDS = QUICK ? 20 : 100; // in-process analyse timing: rounds over the sentences
const READY_POLL_MS = 10;

const TARGETS = {
  microF1: 0.93, // overall, all three corpora: NLP.js's published overall figure
  p99Ms: 15, // /v2/request p99 at 16 connections
  trainMs: 5000, // training 1,000 expressions
};

// ---------------------------------------------------------------------------
// the corpora

const CORPUS_PACKAGE = 'node-nlp@2.4.2';
const CORPUS_SOURCE = `npm package ${CORPUS_PACKAGE}, package/examples/nlu-benchmark/ (from github.com/sebischair/NLU-Evaluation-Corpora)`;
const CORPUS_LICENSE =
  'CC BY-SA 3.0 (Braun, Hernandez-Mendez, Matthes, Langen: "Evaluating Natural Language Understanding Services for Conversational Question Answering Systems", SIGDIAL 2017)';
const CORPORA = [
  // published: NLP.js docs/v3/benchmarking.md, "Full data by system", NLP.js, Total rows (correct / test sentences)
  {
    key: 'chatbot',
    name: 'Chatbot',
    file: 'ChatbotCorpus.json',
    published: { f1: 0.991, correct: 105, total: 106 },
    split: { train: 100, test: 106 },
  },
  {
    key: 'askubuntu',
    name: 'Ask Ubuntu',
    file: 'AskUbuntuCorpus.json',
    published: { f1: 0.944, correct: 102, total: 108 },
    split: { train: 53, test: 109 },
  },
  {
    key: 'webapps',
    name: 'Web Applications',
    file: 'WebApplicationCorpus.json',
    published: { f1: 0.797, correct: 47, total: 59 },
    split: { train: 30, test: 59 },
  },
];
const PUBLISHED_OVERALL = { f1: 0.93, correct: 254, total: 273 };

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

/** The three corpus files, fetched once (npm pack + tar) into bench/.cache/nlu-corpora/. */
function ensureCorpora(log) {
  const missing = CORPORA.filter((c) => !existsSync(join(CORPUS_DIR, c.file)));
  let fetched = false;
  if (missing.length) {
    mkdirSync(CORPUS_DIR, { recursive: true });
    log(`fetching the corpora: npm pack ${CORPUS_PACKAGE} into ${relative(ROOT, CORPUS_DIR)}/ ...`);
    const pack = spawnSync('npm', ['pack', CORPUS_PACKAGE, '--json', '--silent'], {
      cwd: CORPUS_DIR,
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (pack.status !== 0)
      throw new BenchError(
        `npm pack ${CORPUS_PACKAGE} failed (${pack.error?.message ?? `exit ${pack.status}`}): ${(pack.stderr || pack.stdout).trim().split('\n').slice(-5).join('\n')}`,
      );
    let tgz;
    try {
      tgz = join(CORPUS_DIR, JSON.parse(pack.stdout)[0].filename);
    } catch {
      tgz = join(CORPUS_DIR, readdirSync(CORPUS_DIR).find((f) => f.endsWith('.tgz')) ?? 'node-nlp-2.4.2.tgz');
    }
    const members = CORPORA.map((c) => `package/examples/nlu-benchmark/${c.file}`);
    const tar = spawnSync('tar', ['-xzf', tgz, '-C', CORPUS_DIR, '--strip-components=3', ...members], {
      encoding: 'utf8',
    });
    if (tar.status !== 0) throw new BenchError(`tar -xzf ${tgz} failed: ${tar.stderr.trim()}`);
    rmSync(tgz, { force: true }); // only the three JSON files are kept
    writeFileSync(
      join(CORPUS_DIR, 'SOURCE.txt'),
      `${CORPORA.map((c) => c.file).join(', ')}: extracted from ${CORPUS_SOURCE}\nwith \`npm pack ${CORPUS_PACKAGE}\` on ${new Date().toISOString()}.\nLicense: ${CORPUS_LICENSE}.\n`,
    );
    fetched = true;
  }
  return {
    fetched,
    corpora: CORPORA.map((c) => {
      const bytes = readFileSync(join(CORPUS_DIR, c.file));
      const data = JSON.parse(bytes.toString('utf8'));
      if (!Array.isArray(data.sentences)) throw new BenchError(`${c.file} has no "sentences" array`);
      return { ...c, sha256: sha256(bytes), sentences: data.sentences };
    }),
  };
}

const SLUG = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** "Software Recommendation" -> "software-recommendation", "None" -> "none". */
function intentSlug(name) {
  const slug = String(name)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!SLUG.test(slug))
    throw new BenchError(`corpus intent "${name}" gives slug "${slug}", which is not a valid intent slug`);
  return slug;
}

/**
 * A bundle from a corpus's training sentences.
 *   dropNone: the corpus's None sentences are not trained (a bot's fallback takes what no intent gets)
 *   entities: the entity texts of the training sentences become value-list entities, and each such
 *             training sentence is also added with the entity text replaced by `@slug` (NLP.js's
 *             entity utterance, which it classifies besides the text when entities are found)
 */
function corpusBundle(sentences, { dropNone = false, entities = false } = {}) {
  const intents = new Map();
  const values = new Map();
  for (const s of sentences) {
    if (!s.training) continue;
    const slug = intentSlug(s.intent);
    if (dropNone && slug === 'none') continue;
    if (!intents.has(slug)) intents.set(slug, []);
    const expressions = intents.get(slug);
    if (!expressions.includes(s.text)) expressions.push(s.text);
    if (entities && s.entities?.length) {
      let text = s.text;
      for (const e of s.entities) {
        const es = intentSlug(e.entity);
        if (!values.has(es)) values.set(es, new Set());
        values.get(es).add(e.text);
        text = text.replace(e.text, `@${es}`);
      }
      if (text !== s.text && !expressions.includes(text)) expressions.push(text);
    }
  }
  return {
    intents: [...intents].map(([slug, expressions]) => ({ slug, expressions })),
    entities: [...values].map(([slug, v]) => ({ slug, values: [...v].map((value) => ({ value })) })),
    skills: [],
    tests: [],
  };
}

const VARIANTS = [
  {
    key: 'botver',
    label:
      'botver as is: training sentences as expressions, `none` an ordinary intent; top intent, `none` when analyse returns none',
    bundle: {},
    threshold: 0,
  },
  {
    key: 'threshold',
    label: 'as /v2/request answers (default nluThreshold 0.5): `none` when the top intent is below 0.5',
    bundle: {},
    threshold: 0.5,
  },
  {
    key: 'no-none',
    label: 'corpus `None` not trained (a fallback instead): `none` when no intent reaches 0.5',
    bundle: { dropNone: true },
    threshold: 0.5,
  },
  {
    key: 'entities',
    label: "with entities, as NLP.js's benchmark: training entity texts as value lists, + `@entity` expressions",
    bundle: { entities: true },
    threshold: 0,
  },
];

async function accuracySection(engine, log) {
  const { fetched, corpora } = ensureCorpora(log);
  process.stdout.write(
    `running: accuracy on ${corpora.map((c) => c.name).join(', ')} (${VARIANTS.length} variants) ... `,
  );
  const started = performance.now();
  const notes = [];
  for (const c of corpora) {
    const train = c.sentences.filter((s) => s.training).length;
    const test = c.sentences.length - train;
    if (train !== c.split.train || test !== c.split.test)
      notes.push(
        `${c.name}: ${train} training / ${test} test sentences, NLP.js's table says ${c.split.train} / ${c.split.test}`,
      );
    const distinct = new Set(c.sentences.filter((s) => s.training).map((s) => `${s.intent}\n${s.text}`)).size;
    if (distinct !== train)
      notes.push(
        `${c.name}: ${train - distinct} of its ${train} training sentences ${train - distinct === 1 ? 'is a repeat' : 'are repeats'} (same text and intent), trained once`,
      );
  }
  const variants = [];
  for (const v of VARIANTS) {
    const rows = [];
    for (const c of corpora) {
      const bundle = corpusBundle(c.sentences, v.bundle);
      const t0 = performance.now();
      const json = await engine.trainModel({ bundle, language: 'en' });
      const trainMs = performance.now() - t0;
      const model = await engine.NluModel.load(json);
      const perIntent = new Map(); // slug -> { tp, fp, fn }
      const count = (slug) => perIntent.get(slug) ?? perIntent.set(slug, { tp: 0, fp: 0, fn: 0 }).get(slug);
      const errors = [];
      let correct = 0;
      let total = 0;
      for (const s of c.sentences) {
        if (s.training) continue;
        const top = (await model.analyse(s.text)).intents[0];
        const predicted = top && top.confidence >= v.threshold ? top.slug : 'none';
        const expected = intentSlug(s.intent);
        total++;
        if (predicted === expected) {
          correct++;
          count(expected).tp++;
        } else {
          count(expected).fn++;
          count(predicted).fp++;
          errors.push({ expected, predicted, confidence: top?.confidence ?? null, text: s.text });
        }
      }
      rows.push({
        corpus: c.key,
        name: c.name,
        intents: bundle.intents.length,
        expressions: bundle.intents.reduce((n, i) => n + i.expressions.length, 0),
        entities: bundle.entities.length,
        trainMs: round(trainMs),
        correct,
        total,
        microF1: round(correct / total, 4),
        perIntent: Object.fromEntries([...perIntent].map(([slug, x]) => [slug, { ...x, ...prf(x) }])),
        errors,
      });
    }
    const correct = rows.reduce((n, r) => n + r.correct, 0);
    const total = rows.reduce((n, r) => n + r.total, 0);
    variants.push({
      key: v.key,
      label: v.label,
      threshold: v.threshold,
      bundle: v.bundle,
      rows,
      correct,
      total,
      microF1: round(correct / total, 4),
    });
  }
  const main = variants[0];
  console.log(
    `micro-F1 ${main.microF1.toFixed(3)} (${main.correct}/${main.total}) in ${fmtMs(performance.now() - started)}`,
  );
  return {
    source: CORPUS_SOURCE,
    license: CORPUS_LICENSE,
    cacheDir: relative(ROOT, CORPUS_DIR),
    fetched,
    files: corpora.map((c) => ({ file: c.file, sha256: c.sha256, sentences: c.sentences.length })),
    published: {
      source: 'NLP.js docs/v3/benchmarking.md (Full data by system, NLP.js, Total rows)',
      corpora: Object.fromEntries(CORPORA.map((c) => [c.key, c.published])),
      overall: PUBLISHED_OVERALL,
    },
    notes,
    variants,
  };
}

function prf({ tp, fp, fn }) {
  const precision = tp + fp ? tp / (tp + fp) : null;
  const recall = tp + fn ? tp / (tp + fn) : null;
  const f1 =
    precision && recall
      ? (2 * precision * recall) / (precision + recall)
      : precision === null && recall === null
        ? null
        : 0;
  return { precision: round(precision, 3), recall: round(recall, 3), f1: round(f1, 3) };
}

// ---------------------------------------------------------------------------
// 1,000 expressions, generated deterministically

const W = {
  openers: ['', '', '', 'hey', 'hi', 'hello', 'ok so', 'excuse me', 'quick question', 'um', 'sorry', 'good morning'],
  requests: [
    'can you',
    'could you',
    'I want to',
    "I'd like to",
    'help me',
    'I need to',
    'is it possible to',
    'how do I',
    'let me',
    'please',
    'where can I',
    'can I',
    'we need to',
    'I would like to',
  ],
  verbs: [
    'book',
    'cancel',
    'change',
    'check',
    'order',
    'find',
    'track',
    'update',
    'reset',
    'renew',
    'pay',
    'transfer',
    'schedule',
    'return',
    'upgrade',
    'compare',
    'report',
    'confirm',
    'close',
    'open',
  ],
  dets: ['my', 'a', 'the', 'our', 'this', 'that', 'another'],
  adjs: [
    '',
    '',
    '',
    'new',
    'old',
    'large',
    'cheap',
    'premium',
    'monthly',
    'next',
    'last',
    'shared',
    'family',
    'business',
  ],
  nouns: [
    'pizza',
    'flight',
    'account',
    'password',
    'table',
    'ticket',
    'subscription',
    'invoice',
    'delivery',
    'appointment',
    'hotel room',
    'card',
    'parcel',
    'refund',
    'plan',
    'car',
    'meeting',
    'reservation',
    'package',
    'insurance',
  ],
  tails: [
    '',
    '',
    '',
    'today',
    'tomorrow',
    'right now',
    'for tonight',
    'next week',
    'in Paris',
    'before friday',
    'as soon as possible',
    'please',
    'for two people',
    'online',
    'again',
    'from my phone',
    'this weekend',
    'at noon',
  ],
  puncts: ['', '', '?', '!', '.'],
};

/** 40 intents x 25 expressions = 1,000, each intent a verb + noun ("cancel a flight"). */
function thousandBundle({ intents = 40, expressions = 25, seed = 0x1000 } = {}) {
  const rand = mulberry32(seed);
  const pick = (a) => a[Math.floor(rand() * a.length)];
  const out = [];
  for (let i = 0; i < intents; i++) {
    const verb = /** @type {string} */ (W.verbs[i % W.verbs.length]);
    const noun = /** @type {string} */ (W.nouns[(i * 7 + Math.floor(i / W.verbs.length) * 3) % W.nouns.length]);
    const set = new Set();
    while (set.size < expressions) {
      const parts = [];
      const opener = pick(W.openers);
      if (opener) parts.push(opener + (rand() < 0.5 ? ',' : ''));
      parts.push(pick(W.requests), verb, pick(W.dets));
      const adj = pick(W.adjs);
      if (adj) parts.push(adj);
      parts.push(noun);
      const tail = pick(W.tails);
      if (tail) parts.push(tail);
      let s = parts.join(' ') + pick(W.puncts);
      if (rand() < 0.4) s = s.charAt(0).toUpperCase() + s.slice(1);
      set.add(s);
    }
    out.push({
      slug: `${verb}-${noun.replace(/ /g, '-')}`,
      description: `The user wants to ${verb} ${noun}`,
      expressions: [...set],
    });
  }
  if (new Set(out.map((x) => x.slug)).size !== intents)
    throw new BenchError('thousandBundle: two intents share a slug');
  return { intents: out, entities: [], skills: [], tests: [] };
}

/** Unseen sentences for the 1,000-expression model (in-process analyse timing). */
function thousandProbes(bundle, n = 20) {
  const rand = mulberry32(0xbeef);
  return Array.from({ length: n }, (_, k) => {
    const intent = bundle.intents[(k * 13) % bundle.intents.length];
    const [verb, ...rest] = intent.description.replace('The user wants to ', '').split(' ');
    return `${['hi there,', 'so', 'hello,', ''][k % 4]} ${['could I', 'I really need to', 'how can I'][Math.floor(rand() * 3)]} ${verb} the ${rest.join(' ')} ${['soon', 'later today', 'for my boss', ''][k % 4]}`.trim();
  });
}

// ---------------------------------------------------------------------------
// 2. training

async function trainingSection(engine, ModelStore, SILENT, bundle, tmp) {
  const expressions = bundle.intents.reduce((n, i) => n + i.expressions.length, 0);
  process.stdout.write(
    `running: training ${expressions.toLocaleString('en-US')} expressions (${bundle.intents.length} intents): in-process 1 + ${TRAIN_RUNS}, worker path 1 + ${TRAIN_RUNS} ... `,
  );
  const input = { bundle, language: 'en' };
  const inProcess = [];
  let json;
  for (let i = 0; i < TRAIN_RUNS + 1; i++) {
    const t0 = performance.now();
    json = await engine.trainModel(input);
    inProcess.push(performance.now() - t0);
  }
  const t0 = performance.now();
  const model = await engine.NluModel.load(json);
  const loadMs = performance.now() - t0;
  // sanity: the model knows its own training data
  let recalled = 0;
  for (const intent of bundle.intents)
    if ((await model.analyse(intent.expressions[0])).intents[0]?.slug === intent.slug) recalled++;

  // the resolver's path: ModelStore -> worker thread -> JSON back -> NluModel.load -> disk cache
  const gitdir = join(tmp, 'model-store.git');
  mkdirSync(gitdir, { recursive: true });
  const store = new ModelStore({ gitdir, logger: SILENT });
  const worker = [];
  try {
    for (let i = 0; i < TRAIN_RUNS + 1; i++) {
      const commit = sha256(`bench-commit-${i}`).slice(0, 40); // a fresh commit each time: no cache hit
      const t1 = performance.now();
      await store.get(commit, () => input);
      worker.push(performance.now() - t1);
    }
  } finally {
    await store.close();
  }
  const cached = readdirSync(join(gitdir, 'botver', 'models')).length;
  const r = {
    intents: bundle.intents.length,
    expressions,
    modelJsonBytes: Buffer.byteLength(json),
    inProcess: {
      firstMs: round(inProcess[0]),
      samplesMs: inProcess.slice(1).map((x) => round(x)),
      medianMs: round(median(inProcess.slice(1))),
    },
    loadMs: round(loadMs),
    recalled,
    worker: {
      firstMs: round(worker[0]),
      samplesMs: worker.slice(1).map((x) => round(x)),
      medianMs: round(median(worker.slice(1))),
      cachedFiles: cached,
    },
  };
  console.log(
    `in-process median ${fmtMs(r.inProcess.medianMs)}, worker path median ${fmtMs(r.worker.medianMs)} (first ${fmtMs(r.worker.firstMs)})`,
  );
  return { result: r, json };
}

// ---------------------------------------------------------------------------
// 3. /v2/request

const ENV = {
  ...BENCH_ENV,
  BOTVER_LOG_LEVEL: 'info',
  BOTVER_CONTROL_BRANCH: '',
  BOTVER_ADMIN_TOKEN: '',
};

/** What users of the example pizza bot type (none of them a training expression), and the intent expected. */
const SENTENCES = [
  ['hello there', 'greetings'],
  ["hi, I'd like a large pepperoni pizza please", 'order-pizza'],
  ['can I get a small pizza with mushrooms and ham', 'order-pizza'],
  ['two medium vegetarian pizzas for delivery at 7 please', 'order-pizza'],
  ["what's on the menu today?", 'ask-menu'],
  ['are you open on Saturday evening?', 'ask-opening-hours'],
  ['where is my order #AB1234?', 'order-status'],
  ['has my pizza left the shop yet?', 'order-status'],
  ['please cancel my order', 'cancel'],
  ['thank you very much', 'thanks'],
  ['ok bye now', 'goodbye'],
  ['do you have gluten free options?', null],
];

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
function cpuMsOf(pid) {
  try {
    // A malformed line throws here (no second part): reported as unknown (null) below.
    const fields = /** @type {string} */ (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}
function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return { rssKb: null, hwmKb: null };
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `botver serve` on `repo`, ready once /readyz answers 200 (which waits for the NLU models). */
async function startResolver(repo, timeoutMs = 60_000) {
  const port = await freePort();
  const url = `http://${HOST}:${port}`;
  const t0 = performance.now();
  const child = spawn(NODE, [BOTVER, 'serve', '--repo', repo, '--port', String(port), '--host', HOST], {
    env: { ...process.env, ...ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  let buffered = '';
  const trainedMs = [];
  const onData = (chunk) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) {
      if (line.includes('trained the NLU model')) trainedMs.push(JSON.parse(line).ms ?? null);
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
  for (;;) {
    if (exited)
      throw new BenchError(
        `botver serve exited (${exited.signal ?? exited.code}) before it was ready\n--- output (tail) ---\n${tail()}`,
      );
    if (performance.now() - t0 > timeoutMs) {
      child.kill('SIGKILL');
      throw new BenchError(`botver serve was not ready after ${timeoutMs} ms\n--- output (tail) ---\n${tail()}`);
    }
    const status = await fetch(`${url}/readyz`)
      .then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      })
      .catch(() => 0);
    if (status === 200) break;
    await sleep(READY_POLL_MS);
  }
  const readyMs = performance.now() - t0;
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(killer);
    }
    return /** @type {ExitStatus} */ (exited);
  };
  return { pid: child.pid, url, readyMs, trainedMs, lines, stop };
}

/** One autocannon run, added to `acc`; throws when anything but 200 came back. Latencies in ms at full resolution. */
async function loadRun(autocannon, options, seconds, pid, acc) {
  const cpu0 = cpuMsOf(pid);
  const latencies = [];
  const r = await new Promise((done, fail) => {
    const instance = autocannon({ connections: CONNECTIONS, duration: seconds, ...options }, (err, result) =>
      err ? fail(err) : done(result),
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
      `${options.url}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx (${codes}), ${r.resets} resets`,
    );
  }
  if (acc) {
    acc.requests += r.requests.total;
    acc.seconds += r.duration;
    for (const ms of latencies) acc.latencies.push(ms);
    acc.cpuMs = cpu0 === null || cpu1 === null || acc.cpuMs === null ? null : acc.cpuMs + (cpu1 - cpu0);
  }
}

const newAcc = () => ({ requests: 0, seconds: 0, latencies: [], cpuMs: 0 });
function summariseLoad(acc) {
  const l = acc.latencies;
  return {
    seconds: round(acc.seconds),
    requests: acc.requests,
    rps: round(acc.requests / acc.seconds, 1),
    p50Ms: round(percentile(l, 50)),
    p90Ms: round(percentile(l, 90)),
    p99Ms: round(percentile(l, 99)),
    maxMs: round(l.reduce((x, y) => Math.max(y, x), 0)),
    meanMs: round(l.reduce((x, y) => x + y, 0) / l.length),
    cpuUsPerRequest: acc.cpuMs === null ? null : round((acc.cpuMs * 1000) / acc.requests, 1),
    cpuShare: acc.cpuMs === null ? null : round(acc.cpuMs / (acc.seconds * 1000)),
  };
}

/** A value-list entity as a regex entity matching the same texts exactly (ignoring case). */
function regexEntityYaml(entity) {
  const texts = entity.values.flatMap((v) => [v.value, ...(v.synonyms ?? [])]).sort((a, b) => b.length - a.length);
  const regex = `\\b(?:${texts.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s+')).join('|')})\\b`;
  return `slug: ${entity.slug}\ndescription: ${JSON.stringify(`${entity.description ?? entity.slug} (its value list as a regex, for the benchmark)`)}\nregex: '${regex.replace(/'/g, "''")}'\nflags: i\n`;
}

/**
 * The example bot's production (v1, as shipped) against staging (v2: the same bot with its
 * value-list entities written as regexes, which botver matches itself, without NLP.js's fuzzy
 * search), on one resolver, in alternating rounds after a warm-up of each.
 */
async function latencySection(example, exampleBundle, commitFiles, openBotRepo) {
  const autocannon = (await import('autocannon')).default;
  const lists = exampleBundle.entities.filter((e) => e.regex === undefined);
  const files = Object.fromEntries(lists.map((e) => [`training/entities/${e.slug}.yaml`, regexEntityYaml(e)]));
  const committed = await commitFiles(
    await openBotRepo({ repo: example.dir }),
    'v2',
    files,
    'bench: value-list entities as regexes',
  );
  if (!committed.commit) throw new BenchError('could not commit the regex variant of the example bot onto v2');
  const targets = [
    {
      key: 'example',
      label: 'example bot as shipped (production → v1)',
      token: example.tokens.environments.production,
    },
    {
      key: 'example-regex',
      label: `same bot, its ${lists.length} value lists as regexes (staging → v2)`,
      token: example.tokens.environments.staging,
    },
  ];
  const rounds = QUICK ? 1 : 2;
  const roundS = Math.max(1, Math.round(DURATION_S / rounds));
  process.stdout.write(
    `running: /v2/request on the example bot (as shipped, and with regexes for value lists), ${CONNECTIONS} connections, ${WARMUP_S} s warm-up each, then ${rounds} x ${roundS} s each alternating; /v1/resolve ${RESOLVE_S} s ... `,
  );
  const server = await startResolver(example.dir);
  try {
    const headers = (token) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
    for (const t of targets) {
      // each sentence once: 200, and which intent it gets
      t.answers = [];
      for (const [text, expected] of SENTENCES) {
        const res = await fetch(`${server.url}/v2/request`, {
          method: 'POST',
          headers: headers(t.token),
          body: JSON.stringify({ text }),
        });
        const body = await res.text();
        if (res.status !== 200)
          throw new BenchError(
            `POST /v2/request ${JSON.stringify(text)} (${t.key}) answered ${res.status}: ${body.slice(0, 300)}`,
          );
        const results = JSON.parse(body).results;
        const top = results.intents[0] ?? null;
        t.answers.push({
          text,
          expected,
          intent: top?.slug ?? null,
          confidence: top?.confidence ?? null,
          entities: Object.keys(results.entities).sort(),
          bytes: Buffer.byteLength(body),
        });
      }
      const requests = SENTENCES.map(([text]) => ({
        method: 'POST',
        path: '/v2/request',
        headers: headers(t.token),
        body: JSON.stringify({ text }),
      }));
      t.options = { url: `${server.url}/v2/request`, method: 'POST', headers: headers(t.token), requests };
      t.acc = newAcc();
    }
    for (const t of targets) await loadRun(autocannon, t.options, WARMUP_S, server.pid, null);
    for (let i = 0; i < rounds; i++)
      for (const t of i % 2 ? [...targets].reverse() : targets)
        await loadRun(autocannon, t.options, roundS, server.pid, t.acc);
    const resolveAcc = newAcc();
    await loadRun(
      autocannon,
      { url: `${server.url}/v1/resolve`, headers: { authorization: `Bearer ${targets[0]?.token}` } },
      RESOLVE_S,
      server.pid,
      resolveAcc,
    );
    const memory = memoryOf(server.pid);
    const trained = server.trainedMs;
    const exited = await server.stop();
    if (exited.code !== 0)
      throw new BenchError(
        `botver serve exited with ${exited.signal ?? exited.code} on SIGTERM\n${server.lines.slice(-10).join('\n')}`,
      );
    const rows = targets.map((t) => ({ key: t.key, label: t.label, answers: t.answers, ...summariseLoad(t.acc) }));
    console.log(rows.map((r) => `${r.key} ${(r.rps ?? Number.NaN).toFixed(0)} req/s, p99 ${r.p99Ms} ms`).join('; '));
    return {
      readyMs: round(server.readyMs),
      trainedInServerMs: trained,
      rounds,
      rows,
      resolve: summariseLoad(resolveAcc),
      memory,
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** model.analyse timed in this process, one call at a time (the NLU's share of a /v2/request). */
async function analyseTiming(model, sentences) {
  for (const s of sentences) await model.analyse(s); // warm-up
  const samples = [];
  for (let i = 0; i < ANALYSE_ROUNDS; i++) {
    for (const s of sentences) {
      const t0 = performance.now();
      await model.analyse(s);
      samples.push(performance.now() - t0);
    }
  }
  return {
    calls: samples.length,
    p50Ms: round(percentile(samples, 50), 3),
    p99Ms: round(percentile(samples, 99), 3),
    meanMs: round(samples.reduce((a, b) => a + b, 0) / samples.length, 3),
  };
}

// ---------------------------------------------------------------------------
// 4. memory per loaded model (child process, --expose-gc)

async function memoryChild(dir) {
  const engine = await import(join(DIST, 'nlu', 'engine.js'));
  const kinds = JSON.parse(readFileSync(join(dir, 'kinds.json'), 'utf8'));
  const collect = async () => {
    for (let i = 0; i < 4; i++) {
      /** @type {() => void} */ (global.gc)(); // run with --expose-gc
      await new Promise((r) => setImmediate(r));
    }
  };
  const snap = () => {
    const m = process.memoryUsage();
    return { heapUsed: m.heapUsed, external: m.external, rss: m.rss };
  };
  const keep = [];
  await collect();
  const start = snap();
  // one of each first: module loading and the sentiment analyzer's one-off set-up are not a model's
  for (const k of kinds) keep.push(await engine.NluModel.load(readFileSync(join(dir, k.file), 'utf8')));
  await collect();
  const warm = snap();
  /** @type {{ firstLoads: { heapBytes: number, rssBytes: number }, kinds: object[], total?: object }} */
  const out = { firstLoads: { heapBytes: warm.heapUsed - start.heapUsed, rssBytes: warm.rss - start.rss }, kinds: [] };
  for (const k of kinds) {
    await collect();
    const before = snap();
    const loads = [];
    for (let i = 0; i < k.copies; i++) {
      const json = readFileSync(join(dir, k.file), 'utf8'); // a fresh string each time (garbage once loaded)
      const t0 = performance.now();
      keep.push(await engine.NluModel.load(json));
      loads.push(performance.now() - t0);
    }
    await collect();
    const after = snap();
    out.kinds.push({
      key: k.key,
      copies: k.copies,
      heapBytesPerModel: (after.heapUsed - before.heapUsed) / k.copies,
      externalBytesPerModel: (after.external - before.external) / k.copies,
      rssBytesPerModel: (after.rss - before.rss) / k.copies,
      loadMedianMs: median(loads),
    });
  }
  out.total = { models: keep.length, heapUsed: snap().heapUsed, rss: snap().rss };
  process.stdout.write(JSON.stringify(out));
}

function memorySection(models, tmp) {
  process.stdout.write(
    `running: memory per loaded model (${models.map((m) => `${MODEL_COPIES[m.key]} x ${m.key}`).join(', ')}; node --expose-gc) ... `,
  );
  const dir = join(tmp, 'models');
  mkdirSync(dir, { recursive: true });
  for (const m of models) writeFileSync(join(dir, `${m.key}.json`), m.json);
  writeFileSync(
    join(dir, 'kinds.json'),
    JSON.stringify(models.map((m) => ({ key: m.key, file: `${m.key}.json`, copies: MODEL_COPIES[m.key] }))),
  );
  const r = spawnSync(NODE, ['--expose-gc', SELF, '--memory-child', dir], {
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 16 * 2 ** 20,
  });
  if (r.status !== 0)
    throw new BenchError(
      `memory child exited with ${r.signal ?? r.status}: ${(r.stderr || r.stdout).trim().split('\n').slice(-10).join('\n')}`,
    );
  const out = JSON.parse(r.stdout);
  const rows = out.kinds.map((k) => {
    const m = models.find((x) => x.key === k.key);
    return {
      ...k,
      label: m.label,
      intents: m.intents,
      expressions: m.expressions,
      jsonBytes: Buffer.byteLength(m.json),
    };
  });
  console.log(rows.map((x) => `${x.key} ${fmtMb(x.heapBytesPerModel / 1024)} heap`).join(', '));
  return { firstLoads: out.firstLoads, rows, total: out.total };
}

// ---------------------------------------------------------------------------

const round = (x, d = 2) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);
const diff = (a, b) => {
  const d = Math.round((a - b) * 1000);
  return d === 0 ? '0.000' : `${d > 0 ? '+' : '−'}${(Math.abs(d) / 1000).toFixed(3)}`;
};
const f3 = (x) => (x == null ? 'n/a' : x.toFixed(3));
const fmtBytes = (b) =>
  b == null ? 'n/a' : Math.abs(b) >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(2)} MB` : `${(b / 1024).toFixed(0)} KB`;

async function main() {
  const started = performance.now();
  console.log('# botver NLU benchmark\n');
  if (!existsSync(join(DIST, 'nlu', 'engine.js')) || !existsSync(BOTVER))
    throw new BenchError('dist/ is not built: run `npm run build` first (or `npm run bench`)');
  const engine = await import(join(DIST, 'nlu', 'engine.js'));
  const { ModelStore, SILENT } = await import(join(DIST, 'nlu', 'model-store.js'));
  const { GitRepo, commitFiles, openBotRepo } = await import(join(DIST, 'index.js'));
  const { loadVersionContent } = await import(join(DIST, 'content', 'version-content.js'));
  const { makeExampleRepo } = await import('../scripts/make-example-repo.js');

  const tmp = mkdtempSync(join(os.tmpdir(), 'botver-bench-nlu-'));
  const cleanup = () =>
    KEEP ? console.log(`kept temporary files in ${tmp}`) : rmSync(tmp, { recursive: true, force: true });
  process.on('exit', cleanup);

  const failures = [];
  const attempt = async (what, fn) => {
    try {
      return await fn();
    } catch (err) {
      console.log('FAILED');
      failures.push({ what, error: /** @type {Error} */ (err).message });
      return null;
    }
  };

  const accuracy = await attempt('accuracy', () => accuracySection(engine, (m) => console.log(m)));

  const thousand = thousandBundle();
  const training = await attempt('training', () => trainingSection(engine, ModelStore, SILENT, thousand, tmp));

  // the example bot: its repository for the resolver, its bundle for in-process figures
  const example = await makeExampleRepo({ dir: join(tmp, 'example'), tokensFile: join(tmp, 'example-tokens.json') });
  const exampleBundle = (await loadVersionContent(await GitRepo.open(example.dir), example.commits.v1)).bundle;
  if (!exampleBundle) throw new BenchError('the example bot does not load (loadVersionContent gave no bundle)');
  const t0 = performance.now();
  const exampleJson = await engine.trainModel({ bundle: exampleBundle, language: 'en' });
  const exampleTrainMs = performance.now() - t0;

  const latency = await attempt('/v2/request', () => latencySection(example, exampleBundle, commitFiles, openBotRepo));

  // where a /v2/request's time goes: model.analyse alone, and what the value-list entities cost
  process.stdout.write(
    'running: model.analyse in-process (example bot as is, without fuzzy matching, without value lists; 1,000-expression model) ... ',
  );
  const texts = SENTENCES.map(([s]) => s);
  const valueLists = exampleBundle.entities.filter((e) => e.regex === undefined);
  const exampleVariant = async (entities) =>
    engine.NluModel.load(await engine.trainModel({ bundle: { ...exampleBundle, entities }, language: 'en' }));
  const analyse = [
    {
      key: 'example',
      label: `example bot as served (${valueLists.length} value-list entities, fuzzy)`,
      ...(await analyseTiming(await engine.NluModel.load(exampleJson), texts)),
    },
    {
      key: 'example-exact',
      label: 'example bot, every value list `fuzzy: false`',
      ...(await analyseTiming(
        await exampleVariant(exampleBundle.entities.map((e) => (e.regex === undefined ? { ...e, fuzzy: false } : e))),
        texts,
      )),
    },
    {
      key: 'example-no-lists',
      label: 'example bot without its value-list entities (regex kept)',
      ...(await analyseTiming(
        await exampleVariant(exampleBundle.entities.filter((e) => e.regex !== undefined)),
        texts,
      )),
    },
    ...(training
      ? [
          {
            key: 'thousand',
            label: '1,000 expressions (no entities)',
            ...(await analyseTiming(await engine.NluModel.load(training.json), thousandProbes(thousand))),
          },
        ]
      : []),
  ];
  console.log(analyse.map((a) => `${a.key} p50 ${a.p50Ms} ms`).join(', '));

  const count = (b) => b.intents.reduce((n, i) => n + i.expressions.length, 0);
  const tiny = { intents: [{ slug: 'hello', expressions: ['hello'] }], entities: [], skills: [], tests: [] };
  const models = [
    {
      key: 'tiny',
      label: 'almost empty (1 intent, 1 expression)',
      intents: 1,
      expressions: 1,
      json: await engine.trainModel({ bundle: tiny, language: 'en' }),
    },
    {
      key: 'example',
      label: `example bot (${exampleBundle.intents.length} intents, ${exampleBundle.entities.length} entities)`,
      intents: exampleBundle.intents.length,
      expressions: count(exampleBundle),
      json: exampleJson,
    },
    ...(training
      ? [
          {
            key: 'thousand',
            label: `1,000 expressions (${thousand.intents.length} intents)`,
            intents: thousand.intents.length,
            expressions: count(thousand),
            json: training.json,
          },
        ]
      : []),
  ];
  const memory = await attempt('memory', () => memorySection(models, tmp));

  // ---------------------------------------------------------------------------
  // report

  const missed = [];
  const verdict = (ok, what) => {
    if (!ok) missed.push(what);
    return ok ? 'met' : 'MISSED';
  };

  if (accuracy) {
    const main = accuracy.variants[0];
    console.log(
      '\n## Intent accuracy on the Braun et al. 2017 corpora (micro-F1 = accuracy: one label per test sentence)\n',
    );
    const rows = main.rows.map((r) => {
      const p = /** @type {(typeof CORPORA)[number]} */ (CORPORA.find((c) => c.key === r.corpus)).published;
      return [
        r.name,
        r.intents,
        r.expressions,
        r.total,
        `${r.correct}/${r.total}`,
        f3(r.microF1),
        `${f3(p.f1)} (${p.correct}/${p.total})`,
        diff(r.microF1, p.f1),
        '',
        '',
      ];
    });
    const ok = main.microF1 >= TARGETS.microF1;
    rows.push([
      '**overall**',
      '',
      main.rows.reduce((n, r) => n + r.expressions, 0),
      main.total,
      `${main.correct}/${main.total}`,
      f3(main.microF1),
      `${f3(PUBLISHED_OVERALL.f1)} (${PUBLISHED_OVERALL.correct}/${PUBLISHED_OVERALL.total})`,
      diff(main.microF1, PUBLISHED_OVERALL.f1),
      `≥ ${TARGETS.microF1.toFixed(2)}`,
      verdict(ok, `micro-F1 ${f3(main.microF1)} < ${TARGETS.microF1}`),
    ]);
    console.log(
      table(
        [
          'corpus',
          'intents',
          'training expressions',
          'test sentences',
          'correct',
          'botver micro-F1',
          'NLP.js published',
          'difference',
          'target',
          'status',
        ],
        rows,
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l'],
      ),
    );
    console.log(
      `\nCorpora: ${CORPORA.map((c) => c.file).join(', ')} from the ${CORPUS_SOURCE}; license ${CORPUS_LICENSE}. ` +
        `Cached in ${accuracy.cacheDir}/${accuracy.fetched ? ' (fetched now)' : ''}. ` +
        `NLP.js's figures: docs/v3/benchmarking.md, "Full data by system", NLP.js Total rows (node-nlp v3, its own entity handling; ` +
        `that page's summary table rounds them to 0.99 / 0.93 / 0.83 / 0.93; its Ask Ubuntu total counts 108 test sentences, the corpus has 109).`,
    );
    for (const n of accuracy.notes) console.log(`- note: ${n}`);

    console.log('\n### What moves the figure (same corpora, same splits)\n');
    console.log(
      table(
        ['variant', ...main.rows.map((r) => r.name), 'overall', 'correct'],
        accuracy.variants.map((v) => [
          v.label,
          ...v.rows.map((r) => f3(r.microF1)),
          f3(v.microF1),
          `${v.correct}/${v.total}`,
        ]),
        ['l', 'r', 'r', 'r', 'r', 'r'],
      ),
    );
    console.log('\n### Misclassified test sentences (botver as is)\n');
    const errs = main.rows.flatMap((r) =>
      r.errors.map((e) => [
        r.name,
        e.expected,
        e.predicted,
        e.confidence ?? '-',
        e.text.length > 72 ? `${e.text.slice(0, 70)}…` : e.text,
      ]),
    );
    console.log(table(['corpus', 'expected', 'predicted', 'confidence', 'text'], errs, ['l', 'l', 'l', 'r', 'l']));
  }

  if (training) {
    const t = training.result;
    console.log(
      `\n## Training time: ${t.expressions.toLocaleString('en-US')} expressions (${t.intents} intents x ${t.expressions / t.intents}, generated), model JSON ${fmtBytes(t.modelJsonBytes)}\n`,
    );
    const okIn = t.inProcess.medianMs < TARGETS.trainMs;
    const okW = t.worker.medianMs < TARGETS.trainMs;
    console.log(
      table(
        ['path', 'first run', `median of ${TRAIN_RUNS} after it`, 'runs', 'target', 'status'],
        [
          [
            '`trainModel` in this process',
            fmtMs(t.inProcess.firstMs),
            fmtMs(t.inProcess.medianMs),
            t.inProcess.samplesMs.map(fmtMs).join(', '),
            `< ${fmtMs(TARGETS.trainMs)}`,
            verdict(okIn, `training ${fmtMs(t.inProcess.medianMs)}`),
          ],
          [
            'ModelStore (worker thread + load + disk cache), as the resolver',
            `${fmtMs(t.worker.firstMs)} (worker start-up)`,
            fmtMs(t.worker.medianMs),
            t.worker.samplesMs.map(fmtMs).join(', '),
            `< ${fmtMs(TARGETS.trainMs)}`,
            verdict(okW, `worker training ${fmtMs(t.worker.medianMs)}`),
          ],
          ['`NluModel.load` of the trained JSON', '', fmtMs(t.loadMs), '', '', ''],
          [
            `example bot (${exampleBundle.intents.length} intents, ${count(exampleBundle)} expressions), in this process`,
            fmtMs(exampleTrainMs),
            '',
            '',
            '',
            '',
          ],
        ],
        ['l', 'r', 'r', 'l', 'l', 'l'],
      ),
    );
    console.log(`\nSanity: ${t.recalled}/${t.intents} intents classify their own first expression back to themselves.`);
  }

  if (latency) {
    const l = latency;
    const main = l.rows[0];
    console.log(
      `\n## POST /v2/request, ${CONNECTIONS} connections (autocannon; ${WARMUP_S} s warm-up each, then ${l.rounds} alternating round(s), ${main.seconds} s in all each)\n`,
    );
    const ok = main.p99Ms < TARGETS.p99Ms;
    const row = (name, r, target, status) => [
      name,
      r.requests,
      r.rps.toFixed(0),
      `${r.p50Ms} ms`,
      `${r.p90Ms} ms`,
      `${r.p99Ms} ms`,
      `${r.maxMs} ms`,
      r.cpuUsPerRequest == null ? 'n/a' : `${r.cpuUsPerRequest} µs`,
      target,
      status,
    ];
    console.log(
      table(
        ['route', 'requests', 'req/s', 'p50', 'p90', 'p99', 'max', 'server CPU/request', 'target', 'status'],
        [
          row(
            `POST /v2/request, ${main.label}`,
            main,
            `p99 < ${TARGETS.p99Ms} ms`,
            verdict(ok, `/v2/request p99 ${main.p99Ms} ms`),
          ),
          ...l.rows.slice(1).map((r) => row(`POST /v2/request, ${r.label}`, r, '', '')),
          row('GET /v1/resolve (same server, for comparison)', l.resolve, '', ''),
        ],
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l'],
      ),
    );
    const little = (CONNECTIONS / main.rps) * 1000;
    console.log(
      `\nThe ${SENTENCES.length} sentences below are sent in turn on every connection. With ${CONNECTIONS} connections each waiting for its answer, latency ≈ connections / throughput once the ` +
        `resolver's one event loop is saturated (${CONNECTIONS} / ${main.rps.toFixed(0)} req/s = ${little.toFixed(1)} ms; it used ${main.cpuShare == null ? 'n/a' : `${(main.cpuShare * 100).toFixed(0)} %`} of a core): ` +
        `a p99 under ${TARGETS.p99Ms} ms at ${CONNECTIONS} connections needs well under ${((TARGETS.p99Ms / CONNECTIONS) * 1000).toFixed(0)} µs of server CPU per request. ` +
        `The regex variant answers the same intents but reports matched text rather than canonical values, without typo tolerance: it shows what the fuzzy value-list search costs, not a drop-in fix.`,
    );
    console.log(
      `Resolver: spawn → /readyz 200 in ${fmtMs(l.readyMs)} (its worker trained the models in ${l.trainedInServerMs.map((x) => `${x} ms`).join(' and ')}); ` +
        `VmRSS after the load ${fmtMb(l.memory.rssKb)}, peak ${fmtMb(l.memory.hwmKb)}. Server CPU/request: user + system CPU time of the resolver during the runs / answers.`,
    );
    console.log(
      `\nSentences (each answered 200 before the load; as shipped): ${main.answers.map((a) => `"${a.text}" → ${a.intent ?? '(none)'}${a.confidence != null ? ` ${a.confidence}` : ''}`).join('; ')}.`,
    );
    for (const r of l.rows) {
      const wrong = r.answers.filter((a) => a.expected && a.intent !== a.expected);
      if (wrong.length)
        console.log(
          `- note (${r.key}): ${wrong.length} sentence(s) not given the expected intent: ${wrong.map((a) => `"${a.text}" → ${a.intent ?? '(none)'} (expected ${a.expected})`).join(', ')}`,
        );
    }
    const differ = main.answers.filter(
      (a, i) =>
        l.rows[1] &&
        (a.intent !== l.rows[1].answers[i].intent || a.entities.join() !== l.rows[1].answers[i].entities.join()),
    );
    if (differ.length)
      console.log(
        `- note: the regex variant answers ${differ.length} sentence(s) differently (intent or entity names): ${differ.map((a) => `"${a.text}"`).join(', ')}`,
      );
  }

  console.log(
    `\n### Where the time goes: \`model.analyse\` in this process (one call at a time, no HTTP; ${ANALYSE_ROUNDS} rounds over the sentences)\n`,
  );
  console.log(
    table(
      ['model', 'p50', 'p99', 'mean'],
      analyse.map((a) => [a.label, `${a.p50Ms} ms`, `${a.p99Ms} ms`, `${a.meanMs} ms`]),
      ['l', 'r', 'r', 'r'],
    ),
  );
  console.log(
    '\nValue-list entities are matched by botver (src/nlu/value-lists.ts): exact synonyms through an index of first words, then, for `fuzzy` entities only, ' +
      'an edit distance between each synonym of similar length and the words no exact match took (similarity >= 0.8). NLP.js only classifies.',
  );

  if (memory) {
    console.log(
      '\n## Memory per loaded model (node --expose-gc: N copies of each kind loaded after one of each, growth after gc / N)\n',
    );
    console.log(
      table(
        [
          'model',
          'expressions',
          'model JSON',
          'N',
          'heap per model',
          'external per model',
          'RSS per model',
          'load (median)',
        ],
        memory.rows.map((r) => [
          r.label,
          r.expressions,
          fmtBytes(r.jsonBytes),
          r.copies,
          fmtBytes(r.heapBytesPerModel),
          fmtBytes(r.externalBytesPerModel),
          fmtBytes(r.rssBytesPerModel),
          fmtMs(r.loadMedianMs),
        ]),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
    );
    console.log(
      `\nThe first model of each kind (module loading, the sentiment analyzer's one-off set-up) added ${fmtBytes(memory.firstLoads.heapBytes)} of heap and ${fmtBytes(memory.firstLoads.rssBytes)} of RSS in all ` +
        `(the "almost empty" row is a model's fixed cost). RSS growth is coarser than heap growth (the heap does not give pages back at once).`,
    );
  }

  const cpus = os.cpus();
  console.log(
    `\n${cpus.length} CPU(s) ${cpus[0]?.model ?? ''}, ${process.version}; the resolver and the load generator share the machine. ` +
      `Latencies: every response as timed by autocannon (hrtime). Total bench time ${fmtMs(performance.now() - started)}.`,
  );

  mkdirSync(dirname(RESULTS), { recursive: true });
  const report = {
    benchmark: 'nlu',
    generatedAt: new Date().toISOString(),
    host: hostInfo({}),
    options: {
      quick: QUICK,
      durationS: DURATION_S,
      warmupS: WARMUP_S,
      connections: CONNECTIONS,
      trainRuns: TRAIN_RUNS,
      modelCopies: MODEL_COPIES,
    },
    modelFormat: engine.MODEL_FORMAT,
    targets: TARGETS,
    accuracy,
    training: training && {
      ...training.result,
      exampleBot: {
        intents: exampleBundle.intents.length,
        expressions: count(exampleBundle),
        trainMs: round(exampleTrainMs),
      },
    },
    latency: latency && { ...latency, sentences: SENTENCES.map(([s]) => s) },
    analyseInProcess: analyse,
    memory,
    failures,
    missedTargets: missed,
    totalMs: round(performance.now() - started),
  };
  finishReport({ file: RESULTS, root: ROOT, report, failures, missed, enforce: ENFORCE, label: (f) => f.what });
}

if (argv[0] === '--memory-child') {
  memoryChild(argv[1]).catch((err) => {
    console.error(err.stack ?? err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err.stack ?? err);
    process.exit(1);
  });
}
