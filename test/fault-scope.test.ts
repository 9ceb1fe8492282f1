import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { git, ok } from './helpers.js';
import { commitEntry, writeBlob } from './hostile-trees.js';
import {
  ADMIN_TOKEN,
  auth,
  eventually,
  getJson,
  serve,
  sharedExampleWithTokens,
  waitForCommit,
} from './resolver-helpers.js';

// Issue #9, break 1: one bad file on a development branch took production down. A version
// whose commit cannot be read, parsed or validated — whatever the reason — is a problem of that
// version alone: its last good commit keeps serving, every other version and environment, token
// rotations and promotions are served as usual, and a fresh start serves every valid version.

const example = sharedExampleWithTokens();
const admin = auth(ADMIN_TOKEN, 'Bearer');

interface Hostile {
  name: string;
  /** Commits the hostile content onto v2; returns the file the problem must name, and its line (0: any). */
  plant: (dir: string) => { file: string; line: number };
}

const aliasBomb = [
  'slug: greetings',
  'a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]',
  ...Array.from({ length: 9 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(', ')}]`),
  'expressions: *a9',
  '',
].join('\n');

const manyAliases = ['slug: greetings', 'hi: &hi hello', 'expressions:', ...Array(101).fill('  - *hi'), ''].join('\n');

const hostile: Hostile[] = [
  {
    name: 'an alias bomb',
    plant: (dir) => {
      const oid = writeBlob(dir, aliasBomb);
      commitEntry(dir, 'v2', 'training/intents', { mode: '100644', name: 'greetings.yaml', oid });
      return { file: 'training/intents/greetings.yaml', line: 4 };
    },
  },
  {
    name: '101 aliases of one scalar',
    plant: (dir) => {
      const oid = writeBlob(dir, manyAliases);
      commitEntry(dir, 'v2', 'training/intents', { mode: '100644', name: 'greetings.yaml', oid });
      return { file: 'training/intents/greetings.yaml', line: 104 };
    },
  },
  {
    name: 'a tree entry named ".."',
    plant: (dir) => {
      const tree = git(dir, 'rev-parse', 'v2:training');
      commitEntry(dir, 'v2', 'training/intents', { mode: '40000', name: '..', oid: tree });
      return { file: 'training/intents/..', line: 0 };
    },
  },
  {
    name: 'a file whose object is missing',
    plant: (dir) => {
      commitEntry(dir, 'v2', 'training/intents', { mode: '100644', name: 'lost.yaml', oid: 'de'.repeat(20) });
      return { file: 'training/intents/lost.yaml', line: 0 };
    },
  },
];

/** /readyz's problem for version v2 at `commit`, once the resolver has seen it. */
async function v2Problem(url: string, commit: string) {
  const { value } = await eventually(`v2 at ${commit.slice(0, 12)} reported`, async () => {
    const r = await getJson(`${url}/readyz`, admin);
    return (r.body.problems ?? []).find((p: any) => p.scope === 'version' && p.commit === commit);
  });
  return value;
}

describe('a bad commit on one version fails that version alone', () => {
  it('bad commits on v2 one after another: production, rotations, new environments and promotions go on', async () => {
    const { dir, tokens } = example();
    const v1 = git(dir, 'rev-parse', 'v1');
    const goodV2 = git(dir, 'rev-parse', 'v2');
    const { url } = await serve(dir);

    for (const { name, plant } of hostile) {
      const where = plant(dir);
      const bad = git(dir, 'rev-parse', 'v2');
      const problem = await v2Problem(url, bad);
      expect(problem, name).toMatchObject({ scope: 'version', name: 'v2', serving: goodV2 });
      const readyz = await getJson(`${url}/readyz`, admin);
      expect(
        readyz.body.problems.map((p: any) => p.scope),
        name,
      ).toEqual(['version']);
      expect(
        problem.errors.map((e: any) => e.file),
        name,
      ).toContain(where.file);
      if (where.line) expect(problem.errors[0].line, name).toBe(where.line);
      // v2 (and staging, which follows it) keep their last good commit; production its own.
      expect((await getJson(`${url}/v1/resolve`, auth(tokens.staging))).body.commit, name).toBe(goodV2);
      expect((await getJson(`${url}/v1/resolve`, auth(tokens.production))).body.commit, name).toBe(v1);
    }

    // A rotated production token works, the old one stops.
    const { token: fresh } = await ok(dir, 'token', 'rotate', '--env', 'production', '--json');
    await waitForCommit(url, fresh, v1);
    expect((await getJson(`${url}/v1/resolve`, auth(tokens.production))).status).toBe(401);

    // A new environment's token is served.
    const { token: qa } = await ok(dir, 'env', 'create', 'qa', '--version', 'v1', '--json');
    await waitForCommit(url, qa, v1);

    // A promotion of production is served.
    const older = git(dir, 'rev-parse', 'v1~1');
    await ok(dir, 'env', 'set', 'production', 'v1', '--commit', older);
    await waitForCommit(url, fresh, older);

    // A symbolic link outside the content folders is ignored, and not served as a file.
    const linked = commitEntry(dir, 'v1', '', { mode: '120000', name: 'notes.md', oid: writeBlob(dir, '/etc/passwd') });
    await waitForCommit(url, tokens.v1, linked);
    expect((await getJson(`${url}/v1/files/notes.md`, auth(tokens.v1))).status).toBe(404);
  });

  it('after a restart every valid version is served, and the bad one from its last good commit', async () => {
    const { dir, tokens } = example();
    const goodV2 = git(dir, 'rev-parse', 'v2');
    const v1 = git(dir, 'rev-parse', 'v1');
    hostile[0]!.plant(dir);
    const bad = git(dir, 'rev-parse', 'v2');
    hostile[2]!.plant(dir); // two bad commits in a row: the walk back passes both
    const worse = git(dir, 'rev-parse', 'v2');
    expect(git(dir, 'rev-parse', 'v2~1')).toBe(bad);

    const { url } = await serve(dir);
    for (const [token, commit] of [
      [tokens.production, v1],
      [tokens.v1, v1],
      [tokens.staging, goodV2],
      [tokens.v2, goodV2],
    ] as const) {
      const r = await getJson(`${url}/v1/resolve`, auth(token));
      expect(r.status).toBe(200);
      expect(r.body.commit).toBe(commit);
    }
    expect(await v2Problem(url, worse)).toMatchObject({ name: 'v2', serving: goodV2 });
  });
});

describe('a commit whose object is missing for a while (a push still arriving)', () => {
  it('is read again once the object is there: the failure is not kept', async () => {
    const { dir, tokens } = example();
    const goodV2 = git(dir, 'rev-parse', 'v2');
    const { url } = await serve(dir);

    // The tree names a blob the object store does not have yet.
    const text = 'slug: late\ndescription: Arrives late\nexpressions:\n  - this one came late\n';
    const oid = execFileSync('git', ['hash-object', '--stdin'], { cwd: dir, input: text, encoding: 'utf8' }).trim();
    const late = commitEntry(dir, 'v2', 'training/intents', { mode: '100644', name: 'late.yaml', oid });
    expect(await v2Problem(url, late)).toMatchObject({ name: 'v2', serving: goodV2 });

    // The object arrives; the next change of any ref makes the resolver look again.
    expect(writeBlob(dir, text)).toBe(oid);
    await ok(dir, 'token', 'rotate', '--env', 'production');
    await waitForCommit(url, tokens.v2, late);
    const readyz = await getJson(`${url}/readyz`, admin);
    expect(readyz.body.problems ?? []).toEqual([]);
  });
});
