import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, TEST_ENV, botver, botverProcess, git, manifestAt, newBotRepo, ok, tempDir } from './helpers.js';
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
  serve,
  serverHasRead,
  waitForCommit,
} from './resolver-helpers.js';

// The resolver following a live repository: promotions by the CLI (in-process and as a real
// process) and by a native `git push`, ref packing and gc, a version head or a manifest that
// stops validating (the last good one stays in service, /readyz says why), a fresh start on
// a broken repository, and a graceful shutdown of `botver serve`.

// The example bot with its tokens, built once; every test changes a copy of its own.
const example = sharedExampleWithTokens();
const admin = auth(ADMIN_TOKEN, 'Bearer');
const GOOD_INTENT = (slug: string) => `slug: ${slug}\nexpressions:\n  - ${slug} expression\n`;
/** Fails validation at line 3 (expressions must be a list). */
const BROKEN_INTENT = 'slug: broken\ndescription: not a list below\nexpressions: 5\n';

/** /readyz with the admin token: its details (commits, files, lines) are for admins only. */
const readyz = (url: string) => getJson(`${url}/readyz`, admin);

describe('refresh after a promotion by the CLI', () => {
  it('in-process: env set, new commits on an unpinned version, promote, rollback and token rotation are served once the refs move', async () => {
    const { dir, tokens } = example();
    const { url } = await serve(dir);
    const v1 = git(dir, 'rev-parse', 'v1');
    expect((await getJson(`${url}/v1/resolve`, auth(tokens.production))).body).toMatchObject({
      version: 'v1',
      commit: v1,
    });

    // v2 gets content of its own, then production is linked to it.
    const v2a = await commitTo(dir, 'v2', { 'training/intents/new-in-v2.yaml': GOOD_INTENT('new-in-v2') });
    await ok(dir, 'env', 'set', 'production', 'v2');
    let r = await waitForCommit(url, tokens.production, git(dir, 'rev-parse', 'main'), 'manifestCommit');
    expect(r.body).toMatchObject({ environment: 'production', version: 'v2', commit: v2a });
    expect(r.body.bundle.intents.map((i: { slug: string }) => i.slug)).toContain('new-in-v2');
    expect(r.headers.get('etag')).toBe(`"${v2a}"`);

    // Unpinned, production follows v2's head.
    const v2b = await commitTo(dir, 'v2', { 'training/intents/second.yaml': GOOD_INTENT('second') });
    await waitForCommit(url, tokens.production, v2b);

    // promote: staging gets exactly what production serves now, pinned; v2 moving on leaves it there.
    await ok(dir, 'env', 'set', 'staging', 'v1');
    await waitForCommit(url, tokens.staging, v1);
    await ok(dir, 'promote', 'production', 'staging');
    r = await waitForCommit(url, tokens.staging, v2b);
    expect(r.body).toMatchObject({
      environment: 'staging',
      version: 'v2',
      manifestCommit: git(dir, 'rev-parse', 'main'),
    });
    const v2c = await commitTo(dir, 'v2', { 'training/intents/third.yaml': GOOD_INTENT('third') });
    await waitForCommit(url, tokens.production, v2c);
    expect((await getJson(`${url}/v1/resolve`, auth(tokens.staging))).body.commit).toBe(v2b);

    // rollback: staging back to v1, unpinned.
    await ok(dir, 'rollback', 'staging');
    r = await waitForCommit(url, tokens.staging, v1);
    expect(r.body.version).toBe('v1');

    // A rotated token works at once and the old one stops working.
    const { token: fresh } = (await ok(dir, 'token', 'rotate', '--env', 'production', '--json')) as { token: string };
    await waitForCommit(url, fresh, v2c);
    const old = await getJson(`${url}/v1/resolve`, auth(tokens.production));
    expect(old.status).toBe(401);
    expect(old.body.error.code).toBe('UNAUTHORIZED');
  });

  it('as a real process: botver env set and botver promote are served once the refs move', async () => {
    const { dir, tokens } = example();
    const { url } = await serve(dir);
    const v2 = await commitTo(dir, 'v2', { 'training/intents/new-in-v2.yaml': GOOD_INTENT('new-in-v2') });
    const set = await botverProcess(dir, ['env', 'set', 'production', 'v2']);
    expect(set.code, set.stderr).toBe(0);
    const r = await waitForCommit(url, tokens.production, git(dir, 'rev-parse', 'main'), 'manifestCommit');
    expect(r.body).toMatchObject({ version: 'v2', commit: v2 });

    const promote = await botverProcess(dir, ['promote', 'v1', 'staging', '--json']);
    expect(promote.code, promote.stderr).toBe(0);
    expect(JSON.parse(promote.stdout).manifestCommit).toBe(git(dir, 'rev-parse', 'main'));
    const s = await waitForCommit(url, tokens.staging, git(dir, 'rev-parse', 'v1'));
    expect(s.body).toMatchObject({
      environment: 'staging',
      version: 'v1',
      manifestCommit: git(dir, 'rev-parse', 'main'),
    });
    const envs = await getJson(`${url}/v1/environments`, admin);
    expect(envs.body.environments.find((e: { name: string }) => e.name === 'staging')).toMatchObject({
      version: 'v1',
      pinned: true,
      status: 'ok',
    });
  });
});

