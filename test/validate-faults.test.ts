import { describe, expect, it } from 'vitest';
import { botverProcess, exampleBotRepo, git, manifestAt, sharedRepo } from './helpers.js';
import { commitEntry, writeBlob } from './hostile-trees.js';
import { commitTo } from './resolver-helpers.js';

// Issue #9, break 1 (CLI side): `botver validate` printed only "Excessive alias count indicates
// a resource exhaustion attack", with no file, and such a file in environments.yaml made every
// command fail with that bare message. Every failure to read or parse a file is now reported
// at its file and line, as text and as a GitHub annotation; the built binary is what CI runs.

const example = sharedRepo(() => exampleBotRepo());

const bomb = (key: string) =>
  [
    'x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]',
    ...Array.from({ length: 9 }, (_, i) => `x${i + 1}: &x${i + 1} [${Array(10).fill(`*x${i}`).join(', ')}]`),
    `${key}: *x9`,
  ].join('\n');

describe('botver validate names the file and line of every fault', () => {
  it('an alias bomb and a symbolic link on v2: GitHub annotations at their files', async () => {
    const dir = example();
    commitEntry(dir, 'v2', 'training/intents', {
      mode: '100644',
      name: 'greetings.yaml',
      oid: writeBlob(dir, `slug: greetings\n${bomb('expressions')}\n`),
    });
    commitEntry(dir, 'v2', 'skills', { mode: '120000', name: 'shared.yaml', oid: writeBlob(dir, '../x.yaml') });

    const r = await botverProcess(dir, ['validate', '--format', 'github']);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain(
      '::error file=training/intents/greetings.yaml,line=4,col=50,title=botver v2::YAML: more than 100 YAML aliases (counted as expanded: *x1 alone stands for 11)',
    );
    expect(lines).toContain(
      '::error file=skills/shared.yaml,line=1,col=1,title=botver v2::a symbolic link (mode 120000) is not allowed in a version',
    );
    expect(r.stdout).not.toMatch(/Excessive alias count|must be object/);
    expect(lines.every((l) => /title=botver v2::/.test(l))).toBe(true);

    const text = await botverProcess(dir, ['validate', 'v1', 'v2']);
    expect(text.stdout).toContain('v2:training/intents/greetings.yaml:4:50 YAML: more than 100 YAML aliases');
    expect(text.stdout).toMatch(/^\d+ errors?, \d+ warnings? in v1 \(version at [0-9a-f]+\), v2 /m);
  });

  it('a bad environments.yaml is reported at its line by validate, and by every command that needs it', async () => {
    const dir = example();
    const good = manifestAt(dir);
    await commitTo(dir, 'main', { 'environments.yaml': `${good}${bomb('notes')}\n` });
    // The alias that passes the limit: the 9th *x1, on the 4th line of the bomb.
    const at = `${good.split('\n').length + 2}:50`;

    const v = await botverProcess(dir, ['validate', '--format', 'github']);
    expect(v.code).toBe(1);
    expect(v.stdout.trim()).toBe(
      `::error file=environments.yaml,line=${at.replace(':', ',col=')},title=botver main::YAML: more than 100 YAML aliases (counted as expanded: *x1 alone stands for 11)`,
    );
    for (const args of [
      ['version', 'list'],
      ['env', 'list'],
      ['env', 'set', 'production', 'v2'],
    ]) {
      const r = await botverProcess(dir, args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain(`environments.yaml:${at} YAML: more than 100 YAML aliases`);
      expect(r.stderr).not.toMatch(/Excessive alias count/);
    }
    // Commands that can work without the manifest at the head do: a version's own check, the
    // history (which skips a manifest that does not parse).
    expect((await botverProcess(dir, ['validate', 'v1'])).code).toBe(0);
    const history = await botverProcess(dir, ['history', 'production']);
    expect(history.code).toBe(0);
    expect(history.stdout).toContain('v1');
    expect(git(dir, 'rev-parse', 'main')).toMatch(/^[0-9a-f]{40}$/);
  });
});
