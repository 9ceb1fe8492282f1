import { createHmac } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_ENV, exampleBotRepo, git, ok, sharedRepo, tempDir } from './helpers.js';
import { auth, captureLogger, eventually, getJson, metric, serve } from './resolver-helpers.js';
import { startGitHttpServer, type GitHttpServer } from './git-http-server.js';
import { GitMirror } from '../src/git/mirror.js';
import { execFileSync } from 'node:child_process';

// Issue #10, part 2: `botver serve --remote URL` follows a repository on a Git host (here native
// `git http-backend` on 127.0.0.1, with Basic authentication) through a local mirror: it fetches
// on start, on a signed push webhook (GitHub, GitLab, Gitea signatures), and every interval; a
// host that fails keeps the last snapshot in service and shows on /readyz and /metrics; the
// credentials never appear in logs, errors, /metrics or the mirror.

const USER = 'bot-ci';
const TOKEN = 'glpat-very-secret-token-4242';
const SECRET = 'webhook-secret-for-tests';

/** A Git host's folder holding the example bot as bot.git, and the tokens of its environments. */
const hosted = sharedRepo(async () => {
  const work = await exampleBotRepo();
  const production = (await ok(work, 'token', 'rotate', '--env', 'production', '--json')).token as string;
  const staging = (await ok(work, 'token', 'rotate', '--env', 'staging', '--json')).token as string;
  const root = tempDir('botver-host-');
  git(root, 'clone', '--quiet', '--bare', work, 'bot.git');
  // Tokens travel with the copy, in a file beside the repository.
  execFileSync('sh', ['-c', `printf '%s\\n%s\\n' "${production}" "${staging}" > tokens.txt`], { cwd: root });
  return root;
});

const hosts: GitHttpServer[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()));
});

async function host(root: string, withAuth = true) {
  const server = await startGitHttpServer(root, withAuth ? { username: USER, password: TOKEN } : {});
  hosts.push(server);
  return server;
}

function tokensOf(root: string) {
  const [production, staging] = readFileSync(join(root, 'tokens.txt'), 'utf8').trim().split('\n');
  return { production: production!, staging: staging! };
}

/** A work clone of the hosted repository, to push changes as a developer would. */
function developer(root: string): string {
  const dir = join(tempDir('botver-dev-'), 'work');
  execFileSync('git', ['clone', '--quiet', join(root, 'bot.git'), dir], { env: { ...process.env, ...TEST_ENV } });
  return dir;
}

const github = (body: string) => ({
  'Content-Type': 'application/json',
  'X-GitHub-Event': 'push',
  'X-Hub-Signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
});

async function followed(root: string, server: GitHttpServer, extra: Record<string, unknown> = {}) {
  const logger = captureLogger();
  const resolver = await serve('.', {
    remote: {
      url: server.url('bot'),
      cacheDir: tempDir('botver-cache-'),
      fetchIntervalMs: 3_600_000, // only webhooks and the start fetch, unless a test says otherwise
      credentials: { username: USER, token: TOKEN },
    },
    webhookSecret: SECRET,
    logger: logger.logger,
    ...extra,
  });
  return { resolver, logger, tokens: tokensOf(root) };
}

