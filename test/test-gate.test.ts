import { describe, expect, it } from 'vitest';
import { BotverError } from '../src/errors.js';
import { openBotRepo } from '../src/ops/bot-repo.js';
import { commitFiles } from '../src/ops/content-commit.js';
import { type PromoteOptions, promote } from '../src/ops/environments.js';
import { testRefs } from '../src/ops/test-gate.js';
import { createVersion } from '../src/ops/versions.js';
import { botver, exampleBotRepo, git, newBotRepo, refsSnapshot } from './helpers.js';

// The policy around a version's tests (src/ops/test-gate.ts). The test gate of a promotion is the library's: `promote()` and `botver promote` must behave
// alike. Each step runs through both on two repositories built the same way; the outcomes, and
// the commits native git sees, must match once commit ids are masked.

/** What a promotion did, comparable across repositories (commit ids masked). */
type Outcome =
  | { promoted: true; warnings: string[]; subject: string; body: string; pinnedToSource: boolean }
  | { promoted: false; code: string; message: string; refsUnchanged: boolean };

const mask = (text: string) => text.replace(/\b[0-9a-f]{7,40}\b/g, '<sha>');

/** The commit native git sees at the control branch's head: subject and body, ids masked. */
function lastCommit(dir: string) {
  return {
    subject: mask(git(dir, 'log', '-1', '--format=%s', 'main')),
    body: mask(git(dir, 'log', '-1', '--format=%b', 'main')),
  };
}

/** Whether `to` is pinned, in environments.yaml as git has it, to the commit `from` serves (its head, here). */
function pinnedTo(dir: string, to: string, fromHead: string): boolean {
  const manifest = git(dir, 'show', 'main:environments.yaml');
  return new RegExp(`\\n  ${to}:\\n(    .*\\n)*?    commit: ${fromHead}\\n`).test(`${manifest}\n`);
}

type Driver = (dir: string, from: string, to: string, options: PromoteOptions) => Promise<Outcome>;

const viaLibrary: Driver = async (dir, from, to, options) => {
  const before = refsSnapshot(dir);
  const fromHead = git(dir, 'rev-parse', from === 'staging' ? 'v2' : from);
  try {
    const repo = await openBotRepo({ repo: dir, env: process.env });
    const r = await promote(repo, from, to, options);
    return {
      promoted: true,
      warnings: (r.warnings ?? []).map(mask),
      ...lastCommit(dir),
      pinnedToSource: pinnedTo(dir, to, fromHead),
    };
  } catch (err) {
    if (!(err instanceof BotverError)) throw err;
    return { promoted: false, code: err.code, message: mask(err.message), refsUnchanged: refsSnapshot(dir) === before };
  }
};

const viaCli: Driver = async (dir, from, to, options) => {
  const before = refsSnapshot(dir);
  const fromHead = git(dir, 'rev-parse', from === 'staging' ? 'v2' : from);
  const flags = [...(options.skipTests ? ['--skip-tests'] : []), ...(options.requireTests ? ['--require-tests'] : [])];
  const r = await botver(dir, '--json', 'promote', from, to, ...flags);
  const doc = JSON.parse(r.stdout);
  if (r.code === 0) {
    const warnings: string[] = doc.warnings ?? [];
    // Printed too, one line each on stderr.
    expect(r.stderr).toBe(warnings.map((w) => `botver: warning: ${w}\n`).join(''));
    return {
      promoted: true,
      warnings: warnings.map(mask),
      ...lastCommit(dir),
      pinnedToSource: pinnedTo(dir, to, fromHead),
    };
  }
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`botver: ${doc.error.message}\n`);
  return {
    promoted: false,
    code: doc.error.code,
    message: mask(doc.error.message),
    refsUnchanged: refsSnapshot(dir) === before,
  };
};

/** Runs one promotion through both drivers (library on `lib`, CLI on `cli`); they must agree. */
async function both(lib: string, cli: string, from: string, to: string, options: PromoteOptions = {}) {
  const [a, b] = [await viaLibrary(lib, from, to, options), await viaCli(cli, from, to, options)];
  expect(b, `botver promote ${from} ${to} ${JSON.stringify(options)}`).toEqual(a);
  return a;
}

