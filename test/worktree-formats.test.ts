import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, TEST_ENV, botver, git, newBotRepo, ok, refsSnapshot } from './helpers.js';

// The checked-out control branch under the index formats git users meet (index version 4 from
// feature.manyFiles, a split index, a sparse index): botver either updates them or refuses
// BEFORE anything changes, naming the format and the git command that converts it — never a
// false "local changes". And the temporary files of its atomic writes live under the git
// directory: a writer killed mid-write leaves nothing in the work tree.

/** Everything a refused command must leave as it was, as native git sees it. */
function state(dir: string) {
  return {
    refs: refsSnapshot(dir),
    index: createHash('sha256')
      .update(readFileSync(join(dir, '.git', 'index')))
      .digest('hex'),
    status: git(dir, 'status', '--porcelain', '--ignored'),
    manifest: readFileSync(join(dir, 'environments.yaml'), 'utf8'),
    reflog: git(dir, 'reflog', 'main'),
    files: git(dir, 'ls-files'),
  };
}

async function repoWithTwoVersions() {
  const { dir } = await newBotRepo();
  await ok(dir, 'version', 'create', 'v2', '--from', 'v1');
  expect(git(dir, 'status', '--porcelain')).toBe('');
  return dir;
}

describe('index formats of the checked-out control branch', () => {
  const cases = [
    {
      name: 'split index',
      format: 'a split index',
      make: (dir: string) => git(dir, 'update-index', '--split-index'),
      fix: ['update-index', '--no-split-index'],
    },
    {
      name: 'split index in version 4',
      format: 'a split index',
      make: (dir: string) => {
        git(dir, 'update-index', '--index-version', '4');
        git(dir, 'update-index', '--split-index');
      },
      fix: ['update-index', '--no-split-index'],
    },
    {
      name: 'sparse index',
      format: 'a sparse index',
      make: (dir: string) => {
        mkdirSync(join(dir, 'docs'));
        writeFileSync(join(dir, 'docs', 'notes.md'), 'notes\n');
        git(dir, 'add', 'docs');
        git(dir, 'commit', '-q', '-m', 'docs');
        git(dir, 'sparse-checkout', 'init', '--cone', '--sparse-index');
        git(dir, 'sparse-checkout', 'set', 'nothing-here');
      },
      fix: ['sparse-checkout', 'init', '--no-sparse-index'], // a full index, the same sparse checkout
    },
  ];

  it.each(cases)(
    '$name: refused before anything changes, with the fix; after the fix botver works',
    async ({ format, make, fix }) => {
      const dir = await repoWithTwoVersions();
      make(dir);
      const before = state(dir);
      const r = await botver(dir, 'env', 'set', 'production', 'v2');
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`is ${format}, which botver cannot update; nothing was changed`);
      expect(r.stderr).toContain(`"git ${fix.join(' ')}"`);
      expect(r.stderr).not.toContain('local changes');
      expect(state(dir)).toEqual(before);
      expect(existsSync(join(dir, '.git', 'index.lock'))).toBe(false);

      git(dir, ...fix);
      await ok(dir, 'env', 'set', 'production', 'v2');
      expect(git(dir, 'status', '--porcelain')).toBe('');
      expect(git(dir, 'ls-files')).toBe(before.files); // files outside a sparse checkout stay in the index
      expect(readFileSync(join(dir, 'environments.yaml'), 'utf8')).toContain('version: v2');
    },
  );

  it('version 4 (feature.manyFiles): updated in place and kept in version 4; a true local change still refuses', async () => {
    const dir = await repoWithTwoVersions();
    // Paths sharing prefixes, so that version 4 compresses them.
    for (const file of ['docs/a.md', 'docs/ab.md', 'docs/b/c.md', 'environments.yaml.notes', 'zz.md']) {
      mkdirSync(join(dir, file, '..'), { recursive: true });
      writeFileSync(join(dir, file), `${file}\n`);
    }
    git(dir, 'add', '.');
    git(dir, 'commit', '-q', '-m', 'notes');
    git(dir, 'config', 'feature.manyFiles', 'true');
    rmSync(join(dir, '.git', 'index'));
    git(dir, 'reset', '-q'); // a new index: version 4, as feature.manyFiles makes it
    const version = () => readFileSync(join(dir, '.git', 'index')).readUInt32BE(4);
    expect(version()).toBe(4);
    expect(git(dir, 'status', '--porcelain')).toBe('');

    await ok(dir, 'env', 'set', 'production', 'v2');
    expect(version()).toBe(4);
    expect(git(dir, 'status', '--porcelain')).toBe('');
    expect(git(dir, 'diff', '--cached', '--name-only')).toBe('');
    expect(git(dir, 'ls-files')).toBe(
      ['docs/a.md', 'docs/ab.md', 'docs/b/c.md', 'environments.yaml', 'environments.yaml.notes', 'zz.md'].join('\n'),
    );
    expect(readFileSync(join(dir, 'environments.yaml'), 'utf8')).toContain('version: v2');
    await ok(dir, 'env', 'create', 'staging', '--version', 'v1');
    expect(git(dir, 'status', '--porcelain')).toBe('');

    // Local changes, unstaged then staged, are still found (and nothing else is claimed).
    writeFileSync(join(dir, 'environments.yaml'), `${readFileSync(join(dir, 'environments.yaml'), 'utf8')}# mine\n`);
    const before = state(dir);
    for (const staged of [false, true]) {
      if (staged) git(dir, 'add', 'environments.yaml');
      const r = await botver(dir, 'env', 'set', 'production', 'v1');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('local changes to environments.yaml would be overwritten');
      if (!staged) expect(state(dir)).toEqual(before);
    }
    git(dir, 'reset', '-q', '--hard');
    await ok(dir, 'env', 'set', 'production', 'v1');
    expect(git(dir, 'status', '--porcelain')).toBe('');
    expect(version()).toBe(4);
  });

  it('version 3 and an index with optional extensions (tree cache, untracked cache) are updated as before', async () => {
    const dir = await repoWithTwoVersions();
    git(dir, 'update-index', '--index-version', '3');
    git(dir, 'update-index', '--untracked-cache');
    git(dir, 'status', '--porcelain'); // writes the untracked cache
    await ok(dir, 'env', 'set', 'production', 'v2');
    expect(git(dir, 'status', '--porcelain')).toBe('');
    expect(git(dir, 'diff', '--cached', '--name-only')).toBe('');
  });
});

