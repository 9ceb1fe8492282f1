import { describe, expect, it } from 'vitest';
import { openBotRepo } from '../src/ops/bot-repo.js';
import { commitFiles } from '../src/ops/content-commit.js';
import { git, newBotRepo } from './helpers.js';

// Who and when a commit is by (src/git/identity.ts through BotRepo.sign): names resolved once
// per BotRepo, the time taken for every commit, the environment only as the caller passes it.

/** Resolves once the wall clock shows a later whole second than `afterSeconds`. */
async function nextSecond(afterSeconds: number): Promise<void> {
  while (Math.floor(Date.now() / 1000) <= afterSeconds) {
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 1));
  }
}

/** "%at %ct" of the last `n` commits of `ref`, oldest first. */
function times(dir: string, ref: string, n: number): { author: number; committer: number }[] {
  return git(dir, 'log', `-${n}`, '--format=%at %ct', ref)
    .split('\n')
    .reverse()
    .map((line) => {
      const [author, committer] = line.split(' ').map(Number);
      return { author: author!, committer: committer! };
    });
}

describe('BotRepo.sign', () => {
  it('gives each commit of a long-lived BotRepo its own time (regression: the first commit’s time was reused)', async () => {
    const { dir } = await newBotRepo();
    const repo = await openBotRepo({ repo: dir, env: {} });

    await commitFiles(repo, 'v1', { 'one.txt': '1\n' }, 'first');
    const [first] = times(dir, 'v1', 1);
    await nextSecond(first!.committer);
    await commitFiles(repo, 'v1', { 'two.txt': '2\n' }, 'second');

    const [a, b] = times(dir, 'v1', 2);
    expect(b!.author).toBeGreaterThan(a!.author);
    expect(b!.committer).toBeGreaterThan(a!.committer);
  });

  it('still honours GIT_AUTHOR_DATE and GIT_COMMITTER_DATE from the env it is given, on every commit', async () => {
    const { dir } = await newBotRepo();
    const env = { GIT_AUTHOR_DATE: '@1700000000 +0100', GIT_COMMITTER_DATE: '1700000600 -0200' };
    const repo = await openBotRepo({ repo: dir, env });
    await commitFiles(repo, 'v1', { 'one.txt': '1\n' }, 'first');
    await commitFiles(repo, 'v1', { 'two.txt': '2\n' }, 'second');
    expect(git(dir, 'log', '-2', '--format=%at %ai|%ct %ci', 'v1').split('\n')).toEqual([
      '1700000000 2023-11-14 23:13:20 +0100|1700000600 2023-11-14 20:23:20 -0200',
      '1700000000 2023-11-14 23:13:20 +0100|1700000600 2023-11-14 20:23:20 -0200',
    ]);
  });

  it('takes names from the env it is given, and from the git config only when it is given none', async () => {
    const { dir } = await newBotRepo();
    git(dir, 'config', 'user.name', 'Config Person');
    git(dir, 'config', 'user.email', 'config@example.com');
    // process.env holds the test identity (helpers.ts); a library caller who passes no env does not get it.
    expect(process.env.GIT_AUTHOR_NAME).toBe('Test Author');

    const quiet = await openBotRepo({ repo: dir });
    await commitFiles(quiet, 'v1', { 'a.txt': 'a\n' }, 'no env');
    expect(git(dir, 'log', '-1', '--format=%an <%ae>|%cn <%ce>', 'v1')).toBe(
      'Config Person <config@example.com>|Config Person <config@example.com>',
    );

    const given = await openBotRepo({
      repo: dir,
      env: { GIT_AUTHOR_NAME: 'Env Author', GIT_AUTHOR_EMAIL: 'env@example.com' },
    });
    await commitFiles(given, 'v1', { 'b.txt': 'b\n' }, 'with env');
    expect(git(dir, 'log', '-1', '--format=%an <%ae>|%cn <%ce>', 'v1')).toBe(
      'Env Author <env@example.com>|Env Author <env@example.com>',
    );

    const flagged = await openBotRepo({ repo: dir, author: 'Flag Person <flag@example.com>', env: {} });
    await commitFiles(flagged, 'v1', { 'c.txt': 'c\n' }, 'with --author');
    expect(git(dir, 'log', '-1', '--format=%an <%ae>|%cn <%ce>', 'v1')).toBe(
      'Flag Person <flag@example.com>|Config Person <config@example.com>',
    );
  });
});