describe('refresh after a native git push', () => {
  it('a push to a version branch, to the control branch and a forced push back are all served', async () => {
    const { dir: bare, init } = await newBotRepo({ bare: true });
    const { token: v2Token } = (await ok(bare, 'version', 'create', 'v2', '--from', 'v1', '--json')) as {
      token: string;
    };
    const { url } = await serve(bare);
    const clone = join(tempDir('botver-clone-'), 'work');
    git(bare, 'clone', '-q', bare, clone);

    // A content change on v1, pushed.
    git(clone, 'checkout', '-q', 'v1');
    const before = git(clone, 'rev-parse', 'HEAD');
    git(clone, 'rm', '-q', 'skills/fallback.yaml');
    git(clone, 'commit', '-q', '-m', 'drop the fallback skill');
    git(clone, 'push', '-q', 'origin', 'v1');
    const pushed = git(clone, 'rev-parse', 'HEAD');
    expect(git(bare, 'rev-parse', 'v1')).toBe(pushed);
    const r = await waitForCommit(url, init.environment.token, pushed);
    expect(r.body.bundle.skills.map((s: { slug: string }) => s.slug)).not.toContain('fallback');
    const file = await fetch(`${url}/v1/files/skills/fallback.yaml`, { headers: auth(init.version.token) });
    expect(file.status).toBe(404);

    // A promotion pushed as a manifest change (what merging a pull request does).
    git(clone, 'checkout', '-q', 'main');
    const manifest = manifestAt(clone, 'HEAD').replace(/(production:\n\s+version: )v1/, '$1v2');
    expect(manifest).toMatch(/production:\n\s+version: v2/);
    writeFileSync(join(clone, 'environments.yaml'), manifest);
    git(clone, 'commit', '-q', '-am', 'promote production to v2');
    git(clone, 'push', '-q', 'origin', 'main');
    const main = git(clone, 'rev-parse', 'HEAD');
    const p = await waitForCommit(url, init.environment.token, main, 'manifestCommit');
    expect(p.body).toMatchObject({ version: 'v2', commit: git(bare, 'rev-parse', 'v2') });
    expect((await getJson(`${url}/v1/resolve`, auth(v2Token))).body.commit).toBe(git(bare, 'rev-parse', 'v2'));

    // A forced push rewinds v1: the older commit is served again.
    git(clone, 'push', '-q', '-f', 'origin', `${before}:refs/heads/v1`);
    await waitForCommit(url, init.version.token, before);
  });
});

