import fc from 'fast-check';
import { BODY_LIMIT } from '../src/resolver/app.js';
import { describe as suite, it } from 'vitest';
import { ADMIN_TOKEN, serve, sharedExampleWithTokens, type Tokens } from './resolver-helpers.js';
import {
  badStatus,
  expectAliveAndBounded,
  expectProductionServed,
  runFuzz,
  runs,
  send,
  type RawRequest,
} from './fuzz-support.js';

// Fuzz: random HTTP requests to every route of a live resolver — /v2/request, /build/v1/dialog
// with random memory (deep nesting, near the 64 KB cap, prototype keys), /v1/files/<any path>,
// the conversation states, the channel webhook, the admin routes with and without the admin
// token, probes and unknown paths — with random methods, tokens, content types, encodings,
// declared lengths and bodies (JSON near what each route wants, random JSON, bytes). A case is a
// short sequence, conversation ids drawn from a small pool so that later messages meet what
// earlier ones stored. After each request and case (docs/operations.md; issue #9): no 5xx other
// than the documented 503s, every request answered (a body up to the 256 KB limit is never just
// dropped), /healthz answers, production's token is served, and the process stays under its
// memory bound.

const example = sharedExampleWithTokens();

type Who = keyof Tokens | 'admin' | 'none' | 'garbage';
const who = fc.constantFrom<Who>('production', 'staging', 'v1', 'v2', 'admin', 'none', 'garbage');
const scheme = fc.constantFrom('Token', 'Bearer', 'Basic', 'token', '');
const conversationId = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('c1', 'c2', 'c3') },
  fc.string({ maxLength: 300 }),
  fc.integer(),
);
const segment = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._~-]{1,20}$/),
  fc.constantFrom(
    '..',
    '.',
    '%2e%2e',
    '%2E',
    '%2f',
    '%00',
    '%ff',
    '%',
    '%zz',
    '',
    'skills',
    'training',
    '.git',
    'HEAD',
  ),
  fc.string({ unit: 'grapheme', maxLength: 8 }).map(encodeURIComponent),
  fc.integer({ min: 1000, max: 12_000 }).map((n) => 'p'.repeat(n)),
);
const urlPath = fc.array(segment, { maxLength: 6 }).map((s) => s.join('/'));

/** Memory a conversation is sent: ordinary, deeply nested, near the cap, or hostile keys. */
const memory = fc.oneof(
  fc
    .dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 })
    .map((m) => JSON.stringify(m)),
  fc
    .record({
      depth: fc.constantFrom(10, 100, 1000, 1999, 2000, 2001, 5000, 20_000, 100_000),
      kind: fc.constantFrom('[', '{'),
    })
    .map(({ depth, kind }) =>
      kind === '['
        ? `{"deep":${'['.repeat(depth)}1${']'.repeat(depth)}}`
        : `{"deep":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`,
    ),
  fc.integer({ min: 60_000, max: 70_000 }).map((n) => JSON.stringify({ big: 'm'.repeat(n) })),
  fc
    .integer({ min: 1000, max: 20_000 })
    .map((n) => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])))),
  fc.constantFrom(
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"x":1}}}',
    '[]',
    'null',
    '"text"',
    '{}',
  ),
);
const messageText = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.constantFrom('hello', 'I want a large pizza', 'where is order AB1234', ''),
  fc.integer({ min: 1990, max: 2010 }).map((n) => 'a'.repeat(n)),
);

interface Req {
  method: string;
  path: string;
  who: Who;
  scheme: string;
  contentType?: string;
  encoding?: string;
  body?: string;
  /** bytes that are not UTF-8 in place of the body */
  binary?: number[];
  declaredLength?: 'exact' | 'none' | 'short' | 'huge';
  ifNoneMatch?: string;
}

const dialogBody = fc
  .record({
    type: fc.constantFrom('text', 'picture', 'button', 42),
    content: fc.oneof(messageText, fc.jsonValue({ maxDepth: 2 })),
    id: conversationId,
    memory: fc.option(memory, { nil: undefined }),
    language: fc.option(fc.constantFrom('en', 'fr', 'xx', 'EN', 'english'), { nil: undefined }),
  })
  .map(
    ({ type, content, id, memory: mem, language }) =>
      `{"message":${JSON.stringify({ type, content })},"conversation_id":${JSON.stringify(id)}` +
      `${mem === undefined ? '' : `,"memory":${mem}`}${language === undefined ? '' : `,"language":"${language}"`}}`,
  );
