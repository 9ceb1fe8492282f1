import { afterEach, describe, expect, it } from 'vitest';
import { createResolverClient, ResolverClientError } from '../src/client/resolver-client.js';
import { startResolver, type RunningResolver } from '../src/resolver/server.js';
import { createLogger } from '../src/resolver/monitoring/logger.js';
import { openBotRepo } from '../src/ops/bot-repo.js';
import { commitFiles } from '../src/ops/content-commit.js';
import { createVersion } from '../src/ops/versions.js';
import { createEnvironment, setEnvironment } from '../src/ops/environments.js';
import { git, newBotRepo } from './helpers.js';

// The bot-side client against a real resolver on 127.0.0.1: revalidation with If-None-Match,
// the last good answer when the resolver is gone, and errors that must not be masked.

const running: RunningResolver[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.close();
});

async function serve(repo: string, adminToken = 'admin-secret') {
  const resolver = await startResolver({
    repo,
    port: 0,
    host: '127.0.0.1',
    pollMs: 50,
    adminToken,
    logger: createLogger({ level: 'silent' }),
  });
  running.push(resolver);
  return resolver;
}

async function statuses(url: string): Promise<number[]> {
  const res = await fetch(`${url}/v1/logs?limit=1000`, { headers: { Authorization: 'Bearer admin-secret' } });
  const { entries } = (await res.json()) as { entries: { status: number; route: string }[] };
  return entries
    .filter((e) => e.route === '/v1/resolve')
    .map((e) => e.status)
    .reverse();
}

describe('createResolverClient', () => {
  it('resolves, revalidates with If-None-Match (304), and sees a new commit', async () => {
    const { dir, init } = await newBotRepo();
    const resolver = await serve(dir);
    const client = createResolverClient({ url: `${resolver.url}/`, token: init.environment.token });

    const first = await client.resolve();
    expect(first.source).toBe('network');
    expect(first).toMatchObject({
      bot: 'test-bot',
      environment: 'production',
      version: 'v1',
      commit: git(dir, 'rev-parse', 'v1'),
    });
    expect(first.bundle.intents.length).toBeGreaterThan(0);

    const second = await client.resolve();
    expect(second.source).toBe('not-modified');
    expect(second.commit).toBe(first.commit);
    expect(await statuses(resolver.url)).toEqual([200, 304]);

    const repo = await openBotRepo({ repo: dir });
    await commitFiles(
      repo,
      'v1',
      { 'training/intents/thanks.yaml': 'slug: thanks\nexpressions:\n  - thank you\n' },
      'thanks',
    );
    await resolver.live.refresh();
    const third = await client.resolve();
    expect(third.source).toBe('network');
    expect(third.commit).toBe(git(dir, 'rev-parse', 'v1'));
    expect(third.bundle.intents.map((i) => i.slug)).toContain('thanks');
    expect(client.last?.commit).toBe(third.commit);
  });

  it('keeps the last good answer when the resolver is unreachable, and throws when it never had one', async () => {
    const { dir, init } = await newBotRepo();
    const resolver = await serve(dir);
    const client = createResolverClient({ url: resolver.url, token: init.version.token, timeoutMs: 2000 });
    const good = await client.resolve();
    await resolver.close();

    const stale = await client.resolve();
    expect(stale.source).toBe('stale');
    expect(stale.commit).toBe(good.commit);
    expect(stale.error?.code).toBe('UNREACHABLE');

    const fresh = createResolverClient({ url: resolver.url, token: init.version.token, timeoutMs: 2000 });
    await expect(fresh.resolve()).rejects.toMatchObject({ status: 0, code: 'UNREACHABLE' });
  });

  it('does not hide an unknown token behind the cache, and reads raw files', async () => {
    const { dir, init } = await newBotRepo();
    const resolver = await serve(dir);
    const bad = createResolverClient({ url: resolver.url, token: 'bvt_not-a-token' });
    const err = await bad.resolve().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResolverClientError);
    expect(err).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });

    const client = createResolverClient({ url: resolver.url, token: init.environment.token });
    const path = git(dir, 'ls-tree', '-r', '--name-only', 'v1')
      .split('\n')
      .find((p) => p.startsWith('training/intents/'))!;
    expect(await client.file(path)).toBe(`${git(dir, 'show', `v1:${path}`)}\n`);
    await expect(client.file('training/nothing.yaml')).rejects.toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });
});

describe('a promotion that keeps the commit', () => {
  it('is seen through a 304: the version and manifest commit come in its headers', async () => {
    const { dir } = await newBotRepo();
    const repo = await openBotRepo({ repo: dir });
    await createVersion(repo, 'v2', 'v1'); // v2 starts at v1's commit
    const { token } = await createEnvironment(repo, 'staging', 'v1');
    const resolver = await serve(dir);
    const client = createResolverClient({ url: resolver.url, token });
    const first = await client.resolve();
    expect(first).toMatchObject({ environment: 'staging', version: 'v1' });

    const { manifestCommit } = await setEnvironment(repo, 'staging', 'v2');
    await resolver.live.refresh();
    const raw = await fetch(`${resolver.url}/v1/resolve`, {
      headers: { Authorization: `Token ${token}`, 'If-None-Match': `"${first.commit}"` },
    });
    expect(raw.status).toBe(304);
    expect(raw.headers.get('x-botver-version')).toBe('v2');
    expect(raw.headers.get('x-botver-environment')).toBe('staging');
    expect(raw.headers.get('x-botver-manifest-commit')).toBe(manifestCommit);

    const second = await client.resolve();
    expect(second).toMatchObject({
      source: 'not-modified',
      version: 'v2',
      environment: 'staging',
      commit: first.commit,
      manifestCommit,
    });
    expect(client.last).toMatchObject({ version: 'v2', manifestCommit });
  });
});
