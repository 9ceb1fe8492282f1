#!/usr/bin/env node
// Large-repository fixture for the botver benchmarks.
//
// Builds, with native git only, a bare repository shaped like a busy bot:
//   - control branch `main`: environments.yaml (docs/formats.md) + README.md,
//     ~500 commits alternately re-linking `staging` between v2 and v4;
//   - version branches v1..v5: 200 intents x 30 expressions, 3 entities,
//     20 skills + a fallback skill (docs/formats.md), and the rest of the
//     5,000 commits each adding or removing one expression of one intent.
// Everything is generated deterministically (seeded PRNG) and written with a
// single `git fast-import` stream, then `git gc` packs it like a clone.
//
// Usage:
//   node bench/fixture.js DIR        build into DIR (must not exist or be empty)
//   node bench/fixture.js            build (or reuse) the cache bench/.cache/large.git
//   node bench/fixture.js --force    rebuild the cache
//
// Library:
//   buildLargeRepo(dir, opts)  -> { dir, buildMs, stats }
//   ensureLargeRepo(opts)      -> { path, cached, buildMs, info }   (cached build)
//   copyLargeRepo(dest)        -> dest   (cp -a of the cached build)

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bump whenever the generated content changes: the cache is rebuilt. */
export const FIXTURE_VERSION = 1;

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const CACHE_DIR = join(BENCH_DIR, '.cache');
export const CACHE_REPO = join(CACHE_DIR, 'large.git');
const CACHE_STAMP = join(CACHE_DIR, 'large.json');

export const DEFAULTS = Object.freeze({
  bot: 'bench-bot',
  versions: 5,
  intents: 200,
  expressions: 30,
  skills: 20,
  totalCommits: 5000, // all branches together, root commits included
  mainRelinks: 500, // commits on main re-linking staging (v2 <-> v4)
  seed: 0x5eed_b07,
  startTime: 1672531200, // 2023-01-01T00:00:00Z
});

/** Known plaintext tokens: the manifest stores their SHA-256. */
export const versionToken = (v) => `bvt_bench_${v}`;
export const envToken = (e) => `bvt_bench_env_${e}`;
export const sha256 = (s) => createHash('sha256').update(s).digest('hex');

export const ENVIRONMENTS = Object.freeze({ production: 'v1', staging: 'v2', development: 'v3' });

// ---------------------------------------------------------------------------
// deterministic content

/** A small seeded PRNG: the same fixture on every machine. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function rand() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const W = {
  openers: [
    '',
    '',
    '',
    'hey',
    'hi',
    'hello',
    'please',
    'ok so',
    'excuse me',
    'quick question',
    'um',
    'well',
    'sorry',
    'good morning',
  ],
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
    'I would love to',
    'where can I',
    'can I',
    'we need to',
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
    'open',
    'close',
    'renew',
    'pay',
    'transfer',
    'schedule',
    'return',
    'upgrade',
    'compare',
    'report',
    'confirm',
  ],
  dets: ['my', 'a', 'the', 'our', 'this', 'that', 'another', 'one more', 'their'],
  adjs: [
    '',
    '',
    '',
    'new',
    'old',
    'large',
    'small',
    'cheap',
    'premium',
    'weekly',
    'monthly',
    'blue',
    'red',
    'quick',
    'late',
    'next',
    'last',
    'shared',
    'family',
    'business',
  ],
  nouns: [
    'pizza',
    'flight',
    'order',
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
    'in London',
    'for my mother',
    'at noon',
  ],
  puncts: ['', '', '?', '!', '.'],
};

const pick = (rand, arr) => arr[Math.floor(rand() * arr.length)];

function topicOf(i) {
  // intent i (0-based): a stable verb + noun pair, so its expressions read alike
  const verb = /** @type {string} */ (W.verbs[i % W.verbs.length]);
  const noun = /** @type {string} */ (W.nouns[Math.floor(i / W.verbs.length + i * 7) % W.nouns.length]);
  return { verb, noun };
}

