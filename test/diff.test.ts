import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { botver, git, ok, refsSnapshot, exampleBotRepo } from './helpers.js';

// `botver diff A B`: what a reviewer needs before a promotion — intents added, removed or
// changed (expression by expression), entities, skills and tests — between versions,
// environments (what each serves now, pins included) or any commit.

const exampleRepo = () => exampleBotRepo('botver-diff-');

function edit(dir: string, path: string, from: string, to: string): void {
  const file = join(dir, path);
  const text = readFileSync(file, 'utf8');
  if (text.split(from).length !== 2) throw new Error(`"${from}" is not in ${path} exactly once`);
  writeFileSync(file, text.replace(from, to));
}

const OLD_GREETING =
  "Hello! I'm Awesome Bot. I can take your pizza order, show you the menu or tell you our opening hours.";
const NEW_GREETING = 'Hi, welcome to Awesome Pizza! What can I get you?';

/** One commit on v2, made with native git in the work tree: one change of every kind. */
function editV2(dir: string): string {
  git(dir, 'checkout', '-q', 'v2');
  // An intent gains two expressions and loses one.
  edit(dir, 'training/intents/greetings.yaml', '  - hi\n', '  - hi\n  - hello again\n  - heya\n');
  edit(dir, 'training/intents/greetings.yaml', '  - yo\n', '');
  // A new intent, an intent gone.
  writeFileSync(
    join(dir, 'training/intents/ask-price.yaml'),
    'slug: ask-price\nexpressions:\n  - how much is a pizza?\n',
  );
  rmSync(join(dir, 'training/intents/thanks.yaml'));
  // An entity's synonyms change.
  edit(
    dir,
    'training/entities/pizza-size.yaml',
    '[big, xl, family, 14 inch, huge]',
    '[big, xl, family, 14 inch, huge, jumbo]',
  );
  edit(dir, 'training/entities/pizza-size.yaml', '[little, personal, 10 inch, mini]', '[little, personal, 10 inch]');
  // A skill's reply changes.
  edit(dir, 'skills/greetings.yaml', OLD_GREETING, NEW_GREETING);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'v2: greetings, prices, no thanks, jumbo');
  git(dir, 'checkout', '-q', 'main');
  return git(dir, 'rev-parse', 'v2');
}

/** The item lines (`  + slug`, `  - slug`, `  ~ slug`) of each section of the text output. */
function items(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let section = '';
  for (const line of text.split('\n')) {
    if (/^[a-z]+:$/.test(line)) out[(section = line.slice(0, -1))] = [];
    else if (/^ {2}[+~-] /.test(line)) out[section]!.push(line.trim());
  }
  return out;
}

/** The detail lines under `  ~ slug`, indentation removed. */
function details(text: string, section: string, slug: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(`${section}:`);
  const at = lines.indexOf(`  ~ ${slug}`, start);
  if (start === -1 || at === -1) throw new Error(`no "~ ${slug}" under ${section}:\n${text}`);
  const out: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (!line.startsWith('      ')) break;
    out.push(line.slice(6));
  }
  return out;
}

/** Only the +/- lines of a unified diff, as "+ text" / "- text" with the YAML indentation dropped. */
const changedLines = (lines: string[]) =>
  lines.filter((l) => /^[+-]/.test(l)).map((l) => `${l[0]} ${l.slice(1).trim()}`);

