import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { botver, git, manifestAt, newBotRepo, ok, refsSnapshot, tempDir } from './helpers.js';

// Bad input gets a one-line reason naming the file, line, version or environment at fault,
// and a refused command leaves every ref where it was.

async function withManifest(text: (current: string) => string) {
  const { dir } = await newBotRepo();
  writeFileSync(join(dir, 'environments.yaml'), text(manifestAt(dir)));
  git(dir, 'commit', '-q', '-am', 'hand edit');
  return dir;
}

async function expectRefused(dir: string, args: string[], message: RegExp, code = 1) {
  const before = refsSnapshot(dir);
  const r = await botver(dir, ...args);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
  expect(r.stderr.split('\n')[0]).toMatch(message);
  expect(refsSnapshot(dir)).toBe(before);
  return r;
}

describe('bad input', () => {
  it('malformed YAML in the manifest: every command names file and line', async () => {
    const dir = await withManifest((m) => m.replace('environments:\n', 'environments:\n  broken: [unclosed\n'));
    for (const args of [
      ['env', 'list'],
      ['env', 'set', 'production', 'v1'],
      ['version', 'create', 'v2', '--from', 'v1'],
    ]) {
      await expectRefused(dir, args, /^botver: environments\.yaml:\d+:\d+ YAML: /);
    }
    const v = await botver(dir, 'validate');
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/^main:environments\.yaml:1[3-5]:\d+ YAML: /m);
  });

  it('an unknown key in the manifest refuses mutations, pointing at its line', async () => {
    const dir = await withManifest((m) => m.replace('    version: v1\n', '    version: v1\n    verison: v2\n'));
    const line =
      manifestAt(dir)
        .split('\n')
        .findIndex((l) => l.includes('verison')) + 1;
    await expectRefused(
      dir,
      ['env', 'create', 'staging', '--version', 'v1'],
      new RegExp(`environments\\.yaml:${line}:5 environments\\.production: unknown key "verison"`),
    );
  });

  it('a manifest naming a missing version is reported with its line; a fix goes through', async () => {
    const dir = await withManifest((m) => m.replace('    version: v1\n', '    version: v3\n'));
    const line =
      manifestAt(dir)
        .split('\n')
        .findIndex((l) => l.includes('version: v3')) + 1;
    await expectRefused(
      dir,
      ['env', 'create', 'staging', '--version', 'v1'],
      new RegExp(
        `environments\\.yaml:${line}:\\d+ environment "production" is linked to version "v3", which is not declared`,
      ),
    );
    // The command that repairs the manifest is accepted.
    await ok(dir, 'env', 'set', 'production', 'v1');
  });

  it('too many versions declared by hand is refused', async () => {
    const dir = await withManifest((m) => m.replace('maxVersions: 5', 'maxVersions: 1'));
    await expectRefused(
      dir,
      ['version', 'create', 'v2', '--from', 'v1'],
      /1 versions exist, the limit is maxVersions = 1/,
    );
  });

  it('invalid names are usage errors (exit 2)', async () => {
    const { dir } = await newBotRepo();
    await expectRefused(dir, ['env', 'create', 'Prod!', '--version', 'v1'], /invalid environment name "Prod!"/, 2);
    await expectRefused(dir, ['env', 'create', '-x', '--version', 'v1'], /unknown option/, 2);
    await expectRefused(dir, ['channel', 'add', 'production', 'a..b'], /invalid channel name "a\.\.b"/, 2);
    await expectRefused(dir, ['version', 'create', 'x'.repeat(64), '--from', 'v1'], /invalid version name/, 2);
  });

  it('a missing repository, a folder without one, an uninitialised one', async () => {
    const nowhere = join(tempDir(), 'does-not-exist');
    let r = await botver(nowhere, 'env', 'list');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`botver: ${nowhere} is not a git repository (run "botver init" there, or pass --repo)\n`);
    const plain = tempDir();
    r = await botver(plain, 'version', 'list');
    expect(r.stderr).toContain('is not a git repository');
    git(plain, 'init', '-q', '-b', 'main');
    r = await botver(plain, 'env', 'list');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('versioning is not turned on: branch main has no environments.yaml');
  });

  it('usage errors exit 2; --json errors are one parseable document', async () => {
    const { dir } = await newBotRepo();
    expect((await botver(dir, 'frobnicate')).code).toBe(2);
    expect((await botver(dir, 'env', 'set', 'production')).code).toBe(2);
    expect((await botver(dir, 'history', 'production', '-n', 'zero')).code).toBe(2);
    const r = await botver(dir, 'env', 'show', 'nope', '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      error: { code: 'NOT_FOUND', message: 'environment "nope" does not exist', kind: 'environment', name: 'nope' },
    });
    const help = await botver(null, 'env', 'set', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
  });

  it('every command has --help with examples or a description', async () => {
    const commands = [
      ['init'],
      ['version', 'create'],
      ['env', 'set'],
      ['env', 'create'],
      ['promote'],
      ['history'],
      ['rollback'],
      ['token', 'rotate'],
      ['channel', 'add'],
      ['validate'],
      ['diff'],
    ];
    for (const c of commands) {
      const r = await botver(null, ...c, '--help');
      expect(r.code, c.join(' ')).toBe(0);
      expect(r.stdout, c.join(' ')).toContain('Examples:');
    }
  });

  it('a control branch name that would leave refs/heads/ is refused', async () => {
    const dir = tempDir();
    const r = await botver(dir, '--control-branch', '../../../evil', 'init');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid control branch name "../../../evil"');
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('commitFiles refuses paths that would corrupt a tree or make it unreadable', async () => {
    const { dir } = await newBotRepo();
    const { openBotRepo } = await import('../src/ops/bot-repo.js');
    const { commitFiles } = await import('../src/ops/content-commit.js');
    const repo = await openBotRepo({ repo: dir });
    const before = refsSnapshot(dir);
    for (const path of ['a\u0000b.yaml', 'x\\y.yaml', 'skills/../x.yaml', '.git/config']) {
      await expect(commitFiles(repo, 'v1', { [path]: 'x: 1\n' }, 'bad')).rejects.toMatchObject({ code: 'USAGE' });
    }
    expect(refsSnapshot(dir)).toBe(before);
  });
});

