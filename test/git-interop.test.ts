import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { botver, expectFsckClean, git, manifestAt, newBotRepo, ok, refsSnapshot, tempDir } from './helpers.js';

// botver and native git on the same repositories: each sees the other's commits, and a
// checked-out control branch stays in step like after a fast-forward.

describe('checked-out control branch', () => {
  it('work tree and index follow botver commits, so git status stays clean', async () => {
    const { dir } = await newBotRepo();
    await ok(dir, 'version', 'create', 'v2', '--from', 'v1');
    await ok(dir, 'env', 'set', 'production', 'v2');
    expect(readFileSync(join(dir, 'environments.yaml'), 'utf8')).toBe(manifestAt(dir));
    expect(git(dir, 'status', '--porcelain')).toBe('');
    expect(git(dir, 'diff', '--cached', '--name-only')).toBe('');
    // The reflog records botver's update like any other.
    expect(git(dir, 'reflog', '-1', '--format=%gs', 'main')).toBe('botver: link production to v2 (was v1)');
  });

  it('refuses, changing nothing, when environments.yaml has local modifications', async () => {
    const { dir } = await newBotRepo();
    appendFileSync(join(dir, 'environments.yaml'), '# my local note\n');
    const before = refsSnapshot(dir);
    const r = await botver(dir, 'env', 'create', 'staging', '--version', 'v1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('local changes to environments.yaml would be overwritten');
    expect(refsSnapshot(dir)).toBe(before);
    expect(readFileSync(join(dir, 'environments.yaml'), 'utf8')).toMatch(/# my local note\n$/);
    // Staged changes count too.
    git(dir, 'add', 'environments.yaml');
    expect((await botver(dir, 'env', 'create', 'staging', '--version', 'v1')).code).toBe(1);
    expect(refsSnapshot(dir)).toBe(before);
    git(dir, 'reset', '-q', '--hard');
    await ok(dir, 'env', 'create', 'staging', '--version', 'v1');
  });

  it('local changes to other files do not block and are kept', async () => {
    const { dir } = await newBotRepo();
    writeFileSync(join(dir, 'notes.txt'), 'untracked\n');
    await ok(dir, 'env', 'create', 'staging', '--version', 'v1');
    expect(git(dir, 'status', '--porcelain')).toBe('?? notes.txt');
  });

  it('a version branch checked out in the work tree follows botver writes to it', async () => {
    const { dir } = await newBotRepo();
    git(dir, 'checkout', '-q', 'v1');
    await ok(dir, 'version', 'create', 'v2', '--from', 'v1');
    expect(git(dir, 'status', '--porcelain')).toBe('');
    expect(git(dir, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('v1');
    // Deleting the checked-out version is refused.
    await ok(dir, 'env', 'create', 'other', '--version', 'v2');
    await ok(dir, 'env', 'set', 'production', 'v2');
    const before = refsSnapshot(dir);
    const r = await botver(dir, 'version', 'delete', 'v1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('branch v1 is checked out');
    // Refused before anything changed: the manifest still declares v1, the branch is there.
    expect(refsSnapshot(dir)).toBe(before);
    expect(manifestAt(dir)).toMatch(/^ {2}v1:$/m);
  });
});

describe('native git', () => {
  it('a promotion merged as a pull request with native git is seen by botver', async () => {
    const { dir: origin } = await newBotRepo({ bare: true });
    await ok(origin, 'version', 'create', 'v2', '--from', 'v1');
    const work = tempDir();
    git(work, 'clone', '-q', origin, '.');
    git(work, 'checkout', '-q', '-b', 'promote-v2');
    const text = readFileSync(join(work, 'environments.yaml'), 'utf8').replace(/(production:\n\s+version: )v1/, '$1v2');
    writeFileSync(join(work, 'environments.yaml'), text);
    git(work, 'commit', '-q', '-am', 'Promote v2 to production');
    git(work, 'checkout', '-q', 'main');
    git(work, 'merge', '-q', '--no-ff', '-m', 'Merge pull request #7 from promote-v2', 'promote-v2');
    git(work, 'push', '-q', 'origin', 'main');

    const envs = await ok(origin, 'env', 'list', '--json');
    expect(envs.find((e: { name: string }) => e.name === 'production').version).toBe('v2');
    const [latest] = await ok(origin, 'history', 'production', '--json');
    expect(latest).toMatchObject({
      from: { version: 'v1' },
      to: { version: 'v2' },
      message: 'Merge pull request #7 from promote-v2',
    });
    expect(latest.commit).toBe(git(origin, 'rev-parse', 'main'));
    // And botver's next commit builds on the merge.
    await ok(origin, 'rollback', 'production');
    expect(git(origin, 'rev-parse', 'main~1')).toBe(latest.commit);
    expect(parse(manifestAt(origin)).environments.production.version).toBe('v1');
    expectFsckClean(origin);
  });

  it('botver commits are ordinary commits: git log, git show and a clone see them', async () => {
    const { dir } = await newBotRepo({ bare: true });
    await ok(dir, '--author', 'Rel Eng <releng@example.com>', 'env', 'create', 'staging', '--version', 'v1');
    expect(git(dir, 'log', '-1', '--format=%an <%ae>%n%cn <%ce>%n%s', 'main')).toBe(
      'Rel Eng <releng@example.com>\nTest Committer <committer@example.com>\ncreate environment staging linked to v1',
    );
    expect(git(dir, 'show', '--stat', '--format=', 'main')).toMatch(/environments\.yaml \| 3 \+\+\+/);
    const clone = tempDir();
    git(clone, 'clone', '-q', dir, '.');
    expect(readFileSync(join(clone, 'environments.yaml'), 'utf8')).toBe(manifestAt(dir));
    expect(
      git(clone, 'branch', '-r')
        .split('\n')
        .map((s) => s.trim()),
    ).toEqual(['origin/HEAD -> origin/main', 'origin/main', 'origin/v1']);
  });

  it('reads refs from packed-refs after git gc, and honours GIT_AUTHOR_DATE', async () => {
    const { dir } = await newBotRepo({ bare: true });
    await ok(dir, 'version', 'create', 'v2', '--from', 'v1');
    git(dir, 'gc', '-q');
    expect(readFileSync(join(dir, 'packed-refs'), 'utf8')).toContain('refs/heads/main');
    const before = git(dir, 'rev-parse', 'main');
    process.env.GIT_AUTHOR_DATE = '@1700000000 +0100';
    try {
      await ok(dir, 'env', 'set', 'production', 'v2');
    } finally {
      delete process.env.GIT_AUTHOR_DATE;
    }
    expect(git(dir, 'rev-parse', 'main~1')).toBe(before);
    expect(git(dir, 'log', '-1', '--format=%ad', '--date=raw', 'main')).toBe('1700000000 +0100');
    expect((await ok(dir, 'version', 'list', '--json')).map((v: { head: string }) => v.head)).toEqual([
      git(dir, 'rev-parse', 'v1'),
      git(dir, 'rev-parse', 'v2'),
    ]);
    expectFsckClean(dir);
  });

  it('finds the repository from a subfolder, like git', async () => {
    const { dir } = await newBotRepo();
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'docs', 'deep'), { recursive: true });
    const list = await ok(join(dir, 'docs', 'deep'), 'env', 'list', '--json');
    expect(list[0].name).toBe('production');
  });

  it('validate works in a fresh clone (pull-request CI), from the remote-tracking branches', async () => {
    const { dir: origin } = await newBotRepo({ bare: true });
    await ok(origin, 'version', 'create', 'v2', '--from', 'v1');
    const clone = tempDir();
    git(clone, 'clone', '-q', origin, '.');
    expect(git(clone, 'branch', '--list', 'v1')).toBe('');
    const r = await botver(clone, 'validate');
    expect(r.stdout).toMatch(/^0 errors, 0 warnings in main \(manifest at [0-9a-f]{7}\), v1 \(version/m);
    expect(r.code).toBe(0);
  });

  it('a manifest rule error does not stop validate from checking the versions', async () => {
    const { dir } = await newBotRepo();
    writeFileSync(join(dir, 'environments.yaml'), manifestAt(dir).replace('    version: v1\n', '    version: v7\n'));
    git(dir, 'commit', '-q', '-am', 'broken link');
    const r = await botver(dir, 'validate');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('which is not declared under versions');
    expect(r.stdout).toMatch(/in main \(manifest at [0-9a-f]{7}\), v1 \(version at/);
  });
});

describe('init on an empty bare repository made by git', () => {
  it('points HEAD at the control branch, so that a clone checks out the manifest', async () => {
    const bare = tempDir();
    git(bare, '-c', 'init.defaultBranch=master', 'init', '-q', '--bare');
    await ok(bare, 'init', '--bot', 'b');
    expect(git(bare, 'symbolic-ref', 'HEAD')).toBe('refs/heads/main');
    const clone = join(tempDir(), 'clone');
    git(bare, 'clone', '-q', bare, clone);
    expect(git(clone, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('main');
    expect(git(clone, 'ls-files')).toBe('environments.yaml');
  });
});

describe('a branch checked out in another work tree', () => {
  it('is not moved under it: the command is refused, changing nothing', async () => {
    const { dir } = await newBotRepo();
    git(dir, 'checkout', '-q', '--detach'); // the main work tree leaves main...
    const linked = join(tempDir(), 'linked');
    git(dir, 'worktree', 'add', '-q', linked, 'main'); // ...which a linked work tree checks out
    const before = refsSnapshot(dir);
    const r = await botver(dir, 'env', 'create', 'staging', '--version', 'v1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`branch main is checked out in the work tree ${linked}`);
    expect(refsSnapshot(dir)).toBe(before);
    expect(git(linked, 'status', '--porcelain')).toBe('');
  });
});
