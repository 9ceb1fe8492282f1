import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, type FSWatcher, mkdirSync, readdirSync, readFileSync, rmSync, watch } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BIN, botverProcess, git, manifestAt, newBotRepo, ok, refsSnapshot, TEST_ENV } from './helpers.js';

// botver processes (the built binary, `npm run build` first) killed with SIGKILL at chosen
// moments: during start-up, while writing objects, inside the ref lock, after the ref moved —
// the last three seen from outside, by watching the repository's folders. Whatever the moment, every ref must point at a complete commit and git must find nothing
// wrong. A `<ref>.lock` (or index.lock) left by a kill inside the lock window is acceptable, as
// with native git: botver must then name it (REF_LOCKED), and removing it is the whole recovery.

/** `git fsck --strict` reports nothing at all (stdout and stderr). Dangling objects are expected after kills. */
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

/** Every ref points at a complete commit: its tree lists, and main's manifest parses. */
function expectRefsComplete(dir: string): void {
  const refs = git(dir, 'for-each-ref', '--format=%(objectname) %(refname)').split('\n');
  expect(refs.length).toBeGreaterThanOrEqual(2);
  for (const line of refs) {
    const [oid, ref] = line.split(' ') as [string, string];
    expect(
      spawnSync('git', ['cat-file', '-e', `${oid}^{commit}`], { cwd: dir }).status,
      `${ref} -> ${oid} is a commit`,
    ).toBe(0);
    expect(git(dir, 'ls-tree', '-r', oid)).not.toBe('');
    if (ref === 'refs/heads/main') {
      const manifest = parse(git(dir, 'show', `${oid}:environments.yaml`));
      expect(manifest).toMatchObject({ apiVersion: 'botver/v1', environments: { production: {}, staging: {} } });
    }
  }
}

/** Files in objects/xx/ that are not loose objects: temporary files of an interrupted write. */
function tempObjectFiles(gitdir: string): string[] {
  const objects = join(gitdir, 'objects');
  const found: string[] = [];
  for (const fan of readdirSync(objects)) {
    if (!/^[0-9a-f]{2}$/.test(fan)) continue;
    for (const name of readdirSync(join(objects, fan))) if (!/^[0-9a-f]{38}$/.test(name)) found.push(`${fan}/${name}`);
  }
  return found;
}
const looseObjectCount = (gitdir: string) =>
  readdirSync(join(gitdir, 'objects'))
    .filter((f) => /^[0-9a-f]{2}$/.test(f))
    .reduce(
      (n, fan) => n + readdirSync(join(gitdir, 'objects', fan)).filter((o) => /^[0-9a-f]{38}$/.test(o)).length,
      0,
    );

interface Run {
  /** Exited by itself before the kill. */
  finished: boolean;
  code: number | null;
}

/** The moments a run is killed at: a random early time, or the first sign of a step of the write. */
type Target = 'start-up' | 'objects' | 'ref lock' | 'ref moved';
const TARGETS: Target[] = ['objects', 'ref lock', 'ref moved', 'start-up'];

/**
 * Watches a repository from outside (no hook in botver) and SIGKILLs the armed process the
 * moment the step it is aimed at shows: a file appearing in objects/xx/ (an object being
 * written), refs/heads/main.lock appearing (the ref lock taken), refs/heads/main renamed into
 * place (the ref moved). The kill lands a little later than the event, so what a run really
 * died in is classified afterwards from the state it left, not from the aim.
 */
class Tripwire {
  private readonly watchers: FSWatcher[] = [];
  private armed: { target: Target; child: ChildProcess } | null = null;

  constructor(gitdir: string) {
    // Every fan-out folder made up front (git makes them on demand and lets empty ones be),
    // so that one watcher per folder sees the first file of every object written.
    for (let i = 0; i < 256; i++) {
      const fan = join(gitdir, 'objects', i.toString(16).padStart(2, '0'));
      mkdirSync(fan, { recursive: true });
      this.watchers.push(watch(fan, () => this.fire('objects')));
    }
    this.watchers.push(
      watch(join(gitdir, 'refs', 'heads'), (_event, name) => {
        if (name === 'main.lock') this.fire('ref lock');
        else if (name === 'main') this.fire('ref moved');
      }),
    );
  }

  arm(target: Target, child: ChildProcess): void {
    this.armed = { target, child };
  }

  disarm(): void {
    this.armed = null;
  }

  close(): void {
    for (const w of this.watchers.splice(0)) w.close();
  }

  private fire(step: Target): void {
    if (this.armed?.target !== step) return;
    this.armed.child.kill('SIGKILL');
    this.armed = null;
  }
}

