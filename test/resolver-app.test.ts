import { createServer, request as httpRequest, type Server } from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { BundleData, VersionContent } from '../src/content/version-content.js';
import { MemoryConversationStore } from '../src/dialog/store.js';
import { ManifestDoc } from '../src/manifest/manifest.js';
import { sha256Hex } from '../src/model/tokens.js';
import type { Analysis } from '../src/nlu/engine.js';
import type { Analyser, FailedModel, ModelChoice, NluProvider } from '../src/nlu/nlu-service.js';
import { UsageError } from '../src/errors.js';
import { createResolverApp } from '../src/resolver/app.js';
import { resolveResolverOptions } from '../src/resolver/options.js';
import type { Monitoring } from '../src/resolver/monitoring/index.js';
import { createLogger } from '../src/resolver/monitoring/logger.js';
import { createMetrics } from '../src/resolver/monitoring/metrics.js';
import { RequestLog } from '../src/resolver/monitoring/request-log.js';
import { UsageCounter } from '../src/resolver/monitoring/usage.js';
import type { ResolverState, Snapshot, SnapshotSource } from '../src/resolver/snapshot.js';

// createResolverApp on a real HTTP server on 127.0.0.1, built from small in-test
// implementations of what it depends on — a fixed snapshot, an NLU that "analyses" without a
// trained model — and the real request log, usage counter and metrics. No repository, no NLP.js.

const COMMIT = 'c'.repeat(40);
const MANIFEST_COMMIT = 'm'.repeat(40);
const TOKEN = 'bvt_app-test-production-token';
const ADMIN_TOKEN = 'app-test-admin-token';
const CHANNEL_SECRET = 'bvs_app-test-channel-secret';
const UNAUTHORIZED = {
  error: {
    code: 'UNAUTHORIZED',
    message: 'a valid token is required: "Authorization: Token <token>" or "Authorization: Bearer <token>"',
  },
};

const bundle: BundleData = {
  intents: [{ slug: 'greet', description: 'Says hello', expressions: ['hello'] }],
  entities: [],
  skills: [{ slug: 'hello', triggers: [{ intent: 'greet' }], actions: [{ reply: 'Hi there' }] }],
  tests: [],
};
const content: VersionContent = {
  commit: COMMIT,
  problems: [],
  ok: true,
  bundle,
  bundleJson: JSON.stringify(bundle),
};

/** One version v1 served by environment production, whose token is TOKEN. */
function fixedSnapshot(): SnapshotSource {
  const manifest = ManifestDoc.parse(
    `apiVersion: botver/v1\nbot: app-test\nversions:\n  v1:\n    tokenSha256: ${'1'.repeat(64)}\nenvironments:\n  production:\n    version: v1\n    tokenSha256: ${sha256Hex(TOKEN)}\n`,
  );
  const snapshot: Snapshot = {
    manifestCommit: MANIFEST_COMMIT,
    manifest,
    bot: 'app-test',
    language: 'en',
    limits: manifest.limits,
    versions: new Map([
      ['v1', { name: 'v1', description: null, createdFrom: null, head: COMMIT, content, status: 'ok' as const }],
    ]),
    environments: new Map([
      [
        'production',
        {
          name: 'production',
          version: 'v1',
          description: null,
          pinned: null,
          content,
          status: 'ok' as const,
          channels: [{ name: 'web', type: 'webhook', secretSha256: sha256Hex(CHANNEL_SECRET) }],
        },
      ],
    ]),
    tokens: new Map([[sha256Hex(TOKEN), { kind: 'environment' as const, name: 'production' }]]),
    problems: [],
    bodies: new Map(),
  };
  const state: ResolverState = { snapshot, problems: [] };
  return {
    state,
    content: async (commit) => {
      if (commit !== COMMIT) throw new Error(`no commit ${commit}`);
      return content;
    },
    readFile: async () => null,
  };
}

