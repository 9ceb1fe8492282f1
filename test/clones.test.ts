import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_ENV, botver, exampleBotRepo, git, ok, refsSnapshot, sharedRepo, tempDir } from './helpers.js';
import { auth, getJson, serve } from './resolver-helpers.js';

// Issue #10, part 1: botver in an ordinary `git clone` and in CI checkouts. A version whose
// local branch is missing is read from its remote-tracking branch (and the command says so);
// writing commands move local branches only and print the `git push` that publishes the change,
// or push with --push; a shallow or single-branch clone that lacks what a command needs gets one
// clear error naming the missing refs and the fix. Remotes are bare repositories on disk, and
// every clone is made by native git.

/** A bare "remote" holding the example bot (main, v1, v2; production -> v1, staging -> v2). */
const remote = sharedRepo(async () => {
  const work = await exampleBotRepo();
  const bare = tempDir('botver-remote-');
  git(bare, 'clone', '--quiet', '--bare', work, '.');
  return bare;
});

/** Native `git clone` of `from` with extra flags; returns the clone's folder. */
function clone(from: string, ...flags: string[]): string {
  const dir = join(tempDir('botver-clone-'), 'clone');
  execFileSync('git', ['clone', '--quiet', ...flags, `file://${from}`, dir], { env: { ...process.env, ...TEST_ENV } });
  return dir;
}

const note = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('botver: note:'));

describe('an ordinary clone: versions exist only as origin/<version>', () => {
  it('every reading command reads them from the remote-tracking branches, and says so', async () => {
    const origin = remote();
    const dir = clone(origin);
    expect(git(dir, 'branch', '--list')).toBe('* main'); // only the default branch is local
    const v1 = git(origin, 'rev-parse', 'v1');
    const v2 = git(origin, 'rev-parse', 'v2');

    const validate = await botver(dir, 'validate');
    expect(validate.code, validate.stdout + validate.stderr).toBe(0);
    expect(note(validate.stderr)).toEqual(['botver: note: read from origin/… (no local branch): v1, v2']);

    const envs = await botver(dir, 'env', 'list', '--json');
    expect(envs.code).toBe(0);
    const served = Object.fromEntries(
      (JSON.parse(envs.stdout) as { name: string; resolvedCommit: string }[]).map((e) => [e.name, e.resolvedCommit]),
    );
    expect(served).toEqual({ production: v1, staging: v2 });
    expect(note(envs.stderr)).toHaveLength(1);

    const versions = (await ok(dir, 'version', 'list', '--json')) as { name: string; head: string; ref: string }[];
    expect(versions.map((v) => [v.name, v.head, v.ref])).toEqual([
      ['v1', v1, 'refs/remotes/origin/v1'],
      ['v2', v2, 'refs/remotes/origin/v2'],
    ]);
    expect((await botver(dir, 'diff', 'v1', 'v2')).code).toBe(0);
    const tested = await botver(dir, 'test', 'v2');
    expect(tested.code, tested.stderr).toBe(0);
    expect((await botver(dir, 'history', 'staging')).code).toBe(0);
    // Nothing was written by reading.
    expect(git(dir, 'branch', '--list')).toBe('* main');
  });

  it('botver serve in a clone serves every environment from the remote-tracking branches', async () => {
    const origin = remote();
    const dir = clone(origin);
    const rotated = await ok(dir, 'token', 'rotate', '--env', 'staging', '--json');
    const { url } = await serve(dir);
    const answer = await getJson(`${url}/v1/resolve`, auth(rotated.token));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      environment: 'staging',
      version: 'v2',
      commit: git(origin, 'rev-parse', 'v2'),
    });
  });

  it('a writing command moves local branches only and prints the git push that publishes it; that push works', async () => {
    const origin = remote();
    const dir = clone(origin);
    const before = refsSnapshot(origin);
    const set = await botver(dir, 'env', 'set', 'staging', 'v1');
    expect(set.code, set.stderr).toBe(0);
    expect(set.stderr).toContain('botver: to publish: git push --atomic origin main\n');
    expect(refsSnapshot(origin)).toBe(before); // the remote is untouched
    expect(git(dir, 'show', 'main:environments.yaml')).toMatch(/staging:\n\s+version: v1/);

    // A new version from a remote-only one: a local branch at its commit, and both to push.
    const created = await botver(dir, 'version', 'create', 'v3', '--from', 'v2');
    expect(created.code, created.stderr).toBe(0);
    expect(git(dir, 'rev-parse', 'v3')).toBe(git(origin, 'rev-parse', 'v2'));
    expect(created.stderr).toContain('botver: to publish: git push --atomic origin main v3\n');
    // The printed command publishes it, as printed.
    const command = created.stderr.match(/to publish: (.+)\n/)![1]!;
    execFileSync('bash', ['-c', command], { cwd: dir, env: { ...process.env, ...TEST_ENV } });
    expect(git(origin, 'rev-parse', 'main')).toBe(git(dir, 'rev-parse', 'main'));
    expect(git(origin, 'rev-parse', 'v3')).toBe(git(origin, 'rev-parse', 'v2'));
    expect((await botver(origin, 'validate')).code).toBe(0);

    // A version created and deleted here was never pushed: publishing deletes nothing on the remote.
    await ok(dir, 'version', 'create', 'v4', '--from', 'v1');
    const deleted = await botver(dir, 'version', 'delete', 'v4');
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stderr).toContain('botver: to publish: git push --atomic origin main\n');
    // A version that is only on the remote: its deletion is published, and its last commit is told.
    const gone = await botver(dir, 'version', 'delete', 'v3', '--json');
    expect(gone.stderr).toContain('botver: to publish: git push --atomic origin main :refs/heads/v3\n');
  });

  it('--push publishes the change itself, and a non-fast-forward is refused as git refuses it', async () => {
    const origin = remote();
    const dir = clone(origin);
    const promoted = await botver(dir, 'promote', 'staging', 'production', '--push');
    expect(promoted.code, promoted.stderr).toBe(0);
    expect(promoted.stderr).toContain('botver: pushed to origin: main\n');
    expect(git(origin, 'rev-parse', 'main')).toBe(git(dir, 'rev-parse', 'main'));
    expect(git(origin, 'show', 'main:environments.yaml')).toContain(`commit: ${git(origin, 'rev-parse', 'v2')}`);

    // Someone else pushes to main meanwhile: this clone's next --push is not a fast-forward.
    const other = clone(origin);
    await ok(other, 'env', 'create', 'qa', '--version', 'v1', '--push');
    const before = refsSnapshot(origin);
    const refused = await botver(dir, 'env', 'set', 'staging', 'v1', '--push');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /git push origin was refused; the change is committed locally only: .*(rejected|fetch first|non-fast-forward)/,
    );
    expect(refsSnapshot(origin)).toBe(before);
    expect(git(dir, 'show', 'main:environments.yaml')).toMatch(/staging:\n\s+version: v1/); // kept locally
  });

  it('--push in a repository without the remote says so; a change with nothing to publish prints nothing', async () => {
    const origin = remote();
    const dir = clone(origin);
    const same = await botver(dir, 'env', 'set', 'staging', 'v2');
    expect(same.code).toBe(0);
    expect(same.stderr).not.toContain('to publish');
    // A repository of one's own has no remote: nothing to print, and nowhere to push.
    const own = await exampleBotRepo();
    const quiet = await botver(own, 'env', 'set', 'staging', 'v1');
    expect([quiet.code, quiet.stderr]).toEqual([0, '']);
    const noRemote = await botver(own, 'env', 'set', 'staging', 'v2', '--push');
    expect(noRemote.code).toBe(1);
    expect(noRemote.stderr).toContain(
      'cannot push: this repository has no remote "origin"; the change is committed locally',
    );
  });
});

