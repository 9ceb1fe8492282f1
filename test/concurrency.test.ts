import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { botverProcess, git, manifestAt, newBotRepo, tempDir, TEST_ENV, type CliResult } from './helpers.js';

// Many real botver processes (the built binary, `npm run build` first) against one repository
// at once, and native git committing meanwhile. The claim under test (docs/concepts.md): mutations
// compare-and-swap the control branch and retry, so none is lost, none is applied twice, history
// stays linear, and the repository stays sound for git.

const CHILD_ENV = { BOTVER_LOCK_TIMEOUT_MS: '20000' };
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const execFileP = promisify(execFile);
/** Spreads native commits over the ~1-2 s in which the botver processes start and commit. */
const pause = () => new Promise((r) => setTimeout(r, 100 + Math.random() * 300));

/** Native git, asynchronously (so it can run while botver processes do). */
async function gitAsync(cwd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await execFileP('git', args, { cwd, env: { ...process.env, ...TEST_ENV, ...env } });
  return stdout.trim();
}

/** `git fsck --strict` (optionally --full) reports nothing at all. Dangling objects are not faults. */
function fsckClean(dir: string, ...extra: string[]): void {
  const r = spawnSync('git', ['fsck', '--strict', '--no-dangling', '--no-progress', ...extra], {
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

/** Lock files and temporary files anywhere in the git directory (none may be left after clean exits). */
function leftovers(gitdir: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(join(dir, e.name), path);
      else if (e.name.endsWith('.lock') || e.name.includes('.tmp-') || e.name.startsWith('tmp_obj_')) found.push(path);
    }
  };
  walk(gitdir, '');
  return found;
}

/** "B B N B ..." : botver (B) and native (N) commits in the order they landed on main. */
const interleaving = (subjects: string[]) => subjects.map((s) => (s.startsWith('native') ? 'N' : 'B')).join(' ');

interface Job {
  args: string[];
  result?: CliResult;
  json?: any;
}

/** Starts every job at once as its own botver process; waits for all. */
async function runAll(repo: string, jobs: Job[]): Promise<void> {
  await Promise.all(
    jobs.map(async (job) => {
      job.result = await botverProcess(repo, ['--json', ...job.args], CHILD_ENV);
      if (job.result.code === 0) job.json = JSON.parse(job.result.stdout);
    }),
  );
}

/** Every process succeeded; a failure would have to be a clear conflict, and none is expected. */
function expectAllSucceeded(jobs: Job[]): void {
  const failed = jobs.filter((j) => j.result!.code !== 0);
  for (const j of failed) {
    // A loser that gave up must say so clearly (and it never should, with the retry loop).
    expect(j.result!.stderr, `botver ${j.args.join(' ')}`).toMatch(/kept moving|moved from|CONFLICT/);
  }
  expect(
    failed.map((j) => `botver ${j.args.join(' ')} -> exit ${j.result!.code}: ${j.result!.stderr.trim()}`),
    'every concurrent botver process succeeds',
  ).toEqual([]);
}

/** The standard mix: 8 environments, 2 token rotations, 2 channels and one new version, all at once. */
function mixedJobs(): Job[] {
  return [
    ...Array.from({ length: 8 }, (_, i) => ({ args: ['env', 'create', `e${i + 1}`, '--version', 'v1'] })),
    { args: ['token', 'rotate', '--env', 'production'] },
    { args: ['token', 'rotate', '--env', 'production'] },
    { args: ['channel', 'add', 'production', 'ch1'] },
    { args: ['channel', 'add', 'production', 'ch2'] },
    { args: ['version', 'create', 'v2', '--from', 'v1'] },
  ];
}

/** Checks the final state against what each (successful) process reported. */
function checkOutcome(dir: string, start: string, jobs: Job[]): string[] {
  expectAllSucceeded(jobs);

  // Exactly one commit per mutation on top of the start, linear, and they are the very commits
  // the processes reported.
  const added = git(dir, 'rev-list', '--reverse', `${start}..main`).split('\n');
  expect(added).toHaveLength(jobs.length);
  expect(git(dir, 'rev-list', '--merges', `${start}..main`)).toBe('');
  expect(git(dir, 'rev-list', '--first-parent', `${start}..main`).split('\n')).toHaveLength(jobs.length);
  expect(new Set(jobs.map((j) => j.json.manifestCommit))).toEqual(new Set(added));
  for (const commit of added)
    expect(git(dir, 'diff-tree', '--no-commit-id', '--name-only', '-r', commit)).toBe('environments.yaml');

  // Every change is in the final manifest.
  const manifest = parse(manifestAt(dir));
  for (let i = 1; i <= 8; i++) {
    const job = jobs.find((j) => j.args[2] === `e${i}`)!;
    expect(manifest.environments[`e${i}`]).toMatchObject({ version: 'v1', tokenSha256: sha256(job.json.token) });
  }
  const channels = manifest.environments.production.channels as { name: string; secretSha256: string }[];
  expect(channels.map((c) => c.name).sort()).toEqual(['ch1', 'ch2']);
  for (const c of channels) expect(c.secretSha256).toBe(sha256(jobs.find((j) => j.args[3] === c.name)!.json.secret));
  // The production token is the one of whichever rotation committed last.
  const rotations = jobs
    .filter((j) => j.args[0] === 'token')
    .sort((a, b) => added.indexOf(a.json.manifestCommit) - added.indexOf(b.json.manifestCommit));
  expect(manifest.environments.production.tokenSha256).toBe(sha256(rotations.at(-1)!.json.token));
  expect(manifest.versions.v2).toMatchObject({ createdFrom: 'v1' });
  expect(git(dir, 'rev-parse', 'v2')).toBe(git(dir, 'rev-parse', 'v1'));
  return added;
}

describe('many botver processes at once', () => {
  it('bare repository: 13 concurrent mutations, none lost, one commit each, fsck clean', async () => {
    const { dir } = await newBotRepo({ bare: true });
    const start = git(dir, 'rev-parse', 'main');
    const jobs = mixedJobs();
    await runAll(dir, jobs);
    checkOutcome(dir, start, jobs);
    expect(leftovers(dir)).toEqual([]);
    fsckClean(dir);
    expect((await botverProcess(dir, ['validate'])).code).toBe(0);
  });

  it('non-bare repository with main checked out: same, and the work tree, index and reflog follow', async () => {
    const { dir } = await newBotRepo();
    const start = git(dir, 'rev-parse', 'main');
    const jobs = mixedJobs();
    await runAll(dir, jobs);
    const added = checkOutcome(dir, start, jobs);

    expect(git(dir, 'status', '--porcelain')).toBe('');
    expect(readFileSync(join(dir, 'environments.yaml'), 'utf8')).toBe(manifestAt(dir));
    // The reflog has one entry per move, in the order the moves happened.
    expect(git(dir, 'reflog', 'show', '--format=%H', `-n${added.length}`, 'main').split('\n')).toEqual(
      [...added].reverse(),
    );
    expect(leftovers(join(dir, '.git'))).toEqual([]);
    fsckClean(dir);
  });
});

describe('native git committing while botver processes run', () => {
  it('git push from a clone and git update-ref in the bare repository land between botver commits; nothing is lost', async () => {
    const { dir: origin } = await newBotRepo({ bare: true });
    const start = git(origin, 'rev-parse', 'main');
    const work = tempDir();
    git(work, 'clone', '-q', origin, '.');

    /** A README line committed in the clone and pushed; on a rejected push, rebase and push again. */
    const pushes = async (n: number) => {
      for (let i = 1; i <= n; i++) {
        await pause();
        appendFileSync(join(work, 'README.md'), `native push ${i}\n`);
        await gitAsync(work, ['add', 'README.md']);
        await gitAsync(work, ['commit', '-q', '-m', `native push ${i}`]);
        for (let attempt = 1; ; attempt++) {
          try {
            await gitAsync(work, ['push', '-q', 'origin', 'main']);
            break;
          } catch (err) {
            if (attempt > 50) throw err;
            await gitAsync(work, ['pull', '-q', '--rebase', 'origin', 'main']);
          }
        }
      }
    };
    /** A commit built with plumbing in the bare repository and put on main with `git update-ref` CAS. */
    const updateRefs = async (n: number) => {
      const scratch = tempDir();
      const indexFile = join(scratch, 'index');
      for (let i = 1; i <= n; i++) {
        await pause();
        for (let attempt = 1; ; attempt++) {
          const old = await gitAsync(origin, ['rev-parse', 'main']);
          const env = { GIT_INDEX_FILE: indexFile };
          await gitAsync(origin, ['read-tree', old], env);
          const content = join(scratch, `native-${i}.txt`);
          writeFileSync(content, `native update-ref ${i}\n`);
          const oid = await gitAsync(origin, ['hash-object', '-w', content]);
          await gitAsync(origin, ['update-index', '--add', '--cacheinfo', `100644,${oid},native/${i}.txt`], env);
          const tree = await gitAsync(origin, ['write-tree'], env);
          const commit = await gitAsync(origin, ['commit-tree', tree, '-p', old, '-m', `native update-ref ${i}`]);
          try {
            await gitAsync(origin, ['update-ref', '-m', `native update-ref ${i}`, 'refs/heads/main', commit, old]);
            break;
          } catch (err) {
            if (attempt > 50) throw err;
          }
        }
      }
    };

    const jobs: Job[] = Array.from({ length: 8 }, (_, i) => ({
      args: ['env', 'create', `e${i + 1}`, '--version', 'v1'],
    }));
    await Promise.all([runAll(origin, jobs), pushes(3), updateRefs(3)]);

    expectAllSucceeded(jobs);
    const subjects = git(origin, 'log', '--reverse', '--format=%s', `${start}..main`).split('\n');
    console.log(`main after the race: ${interleaving(subjects)}`);
    expect(subjects).toHaveLength(8 + 3 + 3);
    for (let i = 1; i <= 3; i++) {
      expect(subjects.filter((s) => s === `native push ${i}`)).toHaveLength(1);
      expect(subjects.filter((s) => s === `native update-ref ${i}`)).toHaveLength(1);
      expect(git(origin, 'show', `main:native/${i}.txt`)).toBe(`native update-ref ${i}`);
    }
    expect(git(origin, 'show', 'main:README.md')).toBe('native push 1\nnative push 2\nnative push 3');
    // Every botver commit is in main's history, and every environment is in the manifest.
    for (const j of jobs)
      expect(
        spawnSync('git', ['merge-base', '--is-ancestor', j.json.manifestCommit, 'main'], { cwd: origin }).status,
      ).toBe(0);
    const manifest = parse(manifestAt(origin));
    for (let i = 1; i <= 8; i++) expect(manifest.environments[`e${i}`]?.version).toBe('v1');
    expect(existsSync(join(origin, 'refs/heads/main.lock'))).toBe(false);
    fsckClean(origin);
  });

  it('git commit in the same work tree (main checked out) while botver processes run: nothing lost, status clean', async () => {
    const { dir } = await newBotRepo();
    const start = git(dir, 'rev-parse', 'main');

    /** `git commit` of a README line; git refuses while botver holds index.lock or moved HEAD meanwhile: retry. */
    const commits = async (n: number) => {
      for (let i = 1; i <= n; i++) {
        await pause();
        appendFileSync(join(dir, 'README.md'), `native commit ${i}\n`);
        for (let attempt = 1; ; attempt++) {
          try {
            await gitAsync(dir, ['add', 'README.md']);
            await gitAsync(dir, ['commit', '-q', '-m', `native commit ${i}`, '--', 'README.md']);
            break;
          } catch (err) {
            if (attempt > 100) throw err;
            await new Promise((r) => setTimeout(r, 20 + Math.random() * 50));
          }
        }
      }
    };

    const jobs: Job[] = Array.from({ length: 8 }, (_, i) => ({
      args: ['env', 'create', `e${i + 1}`, '--version', 'v1'],
    }));
    await Promise.all([runAll(dir, jobs), commits(3)]);

    expectAllSucceeded(jobs);
    const subjects = git(dir, 'log', '--reverse', '--format=%s', `${start}..main`).split('\n');
    console.log(`main after the race: ${interleaving(subjects)}`);
    expect(subjects).toHaveLength(8 + 3);
    for (let i = 1; i <= 3; i++) expect(subjects.filter((s) => s === `native commit ${i}`)).toHaveLength(1);
    expect(git(dir, 'show', 'main:README.md')).toBe('native commit 1\nnative commit 2\nnative commit 3');
    const manifest = parse(manifestAt(dir));
    for (let i = 1; i <= 8; i++) expect(manifest.environments[`e${i}`]?.version).toBe('v1');
    // Neither side reverted the other in the work tree or the index.
    expect(git(dir, 'status', '--porcelain')).toBe('');
    expect(readFileSync(join(dir, 'environments.yaml'), 'utf8')).toBe(manifestAt(dir));
    expect(leftovers(join(dir, '.git'))).toEqual([]);
    fsckClean(dir);
  });
});
