#!/usr/bin/env node
// `npm run tour`: what the botver CLI does with the example bot: environments, validation, the
// diff a promotion would bring, the promotion with its history, and a rollback. Safe to run
// again: every change it makes is undone by the rollback at the end.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { DIR, ROOT, ensureExampleRepo } from './example.js';

const BIN = join(ROOT, 'bin', 'botver.js');

function botver(...args) {
  process.stdout.write(`\n$ botver ${args.join(' ')}\n`);
  const out = execFileSync(process.execPath, [BIN, '--repo', DIR, ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: process.env.GIT_AUTHOR_NAME ?? 'botver demo',
      GIT_AUTHOR_EMAIL: process.env.GIT_AUTHOR_EMAIL ?? 'demo@botver.local',
    },
  });
  process.stdout.write(out);
}

await ensureExampleRepo();
botver('env', 'list');
botver('version', 'list');
botver('validate');
botver('diff', 'production', 'staging');
botver('promote', 'staging', 'production');
botver('history', 'production', '-n', '3');
botver('rollback', 'production');
process.stdout.write(
  `\nThe repository is ${DIR}; try "git -C ${DIR} log --oneline main" or "node bin/botver.js --repo ${DIR} --help".\n`,
);
