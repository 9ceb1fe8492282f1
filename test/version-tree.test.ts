import { describe, expect, it } from 'vitest';
import { openBotRepo } from '../src/ops/bot-repo.js';
import { validate } from '../src/ops/validate.js';
import { exampleBotRepo, git } from './helpers.js';
import { commitEntry, writeBlob } from './hostile-trees.js';

// Issue #9, break 7 (symlinks) and break 1 (".."): what a version's tree may hold. Trees made
// by hand with native git's plumbing hold what `git add` never writes: unsafe names, symbolic
// links, submodules, folders nested without end. Each is an error at its path naming what is
// not allowed — never "must be object" (a link's target read as YAML), never an exception.

const file = (dir: string, mode: string, name: string, text: string) => ({ mode, name, oid: writeBlob(dir, text) });

describe('what a version tree may hold', () => {
  it('links, submodules, unsafe names and deep folders are each an error at their path', async () => {
    const dir = await exampleBotRepo();
    const expected: [string, string, RegExp][] = [];
    const [v1, skills] = [git(dir, 'rev-parse', 'v1'), git(dir, 'rev-parse', 'v2:skills')];
    const plant = (
      branch: string,
      folder: string,
      entry: { mode: string; name: string; oid: string },
      message: RegExp,
    ) => {
      commitEntry(dir, branch, folder, entry);
      expected.push([branch, folder ? `${folder}/${entry.name}` : entry.name || '(empty name)', message]);
    };
    // Native git cannot list a tree holding "..", "." or an empty name: those go in last.
    plant(
      'v2',
      'training/intents',
      file(dir, '120000', 'link.yaml', '../../environments.yaml'),
      /^a symbolic link \(mode 120000\) is not allowed in a version$/,
    );
    commitEntry(dir, 'v2', 'training/intents/a/b/c/d/e/f/g', file(dir, '100644', 'x.yaml', 'x: 1\n'));
    expected.push([
      'v2',
      'training/intents/a/b/c/d/e/f/g',
      /^folders nested more than 8 deep \(limits\.maxTreeDepth\)/,
    ]);
    plant(
      'v2',
      'skills',
      { mode: '160000', name: 'vendor', oid: v1 },
      /^a submodule \(gitlink\) \(mode 160000\) is not allowed in a version$/,
    );
    plant(
      'v2',
      'skills',
      file(dir, '100644', 'evil\u001b[2J.yaml', 'x: 1\n'),
      /^unsafe path: a control character in a name/,
    );
    plant(
      'v2',
      'skills',
      file(dir, '100644', '..\\..\\x.yaml', 'x: 1\n'),
      /^unsafe path: a slash or backslash in a name/,
    );
    plant('v2', 'tests', file(dir, '100644', `${'t'.repeat(260)}.yaml`, 'x: 1\n'), /^path longer than 255 characters$/);
    plant('v2', 'tests', file(dir, '100644', '', 'x: 1\n'), /^unsafe path: an empty name/);
    plant(
      'v2',
      'training/intents',
      { mode: '40000', name: '..', oid: skills },
      /^unsafe path: the name "\.\." \(entry "\.\."\); not allowed in a version$/,
    );
    plant(
      'v2',
      '',
      { mode: '40000', name: '.', oid: skills },
      /^unsafe path: the name "\."; not allowed in a version$/,
    );
    // A link standing in for a whole content folder.
    plant(
      'v1',
      '',
      file(dir, '120000', 'skills', 'training'),
      /^a symbolic link \(mode 120000\) is not allowed in a version$/,
    );

    const report = await validate(await openBotRepo({ repo: dir }), ['v1', 'v2']);
    for (const [ref, path, message] of expected) {
      const target = report.targets.find((t) => t.ref === ref)!;
      const found = target.problems.filter((p) => p.file === (path === '(empty name)' ? 'tests/' : path));
      expect(
        found.map((p) => p.message),
        `${ref}:${path}`,
      ).toEqual([expect.stringMatching(message)]);
      expect(found[0]!.severity).toBe('error');
    }
    expect(report.targets.flatMap((t) => t.problems).some((p) => /must be object/.test(p.message))).toBe(false);
  });
});
