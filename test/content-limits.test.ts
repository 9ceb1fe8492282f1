import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../src/content/limits.js';
import { GitRepo } from '../src/git/repo.js';
import { openBotRepo } from '../src/ops/bot-repo.js';
import { validate } from '../src/ops/validate.js';
import { git, manifestAt, sharedRepo } from './helpers.js';
import { commitEntry, writeBlob } from './hostile-trees.js';
import {
  ADMIN_TOKEN,
  auth,
  commitTo,
  eventually,
  getJson,
  serve,
  sharedExampleWithTokens,
  waitForCommit,
} from './resolver-helpers.js';

// Issue #9: limits on a version's content, the same for `botver validate`, every command and
// the resolver (src/content/limits.ts), each configurable under `limits:` in the manifest. Each
// breach is a problem at the file at fault. (What a tree may hold: version-tree.test.ts.)

const example = sharedExampleWithTokens();
const examplePlain = sharedRepo(async () => example().dir);

/** A valid intent file of `count` distinct expressions. */
function intent(slug: string, count: number, pad = 0): string {
  const lines = Array.from({ length: count }, (_, i) => `  - I would like pizza number ${i} ${'x'.repeat(pad)}\n`);
  return `slug: ${slug}\nexpressions:\n${lines.join('')}`;
}

/** Sets `limits:` in the manifest on main (after `bot:`). */
async function setLimits(dir: string, limits: Record<string, number>): Promise<void> {
  const block = `limits:\n${Object.entries(limits)
    .map(([k, v]) => `  ${k}: ${v}\n`)
    .join('')}`;
  const text = manifestAt(dir)
    .replace(/^limits:\n(?: {2}.*\n)*/m, '')
    .replace(/^(bot: .*\n)/m, `$1${block}`);
  await commitTo(dir, 'main', { 'environments.yaml': text });
}

async function v2Errors(dir: string) {
  const report = await validate(await openBotRepo({ repo: dir }), ['v2']);
  return report.targets[0]!.problems.filter((p) => p.severity === 'error');
}

const file = (mode: string, name: string, dir: string, text: string) => ({ mode, name, oid: writeBlob(dir, text) });