describe('refresh after git pack-refs and git gc', () => {
  it('keeps serving, follows later commits, and reads files from the new packs', async () => {
    const { dir, tokens } = example();
    const resolver = await serve(dir);
    const { url } = resolver;
    const v1 = git(dir, 'rev-parse', 'v1');
    const fileOk = async (token: string, path: string, expected: string) => {
      const res = await fetch(`${url}/v1/files/${path}`, { headers: auth(token) });
      expect(res.status, path).toBe(200);
      expect(await res.text()).toBe(expected);
    };

    git(dir, 'pack-refs', '--all');
    expect(git(dir, 'for-each-ref', '--format=%(refname)', 'refs/heads/')).toContain('refs/heads/v1');
    // A refresh that began after the change has finished (what the watcher or a poll would run):
    // nothing moved.
    await resolver.live.refresh();
    expect((await getJson(`${url}/v1/resolve`, auth(tokens.production))).body.commit).toBe(v1);
    expect((await readyz(url)).status).toBe(200);
    // A commit on a packed ref (the loose ref now overrides it).
    const a = await commitTo(dir, 'v1', { 'training/intents/after-pack-refs.yaml': GOOD_INTENT('after-pack-refs') });
    await waitForCommit(url, tokens.production, a);

    git(dir, 'gc', '-q', '--prune=now');
    expect(git(dir, 'count-objects', '-v')).toMatch(/^count: 0$/m);
    await resolver.live.refresh();
    expect((await getJson(`${url}/v1/resolve`, auth(tokens.production))).body.commit).toBe(a);
    await fileOk(tokens.production, 'training/intents/after-pack-refs.yaml', GOOD_INTENT('after-pack-refs'));

    // Another commit and another gc: the first pack is replaced by a new one.
    const b = await commitTo(dir, 'v1', { 'training/intents/after-gc.yaml': GOOD_INTENT('after-gc') });
    await waitForCommit(url, tokens.production, b);
    git(dir, 'gc', '-q', '--prune=now');
    await resolver.live.refresh();
    await fileOk(tokens.production, 'training/intents/after-gc.yaml', GOOD_INTENT('after-gc'));
    await fileOk(tokens.production, 'training/intents/after-pack-refs.yaml', GOOD_INTENT('after-pack-refs'));
    await fileOk(tokens.staging, 'skills/greetings.yaml', `${git(dir, 'show', 'v2:skills/greetings.yaml')}\n`);
    const c = await commitTo(dir, 'v2', { 'training/intents/v2-after-gc.yaml': GOOD_INTENT('v2-after-gc') });
    const r = await waitForCommit(url, tokens.staging, c);
    expect(r.body.bundle.intents.map((i: { slug: string }) => i.slug)).toContain('v2-after-gc');
    expect((await readyz(url)).status).toBe(200);
  });
});