describe('--json and a usage error', () => {
  it('prints a usage error as one JSON document too', async () => {
    const { dir } = await newBotRepo();
    const r = await botver(dir, '--json', 'env', 'set', 'production');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({
      error: { code: 'USAGE', message: expect.stringContaining('missing the version to link it to (<version>)') },
    });
  });
});

describe('commitFiles: files and folders at one path', () => {
  it('refuses a file where a folder is, a folder where a file is, and both in one change, changing nothing', async () => {
    const { openBotRepo } = await import('../src/ops/bot-repo.js');
    const { commitFiles } = await import('../src/ops/content-commit.js');
    const { dir } = await newBotRepo();
    const repo = await openBotRepo({ repo: dir });
    const before = refsSnapshot(dir);
    await expect(commitFiles(repo, 'v1', { skills: 'not a folder' }, 'x')).rejects.toThrow(
      'cannot commit "skills" on v1: it is a folder there',
    );
    await expect(commitFiles(repo, 'v1', { 'skills/greetings.yaml/inner.yaml': 'x' }, 'x')).rejects.toThrow(
      '"skills/greetings.yaml" is a file there',
    );
    await expect(commitFiles(repo, 'v1', { 'a/b': 'x', 'a/b/c': 'y' }, 'x')).rejects.toThrow(
      'cannot commit both "a/b" and "a/b/c"',
    );
    expect(refsSnapshot(dir)).toBe(before);
    // Replacing a file by a folder in one change (deleting the file) is fine.
    await commitFiles(repo, 'v1', { 'skills/greetings.yaml': null, 'skills/greetings.yaml.d/x.yaml': 'y' }, 'ok');
  });
});