/** Starts botver and SIGKILLs it at `target` (start-up: after a random 0-200 ms) unless it exits first. */
async function runAndKill(repo: string, args: string[], target: Target, tripwire: Tripwire): Promise<Run> {
  const child = spawn(process.execPath, [BIN, '--repo', repo, ...args], {
    env: { ...process.env, ...TEST_ENV, BOTVER_LOCK_TIMEOUT_MS: '2000' },
    stdio: 'ignore',
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('exit', (code, signal) => done({ code, signal })),
  );
  let timer: NodeJS.Timeout | undefined;
  if (target === 'start-up') timer = setTimeout(() => child.kill('SIGKILL'), Math.random() * 200);
  else tripwire.arm(target, child);
  const { code, signal } = await exited;
  tripwire.disarm();
  clearTimeout(timer);
  return { finished: signal !== 'SIGKILL', code };
}

/** botver must refuse with REF_LOCKED naming `lockPath`, change nothing; then the user removes the file. */
async function expectLockedThenRemove(dir: string, lockPath: string): Promise<void> {
  const before = refsSnapshot(dir);
  const r = await botverProcess(dir, ['--json', 'token', 'rotate', '--env', 'staging'], {
    BOTVER_LOCK_TIMEOUT_MS: '150',
  });
  expect(r.code).toBe(1);
  expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'REF_LOCKED', lockPath });
  expect(r.stderr).toContain(lockPath);
  expect(refsSnapshot(dir)).toBe(before);
  rmSync(lockPath);
}

/** A change of main every time: rotate a token, or link staging to a version it is not linked to. */
function nextCommand(i: number, dir: string): string[] {
  if (i % 2) return ['token', 'rotate', '--env', Math.random() < 0.5 ? 'production' : 'staging'];
  const current = parse(git(dir, 'show', 'main:environments.yaml')).environments.staging.version as string;
  const others = ['v1', 'v2', 'v3'].filter((v) => v !== current);
  return ['env', 'set', 'staging', others[Math.floor(Math.random() * others.length)]!];
}

const FINISHED = 'finished before the kill';
const START_UP = 'killed before writing anything (start-up, reads)';
const MID_WRITE = 'killed mid-write (objects written, ref not moved)';
const LOCK_WINDOW = 'killed inside the lock window (lock left, ref not moved)';
const AFTER_MOVE = 'killed after the ref moved (clean-up, work tree update)';
type Outcome = typeof FINISHED | typeof START_UP | typeof MID_WRITE | typeof LOCK_WINDOW | typeof AFTER_MOVE;
const OUTCOMES: Outcome[] = [FINISHED, START_UP, MID_WRITE, LOCK_WINDOW, AFTER_MOVE];

interface LoopOptions {
  bare: boolean;
  /** Runs died inside each write window (mid-write, lock, after the move) at the least. */
  minimumPerWindow: number;
  /** Runs at the least (the targets taken in turn), and at the most. */
  minRuns: number;
  maxRuns: number;
}

