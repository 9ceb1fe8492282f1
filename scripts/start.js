#!/usr/bin/env node
// `npm start`: the main job on the bundled example bot. Builds examples/awesome-bot into a bot
// repository once (./example-repo; its tokens go to ./.example-tokens.json, outside it; both
// git-ignored, overridable with BOTVER_EXAMPLE_REPO / BOTVER_EXAMPLE_TOKENS), then shows what botver does with it: environments,
// validation, a promotion with its history and diff, a rollback. Safe to run again: it reuses
// the repository and every change it makes is undone by the rollback at the end.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { makeExampleRepo, EXAMPLE_DIR } from './make-example-repo.js';
import { commitFiles, openBotRepo } from '../dist/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIR = resolve(process.env.BOTVER_EXAMPLE_REPO ?? join(ROOT, 'example-repo'));
const TOKENS = resolve(process.env.BOTVER_EXAMPLE_TOKENS ?? join(ROOT, '.example-tokens.json'));
const BIN = join(ROOT, 'bin', 'botver.js');

function botver(...args) {
  process.stdout.write(`\n$ botver ${args.join(' ')}\n`);
  const out = execFileSync(process.execPath, [BIN, '--repo', DIR, ...args], { encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: process.env.GIT_AUTHOR_NAME ?? 'botver demo', GIT_AUTHOR_EMAIL: process.env.GIT_AUTHOR_EMAIL ?? 'demo@botver.local' } });
  process.stdout.write(out);
}

if (!existsSync(DIR)) {
  const r = await makeExampleRepo({ dir: DIR, tokensFile: TOKENS, log: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`\nTokens of the example bot are in ${TOKENS} (the repository stores only their SHA-256).\n`);
  // Some work on v2, as a pull request into it would bring, so that the diff has something to show.
  const path = 'training/intents/greetings.yaml';
  const greetings = readFileSync(join(EXAMPLE_DIR, path), 'utf8');
  await commitFiles(await openBotRepo({ repo: r.dir }), 'v2', { [path]: `${greetings}  - good day to you\n  - hello again\n` }, 'greetings: two more expressions');
} else {
  process.stdout.write(`Using the example bot repository in ${DIR} (delete it to rebuild).\n`);
}

botver('env', 'list');
botver('version', 'list');
botver('validate');
botver('diff', 'production', 'staging');
botver('promote', 'staging', 'production');
botver('history', 'production', '-n', '3');
botver('rollback', 'production');
process.stdout.write(`\nThe repository is ${DIR}; try "git -C ${DIR} log --oneline main" or "node bin/botver.js --repo ${DIR} --help".\n`);
