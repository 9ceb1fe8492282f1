import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, expect, inject } from 'vitest';
import { startResolver, type ResolverOptions, type RunningResolver } from '../src/resolver/server.js';
import { createLogger } from '../src/resolver/monitoring/logger.js';
import { openBotRepo } from '../src/ops/bot-repo.js';
import { commitFiles } from '../src/ops/content-commit.js';
import { TEST_ENV, git, tempDir } from './helpers.js';
import { buildExampleWithTokens, type Tokens } from './example-template.js';

// A real resolver on 127.0.0.1 (port 0) over a real repository, closed after each test, and
// the real clients to talk to it: fetch for ordinary requests, node:http for paths fetch
// would normalise, node:net for bytes no HTTP client would send.

export const ADMIN_TOKEN = 'admin-test-token-4f9c2b';

const running: RunningResolver[] = [];
// Registered after helpers.ts's hook (imported above), so it runs before the temp dirs go.
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

/**
 * A resolver over `repo` with a silent logger and the test admin token, closed after the test.
 * Ref following is left at its defaults (fs.watch plus a 500 ms poll): what users run.
 */
export async function serve(repo: string, options: Partial<ResolverOptions> = {}): Promise<RunningResolver> {
  const resolver = await startResolver({
    repo,
    port: 0,
    host: '127.0.0.1',
    adminToken: ADMIN_TOKEN,
    logger: createLogger({ level: 'silent' }),
    shutdownGraceMs: 2000,
    ...options,
  });
  running.push(resolver);
  // NLU models train in a worker after start; tests begin once they are ready (or failed).
  await resolver.nlu.idle();
  return resolver;
}

/** A logger writing JSON lines into memory: to assert what reaches the log (and what never does). */
export function captureLogger(level = 'trace') {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ level, destination });
  return {
    logger,
    text: () => chunks.join(''),
    lines: (): Record<string, any>[] =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, any>),
  };
}

export type { Tokens };

/**
 * The example bot (v1 with content, v2 copied from v1, production -> v1, staging -> v2) with
 * every token known: they are rotated through the CLI, the only way to learn a token again.
 */
export async function exampleWithTokens(): Promise<{ dir: string; tokens: Tokens }> {
  const dir = tempDir('botver-example-');
  return { dir, tokens: await buildExampleWithTokens(dir) };
}

/**
 * The example bot with its tokens, each test getting its own copy of the run's template (built
 * once by test/global-setup.ts; same tokens everywhere): call at the top of a test file, then
 * `const { dir, tokens } = example();` in a test. With `trained`, the copy starts with the NLU
 * models of its commits in its model cache, as a restarted server has them (new commits train).
 */
export function sharedExampleWithTokens(options: { trained?: boolean } = {}): () => { dir: string; tokens: Tokens } {
  return () => {
    const { plain, trained, tokens } = inject('example');
    const dir = tempDir('botver-example-');
    // cp -a: several times faster than fs.cpSync on a repository's many small files.
    execFileSync('cp', ['-a', `${options.trained ? trained : plain}/.`, dir]);
    return { dir, tokens };
  };
}

/** Commits files onto a branch with botver's library (no validation: broken content is allowed). Returns the new commit. */
export async function commitTo(
  dir: string,
  branch: string,
  files: Record<string, string | null>,
  message = 'test change',
): Promise<string> {
  const repo = await openBotRepo({ repo: dir });
  const { commit } = await commitFiles(repo, branch, files, message);
  if (!commit) throw new Error(`nothing committed on ${branch}`);
  expect(git(dir, 'rev-parse', `refs/heads/${branch}`)).toBe(commit);
  return commit;
}

export const auth = (token: string, scheme = 'Token') => ({ Authorization: `${scheme} ${token}` });

