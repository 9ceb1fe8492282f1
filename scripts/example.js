// The example bot repository that `npm start` serves and `npm run tour` walks through: built
// once from examples/awesome-bot into ./example-repo (tokens in ./.example-tokens.json, outside
// it; both git-ignored; BOTVER_EXAMPLE_REPO / BOTVER_EXAMPLE_TOKENS override the paths).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeExampleRepo, EXAMPLE_DIR } from './make-example-repo.js';
import { commitFiles, openBotRepo } from '../dist/index.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DIR = resolve(process.env.BOTVER_EXAMPLE_REPO ?? join(ROOT, 'example-repo'));
export const TOKENS = resolve(process.env.BOTVER_EXAMPLE_TOKENS ?? join(ROOT, '.example-tokens.json'));

/** Builds the example repository unless it exists; returns its tokens (null when they were lost). */
export async function ensureExampleRepo(log = (line) => process.stdout.write(`${line}\n`)) {
  if (!existsSync(DIR)) {
    const r = await makeExampleRepo({ dir: DIR, tokensFile: TOKENS, log });
    log(`\nTokens of the example bot are in ${TOKENS} (the repository stores only their SHA-256).`);
    // Some work on v2, as a pull request into it would bring, so that v2 differs from v1.
    const path = 'training/intents/greetings.yaml';
    const greetings = readFileSync(join(EXAMPLE_DIR, path), 'utf8');
    await commitFiles(
      await openBotRepo({ repo: r.dir }),
      'v2',
      { [path]: `${greetings}  - good day to you\n  - hello again\n` },
      'greetings: two more expressions',
    );
  } else {
    log(`Using the example bot repository in ${DIR} (delete it to rebuild).`);
  }
  return existsSync(TOKENS) ? JSON.parse(readFileSync(TOKENS, 'utf8')) : null;
}
