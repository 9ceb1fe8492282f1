import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers.js';

// scripts/check-layers.js: the real tree follows the layer table, and a tree that imports
// upwards (each back-import issue #8 found), talks to isomorphic-git or git/refs.ts outside
// src/git/, or reads process.env below the CLI, fails it, naming the file and line.

const SCRIPT = join(ROOT, 'scripts', 'check-layers.js');

function check(root: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A small tree: the files given (path -> source) plus, for every relative import, the module it names. */
function tree(files: Record<string, string>): string {
  const root = tempDir('botver-layers-');
  const all: Record<string, string> = {
    'src/errors.ts': 'export class BotverError extends Error {}\n',
    'src/git/refs.ts': 'export const readRef = () => null;\n',
    'src/git/repo.ts':
      "import git from 'isomorphic-git';\nimport { readRef } from './refs.js';\nexport { git, readRef };\n",
    'src/content/version-content.ts': 'export interface BundleData { intents: string[] }\n',
    'src/resolver/version-content.ts': 'export interface BundleData { intents: string[] }\n',
    'src/resolver/live-snapshot.ts': 'export interface ResolverState { snapshot: null }\n',
    'src/ops/bot-repo.ts': 'export const assertBranchName = (n: string) => n;\n',
    'src/cli/main.ts': "export const repo = process.env.BOTVER_REPO;\nawait import('../resolver/live-snapshot.js');\n",
    'src/index.ts': "export * from './errors.js';\nexport type { BundleData } from './content/version-content.js';\n",
    ...files,
  };
  for (const [path, text] of Object.entries(all)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('scripts/check-layers.js', () => {
  it('passes on the real tree', () => {
    const r = check(ROOT);
    expect(r.out).toBe('layers: every import points down\n');
    expect(r.status).toBe(0);
  });

  it('passes on a small tree whose imports all point down', () => {
    const r = check(
      tree({
        'src/nlu/engine.ts':
          "import type { BundleData } from '../content/version-content.js';\nexport type B = BundleData;\n",
        // Comments and strings are not imports.
        'src/ops/notes.ts': "// import x from '../resolver/live-snapshot.js'\nexport const s = 'process.env.HOME';\n",
        'src/resolver/server.ts':
          "import { assertBranchName } from '../ops/bot-repo.js';\nexport { assertBranchName };\n",
        'src/resolver/options.ts': 'export const level = process.env.BOTVER_LOG_LEVEL;\n',
      }),
    );
    expect(r.out).toBe('layers: every import points down\n');
    expect(r.status).toBe(0);
  });

  // Each back-import issue #8 names, as it was written then.
  const backImports: [string, Record<string, string>, RegExp][] = [
    [
      'nlu -> resolver (BundleData)',
      { 'src/nlu/engine.ts': "import type { BundleData } from '../resolver/version-content.js';\n" },
      /^src\/nlu\/engine\.ts:1 imports src\/resolver\/version-content\.ts: nlu \(rank 4\) must not import resolver \(rank 6\)/m,
    ],
    [
      'nlu -> resolver (ResolverState)',
      {
        'src/nlu/nlu-service.ts':
          "import { Something } from './other.js';\nimport type {\n  ResolverState,\n} from '../resolver/live-snapshot.js';\n",
      },
      /^src\/nlu\/nlu-service\.ts:2 imports src\/resolver\/live-snapshot\.ts/m,
    ],
    [
      'ops -> resolver',
      { 'src/ops/test-version.ts': "import { bundleData } from '../resolver/version-content.js';\n" },
      /^src\/ops\/test-version\.ts:1 imports src\/resolver\/version-content\.ts: ops \(rank 5\) must not import resolver/m,
    ],
    [
      'client -> resolver',
      { 'src/client/resolver-client.ts': "import type { BundleData } from '../resolver/version-content.js';\n" },
      /^src\/client\/resolver-client\.ts:1 imports src\/resolver\/version-content\.ts: .*ranks 0-3 only/m,
    ],
    [
      'client -> ops (sideways is not enough for the client)',
      { 'src/client/resolver-client.ts': "export { assertBranchName } from '../ops/bot-repo.js';\n" },
      /^src\/client\/resolver-client\.ts:1 imports src\/ops\/bot-repo\.ts/m,
    ],
    [
      'isomorphic-git outside git/',
      { 'src/ops/init.ts': "import git from 'isomorphic-git';\nexport default git;\n" },
      /^src\/ops\/init\.ts:1 imports isomorphic-git: only src\/git\//m,
    ],
    [
      'an isomorphic-git type outside git/',
      { 'src/content/tree.ts': "export type Tree = import('isomorphic-git').TreeObject;\n" },
      /^src\/content\/tree\.ts:1 imports isomorphic-git/m,
    ],
    [
      'git/refs.ts outside git/',
      { 'src/resolver/live-snapshot.ts': "import { readRef } from '../git/refs.js';\nexport { readRef };\n" },
      /^src\/resolver\/live-snapshot\.ts:1 imports src\/git\/refs\.ts: only src\/git\//m,
    ],
    [
      'process.env below the CLI',
      { 'src/git/refs.ts': 'export const timeout = Number(process.env.BOTVER_LOCK_TIMEOUT_MS);\n' },
      /^src\/git\/refs\.ts:1 reads process\.env/m,
    ],
    [
      'a dynamic import upwards',
      { 'src/dialog/engine.ts': "export const load = () => import('../resolver/live-snapshot.js');\n" },
      /^src\/dialog\/engine\.ts:1 imports src\/resolver\/live-snapshot\.ts/m,
    ],
    [
      'a dynamic import upwards written as a template literal',
      { 'src/dialog/engine.ts': 'export const load = () => import(`../resolver/live-snapshot.js`);\n' },
      /^src\/dialog\/engine\.ts:1 imports src\/resolver\/live-snapshot\.ts/m,
    ],
    [
      'a dynamic import of a computed specifier',
      {
        'src/nlu/engine.ts':
          "const where = '../resolver/live-snapshot.js';\nexport const load = () => import(where);\n",
      },
      /^src\/nlu\/engine\.ts:2 imports a computed specifier/m,
    ],
    [
      'require through createRequire',
      {
        'src/nlu/engine.ts':
          "import { createRequire } from 'node:module';\nexport const s = createRequire(import.meta.url)('../resolver/live-snapshot.js');\n",
      },
      /^src\/nlu\/engine\.ts:2 imports src\/resolver\/live-snapshot\.ts/m,
    ],
    [
      'process.env read as process["env"]',
      { 'src/ops/init.ts': "export const home = process['env'].HOME;\n" },
      /^src\/ops\/init\.ts:1 reads process\.env/m,
    ],
    [
      'process.env destructured',
      { 'src/ops/init.ts': 'const { env } = process;\nexport const home = env.HOME;\n' },
      /^src\/ops\/init\.ts:1 reads process\.env/m,
    ],
    [
      'env imported from node:process',
      { 'src/git/identity.ts': "import { env } from 'node:process';\nexport const home = env.HOME;\n" },
      /^src\/git\/identity\.ts:1 reads process\.env/m,
    ],
    [
      'console output below the CLI',
      { 'src/git/worktree.ts': 'export function warn(m: string) {\n  console.warn(m);\n}\n' },
      /^src\/git\/worktree\.ts:2 prints/m,
    ],
    [
      'process.stderr below the CLI',
      { 'src/git/worktree.ts': 'export const warn = (m: string) => process.stderr.write(m);\n' },
      /^src\/git\/worktree\.ts:1 prints/m,
    ],
    [
      'a BotverError built by hand outside errors.ts',
      {
        'src/ops/content-commit.ts':
          "import { BotverError } from '../errors.js';\nexport const e = () => new BotverError('USAGE', 'x');\n",
      },
      /^src\/ops\/content-commit\.ts:2 builds a BotverError by hand/m,
    ],
    [
      'a module outside the table',
      { 'src/plugins/thing.ts': 'export const x = 1;\n' },
      /^src\/plugins\/thing\.ts: not in the layer table/m,
    ],
    [
      'importing the package entry point',
      { 'src/ops/use.ts': "import { BotverError } from '../index.js';\nexport { BotverError };\n" },
      /^src\/ops\/use\.ts:1 imports src\/index\.ts/m,
    ],
  ];

  for (const [name, files, message] of backImports) {
    it(`fails on ${name}`, () => {
      const r = check(tree(files));
      expect(r.status).toBe(1);
      expect(r.out).toMatch(message);
      expect(r.out).toMatch(/\d+ problems?: the layer rules are broken/);
    });
  }

  it('prints the table it checks', () => {
    const r = spawnSync(process.execPath, [SCRIPT, '--table'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^rank 0: errors\.ts, model\//);
    expect(r.stdout).toMatch(/^rank 6: client\/ +the client for bots: ranks 0-3 only$/m);
  });
});
