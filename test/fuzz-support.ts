import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { TEST_ENV } from './helpers.js';

// Shared parts of the fuzz tests (test/fuzz-*.test.ts): the seed and run counts, git objects
// written byte for byte (so a tree may hold names and bytes no porcelain command would make:
// "..", invalid UTF-8, symlinks, submodules, missing blobs), a raw HTTP client, the invariants
// every answer must keep, and the reporting of a failing case.
//
// Every property runs a fixed number of cases from a fixed seed (printed; FUZZ_SEED picks
// another, FUZZ_RUNS scales the counts) and stops at the first failure without shrinking:
// the cases run against one live server whose state carries from case to case, so a shrunk
// case would not reproduce anyway; the failing case is printed whole instead (long strings
// abridged) with the seed and path that replay it.

// The default seed: one of the first few tried, kept because on the code before issue #9 it meets a
// break in each of the three fuzz tests within their case counts (see the report of #9).
export const FUZZ_SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 2;
const RUNS_SCALE = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : 1;
export const runs = (n: number) => Math.max(1, Math.round(n * RUNS_SCALE));

/** The documented 503s (docs/operations.md, Faults): anything else at 5xx is a failure. */
export const DOCUMENTED_503 = new Set([
  'NOT_READY',
  'VERSION_UNAVAILABLE',
  'MODEL_TRAINING',
  'MODEL_FAILED',
  'OVERLOADED',
  'STATE_UNAVAILABLE',
]);
/** The memory bound the server's process must stay under, whatever it is sent. */
export const RSS_BOUND = 1024 * 1024 * 1024;
/**
 * How long a request may go unanswered before the server counts as not answering at all. Not
 * a speed check (a loaded machine is slow, not wrong): it turns "the event loop is held" into
 * a failure naming the request instead of a test timeout. Generous on purpose.
 */
export const NO_ANSWER_MS = 10_000;

// ---------------------------------------------------------------------------
// git objects, written as git writes loose objects

export type TreeEntry =
  | { mode: '100644' | '100755' | '120000'; name: Buffer; blob: Buffer }
  | { mode: '100644'; name: Buffer; missing: string }
  | { mode: '160000'; name: Buffer; gitlink: string }
  | { mode: '40000'; name: Buffer; tree: TreeEntry[] }
  | { mode: string; name: Buffer; oid: string };

export function writeObject(gitdir: string, type: 'blob' | 'tree' | 'commit', content: Buffer): string {
  const full = Buffer.concat([Buffer.from(`${type} ${content.length}\0`), content]);
  const oid = createHash('sha1').update(full).digest('hex');
  const dir = join(gitdir, 'objects', oid.slice(0, 2));
  const file = join(dir, oid.slice(2));
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    // Complete before it is visible: the resolver reads objects while we write them.
    const tmp = join(dir, `tmp_obj_${randomBytes(6).toString('hex')}`);
    writeFileSync(tmp, deflateSync(full));
    renameSync(tmp, file);
  }
  return oid;
}

/** Git's order: byte order of names, a tree's name compared as if it ended with "/". */
const sortKey = (e: TreeEntry) => (e.mode === '40000' ? Buffer.concat([e.name, Buffer.from('/')]) : e.name);

export function writeTree(gitdir: string, entries: TreeEntry[]): string {
  const sorted = [...entries].sort((a, b) => Buffer.compare(sortKey(a), sortKey(b)));
  const parts: Buffer[] = [];
  for (const e of sorted) {
    const oid =
      'blob' in e
        ? writeObject(gitdir, 'blob', e.blob)
        : 'missing' in e
          ? e.missing
          : 'gitlink' in e
            ? e.gitlink
            : 'tree' in e
              ? writeTree(gitdir, e.tree)
              : e.oid;
    parts.push(Buffer.from(`${e.mode} `), e.name, Buffer.from([0]), Buffer.from(oid, 'hex'));
  }
  return writeObject(gitdir, 'tree', Buffer.concat(parts));
}

