import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, TEST_ENV, git, ok, refsSnapshot, tempDir } from './helpers.js';
import {
  ADMIN_TOKEN,
  auth,
  captureLogger,
  commitTo,
  eventually,
  getJson,
  serve,
  sharedExampleWithTokens,
  waitForCommit,
} from './resolver-helpers.js';
import { startGitHttpServer, type GitHttpServer } from './git-http-server.js';

// Issue #12: the admin routes the console calls. Every action is the CLI's library call, so it
// makes the CLI's commit (same message), authored by the operator the console names; a refused
// one leaves the repository as it was; new tokens and secrets appear in their one answer only;
// a resolver that follows a Git host answers with the CLI commands instead, and those commands,
// run in a clone, make the change the host then serves.

const example = sharedExampleWithTokens({ trained: true });
const OPERATOR = 'Ann Operator <ann@example.com>';
const admin = { ...auth(ADMIN_TOKEN, 'Bearer') };
const as = (operator = OPERATOR) => ({ ...admin, 'X-Botver-Author': encodeURIComponent(operator) });

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = as(),
) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body !== undefined && { 'Content-Type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null, text };
}

/** The last commit of main as native git sees it. */
const lastCommit = (dir: string) => {
  const [id, author, subject] = git(dir, 'log', '-1', '--format=%H%n%an <%ae>%n%s', 'main').split('\n');
  return { id, author, subject };
};

