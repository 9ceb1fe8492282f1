import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/program.js';
import { renderCliReference } from '../src/cli/reference.js';
import { ROOT } from './helpers.js';

// docs/cli.md is generated from the commander definitions (scripts/gen-cli-docs.js): it must be
// exactly what they render now, so a new flag or a changed description cannot go undocumented.

describe('docs/cli.md', () => {
  it('is what the commander definitions render (else run `npm run docs:cli`)', () => {
    const fresh = renderCliReference(buildProgram());
    const committed = readFileSync(join(ROOT, 'docs', 'cli.md'), 'utf8');
    // The message says what to do; the diff below it says what changed.
    expect(committed, 'docs/cli.md is out of date: run `npm run docs:cli` and commit the result').toBe(fresh);
  });

  it('has a section for every command, with its arguments and visible options', () => {
    const doc = renderCliReference(buildProgram());
    const leaves = (cmd: ReturnType<typeof buildProgram>, path: string[]): string[][] =>
      cmd.commands.flatMap((c) =>
        c.commands.length ? leaves(c as typeof cmd, [...path, c.name()]) : [[...path, c.name()]],
      );
    const all = leaves(buildProgram(), ['botver']);
    expect(all.length).toBeGreaterThan(15);
    for (const path of all) expect(doc).toContain(`\n## ${path.join(' ')}\n`);
    expect(doc).toContain('| `--require-tests` | refuse when `<from>` has no tests');
    expect(doc).toContain('| `<b>` | the second ref to compare |');
    expect(doc).toContain(
      '| `--format <format>` | text, github (Actions annotations) or json (one of `text`, `github`, `json`) | `text` |',
    );
    // Hidden copies of the global options are not listed under each command.
    expect(doc.match(/\| `--repo <path>`/g)).toHaveLength(1);
  });
});