describe('botver diff', () => {
  it('shows exactly what changed between two versions, in text and in JSON', async () => {
    const dir = await exampleRepo();
    const [v1, v2] = [git(dir, 'rev-parse', 'v1'), editV2(dir)];
    const refs = refsSnapshot(dir);

    const text = await ok(dir, 'diff', 'v1', 'v2');
    expect(text.split('\n')[0]).toBe(`diff v1 (${v1.slice(0, 7)}) -> v2 (${v2.slice(0, 7)})`);
    expect(items(text)).toEqual({
      intents: ['+ ask-price', '- thanks', '~ greetings'],
      entities: ['~ pizza-size'],
      skills: ['~ greetings'],
    });
    expect(details(text, 'intents', 'greetings')).toEqual(['+ hello again', '+ heya', '- yo']);
    expect(changedLines(details(text, 'entities', 'pizza-size'))).toEqual(['- - mini', '+ - jumbo']);
    expect(changedLines(details(text, 'skills', 'greetings'))).toEqual([
      `- - reply: ${OLD_GREETING}`,
      `+ - reply: ${NEW_GREETING}`,
    ]);

    const json = await ok(dir, 'diff', 'v1', 'v2', '--json');
    expect(json.a).toEqual({ name: 'v1', kind: 'version', commit: v1 });
    expect(json.b).toEqual({ name: 'v2', kind: 'version', commit: v2 });
    expect(json.intents).toEqual({
      added: ['ask-price'],
      removed: ['thanks'],
      changed: [{ slug: 'greetings', added: ['hello again', 'heya'], removed: ['yo'], other: [] }],
    });
    expect(json.entities).toMatchObject({ added: [], removed: [], changed: [{ slug: 'pizza-size' }] });
    expect(changedLines(json.entities.changed[0].lines)).toEqual(['- - mini', '+ - jumbo']);
    expect(json.skills).toMatchObject({ added: [], removed: [], changed: [{ slug: 'greetings' }] });
    expect(changedLines(json.skills.changed[0].lines)).toEqual([
      `- - reply: ${OLD_GREETING}`,
      `+ - reply: ${NEW_GREETING}`,
    ]);
    expect(json.tests).toEqual({ added: [], removed: [], changed: [] });

    // The other way round, every change is reversed.
    const back = await ok(dir, 'diff', 'v2', 'v1', '--json');
    expect(back.intents).toEqual({
      added: ['thanks'],
      removed: ['ask-price'],
      changed: [{ slug: 'greetings', added: ['yo'], removed: ['hello again', 'heya'], other: [] }],
    });
    expect(refsSnapshot(dir)).toBe(refs);
  });

  it('shows other changes of an intent and changes of tests', async () => {
    const dir = await exampleRepo();
    git(dir, 'checkout', '-q', 'v2');
    edit(
      dir,
      'training/intents/cancel.yaml',
      'description: The user abandons what they were doing',
      'description: The user gives up',
    );
    edit(dir, 'tests/smoke.yaml', '  - text: hello there\n', '  - text: hello there, bot\n');
    git(dir, 'commit', '-q', '-am', 'reword');
    git(dir, 'checkout', '-q', 'main');
    const text = await ok(dir, 'diff', 'v1', 'v2');
    expect(items(text)).toEqual({ intents: ['~ cancel'], tests: ['~ smoke'] });
    expect(changedLines(details(text, 'intents', 'cancel'))).toEqual([
      '- description: The user abandons what they were doing',
      '+ description: The user gives up',
    ]);
    expect(changedLines(details(text, 'tests', 'smoke'))).toEqual([
      '- - text: hello there',
      '+ - text: hello there, bot',
    ]);
  });

  it('resolves environments to what each serves now, pins included', async () => {
    const dir = await exampleRepo();
    const v1 = git(dir, 'rev-parse', 'v1');
    // staging is pinned to v2 as it is now (= v1's content); then v2 moves on.
    await ok(dir, 'env', 'set', 'staging', 'v2', '--pin');
    const pinned = git(dir, 'rev-parse', 'v2');
    const v2 = editV2(dir);

    const pinnedView = await ok(dir, 'diff', 'production', 'staging', '--json');
    expect(pinnedView.a).toEqual({ name: 'production', kind: 'environment', commit: v1 });
    expect(pinnedView.b).toEqual({ name: 'staging', kind: 'environment', commit: pinned });
    expect(await ok(dir, 'diff', 'production', 'staging')).toContain('no differences');

    const ahead = await ok(dir, 'diff', 'staging', 'v2', '--json');
    expect(ahead.b).toEqual({ name: 'v2', kind: 'version', commit: v2 });
    expect(ahead.intents.added).toEqual(['ask-price']);

    // Unpinned, staging follows v2's head.
    await ok(dir, 'env', 'set', 'staging', 'v2');
    const following = await ok(dir, 'diff', 'production', 'staging', '--json');
    expect(following.b.commit).toBe(v2);
    const byVersions = await ok(dir, 'diff', 'v1', 'v2', '--json');
    for (const section of ['intents', 'entities', 'skills', 'tests'])
      expect(following[section]).toEqual(byVersions[section]);
  });

  it('takes commit ids and git revisions such as v2~1', async () => {
    const dir = await exampleRepo();
    const v1 = git(dir, 'rev-parse', 'v1');
    const v2 = editV2(dir);
    const byVersions = await ok(dir, 'diff', 'v1', 'v2', '--json');

    const byIds = await ok(dir, 'diff', v1.slice(0, 7), v2, '--json');
    expect(byIds.a).toEqual({ name: v1.slice(0, 7), kind: 'ref', commit: v1 });
    expect(byIds.b).toEqual({ name: v2, kind: 'ref', commit: v2 });
    const byRevision = await ok(dir, 'diff', 'v2~1', 'v2', '--json');
    expect(byRevision.a).toEqual({ name: 'v2~1', kind: 'ref', commit: v1 });
    for (const d of [byIds, byRevision]) {
      for (const section of ['intents', 'entities', 'skills', 'tests']) expect(d[section]).toEqual(byVersions[section]);
    }
    expect((await ok(dir, 'diff', 'v2^', 'v1', '--json')).a.commit).toBe(v1);
    expect(await ok(dir, 'diff', 'staging~1', 'production')).toContain('no differences');
  });

  it('says "no differences" for identical content', async () => {
    const dir = await exampleRepo();
    const text = await ok(dir, 'diff', 'v1', 'v2');
    expect(text.trim().split('\n')).toEqual([
      `diff v1 (${git(dir, 'rev-parse', '--short=7', 'v1')}) -> v2 (${git(dir, 'rev-parse', '--short=7', 'v2')})`,
      'no differences in intents, entities, skills or tests',
    ]);
    const json = await ok(dir, 'diff', 'production', 'staging', '--json');
    for (const section of ['intents', 'entities', 'skills', 'tests'])
      expect(json[section]).toEqual({ added: [], removed: [], changed: [] });
  });

  it('an unknown name exits 1 naming it', async () => {
    const dir = await exampleRepo();
    const refs = refsSnapshot(dir);
    // For a revision, the part that does not exist is named: "v9" in v9~1.
    for (const [args, name] of [
      [['v1', 'nope'], 'nope'],
      [['nope', 'v1'], 'nope'],
      [['v9~1', 'v1'], 'v9'],
    ] as const) {
      const r = await botver(dir, 'diff', ...args);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^botver: [^\\n]*"${name}"[^\\n]*\\n$`));
      expect(r.stdout).toBe('');
    }
    const tooFar = await botver(dir, 'diff', 'v1~9', 'v1');
    expect(tooFar.code).toBe(1);
    expect(tooFar.stderr).toContain('"v1~9"');
    const json = await botver(dir, 'diff', 'v1', 'nope', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'NOT_FOUND', name: 'nope' });
    expect(refsSnapshot(dir)).toBe(refs);
  });
});
