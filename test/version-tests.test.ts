import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { botver, exampleBotRepo, git, manifestAt, ok, refsSnapshot } from './helpers.js';
import { openBotRepo } from '../src/ops/bot-repo.js';
import { commitFiles } from '../src/ops/content-commit.js';
import { MODEL_FORMAT } from '../src/nlu/engine.js';

// `botver test` and the test gate of `botver promote`, on real repositories.

const failingTest = `utterances:
  - text: hello there
    intent: order-pizza
`;

describe('botver test', () => {
  it('runs the example bot tests: all pass, with intent accuracy, and caches the model in the git directory', async () => {
    const dir = await exampleBotRepo();
    const r = await botver(dir, 'test', 'v1');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^pass {2}tests\/smoke\.yaml: utterance 1 "hello there"$/m);
    expect(r.stdout).toMatch(
      /^pass {2}tests\/smoke\.yaml: conversation "orders a pizza step by step", step 4 "pepperoni"$/m,
    );
    expect(r.stdout).toMatch(
      new RegExp(
        `^v1 \\(${git(dir, 'rev-parse', '--short=7', 'v1')}\\): \\d+ passed, 0 failed, intent accuracy 100\\.0% \\(\\d+ utterances\\)$`,
        'm',
      ),
    );
    const models = join(dir, '.git', 'botver', 'models');
    expect(readdirSync(models)).toEqual([`${git(dir, 'rev-parse', 'v1')}.v${MODEL_FORMAT}.json`]);
    // Tests every version's head without a ref; --json gives the reports.
    const all = await ok(dir, 'test', '--json');
    expect(all.reports.map((x: { ref: string; failed: number }) => [x.ref, x.failed])).toEqual([
      ['v1', 0],
      ['v2', 0],
    ]);
  });

  it('reports failures with what was expected, exit 1; an environment ref tests what it serves', async () => {
    const dir = await exampleBotRepo();
    await commitFiles(await openBotRepo({ repo: dir }), 'v2', { 'tests/wrong.yaml': failingTest }, 'a wrong test');
    const r = await botver(dir, 'test', 'staging');
    expect(r.code).toBe(1);
    // What came, with its confidence.
    expect(r.stdout).toMatch(
      /FAIL {2}tests\/wrong\.yaml: utterance 1 "hello there"\n {8}intent greetings \(0\.\d+\), expected order-pizza/,
    );
    expect(r.stdout).toMatch(/staging \([0-9a-f]{7}\): \d+ passed, 1 failed/);
    expect((await botver(dir, 'test', 'production')).code).toBe(0);
  });

  it('says why a message got no intent: below the threshold, or the out-of-scope examples won', async () => {
    const dir = await exampleBotRepo();
    const file = `utterances:
  - text: will it rain on friday
    intent: ask-menu
  - text: zorblat quimvex
    intent: greetings
`;
    await commitFiles(await openBotRepo({ repo: dir }), 'v2', { 'tests/why.yaml': file }, 'why none');
    const r = await botver(dir, 'test', 'v2');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/intent none \(the out-of-scope examples won, 0\.\d+\), expected ask-menu/);
    expect(r.stdout).toMatch(/intent none \(best [a-z-]+, 0\.\d+ < 0\.5\), expected greetings/);
  });

  it('reports per-intent precision and recall and what was mistaken for what; a file may set a minimum intent accuracy', async () => {
    const dir = await exampleBotRepo();
    // Four utterances: two right, two taken for another intent than the one written.
    const scored = (min: string) => `minIntentAccuracy: ${min}
utterances:
  - text: hello there
    intent: greetings
  - text: what is on the menu?
    intent: ask-menu
  - text: hi
    intent: thanks
  - text: good morning
    intent: thanks
`;
    const repo = await openBotRepo({ repo: dir });
    await commitFiles(repo, 'v2', { 'tests/scored.yaml': scored('0.5') }, 'scored together');
    const passing = await botver(dir, 'test', 'v2');
    expect(passing.code, passing.stdout).toBe(0);
    expect(passing.stdout).toContain('pass  tests/scored.yaml: intent accuracy 50.0% (2 of 4), at least 50.0%');
    expect(passing.stdout).toMatch(
      /miss {2}tests\/scored\.yaml: utterance 3 "hi"\n {8}intent greetings \(0\.\d+\), expected thanks \(counted in the file's accuracy\)/,
    );
    expect(passing.stdout).toMatch(/: \d+ passed \(2 of them missed, counted in their file's accuracy\), 0 failed/);
    expect(passing.stdout).toMatch(/^intent +precision +recall +utterances$/m);
    expect(passing.stdout).toMatch(/^thanks +\d+% +\d+% +\d+$/m);
    expect(passing.stdout).toContain('thanks -> greetings: 2 ("hi", "good morning")');
    const { reports } = await ok(dir, 'test', 'v2', '--json');
    const report = reports[0];
    expect(report.confusions).toEqual([
      { expected: 'thanks', got: 'greetings', count: 2, texts: ['hi', 'good morning'] },
    ]);
    const byIntent = Object.fromEntries(report.intents.map((i: { intent: string }) => [i.intent, i]));
    // greetings: smoke.yaml's utterances and scored.yaml's, 2 of them wrongly predicted.
    expect(byIntent.greetings.recall).toBe(1);
    expect(byIntent.greetings.precision).toBeCloseTo(byIntent.greetings.right / (byIntent.greetings.right + 2));
    expect(byIntent.thanks).toMatchObject({
      expected: 2 + byIntent.thanks.right,
      predicted: byIntent.thanks.right,
      recall: expect.any(Number),
    });

    await commitFiles(repo, 'v2', { 'tests/scored.yaml': scored('0.75') }, 'stricter');
    const failing = await botver(dir, 'test', 'v2');
    expect(failing.code).toBe(1);
    expect(failing.stdout).toContain(
      'FAIL  tests/scored.yaml: intent accuracy 50.0% (2 of 4), at least 75.0%\n        2 of 4 utterances got their intent; at least 3 must',
    );
  });
});

describe('botver promote runs the tests first', () => {
  it('refuses when the source fails its tests, changing nothing; --skip-tests promotes and says so', async () => {
    const dir = await exampleBotRepo();
    await commitFiles(await openBotRepo({ repo: dir }), 'v2', { 'tests/wrong.yaml': failingTest }, 'a wrong test');
    const before = refsSnapshot(dir);
    const refused = await botver(dir, 'promote', 'staging', 'production');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /refused: 1 of \d+ tests of staging \([0-9a-f]{7}\) fail; fix them or promote with --skip-tests/,
    );
    expect(refused.stderr).toContain('FAIL  tests/wrong.yaml');
    expect(refsSnapshot(dir)).toBe(before);

    const json = await botver(dir, '--json', 'promote', 'staging', 'production');
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'TESTS_FAILED', report: { failed: 1 } });

    await ok(dir, 'promote', 'staging', 'production', '--skip-tests');
    expect(git(dir, 'log', '-1', '--format=%s', 'main')).toMatch(
      /^promote production to v2@[0-9a-f]{7} \(was v1\), from staging \(tests skipped with --skip-tests\)$/,
    );
    expect(manifestAt(dir)).toMatch(/production:\n\s+version: v2\n\s+commit: [0-9a-f]{40}\n/);
  });

  it('promotes when the tests pass', async () => {
    const dir = await exampleBotRepo();
    const out = await ok(dir, 'promote', 'staging', 'production');
    expect(out).toMatch(/^Promoted production to v2@[0-9a-f]{7} from staging \(was v1\); commit [0-9a-f]{7}\.$/m);
    expect(git(dir, 'log', '-1', '--format=%s', 'main')).not.toContain('skipped');
    expect(existsSync(join(dir, '.git', 'botver', 'models'))).toBe(true);
  });
});