const failingTest = 'utterances:\n  - text: hello there\n    intent: order-pizza\n';

describe('promote through the library and through the CLI', () => {
  it('refuses on failing tests, records a skip, promotes on passing tests: identically', async () => {
    const [lib, cli] = [await exampleBotRepo(), await exampleBotRepo()];
    for (const dir of [lib, cli]) {
      await commitFiles(await openBotRepo({ repo: dir }), 'v2', { 'tests/wrong.yaml': failingTest }, 'a wrong test');
    }

    // Arguments are checked before any test runs.
    expect(await both(lib, cli, 'staging', 'nowhere')).toEqual({
      promoted: false,
      code: 'NOT_FOUND',
      message: 'environment "nowhere" does not exist',
      refsUnchanged: true,
    });

    expect(await both(lib, cli, 'staging', 'production')).toEqual({
      promoted: false,
      code: 'TESTS_FAILED',
      message: expect.stringMatching(
        /^refused: 1 of \d+ tests of staging \(<sha>\) fail; fix them or promote with --skip-tests$/,
      ),
      refsUnchanged: true,
    });

    expect(await both(lib, cli, 'staging', 'production', { skipTests: true })).toEqual({
      promoted: true,
      warnings: [],
      subject: 'promote production to v2@<sha> (was v1), from staging (tests skipped with --skip-tests)',
      body: '',
      pinnedToSource: true,
    });

    expect(await both(lib, cli, 'v1', 'staging')).toEqual({
      promoted: true,
      warnings: [],
      subject: 'promote staging to v1@<sha> (was v2), from v1',
      body: '',
      pinnedToSource: true,
    });
  });

  it('warns when the source has no tests, and refuses with requireTests: identically', async () => {
    const repos = [(await newBotRepo()).dir, (await newBotRepo()).dir];
    for (const dir of repos) await createVersion(await openBotRepo({ repo: dir }), 'v2', 'v1');
    const [lib, cli] = repos as [string, string];

    expect(await both(lib, cli, 'v2', 'production', { requireTests: true })).toEqual({
      promoted: false,
      code: 'TESTS_FAILED',
      message:
        'refused: v2 (<sha>) has no tests (tests/*.yaml) and tests are required (--require-tests); add tests or promote without --require-tests',
      refsUnchanged: true,
    });

    expect(await both(lib, cli, 'v2', 'production')).toEqual({
      promoted: true,
      warnings: ['v2 (<sha>) has no tests (tests/*.yaml): nothing was checked'],
      subject: 'promote production to v2@<sha> (was v1), from v2',
      body: '',
      pinnedToSource: true,
    });
  });
});

describe('botver test on a version without tests', () => {
  it('passes with a warning; --require-tests (requireTests) fails it', async () => {
    const { dir } = await newBotRepo();
    const short = git(dir, 'rev-parse', '--short=7', 'v1');
    const warning = `v1 (${short}) has no tests (tests/*.yaml): nothing was checked`;
    const refusal = `v1 (${short}) has no tests (tests/*.yaml) and tests are required (--require-tests)`;

    const warned = await botver(dir, 'test', 'v1');
    expect([warned.code, warned.stderr]).toEqual([0, `botver: warning: ${warning}\n`]);
    expect(warned.stdout).toBe(`v1 (${short}): 0 passed, 0 failed\n`);
    const refused = await botver(dir, 'test', '--require-tests');
    expect([refused.code, refused.stderr]).toEqual([1, `botver: ${refusal}\n`]);

    // The library says the same, as data.
    const repo = await openBotRepo({ repo: dir });
    expect(await testRefs(repo, ['v1'])).toMatchObject({ warnings: [warning], refusals: [], ok: true });
    expect(await testRefs(repo, [], { requireTests: true })).toMatchObject({
      warnings: [],
      refusals: [refusal],
      ok: false,
    });
    const json = await botver(dir, '--json', 'test', '--require-tests');
    expect(JSON.parse(json.stdout)).toMatchObject({ warnings: [], refusals: [refusal], ok: false });
  });
});
