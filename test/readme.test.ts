import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, expectFsckClean, git, ROOT, TEST_ENV, tempDir } from './helpers.js';

// The README's workflow, run as written: the fenced `sh` block under "## Workflow" goes to bash
// (stopping at the first failing command) in a temporary folder, with `botver` on the PATH
// (this checkout's bin/botver.js, as `npm link` would put it), an EDITOR that writes real
// files, and a local bare repository standing in for the Git host the block pushes to (git's
// url.<base>.insteadOf, so the block keeps its realistic URL). Results are checked with native git.

/** The first fenced sh block after `heading` in README.md. */
function readmeBlock(heading: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`\n${heading}\n`);
  expect(at, `README.md has a "${heading}" section`).toBeGreaterThanOrEqual(0);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  expect(block, `"${heading}" has a sh block`).not.toBeNull();
  return block![1]!;
}

const INTENT = `slug: order-pizza
description: The user wants to order a pizza
expressions:
  - I want a pizza
  - can I order a pizza
  - a large pizza please
  - I would like to order a pizza
`;

const SKILL = `slug: order-pizza
triggers:
  - intent: order-pizza
actions:
  - reply: One pizza coming up!
  - end: true
`;

describe('README.md', () => {
  it('the Workflow block runs as written and does what its comments say', () => {
    const script = readmeBlock('## Workflow');
    const dir = tempDir();
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync(BIN, join(bin, 'botver'));
    // The editor a user would run, typing the new files' content.
    writeFileSync(join(dir, 'intent.yaml'), INTENT);
    writeFileSync(join(dir, 'skill.yaml'), SKILL);
    const editor = join(bin, 'editor');
    writeFileSync(
      editor,
      `#!/bin/sh
for f in "$@"; do
  case "$f" in
    training/intents/*) cp '${join(dir, 'intent.yaml')}' "$f" ;;
    skills/*) cp '${join(dir, 'skill.yaml')}' "$f" ;;
    *) echo "unexpected file $f" >&2; exit 1 ;;
  esac
done
`,
    );
    chmodSync(editor, 0o755);
    const remote = join(dir, 'host', 'awesome-bot.git');
    mkdirSync(remote, { recursive: true });
    git(remote, 'init', '--bare', '--quiet');
    const url = /git remote add origin (\S+)/.exec(script)?.[1];
    expect(url, 'the block adds a remote').toBeDefined();

    const run = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', script], {
      cwd: dir,
      encoding: 'utf8',
      env: {
        ...process.env,
        ...TEST_ENV,
        PATH: `${bin}:${process.env.PATH}`,
        EDITOR: editor,
        GIT_CONFIG_COUNT: '1',
        GIT_CONFIG_KEY_0: `url.${remote}.insteadOf`,
        GIT_CONFIG_VALUE_0: url!,
      },
    });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);

    const repo = join(dir, 'awesome-bot');
    // Every branch reached the "Git host", and the local branches are what was pushed.
    for (const branch of ['main', 'v1', 'v2'])
      expect(git(remote, 'rev-parse', branch)).toBe(git(repo, 'rev-parse', branch));
    // The edit is one commit on v2 holding the two new files, with what the editor wrote.
    expect(git(remote, 'log', '-1', '--format=%s', 'v2')).toBe('Pizza ordering');
    expect(git(remote, 'diff', '--name-only', 'v1', 'v2').split('\n').sort()).toEqual([
      'skills/order-pizza.yaml',
      'training/intents/order-pizza.yaml',
    ]);
    expect(git(remote, 'show', 'v2:skills/order-pizza.yaml')).toBe(SKILL.trimEnd());
    // The control branch: staging created, production promoted to v2's commit, then rolled back.
    const v2 = git(remote, 'rev-parse', 'v2');
    const log = git(remote, 'log', '--format=%s', 'main').split('\n');
    expect(log[0]).toMatch(/^roll back production to v1 \(was v2@/);
    expect(log[1]).toContain(`promote production to v2@${v2.slice(0, 7)}`);
    const manifest = git(remote, 'show', 'main:environments.yaml');
    expect(manifest).toMatch(/production:\n\s+version: v1\n/);
    expect(manifest).toMatch(/staging:\n\s+version: v2\n/);
    // What the commands printed: tokens once, a clean validation, the diff, the history.
    expect(run.stdout.match(/bvt_[\w-]{43}/g)).toHaveLength(4); // v1, production, v2, staging
    expect(run.stdout).toContain('0 errors');
    expect(run.stdout).toMatch(/\+ order-pizza/);
    expect(git(repo, 'status', '--porcelain')).toBe('');
    expectFsckClean(remote);
  });

  it('"Running botver": npx botver works from the checkout', () => {
    // npm link and npm install -g change the machine; the npx line is run as written.
    const lines = readmeBlock('## Running botver')
      .split('\n')
      .filter((line) => line.startsWith('npx botver'));
    expect(lines).toHaveLength(1);
    const run = spawnSync('bash', ['-e', '-c', lines[0]!], { cwd: ROOT, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Usage: botver/);
  });
});