describe('limits, from the defaults and from the manifest', () => {
  it('a file over limits.maxFileBytes is refused from its size, without being parsed; the manifest can raise it', async () => {
    const dir = examplePlain();
    // 2 MB that is not YAML at all: a parse would report a syntax error, not the size.
    commitEntry(dir, 'v2', 'training/intents', file('100644', 'huge.yaml', dir, `: [\n${'}'.repeat(2_000_000)}`));
    expect(await v2Errors(dir)).toEqual([
      expect.objectContaining({
        file: 'training/intents/huge.yaml',
        line: 1,
        message: expect.stringMatching(/^1\.9 MB, more than the 1 MB a file may hold; raise limits\.maxFileBytes/),
      }),
    ]);
    // A valid file over a lowered limit, fine once the limit is raised again.
    commitEntry(dir, 'v2', 'training/intents', file('100644', 'huge.yaml', dir, intent('huge', 100)));
    await setLimits(dir, { maxFileBytes: 3000 });
    expect((await v2Errors(dir)).map((p) => [p.file, p.message])).toEqual([
      ['training/intents/huge.yaml', expect.stringMatching(/^3\.\d KB, more than the 2\.9 KB a file may hold/)],
    ]);
    await setLimits(dir, { maxFileBytes: 8000 });
    expect(await v2Errors(dir)).toEqual([]);
  });

  it('limits.maxVersionBytes, maxFiles and maxExpressions are reported at the file that passes them', async () => {
    const dir = examplePlain();
    await setLimits(dir, { maxVersionBytes: 4000 });
    expect((await v2Errors(dir))[0]).toMatchObject({
      message: expect.stringMatching(
        /^the version's files pass 3\.9 KB together at this file; raise limits\.maxVersionBytes/,
      ),
    });
    const total = Number(git(dir, 'ls-tree', '-r', '--format=%(objectsize)', 'v2').split('\n').length);
    await setLimits(dir, { maxFiles: 5 });
    expect(total).toBeGreaterThan(5);
    expect((await v2Errors(dir)).map((p) => p.message)).toEqual([
      expect.stringMatching(/^more than 5 files in the version's content folders; raise limits\.maxFiles/),
    ]);
    await setLimits(dir, { maxExpressions: 20 });
    const [tooMany, ...rest] = await v2Errors(dir);
    expect(rest).toEqual([]);
    expect(tooMany).toMatchObject({
      file: expect.stringMatching(/^training\/intents\//),
      message: expect.stringMatching(
        /^\d+ expressions in this version, more than limits\.maxExpressions \(20\), which bounds training time and memory/,
      ),
    });
  });

  it('YAML nesting past limits.maxDepth is refused before the parser builds it (10,000 levels)', async () => {
    const dir = examplePlain();
    const deep = `slug: deep\nexpressions: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`;
    commitEntry(dir, 'v2', 'training/intents', file('100644', 'deep.yaml', dir, deep));
    expect(await v2Errors(dir)).toEqual([
      expect.objectContaining({
        file: 'training/intents/deep.yaml',
        line: 2,
        message: 'YAML: YAML nested more than 64 levels deep',
      }),
    ]);
  });

  it('the defaults let the 15,000-expression benchmark bot shape through', () => {
    // 150 intents × 100 expressions, ~10 KB a file, ~1.5 MB in all (bench/): far under each default.
    expect(DEFAULT_LIMITS.maxExpressions).toBeGreaterThanOrEqual(15_000 * 3);
    expect(DEFAULT_LIMITS.maxVersionBytes).toBeGreaterThanOrEqual(1.5 * 1024 * 1024 * 10);
    expect(DEFAULT_LIMITS.maxFileBytes).toBeGreaterThanOrEqual(10 * 1024 * 50);
  });

  it('the resolver applies the manifest limits as validate does, and serves the version once they are raised', async () => {
    const { dir, tokens } = example();
    const goodV2 = git(dir, 'rev-parse', 'v2');
    const { url } = await serve(dir);
    await setLimits(dir, { maxFileBytes: 3000 });
    await waitForCommit(url, tokens.production, git(dir, 'rev-parse', 'main'), 'manifestCommit');
    const big = await commitTo(dir, 'v2', { 'training/intents/big.yaml': intent('big', 100) });
    const { value: problem } = await eventually('v2 refused', async () => {
      const r = await getJson(`${url}/readyz`, auth(ADMIN_TOKEN, 'Bearer'));
      return (r.body.problems ?? []).find((p: any) => p.name === 'v2' && p.commit === big);
    });
    const [fromValidate] = await v2Errors(dir);
    expect(problem.errors[0]).toMatchObject({ file: fromValidate!.file, message: fromValidate!.message });
    expect(fromValidate!.message).toMatch(/more than the 2\.9 KB a file may hold/);
    expect((await getJson(`${url}/v1/resolve`, auth(tokens.staging))).body.commit).toBe(goodV2);

    await setLimits(dir, { maxFileBytes: 8000 });
    await waitForCommit(url, tokens.staging, big);
    expect(await v2Errors(dir)).toEqual([]);
  });
});

describe('blob sizes from object headers', () => {
  it('agree with git cat-file -s for loose, packed and deltified objects', async () => {
    const dir = examplePlain();
    const base = intent('big', 300, 20);
    commitEntry(dir, 'v2', 'training/intents', file('100644', 'big.yaml', dir, base));
    commitEntry(dir, 'v2', 'training/intents', file('100644', 'big.yaml', dir, `${base}  - one more\n`));
    const sizes = () =>
      git(dir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype) %(objectsize)')
        .split('\n')
        .map((l) => l.split(' '))
        .filter(([, type]) => type === 'blob')
        .map(([oid, , size]) => [oid!, Number(size)] as const);
    const loose = sizes();
    expect(loose.length).toBeGreaterThan(20);
    const looseRepo = await GitRepo.open(dir);
    for (const [oid, size] of loose) expect(looseRepo.blobSize(oid)).toBe(size);
    git(dir, 'gc', '-q', '--prune=now');
    const packed = await GitRepo.open(dir);
    const packDir = join(dir, '.git', 'objects', 'pack');
    const idx = readdirSync(packDir).filter((n) => n.endsWith('.idx'));
    const deltas = git(dir, 'verify-pack', '-v', ...idx.map((n) => join(packDir, n)))
      .split('\n')
      .filter((l) => / blob +\d+ \d+ \d+ \d+ [0-9a-f]{40}$/.test(l));
    expect(deltas.length).toBeGreaterThan(0);
    for (const [oid, size] of sizes()) expect(packed.blobSize(oid)).toBe(size);
  });
});
