import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { sha256Hex } from '../src/model/tokens.js';
import { botver, expectFsckClean, git, manifestAt, newBotRepo, ok, refsSnapshot, tempDir } from './helpers.js';

const TOKEN = /^bvt_[A-Za-z0-9_-]{43}$/;

describe('botver init', () => {
  it('creates the repository, v1 with starter content, production -> v1, and prints both tokens once', async () => {
    const dir = tempDir();
    const r = await ok(dir, 'init', '--bot', 'awesome-bot', '--json');
    expect(r.createdRepository).toBe(true);
    expect(r.version.token).toMatch(TOKEN);
    expect(r.environment.token).toMatch(TOKEN);
    const manifest = parse(manifestAt(dir));
    expect(manifest).toMatchObject({ apiVersion: 'botver/v1', bot: 'awesome-bot', language: 'en', maxVersions: 5 });
    expect(manifest.versions.v1.tokenSha256).toBe(sha256Hex(r.version.token));
    expect(manifest.environments.production).toEqual({ version: 'v1', tokenSha256: sha256Hex(r.environment.token) });
    // Only hashes are stored: the tokens appear in no file of any branch.
    for (const ref of ['main', 'v1']) {
      const files = git(dir, 'ls-tree', '-r', '--name-only', ref).split('\n');
      for (const file of files) {
        const text = git(dir, 'show', `${ref}:${file}`);
        expect(text).not.toContain(r.version.token);
        expect(text).not.toContain(r.environment.token);
      }
    }
    expect(git(dir, 'ls-tree', '-r', '--name-only', 'v1').split('\n').sort()).toEqual([
      'skills/fallback.yaml',
      'skills/greetings.yaml',
      'training/intents/greetings.yaml',
    ]);
    expect(git(dir, 'status', '--porcelain')).toBe('');
    expect(git(dir, 'log', '--format=%an <%ae>|%s', 'main')).toBe(
      'Test Author <author@example.com>|turn on versioning: version v1, environment production -> v1',
    );
    expectFsckClean(dir);
    expect((await ok(dir, 'validate')).trim()).toMatch(/^0 errors, 0 warnings/);
  });

  it('works on a bare repository and with --empty', async () => {
    const dir = tempDir();
    await ok(dir, 'init', '--bare', '--empty');
    expect(git(dir, 'rev-parse', '--is-bare-repository')).toBe('true');
    expect(git(dir, 'ls-tree', '-r', 'v1')).toBe('');
    expectFsckClean(dir);
  });

  it('adds the manifest on top of an existing history and refuses a second init', async () => {
    const dir = tempDir();
    git(dir, 'init', '-q', '-b', 'main');
    git(dir, 'commit', '-q', '--allow-empty', '-m', 'existing');
    await ok(dir, 'init');
    expect(git(dir, 'log', '--format=%s', 'main').split('\n')).toEqual([
      'turn on versioning: version v1, environment production -> v1',
      'existing',
    ]);
    const before = refsSnapshot(dir);
    const again = await botver(dir, 'init');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already on/);
    expect(refsSnapshot(dir)).toBe(before);
  });

  it('refuses when a branch v1 exists, changing nothing', async () => {
    const dir = tempDir();
    git(dir, 'init', '-q', '-b', 'main');
    git(dir, 'commit', '-q', '--allow-empty', '-m', 'x');
    git(dir, 'branch', 'v1');
    const before = refsSnapshot(dir);
    const r = await botver(dir, 'init');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('branch v1 already exists');
    expect(refsSnapshot(dir)).toBe(before);
  });
});

