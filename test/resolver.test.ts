import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { exampleFiles, git, ok, tempDir } from './helpers.js';
import {
  ADMIN_TOKEN,
  auth,
  captureLogger,
  commitTo,
  eventually,
  sharedExampleWithTokens,
  getJson,
  metric,
  nativeCommit,
  parseRaw,
  rawBytes,
  rawPath,
  serve,
  sleep,
  waitForCommit,
  type Tokens,
} from './resolver-helpers.js';

// The resolver over HTTP on 127.0.0.1, on real repositories, through real clients: every
// route, authentication, conditional requests, the admin and monitoring routes, readiness
// and bad input. Commits, blobs and file bytes are cross-checked with native git.

const UNAUTHORIZED = {
  error: {
    code: 'UNAUTHORIZED',
    message: 'a valid token is required: "Authorization: Token <token>" or "Authorization: Bearer <token>"',
  },
};
const admin = auth(ADMIN_TOKEN, 'Bearer');
const shared = sharedExampleWithTokens({ trained: true });

async function example() {
  const { dir, tokens } = shared();
  const resolver = await serve(dir);
  return { dir, tokens, resolver, url: resolver.url };
}

/** The request log feed (newest first), through the admin route. */
async function feed(url: string, query = ''): Promise<any[]> {
  const r = await getJson(`${url}/v1/logs${query}`, admin);
  expect(r.status).toBe(200);
  return r.body.entries;
}