describe('admin actions (the console)', () => {
  it('promote, rollback, link, create, rotate, channels, delete: the CLI commit each, by the operator', async () => {
    const { dir, tokens } = example();
    const cli = example().dir; // the same repository, changed through the CLI for comparison
    const r = await serve(dir);
    const base = r.url;
    const v2 = git(dir, 'rev-parse', 'v2');

    // Promote staging to production: the tests of staging run first and their report comes back.
    const promoted = await call(base, 'POST', '/v1/environments/production/promote', { from: 'staging' });
    expect(promoted.status).toBe(200);
    expect(promoted.body).toMatchObject({ environment: 'production', source: 'staging', testsSkipped: false });
    expect(promoted.body.tests.failed).toBe(0);
    expect(promoted.body.tests.checks.length).toBeGreaterThan(5);
    const made = lastCommit(dir);
    expect(promoted.body.commit).toEqual({ id: made.id, message: made.subject, author: OPERATOR });
    expect(made.author).toBe(OPERATOR);
    await ok(cli, 'promote', 'staging', 'production');
    expect(made.subject).toBe(lastCommit(cli).subject);
    expect(made.subject).toBe(`promote production to v2@${v2.slice(0, 7)} (was v1), from staging`);
    // The production token serves the promoted commit.
    await waitForCommit(base, tokens.production, v2);
    // ... and the version's test result is remembered for the console's Versions page.
    const versions = await getJson(`${base}/v1/versions`, admin);
    expect(versions.body.versions.find((v: { name: string }) => v.name === 'v2').tests).toMatchObject({
      commit: v2,
      passed: true,
      failed: 0,
    });

    // Roll back: production returns to v1 (following its branch), as `botver rollback` does.
    const rolled = await call(base, 'POST', '/v1/environments/production/rollback', {});
    expect(rolled.status).toBe(200);
    expect(rolled.body.to).toEqual({ version: 'v1' });
    expect(lastCommit(dir).subject).toMatch(/^roll back production to v1 \(was v2@[0-9a-f]{7}\), undoing [0-9a-f]{7}$/);
    await waitForCommit(base, tokens.production, git(dir, 'rev-parse', 'v1'));

    // Link (pinned), then the history shows who did what, newest first.
    const linked = await call(base, 'PUT', '/v1/environments/staging/link', { version: 'v1', pin: true });
    expect(linked.status).toBe(200);
    expect(lastCommit(dir).subject).toBe(`link staging to v1@${git(dir, 'rev-parse', 'v1').slice(0, 7)} (was v2)`);
    const history = await getJson(`${base}/v1/environments/production/history`, admin);
    expect(history.body.changes.map((c: { author: string; message: string }) => [c.author, c.message])).toEqual([
      [OPERATOR, expect.stringMatching(/^roll back production/)],
      [OPERATOR, expect.stringMatching(/^promote production/)],
      [expect.any(String), expect.stringMatching(/^turn on versioning/)],
    ]);

    // Create an environment: its token is in this answer, works, and is nowhere else.
    const created = await call(base, 'POST', '/v1/environments', { name: 'qa', version: 'v2' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'qa', version: 'v2', commit: { author: OPERATOR } });
    const qaToken: string = created.body.token;
    expect(lastCommit(dir).subject).toBe('create environment qa linked to v2');
    await waitForCommit(base, qaToken, v2);
    // Rotate it: the new one works, the old one is refused.
    const rotated = await call(base, 'POST', '/v1/environments/qa/token');
    expect(rotated.status).toBe(200);
    await waitForCommit(base, rotated.body.token, v2);
    expect((await getJson(`${base}/v1/resolve`, auth(qaToken))).status).toBe(401);

    // A channel: its secret is shown once and opens the channel's webhook.
    const channel = await call(base, 'POST', '/v1/environments/qa/channels', { name: 'web', type: 'webhook' });
    expect(channel.status).toBe(200);
    expect(lastCommit(dir).subject).toBe('connect channel web (webhook) to environment qa');
    const envs = await eventually('the channel listed', async () => {
      const e = await getJson(`${base}/v1/environments`, admin);
      const qa = e.body.environments.find((x: { name: string }) => x.name === 'qa');
      return qa?.channels.length ? e : undefined;
    });
    const everything = JSON.stringify(envs.value.body) + git(dir, 'log', '-p', '--all');
    for (const secret of [qaToken, rotated.body.token, channel.body.secret]) expect(everything).not.toContain(secret);
    const removed = await call(base, 'DELETE', '/v1/channels/web');
    expect(removed.status).toBe(200);
    expect(lastCommit(dir).subject).toBe('disconnect channel web from environment qa');

    const deleted = await call(base, 'DELETE', '/v1/environments/qa');
    expect(deleted.status).toBe(200);
    expect(lastCommit(dir).subject).toBe('delete environment qa (was linked to v2)');
    // Every commit above is by the operator, and the repository is sound for native git.
    expect(git(dir, 'log', '--format=%an <%ae>', '-8', 'main').trim().split('\n')).toEqual(Array(8).fill(OPERATOR));
    git(dir, 'fsck', '--strict');
  });

  it('a refused action leaves the repository exactly as it was, and says why', async () => {
    const { dir } = example();
    await commitTo(dir, 'v2', { 'tests/wrong.yaml': 'utterances:\n  - text: hello there\n    intent: order-pizza\n' });
    const r = await serve(dir);
    const before = refsSnapshot(dir);
    const manifest = git(dir, 'show', 'main:environments.yaml');

    // Failing tests: 422 with the report the console shows.
    const failing = await call(r.url, 'POST', '/v1/environments/production/promote', { from: 'staging' });
    expect(failing.status).toBe(422);
    expect(failing.body.error.code).toBe('TESTS_FAILED');
    expect(failing.body.error.report.failed).toBe(1);
    expect(failing.body.error.report.checks.find((c: { passed: boolean }) => !c.passed)).toMatchObject({
      file: 'tests/wrong.yaml',
    });
    // ... and that result is what /v1/versions shows for v2's head.
    const v2 = (await getJson(`${r.url}/v1/versions`, admin)).body.versions.find(
      (v: { name: string }) => v.name === 'v2',
    );
    expect(v2.tests).toMatchObject({ passed: false, failed: 1 });

    const refusals: [string, string, unknown, Record<string, string>, number, string, RegExp][] = [
      ['POST', '/v1/environments/production/rollback', {}, admin, 400, 'BAD_REQUEST', /X-Botver-Author/],
      ['POST', '/v1/environments/production/rollback', {}, as('nobody'), 400, 'BAD_REQUEST', /Name <email>/],
      ['POST', '/v1/environments/production/rollback', {}, as(), 409, 'RULE_VIOLATION', /no earlier link/],
      ['POST', '/v1/environments/nowhere/promote', { from: 'staging' }, as(), 404, 'NOT_FOUND', /"nowhere"/],
      ['PUT', '/v1/environments/staging/link', { version: 'v9' }, as(), 404, 'NOT_FOUND', /"v9"/],
      ['PUT', '/v1/environments/staging/link', {}, as(), 400, 'BAD_REQUEST', /"version" is required/],
      ['POST', '/v1/environments', { name: 'staging', version: 'v1' }, as(), 409, 'ALREADY_EXISTS', /staging/],
      ['POST', '/v1/environments', { name: 'Bad Name', version: 'v1' }, as(), 400, 'BAD_REQUEST', /Bad Name/],
      ['DELETE', '/v1/environments/production', undefined, as(), 409, 'RULE_VIOLATION', /cannot be deleted/],
      ['DELETE', '/v1/channels/none', undefined, as(), 404, 'NOT_FOUND', /"none"/],
      [
        'POST',
        '/v1/environments/production/promote',
        { from: 'staging' },
        auth('wrong', 'Bearer'),
        401,
        'UNAUTHORIZED',
        /token/,
      ],
    ];
    const stale = { ...as(), 'X-Botver-Manifest-Commit': git(dir, 'rev-parse', 'main~1') };
    refusals.push(
      // A name that is not one is refused before it reaches the repository (or a command line).
      ['POST', '/v1/environments', { name: '--push', version: 'v1' }, as(), 400, 'BAD_REQUEST', /--push/],
      ['POST', '/v1/versions/..%2F..%2F..%2Fetc%2Fpasswd/test', {}, admin, 400, 'BAD_REQUEST', /passwd/],
      // An author with a control character would make a commit git fsck refuses.
      ['POST', '/v1/environments/production/rollback', {}, as('Eve\u0000 <e@x>'), 400, 'BAD_REQUEST', /Name <email>/],
      // Decided on a screen that is out of date: another change landed since.
      ['PUT', '/v1/environments/staging/link', { version: 'v1' }, stale, 409, 'CONFLICT', /moved to [0-9a-f]{7} since/],
    );
    for (const [method, path, body, headers, status, code, message] of refusals) {
      const answer = await call(r.url, method, path, body, headers);
      expect([answer.status, answer.body.error.code], `${method} ${path}`).toEqual([status, code]);
      expect(answer.body.error.message).toMatch(message);
    }
    // A path outside the repository is no version or environment of it: nothing is read.
    const outside = await getJson(`${r.url}/v1/diff?from=${'../'.repeat(12)}etc/passwd&to=v1`, admin);
    expect([outside.status, outside.body.error.code]).toEqual([404, 'NOT_FOUND']);
    expect(refsSnapshot(dir)).toBe(before);
    expect(git(dir, 'show', 'main:environments.yaml')).toBe(manifest);
  });

  it('two operators acting on the same screen: the second is refused, not applied on top of the first', async () => {
    const { dir } = example();
    const r = await serve(dir);
    await call(r.url, 'POST', '/v1/environments/production/promote', { from: 'staging', skipTests: true });
    const seen = git(dir, 'rev-parse', 'main');
    const screen = (who: string) => ({ ...as(who), 'X-Botver-Manifest-Commit': seen });
    // Both saw production on v2 and roll it back at once: one lands, the other is told to look again.
    const answers = await Promise.all([
      call(r.url, 'POST', '/v1/environments/production/rollback', {}, screen('Ann <ann@example.com>')),
      call(r.url, 'POST', '/v1/environments/production/rollback', {}, screen('Bob <bob@example.com>')),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    expect(answers.find((a) => a.status === 409)!.body.error.code).toBe('CONFLICT');
    expect(git(dir, 'rev-list', '--count', `${seen}..main`)).toBe('1');
    expect(git(dir, 'show', 'main:environments.yaml')).toMatch(/production:\n\s+version: v1\n/);
    // Answers that can hold a token are not cached.
    const created = await call(r.url, 'POST', '/v1/environments', { name: 'qa', version: 'v1' });
    expect(created.headers.get('cache-control')).toBe('no-store');
  });

  it("never logs the operator-facing secrets, and the console's calls are not bot traffic", async () => {
    const { dir, tokens } = example();
    const log = captureLogger();
    const r = await serve(dir, { logger: log.logger });
    const created = await call(r.url, 'POST', '/v1/environments', { name: 'qa', version: 'v1' });
    const channel = await call(r.url, 'POST', '/v1/environments/qa/channels', { name: 'web' });
    await getJson(`${r.url}/v1/resolve`, auth(tokens.production));
    await getJson(`${r.url}/console/`);
    const feed = await getJson(`${r.url}/v1/logs`, admin);
    expect(feed.body.entries.map((e: { route: string }) => e.route)).toEqual(['/v1/resolve']);
    for (const secret of [created.body.token, channel.body.secret]) expect(log.text()).not.toContain(secret);
  });
});

describe('admin actions on a resolver that follows a Git host', () => {
  const hosts: GitHttpServer[] = [];
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((h) => h.close()));
  });

  it('answers REMOTE_REPOSITORY with the CLI commands; run in a clone, they make the change the resolver serves', async () => {
    const { dir, tokens } = example();
    const root = tempDir('botver-host-');
    git(root, 'clone', '--quiet', '--bare', dir, 'bot.git');
    git(root, '--git-dir', 'bot.git', 'config', 'http.receivepack', 'true'); // a host that takes pushes
    const host = await startGitHttpServer(root);
    hosts.push(host);
    const secret = 'hook-secret-12';
    const r = await serve('.', {
      remote: { url: host.url('bot'), cacheDir: tempDir('botver-cache-'), fetchIntervalMs: 3_600_000 },
      webhookSecret: secret,
    });
    expect((await getJson(`${r.url}/v1/server`, admin)).body).toMatchObject({
      writable: false,
      remote: host.url('bot'),
    });
    const before = git(root, '--git-dir', 'bot.git', 'for-each-ref');

    const answer = await call(r.url, 'POST', '/v1/environments/production/promote', { from: 'staging' });
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe('REMOTE_REPOSITORY');
    const commands: string[] = answer.body.error.commands;
    expect(commands).toEqual([
      `git clone ${host.url('bot')} bot && cd bot`,
      `botver promote staging production --author 'Ann Operator <ann@example.com>' --push`,
    ]);
    // Nothing changed on the host.
    expect(git(root, '--git-dir', 'bot.git', 'for-each-ref')).toBe(before);

    // Every action's commands, run in the same clone after the promotion, make the same change.
    const more: [string, string, unknown][] = [
      ['POST', '/v1/environments', { name: 'qa', version: 'v1', description: "QA's own", pin: true }],
      ['PUT', '/v1/environments/qa/link', { version: 'v2' }],
      ['POST', '/v1/environments/qa/rollback', {}],
      ['POST', '/v1/environments/qa/token', {}],
      ['POST', '/v1/environments/qa/channels', { name: 'web', type: 'webhook' }],
      ['DELETE', '/v1/channels/web', undefined],
      ['DELETE', '/v1/environments/qa', undefined],
    ];
    const later: string[] = [];
    for (const [method, path, body] of more) {
      const refused = await call(r.url, method, path, body);
      expect([path, refused.status, refused.body.error.code]).toEqual([path, 409, 'REMOTE_REPOSITORY']);
      later.push(refused.body.error.commands[1]);
    }

    // The operator runs them (botver being this checkout's binary), then the host's webhook fires.
    const work = tempDir('botver-operator-');
    const script = [...commands, ...later].join('\n').replace(/^botver /gm, `"${process.execPath}" "${BIN}" `);
    // Not execFileSync: the Git host answers from this process.
    await promisify(execFile)('sh', ['-ec', script], { cwd: work, env: { ...process.env, ...TEST_ENV } });
    const pushed = git(root, '--git-dir', 'bot.git', 'log', '-8', '--format=%an <%ae>|%s', 'main').trim().split('\n');
    expect(pushed.map((l) => l.replace(/[0-9a-f]{7}/g, '<sha>'))).toEqual([
      'Ann Operator <ann@example.com>|delete environment qa (was linked to v1@<sha>)',
      'Ann Operator <ann@example.com>|disconnect channel web from environment qa',
      'Ann Operator <ann@example.com>|connect channel web (webhook) to environment qa',
      'Ann Operator <ann@example.com>|rotate the token of environment qa',
      'Ann Operator <ann@example.com>|roll back qa to v1@<sha> (was v2), undoing <sha>',
      'Ann Operator <ann@example.com>|link qa to v2 (was v1@<sha>)',
      'Ann Operator <ann@example.com>|create environment qa linked to v1@<sha>',
      'Ann Operator <ann@example.com>|promote production to v2@<sha> (was v1), from staging',
    ]);
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    await fetch(`${r.url}/v1/hooks/git`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-GitHub-Event': 'push', 'X-Hub-Signature-256': signature },
      body,
    });
    await waitForCommit(r.url, tokens.production, git(dir, 'rev-parse', 'v2'));
  });
});