describe('versions', () => {
  it('create copies the source head into a new branch and prints a token; list and show report it', async () => {
    const { dir } = await newBotRepo();
    const r = await ok(dir, 'version', 'create', 'v2', '--from', 'v1', '--description', 'Pizza', '--json');
    expect(r.token).toMatch(TOKEN);
    expect(git(dir, 'rev-parse', 'v2')).toBe(git(dir, 'rev-parse', 'v1'));
    expect(parse(manifestAt(dir)).versions.v2).toEqual({
      description: 'Pizza',
      createdFrom: 'v1',
      tokenSha256: sha256Hex(r.token),
    });
    expect(git(dir, 'log', '-1', '--format=%s', 'main')).toMatch(/^create version v2 from v1 \(at [0-9a-f]{7}\)$/);
    const list = await ok(dir, 'version', 'list', '--json');
    expect(list.map((v: { name: string }) => v.name)).toEqual(['v1', 'v2']);
    expect(list[0].environments).toEqual(['production']);
    const shown = await ok(dir, 'version', 'show', 'v2', '--json');
    expect(shown).toMatchObject({ name: 'v2', head: git(dir, 'rev-parse', 'v2'), environments: [], createdFrom: 'v1' });
    expect(await ok(dir, 'version', 'list')).toMatch(/VERSION\s+HEAD\s+ENVIRONMENTS/);
    expectFsckClean(dir);
  });

  it('versions are independent: a commit on v2 leaves v1 as it was', async () => {
    const { dir } = await newBotRepo();
    await ok(dir, 'version', 'create', 'v2', '--from', 'v1');
    const v1 = git(dir, 'rev-parse', 'v1');
    git(dir, 'checkout', '-q', 'v2');
    git(dir, 'rm', '-q', 'skills/greetings.yaml');
    git(dir, 'commit', '-q', '-m', 'drop greetings skill on v2');
    expect(git(dir, 'rev-parse', 'v1')).toBe(v1);
    expect(git(dir, 'ls-tree', '--name-only', 'v1', 'skills/')).toContain('skills/greetings.yaml');
  });

  it('refuses beyond maxVersions (5), an unknown source, a duplicate, and invalid names; nothing changes', async () => {
    const { dir } = await newBotRepo();
    for (const v of ['v2', 'v3', 'v4', 'v5']) await ok(dir, 'version', 'create', v, '--from', 'v1');
    const before = refsSnapshot(dir);
    const cases: [string[], number, RegExp][] = [
      [['version', 'create', 'v6', '--from', 'v1'], 1, /5 versions exist, the limit is maxVersions = 5/],
      [['version', 'create', 'v7', '--from', 'nope'], 1, /version "nope" does not exist/],
      [['version', 'create', 'v2', '--from', 'v1'], 1, /version "v2" already exists/],
      [['version', 'create', 'Bad_Name', '--from', 'v1'], 2, /invalid version name "Bad_Name"/],
      [['version', 'create', 'main', '--from', 'v1'], 2, /control branch/],
      [['version', 'create', 'v8'], 2, /required option '--from/],
    ];
    for (const [args, code, message] of cases) {
      const r = await botver(dir, ...args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr).toMatch(message);
    }
    expect(refsSnapshot(dir)).toBe(before);
  });

  it('maxVersions can be raised in the manifest', async () => {
    const { dir } = await newBotRepo();
    const text = manifestAt(dir).replace('maxVersions: 5', 'maxVersions: 6');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${dir}/environments.yaml`, text);
    git(dir, 'commit', '-q', '-am', 'allow six versions');
    for (const v of ['v2', 'v3', 'v4', 'v5', 'v6']) await ok(dir, 'version', 'create', v, '--from', 'v1');
    expect((await botver(dir, 'version', 'create', 'v7', '--from', 'v1')).stderr).toMatch(/maxVersions = 6/);
  });

  it('delete is refused while an environment is linked, then removes entry and branch', async () => {
    const { dir } = await newBotRepo();
    await ok(dir, 'version', 'create', 'v2', '--from', 'v1');
    await ok(dir, 'env', 'create', 'staging', '--version', 'v2');
    const before = refsSnapshot(dir);
    const refused = await botver(dir, 'version', 'delete', 'v2');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('cannot delete version "v2": environment staging is linked to it');
    expect(refsSnapshot(dir)).toBe(before);
    await ok(dir, 'env', 'set', 'staging', 'v1');
    const head = git(dir, 'rev-parse', 'v2');
    const r = await ok(dir, 'version', 'delete', 'v2');
    expect(r).toContain(`git branch v2 ${head}`);
    expect(parse(manifestAt(dir)).versions.v2).toBeUndefined();
    expect(git(dir, 'branch', '--list', 'v2')).toBe('');
    expect((await botver(dir, 'version', 'delete', 'v2')).stderr).toContain('version "v2" does not exist');
    expectFsckClean(dir);
  });
});

describe('environments', () => {
  it('create, show, set with --pin / --commit, delete; production cannot be deleted', async () => {
    const { dir } = await newBotRepo();
    await ok(dir, 'version', 'create', 'v2', '--from', 'v1');
    const created = await ok(dir, 'env', 'create', 'staging', '--version', 'v2', '--json');
    expect(created.token).toMatch(TOKEN);
    expect(parse(manifestAt(dir)).environments.staging).toEqual({
      version: 'v2',
      tokenSha256: sha256Hex(created.token),
    });

    const v2 = git(dir, 'rev-parse', 'v2');
    const set = await ok(dir, 'env', 'set', 'staging', 'v2', '--pin');
    expect(set).toMatch(/Linked staging to v2@[0-9a-f]{7} \(was v2\)/);
    expect(parse(manifestAt(dir)).environments.staging.commit).toBe(v2);
    expect(git(dir, 'log', '-1', '--format=%s', 'main')).toBe(`link staging to v2@${v2.slice(0, 7)} (was v2)`);

    const v1 = git(dir, 'rev-parse', 'v1');
    await ok(dir, 'env', 'set', 'staging', 'v1', '--commit', v1.slice(0, 8));
    expect(parse(manifestAt(dir)).environments.staging).toMatchObject({ version: 'v1', commit: v1 });
    const shown = await ok(dir, 'env', 'show', 'staging', '--json');
    expect(shown).toMatchObject({ name: 'staging', version: 'v1', commit: v1, resolvedCommit: v1 });

    // Unpinning removes the commit line.
    await ok(dir, 'env', 'set', 'staging', 'v2');
    expect(parse(manifestAt(dir)).environments.staging.commit).toBeUndefined();
    const again = await ok(dir, 'env', 'set', 'staging', 'v2');
    expect(again).toContain('already linked');

    const list = await ok(dir, 'env', 'list', '--json');
    expect(list.map((e: { name: string; resolvedCommit: string }) => [e.name, e.resolvedCommit])).toEqual([
      ['production', v1],
      ['staging', v2],
    ]);

    const before = refsSnapshot(dir);
    const prod = await botver(dir, 'env', 'delete', 'production');
    expect(prod.code).toBe(1);
    expect(prod.stderr).toContain('"production" cannot be deleted');
    expect(refsSnapshot(dir)).toBe(before);
    await ok(dir, 'env', 'delete', 'staging');
    expect(parse(manifestAt(dir)).environments.staging).toBeUndefined();
    expectFsckClean(dir);
  });

  it('refuses links to missing versions, pins outside the version, unknown environments', async () => {
    const { dir } = await newBotRepo();
    await ok(dir, 'version', 'create', 'v2', '--from', 'v1');
    // A commit that exists only on v2 cannot pin v1.
    git(dir, 'checkout', '-q', 'v2');
    git(dir, 'commit', '-q', '--allow-empty', '-m', 'only on v2');
    const onlyV2 = git(dir, 'rev-parse', 'HEAD');
    git(dir, 'checkout', '-q', 'main');
    const before = refsSnapshot(dir);
    const cases: [string[], RegExp][] = [
      [['env', 'set', 'production', 'v9'], /version "v9" does not exist/],
      [['env', 'set', 'nowhere', 'v1'], /environment "nowhere" does not exist/],
      [
        ['env', 'set', 'production', 'v1', '--commit', onlyV2],
        /pinned to [0-9a-f]{12}, which is not a commit of version "v1"/,
      ],
      [['env', 'set', 'production', 'v1', '--commit', 'deadbeef'], /ref "deadbeef" does not exist/],
      [['env', 'create', 'production', '--version', 'v1'], /environment "production" already exists/],
      [['env', 'create', 'qa', '--version', 'v7'], /version "v7" does not exist/],
    ];
    for (const [args, message] of cases) {
      const r = await botver(dir, ...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.split('\n')[0]).toMatch(message);
    }
    expect((await botver(dir, 'env', 'set', 'production', 'v1', '--pin', '--commit', 'abc')).code).toBe(2);
    expect(refsSnapshot(dir)).toBe(before);
  });

  it('a promotion commit is a one- or two-line diff that keeps comments and formatting', async () => {
    const { dir } = await newBotRepo();
    await ok(dir, 'version', 'create', 'v2', '--from', 'v1');
    const { writeFileSync } = await import('node:fs');
    // Hand-written formatting a re-render would change: comments and spacing.
    const text = manifestAt(dir)
      .replace('environments:\n', 'environments:   # who serves what\n')
      .replace(
        '  production:\n    version: v1\n',
        '  production:\n    # the live bot\n    version: v1     # keep in sync with the release notes\n',
      );
    writeFileSync(`${dir}/environments.yaml`, text);
    git(dir, 'commit', '-q', '-am', 'document the manifest');
    await ok(dir, 'env', 'set', 'production', 'v2');
    const diff = git(dir, 'diff', '--unified=0', 'HEAD~1', 'HEAD', '--', 'environments.yaml')
      .split('\n')
      .filter((l) => /^[+-][^+-]/.test(l));
    expect(diff).toEqual([
      '-    version: v1     # keep in sync with the release notes',
      '+    version: v2     # keep in sync with the release notes',
    ]);
    await ok(dir, 'env', 'set', 'production', 'v2', '--pin');
    const pinDiff = git(dir, 'diff', '--unified=0', 'HEAD~1', 'HEAD')
      .split('\n')
      .filter((l) => /^[+-][^+-]/.test(l));
    expect(pinDiff).toEqual([`+    commit: ${git(dir, 'rev-parse', 'v2')}`]);
    // The pin sits right under its version line.
    expect(manifestAt(dir)).toMatch(/version: v2 {5}# keep in sync with the release notes\n {4}commit: [0-9a-f]{40}\n/);
    expect(manifestAt(dir)).toContain('environments:   # who serves what');
  });
});

describe('promote, history, rollback', () => {
  it('promote pins the target to exactly what the source serves now', async () => {
    const { dir } = await newBotRepo();
    await ok(dir, 'version', 'create', 'v2', '--from', 'v1');
    await ok(dir, 'env', 'create', 'staging', '--version', 'v2');
    git(dir, 'checkout', '-q', 'v2');
    git(dir, 'commit', '-q', '--allow-empty', '-m', 'v2 work');
    git(dir, 'checkout', '-q', 'main');
    const served = git(dir, 'rev-parse', 'v2');
    const r = await ok(dir, 'promote', 'staging', 'production', '--json');
    expect(r.to).toEqual({ version: 'v2', commit: served });
    expect(parse(manifestAt(dir)).environments.production).toMatchObject({ version: 'v2', commit: served });
    expect(git(dir, 'log', '-1', '--format=%s')).toBe(
      `promote production to v2@${served.slice(0, 7)} (was v1), from staging`,
    );
    // Later commits on v2 reach staging (it follows the branch) but not production (pinned).
    git(dir, 'checkout', '-q', 'v2');
    git(dir, 'commit', '-q', '--allow-empty', '-m', 'more v2 work');
    git(dir, 'checkout', '-q', 'main');
    const envs = await ok(dir, 'env', 'list', '--json');
    expect(envs.find((e: { name: string }) => e.name === 'production').resolvedCommit).toBe(served);
    expect(envs.find((e: { name: string }) => e.name === 'staging').resolvedCommit).toBe(git(dir, 'rev-parse', 'v2'));
    // Commits can be named the way git names them, relative to a branch.
    await ok(dir, 'env', 'set', 'production', 'v2', '--commit', 'v2~1');
    expect(parse(manifestAt(dir)).environments.production.commit).toBe(served);
    // A version can be the source too: its head.
    await ok(dir, 'promote', 'v1', 'staging');
    expect(parse(manifestAt(dir)).environments.staging).toMatchObject({
      version: 'v1',
      commit: git(dir, 'rev-parse', 'v1'),
    });
    expect((await botver(dir, 'promote', 'nothing', 'production')).stderr).toContain(
      'environment or version "nothing" does not exist',
    );
    expect((await botver(dir, 'promote', 'staging', 'staging')).code).toBe(1);
  });

  it('history lists every change of one environment, newest first, with author and commit', async () => {
    const { dir } = await newBotRepo();
    await ok(dir, 'version', 'create', 'v2', '--from', 'v1');
    await ok(dir, 'env', 'create', 'staging', '--version', 'v1');
    await ok(dir, '--author', 'Ann Ops <ann@example.com>', 'env', 'set', 'production', 'v2');
    await ok(dir, 'env', 'set', 'staging', 'v2'); // another environment: not in production's history
    await ok(dir, 'token', 'rotate', '--env', 'production'); // not a link change
    await ok(dir, 'env', 'set', 'production', 'v1', '--pin');
    const history = await ok(dir, 'history', 'production', '--json');
    expect(history.map((c: { from: unknown; to: unknown }) => [c.from, c.to])).toEqual([
      [{ version: 'v2' }, { version: 'v1', commit: git(dir, 'rev-parse', 'v1') }],
      [{ version: 'v1' }, { version: 'v2' }],
      [null, { version: 'v1' }],
    ]);
    expect(history[1].author).toBe('Ann Ops <ann@example.com>');
    expect(git(dir, 'log', '-1', '--format=%an|%cn', history[1].commit)).toBe('Ann Ops|Test Committer');
    expect(history[0].commit).toBe(git(dir, 'rev-parse', 'main'));
    expect(new Date(history[0].date).getTime()).toBeGreaterThan(0);
    const text = await ok(dir, 'history', 'production');
    expect(text.split('\n')[0]).toMatch(/^DATE\s+COMMIT\s+AUTHOR\s+FROM\s+TO/);
    expect(await ok(dir, 'history', 'production', '-n', '1', '--json')).toHaveLength(1);
    expect((await botver(dir, 'history', 'nope')).stderr).toContain('environment "nope" does not exist');
  });

  it('rollback restores the previous link as a new commit, or the link at --to', async () => {
    const { dir } = await newBotRepo();
    await ok(dir, 'version', 'create', 'v2', '--from', 'v1');
    const atV1 = git(dir, 'rev-parse', 'main');
    await ok(dir, 'env', 'set', 'production', 'v2', '--pin');
    const commits = Number(git(dir, 'rev-list', '--count', 'main'));
    const r = await ok(dir, 'rollback', 'production', '--json');
    expect(r.to).toEqual({ version: 'v1' });
    expect(Number(git(dir, 'rev-list', '--count', 'main'))).toBe(commits + 1);
    expect(parse(manifestAt(dir)).environments.production).toEqual(expect.objectContaining({ version: 'v1' }));
    expect(parse(manifestAt(dir)).environments.production.commit).toBeUndefined();
    expect(git(dir, 'log', '-1', '--format=%s')).toMatch(
      /^roll back production to v1 \(was v2@[0-9a-f]{7}\), undoing [0-9a-f]{7}$/,
    );
    // Rolling back again undoes the rollback.
    await ok(dir, 'rollback', 'production');
    expect(parse(manifestAt(dir)).environments.production.version).toBe('v2');
    await ok(dir, 'rollback', 'production', '--to', atV1);
    expect(parse(manifestAt(dir)).environments.production).toEqual(expect.objectContaining({ version: 'v1' }));
    await ok(dir, 'rollback', 'production', '--to', 'main~1');
    expect(parse(manifestAt(dir)).environments.production.version).toBe('v2');
    await ok(dir, 'rollback', 'production', '--to', atV1);
    expect(parse(manifestAt(dir)).environments.production).toEqual(expect.objectContaining({ version: 'v1' }));
    const fresh = await newBotRepo();
    const none = await botver(fresh.dir, 'rollback', 'production');
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no earlier link');
    expectFsckClean(dir);
  });
});

describe('tokens and channels', () => {
  it('token rotate replaces the stored hash and prints the new token once', async () => {
    const { dir, init } = await newBotRepo();
    const r = await ok(dir, 'token', 'rotate', '--env', 'production', '--json');
    expect(r.token).toMatch(TOKEN);
    expect(r.token).not.toBe(init.environment.token);
    expect(parse(manifestAt(dir)).environments.production.tokenSha256).toBe(sha256Hex(r.token));
    const v = await ok(dir, 'token', 'rotate', '--version', 'v1', '--json');
    expect(parse(manifestAt(dir)).versions.v1.tokenSha256).toBe(sha256Hex(v.token));
    expect((await botver(dir, 'token', 'rotate')).code).toBe(2);
    expect((await botver(dir, 'token', 'rotate', '--env', 'nope')).stderr).toContain(
      'environment "nope" does not exist',
    );
    expect(git(dir, 'log', '-1', '--format=%s')).toBe('rotate the token of version v1');
  });

  it('channel add stores a hashed secret under the environment; names are unique; remove', async () => {
    const { dir } = await newBotRepo();
    await ok(dir, 'env', 'create', 'staging', '--version', 'v1');
    const a = await ok(dir, 'channel', 'add', 'production', 'messenger', '--json');
    expect(a.secret).toMatch(/^bvs_[A-Za-z0-9_-]{43}$/);
    await ok(dir, 'channel', 'add', 'production', 'slack');
    expect(parse(manifestAt(dir)).environments.production.channels).toEqual([
      { name: 'messenger', type: 'webhook', secretSha256: sha256Hex(a.secret) },
      expect.objectContaining({ name: 'slack', type: 'webhook' }),
    ]);
    const dup = await botver(dir, 'channel', 'add', 'staging', 'messenger');
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('channel "messenger" already exists: it is connected to environment production');
    expect((await botver(dir, 'channel', 'add', 'staging', 'x', '--type', 'carrier-pigeon')).code).toBe(2);
    await ok(dir, 'channel', 'remove', 'messenger');
    await ok(dir, 'channel', 'remove', 'slack');
    expect(parse(manifestAt(dir)).environments.production.channels).toBeUndefined();
    expect((await botver(dir, 'channel', 'remove', 'slack')).stderr).toContain('channel "slack" does not exist');
    // Channels belong to the environment: promoting it keeps them.
    await ok(dir, 'channel', 'add', 'production', 'web');
    await ok(dir, 'version', 'create', 'v2', '--from', 'v1');
    await ok(dir, 'env', 'set', 'production', 'v2');
    expect(parse(manifestAt(dir)).environments.production.channels[0].name).toBe('web');
    expectFsckClean(dir);
  });
});

describe('version create: reflog and an interrupted create', () => {
  it('writes the new branch reflog entry as git branch does', async () => {
    const { dir } = await newBotRepo();
    await ok(dir, 'version', 'create', 'v2', '--from', 'v1');
    expect(git(dir, 'reflog', 'show', '--format=%gs', 'v2')).toBe('branch: Created from v1');
  });

  it("adopts an undeclared branch at exactly the source's head, and still refuses any other", async () => {
    const { dir } = await newBotRepo();
    git(dir, 'branch', 'v2', 'v1'); // what a create killed between its two ref updates leaves
    const created = await ok(dir, 'version', 'create', 'v2', '--from', 'v1', '--json');
    expect(created).toMatchObject({ name: 'v2', from: 'v1', commit: git(dir, 'rev-parse', 'v1') });
    expect(git(dir, 'show', 'main:environments.yaml')).toMatch(/\n {2}v2:\n/);

    git(dir, 'branch', 'v3', 'main'); // a branch of its own: not a leftover
    const refused = await botver(dir, 'version', 'create', 'v3', '--from', 'v1');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('refs/heads/v3 exists but is not a version');
  });
});

describe('history across a manifest that does not parse', () => {
  it('skips the broken commit: the change shows once, at the commit that made it readable again', async () => {
    const { nativeCommit } = await import('./resolver-helpers.js');
    const { exampleBotRepo } = await import('./helpers.js');
    const dir = await exampleBotRepo();
    const good = git(dir, 'rev-parse', 'main');
    const text = manifestAt(dir);
    // A hand edit that breaks the YAML, then a fix that also relinks staging to v1.
    const broken = nativeCommit(dir, { 'environments.yaml': `${text}  : [oops\n` }, [good], 'broken by hand');
    const fixed = nativeCommit(
      dir,
      { 'environments.yaml': text.replace(/(staging:\n\s+version:) v2/, '$1 v1') },
      [broken],
      'fix, and staging on v1',
    );
    git(dir, 'reset', '-q', '--hard', fixed); // main is checked out: move it with its work tree
    const history = await ok(dir, 'history', 'staging', '--json');
    expect(history.map((c: any) => [c.commit, c.from?.version ?? null, c.to?.version ?? null])).toEqual([
      [fixed, 'v2', 'v1'],
      [expect.any(String), null, 'v2'],
    ]);
    // Rolling back undoes the fix's relink, not a phantom deletion.
    await ok(dir, 'rollback', 'staging');
    expect(manifestAt(dir)).toMatch(/staging:\n\s+version: v2\n/);
  });
});