describe('GET /v1/resolve', () => {
  it('answers an environment token with the version it points at, the commit and the whole bundle', async () => {
    const { dir, tokens, url } = await example();
    const res = await fetch(`${url}/v1/resolve`, { headers: auth(tokens.production) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const v1 = git(dir, 'rev-parse', 'refs/heads/v1');
    expect(res.headers.get('etag')).toBe(`"${v1}"`);
    const body = (await res.json()) as any;
    expect(Object.keys(body)).toEqual(['bot', 'environment', 'version', 'commit', 'manifestCommit', 'bundle']);
    expect(body).toMatchObject({
      bot: 'awesome-bot',
      environment: 'production',
      version: 'v1',
      commit: v1,
      manifestCommit: git(dir, 'rev-parse', 'refs/heads/main'),
    });
    // The bundle is the branch's content, each list in path order, parsed from the YAML native git sees.
    const files = exampleFiles();
    const slugs = (prefix: string) =>
      [...files.keys()]
        .filter((p) => p.startsWith(prefix))
        .sort()
        .map((p) => parse(files.get(p)!).slug);
    expect(body.bundle.intents.map((i: any) => i.slug)).toEqual(slugs('training/intents/'));
    expect(body.bundle.entities.map((e: any) => e.slug)).toEqual(slugs('training/entities/'));
    expect(body.bundle.skills.map((s: any) => s.slug)).toEqual(slugs('skills/'));
    expect(body.bundle.tests).toHaveLength(1);
    expect(body.bundle.intents[0]).toEqual(parse(git(dir, 'show', 'v1:training/intents/ask-menu.yaml')));
  });

  it('answers the same from the fast path and from the Express route, 304s included', async () => {
    const { tokens, url } = await example();
    // "/v1/resolve" is answered before Express; "/v1/resolve/" (Express routes are not strict) by the Express route.
    const fast = await fetch(`${url}/v1/resolve`, { headers: auth(tokens.production) });
    const slow = await fetch(`${url}/v1/resolve/`, { headers: auth(tokens.production) });
    expect(slow.status).toBe(200);
    expect(Buffer.from(await slow.arrayBuffer())).toEqual(Buffer.from(await fast.arrayBuffer()));
    for (const name of [
      'etag',
      'cache-control',
      'content-type',
      'content-length',
      'x-botver-version',
      'x-botver-environment',
      'x-botver-manifest-commit',
    ]) {
      expect([name, slow.headers.get(name)]).toEqual([name, fast.headers.get(name)]);
    }
    const etag = fast.headers.get('etag')!;
    for (const path of ['/v1/resolve', '/v1/resolve/']) {
      const res = await fetch(`${url}${path}`, { headers: { ...auth(tokens.production), 'If-None-Match': etag } });
      expect(res.status).toBe(304);
      expect(res.headers.get('x-botver-version')).toBe('v1');
    }
    const entries = await feed(url);
    expect(entries.map((e) => [e.route, e.status, e.environment, e.version])).toEqual([
      ['/v1/resolve', 304, 'production', 'v1'],
      ['/v1/resolve', 304, 'production', 'v1'],
      ['/v1/resolve', 200, 'production', 'v1'],
      ['/v1/resolve', 200, 'production', 'v1'],
    ]);
  });

  it('answers the other environment and the version tokens, with either scheme in any case', async () => {
    const { dir, tokens, url } = await example();
    // v2 gets a commit of its own so that v1 and v2 differ.
    const v2 = await commitTo(dir, 'v2', {
      'training/intents/extra.yaml': 'slug: extra\nexpressions:\n  - something extra\n',
    });
    const v1 = git(dir, 'rev-parse', 'v1');
    await waitForCommit(url, tokens.v2, v2);
    const cases: [string, Record<string, string>, object][] = [
      ['staging, Token', auth(tokens.staging), { environment: 'staging', version: 'v2', commit: v2 }],
      ['staging, Bearer', auth(tokens.staging, 'Bearer'), { environment: 'staging', version: 'v2', commit: v2 }],
      ['v1, bearer', auth(tokens.v1, 'bearer'), { environment: null, version: 'v1', commit: v1 }],
      [
        'v2, TOKEN and spaces',
        { Authorization: `TOKEN   ${tokens.v2}  ` },
        { environment: null, version: 'v2', commit: v2 },
      ],
      [
        'production, tab',
        { Authorization: `Token\t${tokens.production}` },
        { environment: 'production', version: 'v1', commit: v1 },
      ],
    ];
    for (const [what, headers, expected] of cases) {
      const r = await getJson(`${url}/v1/resolve`, headers);
      expect(r.status, what).toBe(200);
      expect(r.body, what).toMatchObject(expected);
    }
    const r = await getJson(`${url}/v1/resolve`, auth(tokens.v2));
    expect(r.body.bundle.intents.map((i: any) => i.slug)).toContain('extra');
    expect(
      (await getJson(`${url}/v1/resolve`, auth(tokens.v1))).body.bundle.intents.map((i: any) => i.slug),
    ).not.toContain('extra');
  });

  it('gives every missing, malformed and unknown token the same 401', async () => {
    const { tokens, url, dir } = await example();
    const headers: (Record<string, string> | undefined)[] = [
      undefined,
      { Authorization: '' },
      { Authorization: 'Token' },
      { Authorization: tokens.production }, // no scheme
      { Authorization: `Basic ${Buffer.from(`x:${tokens.production}`).toString('base64')}` },
      { Authorization: `Token ${tokens.production} extra` },
      { Authorization: `Token ${tokens.production.slice(0, -1)}` },
      { Authorization: `Token ${tokens.production}x` },
      { Authorization: 'Bearer bvt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
      { Authorization: `Bearer ${'x'.repeat(5000)}` },
      // The manifest stores hashes: the hash itself is not a token.
      {
        Authorization: `Token ${parse(git(dir, 'show', 'main:environments.yaml')).environments.production.tokenSha256}`,
      },
      // The admin token opens admin routes only.
      admin,
    ];
    for (const h of headers) {
      const res = await fetch(`${url}/v1/resolve`, { headers: h });
      expect(res.status, JSON.stringify(h)).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="botver"');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('etag')).toBeNull();
      expect(await res.json()).toEqual(UNAUTHORIZED);
    }
  });

  it('answers 304 to If-None-Match with the served commit, strong, weak, listed or *', async () => {
    const { dir, tokens, url } = await example();
    const etag = `"${git(dir, 'rev-parse', 'v1')}"`;
    for (const inm of [etag, `W/${etag}`, `"0000", ${etag}`, '*']) {
      const res = await fetch(`${url}/v1/resolve`, { headers: { ...auth(tokens.production), 'If-None-Match': inm } });
      expect(res.status, inm).toBe(304);
      expect(res.headers.get('etag')).toBe(etag);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.text()).toBe('');
    }
    // Another commit's tag, or v2's commit for a v1 token after v2 moved: a full answer.
    const v2 = await commitTo(dir, 'v2', {
      'training/intents/extra.yaml': 'slug: extra\nexpressions:\n  - one more\n',
    });
    await waitForCommit(url, tokens.v2, v2);
    for (const inm of [`"${v2}"`, `${etag.slice(0, -2)}"`, 'W/"abc"']) {
      const res = await fetch(`${url}/v1/resolve`, { headers: { ...auth(tokens.production), 'If-None-Match': inm } });
      expect(res.status, inm).toBe(200);
      expect(((await res.json()) as any).commit).toBe(etag.slice(1, -1));
    }
    // The If-None-Match never skips authentication.
    const res = await fetch(`${url}/v1/resolve`, { headers: { 'If-None-Match': etag } });
    expect(res.status).toBe(401);
  });

  it('serves a pinned environment at its pin while the branch moves on', async () => {
    const { dir, tokens, url } = await example();
    const pin = git(dir, 'rev-parse', 'v2');
    await ok(dir, 'env', 'set', 'staging', 'v2', '--pin');
    const moved = await commitTo(dir, 'v2', {
      'training/intents/extra.yaml': 'slug: extra\nexpressions:\n  - after the pin\n',
    });
    await waitForCommit(url, tokens.v2, moved);
    const r = await getJson(`${url}/v1/resolve`, auth(tokens.staging));
    expect(r.body).toMatchObject({
      environment: 'staging',
      version: 'v2',
      commit: pin,
      manifestCommit: git(dir, 'rev-parse', 'main'),
    });
    expect(r.headers.get('etag')).toBe(`"${pin}"`);
  });

  it('answers 405 with Allow to other methods', async () => {
    const { tokens, url } = await example();
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const res = await fetch(`${url}/v1/resolve`, { method, headers: auth(tokens.production) });
      expect(res.status, method).toBe(405);
      expect(res.headers.get('allow')).toBe('GET');
      expect(((await res.json()) as any).error.code).toBe('METHOD_NOT_ALLOWED');
    }
    // HEAD is GET without a body.
    const head = await fetch(`${url}/v1/resolve`, { method: 'HEAD', headers: auth(tokens.production) });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toMatch(/^"[0-9a-f]{40}"$/);
  });
});

describe('GET /v1/files/*path', () => {
  it('answers the raw bytes of a file of the served commit, its blob id as ETag', async () => {
    const { dir, tokens, url } = await example();
    const path = 'training/entities/pizza-size.yaml';
    const res = await fetch(`${url}/v1/files/${path}`, { headers: auth(tokens.production) });
    expect(res.status).toBe(200);
    const blob = git(dir, 'rev-parse', `v1:${path}`);
    expect(res.headers.get('etag')).toBe(`"${blob}"`);
    expect(res.headers.get('content-type')).toBe('text/yaml; charset=utf-8');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-botver-commit')).toBe(git(dir, 'rev-parse', 'v1'));
    expect(res.headers.get('cache-control')).toBe('no-cache');
    // The bytes hash to the blob id native git has: exactly the committed file.
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.toString('utf8')).toBe(exampleFiles().get(path));
    expect(createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex')).toBe(blob);

    const again = await fetch(`${url}/v1/files/${path}`, {
      headers: { ...auth(tokens.production), 'If-None-Match': `"${blob}"` },
    });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
  });

  it('reads each token its own commit: a file only v2 has, bytes exactly as committed', async () => {
    const { dir, tokens, url } = await example();
    const text =
      'slug: extra\n# a comment the bundle drops but the raw file keeps\nexpressions:\n  - "caf\u00e9 \u2615"\n';
    const v2 = await commitTo(dir, 'v2', {
      'training/intents/extra.yaml': text,
      'README.md': '# notes\n',
      'data.bin': '\u0001\u0002',
    });
    await waitForCommit(url, tokens.v2, v2);
    for (const token of [tokens.v2, tokens.staging]) {
      const res = await fetch(`${url}/v1/files/training/intents/extra.yaml`, { headers: auth(token) });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(text);
      expect(res.headers.get('x-botver-commit')).toBe(v2);
    }
    expect((await fetch(`${url}/v1/files/README.md`, { headers: auth(tokens.v2) })).headers.get('content-type')).toBe(
      'text/markdown; charset=utf-8',
    );
    expect((await fetch(`${url}/v1/files/data.bin`, { headers: auth(tokens.v2) })).headers.get('content-type')).toBe(
      'application/octet-stream',
    );
    const missing = await getJson(`${url}/v1/files/training/intents/extra.yaml`, auth(tokens.production));
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
  });

  it('answers 404 for a missing file, a folder and a path through a file', async () => {
    const { tokens, url } = await example();
    for (const path of [
      'nope.yaml',
      'training',
      'training/intents',
      'skills/greetings.yaml/x',
      'environments.yaml',
      'a/b/c/d/e',
    ]) {
      const r = await getJson(`${url}/v1/files/${path}`, auth(tokens.production));
      expect(r.status, path).toBe(404);
      expect(r.body.error.code).toBe('NOT_FOUND');
    }
  });

  it('refuses ".", "..", empty and encoded traversal segments with 400 BAD_PATH, never reading outside the tree', async () => {
    const { tokens, url } = await example();
    const paths = [
      '/v1/files/../environments.yaml',
      '/v1/files/training/../../environments.yaml',
      '/v1/files/./training/intents/greetings.yaml',
      '/v1/files/%2e%2e/environments.yaml',
      '/v1/files/%2E%2E/%2E%2E/etc/passwd',
      '/v1/files/training%2f..%2f..%2fenvironments.yaml',
      '/v1/files/training%2Fintents%2Fgreetings.yaml',
      '/v1/files/training//intents/greetings.yaml',
      '/v1/files/training/intents/greetings.yaml%00',
      '/v1/files/..%5c..%5cenvironments.yaml',
    ];
    for (const path of paths) {
      const r = await rawPath(url, path, auth(tokens.production));
      expect(r.status, path).toBe(400);
      expect(JSON.parse(r.body).error.code, path).toBe('BAD_PATH');
    }
    // Authentication comes first: no token, no hint about paths.
    const r = await rawPath(url, '/v1/files/../environments.yaml');
    expect(r.status).toBe(401);
  });

  it('answers a path that is not valid percent-encoding with 400 BAD_PATH, not a 500 in the error log', async () => {
    const { dir, tokens } = shared();
    const capture = captureLogger('info');
    const { url } = await serve(dir, { logger: capture.logger });
    // Overlong UTF-8 for "..", a lone "%", a byte that is not UTF-8: the router cannot decode them.
    for (const path of [
      '/v1/files/%zz',
      '/v1/files/training/a%',
      '/v1/files/%C0%AE%C0%AE/environments.yaml',
      '/v1/files/%ff',
    ]) {
      for (const headers of [auth(tokens.production), {}]) {
        const r = await rawPath(url, path, headers);
        expect(r.status, path).toBe(400);
        expect(JSON.parse(r.body)).toEqual({
          error: { code: 'BAD_PATH', message: 'the path is not valid percent-encoding' },
        });
      }
    }
    expect(capture.lines().filter((l) => l.level >= 50)).toEqual([]);
  });

  it('needs a token, and answers 405 to other methods', async () => {
    const { tokens, url } = await example();
    const r = await getJson(`${url}/v1/files/skills/greetings.yaml`);
    expect(r).toMatchObject({ status: 401, body: UNAUTHORIZED });
    const res = await fetch(`${url}/v1/files/skills/greetings.yaml`, {
      method: 'DELETE',
      headers: auth(tokens.production),
    });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
  });
});

describe('admin routes', () => {
  it('answer 401 to everyone, the right token included, when no admin token is configured', async () => {
    const { dir, tokens } = shared();
    const saved = process.env.BOTVER_ADMIN_TOKEN;
    delete process.env.BOTVER_ADMIN_TOKEN;
    try {
      const capture = captureLogger('info');
      const resolver = await serve(dir, { adminToken: undefined, logger: capture.logger });
      expect(capture.lines().find((l) => l.level === 40)?.msg).toMatch(/^BOTVER_ADMIN_TOKEN is not set/);
      for (const route of ['/v1/environments', '/v1/versions', '/v1/logs', '/v1/usage']) {
        for (const headers of [{}, admin, auth(tokens.production), { Authorization: 'Bearer ' }]) {
          const r = await getJson(`${resolver.url}${route}`, headers);
          expect(r.status, route).toBe(401);
          expect(r.body).toEqual(UNAUTHORIZED);
        }
      }
    } finally {
      if (saved !== undefined) process.env.BOTVER_ADMIN_TOKEN = saved;
    }
  });

  it('take the admin token from BOTVER_ADMIN_TOKEN', async () => {
    const { dir } = shared();
    const saved = process.env.BOTVER_ADMIN_TOKEN;
    process.env.BOTVER_ADMIN_TOKEN = 'from-the-environment-1234';
    try {
      const resolver = await serve(dir, { adminToken: undefined });
      expect((await getJson(`${resolver.url}/v1/versions`, auth('from-the-environment-1234'))).status).toBe(200);
      expect((await getJson(`${resolver.url}/v1/versions`, admin)).status).toBe(401);
    } finally {
      if (saved === undefined) delete process.env.BOTVER_ADMIN_TOKEN;
      else process.env.BOTVER_ADMIN_TOKEN = saved;
    }
  });

  it('refuse bot tokens and wrong admin tokens with the same 401', async () => {
    const { tokens, url } = await example();
    for (const route of ['/v1/environments', '/v1/versions', '/v1/logs', '/v1/usage']) {
      for (const headers of [
        {},
        auth(tokens.production),
        auth(tokens.v1, 'Bearer'),
        auth(`${ADMIN_TOKEN}x`),
        auth(ADMIN_TOKEN.slice(1)),
        { Authorization: ADMIN_TOKEN },
      ]) {
        const r = await getJson(`${url}${route}`, headers);
        expect(r.status, `${route} ${JSON.stringify(headers)}`).toBe(401);
        expect(r.body).toEqual(UNAUTHORIZED);
      }
      expect((await getJson(`${url}${route}`, auth(ADMIN_TOKEN, 'Token'))).status).toBe(200);
      const res = await fetch(`${url}${route}`, { method: 'PUT', headers: admin });
      expect(res.status).toBe(405);
      // POST /v1/environments creates one (the console's action, admin-actions.test.ts).
      expect(res.headers.get('allow')).toBe(route === '/v1/environments' ? 'GET, POST' : 'GET');
    }
  });

  it('GET /v1/environments and /v1/versions describe the current snapshot, without secrets', async () => {
    const { dir, url } = await example();
    const channel = (await ok(dir, 'channel', 'add', 'production', 'messenger', '--json')) as Record<string, unknown>;
    const main = git(dir, 'rev-parse', 'main');
    const { value: envs } = await eventually('channel listed', async () => {
      const r = await getJson(`${url}/v1/environments`, admin);
      return r.body.manifestCommit === main ? r : undefined;
    });
    expect(envs.status).toBe(200);
    const [v1, v2] = [git(dir, 'rev-parse', 'v1'), git(dir, 'rev-parse', 'v2')];
    expect(envs.body).toEqual({
      bot: 'awesome-bot',
      manifestCommit: main,
      scope: 'replica',
      environments: [
        {
          name: 'production',
          description: null,
          version: 'v1',
          pin: null,
          commit: v1,
          pinned: false,
          status: 'ok',
          problems: [],
          channels: [{ name: 'messenger', type: 'webhook' }],
          requestsLastHour: 0,
          requestsLastHourCapped: false,
          tests: null,
        },
        {
          name: 'staging',
          description: null,
          version: 'v2',
          pin: null,
          commit: v2,
          pinned: false,
          status: 'ok',
          problems: [],
          channels: [],
          requestsLastHour: 0,
          requestsLastHourCapped: false,
          tests: null,
        },
      ],
    });
    const secret = Object.values(channel).find((v) => typeof v === 'string' && v.startsWith('bvs_')) as string;
    expect(secret).toBeDefined();
    const versions = await getJson(`${url}/v1/versions`, admin);
    expect(versions.body).toMatchObject({
      bot: 'awesome-bot',
      manifestCommit: main,
      versions: [
        { name: 'v1', head: v1, commit: v1, status: 'ok', environments: ['production'], createdFrom: null },
        {
          name: 'v2',
          head: v2,
          commit: v2,
          status: 'ok',
          environments: ['staging'],
          createdFrom: 'v1',
          description: 'work in progress',
        },
      ],
    });
    const text = JSON.stringify(envs.body) + JSON.stringify(versions.body);
    expect(text).not.toContain(secret);
    expect(text).not.toMatch(/sha256/i);
  });
});

describe('request log feed and usage', () => {
  /** A known mix of bot traffic; returns how many entries it makes. */
  async function traffic(url: string, tokens: Tokens) {
    const calls: [string, Record<string, string>, number][] = [
      ['/v1/resolve', auth(tokens.production), 200],
      ['/v1/resolve', auth(tokens.production), 200],
      ['/v1/resolve', auth(tokens.staging), 200],
      ['/v1/resolve', auth(tokens.v2), 200],
      ['/v1/files/skills/greetings.yaml', auth(tokens.v1), 200],
      ['/v1/files/nope.yaml', auth(tokens.staging), 404],
      ['/v1/resolve', auth('bvt_unknownunknownunknown'), 401],
      ['/no/such/route', {}, 404],
    ];
    for (const [path, headers, status] of calls)
      expect((await getJson(`${url}${path}`, headers)).status, path).toBe(status);
    return calls.length;
  }

  it('records bot requests newest first with route pattern, status, environment, version and commit', async () => {
    const { dir, tokens, url } = await example();
    const before = new Date().toISOString();
    const n = await traffic(url, tokens);
    // Probes, metrics and admin routes are not bot traffic.
    for (const path of ['/healthz', '/readyz', '/metrics', '/v1/environments', '/v1/versions', '/v1/usage'])
      await getJson(`${url}${path}`, admin);
    const entries = await feed(url);
    expect(entries).toHaveLength(n);
    const [v1, v2] = [git(dir, 'rev-parse', 'v1'), git(dir, 'rev-parse', 'v2')];
    expect(entries.map((e) => [e.route, e.status, e.environment, e.version, e.commit, e.method])).toEqual([
      ['unmatched', 404, null, null, null, 'GET'],
      ['/v1/resolve', 401, null, null, null, 'GET'],
      ['/v1/files/*path', 404, 'staging', 'v2', v2, 'GET'],
      ['/v1/files/*path', 200, null, 'v1', v1, 'GET'],
      ['/v1/resolve', 200, null, 'v2', v2, 'GET'],
      ['/v1/resolve', 200, 'staging', 'v2', v2, 'GET'],
      ['/v1/resolve', 200, 'production', 'v1', v1, 'GET'],
      ['/v1/resolve', 200, 'production', 'v1', v1, 'GET'],
    ]);
    for (const e of entries) {
      expect(e.time >= before).toBe(true);
      expect(e.latencyMs).toBeGreaterThanOrEqual(0);
    }
    // Times are newest first.
    expect([...entries.map((e) => e.time)].sort().reverse()).toEqual(entries.map((e) => e.time));
  });

  it('filters by environment, version, since and limit, and refuses bad parameters with 400', async () => {
    const { tokens, url } = await example();
    await traffic(url, tokens);
    await sleep(5);
    const between = new Date().toISOString();
    await sleep(5);
    await getJson(`${url}/v1/resolve`, auth(tokens.production));
    await getJson(`${url}/v1/resolve`, auth(tokens.v1));
    expect((await feed(url, '?environment=production')).map((e) => e.environment)).toEqual([
      'production',
      'production',
      'production',
    ]);
    expect((await feed(url, '?environment=staging')).map((e) => e.route)).toEqual(['/v1/files/*path', '/v1/resolve']);
    // A version filter covers its own token and every environment that points at it.
    expect((await feed(url, '?version=v2')).map((e) => e.environment)).toEqual(['staging', null, 'staging']);
    expect(await feed(url, '?version=v2&environment=production')).toEqual([]);
    expect(await feed(url, '?environment=nowhere')).toEqual([]);
    // Empty parameters are no filter.
    expect(await feed(url, '?environment=&version=')).toHaveLength(10);
    expect((await feed(url, '?limit=3')).map((e) => e.status)).toEqual([200, 200, 404]);
    expect(await feed(url, '?limit=5000')).toHaveLength(10);
    expect(await feed(url, `?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).toEqual([]);
    expect(await feed(url, `?since=${Date.now() - 60_000}`)).toHaveLength(10);
    // since: ISO time or epoch ms, combined with the other filters.
    expect((await feed(url, `?since=${encodeURIComponent(between)}`)).map((e) => e.version)).toEqual(['v1', 'v1']);
    expect((await feed(url, `?since=${Date.parse(between)}&environment=production`)).map((e) => e.environment)).toEqual(
      ['production'],
    );
    expect(await feed(url, `?since=${encodeURIComponent(between)}&version=v2`)).toEqual([]);

    for (const query of [
      '?limit=0',
      '?limit=-1',
      '?limit=abc',
      '?limit=1.5',
      '?since=yesterday',
      '?environment=a&environment=b',
      '?limit=1&limit=2',
    ]) {
      const r = await getJson(`${url}/v1/logs${query}`, admin);
      expect(r.status, query).toBe(400);
      expect(r.body.error.code).toBe('BAD_REQUEST');
    }
    // The 400s were not recorded either: still the 10 bot requests.
    expect(await feed(url)).toHaveLength(10);
  });

  it('GET /v1/usage counts by day, route, status and filters by environment and version', async () => {
    const { tokens, url } = await example();
    await traffic(url, tokens);
    const today = new Date().toISOString().slice(0, 10);
    const all = await getJson(`${url}/v1/usage`, admin);
    expect(all.status).toBe(200);
    expect(all.body.environment).toBeNull();
    expect(all.body.version).toBeNull();
    // The day may have turned during the test: sum over days.
    const sum = (body: any) => body.days.reduce((n: number, d: any) => n + d.total, 0);
    expect(all.body.days.at(-1).day).toBe(today);
    expect(sum(all.body)).toBe(8);
    const merged = (body: any, key: string) => {
      const out: Record<string, number> = {};
      for (const d of body.days)
        for (const [k, v] of Object.entries(d[key] as Record<string, number>)) out[k] = (out[k] ?? 0) + v;
      return out;
    };
    expect(merged(all.body, 'byRoute')).toEqual({ '/v1/resolve': 5, '/v1/files/*path': 2, unmatched: 1 });
    expect(merged(all.body, 'byStatus')).toEqual({ '200': 5, '404': 2, '401': 1 });
    const production = await getJson(`${url}/v1/usage?environment=production`, admin);
    expect(production.body.environment).toBe('production');
    expect(sum(production.body)).toBe(2);
    const v2 = await getJson(`${url}/v1/usage?version=v2`, admin);
    expect(merged(v2.body, 'byRoute')).toEqual({ '/v1/resolve': 2, '/v1/files/*path': 1 });
    expect(sum((await getJson(`${url}/v1/usage?version=v2&environment=staging`, admin)).body)).toBe(2);
    expect((await getJson(`${url}/v1/usage?environment=nowhere`, admin)).body.days).toEqual([]);
    expect((await getJson(`${url}/v1/usage?version=a&version=b`, admin)).status).toBe(400);
  });

  it('keeps --log-file entries across a restart: the feed has them and /v1/usage counts them', async () => {
    const { dir, tokens } = shared();
    const logFile = join(tempDir('botver-logfile-'), 'requests.jsonl');
    const first = await serve(dir, { logFile });
    await traffic(first.url, tokens);
    const before = await feed(first.url);
    await first.close();
    const lines = readFileSync(logFile, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(8);
    expect(lines.map((l) => JSON.parse(l).time)).toEqual(before.map((e) => e.time).reverse());

    const second = await serve(dir, { logFile });
    expect(await feed(second.url)).toEqual(before);
    const usage = await getJson(`${second.url}/v1/usage`, admin);
    expect(usage.body.days.reduce((n: number, d: any) => n + d.total, 0)).toBe(8);
    expect(
      (await getJson(`${second.url}/v1/usage?environment=production`, admin)).body.days.reduce(
        (n: number, d: any) => n + d.total,
        0,
      ),
    ).toBe(2);
    // New requests go after the old ones, in memory and in the file.
    expect((await getJson(`${second.url}/v1/resolve`, auth(tokens.staging))).status).toBe(200);
    const after = await feed(second.url);
    expect(after).toHaveLength(9);
    expect(after.slice(1)).toEqual(before);
    await second.close();
    const text = readFileSync(logFile, 'utf8');
    expect(text.trim().split('\n')).toHaveLength(9);
    for (const token of Object.values(tokens)) expect(text).not.toContain(token);
  });

  it('says when the --log-file cannot be written: a warning in its log, on /readyz and in /metrics', async () => {
    const { dir, tokens } = shared();
    const capture = captureLogger('info');
    // /dev/full opens for appending and fails every write with ENOSPC, as a full disk does.
    const resolver = await serve(dir, { logFile: '/dev/full', logger: capture.logger });
    expect((await getJson(`${resolver.url}/v1/resolve`, auth(tokens.production))).status).toBe(200);
    await resolver.monitoring.log.close(); // settles once the line's write has failed
    const readyz = await getJson(`${resolver.url}/readyz`, admin); // the details are for the admin token
    expect([readyz.status, readyz.body.ready]).toEqual([200, true]); // answers are served all the same
    expect(readyz.body.problems).toMatchObject([
      { scope: 'request-log', name: '/dev/full', errors: [{ severity: 'warning' }] },
    ]);
    expect(readyz.body.problems[0].errors[0].message).toMatch(/^the request log file cannot be written \(ENOSPC/);
    const metrics = await (await fetch(`${resolver.url}/metrics`)).text();
    expect(metric(metrics, 'botver_request_log_write_failures_total')).toBe(1);
    expect(capture.lines().filter((l) => l.level === 40 && l.file === '/dev/full')).toHaveLength(1);
  });
});

describe('GET /metrics', () => {
  it('counts requests by environment, version, route pattern and status, and says what each environment serves', async () => {
    const { dir, tokens, url } = await example();
    for (let i = 0; i < 3; i++) await getJson(`${url}/v1/resolve`, auth(tokens.production));
    await getJson(`${url}/v1/resolve`, auth(tokens.v2));
    await getJson(`${url}/v1/files/training/intents/greetings.yaml`, auth(tokens.staging));
    await getJson(`${url}/v1/resolve`, auth('bvt_not_a_token_at_all_0000'));
    await getJson(`${url}/secret-path-abc123`);
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const count = (environment: string, version: string, route: string, status: string) =>
      metric(text, 'botver_requests_total', { environment, version, route, status });
    expect(count('production', 'v1', '/v1/resolve', '200')).toBe(3);
    expect(count('', 'v2', '/v1/resolve', '200')).toBe(1);
    expect(count('staging', 'v2', '/v1/files/*path', '200')).toBe(1);
    expect(count('', '', '/v1/resolve', '401')).toBe(1);
    expect(count('', '', 'unmatched', '404')).toBe(1);
    expect(
      metric(text, 'botver_request_duration_seconds_count', {
        environment: 'production',
        version: 'v1',
        route: '/v1/resolve',
      }),
    ).toBe(3);
    expect(
      metric(text, 'botver_request_duration_seconds_bucket', {
        environment: 'production',
        version: 'v1',
        route: '/v1/resolve',
        le: '+Inf',
      }),
    ).toBe(3);
    expect(
      metric(text, 'botver_environment_info', {
        environment: 'production',
        version: 'v1',
        commit: git(dir, 'rev-parse', 'v1'),
      }),
    ).toBe(1);
    expect(
      metric(text, 'botver_environment_info', {
        environment: 'staging',
        version: 'v2',
        commit: git(dir, 'rev-parse', 'v2'),
      }),
    ).toBe(1);
    expect(metric(text, 'botver_ready')).toBe(1);
    // Raw paths never become labels; probes and the scrape itself are not counted.
    expect(text).not.toContain('secret-path-abc123');
    expect(text).not.toContain('greetings.yaml');
    expect(text).not.toMatch(/route="\/(healthz|readyz|metrics)"/);
    for (const token of Object.values(tokens)) expect(text).not.toContain(token);
  });

  it('follows a promotion: the info gauge drops the old label set', async () => {
    const { dir, tokens, url } = await example();
    await ok(dir, 'env', 'set', 'production', 'v2');
    await waitForCommit(url, tokens.production, git(dir, 'rev-parse', 'main'), 'manifestCommit');
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(
      metric(text, 'botver_environment_info', {
        environment: 'production',
        version: 'v2',
        commit: git(dir, 'rev-parse', 'v2'),
      }),
    ).toBe(1);
    expect(text).not.toMatch(/botver_environment_info\{environment="production",version="v1"/);
  });
});

describe('probes', () => {
  it('/healthz answers ok, /readyz says ready with the manifest commit; neither needs a token', async () => {
    const { dir, url } = await example();
    const health = await getJson(`${url}/healthz`);
    expect(health).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(health.headers.get('cache-control')).toBe('no-store');
    expect(await getJson(`${url}/readyz`)).toMatchObject({ status: 200, body: { ready: true, problems: [] } });
    const ready = await getJson(`${url}/readyz`, admin); // the manifest commit is for the admin token
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ ready: true, manifestCommit: git(dir, 'rev-parse', 'main'), problems: [] });
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const res = await fetch(`${url}${path}`, { method: 'POST' });
      expect(res.status, path).toBe(405);
      expect(res.headers.get('allow')).toBe('GET');
    }
  });

  it('a version with no good commit at all: its tokens get 503 VERSION_UNAVAILABLE, /readyz names it, the rest is served', async () => {
    const { dir, tokens } = shared();
    // v2 replaced (natively) by a history of one broken commit: nothing to fall back on.
    const orphan = nativeCommit(
      dir,
      { 'training/intents/broken.yaml': 'slug: broken\ndescription: no expressions\nexpressions: 5\n' },
      [],
      'broken from the start',
    );
    git(dir, 'update-ref', 'refs/heads/v2', orphan);
    const resolver = await serve(dir);
    for (const token of [tokens.staging, tokens.v2]) {
      const res = await fetch(`${resolver.url}/v1/resolve`, { headers: auth(token) });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(((await res.json()) as any).error.code).toBe('VERSION_UNAVAILABLE');
      expect((await getJson(`${resolver.url}/v1/files/training/intents/broken.yaml`, auth(token))).status).toBe(503);
    }
    expect((await getJson(`${resolver.url}/v1/resolve`, auth(tokens.production))).body.commit).toBe(
      git(dir, 'rev-parse', 'v1'),
    );
    const ready = await getJson(`${resolver.url}/readyz`, admin); // the details are for the admin token
    expect(ready.status).toBe(503);
    expect(ready.body.ready).toBe(false);
    expect(ready.body.problems).toEqual([
      {
        scope: 'version',
        name: 'v2',
        commit: orphan,
        serving: null,
        errors: [
          {
            file: 'training/intents/broken.yaml',
            line: 3,
            column: expect.any(Number),
            message: expect.stringContaining('expressions'),
            text: expect.stringMatching(/^training\/intents\/broken\.yaml:3:\d+ /),
          },
        ],
      },
    ]);
    const versions = await getJson(`${resolver.url}/v1/versions`, admin);
    expect(versions.body.versions[1]).toMatchObject({ name: 'v2', head: orphan, commit: null, status: 'unavailable' });
    const text = await (await fetch(`${resolver.url}/metrics`)).text();
    expect(metric(text, 'botver_ready')).toBe(0);
    // Only environments that serve something have an info series.
    expect(text).toMatch(/^botver_environment_info\{environment="production",/m);
    expect(text).not.toMatch(/^botver_environment_info\{environment="staging"/m);
  });
});

describe('bad input', () => {
  it('answers 400 MALFORMED_JSON to a broken JSON body on the routes that take one, without a stack; other routes never read a body', async () => {
    const { tokens, url } = await example();
    const bodies = [
      ['application/json', '{"text": "hello'],
      ['application/json; charset=utf-8', '{,}'],
      ['application/vnd.botver+json', 'not json at all'],
    ];
    for (const route of ['/v2/request', '/build/v1/dialog']) {
      for (const [type, body] of bodies) {
        const res = await fetch(`${url}${route}`, {
          method: 'POST',
          headers: { ...auth(tokens.production), 'Content-Type': type! },
          body,
        });
        expect(res.status, `${route} ${type}`).toBe(400);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        const text = await res.text();
        expect(JSON.parse(text)).toEqual({ error: { code: 'MALFORMED_JSON', message: 'the body is not valid JSON' } });
        expect(text).not.toMatch(/SyntaxError|at .*\.js|node_modules/);
      }
    }
    // A route that takes no body answers as it would without one: 405 for a method it does not
    // serve, 404 for no route; the body is not parsed (and costs nothing).
    const others: [string, number][] = [
      ['/v1/resolve', 405],
      ['/v1/files/skills/greetings.yaml', 405],
      ['/healthz', 405],
      ['/readyz', 405],
      ['/metrics', 405],
      ['/v1/logs', 405],
      ['/v1/usage', 405],
      ['/no/such/route', 404],
    ];
    for (const [route, status] of others) {
      const res = await fetch(`${url}${route}`, {
        method: 'POST',
        headers: { ...auth(tokens.production), 'Content-Type': 'application/json' },
        body: '{"text": "hello',
      });
      expect(res.status, route).toBe(status);
      await res.text();
    }
    // The resolver is unharmed.
    expect((await getJson(`${url}/v1/resolve`, auth(tokens.production))).status).toBe(200);
  });

  it('answers 413 PAYLOAD_TOO_LARGE to a 2 MB body, declared by Content-Length or sent chunked, and to a body of more than 10,000 JSON values', async () => {
    const { tokens, url, resolver } = await example();
    const big = JSON.stringify({ text: 'x'.repeat(2 * 1024 * 1024) });
    for (const type of ['application/json', 'text/plain', 'application/octet-stream']) {
      const res = await fetch(`${url}/v1/resolve`, {
        method: 'POST',
        headers: { ...auth(tokens.production), 'Content-Type': type },
        body: big,
      });
      expect(res.status, type).toBe(413);
      expect(await res.json()).toEqual({
        error: { code: 'PAYLOAD_TOO_LARGE', message: 'the body is over the 262144 byte limit' },
      });
    }
    // Chunked, to a route that reads its body: no length up front; the reader stops at the limit.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: resolver.port,
          path: '/v2/request',
          method: 'POST',
          headers: { ...auth(tokens.production), 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on('error', reject);
      const chunk = 'x'.repeat(64 * 1024);
      req.write('{"text":"');
      let sent = 0;
      const pump = () => {
        while (sent < 2 * 1024 * 1024) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end('"}');
      };
      pump();
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).error.code).toBe('PAYLOAD_TOO_LARGE');
    // Under the limit, a body is read and the route answers (here: 405, GET only).
    const small = await fetch(`${url}/v1/resolve`, {
      method: 'POST',
      headers: { ...auth(tokens.production), 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'x'.repeat(1000) }),
    });
    expect(small.status).toBe(405);
    // Parsing costs by the value: a small body of 10,001 empty arrays is refused before it is
    // parsed, on the bytes (UTF-8) or on the text (another charset); 10,000 values pass.
    const values = (n: number) => `{"text":"hello","pad":[${'[],'.repeat(n - 4)}[]]}`; // the object, its 2 members, n - 3 arrays
    for (const [body, charset, status] of [
      [values(10_001), 'utf-8', 413],
      [values(10_001), 'utf-16le', 413],
      [values(10_000), 'utf-8', 200],
      [`{"text":"hello","note":"${'[],'.repeat(20_000)}"}`, 'utf-8', 200], // inside a string, commas count for nothing
    ] as const) {
      const res = await fetch(`${url}/v2/request`, {
        method: 'POST',
        headers: { ...auth(tokens.production), 'Content-Type': `application/json; charset=${charset}` },
        body: charset === 'utf-8' ? body : Buffer.from(body, 'utf16le'),
      });
      const answer = (await res.json()) as { error?: { code: string; message: string } };
      expect([res.status, answer.error], `${charset} ${body.length}`).toEqual([
        status,
        status === 413
          ? { code: 'PAYLOAD_TOO_LARGE', message: 'the body holds more than 10,000 JSON values' }
          : undefined,
      ]);
    }
    expect((await getJson(`${url}/v1/resolve`, auth(tokens.production))).status).toBe(200);
  });

  it('answers junk headers and unparsable requests with a JSON 400 or 431, and keeps serving', async () => {
    const { tokens, resolver, url } = await example();
    const cases: [string, string | Buffer, number, string][] = [
      [
        'control byte in a header value',
        `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: a\x01b\r\n\r\n`,
        400,
        'BAD_REQUEST',
      ],
      ['space in a header name', `GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n`, 400, 'BAD_REQUEST'],
      [
        'NUL in a header value',
        Buffer.from(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: a\0b\r\n\r\n`, 'latin1'),
        400,
        'BAD_REQUEST',
      ],
      ['garbage request line', 'GARBAGE\x7f\x00 / what\r\n\r\n', 400, 'BAD_REQUEST'],
      [
        'bad chunk size',
        `POST /v2/request HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${tokens.production}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
        400,
        'BAD_REQUEST',
      ],
      [
        'both Content-Length and chunked',
        `POST /v1/resolve HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
        400,
        'BAD_REQUEST',
      ],
      [
        '20 KB header',
        `GET /v1/resolve HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${tokens.production}\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`,
        431,
        'HEADERS_TOO_LARGE',
      ],
    ];
    for (const [what, bytes, status, code] of cases) {
      const answer = parseRaw(await rawBytes(resolver.port, bytes));
      expect(answer.status, what).toBe(status);
      expect(answer.headers['content-type'], what).toMatch(/^application\/json/);
      expect(JSON.parse(answer.body), what).toEqual({
        error: { code, message: 'the request could not be parsed as HTTP' },
      });
      expect(Number(answer.headers['content-length'])).toBe(Buffer.byteLength(answer.body));
    }
    // Over the limit in many small headers counts too.
    const many = Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'b'.repeat(50)}\r\n`).join('');
    expect(parseRaw(await rawBytes(resolver.port, `GET /healthz HTTP/1.1\r\nHost: x\r\n${many}\r\n`)).status).toBe(431);
    expect((await getJson(`${url}/v1/resolve`, auth(tokens.production))).status).toBe(200);
    expect((await getJson(`${url}/healthz`)).status).toBe(200);
  });

  it('answers an unexpected failure with 500 INTERNAL, no stack, and logs it without the token', async () => {
    const { dir, tokens } = shared();
    const capture = captureLogger('info');
    const resolver = await serve(dir, { logger: capture.logger });
    const path = 'skills/order-pizza.yaml';
    expect((await getJson(`${resolver.url}/v1/files/${path}`, auth(tokens.production))).status).toBe(200);
    // The blob vanishes from the object store (a broken repository): reading it fails.
    const blob = git(dir, 'rev-parse', `v1:${path}`);
    rmSync(join(dir, '.git', 'objects', blob.slice(0, 2), blob.slice(2)));
    const res = await fetch(`${resolver.url}/v1/files/${path}`, { headers: auth(tokens.production) });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      error: { code: 'INTERNAL', message: 'the resolver failed to answer; the error is in its log' },
    });
    expect(text).not.toContain(blob);
    expect(text).not.toMatch(/\bat |Error/);
    const failed = capture.lines().find((l) => l.msg === 'request failed');
    expect(failed).toMatchObject({ level: 50, method: 'GET', route: '/v1/files/*path' });
    expect(JSON.stringify(failed)).not.toContain(tokens.production);
    // The route pattern is logged, never the raw path.
    expect(JSON.stringify(failed)).not.toContain('order-pizza');
    // Other files and the bundle are still served.
    expect((await getJson(`${resolver.url}/v1/resolve`, auth(tokens.production))).status).toBe(200);
  });

  it('never writes a token to its log, whatever the request carries', async () => {
    const { dir, tokens } = shared();
    const capture = captureLogger('trace');
    const logFile = join(tempDir('botver-logfile-'), 'requests.jsonl');
    const resolver = await serve(dir, { logger: capture.logger, logFile });
    const url = resolver.url;
    const secrets = [...Object.values(tokens), ADMIN_TOKEN];
    for (const token of secrets) {
      await getJson(`${url}/v1/resolve`, auth(token));
      await getJson(`${url}/v1/resolve`, auth(token, 'Bearer'));
      await getJson(`${url}/v1/resolve?token=${token}`);
      await getJson(`${url}/v1/files/${token}`, auth(tokens.production));
      await getJson(`${url}/${token}`, auth(token));
      await getJson(`${url}/v1/logs?environment=${token}`, admin);
      await fetch(`${url}/v1/resolve`, {
        method: 'POST',
        headers: { ...auth(token), 'Content-Type': 'application/json' },
        body: `{"token": "${token}"`,
      });
      await fetch(`${url}/v1/resolve`, {
        method: 'POST',
        headers: { ...auth(token), 'Content-Type': 'application/json' },
        body: JSON.stringify({ text: token }),
      });
      await rawBytes(
        resolver.port,
        `GET /v1/resolve HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${token}\r\nX-Junk: \x01\r\n\r\n`,
      );
    }
    // A token rotated while running: the manifest changes, the resolver logs the new snapshot.
    const rotated = ((await ok(dir, 'token', 'rotate', '--env', 'production', '--json')) as { token: string }).token;
    secrets.push(rotated);
    await waitForCommit(url, rotated, git(dir, 'rev-parse', 'main'), 'manifestCommit');
    const feedText = JSON.stringify(await feed(url, '?limit=1000'));
    const metricsText = await (await fetch(`${url}/metrics`)).text();
    await resolver.close();
    const logText = capture.text();
    // The log did record the run: start, the snapshot swap, shutdown.
    expect(capture.lines().map((l) => l.msg)).toEqual(
      expect.arrayContaining(['resolver listening', 'serving snapshot', 'stopped']),
    );
    expect(capture.lines().filter((l) => l.msg === 'serving snapshot')).toHaveLength(2);
    for (const secret of secrets) {
      for (const [where, text] of [
        ['logger', logText],
        ['request log file', readFileSync(logFile, 'utf8')],
        ['/v1/logs', feedText],
        ['/metrics', metricsText],
      ]) {
        expect(text!.includes(secret), `${where} contains a token`).toBe(false);
      }
    }
  });
});
