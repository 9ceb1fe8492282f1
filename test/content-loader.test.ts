import { describe, expect, it } from 'vitest';
import { ContentLoader } from '../src/content/content-loader.js';
import { DEFAULT_LIMITS } from '../src/content/limits.js';
import { GitRepo } from '../src/git/repo.js';
import { LiveSnapshot } from '../src/resolver/live-snapshot.js';
import { createLogger } from '../src/resolver/monitoring/logger.js';
import { exampleBotRepo, git, sharedRepo } from './helpers.js';
import { commitTo, eventually } from './resolver-helpers.js';
import { largeIntents } from './content-fixtures.js';

// The content worker (src/content/content-loader.ts) with a real worker thread over a real
// repository: parsed files shared between commits by blob id, a worker that dies or overruns
// failing one commit only, and the worker ending when idle.

const example = sharedRepo(() => exampleBotRepo());

async function loaderOver(dir: string, options: Omit<ConstructorParameters<typeof ContentLoader>[0], 'location'> = {}) {
  const repo = await GitRepo.open(dir);
  return { repo, loader: new ContentLoader({ ...options, location: repo.location }) };
}

describe('the content worker', () => {
  it('parses a file once per blob, schema and limits: a version copied from another parses nothing', async () => {
    const dir = example();
    const { loader } = await loaderOver(dir);
    try {
      const v1 = await loader.load(git(dir, 'rev-parse', 'v1'), DEFAULT_LIMITS);
      expect(v1.content.ok).toBe(true);
      expect(v1.parsed).toBe(v1.files);
      // v2 was created from v1: same blobs, nothing to parse; the content is the same.
      const v2 = await loader.load(git(dir, 'rev-parse', 'v2'), DEFAULT_LIMITS);
      expect(v2).toMatchObject({ files: v1.files, parsed: 0 });
      expect(v2.content.bundleJson).toBe(v1.content.bundleJson);
      expect(v2.content.bundle).toEqual(JSON.parse(v1.content.bundleJson!));
      // Other limits can change a file's result: checked again.
      const other = await loader.load(git(dir, 'rev-parse', 'v2'), { ...DEFAULT_LIMITS, maxAliases: 7 });
      expect(other).toMatchObject({ files: v1.files, parsed: v1.files });
    } finally {
      await loader.close();
    }
  });

  it('ends when idle; the next load starts a new worker (and parses again)', async () => {
    const dir = example();
    const { loader } = await loaderOver(dir, { idleMs: 0 });
    try {
      const first = await loader.load(git(dir, 'rev-parse', 'v1'), DEFAULT_LIMITS);
      await eventually('the idle worker ended', async () => (loader.running ? undefined : true));
      const again = await loader.load(git(dir, 'rev-parse', 'v1'), DEFAULT_LIMITS);
      expect(again).toMatchObject({ files: first.files, parsed: first.files });
      expect(again.content.bundleJson).toBe(first.content.bundleJson);
    } finally {
      await loader.close();
    }
  });

  it('a load past its time limit fails that commit, naming the limit, to be loaded again next time', async () => {
    const dir = example();
    const commit = git(dir, 'rev-parse', 'v1');
    const { loader } = await loaderOver(dir, { timeoutMs: 1 });
    try {
      const { content, retry } = await loader.load(commit, DEFAULT_LIMITS);
      expect(content).toMatchObject({ commit, ok: false, bundle: null, bundleJson: null });
      // A busy machine may be why: the resolver loads it again at the next change of refs.
      expect(retry).toBe(true);
      expect(content.problems).toEqual([
        expect.objectContaining({
          file: '.',
          severity: 'error',
          message: `cannot be loaded at commit ${commit.slice(0, 12)}: loading took longer than 1 ms (the content loader's time limit)`,
        }),
      ]);
    } finally {
      await loader.close();
    }
  });

  it('a version that needs more than the worker may hold fails alone: the resolver serves every other version', async () => {
    const dir = example();
    const v1 = git(dir, 'rev-parse', 'v1');
    const v2Before = git(dir, 'rev-parse', 'v2');
    const big = await commitTo(dir, 'v2', largeIntents(5));
    const live = new LiveSnapshot({
      git: await GitRepo.open(dir),
      controlBranch: 'main',
      logger: createLogger({ level: 'silent' }),
      pollMs: 0,
      loader: { memoryMb: 16 },
    });
    try {
      await live.start();
      const { snapshot, problems } = live.state;
      expect(snapshot?.environments.get('production')).toMatchObject({ status: 'ok', content: { commit: v1 } });
      expect(snapshot?.versions.get('v1')).toMatchObject({ status: 'ok' });
      // v2 serves its last good commit; /readyz names the commit and the limit.
      expect(snapshot?.versions.get('v2')).toMatchObject({ status: 'last-good', content: { commit: v2Before } });
      expect(problems).toEqual([
        expect.objectContaining({ scope: 'version', name: 'v2', commit: big, serving: v2Before }),
      ]);
      expect(problems[0]!.errors[0]!.message).toContain(
        "more than 16 MB of memory (the content loader's memory limit)",
      );
    } finally {
      live.stop();
    }
  });
});