let clock = 1_800_000_000;
export function writeCommit(gitdir: string, tree: string, parents: string[], message: string): string {
  const when = `${clock++} +0000`;
  const text =
    `tree ${tree}\n${parents.map((p) => `parent ${p}\n`).join('')}` +
    `author Fuzz <fuzz@example.com> ${when}\ncommitter Fuzz <fuzz@example.com> ${when}\n\n${message}\n`;
  return writeObject(gitdir, 'commit', Buffer.from(text));
}

function gitOut(cwd: string, ...args: string[]): Buffer {
  return execFileSync('git', args, { cwd, env: { ...process.env, ...TEST_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A commit's whole tree as nested entries (existing objects referenced by id, not re-read). */
export function readTree(dir: string, rev: string): TreeEntry[] {
  const out = gitOut(dir, 'ls-tree', '-z', rev);
  const entries: TreeEntry[] = [];
  for (const line of out.toString('latin1').split('\0')) {
    if (!line) continue;
    const tab = line.indexOf('\t');
    const [mode, type, oid] = line.slice(0, tab).split(' ') as [string, string, string];
    const name = Buffer.from(line.slice(tab + 1), 'latin1');
    entries.push(
      type === 'tree'
        ? { mode: '40000', name, tree: readTree(dir, oid) }
        : { mode: mode === '040000' ? '40000' : mode, name, oid },
    );
  }
  return entries;
}

/** `base` with `entry` put at `path` (folders made or replaced as needed). */
export function putAt(base: TreeEntry[], path: Buffer[], entry: TreeEntry): TreeEntry[] {
  const [head, ...rest] = path;
  if (!head) return base;
  const others = base.filter((e) => !e.name.equals(head));
  if (rest.length === 0) return [...others, { ...entry, name: head } as TreeEntry];
  const existing = base.find((e) => e.name.equals(head));
  const inside = existing && 'tree' in existing ? existing.tree : [];
  return [...others, { mode: '40000', name: head, tree: putAt(inside, rest, entry) }];
}

/** Moves `branch` from `from` to `to` with native git (compare-and-swap, as a push would). */
export function moveBranch(dir: string, branch: string, to: string, from: string): void {
  gitOut(dir, 'update-ref', `refs/heads/${branch}`, to, from);
}

export const headOf = (dir: string, branch: string) =>
  gitOut(dir, 'rev-parse', `refs/heads/${branch}`).toString().trim();

// ---------------------------------------------------------------------------
// a raw HTTP client: any method, path, header and body bytes, one connection per request

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

/** Resolves with the answer, or with an Error (client-side refusal, reset, no answer in NO_ANSWER_MS). */
export function send(base: string, r: RawRequest, timeoutMs = NO_ANSWER_MS): Promise<Answer | Error> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    let settled = false;
    const done = (x: Answer | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(x);
    };
    const timer = setTimeout(() => {
      req.destroy();
      done(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    let req: ReturnType<typeof httpRequest>;
    try {
      req = httpRequest({ host: hostname, port, method: r.method, path: r.path, headers: r.headers, agent: false });
    } catch (err) {
      clearTimeout(timer);
      return resolve(err as Error);
    }
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        done({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', (err) => done(err));
    });
    req.on('error', (err) => done(err));
    if (r.body) req.end(r.body);
    else req.end();
  });
}

const errorCode = (a: Answer): string | undefined => {
  try {
    return (JSON.parse(a.body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
};

/** Why an answer breaks "no 5xx other than the documented 503s", or null. */
export function badStatus(r: RawRequest, a: Answer): string | null {
  if (a.status < 500) return null;
  if (a.status === 503) {
    if (r.path.split('?')[0]!.toLowerCase().replace(/\/$/, '') === '/readyz') return null;
    const code = errorCode(a);
    if (code && DOCUMENTED_503.has(code)) return null;
  }
  return `${r.method} ${abridge(r.path, 120)} answered ${a.status}: ${abridge(a.body, 300)}`;
}

export async function expectAnswer(base: string, r: RawRequest): Promise<Answer> {
  const a = await send(base, r);
  if (a instanceof Error) throw new Error(`${r.method} ${abridge(r.path, 120)}: ${a.message}`);
  const bad = badStatus(r, a);
  if (bad) throw new Error(bad);
  return a;
}

export const authHeader = (token: string) => ({ authorization: `Token ${token}` });

/** /healthz answers 200, and the process's resident memory is within RSS_BOUND. */
export async function expectAliveAndBounded(base: string): Promise<void> {
  const h = await expectAnswer(base, { method: 'GET', path: '/healthz', headers: {} });
  if (h.status !== 200) throw new Error(`/healthz answered ${h.status}: ${abridge(h.body, 200)}`);
  const rss = process.memoryUsage().rss;
  if (rss > RSS_BOUND) throw new Error(`resident memory ${Math.round(rss / 2 ** 20)} MB is over the 1 GB bound`);
}

/** Production's token answers /v1/resolve with 200; returns the parsed body. */
export async function expectProductionServed(base: string, token: string): Promise<Record<string, unknown>> {
  const a = await expectAnswer(base, { method: 'GET', path: '/v1/resolve', headers: authHeader(token) });
  if (a.status !== 200) throw new Error(`production's /v1/resolve answered ${a.status}: ${abridge(a.body, 300)}`);
  return JSON.parse(a.body) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------
// running a property and reporting its failing case

export function abridge(s: string, max = 160): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} chars)`;
}

/** A case as printable JSON: long strings and buffers abridged, so a report stays readable. */
export function describe(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === 'string') return abridge(v, 200);
      if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer') {
        const bytes = Buffer.from((v as { data: number[] }).data);
        const text = bytes.toString('utf8');
        const valid = Buffer.from(text, 'utf8').equals(bytes);
        return valid ? `utf8:${abridge(text, 300)}` : `bytes(${bytes.length}):${abridge(bytes.toString('hex'), 300)}`;
      }
      return v;
    },
    1,
  );
}

/**
 * Runs `property` for `numRuns` cases from FUZZ_SEED, stopping at the first failure, and throws
 * an error naming the seed, the replay path, the whole failing case and what broke.
 */
export async function runFuzz<T>(
  name: string,
  arbitrary: fc.Arbitrary<T>,
  numRuns: number,
  check: (value: T, index: number) => Promise<void>,
): Promise<void> {
  let index = 0;
  console.log(`fuzz ${name}: seed ${FUZZ_SEED} (FUZZ_SEED=… to vary), ${numRuns} cases`);
  const details = await fc.check(
    fc.asyncProperty(arbitrary, (v) => {
      if (process.env.FUZZ_VERBOSE) console.log(`case ${index}: ${abridge(describe(v), 2000)}`);
      return check(v, index++);
    }),
    { seed: FUZZ_SEED, numRuns, endOnFailure: true },
  );
  if (!details.failed) return;
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(
    `fuzz ${name} failed at case ${details.numRuns} of ${numRuns} (FUZZ_SEED=${FUZZ_SEED}, path ${details.counterexamplePath}):\n` +
      `${error}\n--- the case ---\n${describe(details.counterexample)}`,
  );
}

// ---------------------------------------------------------------------------
// YAML that parsers, limits and schemas must survive

/** Bytes that are not UTF-8, or are but trouble decoders (BOM, NUL, a lone surrogate encoded). */
const BAD_BYTES = [
  [0xff],
  [0xfe, 0xff],
  [0xc3, 0x28],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xc0, 0xaf],
  [0x00],
  [0xef, 0xbb, 0xbf],
  [0x1b, 0x5b, 0x32, 0x4a],
];

/** A position in a text, as a fraction of its length (spread evenly: fc.double favours tiny values). */
const fraction = fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000);

/** Inserts bad bytes at a few places of a text, or cuts it short, or prefixes a BOM. */
export const byteMutation = fc.oneof(
  fc
    .array(fc.tuple(fraction, fc.constantFrom(...BAD_BYTES)), {
      minLength: 1,
      maxLength: 3,
    })
    .map((inserts) => ({ kind: 'insert' as const, inserts })),
  fraction.map((at) => ({ kind: 'truncate' as const, at })),
  fc.constant({ kind: 'bom' as const }),
  fc.constant({ kind: 'crlf' as const }),
);
export type ByteMutation = typeof byteMutation extends fc.Arbitrary<infer T> ? T : never;

export function mutateBytes(text: Buffer, m: ByteMutation): Buffer {
  switch (m.kind) {
    case 'insert': {
      let out = text;
      for (const [where, bytes] of m.inserts) {
        const at = Math.floor(where * out.length);
        out = Buffer.concat([out.subarray(0, at), Buffer.from(bytes), out.subarray(at)]);
      }
      return out;
    }
    case 'truncate':
      return text.subarray(0, Math.floor(m.at * text.length));
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text]);
    case 'crlf':
      return Buffer.from(text.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
  }
}

/**
 * YAML aimed at the parser rather than the schema: alias bombs, more aliases than the parser
 * allows, deep nesting (flow and block), merge keys, tags, several documents, duplicate and
 * prototype keys, huge scalars. `key` is where the payload hangs (e.g. "expressions").
 */
export const yamlTrick = (key: string) =>
  fc.oneof(
    fc
      .record({ levels: fc.integer({ min: 2, max: 10 }), width: fc.integer({ min: 2, max: 10 }) })
      .map(({ levels, width }) => {
        const lines = [`a0: &a0 [${Array(width).fill('"lol"').join(', ')}]`];
        for (let i = 1; i < levels; i++)
          lines.push(
            `a${i}: &a${i} [${Array(width)
              .fill(`*a${i - 1}`)
              .join(', ')}]`,
          );
        return `${lines.join('\n')}\n${key}: *a${levels - 1}\n`;
      }),
    fc.integer({ min: 90, max: 140 }).map((n) => `x: &x hello\n${key}: [${Array(n).fill('*x').join(', ')}]\n`),
    fc.integer({ min: 10, max: 20_000 }).map((d) => `${key}: ${'['.repeat(d)}"deep"${']'.repeat(d)}\n`),
    fc.integer({ min: 10, max: 20_000 }).map((d) => `${key}: ${'{a: '.repeat(d)}deep${'}'.repeat(d)}\n`),
    fc.integer({ min: 10, max: 300 }).map((d) => {
      const lines = [`${key}:`];
      for (let i = 1; i <= d; i++) lines.push(`${' '.repeat(i)}- `);
      return `${lines.join('\n')}deep\n`;
    }),
    fc.constant(`base: &b\n  ${key}: [one, two]\n<<: *b\n`),
    fc.constantFrom(
      `${key}: !!binary aGVsbG8=\n`,
      `${key}: !!js/function 'function () { return 1 }'\n`,
      `${key}: !!set {a, b}\n`,
      `${key}: !!omap [a: 1, b: 2]\n`,
      `${key}: !custom {x: 1}\n`,
      `${key}: !!timestamp 2001-12-14t21:59:43.10-05:00\n`,
      `${key}: !!int "not a number"\n`,
      `${key}: [a]\n---\n${key}: [b]\n`,
      `${key}: [a]\n${key}: [b]\n`,
      `__proto__: {polluted: true}\n${key}: [a]\n`,
      `constructor: {prototype: {polluted: true}}\n${key}: [a]\n`,
      `? [complex, key]\n: value\n${key}: [a]\n`,
      `${key}: |\n\tbad tab\n`,
      `${key}: "unterminated\n`,
      `%YAML 1.1\n%TAG ! tag:evil.example,2000:\n---\n${key}: !x [a]\n`,
      `${key}: &self [*self]\n`,
      `${key}: *nowhere\n`,
    ),
    fc
      .record({ size: fc.integer({ min: 50_000, max: 300_000 }), word: fc.constantFrom('x', 'hello world ', 'é🙂') })
      .map(({ size, word }) => `${key}:\n  - "${word.repeat(Math.ceil(size / word.length)).slice(0, size)}"\n`),
  );
