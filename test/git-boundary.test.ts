import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RefMovedError } from '../src/errors.js';
import { GitRepo } from '../src/git/repo.js';
import { openBotRepo } from '../src/ops/bot-repo.js';
import { commitFiles } from '../src/ops/content-commit.js';
import { expectFsckClean, git, newBotRepo, ROOT, tempDir } from './helpers.js';

// The one Git boundary (src/git/repo.ts): what init, versions and the resolver used to do by
// hand through isomorphic-git or git/refs.ts, each checked against native git.

/** A repository made by native git: main with one commit, a branch, a lightweight and an annotated tag. */
function nativeRepo(): { dir: string; c1: string; c2: string } {
  const dir = tempDir('botver-boundary-');
  git(dir, 'init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'a.txt'), 'one\n');
  git(dir, 'add', 'a.txt');
  git(dir, 'commit', '-q', '-m', 'one');
  const c1 = git(dir, 'rev-parse', 'HEAD');
  writeFileSync(join(dir, 'a.txt'), 'two\n');
  git(dir, 'commit', '-q', '-am', 'two');
  const c2 = git(dir, 'rev-parse', 'HEAD');
  git(dir, 'branch', 'release', c1);
  git(dir, 'tag', 'light', c1);
  git(dir, 'tag', '-a', '-m', 'annotated', 'v1.0', c2);
  return { dir, c1, c2 };
}

/** `git for-each-ref` under a prefix, as the Map GitRepo.listRefs returns. */
function nativeRefs(dir: string, prefix: string): Map<string, string> {
  const out = git(dir, 'for-each-ref', '--format=%(refname) %(objectname)', prefix);
  return new Map(
    out
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ') as [string, string]),
  );
}

describe('GitRepo.init and GitRepo.at', () => {
  it('creates a work tree repository native git accepts, with HEAD on the given branch', async () => {
    const dir = join(tempDir(), 'new', 'bot');
    const repo = await GitRepo.init(dir, { defaultBranch: 'control' });
    expect(repo.bare).toBe(false);
    expect(git(dir, 'rev-parse', '--is-bare-repository')).toBe('false');
    expect(git(dir, 'symbolic-ref', 'HEAD')).toBe('refs/heads/control');
    expect(await repo.headTarget()).toBe('refs/heads/control');
    expect(await repo.branches()).toEqual(new Map());
    expectFsckClean(dir);
  });

  it('creates a bare repository', async () => {
    const dir = join(tempDir(), 'bot.git');
    const repo = await GitRepo.init(dir, { bare: true, defaultBranch: 'main' });
    expect(repo.bare).toBe(true);
    expect(repo.gitdir).toBe(dir);
    expect(git(dir, 'rev-parse', '--is-bare-repository')).toBe('true');
    expect(git(dir, 'symbolic-ref', 'HEAD')).toBe('refs/heads/main');
  });

  it('finds a repository exactly at a path, never in a folder above it', async () => {
    const { dir } = nativeRepo();
    expect((await GitRepo.at(dir))?.gitdir).toBe(join(dir, '.git'));
    mkdirSync(join(dir, 'sub'));
    expect(await GitRepo.at(join(dir, 'sub'))).toBeNull();
    expect(await GitRepo.at(tempDir())).toBeNull();
  });
});

describe('GitRepo refs', () => {
  it('readRef and listRefs agree with git for-each-ref, loose and packed', async () => {
    const { dir, c1, c2 } = nativeRepo();
    const repo = await GitRepo.open(dir);
    for (const prefix of ['refs/heads/', 'refs/tags/', 'refs/']) {
      expect(await repo.listRefs(prefix), prefix).toEqual(nativeRefs(dir, prefix));
    }
    expect(await repo.readRef('refs/heads/main')).toBe(c2);
    expect(await repo.readRef('refs/heads/release')).toBe(c1);
    expect(await repo.readRef('refs/heads/nothing')).toBeNull();

    git(dir, 'pack-refs', '--all');
    expect(existsSync(join(dir, '.git', 'refs', 'heads', 'release'))).toBe(false);
    for (const prefix of ['refs/heads/', 'refs/tags/']) {
      expect(await repo.listRefs(prefix), prefix).toEqual(nativeRefs(dir, prefix));
    }
    expect(await repo.readRef('refs/heads/release')).toBe(c1);
    expect(await repo.readRef('refs/tags/v1.0')).toBe(git(dir, 'rev-parse', 'refs/tags/v1.0'));
  });

  it('headTarget and setHead agree with git symbolic-ref; a detached HEAD has no target', async () => {
    const { dir, c1 } = nativeRepo();
    const repo = await GitRepo.open(dir);
    expect(await repo.headTarget()).toBe(git(dir, 'symbolic-ref', 'HEAD'));

    await repo.setHead('release');
    expect(git(dir, 'symbolic-ref', 'HEAD')).toBe('refs/heads/release');
    expect(await repo.headTarget()).toBe('refs/heads/release');
    expect(existsSync(join(dir, '.git', 'HEAD.lock'))).toBe(false);

    git(dir, 'checkout', '-q', '--detach', c1);
    expect(await repo.headTarget()).toBeNull();
    expectFsckClean(dir);
  });

  it('deleteBranch removes the branch (loose and packed) with its reflog, only from the expected commit', async () => {
    const { dir, c1, c2 } = nativeRepo();
    git(dir, 'branch', 'topic', c2);
    git(dir, 'branch', 'packed', c1);
    git(dir, 'pack-refs', '--all');
    git(dir, 'branch', '-f', 'topic', c1); // topic loose again, and in packed-refs
    const repo = await GitRepo.open(dir);
    expect(git(dir, 'reflog', 'exists', 'refs/heads/topic')).toBe('');

    await expect(repo.deleteBranch('topic', c2)).rejects.toBeInstanceOf(RefMovedError);
    expect(git(dir, 'rev-parse', 'topic')).toBe(c1);

    await repo.deleteBranch('topic', c1);
    await repo.deleteBranch('packed', c1);
    expect(git(dir, 'branch', '--list', 'topic', 'packed')).toBe('');
    expect(existsSync(join(dir, '.git', 'logs', 'refs', 'heads', 'topic'))).toBe(false);
    expect(() => git(dir, 'reflog', 'exists', 'refs/heads/topic')).toThrow();
    expect(readFileSync(join(dir, '.git', 'packed-refs'), 'utf8')).not.toMatch(/refs\/heads\/(topic|packed)$/m);
    expectFsckClean(dir);
  });
});

describe('botver init through the boundary', () => {
  it('points the HEAD of a new bare repository at the control branch; a clone checks out the manifest', async () => {
    const { dir } = await newBotRepo({ bare: true });
    expect(git(dir, 'symbolic-ref', 'HEAD')).toBe('refs/heads/main');
    const clone = join(tempDir(), 'clone');
    git(ROOT, 'clone', '-q', dir, clone);
    expect(readdirSync(clone)).toContain('environments.yaml');
  });

  it('leaves HEAD of an existing bare repository alone when it names a branch that exists', async () => {
    const dir = join(tempDir(), 'bot.git');
    git(tempDir(), 'init', '-q', '--bare', '-b', 'trunk', dir);
    const work = tempDir();
    git(work, 'init', '-q', '-b', 'trunk');
    git(work, 'commit', '-q', '--allow-empty', '-m', 'start');
    git(work, 'push', '-q', dir, 'trunk');
    const { initBotRepo } = await import('../src/ops/init.js');
    await initBotRepo({ repo: dir, bot: 'b' });
    expect(git(dir, 'symbolic-ref', 'HEAD')).toBe('refs/heads/trunk');
    expect(git(dir, 'show', 'main:environments.yaml')).toContain('bot: b');
  });
});

describe('warnings are returned, not printed', () => {
  it('a commit whose work tree cannot follow lands and says so in result.warnings', async () => {
    const { dir } = await newBotRepo();
    const repo = await openBotRepo({ repo: dir });
    git(dir, 'checkout', '-q', 'v1');
    // An untracked file where the commit needs a folder: the commit lands, the files cannot follow.
    writeFileSync(join(dir, 'notes'), 'in the way\n');
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => written.push(String(chunk)) > 0) as typeof process.stderr.write;
    let result: Awaited<ReturnType<typeof commitFiles>>;
    try {
      result = await commitFiles(repo, 'v1', { 'notes/a.txt': 'hello\n' }, 'add a note');
    } finally {
      process.stderr.write = write;
    }
    expect(written).toEqual([]);
    expect(result.commit).toBe(git(dir, 'rev-parse', 'v1'));
    expect(git(dir, 'show', 'v1:notes/a.txt')).toBe('hello');
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings![0]).toMatch(
      /^refs\/heads\/v1 was updated, but the work tree could not follow \(.+\); run "git reset --hard"/,
    );

    // Once the way is clear, a commit whose work tree follows has no warnings field at all.
    rmSync(join(dir, 'notes'));
    git(dir, 'reset', '-q', '--hard');
    const clean = await commitFiles(repo, 'v1', { 'other.txt': 'x\n' }, 'another');
    expect(clean).not.toHaveProperty('warnings');
    expect(readFileSync(join(dir, 'other.txt'), 'utf8')).toBe('x\n');
    expect(git(dir, 'status', '--porcelain')).toBe('');
  });
});
