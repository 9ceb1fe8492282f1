import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openBotRepo } from '../src/ops/bot-repo.js';
import { commitFiles } from '../src/ops/content-commit.js';
import { botver, git, refsSnapshot, exampleBotRepo, sharedRepo } from './helpers.js';

// `botver validate` against examples/awesome-bot turned into a repository, then broken on
// purpose, one problem per branch made with native git: every problem must come out as
// `ref:file:line:column message` at the line a reader would look at, with exit code 1.

// Built once for the file; every test breaks its own copy.
const exampleRepo = sharedRepo(() => exampleBotRepo('botver-validate-'));

/** New content, null to delete, or a function of the current content. */
type Edit = string | null | ((old: string) => string);

/**
 * With native git in the work tree: check out `branch` (created from `from` when given),
 * apply the edits, commit, and go back to main. Returns each edited file's new content.
 */
function commitWithGit(
  dir: string,
  branch: string,
  from: string | null,
  edits: Record<string, Edit>,
): Map<string, string> {
  git(dir, 'checkout', '-q', ...(from ? ['-b', branch, from] : [branch]));
  const written = new Map<string, string>();
  for (const [path, edit] of Object.entries(edits)) {
    const file = join(dir, path);
    if (edit === null) {
      rmSync(file);
      continue;
    }
    const text = typeof edit === 'function' ? edit(readFileSync(file, 'utf8')) : edit;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    written.set(path, text);
  }
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', `break ${branch}`);
  git(dir, 'checkout', '-q', 'main');
  return written;
}

/** Replaces exactly one occurrence of `from`, so a test never edits a line it did not mean to. */
function replaceOnce(from: string, to: string): (old: string) => string {
  return (old) => {
    const at = old.indexOf(from);
    if (at === -1 || old.indexOf(from, at + 1) !== -1) throw new Error(`"${from}" is not in the file exactly once`);
    return old.slice(0, at) + to + old.slice(at + from.length);
  };
}

/** 1-based line and column of `needle` on the first line that starts with it (after indentation and "- "). */
function positionOf(text: string, needle: string): { line: number; column: number } {
  const lines = text.split('\n');
  const index = lines.findIndex((l) => l.trimStart().replace(/^- /, '').startsWith(needle));
  if (index === -1) throw new Error(`no line starts with "${needle}"`);
  return { line: index + 1, column: lines[index]!.indexOf(needle) + 1 };
}

interface Reported {
  ref: string;
  file: string;
  line: number;
  column: number;
  message: string;
}

