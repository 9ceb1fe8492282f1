import { execFile, execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { initBotRepo, type InitResult } from '../src/ops/init.js';
import { buildExampleBot, exampleFiles, ROOT, TEST_ENV } from './example-template.js';

// Real repositories in temporary folders, native git to cross-check, botver run either
// in-process (fast, same code path as the binary) or as a real process (concurrency, crashes).

export { ROOT, TEST_ENV, exampleFiles };
export const BIN = join(ROOT, 'bin', 'botver.js');
Object.assign(process.env, TEST_ENV);

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = 'botver-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/**
 * A repository built once per test file (in beforeAll) by `build`; each call of the returned
 * function gives the calling test its own copy of it (cp -r, removed after the test), so tests
 * stay independent without paying for the build each time. Call at the top of a test file.
 */
export function sharedRepo(build: () => Promise<string>): (prefix?: string) => string {
  let template: string | undefined;
  beforeAll(async () => {
    template = await build();
    // Kept for the whole file: out of the per-test clean-up, removed after the last test.
    const at = made.indexOf(template);
    if (at !== -1) made.splice(at, 1);
  });
  afterAll(() => {
    if (template) rmSync(template, { recursive: true, force: true });
  });
  return (prefix = 'botver-copy-') => {
    if (!template) throw new Error('sharedRepo: the repository is built in beforeAll; copy it inside a test');
    const dir = tempDir(prefix);
    // cp -a: several times faster than fs.cpSync on a repository's many small files.
    execFileSync('cp', ['-a', `${template}/.`, dir]);
    return dir;
  };
}

/** Runs native git; returns trimmed stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    env: { ...process.env, ...TEST_ENV },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  } as ExecFileSyncOptions)
    .toString()
    .trim();
}

/** `git fsck --strict` must be clean. */
export function expectFsckClean(repo: string): void {
  const out = execFileSync('git', ['fsck', '--strict', '--no-progress'], {
    cwd: repo,
    env: { ...process.env, ...TEST_ENV },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  expect(out.trim()).toBe('');
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** botver in-process, exactly as the binary runs it. */
export async function botver(repo: string | null, ...args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const argv = repo ? ['--repo', repo, ...args] : args;
  // Loaded on first use: the whole CLI, which a test file that never calls it need not import.
  const { run } = await import('../src/cli/program.js');
  const code = await run(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}

/** Same, expecting success; returns parsed JSON when --json is among the args. */
export async function ok(repo: string | null, ...args: string[]): Promise<any> {
  const r = await botver(repo, ...args);
  if (r.code !== 0) throw new Error(`botver ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return args.includes('--json') ? JSON.parse(r.stdout) : r.stdout;
}

/** botver as a real process (the built binary). */
export function botverProcess(repo: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, '--repo', repo, ...args],
      { env: { ...process.env, ...TEST_ENV, ...env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** A fresh non-bare bot repository; returns its path and the init result (tokens). */
export async function newBotRepo(
  options: { bare?: boolean; empty?: boolean } = {},
): Promise<{ dir: string; init: InitResult }> {
  const dir = tempDir();
  const init = await initBotRepo({ repo: dir, bot: 'test-bot', ...options });
  return { dir, init };
}

/** Everything native git can see of a repository's refs: to prove a refused command changed nothing. */
export function refsSnapshot(repo: string): string {
  return git(repo, 'for-each-ref', '--format=%(refname) %(objectname)');
}

/** environments.yaml at a ref, byte for byte (no trimming). */
export function manifestAt(repo: string, ref = 'main'): string {
  return execFileSync('git', ['show', `${ref}:environments.yaml`], {
    cwd: repo,
    env: { ...process.env, ...TEST_ENV },
    encoding: 'utf8',
  });
}

/** The example bot: v1 with its content, v2 copied from v1, production -> v1, staging -> v2. */
export async function exampleBotRepo(prefix = 'botver-example-'): Promise<string> {
  const dir = tempDir(prefix);
  await buildExampleBot(dir);
  return dir;
}
