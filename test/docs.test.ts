import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers.js';

// The documentation that ships with the project (README.md, docs/): the generated tables of
// docs/formats.md are up to date with schemas/, links point at files that exist, and nothing
// in the repository refers to files outside it (a user of the package has only the package).

const GENERATOR = join(ROOT, 'scripts', 'gen-format-docs.js');

describe('docs/formats.md', () => {
  it('has the property tables the schemas generate (node scripts/gen-format-docs.js)', () => {
    const run = spawnSync(process.execPath, [GENERATOR, '--check'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('is reported stale when a schema property is missing from its table', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'formats.md'), 'utf8');
    const row = doc.split('\n').find((line) => line.startsWith('| `nluThreshold` |'));
    expect(row).toBeDefined();
    const stale = join(tempDir(), 'formats.md');
    writeFileSync(stale, doc.replace(`${row}\n`, ''));
    const run = spawnSync(process.execPath, [GENERATOR, '--check', stale], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('is stale');
  });
});

describe('README.md and docs/', () => {
  const pages = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];

  it('link only to files of the repository that exist', () => {
    const broken: string[] = [];
    for (const page of pages) {
      const text = readFileSync(join(ROOT, page), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!) || target!.startsWith('#')) continue;
        const file = resolve(dirname(join(ROOT, page)), target!.split('#')[0]!);
        if (!file.startsWith(ROOT) || !existsSync(file)) broken.push(`${page}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('nothing in the repository refers to files outside it', () => {
    // Spelled in pieces so that this file does not match itself.
    const outside = ['\\.\\./' + 'shared', 'DESIGN' + '\\.md', 'STYLE' + '\\.md'];
    const args = ['grep', '-n', '-I', '-E', outside.join('|'), '--', '.', ':!package-lock.json'];
    const found = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
    expect(found.stdout).toBe(''); // exit 1: no match
    // Files not committed yet count too.
    const untracked = execFileSync('git', ['ls-files', '--others', '--exclude-standard'], {
      cwd: ROOT,
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean);
    const pattern = new RegExp(outside.join('|'));
    expect(untracked.filter((f) => pattern.test(readFileSync(join(ROOT, f), 'utf8')))).toEqual([]);
  });
});