describe('temporary files of atomic writes', () => {
  it('are never created in the work tree: writers killed when one appears leave nothing there', async () => {
    const dir = await repoWithTwoVersions();
    const tmpDir = join(dir, '.git', 'botver', 'tmp');
    mkdirSync(tmpDir, { recursive: true });
    const isTemp = (name: string | null): name is string => name !== null && /tmp/.test(name);
    for (const target of ['v2', 'v1']) {
      const child = spawn(process.execPath, [BIN, '--repo', dir, 'env', 'set', 'production', target], {
        env: { ...process.env, ...TEST_ENV },
        stdio: 'ignore',
      });
      // inotify reports every file created in the work tree, however briefly it lives.
      const inWorkTree: string[] = [];
      const kill = () => child.kill('SIGKILL');
      const watchers = [
        watch(dir, (_event, name) => {
          if (isTemp(name)) inWorkTree.push(name);
          if (isTemp(name)) kill();
        }),
        // SIGKILL at the moment a temporary file appears.
        watch(tmpDir, (_event, name) => isTemp(name) && kill()),
      ];
      await new Promise((resolve) => child.once('exit', resolve));
      for (const w of watchers) w.close();
      expect(inWorkTree).toEqual([]);
      expect(
        git(dir, 'status', '--porcelain', '--ignored')
          .split('\n')
          .filter((l) => /tmp/.test(l)),
      ).toEqual([]);
      // Killed between the ref update and the file write, the work tree lags: the documented recovery.
      rmSync(join(dir, '.git', 'index.lock'), { force: true });
      git(dir, 'reset', '-q', '--hard');
    }
  });

  it('those of writers that are gone are removed by the next write, under the git directory and in the work tree', async () => {
    const dir = await repoWithTwoVersions();
    const gitdir = join(dir, '.git');
    const tmpDir = join(gitdir, 'botver', 'tmp');
    mkdirSync(tmpDir, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // a pid that has exited
    const stale = [
      join(tmpDir, `${dead}-0badc0de-environments.yaml`),
      join(gitdir, `.index.tmp-${dead}-0badc0de`),
      join(dir, `.environments.yaml.tmp-${dead}-0badc0de`), // as botvers before this one left them
    ];
    // A live writer's file (its pid is running, the file is recent) is kept.
    const live = join(tmpDir, `${process.ppid}-0badc0de-environments.yaml`);
    for (const file of [...stale, live]) writeFileSync(file, 'partial');
    await ok(dir, 'env', 'set', 'production', 'v2');
    expect(stale.filter((file) => existsSync(file))).toEqual([]);
    expect(existsSync(live)).toBe(true);
    rmSync(live);
    expect(git(dir, 'status', '--porcelain', '--ignored')).toBe('');
  });
});