function sentence(rand, i) {
  const { verb, noun } = topicOf(i);
  const parts = [];
  const opener = pick(rand, W.openers);
  if (opener) parts.push(opener + (rand() < 0.5 ? ',' : ''));
  parts.push(pick(rand, W.requests), verb, pick(rand, W.dets));
  const adj = pick(rand, W.adjs);
  if (adj) parts.push(adj);
  parts.push(noun);
  const tail = pick(rand, W.tails);
  if (tail) parts.push(tail);
  let s = parts.join(' ') + pick(rand, W.puncts);
  if (rand() < 0.4) s = s.charAt(0).toUpperCase() + s.slice(1);
  return s;
}

function freshExpression(rand, i, existing) {
  for (;;) {
    const s = sentence(rand, i);
    if (!existing.includes(s)) return s;
  }
}

const pad3 = (n) => String(n).padStart(3, '0');
const pad2 = (n) => String(n).padStart(2, '0');
const intentSlug = (i) => `intent-${pad3(i + 1)}`;

function intentYaml(i, expressions) {
  const { verb, noun } = topicOf(i);
  return (
    `slug: ${intentSlug(i)}\n` +
    `description: The user wants to ${verb} ${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun}\n` +
    `expressions:\n` +
    expressions.map((e) => `  - ${e}\n`).join('')
  );
}

const ENTITIES = {
  size: [
    ['small', ['little', 'mini', 's']],
    ['medium', ['regular', 'normal', 'm']],
    ['large', ['big', 'xl', 'l']],
  ],
  city: [
    ['paris', ['Paris', 'city of light']],
    ['london', ['London', 'the big smoke']],
    ['berlin', ['Berlin']],
    ['new-york', ['New York', 'NYC', 'big apple']],
    ['tokyo', ['Tokyo']],
  ],
  product: W.nouns.map((n) => [n.replace(/ /g, '-'), [n, `${n}s`]]),
};

function entityYaml(slug, values) {
  return (
    `slug: ${slug}\nvalues:\n` +
    values.map(([v, syn]) => `  - value: ${v}\n    synonyms: [${syn.join(', ')}]\n`).join('')
  );
}

function skillYaml(k, intents) {
  // skill k (1-based) triggered by two intents
  const a = ((k - 1) * 10) % intents;
  const b = ((k - 1) * 10 + 5) % intents;
  const { verb, noun } = topicOf(a);
  return (
    `slug: skill-${pad2(k)}\n` +
    `triggers:\n  - intent: ${intentSlug(a)}\n  - intent: ${intentSlug(b)}\n` +
    `actions:\n  - reply: ${JSON.stringify(`Sure, I can ${verb} your ${noun}. Anything else?`)}\n`
  );
}

const FALLBACK_YAML =
  'slug: fallback\nfallback: true\nactions:\n  - reply: "Sorry, I did not understand. Could you rephrase?"\n';

function manifestYaml(o, staging) {
  const lines = ['apiVersion: botver/v1', `bot: ${o.bot}`, 'language: en', `maxVersions: ${o.versions}`, 'versions:'];
  for (let n = 1; n <= o.versions; n++) {
    const v = `v${n}`;
    lines.push(`  ${v}:`, `    description: Bench version ${n}`);
    if (n > 1) lines.push('    createdFrom: v1');
    lines.push(`    tokenSha256: ${sha256(versionToken(v))}`);
  }
  lines.push('environments:');
  for (const [e, v] of Object.entries(ENVIRONMENTS)) {
    lines.push(`  ${e}:`, `    version: ${e === 'staging' ? staging : v}`, `    tokenSha256: ${sha256(envToken(e))}`);
  }
  return `${lines.join('\n')}\n`;
}

const README = `# bench-bot

Synthetic bot repository generated by botver's benchmark fixture (bench/fixture.js,
fixture version ${FIXTURE_VERSION}). The control branch \`main\` holds environments.yaml;
each version lives on its own branch (v1..v5).
`;

const AUTHORS = [
  ['Alice Martin', 'alice@bench.example', '+0100'],
  ['Bob Chen', 'bob@bench.example', '-0500'],
  ['Chloé Dupont', 'chloe@bench.example', '+0200'],
  ['Dev Bot', 'ci@bench.example', '+0000'],
];

/**
 * The `version:` of environment `env` in a manifest, read line by line (indentation-aware),
 * so the check does not depend on how the tool under test formats its YAML.
 */
