import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBotRepo } from '../src/ops/init.js';
import { openBotRepo } from '../src/ops/bot-repo.js';
import { commitFiles } from '../src/ops/content-commit.js';
import { createVersion } from '../src/ops/versions.js';
import { createEnvironment } from '../src/ops/environments.js';

// The example bot every resolver test starts from, built once for the whole run by
// test/global-setup.ts (no test hooks here: it runs before any test file): the repository with
// every token known, and a copy whose model cache holds its commits' NLU models.

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** A pinned identity and no user/system git config, for botver and native git alike. */
export const TEST_ENV = {
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'author@example.com',
  GIT_COMMITTER_NAME: 'Test Committer',
  GIT_COMMITTER_EMAIL: 'committer@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  BOTVER_CONTROL_BRANCH: '',
};

/** examples/awesome-bot's training/, skills/ and tests/ files: repository path -> text. */
export function exampleFiles(): Map<string, string> {
  const example = join(ROOT, 'examples', 'awesome-bot');
  const files = new Map<string, string>();
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name), `${prefix}/${entry.name}`);
      else files.set(`${prefix}/${entry.name}`, readFileSync(join(dir, entry.name), 'utf8'));
    }
  };
  for (const top of ['training', 'skills', 'tests']) walk(join(example, top), top);
  return files;
}

export interface Tokens {
  production: string;
  staging: string;
  v1: string;
  v2: string;
}

/** The example bot in `dir` (empty): v1 with its content, v2 copied from v1, production -> v1, staging -> v2. */
export async function buildExampleBot(dir: string): Promise<void> {
  await initBotRepo({ repo: dir, bot: 'awesome-bot', language: 'en', empty: true });
  const repo = await openBotRepo({ repo: dir });
  await commitFiles(repo, 'v1', exampleFiles(), 'import examples/awesome-bot');
  await createVersion(repo, 'v2', 'v1', 'work in progress');
  await createEnvironment(repo, 'staging', 'v2');
}

/** The example bot with every token known: rotated through the CLI, the only way to learn a token again. */
export async function buildExampleWithTokens(dir: string): Promise<Tokens> {
  await buildExampleBot(dir);
  const rotate = async (flag: string, name: string) => {
    let out = '';
    // Loaded on first use: the whole CLI, which a test file that never calls it need not import.
    const { run } = await import('../src/cli/program.js');
    const code = await run(['--repo', dir, 'token', 'rotate', flag, name, '--json'], {
      stdout: (t) => void (out += t),
      stderr: () => {},
    });
    if (code !== 0) throw new Error(`botver token rotate ${flag} ${name} exited ${code}`);
    return (JSON.parse(out) as { token: string }).token;
  };
  return {
    production: await rotate('--env', 'production'),
    staging: await rotate('--env', 'staging'),
    v1: await rotate('--version', 'v1'),
    v2: await rotate('--version', 'v2'),
  };
}

/** Where the run's templates are, as global-setup.ts provides them. */
export interface ExampleTemplates {
  plain: string;
  trained: string;
  tokens: Tokens;
}

/** Builds both templates in a new folder; returns them and how to remove them. */
export async function buildTemplates(): Promise<{ templates: ExampleTemplates; remove: () => void }> {
  Object.assign(process.env, TEST_ENV);
  const root = mkdtempSync(join(tmpdir(), 'botver-templates-'));
  const plain = join(root, 'plain');
  const trained = join(root, 'trained');
  execFileSync('mkdir', [plain]);
  const tokens = await buildExampleWithTokens(plain);
  execFileSync('cp', ['-a', plain, trained]);
  // A resolver serves the copy once, so that its model cache holds the NLU models of its commits.
  // Imported here: every test file imports this module (through helpers.ts), few need a server.
  const { startResolver } = await import('../src/resolver/server.js');
  const { createLogger } = await import('../src/resolver/monitoring/logger.js');
  const resolver = await startResolver({
    repo: trained,
    port: 0,
    host: '127.0.0.1',
    logger: createLogger({ level: 'silent' }),
  });
  await resolver.nlu.idle();
  await resolver.close();
  return { templates: { plain, trained, tokens }, remove: () => rmSync(root, { recursive: true, force: true }) };
}