describe('botver serve --remote', () => {
  it('serves the hosted repository, and a push with a signed webhook is served at once', async () => {
    const root = hosted();
    const server = await host(root);
    const { resolver, tokens } = await followed(root, server);
    const first = await getJson(`${resolver.url}/v1/resolve`, auth(tokens.production));
    expect(first.status).toBe(200);
    expect(first.body.commit).toBe(git(join(root, 'bot.git'), 'rev-parse', 'v1'));

    // New work on v2, then a promotion on the host: production -> v2, pushed to main.
    const dev = developer(root);
    git(dev, 'switch', '--quiet', 'v2');
    const file = join(dev, 'training/intents/greetings.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('expressions:\n', 'expressions:\n  - hiya there\n'));
    git(dev, 'commit', '--quiet', '-am', 'more greetings');
    git(dev, 'push', '--quiet', 'origin', 'v2');
    await ok(dev, 'promote', 'staging', 'production', '--push');
    const v2 = git(join(root, 'bot.git'), 'rev-parse', 'v2');
    const fetchesBefore = server.fetches;
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const hook = await fetch(`${resolver.url}/v1/hooks/git`, { method: 'POST', headers: github(body), body });
    expect(hook.status).toBe(202);
    await eventually('the promotion served', async () => {
      const r = await getJson(`${resolver.url}/v1/resolve`, auth(tokens.production));
      return r.body.commit === v2 ? true : undefined;
    });
    expect(server.fetches).toBeGreaterThan(fetchesBefore);
  });

  it('a burst of webhooks makes one fetch more, not one each; bad or missing signatures are 401 and fetch nothing', async () => {
    const root = hosted();
    const server = await host(root);
    const { resolver } = await followed(root, server);
    const body = '{"ref":"refs/heads/main"}';
    const bad: Record<string, string>[] = [
      { 'Content-Type': 'application/json' },
      { 'X-Hub-Signature-256': `sha256=${'0'.repeat(64)}` },
      { 'X-Hub-Signature-256': 'sha256=short' },
      { 'X-Gitlab-Token': 'wrong' },
      { 'X-Gitea-Signature': createHmac('sha256', 'other').update(body).digest('hex') },
    ];
    const before = server.fetches;
    for (const headers of bad) {
      const r = await fetch(`${resolver.url}/v1/hooks/git`, { method: 'POST', headers, body });
      expect(r.status).toBe(401);
    }
    expect(server.fetches).toBe(before);
    // Each host's own signature is accepted.
    const good: Record<string, string>[] = [
      github(body),
      { 'X-Gitlab-Token': SECRET },
      { 'X-Gitea-Signature': createHmac('sha256', SECRET).update(body).digest('hex') },
      { 'X-Forgejo-Signature': createHmac('sha256', SECRET).update(body).digest('hex') },
    ];
    const answers = await Promise.all(
      [...good, ...good, ...good].map((headers) =>
        fetch(`${resolver.url}/v1/hooks/git`, { method: 'POST', headers, body }).then((r) => r.status),
      ),
    );
    expect(answers).toEqual(Array(12).fill(202));
    // A push of many commits makes a large payload: past the API's 256 KB body limit, still checked.
    const large = JSON.stringify({ ref: 'refs/heads/main', commits: 'c'.repeat(600_000) });
    const big = await fetch(`${resolver.url}/v1/hooks/git`, { method: 'POST', headers: github(large), body: large });
    expect(big.status).toBe(202);
    await eventually('the fetches done', async () =>
      metric(await (await fetch(`${resolver.url}/metrics`)).text(), 'botver_fetches_total', { result: 'ok' })! >= 2
        ? true
        : undefined,
    );
    await new Promise((r) => setTimeout(r, 200));
    // 12 webhooks: the fetch they started and at most one more after it.
    expect(server.fetches - before).toBeLessThanOrEqual(2);
  });

  it('the Git host down: the last snapshot stays served, /readyz says so without going unready, and it recovers', async () => {
    const root = hosted();
    const server = await host(root);
    const { resolver, tokens, logger } = await followed(root, server, {
      remote: {
        url: server.url('bot'),
        cacheDir: tempDir('botver-cache-'),
        fetchIntervalMs: 200,
        credentials: { username: USER, token: TOKEN },
      },
    });
    server.setDown(true);
    await eventually('a failed fetch', async () =>
      resolver.state && (await readyz(resolver.url)).problems.length ? true : undefined,
    );
    const ready = await getJson(`${resolver.url}/readyz`, auth('admin-test-token-4f9c2b', 'Bearer'));
    expect(ready.status).toBe(200);
    const problem = ready.body.problems.find((p: { scope: string }) => p.scope === 'fetch');
    expect(problem.errors[0].severity).toBe('warning');
    expect(problem.errors[0].message).toMatch(/cannot fetch from the remote .*503/);
    expect((await getJson(`${resolver.url}/v1/resolve`, auth(tokens.production))).status).toBe(200);
    expect(
      metric(await (await fetch(`${resolver.url}/metrics`)).text(), 'botver_fetch_failures_in_a_row'),
    ).toBeGreaterThan(0);
    // Back up: the next retry works, the warning goes.
    server.setDown(false);
    await eventually('recovered', async () => ((await readyz(resolver.url)).problems.length === 0 ? true : undefined));
    // The credentials were sent, and never written anywhere botver writes.
    expect(server.authorizations.length).toBeGreaterThan(0);
    const mirrors = readdirSync(resolver.live.gitdir.replace(/\/[^/]+$/, ''));
    expect(mirrors).toHaveLength(1);
    const config = readFileSync(join(resolver.live.gitdir, 'config'), 'utf8');
    const everything = [
      logger
        .lines()
        .map((l) => JSON.stringify(l))
        .join('\n'),
      config,
      JSON.stringify(ready.body),
    ];
    const metrics = await (await fetch(`${resolver.url}/metrics`)).text();
    for (const text of [...everything, metrics]) {
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(Buffer.from(`${USER}:${TOKEN}`).toString('base64'));
    }
  });

  it('a fresh replica that cannot fetch has nothing to serve and says why; a URL with credentials is refused', async () => {
    const root = hosted();
    const server = await host(root);
    server.setDown(true);
    const { resolver, tokens } = await followed(root, server);
    const ready = await getJson(`${resolver.url}/readyz`, auth('admin-test-token-4f9c2b', 'Bearer'));
    expect(ready.status).toBe(503);
    const problem = ready.body.problems.find((p: { scope: string }) => p.scope === 'fetch');
    expect(problem.errors[0].severity).toBeUndefined(); // an error: nothing is served
    expect(problem.errors[0].message).toContain('nothing fetched yet');
    const answer = await getJson(`${resolver.url}/v1/resolve`, auth(tokens.production));
    expect([answer.status, answer.body.error.code]).toEqual([503, 'NOT_READY']);

    await expect(
      serve('.', { remote: { url: `http://${USER}:${TOKEN}@127.0.0.1:1/bot.git`, cacheDir: tempDir() } }),
    ).rejects.toThrow(/holds credentials; give them in BOTVER_GIT_USERNAME and BOTVER_GIT_TOKEN/);
    // A user in an http(s) URL is refused too (a token goes there); ssh://git@host is how SSH URLs look.
    await expect(
      GitMirror.open({
        url: 'https://x-token@127.0.0.1:1/bot.git',
        cacheDir: tempDir(),
        env: process.env,
        timeoutMs: 1000,
      }),
    ).rejects.toThrow(/holds credentials/);
    const ssh = await GitMirror.open({
      url: 'ssh://git@127.0.0.1:1/bot.git',
      cacheDir: tempDir(),
      env: process.env,
      timeoutMs: 1000,
    });
    expect(readFileSync(join(ssh.gitdir, 'config'), 'utf8')).toContain('url = ssh://git@127.0.0.1:1/bot.git');
  });

  it('follows a force-push and a deleted branch; file:// URLs work too', async () => {
    const root = hosted();
    const bare = join(root, 'bot.git');
    const { resolver, tokens } = await followed(root, await host(root), {
      remote: { url: `file://${bare}`, cacheDir: tempDir('botver-cache-'), fetchIntervalMs: 3_600_000 },
    });
    expect((await getJson(`${resolver.url}/v1/resolve`, auth(tokens.staging))).body.version).toBe('v2');
    // v2 rewritten (force-push) to a new root commit with the same content.
    const dev = developer(root);
    git(dev, 'switch', '--quiet', 'v2');
    const rewritten = git(dev, 'commit-tree', 'HEAD^{tree}', '-m', 'rewritten v2');
    git(dev, 'push', '--quiet', '--force', 'origin', `${rewritten}:refs/heads/v2`);
    const body = '{}';
    await fetch(`${resolver.url}/v1/hooks/git`, { method: 'POST', headers: github(body), body });
    await eventually('the force-push served', async () => {
      const r = await getJson(`${resolver.url}/v1/resolve`, auth(tokens.staging));
      return r.body.commit === rewritten ? true : undefined;
    });
  });
});

async function readyz(url: string): Promise<{ problems: { scope: string }[] }> {
  return (await getJson(`${url}/readyz`)).body;
}