describe('botver test: rendering and the model cache', () => {
  it('renders {{nlp.…}} templates as the resolver does', async () => {
    const dir = await exampleBotRepo();
    await commitFiles(
      await openBotRepo({ repo: dir }),
      'v2',
      {
        'skills/greetings.yaml':
          'slug: greetings\ntriggers:\n  - intent: greetings\nactions:\n  - reply: "You said {{nlp.source}} ({{nlp.intents.0.description}}, {{nlp.act}})"\n',
        'tests/echo.yaml':
          'conversations:\n  - name: echo\n    steps:\n      - say: hello\n        expect: ["You said hello (The user says hello, assert)"]\n',
      },
      'an echoing greeting',
    );
    const r = await botver(dir, 'test', 'v2');
    expect(r.stdout).toContain('pass  tests/echo.yaml: conversation "echo", step 1 "hello"');
  });

  it('trains again over a corrupt cached model instead of failing', async () => {
    const { writeFileSync } = await import('node:fs');
    const dir = await exampleBotRepo();
    await ok(dir, 'test', 'v1');
    writeFileSync(
      join(dir, '.git', 'botver', 'models', `${git(dir, 'rev-parse', 'v1')}.v${MODEL_FORMAT}.json`),
      '{"format": 3, "nlp": ',
    );
    const r = await botver(dir, 'test', 'v1');
    expect([r.code, r.stderr]).toEqual([0, '']);
  });
});

describe('botver promote: before the tests', () => {
  it('checks its arguments before running the tests', async () => {
    const dir = await exampleBotRepo();
    const r = await botver(dir, 'promote', 'staging', 'nowhere');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('botver: environment "nowhere" does not exist\n');
  });
});