export function manifestEnvVersion(text, env) {
  let inEnvs = false;
  /** @type {number | null} */
  let envIndent = null;
  /** @type {number | null} */
  let childIndent = null;
  let inEnv = false;
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim() || /^\s*#/.test(line)) continue;
    const indent = line.length - line.trimStart().length;
    if (indent === 0) {
      inEnvs = /^environments\s*:\s*(#.*)?$/.test(line);
      inEnv = false;
      continue;
    }
    if (!inEnvs) continue;
    envIndent ??= indent;
    if (indent <= envIndent) {
      const key = line.trim().match(/^["']?([^"':]+)["']?\s*:/)?.[1];
      inEnv = key === env;
      childIndent = null;
      const flow = inEnv && line.match(/:\s*\{.*\bversion\s*:\s*["']?([^"'\s,}]+)/); // `staging: {version: v2, ...}`
      if (flow) return flow[1];
      continue;
    }
    if (!inEnv) continue;
    childIndent ??= indent;
    if (indent !== childIndent) continue;
    const m = line.trim().match(/^version\s*:\s*["']?([^"'\s#]+)["']?/);
    if (m) return m[1];
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// fast-import stream

/** Returns { stream: Buffer, stats } for the given options. */
export function generateStream(opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  if (o.versions < 4) throw new Error('fixture needs at least 4 versions (staging flips v2 <-> v4)');
  const rand = mulberry32(o.seed);
  const out = [];
  const data = (s) => out.push(`data ${Buffer.byteLength(s)}\n`, s, '\n');
  let time = o.startTime;
  let mark = 0;
  const commitCount = { main: 0 };

  const commit = (branch, message, files, from) => {
    const [name, email, tz] = /** @type {string[]} */ (
      branch === 'main' ? AUTHORS[Math.floor(rand() * 2) * 3] : AUTHORS[Math.floor(rand() * 3)]
    );
    time += 300 + Math.floor(rand() * 3300);
    const id = `${name} <${email}> ${time} ${tz}`;
    out.push(`commit refs/heads/${branch}\nmark :${++mark}\nauthor ${id}\ncommitter ${id}\n`);
    data(message);
    if (from) out.push(`from ${from}\n`);
    for (const [path, content] of files) {
      out.push(`M 100644 inline ${path}\n`);
      data(content);
    }
    out.push('\n');
    commitCount[branch] = (commitCount[branch] ?? 0) + 1;
    return `:${mark}`;
  };

  out.push('feature done\n');

  // v1: the full content, as one root commit
  const base = [];
  for (let i = 0; i < o.intents; i++) {
    const ex = [];
    while (ex.length < o.expressions) ex.push(freshExpression(rand, i, ex));
    base.push(ex);
  }
  const files = [];
  for (let i = 0; i < o.intents; i++) files.push([`training/intents/${intentSlug(i)}.yaml`, intentYaml(i, base[i])]);
  for (const [slug, values] of Object.entries(ENTITIES))
    files.push([`training/entities/${slug}.yaml`, entityYaml(slug, values)]);
  for (let k = 1; k <= o.skills; k++) files.push([`skills/skill-${pad2(k)}.yaml`, skillYaml(k, o.intents)]);
  files.push(['skills/fallback.yaml', FALLBACK_YAML]);
  const v1Base = commit('v1', 'Create version v1\n', files);

  // main: the manifest
  let staging = 'v2';
  commit('main', 'Turn versioning on\n', [
    ['README.md', README],
    ['environments.yaml', manifestYaml(o, staging)],
  ]);

  // v2..vN start as copies of v1 (a new branch at its head)
  const state = { v1: base.map((e) => e.slice()) };
  for (let n = 2; n <= o.versions; n++) {
    out.push(`reset refs/heads/v${n}\nfrom ${v1Base}\n\n`);
    state[`v${n}`] = base.map((e) => e.slice());
  }

  // the rest of the history, interleaved in time
  const versionEdits = o.totalCommits - 2 - o.mainRelinks;
  if (versionEdits < 0) throw new Error('totalCommits too small');
  const events = [...Array(versionEdits).fill(0), ...Array(o.mainRelinks).fill(1)];
  for (let j = events.length - 1; j > 0; j--) {
    const k = Math.floor(rand() * (j + 1));
    [events[j], events[k]] = [events[k], events[j]];
  }
  const weights = Array.from({ length: o.versions }, (_, n) => o.versions - n); // v1 busiest
  const wsum = weights.reduce((a, b) => a + b, 0);
  for (const ev of events) {
    if (ev === 1) {
      staging = staging === 'v2' ? 'v4' : 'v2';
      commit('main', `Promote staging to ${staging}\n`, [['environments.yaml', manifestYaml(o, staging)]]);
      continue;
    }
    let r = rand() * wsum;
    let n = 0;
    while (r >= /** @type {number} */ (weights[n])) r -= /** @type {number} */ (weights[n++]);
    const v = `v${n + 1}`;
    const i = Math.floor(rand() ** 1.5 * o.intents); // low intents edited more often
    const ex = state[v][i];
    let msg;
    const remove = ex.length >= o.expressions + 10 || (ex.length > o.expressions - 10 && rand() < 0.45);
    if (remove) {
      const [gone] = ex.splice(Math.floor(rand() * ex.length), 1);
      msg = `${intentSlug(i)}: remove expression "${gone}"\n`;
    } else {
      const s = freshExpression(rand, i, ex);
      ex.splice(Math.floor(rand() * (ex.length + 1)), 0, s);
      msg = `${intentSlug(i)}: add expression "${s}"\n`;
    }
    commit(v, msg, [[`training/intents/${intentSlug(i)}.yaml`, intentYaml(i, ex)]]);
  }
  out.push('done\n');

  const stats = {
    commits: mark,
    commitsByBranch: commitCount,
    stagingFinal: staging,
    stagingChanges: o.mainRelinks,
    expressionsPerVersion: Object.fromEntries(
      Object.entries(state).map(([v, s]) => [v, s.reduce((a, e) => a + e.length, 0)]),
    ),
  };
  return { stream: Buffer.from(out.join(''), 'utf8'), stats };
}

// ---------------------------------------------------------------------------
// process helpers

/**
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ cwd?: string, input?: string | Buffer, env?: NodeJS.ProcessEnv }} [options]
 */
function run(cmd, args, { cwd, input, env } = {}) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const so = [];
    const se = [];
    child.stdout.on('data', (b) => so.push(b));
    child.stderr.on('data', (b) => se.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(so).toString();
      const stderr = Buffer.concat(se).toString();
      if (code === 0) resolveRun({ stdout, stderr });
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? code}):\n${stderr || stdout}`));
    });
    child.stdin.on('error', () => {}); // reported through 'close'
    child.stdin.end(input);
  });
}

// a clean, reproducible git environment
const GIT_ENV = { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
const git = (args, opts = {}) => run('git', args, { ...opts, env: { ...GIT_ENV, ...opts.env } });

function parseCountObjects(text) {
  const o = {};
  for (const line of text.trim().split('\n')) {
    const [k, v] = line.split(': ');
    o[k] = Number.isNaN(Number(v)) ? v : Number(v);
  }
  return o;
}

// ---------------------------------------------------------------------------
// build

/**
 * Build the large fixture repository into `dir` (created; must be absent or empty).
 * opts: DEFAULTS overrides, plus { log: fn|false, fsck: true }.
 */
export async function buildLargeRepo(dir, opts = {}) {
  const log = opts.log === false ? () => {} : (opts.log ?? ((m) => console.error(m)));
  const t0 = performance.now();
  dir = resolve(dir);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new Error(`${dir} exists and is not empty`);
  await mkdir(dir, { recursive: true });

  await git(['init', '--quiet', '--bare', '--initial-branch=main', dir]);
  const tGen = performance.now();
  const { stream, stats } = generateStream(opts);
  const genMs = performance.now() - tGen;

  const tImport = performance.now();
  await git(['fast-import', '--quiet', '--done', '--active-branches=16'], { cwd: dir, input: stream });
  const importMs = performance.now() - tImport;

  const tGc = performance.now();
  // one pack, no bitmap, packed refs: what `git clone` leaves behind
  await git(['-c', 'repack.writeBitmaps=false', 'gc', '--quiet'], { cwd: dir });
  const gcMs = performance.now() - tGc;

  /** @type {number | null} */
  let fsckMs = null;
  if (opts.fsck !== false) {
    const tF = performance.now();
    await git(['fsck', '--strict', '--no-progress', '--no-dangling'], { cwd: dir });
    fsckMs = performance.now() - tF;
  }
  const count = parseCountObjects((await git(['count-objects', '-v'], { cwd: dir })).stdout);
  const total = Number((await git(['rev-list', '--all', '--count'], { cwd: dir })).stdout.trim());
  if (total !== stats.commits) throw new Error(`expected ${stats.commits} commits, found ${total}`);
  if (count.count !== 0 || count.packs !== 1) log(`warning: not fully packed: ${JSON.stringify(count)}`);

  const buildMs = performance.now() - t0;
  const info = {
    fixtureVersion: FIXTURE_VERSION,
    options: { ...DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([k]) => k in DEFAULTS)) },
    stats: { ...stats, streamBytes: stream.length, countObjects: count },
    timingsMs: {
      total: Math.round(buildMs),
      generate: Math.round(genMs),
      fastImport: Math.round(importMs),
      gc: Math.round(gcMs),
      fsck: fsckMs && Math.round(fsckMs),
    },
    tokens: {
      versions: Object.fromEntries(
        Array.from({ length: { ...DEFAULTS, ...opts }.versions }, (_, n) => [`v${n + 1}`, versionToken(`v${n + 1}`)]),
      ),
      environments: Object.fromEntries(Object.keys(ENVIRONMENTS).map((e) => [e, envToken(e)])),
    },
  };
  log(
    `fixture: built ${dir} in ${(buildMs / 1000).toFixed(2)} s ` +
      `(generate ${info.timingsMs.generate} ms, fast-import ${info.timingsMs.fastImport} ms, gc ${info.timingsMs.gc} ms, fsck ${info.timingsMs.fsck} ms); ` +
      `${stats.commits} commits, ${count['size-pack']} KiB packed`,
  );
  return { dir, buildMs, info };
}

/** Read the cache stamp, or null when the cache is missing or stale. */
export async function cachedInfo() {
  if (!existsSync(CACHE_REPO) || !existsSync(CACHE_STAMP)) return null;
  try {
    const info = JSON.parse(await readFile(CACHE_STAMP, 'utf8'));
    return info.fixtureVersion === FIXTURE_VERSION ? info : null;
  } catch {
    return null;
  }
}

/**
 * The cached default fixture, built on first use (or when FIXTURE_VERSION changed).
 * @param {{ force?: boolean, log?: ((message: string) => void) | false }} [options] log: false for silence
 */
export async function ensureLargeRepo({ force = false, log } = {}) {
  const say = log === false ? () => {} : (log ?? ((m) => console.error(m)));
  if (!force) {
    const info = await cachedInfo();
    if (info) {
      say(
        `fixture: using cached ${CACHE_REPO} (fixture version ${FIXTURE_VERSION}, built in ${(info.timingsMs.total / 1000).toFixed(2)} s)`,
      );
      return { path: CACHE_REPO, cached: true, buildMs: 0, info };
    }
  }
  await mkdir(CACHE_DIR, { recursive: true });
  // build beside the cache, then swap in, so an interrupted build never looks valid
  const tmp = join(CACHE_DIR, `large.git.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  const { buildMs, info } = await buildLargeRepo(tmp, { log: say });
  await rm(CACHE_STAMP, { force: true });
  await rm(CACHE_REPO, { recursive: true, force: true });
  await rename(tmp, CACHE_REPO);
  await writeFile(CACHE_STAMP, `${JSON.stringify(info, null, 2)}\n`);
  say(`fixture: cached as ${CACHE_REPO} (fixture version ${FIXTURE_VERSION})`);
  return { path: CACHE_REPO, cached: false, buildMs, info };
}

/** Copy the cached fixture to `dest` (cp -a) so a benchmark can mutate it. */
export async function copyLargeRepo(dest) {
  await ensureLargeRepo({ log: false });
  await run('cp', ['-a', CACHE_REPO, dest]);
  return dest;
}

// ---------------------------------------------------------------------------
// script

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const force = args.includes('--force');
  const dir = args.find((a) => !a.startsWith('--'));
  try {
    if (dir) {
      const { dir: built } = await buildLargeRepo(dir);
      console.log(built);
    } else {
      const { path } = await ensureLargeRepo({ force });
      console.log(path);
    }
  } catch (err) {
    console.error(`fixture: ${/** @type {Error} */ (err).message}`);
    process.exit(1);
  }
}
