import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RefLockedError } from '../src/errors.js';
import {
  acquireLock,
  deleteRef,
  isSafeRefName,
  listRefs,
  readRef,
  RefMovedError,
  updateRef,
  ZERO_OID,
  type ReflogEntry,
} from '../src/git/refs.js';
import { botverProcess, git, manifestAt, newBotRepo, refsSnapshot, tempDir, TEST_ENV } from './helpers.js';

// src/git/refs.ts against repositories made and read by native git: compare-and-swap,
// packed-refs, `<ref>.lock` files held by someone else, reflogs. Native git is the judge.

interface NativeRepo {
  dir: string;
  gitdir: string;
  /** Two commits on main: c1, then c2 (main's head). */
  c1: string;
  c2: string;
}

function nativeRepo(): NativeRepo {
  const dir = tempDir('botver-refs-');
  git(dir, 'init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'a.txt'), 'one\n');
  git(dir, 'add', 'a.txt');
  git(dir, 'commit', '-q', '-m', 'c1');
  const c1 = git(dir, 'rev-parse', 'HEAD');
  writeFileSync(join(dir, 'a.txt'), 'two\n');
  git(dir, 'commit', '-q', '-am', 'c2');
  const c2 = git(dir, 'rev-parse', 'HEAD');
  return { dir, gitdir: join(dir, '.git'), c1, c2 };
}

/** A fresh commit (not on any branch) whose parent is `parent`. */
function commitOn(repo: NativeRepo, parent: string, message: string): string {
  return git(repo.dir, 'commit-tree', `${parent}^{tree}`, '-p', parent, '-m', message);
}

const revParse = (repo: NativeRepo, ref: string) => git(repo.dir, 'rev-parse', '--verify', '-q', ref);
const refExists = (repo: NativeRepo, ref: string) => {
  try {
    git(repo.dir, 'show-ref', '--verify', '-q', ref);
    return true;
  } catch {
    return false;
  }
};
/**
 * `git fsck --strict` finds nothing wrong: no output at all on stdout or stderr. Dangling
 * objects are not faults (a refused CAS leaves its commit unreferenced, as with git), so they
 * are not listed.
 */
function fsckClean(dir: string): void {
  const r = spawnSync('git', ['fsck', '--strict', '--no-dangling', '--no-progress'], {
    cwd: dir,
    env: { ...process.env, ...TEST_ENV },
    encoding: 'utf8',
  });
  expect({ status: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() }).toEqual({
    status: 0,
    stdout: '',
    stderr: '',
  });
}

const packedRefs = (repo: NativeRepo) => readFileSync(join(repo.gitdir, 'packed-refs'), 'utf8');

describe('ref names from outside', () => {
  it('never reads or writes a path outside the repository: ".." and the like name no ref', async () => {
    const repo = nativeRepo();
    const outside = join(tempDir(), 'secret.txt');
    writeFileSync(outside, 'not a ref, and private\n');
    const up = `refs/heads/${'../'.repeat(12)}${outside.slice(1)}`;
    for (const ref of [
      up,
      '../HEAD',
      'refs/heads/.hidden',
      'refs/heads//main',
      '/etc/passwd',
      'refs\\heads',
      'refs/heads/a\0b',
    ])
      expect([ref, isSafeRefName(ref)]).toEqual([ref, false]);
    // Without the check, the first would read secret.txt (and a bad value fails loudly, naming it).
    expect(await readRef(repo.gitdir, up)).toBeNull();
    await expect(updateRef(repo.gitdir, 'refs/heads/../../x', repo.c1, null)).rejects.toThrow(/not a valid ref name/);
    expect(existsSync(join(repo.gitdir, 'x'))).toBe(false);
    for (const ref of ['HEAD', 'refs/heads/main', 'refs/remotes/origin/team/topic-1.2'])
      expect([ref, isSafeRefName(ref)]).toEqual([ref, true]);
  });
});

describe('updateRef: compare-and-swap', () => {
  it('creates a ref that must not exist yet (expected null), nested folders included', async () => {
    const repo = nativeRepo();
    await updateRef(repo.gitdir, 'refs/heads/feature', repo.c1, null);
    await updateRef(repo.gitdir, 'refs/heads/team/deep/topic', repo.c2, null);
    expect(revParse(repo, 'refs/heads/feature')).toBe(repo.c1);
    expect(revParse(repo, 'refs/heads/team/deep/topic')).toBe(repo.c2);
    // Written like git writes a loose ref: the id and a newline, no lock left behind.
    expect(readFileSync(join(repo.gitdir, 'refs/heads/feature'), 'utf8')).toBe(`${repo.c1}\n`);
    expect(existsSync(join(repo.gitdir, 'refs/heads/feature.lock'))).toBe(false);
    expect(await readRef(repo.gitdir, 'refs/heads/feature')).toBe(repo.c1);
    fsckClean(repo.dir);
  });

  it('moves a ref when the expected old value is right', async () => {
    const repo = nativeRepo();
    const c3 = commitOn(repo, repo.c2, 'c3');
    await updateRef(repo.gitdir, 'refs/heads/main', c3, repo.c2);
    expect(revParse(repo, 'main')).toBe(c3);
    // Backwards is just another move.
    await updateRef(repo.gitdir, 'refs/heads/main', repo.c1, c3);
    expect(revParse(repo, 'main')).toBe(repo.c1);
    expect(git(repo.dir, 'for-each-ref', '--format=%(refname) %(objectname)')).toBe(`refs/heads/main ${repo.c1}`);
    fsckClean(repo.dir);
  });

  it('refuses with RefMovedError, changing nothing, when the expectation is wrong', async () => {
    const repo = nativeRepo();
    const c3 = commitOn(repo, repo.c2, 'c3');
    const before = refsSnapshot(repo.dir);
    const mainFile = readFileSync(join(repo.gitdir, 'refs/heads/main'), 'utf8');

    // main is at c2, not c1.
    const moved = await updateRef(repo.gitdir, 'refs/heads/main', c3, repo.c1).catch((e: unknown) => e);
    expect(moved).toBeInstanceOf(RefMovedError);
    expect(moved).toMatchObject({
      code: 'CONFLICT',
      data: { ref: 'refs/heads/main', expected: repo.c1, actual: repo.c2 },
    });
    // "Must not exist" while it exists.
    await expect(updateRef(repo.gitdir, 'refs/heads/main', c3, null)).rejects.toMatchObject({
      code: 'CONFLICT',
      data: { expected: null, actual: repo.c2 },
    });
    // An expected value for a ref that does not exist.
    await expect(updateRef(repo.gitdir, 'refs/heads/ghost', c3, repo.c2)).rejects.toBeInstanceOf(RefMovedError);

    expect(refsSnapshot(repo.dir)).toBe(before);
    expect(readFileSync(join(repo.gitdir, 'refs/heads/main'), 'utf8')).toBe(mainFile);
    expect(existsSync(join(repo.gitdir, 'refs/heads/main.lock'))).toBe(false);
    expect(existsSync(join(repo.gitdir, 'refs/heads/ghost'))).toBe(false);
    expect(existsSync(join(repo.gitdir, 'refs/heads/ghost.lock'))).toBe(false);
    fsckClean(repo.dir);
  });

  it('honours packed-refs: CAS against the packed value works, a wrong one is refused', async () => {
    const repo = nativeRepo();
    git(repo.dir, 'branch', 'release', repo.c1);
    git(repo.dir, 'tag', '-a', '-m', 'annotated', 'v1.0', repo.c1);
    git(repo.dir, 'pack-refs', '--all');
    expect(existsSync(join(repo.gitdir, 'refs/heads/release'))).toBe(false);
    expect(packedRefs(repo)).toContain(`${repo.c1} refs/heads/release`);

    // Reads agree with git.
    expect(await readRef(repo.gitdir, 'refs/heads/release')).toBe(repo.c1);
    expect(await readRef(repo.gitdir, 'refs/heads/main')).toBe(repo.c2);
    const heads = await listRefs(repo.gitdir, 'refs/heads/');
    expect([...heads].sort()).toEqual([
      ['refs/heads/main', repo.c2],
      ['refs/heads/release', repo.c1],
    ]);

    // A wrong expectation against a packed-only ref: refused, packed-refs untouched.
    const packedBefore = packedRefs(repo);
    const before = refsSnapshot(repo.dir);
    await expect(updateRef(repo.gitdir, 'refs/heads/release', repo.c1, repo.c2)).rejects.toMatchObject({
      code: 'CONFLICT',
      data: { expected: repo.c2, actual: repo.c1 },
    });
    // "Must not exist" is refused too: the ref exists, only packed.
    await expect(updateRef(repo.gitdir, 'refs/heads/release', repo.c2, null)).rejects.toBeInstanceOf(RefMovedError);
    expect(packedRefs(repo)).toBe(packedBefore);
    expect(refsSnapshot(repo.dir)).toBe(before);
    expect(existsSync(join(repo.gitdir, 'refs/heads/release'))).toBe(false);

    // The right expectation (the packed value) moves it: a loose ref now shadows the packed one.
    await updateRef(repo.gitdir, 'refs/heads/release', repo.c2, repo.c1);
    expect(revParse(repo, 'release')).toBe(repo.c2);
    expect(packedRefs(repo)).toContain(`${repo.c1} refs/heads/release`); // stale, shadowed, as with git
    expect(await readRef(repo.gitdir, 'refs/heads/release')).toBe(repo.c2);
    // And the next CAS is against the loose value, not the stale packed one.
    await expect(updateRef(repo.gitdir, 'refs/heads/release', repo.c1, repo.c1)).rejects.toBeInstanceOf(RefMovedError);
    expect(revParse(repo, 'release')).toBe(repo.c2);
    expect((await listRefs(repo.gitdir, 'refs/heads/')).get('refs/heads/release')).toBe(repo.c2);
    // Tags in packed-refs (with their peeled "^" line) read as the tag object.
    expect(await readRef(repo.gitdir, 'refs/tags/v1.0')).toBe(git(repo.dir, 'rev-parse', 'refs/tags/v1.0'));
    fsckClean(repo.dir);
  });
});

/** Resolves once `condition` holds, letting real I/O run in between (setImmediate is not faked). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('updateRef: a <ref>.lock held by someone else', () => {
  // The wait between tries runs on a fake clock (setTimeout and Date only; file I/O is real):
  // the test sees each retry the moment it is scheduled, and time moves only when it says so.
  // A retry being scheduled is the event that proves updateRef found the lock taken and waits.
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits, trying again until its timeout, then throws RefLockedError naming the lock file, changing nothing', async () => {
    const repo = nativeRepo();
    const lockPath = join(repo.gitdir, 'refs/heads/main.lock');
    // What git leaves while it holds the lock: the new value, written into the lock file.
    writeFileSync(lockPath, `${repo.c1}\n`);
    const c3 = commitOn(repo, repo.c2, 'c3');
    const before = refsSnapshot(repo.dir);

    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const started = Date.now();
    let outcome: unknown;
    let settled = false;
    void updateRef(repo.gitdir, 'refs/heads/main', c3, repo.c2, { timeoutMs: 300 }).then(
      () => {
        settled = true;
      },
      (err: unknown) => {
        outcome = err;
        settled = true;
      },
    );
    let retries = 0;
    for (;;) {
      await until(() => settled || vi.getTimerCount() > 0);
      if (settled) break;
      // A retry is scheduled only while the timeout has not passed (on the fake clock).
      expect(Date.now() - started).toBeLessThan(300);
      retries++;
      await vi.advanceTimersToNextTimerAsync();
    }
    expect(retries).toBeGreaterThan(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(outcome).toBeInstanceOf(RefLockedError);
    expect(outcome).toMatchObject({ code: 'REF_LOCKED', data: { lockPath } });
    expect((outcome as Error).message).toContain(lockPath);

    // Nothing changed, and the other holder's lock is still there, untouched.
    expect(refsSnapshot(repo.dir)).toBe(before);
    expect(readFileSync(lockPath, 'utf8')).toBe(`${repo.c1}\n`);
    rmSync(lockPath);
    fsckClean(repo.dir);
  });

  it('succeeds when the lock is released during the wait', async () => {
    const repo = nativeRepo();
    const lockPath = join(repo.gitdir, 'refs/heads/main.lock');
    writeFileSync(lockPath, `${repo.c1}\n`);
    const c3 = commitOn(repo, repo.c2, 'c3');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const moving = updateRef(repo.gitdir, 'refs/heads/main', c3, repo.c2, { timeoutMs: 10_000 });
    // It found the lock taken and waits to try again; the holder lets go; the next try takes it.
    await until(() => vi.getTimerCount() > 0);
    expect(revParse(repo, 'main')).toBe(repo.c2);
    rmSync(lockPath);
    await vi.advanceTimersToNextTimerAsync();
    await moving;
    expect(revParse(repo, 'main')).toBe(c3);
    expect(existsSync(lockPath)).toBe(false);
    fsckClean(repo.dir);
  });

  it('native git respects a lock botver holds, and can update the ref once it is released', async () => {
    const repo = nativeRepo();
    const c3 = commitOn(repo, repo.c2, 'c3');
    const lock = await acquireLock(join(repo.gitdir, 'refs/heads/main.lock'), { timeoutMs: 100 });
    let stderr = '';
    try {
      execFileSync('git', ['update-ref', 'refs/heads/main', c3, repo.c2], {
        cwd: repo.dir,
        env: { ...process.env, ...TEST_ENV },
        stdio: 'pipe',
      });
    } catch (err) {
      stderr = String((err as { stderr?: Buffer }).stderr);
    }
    expect(stderr).toContain('main.lock');
    expect(revParse(repo, 'main')).toBe(repo.c2);
    await lock.release();
    git(repo.dir, 'update-ref', 'refs/heads/main', c3, repo.c2);
    expect(revParse(repo, 'main')).toBe(c3);
    fsckClean(repo.dir);
  });

  it('under heavy contention it is a mutex: every successful CAS builds on the previous one', async () => {
    // 12 writers in one process, each doing 5 read-then-CAS increments with retries. A lock that
    // two writers could hold at once (or one writer deleting another's lock after committing its
    // own) shows up as an error other than RefMovedError, or as two updates from the same old value.
    const repo = nativeRepo();
    const WRITERS = 12;
    const EACH = 5;
    const pool: string[] = [];
    for (let i = 0; i < WRITERS * EACH + WRITERS; i++) pool.push(commitOn(repo, repo.c2, `pool ${i}`));
    const ref = 'refs/heads/contended';
    await updateRef(repo.gitdir, ref, repo.c2, null, {
      reflog: { identity: 'W <w@example.com> 1700000000 +0000', message: 'start' },
    });
    const reflog = { identity: 'W <w@example.com> 1700000000 +0000', message: 'increment' };
    let conflicts = 0;
    const writer = async () => {
      for (let done = 0; done < EACH; ) {
        const current = await readRef(repo.gitdir, ref);
        const next = pool.pop()!;
        try {
          await updateRef(repo.gitdir, ref, next, current, { timeoutMs: 20_000, reflog });
          done++;
        } catch (err) {
          if (!(err instanceof RefMovedError)) throw err;
          conflicts++;
          pool.push(next);
        }
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, writer));

    const lines = readFileSync(join(repo.gitdir, 'logs', ref), 'utf8')
      .trimEnd()
      .split('\n');
    expect(lines).toHaveLength(1 + WRITERS * EACH);
    const moves = lines.map((l) => l.split(' ').slice(0, 2) as [string, string]);
    expect(moves[0]).toEqual([ZERO_OID, repo.c2]);
    for (let i = 1; i < moves.length; i++) expect(moves[i]![0], `reflog line ${i + 1}`).toBe(moves[i - 1]![1]);
    expect(new Set(moves.map((m) => m[1])).size).toBe(moves.length);
    expect(revParse(repo, ref)).toBe(moves.at(-1)![1]);
    expect(existsSync(join(repo.gitdir, `${ref}.lock`))).toBe(false);
    expect(conflicts).toBeGreaterThan(0); // the test did exercise contention
    fsckClean(repo.dir);
  });
});

describe('deleteRef', () => {
  it('removes a packed ref from packed-refs, keeping the others (git for-each-ref agrees)', async () => {
    const repo = nativeRepo();
    git(repo.dir, 'branch', 'alpha', repo.c1);
    git(repo.dir, 'branch', 'beta', repo.c2);
    git(repo.dir, 'branch', 'gamma', repo.c1);
    git(repo.dir, 'tag', '-a', '-m', 'annotated', 'v1.0', repo.c1);
    git(repo.dir, 'pack-refs', '--all');
    const header = packedRefs(repo).split('\n')[0]!;
    expect(header).toMatch(/^# pack-refs with:/);

    // A wrong expectation deletes nothing.
    const before = refsSnapshot(repo.dir);
    await expect(deleteRef(repo.gitdir, 'refs/heads/beta', repo.c1)).rejects.toBeInstanceOf(RefMovedError);
    expect(refsSnapshot(repo.dir)).toBe(before);

    await deleteRef(repo.gitdir, 'refs/heads/beta', repo.c2);
    expect(refExists(repo, 'refs/heads/beta')).toBe(false);
    const text = packedRefs(repo);
    expect(text.split('\n')[0]).toBe(header);
    expect(text).not.toContain('refs/heads/beta');
    expect(text.endsWith('\n')).toBe(true);
    expect(git(repo.dir, 'for-each-ref', '--format=%(refname) %(objectname)')).toBe(
      [
        `refs/heads/alpha ${repo.c1}`,
        `refs/heads/gamma ${repo.c1}`,
        `refs/heads/main ${repo.c2}`,
        `refs/tags/v1.0 ${git(repo.dir, 'rev-parse', 'v1.0')}`,
      ].join('\n'),
    );
    expect(existsSync(join(repo.gitdir, 'packed-refs.lock'))).toBe(false);
    expect(existsSync(join(repo.gitdir, 'refs/heads/beta.lock'))).toBe(false);
    fsckClean(repo.dir);

    // An annotated tag goes with its peeled line; the ref after it is kept.
    const tag = git(repo.dir, 'rev-parse', 'v1.0');
    await deleteRef(repo.gitdir, 'refs/tags/v1.0', tag);
    expect(packedRefs(repo)).not.toMatch(/^\^/m);
    expect(git(repo.dir, 'for-each-ref', '--format=%(refname)')).toBe(
      ['refs/heads/alpha', 'refs/heads/gamma', 'refs/heads/main'].join('\n'),
    );
    fsckClean(repo.dir);
  });

  it('removes a loose ref and its reflog', async () => {
    const repo = nativeRepo();
    git(repo.dir, 'branch', 'topic', repo.c1); // git writes logs/refs/heads/topic
    expect(existsSync(join(repo.gitdir, 'logs/refs/heads/topic'))).toBe(true);
    await deleteRef(repo.gitdir, 'refs/heads/topic', repo.c1);
    expect(refExists(repo, 'refs/heads/topic')).toBe(false);
    expect(existsSync(join(repo.gitdir, 'refs/heads/topic'))).toBe(false);
    expect(existsSync(join(repo.gitdir, 'logs/refs/heads/topic'))).toBe(false);
    expect(git(repo.dir, 'for-each-ref', '--format=%(refname)')).toBe('refs/heads/main');
    fsckClean(repo.dir);
  });

  it('removes a ref that is both packed and loose, so the stale packed value does not come back', async () => {
    const repo = nativeRepo();
    git(repo.dir, 'branch', 'topic', repo.c1);
    git(repo.dir, 'pack-refs', '--all');
    git(repo.dir, 'update-ref', 'refs/heads/topic', repo.c2, repo.c1); // loose now, packed still c1
    expect(existsSync(join(repo.gitdir, 'refs/heads/topic'))).toBe(true);
    // The expectation is the visible (loose) value, not the packed one.
    await expect(deleteRef(repo.gitdir, 'refs/heads/topic', repo.c1)).rejects.toBeInstanceOf(RefMovedError);
    await deleteRef(repo.gitdir, 'refs/heads/topic', repo.c2);
    expect(refExists(repo, 'refs/heads/topic')).toBe(false);
    expect(packedRefs(repo)).not.toContain('refs/heads/topic');
    expect(await readRef(repo.gitdir, 'refs/heads/topic')).toBeNull();
    fsckClean(repo.dir);
  });
});

describe('reflog', () => {
  it('is written in git format when an entry is passed, and git reflog reads it', async () => {
    const repo = nativeRepo();
    const c3 = commitOn(repo, repo.c2, 'c3');
    const created: ReflogEntry = {
      identity: 'Ada Lovelace <ada@example.com> 1700000000 +0100',
      message: 'botver: create version v9',
    };
    const moved: ReflogEntry = {
      identity: 'Ada Lovelace <ada@example.com> 1700000060 -0230',
      message: 'botver: link v9\nsecond line is dropped',
    };
    await updateRef(repo.gitdir, 'refs/heads/v9', repo.c2, null, { reflog: created });
    await updateRef(repo.gitdir, 'refs/heads/v9', c3, repo.c2, { reflog: moved });

    const raw = readFileSync(join(repo.gitdir, 'logs/refs/heads/v9'), 'utf8');
    expect(raw).toBe(
      `${ZERO_OID} ${repo.c2} Ada Lovelace <ada@example.com> 1700000000 +0100\tbotver: create version v9\n` +
        `${repo.c2} ${c3} Ada Lovelace <ada@example.com> 1700000060 -0230\tbotver: link v9\n`,
    );
    expect(git(repo.dir, 'reflog', 'show', '--format=%H|%gs|%gn|%ge|%gd', 'refs/heads/v9')).toBe(
      [
        `${c3}|botver: link v9|Ada Lovelace|ada@example.com|v9@{0}`,
        `${repo.c2}|botver: create version v9|Ada Lovelace|ada@example.com|v9@{1}`,
      ].join('\n'),
    );
    expect(git(repo.dir, 'rev-parse', 'v9@{1}')).toBe(repo.c2);
    expect(git(repo.dir, 'log', '-g', '-1', '--format=%gd %gs', '--date=raw', 'v9')).toBe(
      'v9@{1700000060 -0230} botver: link v9',
    );

    // Without an entry nothing is appended.
    const c4 = commitOn(repo, c3, 'c4');
    await updateRef(repo.gitdir, 'refs/heads/v9', c4, c3);
    expect(readFileSync(join(repo.gitdir, 'logs/refs/heads/v9'), 'utf8')).toBe(raw);
    // A refused update appends nothing either.
    await expect(updateRef(repo.gitdir, 'refs/heads/v9', c3, repo.c1, { reflog: moved })).rejects.toBeInstanceOf(
      RefMovedError,
    );
    expect(readFileSync(join(repo.gitdir, 'logs/refs/heads/v9'), 'utf8')).toBe(raw);
    fsckClean(repo.dir);
  });
});

/** How many loose objects (or objects being written) the repository holds. */
const looseObjects = (gitdir: string) =>
  readdirSync(join(gitdir, 'objects'))
    .filter((fan) => /^[0-9a-f]{2}$/.test(fan))
    .reduce((n, fan) => n + readdirSync(join(gitdir, 'objects', fan)).length, 0);

describe('botver and the locks native git takes (real processes)', () => {
  it('while index.lock exists in a work tree with main checked out, a manifest change waits, fails with REF_LOCKED, changes nothing', async () => {
    const { dir } = await newBotRepo();
    const indexLock = join(dir, '.git', 'index.lock');
    writeFileSync(indexLock, readFileSync(join(dir, '.git', 'index'))); // git copies the index there
    const before = refsSnapshot(dir);
    const manifest = manifestAt(dir);
    const worktreeFile = readFileSync(join(dir, 'environments.yaml'), 'utf8');

    // (That the wait happens is shown on a fake clock above and by the next test.)
    const r = await botverProcess(dir, ['--json', 'env', 'create', 'staging', '--version', 'v1'], {
      BOTVER_LOCK_TIMEOUT_MS: '400',
    });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'REF_LOCKED', lockPath: indexLock });
    expect(r.stderr).toContain(indexLock);

    expect(refsSnapshot(dir)).toBe(before);
    expect(manifestAt(dir)).toBe(manifest);
    expect(readFileSync(join(dir, 'environments.yaml'), 'utf8')).toBe(worktreeFile);
    expect(existsSync(indexLock)).toBe(true);
    expect(existsSync(join(dir, '.git', 'refs/heads/main.lock'))).toBe(false);
    rmSync(indexLock);
    expect(git(dir, 'status', '--porcelain')).toBe('');
    fsckClean(dir);
  });

  it('a botver change waiting on index.lock goes through once git releases it, and the work tree follows', async () => {
    const { dir } = await newBotRepo();
    const indexLock = join(dir, '.git', 'index.lock');
    writeFileSync(indexLock, readFileSync(join(dir, '.git', 'index')));
    const start = git(dir, 'rev-parse', 'main');
    // git lets go of the lock once botver has written its objects: the next thing botver does is
    // take index.lock, so from then on it is waiting for it (or about to).
    const objectsBefore = looseObjects(join(dir, '.git'));
    const running = botverProcess(dir, ['env', 'create', 'staging', '--version', 'v1'], {
      BOTVER_LOCK_TIMEOUT_MS: '20000',
    });
    while (looseObjects(join(dir, '.git')) === objectsBefore) await new Promise((resolve) => setTimeout(resolve, 10));
    rmSync(indexLock);
    const r = await running;
    expect(r.code, r.stderr).toBe(0);
    expect(git(dir, 'rev-parse', 'main~1')).toBe(start);
    expect(manifestAt(dir)).toContain('staging:');
    expect(git(dir, 'status', '--porcelain')).toBe('');
    fsckClean(dir);
  });

  it('while refs/heads/main.lock exists in a bare repository, botver fails with REF_LOCKED naming it', async () => {
    const { dir } = await newBotRepo({ bare: true });
    const lockPath = join(dir, 'refs/heads/main.lock');
    writeFileSync(lockPath, `${git(dir, 'rev-parse', 'main')}\n`);
    const before = refsSnapshot(dir);
    const r = await botverProcess(dir, ['--json', 'token', 'rotate', '--env', 'production'], {
      BOTVER_LOCK_TIMEOUT_MS: '300',
    });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'REF_LOCKED', lockPath });
    expect(r.stderr).toContain(lockPath);
    expect(refsSnapshot(dir)).toBe(before);
    expect(existsSync(lockPath)).toBe(true);
    rmSync(lockPath);
    fsckClean(dir);
  });
});