const nlpBody = fc
  .record({
    text: fc.oneof(messageText, fc.jsonValue({ maxDepth: 2 })),
    language: fc.option(fc.string({ maxLength: 4 })),
  })
  .map((b) => JSON.stringify(b));
const anyBody = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('{', '{"text":', '[1,', '\ufeff{"text":"hi"}', '{"text":"\\ud800"}'),
  fc.integer({ min: 900_000, max: 1_100_000 }).map((n) => `{"text":"${'b'.repeat(n)}"}`),
);

const states = (id: string, user: string) => [
  `/build/v1/users/${user}/bots/awesome-bot/versions/v1/builder/conversation_states/${id}`,
  `/build/v1/users/${user}/bots/awesome-bot/builders/v1/conversation_states/${id}`,
];

const request: fc.Arbitrary<Req> = fc
  .record({
    route: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('nlp', 'dialog') },
      fc.constantFrom('files', 'state', 'webhook', 'admin', 'resolve', 'probe', 'other'),
    ),
    who,
    scheme,
    method: fc.oneof(
      { weight: 3, arbitrary: fc.constant('default') },
      fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'PROPFIND'),
    ),
    contentType: fc.oneof(
      { weight: 5, arbitrary: fc.constant('application/json') },
      fc.constantFrom(
        undefined,
        'text/plain',
        'application/json; charset=latin1',
        'application/json; charset=utf-16',
        'application/vnd.x+json',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded',
      ),
    ),
    encoding: fc.oneof(
      { weight: 6, arbitrary: fc.constant(undefined) },
      fc.constantFrom('gzip', 'deflate', 'br', 'x-evil', 'identity'),
    ),
    declaredLength: fc.constantFrom('exact', 'exact', 'exact', 'none', 'huge'),
    bodyKind: fc.constantFrom('route', 'route', 'any', 'binary', 'none'),
    routeBody: fc.oneof(dialogBody, nlpBody),
    any: anyBody,
    binary: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 64 }),
    path: urlPath,
    id: conversationId.map((x) => encodeURIComponent(String(x))),
    admin: fc.constantFrom('/v1/environments', '/v1/versions', '/v1/logs', '/v1/usage'),
    query: fc.oneof(
      fc.constant(''),
      fc.constantFrom(
        '?limit=-1',
        '?limit=1e9',
        '?since=yesterday',
        '?environment=production&version=v1',
        '?intent=%ff',
        '?a[b]=c',
      ),
      fc.string({ maxLength: 30 }).map((s) => `?q=${encodeURIComponent(s)}`),
    ),
    ifNoneMatch: fc.option(
      fc.oneof(
        fc.constant('*'),
        fc.string({ maxLength: 50 }).map((s) => JSON.stringify(s).replace(/[^\x20-\x7e]/g, '')),
      ),
      { nil: undefined },
    ),
  })
  .map((r): Req => {
    const [path, defaultMethod] = {
      nlp: ['/v2/request', 'POST'],
      dialog: ['/build/v1/dialog', 'POST'],
      files: [`/v1/files/${r.path}`, 'GET'],
      state: [states(r.id, r.path.split('/')[0] || 'u')[r.id.length % 2]!, r.id.length % 3 ? 'GET' : 'DELETE'],
      webhook: [`/v1/channels/${r.path.split('/')[0] || 'x'}/webhook`, 'POST'],
      admin: [`${r.admin}${r.query}`, 'GET'],
      resolve: [`/v1/resolve${r.query}`, 'GET'],
      probe: [['/healthz', '/readyz', '/metrics', '/openapi.json'][r.id.length % 4]!, 'GET'],
      other: [`/${r.path}${r.query}`, 'GET'],
    }[r.route] as [string, string];
    const method = r.method === 'default' ? defaultMethod : r.method;
    const withBody = method !== 'GET' && method !== 'HEAD' && r.bodyKind !== 'none';
    return {
      method,
      path,
      who: r.who,
      scheme: r.scheme,
      contentType: r.contentType,
      encoding: r.encoding,
      ...(withBody && r.bodyKind === 'binary' && { binary: r.binary }),
      ...(withBody && r.bodyKind !== 'binary' && { body: r.bodyKind === 'any' ? r.any : r.routeBody }),
      declaredLength: r.declaredLength,
      ifNoneMatch: r.ifNoneMatch,
    };
  });