describe('partial clones: one clear error naming the missing refs and the fix', () => {
  it('a single-branch shallow clone of main (a CI checkout): validate HEAD names every missing branch once, and the fetch that brings them', async () => {
    const origin = remote();
    const dir = clone(origin, '--depth', '1', '--branch', 'main');
    const result = await botver(dir, 'validate', 'HEAD', '--format', 'github');
    expect(result.code).toBe(1);
    const errors = result.stdout.split('\n').filter((l) => l.startsWith('::error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('versions v1, v2 are declared but refs/heads/v1, refs/heads/v2 do not exist');
    expect(errors[0]).toContain('refs/remotes/origin/v1, refs/remotes/origin/v2 are not in this clone either');
    expect(errors[0]).toContain("git fetch origin '+refs/heads/*:refs/remotes/origin/*'");
    expect(errors[0]).toContain('actions/checkout with fetch-depth: 0');
    // The fix, as given, makes it pass.
    git(dir, 'fetch', '--quiet', '--depth', '1', 'origin', '+refs/heads/*:refs/remotes/origin/*');
    const fixed = await botver(dir, 'validate', 'HEAD');
    expect(fixed.code, fixed.stdout).toBe(0);
  });

  it('a shallow clone: a pin that cannot be checked and a history that cannot be walked say why, not "wrong"', async () => {
    const origin = remote();
    // A pinned environment, then more commits on its version, so the pin is below the head.
    const work = clone(origin);
    await ok(work, 'promote', 'staging', 'production', '--push');
    git(work, 'fetch', '--quiet');
    git(work, 'switch', '--quiet', 'v2');
    git(work, 'commit', '--quiet', '--allow-empty', '-m', 'later work on v2');
    git(work, 'commit', '--quiet', '--allow-empty', '-m', 'more work on v2');
    git(work, 'push', '--quiet', 'origin', 'v2');

    const dir = clone(origin, '--depth', '1', '--no-single-branch');
    const validate = await botver(dir, 'validate');
    expect(validate.code).toBe(1);
    expect(validate.stdout).toContain('environment "production" is pinned to');
    expect(validate.stdout).toContain('cannot be checked against version "v2": this is a shallow clone');
    expect(validate.stdout).toContain('git fetch --unshallow origin');
    expect(validate.stdout).not.toContain('which is not a commit of version');

    const history = await botver(dir, 'history', 'production');
    expect(history.code).toBe(1);
    expect(history.stderr).toContain('this is a shallow clone: the history needed is not here');
    git(dir, 'fetch', '--quiet', '--unshallow', 'origin');
    expect((await botver(dir, 'validate')).code).toBe(0);
    expect((await botver(dir, 'history', 'production')).code).toBe(0);
  });
});
