import { describe, expect, it } from 'vitest';
import { expectFsckClean, git, manifestAt, newBotRepo, ok } from './helpers.js';

describe('smoke', () => {
  it('init then env set', async () => {
    const { dir } = await newBotRepo();
    await ok(dir, 'version', 'create', 'v2', '--from', 'v1');
    await ok(dir, 'env', 'set', 'production', 'v2');
    expect(manifestAt(dir)).toContain('version: v2');
    expect(git(dir, 'status', '--porcelain')).toBe('');
    expectFsckClean(dir);
  });
});