/** The `ref:file:line:column message` lines of validate's text output, warnings left out. */
function reportedErrors(stdout: string): Reported[] {
  return stdout
    .split('\n')
    .map((l) => /^([^:\s]+):([^:\s]+):(\d+):(\d+) (.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && !m[5]!.startsWith('warning: '))
    .map((m) => ({ ref: m[1]!, file: m[2]!, line: Number(m[3]), column: Number(m[4]), message: m[5]! }));
}

/** Runs validate and checks it left every ref and the work tree as they were. */
async function validateUnchanged(dir: string, ...args: string[]) {
  const [refs, status] = [refsSnapshot(dir), git(dir, 'status', '--porcelain')];
  const result = await botver(dir, 'validate', ...args);
  expect(refsSnapshot(dir)).toBe(refs);
  expect(git(dir, 'status', '--porcelain')).toBe(status);
  return result;
}

interface Expected {
  file: string;
  /** Where: the start of the line holding this text in the file as committed, or [line, column]. */
  at: string | [number, number];
  message: RegExp;
}

interface Case {
  title: string;
  /** Edits on a branch made from v1 (content) or from main (manifest). */
  edits: (dir: string) => Record<string, Edit>;
  errors: Expected[];
  /** The parser adds errors of its own after the first one, all on the same line. */
  followOn?: boolean;
}

const GREETINGS = 'training/intents/greetings.yaml';

const contentCases: Case[] = [
  {
    title: 'malformed YAML: a key given twice',
    edits: () => ({
      [GREETINGS]: 'slug: greetings\ndescription: The user says hello\nexpressions:\n  - Hello\ndescription: twice\n',
    }),
    errors: [{ file: GREETINGS, at: 'description: twice', message: /^YAML: Map keys must be unique/ }],
  },
  {
    title: 'malformed YAML: a tab as indentation',
    edits: () => ({ [GREETINGS]: replaceOnce('  - hi there\n', '\t- hi there\n') }),
    errors: [{ file: GREETINGS, at: [6, 1], message: /^YAML: Tabs are not allowed as indentation/ }],
    followOn: true,
  },
  {
    title: 'malformed YAML: an unquoted ": " inside an expression',
    edits: () => ({ [GREETINGS]: replaceOnce('  - hiya\n', '  - note: hi: there\n') }),
    errors: [{ file: GREETINGS, at: [9, 11], message: /^YAML: Nested mappings are not allowed/ }],
  },
  {
    title: 'an unknown key',
    edits: () => ({
      [GREETINGS]: replaceOnce('description: The user says hello\n', 'description: The user says hello\ncolour: red\n'),
    }),
    errors: [{ file: GREETINGS, at: 'colour: red', message: /^unknown key "colour"$/ }],
  },
  {
    title: 'an intent without expressions',
    edits: () => ({ [GREETINGS]: '# no expressions yet\nslug: greetings\ndescription: The user says hello\n' }),
    errors: [{ file: GREETINGS, at: 'slug: greetings', message: /^missing required key "expressions"$/ }],
  },
  {
    title: 'a slug that is not a valid slug',
    edits: () => ({ [GREETINGS]: replaceOnce('slug: greetings\n', 'slug: Greetings!\n') }),
    errors: [{ file: GREETINGS, at: 'slug: Greetings!', message: /^slug: must match pattern/ }],
  },
  {
    title: 'a slug that does not match the file name',
    edits: () => ({ 'training/intents/hello.yaml': '# says hello\nslug: hi-there\nexpressions:\n  - well hello\n' }),
    errors: [
      {
        file: 'training/intents/hello.yaml',
        at: 'slug: hi-there',
        message: /^slug "hi-there" does not match the file name; name the file hi-there\.yaml$/,
      },
    ],
  },
  {
    title: 'two intents with one slug',
    edits: () => ({
      'training/intents/greetings.yml': 'description: a copy\nslug: greetings\nexpressions:\n  - well hello\n',
    }),
    errors: [
      {
        file: 'training/intents/greetings.yml',
        at: 'slug: greetings',
        message: /^duplicate intent slug "greetings", also in training\/intents\/greetings\.yaml$/,
      },
    ],
  },
  {
    title: 'a skill triggering on a missing intent',
    edits: () => ({ 'skills/thanks.yaml': replaceOnce('  - intent: thanks\n', '  - intent: thank-you\n') }),
    errors: [
      {
        file: 'skills/thanks.yaml',
        at: 'intent: thank-you',
        message: /^skill "thanks" triggers on intent "thank-you", which does not exist$/,
      },
    ],
  },
  {
    title: 'a requirement on a missing entity',
    edits: () => ({
      'skills/order-pizza.yaml': replaceOnce('  - entity: pizza-topping\n', '  - entity: pizza-crust\n'),
    }),
    errors: [
      {
        file: 'skills/order-pizza.yaml',
        at: 'entity: pizza-crust',
        message: /^skill "order-pizza" requires entity "pizza-crust", which does not exist$/,
      },
    ],
  },
  {
    title: 'an entity with both values and a regex',
    edits: () => ({ 'training/entities/pizza-size.yaml': (old) => `${old}regex: '\\d+ inch'\n` }),
    errors: [
      {
        file: 'training/entities/pizza-size.yaml',
        at: 'regex:',
        message: /^has both "values" and "regex"; use exactly one of "values", "regex"$/,
      },
    ],
  },
  {
    title: 'an entity with neither values nor a regex',
    edits: () => ({ 'training/entities/pizza-size.yaml': 'slug: pizza-size\ndescription: Size of a pizza\n' }),
    errors: [{ file: 'training/entities/pizza-size.yaml', at: [1, 1], message: /^needs one of "values", "regex"$/ }],
  },
  {
    title: 'an invalid regular expression',
    edits: () => ({
      'training/entities/order-number.yaml': replaceOnce("regex: '#?[A-Z]{2}\\d{4}'", "regex: '#?[A-Z]{2}(\\d{4}'"),
    }),
    errors: [{ file: 'training/entities/order-number.yaml', at: 'regex:', message: /^invalid regular expression: / }],
  },
  {
    title: 'two fallback skills',
    edits: () => ({
      'skills/second-fallback.yaml':
        'slug: second-fallback\ndescription: another one\nfallback: true\nactions:\n  - reply: Pardon?\n',
    }),
    errors: [
      {
        file: 'skills/second-fallback.yaml',
        at: 'fallback: true',
        message: /^more than one fallback skill \(first: skills\/fallback\.yaml\)$/,
      },
    ],
  },
  {
    title: 'a test expecting a missing intent',
    edits: () => ({
      'tests/extra.yaml': 'description: more tests\nutterances:\n  - text: cheers mate\n    intent: gratitude\n',
    }),
    errors: [
      { file: 'tests/extra.yaml', at: 'intent: gratitude', message: /^expected intent "gratitude" does not exist$/ },
    ],
  },
];

const manifestCases: Case[] = [
  {
    title: 'an environment naming a missing version',
    edits: () => ({ 'environments.yaml': replaceOnce('    version: v2\n', '    version: v9\n') }),
    errors: [
      {
        file: 'environments.yaml',
        at: 'version: v9',
        message: /^environment "staging" is linked to version "v9", which is not declared under versions$/,
      },
    ],
  },
  {
    title: "a pin that is not a commit of its version's branch",
    edits: (dir) => {
      const elsewhere = git(dir, 'rev-parse', 'main');
      return { 'environments.yaml': replaceOnce('    version: v1\n', `    version: v1\n    commit: ${elsewhere}\n`) };
    },
    errors: [
      {
        file: 'environments.yaml',
        at: 'commit:',
        message:
          /^environment "production" is pinned to [0-9a-f]{12}, which is not a commit of version "v1" \(branch v1\)$/,
      },
    ],
  },
  {
    title: 'more versions than maxVersions',
    edits: () => ({ 'environments.yaml': replaceOnce('maxVersions: 5\n', 'maxVersions: 1\n') }),
    errors: [
      { file: 'environments.yaml', at: 'versions:', message: /^2 versions declared, more than maxVersions \(1\)/ },
    ],
  },
  {
    title: 'a version declared without a branch',
    edits: () => ({
      'environments.yaml': replaceOnce(
        'environments:\n',
        `  v3:\n    tokenSha256: ${'ab'.repeat(32)}\nenvironments:\n`,
      ),
    }),
    errors: [
      {
        file: 'environments.yaml',
        at: 'v3:',
        message: /^version "v3" is declared but its branch refs\/heads\/v3 does not exist$/,
      },
    ],
  },
  {
    title: 'an unknown key in environments.yaml',
    edits: () => ({ 'environments.yaml': replaceOnce('    version: v2\n', '    version: v2\n    colour: blue\n') }),
    errors: [
      { file: 'environments.yaml', at: 'colour: blue', message: /^environments\.staging: unknown key "colour"$/ },
    ],
  },
];

function expectReported(
  stdout: string,
  ref: string,
  written: Map<string, string>,
  dir: string,
  branch: string,
  expected: Expected[],
  followOn = false,
): void {
  let reported = reportedErrors(stdout);
  if (followOn) {
    expect(new Set(reported.map((r) => `${r.file}:${r.line}`)).size, stdout).toBe(1);
    reported = reported.slice(0, 1);
  }
  const content = (file: string) => written.get(file) ?? git(dir, 'show', `${branch}:${file}`);
  const want = expected.map((e) => {
    const at = typeof e.at === 'string' ? positionOf(content(e.file), e.at) : { line: e.at[0], column: e.at[1] };
    return { ref, file: e.file, line: at.line, column: at.column };
  });
  expect(reported.map(({ message: _, ...where }) => where)).toEqual(want);
  reported.forEach((r, i) => {
    expect(r.message).toMatch(expected[i]!.message);
  });
  const errors = followOn ? reportedErrors(stdout).length : expected.length;
  expect(stdout).toContain(`${errors} error${errors === 1 ? '' : 's'}, `);
}

describe('botver validate', () => {
  it('passes on the example bot: manifest, v1 and v2', async () => {
    const dir = exampleRepo();
    const r = await validateUnchanged(dir);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(
      /^0 errors, 0 warnings in main \(manifest at [0-9a-f]{7}\), v1 \(version at [0-9a-f]{7}\), v2 \(version at [0-9a-f]{7}\)$/,
    );
    expect(r.code).toBe(0);
  });

  describe('reports broken content at the right line, exit 1', () => {
    it.each(contentCases)('$title', async ({ edits, errors, followOn }) => {
      const dir = exampleRepo();
      const written = commitWithGit(dir, 'broken', 'v1', edits(dir));
      const r = await validateUnchanged(dir, 'broken');
      expect(r.code, r.stdout).toBe(1);
      expectReported(r.stdout, 'broken', written, dir, 'broken', errors, followOn);
    });
  });

  describe('reports manifest problems at the right line, exit 1', () => {
    it.each(manifestCases)('$title', async ({ edits, errors }) => {
      const dir = exampleRepo();
      const written = commitWithGit(dir, 'broken', 'main', edits(dir));
      const r = await validateUnchanged(dir, 'broken');
      expect(r.code, r.stdout).toBe(1);
      expectReported(r.stdout, 'broken', written, dir, 'broken', errors);
    });
  });

  it('without refs, checks the control branch and every version as they are now', async () => {
    const dir = exampleRepo();
    const onV2 = commitWithGit(dir, 'v2', null, contentCases.find((c) => c.title === 'an unknown key')!.edits(dir));
    const r1 = await validateUnchanged(dir);
    expect(r1.code).toBe(1);
    expectReported(r1.stdout, 'v2', onV2, dir, 'v2', [
      { file: GREETINGS, at: 'colour: red', message: /^unknown key "colour"$/ },
    ]);

    const onMain = commitWithGit(dir, 'main', null, manifestCases[0]!.edits(dir));
    const r2 = await validateUnchanged(dir);
    expect(r2.code).toBe(1);
    // A manifest rule problem does not hide the versions' own problems: both are reported.
    const line = positionOf(onMain.get('environments.yaml')!, 'version: v9');
    expect(r2.stdout).toContain(
      `main:environments.yaml:${line.line}:${line.column} environment "staging" is linked to version "v9"`,
    );
    expect(r2.stdout).toMatch(/^2 errors, 0 warnings in main /m);
    expect(r2.stdout).toMatch(/^v2:training\/intents\/greetings\.yaml:\d+:\d+ unknown key "colour"$/m);
  });

  it('accepts a requirement on a builtin entity such as number', async () => {
    const dir = exampleRepo();
    commitWithGit(dir, 'builtin', 'v1', {
      'skills/order-pizza.yaml': replaceOnce(
        'actions:\n',
        '  - entity: number\n    alias: count\n    ask: How many pizzas?\nactions:\n',
      ),
    });
    const r = await validateUnchanged(dir, 'builtin');
    expect(r.stdout).toMatch(/^0 errors, 0 warnings in builtin \(version at [0-9a-f]{7}\)$/m);
    expect(r.code).toBe(0);
  });

  it('accepts a pin on a commit of the version', async () => {
    const dir = exampleRepo();
    const v1 = git(dir, 'rev-parse', 'v1');
    commitWithGit(dir, 'main', null, {
      'environments.yaml': replaceOnce('    version: v1\n', `    version: v1\n    commit: ${v1}\n`),
    });
    const r = await validateUnchanged(dir);
    expect(r.stdout).toMatch(/^0 errors, 0 warnings in main \(manifest at [0-9a-f]{7}\), v1 .*, v2 /m);
    expect(r.code).toBe(0);
  });

  it('--format github prints one Actions annotation per problem', async () => {
    const dir = exampleRepo();
    commitWithGit(dir, 'broken', 'v1', {
      'skills/thanks.yaml': replaceOnce('  - intent: thanks\n', '  - intent: thank-you\n'),
      'training/entities/order-number.yaml': replaceOnce("regex: '#?[A-Z]{2}\\d{4}'", "regex: '#?[A-Z]{2}(\\d{4}'"),
    });
    const r = await validateUnchanged(dir, 'broken', '--format', 'github');
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const parsed = lines.map((l) => /^::error file=([^,]+),line=(\d+),col=(\d+)(?:,title=[^:]*)?::(.+)$/.exec(l));
    expect(parsed.every(Boolean), r.stdout).toBe(true);
    expect(parsed.map((m) => [m![1], Number(m![2]), Number(m![3])])).toEqual([
      ['training/entities/order-number.yaml', 3, 1],
      ['skills/thanks.yaml', 4, 5],
    ]);
    expect(parsed[1]![4]).toBe('skill "thanks" triggers on intent "thank-you", which does not exist');
    expect(r.stdout).not.toContain('errors,'); // annotations only: the log stays machine-readable
  });

  it('--json and --format json print one parseable report', async () => {
    const dir = exampleRepo();
    commitWithGit(dir, 'broken', 'v1', {
      'skills/thanks.yaml': replaceOnce('  - intent: thanks\n', '  - intent: thank-you\n'),
    });
    for (const flags of [['--json'], ['--format', 'json']]) {
      const r = await validateUnchanged(dir, 'broken', ...flags);
      expect(r.code).toBe(1);
      const report = JSON.parse(r.stdout);
      expect(report).toMatchObject({ errors: 1, warnings: 0 });
      expect(report.targets).toEqual([
        {
          ref: 'broken',
          kind: 'version',
          commit: git(dir, 'rev-parse', 'broken'),
          problems: [
            {
              file: 'skills/thanks.yaml',
              line: 4,
              column: 5,
              message: 'skill "thanks" triggers on intent "thank-you", which does not exist',
              severity: 'error',
              ref: 'broken',
            },
          ],
        },
      ]);
    }
    const clean = await validateUnchanged(dir, '--json');
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.stdout)).toMatchObject({ errors: 0, warnings: 0 });
  });

  it('validates a ref as a manifest when its tree has environments.yaml, otherwise as a version', async () => {
    const dir = exampleRepo();
    git(dir, 'tag', 'release-1', 'v1');
    const r = await validateUnchanged(
      dir,
      'main',
      'v1',
      'release-1',
      'v2~1',
      git(dir, 'rev-parse', '--short', 'main'),
      '--json',
    );
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.targets.map((t: { ref: string; kind: string }) => [t.ref, t.kind])).toEqual([
      ['main', 'manifest'],
      ['v1', 'version'],
      ['release-1', 'version'],
      ['v2~1', 'version'],
      [git(dir, 'rev-parse', '--short', 'main'), 'manifest'],
    ]);
    expect(report.targets[3].commit).toBe(git(dir, 'rev-parse', 'v2~1'));
    // A version branch holding content that is not a manifest is never read as one, and vice versa.
    const asVersion = await validateUnchanged(dir, 'v1');
    expect(asVersion.stdout).toContain('v1 (version at');
  });

  it('an unknown ref exits 1 naming it', async () => {
    const dir = exampleRepo();
    const r = await validateUnchanged(dir, 'no-such-ref');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no-such-ref');
  });

  it('refuses names every JavaScript object has as slugs and memory keys', async () => {
    const dir = exampleRepo();
    await commitFiles(
      await openBotRepo({ repo: dir }),
      'v2',
      {
        'training/entities/constructor.yaml': 'slug: constructor\nvalues:\n  - value: mason\n',
        'skills/proto.yaml':
          'slug: proto\ntriggers:\n  - intent: greetings\nrequirements:\n  - entity: number\n    alias: __proto__\n    ask: How many?\nactions:\n  - reply: ok\n',
      },
      'reserved names',
    );
    const r = await botver(dir, 'validate', 'v2');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/training\/entities\/constructor\.yaml:1:\d+ slug "constructor" is reserved/);
    expect(r.stdout).toMatch(/skills\/proto\.yaml:\d+:\d+ alias "__proto__" is reserved/);
  });
});
