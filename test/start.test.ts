import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectFsckClean, git, ROOT, TEST_ENV, tempDir } from './helpers.js';

// The README's first command: `npm start` runs scripts/start.js on the example bot.
// (`git` below is native git, to read what the demo left.)
describe('npm start (scripts/start.js)', () => {
  it('builds the example repository once, demonstrates the workflow, and can run again', () => {
    const dir = join(tempDir(), 'example-repo');
    const tokens = join(tempDir(), 'tokens.json');
    const env = { ...process.env, ...TEST_ENV, BOTVER_EXAMPLE_REPO: dir, BOTVER_EXAMPLE_TOKENS: tokens };
    const run = () => execFileSync(process.execPath, [join(ROOT, 'scripts', 'start.js')], { env, encoding: 'utf8' });
    const first = run();
    expect(first).toContain('0 errors, 0 warnings');
    expect(first).toMatch(/~ greetings\n\s+\+ good day to you\n\s+\+ hello again/);
    expect(first).toMatch(/Promoted production to v2@[0-9a-f]{7} from staging/);
    expect(first).toMatch(/Rolled production back to v1/);
    const saved = JSON.parse(readFileSync(tokens, 'utf8'));
    expect(Object.keys(saved.environments)).toEqual(['production', 'staging']);
    // Tokens never enter the repository.
    for (const token of [...Object.values(saved.environments), ...Object.values(saved.versions)] as string[]) {
      expect(spawnSync('git', ['grep', '-q', token, 'main', 'v1', 'v2'], { cwd: dir }).status).toBe(1); // 1: no match
    }
    const second = run();
    expect(second).toContain(`Using the example bot repository in ${dir}`);
    expect(git(dir, 'show', 'main:environments.yaml')).toMatch(/production:\n\s+version: v1\n/);
    expectFsckClean(dir);
  });
});