describe('last good commit', () => {
  it('a version whose new head fails validation keeps its last good commit; /readyz, /metrics and the log say why', async () => {
    const { dir, tokens } = example();
    const capture = captureLogger('info');
    const { url } = await serve(dir, { logger: capture.logger });
    const good = git(dir, 'rev-parse', 'v1');
    const v2 = git(dir, 'rev-parse', 'v2');

    const bad = await commitTo(dir, 'v1', { 'training/intents/broken.yaml': BROKEN_INTENT });
    const { value: notReady } = await eventually('/readyz 503', async () => {
      const r = await readyz(url);
      return r.status === 503 ? r : undefined;
    });
    expect(notReady.body).toMatchObject({ ready: false, manifestCommit: git(dir, 'rev-parse', 'main') });
    expect(notReady.body.problems).toEqual([
      {
        scope: 'version',
        name: 'v1',
        commit: bad,
        serving: good,
        errors: [
          {
            file: 'training/intents/broken.yaml',
            line: 3,
            column: expect.any(Number),
            message: expect.stringContaining('expressions'),
            text: expect.stringMatching(/^training\/intents\/broken\.yaml:3:\d+ expressions/),
          },
        ],
      },
    ]);
    // Both tokens that lead to v1 get the last good commit; v2 is untouched.
    for (const token of [tokens.production, tokens.v1]) {
      const r = await getJson(`${url}/v1/resolve`, auth(token));
      expect(r.status).toBe(200);
      expect(r.body.commit).toBe(good);
      expect(r.headers.get('etag')).toBe(`"${good}"`);
    }
    expect((await getJson(`${url}/v1/files/training/intents/broken.yaml`, auth(tokens.production))).status).toBe(404);
    expect((await getJson(`${url}/v1/resolve`, auth(tokens.staging))).body.commit).toBe(v2);
    const versions = await getJson(`${url}/v1/versions`, admin);
    expect(versions.body.versions[0]).toMatchObject({ name: 'v1', head: bad, commit: good, status: 'last-good' });
    const envs = await getJson(`${url}/v1/environments`, admin);
    expect(envs.body.environments[0]).toMatchObject({ name: 'production', commit: good, status: 'last-good' });
    let text = await (await fetch(`${url}/metrics`)).text();
    expect(metric(text, 'botver_ready')).toBe(0);
    expect(metric(text, 'botver_environment_info', { environment: 'production', version: 'v1', commit: good })).toBe(1);
    // Logged once, naming the version, the broken commit, what is served and the file:line.
    const warnings = capture.lines().filter((l) => l.level === 40 && l.version === 'v1');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ scope: 'version', commit: bad, serving: good });
    expect(warnings[0]!.msg).toBe(
      `version v1 at ${bad.slice(0, 12)} fails validation; serving last good ${good.slice(0, 12)}`,
    );
    expect(warnings[0]!.errors[0]).toMatch(/^training\/intents\/broken\.yaml:3:/);

    // A second broken commit on top: still the same good one.
    const bad2 = await commitTo(dir, 'v1', { 'skills/broken.yaml': 'slug: [oops\n' });
    await eventually('/readyz names the newer head', async () =>
      (await readyz(url)).body.problems[0]?.commit === bad2 ? true : undefined,
    );
    expect((await getJson(`${url}/v1/resolve`, auth(tokens.production))).body.commit).toBe(good);
    expect((await readyz(url)).body.problems[0]).toMatchObject({ serving: good });

    // Fixed: the fix is served and the resolver is ready again.
    const fixed = await commitTo(dir, 'v1', { 'training/intents/broken.yaml': null, 'skills/broken.yaml': null });
    await waitForCommit(url, tokens.production, fixed);
    await eventually("ready again (once the fixed commit's NLU model is trained)", async () =>
      (await readyz(url)).status === 200 ? true : undefined,
    );
    expect(await readyz(url)).toMatchObject({ status: 200, body: { ready: true, problems: [] } });
    text = await (await fetch(`${url}/metrics`)).text();
    expect(metric(text, 'botver_ready')).toBe(1);
    // The recovery is logged: the new heads, then "ready" (NLU training lines aside).
    expect(
      capture
        .lines()
        .filter((l) => !String(l.msg).includes('NLU model'))
        .slice(-2)
        .map((l) => [l.level, l.msg]),
    ).toEqual([
      [30, 'serving new version heads'],
      [30, 'ready'],
    ]);
  });

  it('an invalid manifest keeps the previous snapshot in service until a valid one lands', async () => {
    const { dir, tokens } = example();
    const { url } = await serve(dir);
    const before = git(dir, 'rev-parse', 'main');
    const v1 = git(dir, 'rev-parse', 'v1');
    const text = manifestAt(dir);

    // production -> a version that does not exist (a rule error, with the line).
    const brokenText = text.replace(/(production:\n\s+version: )v1/, '$1v9');
    const line = brokenText.split('\n').findIndex((l) => l.includes('version: v9')) + 1;
    const broken = nativeCommit(
      dir,
      { 'environments.yaml': brokenText },
      [before],
      'link production to a missing version',
    );
    git(dir, 'update-ref', 'refs/heads/main', broken, before);
    const { value: nr } = await eventually('/readyz 503', async () => {
      const r = await readyz(url);
      return r.status === 503 ? r : undefined;
    });
    expect(nr.body.manifestCommit).toBe(before);
    expect(nr.body.problems).toHaveLength(1);
    expect(nr.body.problems[0]).toMatchObject({ scope: 'manifest', name: 'main', commit: broken, serving: before });
    expect(nr.body.problems[0].errors[0]).toMatchObject({
      file: 'environments.yaml',
      line,
      message: expect.stringContaining('v9'),
    });
    let r = await getJson(`${url}/v1/resolve`, auth(tokens.production));
    expect(r.body).toMatchObject({ manifestCommit: before, version: 'v1', commit: v1 });

    // A YAML syntax error on top: still the previous snapshot; /readyz names the new commit.
    const syntax = nativeCommit(dir, { 'environments.yaml': `${text}environments: [\n` }, [broken], 'broken YAML');
    git(dir, 'update-ref', 'refs/heads/main', syntax, broken);
    await eventually('/readyz names the newer commit', async () =>
      (await readyz(url)).body.problems[0]?.commit === syntax ? true : undefined,
    );
    r = await getJson(`${url}/v1/resolve`, auth(tokens.staging));
    expect(r.body).toMatchObject({ manifestCommit: before, version: 'v2' });
    expect((await getJson(`${url}/v1/environments`, admin)).body.manifestCommit).toBe(before);

    // A valid manifest again (with production moved to v2): served.
    const valid = nativeCommit(
      dir,
      { 'environments.yaml': text.replace(/(production:\n\s+version: )v1/, '$1v2') },
      [syntax],
      'fix',
    );
    git(dir, 'update-ref', 'refs/heads/main', valid, syntax);
    r = await waitForCommit(url, tokens.production, valid, 'manifestCommit');
    expect(r.body.version).toBe('v2');
    expect((await readyz(url)).status).toBe(200);
  });

  it('a fresh server on a repository with an invalid manifest is alive but not ready, and says why', async () => {
    const { dir, init } = await newBotRepo();
    const head = git(dir, 'rev-parse', 'main');
    const text = manifestAt(dir);
    const broken = nativeCommit(
      dir,
      { 'environments.yaml': text.replace('apiVersion: botver/v1', 'apiVersion: botver/v1\nmaxVersions: lots') },
      [head],
      'break it',
    );
    git(dir, 'update-ref', 'refs/heads/main', broken, head);
    const { url } = await serve(dir);

    expect(await getJson(`${url}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });
    const ready = await readyz(url);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ ready: false, manifestCommit: null });
    expect(ready.body.problems).toHaveLength(1);
    expect(ready.body.problems[0]).toMatchObject({ scope: 'manifest', name: 'main', commit: broken, serving: null });
    expect(ready.body.problems[0].errors[0]).toMatchObject({
      file: 'environments.yaml',
      line: expect.any(Number),
      text: expect.stringMatching(/^environments\.yaml:\d+:\d+ /),
    });
    for (const path of ['/v1/resolve', '/v1/files/skills/greetings.yaml']) {
      const res = await fetch(`${url}${path}`, { headers: auth(init.environment.token) });
      expect(res.status, path).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_READY');
    }
    expect((await getJson(`${url}/v1/environments`, admin)).status).toBe(503);
    expect(metric(await (await fetch(`${url}/metrics`)).text(), 'botver_ready')).toBe(0);

    // Repaired: served without a restart.
    const fixed = nativeCommit(dir, { 'environments.yaml': text }, [broken], 'repair');
    git(dir, 'update-ref', 'refs/heads/main', fixed, broken);
    const r = await waitForCommit(url, init.environment.token, fixed, 'manifestCommit');
    expect(r.body.commit).toBe(git(dir, 'rev-parse', 'v1'));
    // Ready once the NLU model of what is now served is trained (in the background).
    await eventually('ready', async () => ((await readyz(url)).status === 200 ? true : undefined));
  });

  it('a fresh start on a broken head serves the newest good commit among its first parents', async () => {
    const { dir, tokens } = example();
    const good = await commitTo(dir, 'v1', { 'training/intents/good.yaml': GOOD_INTENT('good') });
    const bad = await commitTo(dir, 'v1', { 'training/intents/broken.yaml': BROKEN_INTENT });
    // A merge whose first parent is the broken line and whose second parent is a good side commit.
    const side = git(dir, 'commit-tree', `${good}^{tree}`, '-p', good, '-m', 'good side branch');
    const merge = git(dir, 'commit-tree', `${bad}^{tree}`, '-p', bad, '-p', side, '-m', 'merge, still broken');
    git(dir, 'update-ref', 'refs/heads/v1', merge, bad);
    const capture = captureLogger('info');
    const { url } = await serve(dir, { logger: capture.logger });

    for (const token of [tokens.production, tokens.v1])
      expect((await getJson(`${url}/v1/resolve`, auth(token))).body.commit).toBe(good);
    const ready = await readyz(url);
    expect(ready.status).toBe(503);
    expect(ready.body.problems).toMatchObject([
      {
        scope: 'version',
        name: 'v1',
        commit: merge,
        serving: good,
        errors: [{ file: 'training/intents/broken.yaml', line: 3 }],
      },
    ]);
    const warning = capture.lines().find((l) => l.level === 40 && l.version === 'v1');
    expect(warning).toMatchObject({ commit: merge, serving: good });
    expect((await getJson(`${url}/v1/versions`, admin)).body.versions[0]).toMatchObject({
      head: merge,
      commit: good,
      status: 'last-good',
    });
  });
});

describe('botver serve shutdown', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  async function freePort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }

  function openSocket(port: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(socket));
      socket.once('error', reject);
    });
  }

  it('takes its settings from PORT, BOTVER_REPO, BOTVER_LOG_FILE and BOTVER_POLL_MS; refuses a bad port with exit 2', async () => {
    const { dir, tokens } = example();
    const port = await freePort();
    const logFile = join(tempDir(), 'requests.jsonl');
    const child = spawn(process.execPath, [BIN, 'serve'], {
      cwd: tempDir(), // not the repository: BOTVER_REPO names it
      env: {
        ...process.env,
        ...TEST_ENV,
        PORT: String(port),
        BOTVER_REPO: dir,
        BOTVER_LOG_FILE: logFile,
        BOTVER_POLL_MS: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const { value: listening } = await eventually(
      'listening',
      async () =>
        out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
          .find((l) => l.msg === 'resolver listening'),
      10_000,
    );
    expect(listening).toMatchObject({ url: `http://127.0.0.1:${port}`, pollMs: 0, logFile });
    expect((await getJson(`http://127.0.0.1:${port}/v1/resolve`, auth(tokens.staging))).body.version).toBe('v2');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const entries = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(entries).toMatchObject([{ environment: 'staging', version: 'v2', route: '/v1/resolve', status: 200 }]);

    for (const args of [
      ['--port', '70000'],
      ['--port', 'http'],
      ['--poll-ms', '-5'],
      ['--cache-size', '0'],
    ]) {
      const r = await botver(dir, 'serve', ...args);
      expect([args, r.code]).toEqual([args, 2]);
      expect(r.stderr).toMatch(/port|poll-ms|cache-size/);
    }
  });

  it('on SIGTERM: stops accepting, closes idle connections, finishes the request in flight, exits 0', async () => {
    const { dir, tokens } = example();
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'serve', '--repo', dir, '--port', String(port)], {
      env: { ...process.env, ...TEST_ENV, BOTVER_ADMIN_TOKEN: ADMIN_TOKEN, BOTVER_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const lines: Record<string, any>[] = [];
    let stderr = '';
    let partial = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c));
    child.stdout!.on('data', (c: Buffer) => {
      partial += c;
      const complete = partial.split('\n');
      partial = complete.pop()!;
      for (const l of complete) if (l.trim()) lines.push(JSON.parse(l));
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    const logged = (msg: string) => eventually(`"${msg}" logged`, async () => lines.find((l) => l.msg === msg));

    const { value: listening } = await logged('resolver listening');
    expect(listening.url).toBe(`http://127.0.0.1:${port}`);
    const url = `http://127.0.0.1:${port}`;
    expect((await getJson(`${url}/v1/resolve`, auth(tokens.production))).status).toBe(200);
    // Ready: the NLU models are trained, so the request in flight below is answered by its route.
    await eventually('ready', async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined), 60_000);

    // An idle keep-alive connection (one answered request) ...
    const idle = await openSocket(port);
    let idleData = '';
    idle.on('data', (c: Buffer) => (idleData += c));
    const idleClosed = new Promise<void>((resolve) => idle.on('close', () => resolve()));
    idle.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually('keep-alive answer', async () => (idleData.includes('"status":"ok"') ? true : undefined));
    expect(idleData).toMatch(/^HTTP\/1\.1 200 /);
    expect(idleData.toLowerCase()).toContain('connection: keep-alive');
    // Two connections with a request in flight. Each first gets one answer (so the server has
    // surely accepted it), then starts its next request: one has not finished its headers, ...
    const inFlight = async (start: string) => {
      const socket = await openSocket(port);
      const state = { data: '', closed: new Promise<void>((resolve) => socket.on('close', () => resolve())) };
      socket.on('data', (c: Buffer) => (state.data += c));
      socket.on('error', () => {});
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await eventually('first answer', async () => (state.data.includes('"status":"ok"') ? true : undefined));
      state.data = '';
      socket.write(start);
      return { socket, state };
    };
    const busy = await inFlight('GET /v1/resolve HTTP/1.1\r\nHost: x\r\n');
    // ... the other has sent its headers, but its body is still coming.
    const body = JSON.stringify({ text: 'hello there' });
    const posting = await inFlight(
      `POST /v2/request HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${tokens.staging}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    // Both partial requests have reached the server process (it has read every byte sent).
    for (const { socket } of [busy, posting])
      await eventually('the server read the partial request', async () =>
        serverHasRead(port, socket.localPort!) ? true : undefined,
      );

    child.kill('SIGTERM');
    await logged('shutting down: no new connections, finishing requests in flight');
    await idleClosed;
    // New connections are refused while the process still waits for the request in flight.
    const refused = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    // The idle connection is closed and new ones refused, yet the two in flight are kept (the
    // answers below prove the process is still there to give them).
    expect(child.exitCode).toBeNull();
    expect(busy.state.data).toBe('');
    expect(posting.state.data).toBe('');

    // The requests in flight complete with full answers, and their connections are closed
    // right after them (not after the keep-alive timeout).
    busy.socket.write(`Authorization: Token ${tokens.production}\r\n\r\n`);
    await busy.state.closed;
    const answer = parseRaw(busy.state.data);
    expect(answer.status).toBe(200);
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body)).toMatchObject({ environment: 'production', commit: git(dir, 'rev-parse', 'v1') });
    posting.socket.write(body.slice(5));
    await posting.state.closed;
    const posted = parseRaw(posting.state.data);
    expect(posted.status).toBe(200); // the body was read whole: the route answers
    expect(JSON.parse(posted.body).results.intents[0].slug).toBe('greetings');

    // Exits 0 once the last answer is out: every connection was closed by the server itself.
    const exit = await exited;
    expect(exit, stderr).toEqual({ code: 0, signal: null });
    expect(lines.at(-1)).toMatchObject({ msg: 'stopped' });
    expect(stderr).toBe('');
    // Nothing logged a token.
    for (const token of Object.values(tokens)) expect(JSON.stringify(lines)).not.toContain(token);
  });
});