async function crashLoop(options: LoopOptions) {
  const { dir } = await newBotRepo({ bare: options.bare });
  const gitdir = options.bare ? dir : join(dir, '.git');
  await ok(dir, 'version', 'create', 'v2', '--from', 'v1');
  await ok(dir, 'version', 'create', 'v3', '--from', 'v1');
  await ok(dir, 'env', 'create', 'staging', '--version', 'v1');
  const mainLock = join(gitdir, 'refs/heads/main.lock');
  const indexLock = join(gitdir, 'index.lock');
  await ok(dir, 'token', 'rotate', '--env', 'staging'); // warm the page cache

  // What each aim led to: target -> outcome -> runs.
  const seen = new Map<Target, Map<Outcome, number>>(TARGETS.map((t) => [t, new Map(OUTCOMES.map((o) => [o, 0]))]));
  const total = (outcome: Outcome) => [...seen.values()].reduce((n, m) => n + m.get(outcome)!, 0);
  const windows: [Outcome, Target][] = [
    [MID_WRITE, 'objects'],
    [LOCK_WINDOW, 'ref lock'],
    [AFTER_MOVE, 'ref moved'],
  ];
  // The targets in turn for minRuns; then only those whose window is still short of its minimum.
  const targetFor = (i: number): Target | undefined => {
    if (i < options.minRuns) return TARGETS[i % TARGETS.length];
    const short = windows.filter(([outcome]) => total(outcome) < options.minimumPerWindow).map(([, t]) => t);
    return short[i % Math.max(1, short.length)];
  };
  let tempFilesSeen = 0;
  let worktreeRecoveries = 0;

  const tripwire = new Tripwire(gitdir);
  // Bounded by runs, not by time: a loaded machine takes longer, not fewer aims.
  let i = 0;
  try {
    for (; i < options.maxRuns; i++) {
      const target = targetFor(i);
      if (!target) break;
      const args = nextCommand(i, dir);
      const before = git(dir, 'rev-parse', 'main');
      const objectsBefore = looseObjectCount(gitdir);
      const tempBefore = tempObjectFiles(gitdir).length;
      const run = await runAndKill(dir, args, target, tripwire);

      const after = git(dir, 'rev-parse', 'main');
      const mainLockLeft = existsSync(mainLock);
      const indexLockLeft = !options.bare && existsSync(indexLock);
      const newTemp = tempObjectFiles(gitdir).length - tempBefore;
      tempFilesSeen += Math.max(0, newTemp);
      let outcome: Outcome;
      if (run.finished) {
        expect(run.code, `botver ${args.join(' ')} exited by itself`).toBe(0);
        outcome = FINISHED;
      } else if (after !== before) outcome = AFTER_MOVE;
      else if (mainLockLeft || indexLockLeft) outcome = LOCK_WINDOW;
      else if (looseObjectCount(gitdir) > objectsBefore || newTemp > 0) outcome = MID_WRITE;
      else outcome = START_UP;
      const counts = seen.get(target)!;
      counts.set(outcome, counts.get(outcome)! + 1);

      // Whatever the moment: complete commits only, and git finds nothing wrong (leftover
      // temporary files included: git must not take them for objects).
      expectRefsComplete(dir);
      fsckClean(dir);

      // A lock left behind is reported by botver and removed by the user, as with native git.
      // index.lock is taken first (work tree repositories), so botver names it first.
      if (indexLockLeft) await expectLockedThenRemove(dir, indexLock);
      if (mainLockLeft) await expectLockedThenRemove(dir, mainLock);
      const otherLocks = readdirSync(join(gitdir, 'refs/heads')).filter((f) => f.endsWith('.lock'));
      expect(otherLocks).toEqual([]);

      if (!options.bare) {
        const status = git(dir, 'status', '--porcelain');
        if (!indexLockLeft) {
          // The work tree and index are only written under index.lock: without a lock left, they followed.
          expect(status, `work tree after killing botver ${args.join(' ')}`).toBe('');
        } else if (status !== '') {
          // Killed between the ref move and the work tree/index update: like a git commit killed
          // at the same point, the work tree lags behind HEAD. Its file is old or new, never torn.
          const content = readFileSync(join(dir, 'environments.yaml'), 'utf8');
          expect([manifestAt(dir, 'HEAD'), manifestAt(dir, 'HEAD~1')]).toContain(content);
          for (const line of status.split('\n'))
            expect(line).toMatch(/^(.M|M.|MM) environments\.yaml$|^\?\? \.environments\.yaml\.tmp-/);
          git(dir, 'reset', '-q', '--hard');
          git(dir, 'clean', '-q', '-f');
          worktreeRecoveries++;
        }
      }
    }
  } finally {
    tripwire.close();
  }

  // The report: per aim, what the runs died in; then the totals per window.
  const width = Math.max(...OUTCOMES.map((o) => o.length));
  const header = `  ${''.padEnd(width)}  ${TARGETS.map((t) => t.padStart(9)).join(' ')}  total`;
  const rows = OUTCOMES.map(
    (o) =>
      `  ${o.padEnd(width)}  ${TARGETS.map((t) => String(seen.get(t)!.get(o)).padStart(9)).join(' ')}  ${String(total(o)).padStart(5)}`,
  );
  console.log(
    `${options.bare ? 'bare' : 'work tree'} repository, ${i} runs, each SIGKILLed at the step it aimed at (columns: aim; rows: where it died):\n` +
      [header, ...rows].join('\n') +
      `\n  temporary object files left by kills: ${tempFilesSeen}` +
      (options.bare
        ? ''
        : `\n  work tree resets needed after a kill inside the index.lock window: ${worktreeRecoveries}`),
  );
  for (const [outcome] of windows)
    expect(total(outcome), `runs ${outcome} (minimum ${options.minimumPerWindow})`).toBeGreaterThanOrEqual(
      options.minimumPerWindow,
    );

  // The final, thorough check; then botver carries on as if nothing happened.
  fsckClean(dir, '--full');
  expectRefsComplete(dir);
  const current = parse(git(dir, 'show', 'main:environments.yaml')).environments.staging.version as string;
  const next = current === 'v2' ? 'v3' : 'v2';
  const r = await botverProcess(dir, ['env', 'set', 'staging', next]);
  expect(r.code, r.stderr).toBe(0);
  expect(parse(git(dir, 'show', 'main:environments.yaml')).environments.staging.version).toBe(next);
  const validate = await botverProcess(dir, ['validate']);
  expect(validate.code, validate.stderr + validate.stdout).toBe(0);
  if (!options.bare) expect(git(dir, 'status', '--porcelain')).toBe('');
  // git's own housekeeping cleans up whatever the kills left, and complains about none of it.
  const gc = spawnSync('git', ['gc', '-q', '--prune=now'], {
    cwd: dir,
    env: { ...process.env, ...TEST_ENV },
    encoding: 'utf8',
  });
  expect({ status: gc.status, stderr: gc.stderr.trim() }).toEqual({ status: 0, stderr: '' });
  expect(tempObjectFiles(gitdir)).toEqual([]);
  fsckClean(dir, '--full');
}

// Minimums that hold on a loaded two-core machine (other test files running alongside): each
// target twice, then the loop keeps aiming at a window until it has them, within maxRuns.
describe('botver killed with SIGKILL inside each write window', () => {
  it('bare repository: refs always point at complete commits, fsck clean, botver carries on', async () => {
    await crashLoop({ bare: true, minimumPerWindow: 2, minRuns: 8, maxRuns: 40 });
  }, 120_000);

  it('work tree repository with main checked out: same, and the work tree follows unless a lock was left', async () => {
    await crashLoop({ bare: false, minimumPerWindow: 2, minRuns: 8, maxRuns: 40 });
  }, 120_000);
});