/** An NLU whose one "model" finds the intent named by the text's first word. */
function wordNlu(): NluProvider {
  const model: Analyser = {
    analyse: async (text, language): Promise<Analysis> => ({
      language: language ?? 'en',
      intents: [{ slug: text.split(' ')[0]!, confidence: 0.9 }],
      entities: [],
      sentiment: 0,
    }),
  };
  return {
    choose: async (_key, served, version): Promise<ModelChoice> => ({ model, commit: served.commit, version }),
    modelFor: async () => model,
    failure: () => null,
    training: () => [],
    waiting: () => [],
    failed: (): FailedModel[] => [],
  };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function appOn(options: { log?: RequestLog; adminToken?: string } = {}) {
  const log = options.log ?? (await RequestLog.open());
  const monitoring: Monitoring = {
    log,
    usage: new UsageCounter(),
    metrics: createMetrics({ defaultMetrics: false, requestLog: log }),
  };
  const app = createResolverApp({
    live: fixedSnapshot(),
    monitoring,
    logger: createLogger({ level: 'silent' }),
    adminToken: options.adminToken,
    nlu: wordNlu(),
    conversations: new MemoryConversationStore(),
  });
  const server = createServer(app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function call(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

const auth = { Authorization: `Token ${TOKEN}` };
const json = { 'Content-Type': 'application/json' };

describe('createResolverApp without a repository or a model', () => {
  it('answers the probes: /healthz ok, /readyz ready with the manifest commit', async () => {
    const url = await appOn({ adminToken: 'app-admin' });
    expect(await call(`${url}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await call(`${url}/readyz`)).toMatchObject({ status: 200, body: { ready: true, problems: [] } });
    // The manifest commit (and any problem's details) only with the admin token.
    const readyz = await call(`${url}/readyz`, { headers: { Authorization: 'Bearer app-admin' } });
    expect(readyz.status).toBe(200);
    expect(readyz.body).toEqual({ ready: true, manifestCommit: MANIFEST_COMMIT, problems: [] });
  });

  it('answers a missing or unknown token, and every admin call without an admin token, with the one 401 body', async () => {
    const url = await appOn();
    const tries: Record<string, string>[] = [
      {},
      { Authorization: 'Token bvt_unknown' },
      { Authorization: 'Basic abc' },
    ];
    for (const headers of tries) {
      const r = await call(`${url}/v1/resolve`, { headers });
      expect(r.status).toBe(401);
      expect(r.body).toEqual(UNAUTHORIZED);
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="botver"');
    }
    const adminTries: Record<string, string>[] = [{}, auth, { Authorization: `Bearer ${ADMIN_TOKEN}` }];
    for (const headers of adminTries) {
      const r = await call(`${url}/v1/versions`, { headers });
      expect([r.status, r.body]).toEqual([401, UNAUTHORIZED]);
    }
    const ok = await call(`${url}/v1/resolve`, { headers: auth });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      bot: 'app-test',
      environment: 'production',
      version: 'v1',
      commit: COMMIT,
      bundle,
    });
  });

  it('lets the admin token, and only it, into the admin routes', async () => {
    const url = await appOn({ adminToken: ADMIN_TOKEN });
    expect((await call(`${url}/v1/versions`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(
      200,
    );
    expect((await call(`${url}/v1/versions`, { headers: auth })).body).toEqual(UNAUTHORIZED);
  });

  it('answers errors as JSON: 404 for no route, 405 with Allow, 400 MALFORMED_JSON', async () => {
    const url = await appOn();
    const missing = await call(`${url}/v1/nothing-here`);
    expect([missing.status, missing.body.error.code]).toEqual([404, 'NOT_FOUND']);
    const wrongMethod = await call(`${url}/healthz`, { method: 'POST' });
    expect([wrongMethod.status, wrongMethod.body.error.code]).toEqual([405, 'METHOD_NOT_ALLOWED']);
    expect(wrongMethod.headers.get('allow')).toBe('GET');
    const broken = await call(`${url}/v2/request`, {
      method: 'POST',
      headers: { ...auth, ...json },
      body: '{"text": ',
    });
    expect(broken.status).toBe(400);
    expect(broken.body).toEqual({ error: { code: 'MALFORMED_JSON', message: 'the body is not valid JSON' } });
  });

  it('answers /v2/request and the dialog from the NLU it is given', async () => {
    const url = await appOn();
    const nlp = await call(`${url}/v2/request`, {
      method: 'POST',
      headers: { ...auth, ...json },
      body: JSON.stringify({ text: 'greet me' }),
    });
    expect(nlp.status).toBe(200);
    expect(nlp.body.results).toMatchObject({
      intents: [{ slug: 'greet', confidence: 0.9, description: 'Says hello' }],
      botver: { environment: 'production', version: 'v1', commit: COMMIT },
    });
    const dialog = await call(`${url}/build/v1/dialog`, {
      method: 'POST',
      headers: { ...auth, ...json },
      body: JSON.stringify({ message: { type: 'text', content: 'greet' }, conversation_id: 'c1' }),
    });
    expect(dialog.status).toBe(200);
    expect(dialog.body.results.messages).toEqual([{ type: 'text', content: 'Hi there' }]);
  });
});

describe('a channel webhook', () => {
  const message = JSON.stringify({ message: { type: 'text', content: 'greet' }, conversation_id: 'u1' });
  const post = (url: string, channel: string, secret: string) =>
    call(`${url}/v1/channels/${channel}/webhook`, {
      method: 'POST',
      headers: { Authorization: `Token ${secret}`, ...json },
      body: message,
    });

  it("is resolved as its environment's token once its secret matches; anything else gets the one 401", async () => {
    const url = await appOn();
    const ok = await post(url, 'web', CHANNEL_SECRET);
    expect(ok.status).toBe(200);
    expect(ok.body.results.messages).toEqual([{ type: 'text', content: 'Hi there' }]);
    expect(ok.body.results.nlp.botver).toEqual({ environment: 'production', version: 'v1', commit: COMMIT });
    for (const [channel, secret] of [
      ['web', 'bvs_wrong'],
      ['web', TOKEN], // the environment's token is not the channel's secret
      ['elsewhere', CHANNEL_SECRET],
    ] as const) {
      const r = await post(url, channel, secret);
      expect([r.status, r.body], `${channel} ${secret}`).toEqual([401, UNAUTHORIZED]);
    }
  });
});

describe('a JSON body sent without Content-Type: application/json', () => {
  const body = JSON.stringify({ text: 'greet me' });

  it('is refused with 415 UNSUPPORTED_MEDIA_TYPE naming the header (fetch sends text/plain)', async () => {
    const url = await appOn();
    for (const path of ['/v2/request', '/build/v1/dialog']) {
      const r = await call(`${url}${path}`, { method: 'POST', headers: auth, body });
      expect(r.status, path).toBe(415);
      expect(r.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      expect(r.body.error.message).toBe(
        'the body must be JSON, sent with the header "Content-Type: application/json" (this one came as "text/plain;charset=UTF-8")',
      );
    }
  });

  it('is 401 first when the token is wrong too: one answer for every unauthenticated request', async () => {
    const url = await appOn();
    for (const path of ['/v2/request', '/build/v1/dialog', '/v1/channels/messenger/webhook']) {
      const r = await call(`${url}${path}`, { method: 'POST', headers: { Authorization: 'Token nope' }, body });
      expect([r.status, r.body], path).toEqual([401, UNAUTHORIZED]);
    }
  });

  it('is refused the same way when the request has no Content-Type at all', async () => {
    const url = new URL(await appOn());
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: '/v2/request',
          method: 'POST',
          headers: { ...auth, 'Content-Length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(answer.status).toBe(415);
    expect(JSON.parse(answer.body).error.message).toMatch(
      /"Content-Type: application\/json" \(this one came without a Content-Type\)$/,
    );
  });

  it('leaves a request without a body to the route, which says what the body needs', async () => {
    const url = await appOn();
    const r = await call(`${url}/v2/request`, { method: 'POST', headers: auth });
    expect([r.status, r.body.error.code]).toEqual([400, 'BAD_REQUEST']);
    expect(r.body.error.message).toBe('the body needs "text", a non-empty string');
  });
});

describe('a request log file that cannot be written', () => {
  it('is named on /readyz (a warning: still ready) and counted in botver_request_log_write_failures_total', async () => {
    // /dev/full opens for appending and fails every write with ENOSPC, as a full disk does.
    let failed!: (err: Error) => void;
    const writeError = new Promise<Error>((resolve) => (failed = resolve));
    const log = await RequestLog.open({ file: '/dev/full', onWriteError: (err) => failed(err) });
    const url = await appOn({ log, adminToken: 'app-admin' });

    const before = await call(`${url}/readyz`);
    expect(before.body.problems).toEqual([]);
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^botver_request_log_write_failures_total 0$/m);

    expect((await call(`${url}/v1/resolve`, { headers: auth })).status).toBe(200); // recorded: one line to write
    expect((await writeError).message).toMatch(/ENOSPC/);
    expect((await call(`${url}/v1/resolve`, { headers: auth })).status).toBe(200); // one more line the file misses

    // Public: what is not ready, named by its scope (the file's path is for the admin token).
    expect((await call(`${url}/readyz`)).body).toEqual({
      ready: true,
      problems: [{ scope: 'request-log', name: 'request-log', errorCount: 1 }],
    });
    const readyz = await call(`${url}/readyz`, { headers: { Authorization: 'Bearer app-admin' } });
    expect(readyz.status).toBe(200);
    expect(readyz.body.ready).toBe(true);
    expect(readyz.body.problems).toHaveLength(1);
    const [problem] = readyz.body.problems;
    expect(problem).toMatchObject({ scope: 'request-log', name: '/dev/full', commit: null, serving: null });
    expect(problem.errors[0]).toMatchObject({ file: '/dev/full', severity: 'warning' });
    expect(problem.errors[0].message).toMatch(
      /^the request log file cannot be written \(ENOSPC[^)]*\); 2 lines not written, later ones are kept in memory only$/,
    );
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^botver_request_log_write_failures_total 2$/m);
    // The entries are still in memory.
    expect(log.query().map((e) => e.route)).toEqual(['/v1/resolve', '/v1/resolve']);
    await log.close();
  });
});

describe('resolveResolverOptions', () => {
  it('fills every default, takes an option over its environment variable, and an empty variable as unset', () => {
    const defaults = resolveResolverOptions({ repo: '/srv/bot.git' }, {});
    expect({
      ...defaults,
      logger: undefined,
      conversations: undefined,
      admission: undefined,
      replicaName: undefined,
    }).toEqual({
      repo: '/srv/bot.git',
      remote: undefined,
      webhookSecret: undefined,
      redisUrl: undefined,
      redisPrefix: 'botver:',
      replicaName: undefined,
      gitEnv: {},
      controlBranch: 'main',
      remoteName: 'origin',
      port: 8080,
      host: '127.0.0.1',
      pollMs: 500,
      logFile: undefined,
      logText: false,
      cacheSize: 32,
      adminToken: undefined,
      conversations: undefined,
      admission: undefined,
      logger: undefined,
      logCapacity: 10_000,
      shutdownGraceMs: 10_000,
    });
    expect(defaults.conversations).toBeInstanceOf(MemoryConversationStore);
    expect(defaults.replicaName).toBe(hostname()); // a pod's name in Kubernetes
    expect(defaults.admission.stats().bodyBudget).toBe(64 * 1024 * 1024);
    expect(resolveResolverOptions({ repo: '.', requestBodyBytes: 1000 }, {}).admission.stats().bodyBudget).toBe(1000);
    expect(defaults.logger.level).toBe('info');
    // --remote: credentials and the webhook secret from the environment, which git gets without botver's variables.
    const remote = resolveResolverOptions(
      { repo: '.', remote: { url: 'https://git.example/bot.git', cacheDir: '/cache' } },
      { BOTVER_GIT_TOKEN: 't0k', BOTVER_WEBHOOK_SECRET: 'hook', PATH: '/bin' } as Record<string, string>,
    );
    expect(remote.remote).toEqual({
      url: 'https://git.example/bot.git',
      cacheDir: '/cache',
      fetchIntervalMs: 30_000,
      fetchTimeoutMs: 60_000,
      credentials: { username: 'git', token: 't0k' },
    });
    expect([remote.webhookSecret, remote.gitEnv]).toEqual(['hook', { PATH: '/bin' }]);

    const env = { BOTVER_CONTROL_BRANCH: 'control', BOTVER_ADMIN_TOKEN: 'from-env', BOTVER_LOG_LEVEL: 'warn' };
    const fromEnv = resolveResolverOptions({ repo: '.' }, env);
    expect([fromEnv.controlBranch, fromEnv.adminToken, fromEnv.logger.level]).toEqual(['control', 'from-env', 'warn']);
    const given = resolveResolverOptions({ repo: '.', controlBranch: 'bots', adminToken: 'given', port: 0 }, env);
    expect([given.controlBranch, given.adminToken, given.port]).toEqual(['bots', 'given', 0]);
    const empty = resolveResolverOptions({ repo: '.' }, { BOTVER_CONTROL_BRANCH: '', BOTVER_ADMIN_TOKEN: '' });
    expect([empty.controlBranch, empty.adminToken]).toEqual(['main', undefined]);
  });

  it('refuses a control branch git would not accept', () => {
    expect(() => resolveResolverOptions({ repo: '.', controlBranch: '../escape' }, {})).toThrow(UsageError);
  });
});