export async function getJson(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: the raw text
  }
  return { status: res.status, headers: res.headers, body };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits for something to happen: polls `check` until it returns a value other than undefined,
 * and returns that value. How long it took is never asserted (a loaded machine is slow, not
 * wrong); `giveUpMs` only turns "never happens" into a failure naming `what` instead of a test
 * timeout, so it is generous.
 */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  giveUpMs = 15_000,
): Promise<{ value: T }> {
  const giveUpAt = Date.now() + giveUpMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return { value };
    } catch (err) {
      last = err;
    }
    if (Date.now() > giveUpAt)
      throw new Error(`${what}: not seen within ${giveUpMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(20);
  }
}

/** Polls /v1/resolve with `token` until it answers `commit`; returns the answer. */
export async function waitForCommit(
  base: string,
  token: string,
  commit: string,
  field: 'commit' | 'manifestCommit' = 'commit',
) {
  const { value } = await eventually(`${field} ${commit.slice(0, 12)} served`, async () => {
    const r = await getJson(`${base}/v1/resolve`, auth(token));
    return r.status === 200 && r.body[field] === commit ? r : undefined;
  });
  return value;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A request through node:http with the path sent as is (no normalisation of "..", "%2e"). */
export function rawPath(
  base: string,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Raw bytes over a TCP connection; resolves with everything the server sent until it closed. */
export function rawBytes(port: number, data: string | Buffer, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`no close from the server within ${timeoutMs} ms; got ${JSON.stringify(received.slice(0, 300))}`),
      );
    }, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (received += c));
    socket.on('error', () => {
      // a reset after the answer: what was received is the answer
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.write(data);
  });
}

/** Parses a raw HTTP/1.1 answer (Content-Length framed). */
export function parseRaw(raw: string): RawResponse {
  const split = raw.indexOf('\r\n\r\n');
  expect(split, `not an HTTP answer: ${JSON.stringify(raw.slice(0, 200))}`).toBeGreaterThan(0);
  const [statusLine, ...headerLines] = raw.slice(0, split).split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine!)?.[1]);
  const headers: IncomingHttpHeaders = {};
  for (const line of headerLines) {
    const at = line.indexOf(':');
    headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  return { status, headers, body: raw.slice(split + 4) };
}

/** The value of the Prometheus sample with exactly these labels (in any order); undefined when absent. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const got = [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [
      m[1]!,
      m[2]!,
    ]);
    if (JSON.stringify(got.sort()) === want) return Number(match[3]);
  }
  return undefined;
}

/**
 * Whether the server listening on `serverPort` has read every byte the client socket bound to
 * `clientPort` sent (Linux /proc/net/tcp): the client side has nothing unacknowledged (the bytes
 * reached the server's kernel) and the server side has nothing unread (its process took them).
 * Node parses what it reads in the same tick, so the request is then known to the server.
 */
export function serverHasRead(serverPort: number, clientPort: number): boolean {
  const sockets = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length > 4)
    .map((f) => {
      const port = (address: string) => Number.parseInt(address.split(':')[1]!, 16);
      const [tx, rx] = f[4]!.split(':').map((n) => Number.parseInt(n, 16)) as [number, number];
      return { local: port(f[1]!), remote: port(f[2]!), tx, rx };
    });
  const client = sockets.find((s) => s.local === clientPort && s.remote === serverPort);
  const server = sockets.find((s) => s.local === serverPort && s.remote === clientPort);
  return client !== undefined && server !== undefined && client.tx === 0 && server.rx === 0;
}

/** Native git with `input` on stdin; returns trimmed stdout. */
export function gitInput(cwd: string, input: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    input,
    env: { ...process.env, ...TEST_ENV },
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  }).trim();
}

/**
 * A commit made with native git plumbing from `files` (path -> text), with the given parents;
 * no ref is moved.
 */
export function nativeCommit(dir: string, files: Record<string, string>, parents: string[], message: string): string {
  type Dir = Map<string, string | Dir>;
  const root: Dir = new Map();
  for (const [path, text] of Object.entries(files)) {
    const parts = path.split('/');
    let at = root;
    for (const part of parts.slice(0, -1)) {
      if (!at.has(part)) at.set(part, new Map());
      at = at.get(part) as Dir;
    }
    at.set(parts.at(-1)!, text);
  }
  const write = (d: Dir): string => {
    const listing = [...d]
      .map(([name, item]) =>
        typeof item === 'string'
          ? `100644 blob ${gitInput(dir, item, 'hash-object', '-w', '--stdin')}\t${name}`
          : `040000 tree ${write(item)}\t${name}`,
      )
      .join('\n');
    return gitInput(dir, listing ? `${listing}\n` : '', 'mktree');
  };
  const tree = write(root);
  return git(dir, 'commit-tree', tree, ...parents.flatMap((p) => ['-p', p]), '-m', message);
}