/** Several messages of one conversation (each with its own memory), then its state read back. */
const conversation: fc.Arbitrary<Req[]> = fc
  .record({
    who: fc.constantFrom<Who>('production', 'staging', 'v1', 'v2'),
    id: fc.constantFrom('c1', 'c2', 'c3'),
    turns: fc.array(fc.record({ text: messageText, memory: fc.option(memory, { nil: undefined }) }), {
      minLength: 2,
      maxLength: 3,
    }),
  })
  .map(({ who: w, id, turns }) => [
    ...turns.map(
      (t): Req => ({
        method: 'POST',
        path: '/build/v1/dialog',
        who: w,
        scheme: 'Token',
        contentType: 'application/json',
        declaredLength: 'exact',
        body:
          `{"message":{"type":"text","content":${JSON.stringify(t.text)}},"conversation_id":"${id}"` +
          `${t.memory === undefined ? '' : `,"memory":${t.memory}`}}`,
      }),
    ),
    { method: 'GET', path: states(id, 'u')[0]!, who: w, scheme: 'Token' },
  ]);

function toRaw(r: Req, tokens: Tokens): RawRequest {
  const headers: Record<string, string> = {};
  const token =
    r.who === 'admin' ? ADMIN_TOKEN : r.who === 'none' ? undefined : r.who === 'garbage' ? 'bvt_nope' : tokens[r.who];
  if (token) headers.authorization = r.scheme ? `${r.scheme} ${token}` : token;
  if (r.contentType) headers['content-type'] = r.contentType;
  if (r.encoding) headers['content-encoding'] = r.encoding;
  if (r.ifNoneMatch) headers['if-none-match'] = r.ifNoneMatch;
  const body = r.binary ? Buffer.from(r.binary) : r.body !== undefined ? Buffer.from(r.body) : undefined;
  if (body && r.declaredLength === 'exact') headers['content-length'] = String(body.length);
  if (body && r.declaredLength === 'huge') headers['content-length'] = String(50 * BODY_LIMIT);
  return { method: r.method, path: r.path, headers, ...(body && { body }) };
}

suite('fuzz: random HTTP requests to every route', () => {
  it('answers everything without an undocumented 5xx, keeps production served and stays bounded', async () => {
    const { dir, tokens } = example();
    const resolver = await serve(dir);
    const base = resolver.url;
    const sequence = fc
      .array(fc.oneof({ weight: 3, arbitrary: request.map((r) => [r]) }, conversation), { minLength: 1, maxLength: 3 })
      .map((groups) => groups.flat());

    await runFuzz('http', sequence, runs(80), async (reqs) => {
      for (const [i, r] of reqs.entries()) {
        const raw = toRaw(r, tokens);
        const which = `request ${i + 1} of ${reqs.length}`;
        const a = await send(base, raw);
        if (a instanceof Error) {
          // The client refused to send it (a path or header Node will not write): not the server's doing.
          if ((a as NodeJS.ErrnoException).code?.startsWith('ERR_')) continue;
          // A body declared over the limit may be cut off unread; anything else must be answered.
          const declared = Number(raw.headers['content-length'] ?? raw.body?.length ?? 0);
          if (declared > BODY_LIMIT || (raw.body?.length ?? 0) > BODY_LIMIT) continue;
          throw new Error(`${which}: ${raw.method} ${raw.path.slice(0, 120)}: ${a.message}`);
        }
        const bad = badStatus(raw, a);
        if (bad) throw new Error(`${which}: ${bad}`);
      }
      await expectAliveAndBounded(base);
      await expectProductionServed(base, tokens.production);
    });
  }, 120_000);
});
