#!/usr/bin/env node
// Turns examples/awesome-bot/ into a bot repository, through the library only:
//   node scripts/make-example-repo.js [DIR] [--force] [--bare] [--tokens-file PATH]
//
//   1. `botver init --empty` in DIR (bot and language from examples/awesome-bot/bot.yaml),
//   2. one commit on v1 with the example's training/, skills/ and tests/ files, byte for byte,
//   3. version v2 created from v1, environment staging -> v2,
//   4. the whole repository validated.
//
// The four tokens (versions v1, v2; environments production, staging) are printed once. They
// are never written into the repository (it stores only their SHA-256); --tokens-file writes
// them as JSON to a file that must be OUTSIDE the repository, readable by its owner only.
// DIR (default ./example-repo) must not exist; --force deletes it first.

import { existsSync, promises as fsp, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve, sep, isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { commitFiles, createEnvironment, createVersion, initBotRepo, openBotRepo, validate } from '../dist/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const EXAMPLE_DIR = join(ROOT, 'examples', 'awesome-bot');
export const CONTENT_DIRS = ['training', 'skills', 'tests'];
export const DEFAULT_DIR = './example-repo';

const USAGE = 'usage: node scripts/make-example-repo.js [DIR] [--force] [--bare] [--tokens-file PATH]';

/** Every file under the example's content folders: repository path -> text (UTF-8, unchanged). */
export async function readExampleFiles(exampleDir = EXAMPLE_DIR) {
  const files = new Map();
  const walk = async (dir, prefix) => {
    const entries = await fsp.readdir(dir, { withFileTypes: true }).catch((err) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const path = `${prefix}/${entry.name}`;
      if (entry.isDirectory()) await walk(join(dir, entry.name), path);
      else if (entry.isFile()) {
        const bytes = await fsp.readFile(join(dir, entry.name));
        const text = bytes.toString('utf8');
        // The library commits text; refuse anything that would not survive the round trip.
        if (!Buffer.from(text, 'utf8').equals(bytes)) throw new Error(`${join(dir, entry.name)} is not UTF-8 text`);
        files.set(path, text);
      }
    }
  };
  for (const top of CONTENT_DIRS) await walk(join(exampleDir, top), top);
  return files;
}

const isInside = (child, parent) => {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
};

/** Folders that --force must never delete, whatever the user typed. */
function assertDeletable(dir) {
  const real = realpathSync(dir);
  const precious = [resolve('/'), homedir(), process.cwd(), ROOT].map((p) => (existsSync(p) ? realpathSync(p) : p));
  if (precious.some((p) => isInside(p, real))) {
    throw new Error(
      `refusing to delete ${dir} with --force: it is or contains ${precious.find((p) => isInside(p, real))}`,
    );
  }
}

/**
 * Builds the example repository. Returns where it is, its commits and the tokens (which the
 * caller must show or keep; they exist nowhere else).
 */
export async function makeExampleRepo(options = {}) {
  const dir = resolve(options.dir ?? DEFAULT_DIR);
  const log = options.log ?? (() => {});
  const tokensFile = options.tokensFile ? resolve(options.tokensFile) : undefined;
  if (tokensFile && isInside(tokensFile, dir)) {
    throw new Error(`--tokens-file ${tokensFile} is inside the repository ${dir}; tokens must never be stored in it`);
  }
  if (existsSync(dir)) {
    if (!options.force) throw new Error(`${dir} already exists; pass --force to delete it and start again`);
    assertDeletable(dir);
    await fsp.rm(dir, { recursive: true, force: true });
  }

  const meta = parseYaml(await fsp.readFile(join(EXAMPLE_DIR, 'bot.yaml'), 'utf8')) ?? {};
  if (typeof meta.bot !== 'string') throw new Error(`${join(EXAMPLE_DIR, 'bot.yaml')} has no "bot" name`);
  const files = await readExampleFiles();

  try {
    return await build(dir, meta, files, tokensFile, !!options.bare, log);
  } catch (err) {
    // Nothing half-made is left behind: the folder did not exist (or --force removed it).
    await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

async function build(dir, meta, files, tokensFile, bare, log) {
  const init = await initBotRepo({ repo: dir, bot: meta.bot, language: meta.language ?? 'en', empty: true, bare });
  log(`Initialised ${dir} for bot ${init.bot}: version v1, environment production -> v1.`);
  const repo = await openBotRepo({ repo: dir });
  const content = await commitFiles(
    repo,
    'v1',
    files,
    `import ${meta.bot} from examples/${meta.bot}\n\n${files.size} files: ${CONTENT_DIRS.map((d) => `${d}/`).join(', ')}`,
  );
  log(
    `Committed ${files.size} files of examples/awesome-bot onto v1 (${(content.commit ?? init.version.commit).slice(0, 7)}).`,
  );
  const v2 = await createVersion(repo, 'v2', 'v1', 'Copy of v1 to work on');
  const staging = await createEnvironment(repo, 'staging', 'v2', {
    description: 'Where v2 is tried out before production',
  });
  log('Created version v2 from v1 and environment staging -> v2.');

  const report = await validate(repo);
  if (report.errors) {
    const first = report.targets.flatMap((t) => t.problems).find((p) => p.severity === 'error');
    throw new Error(
      `the example repository does not validate (${report.errors} errors), first: ${first?.file}:${first?.line}:${first?.column} ${first?.message}`,
    );
  }

  const tokens = {
    versions: { v1: init.version.token, v2: v2.token },
    environments: { production: init.environment.token, staging: staging.token },
  };
  if (tokensFile) {
    await fsp.mkdir(dirname(tokensFile), { recursive: true });
    await fsp.writeFile(tokensFile, `${JSON.stringify({ repo: dir, bot: init.bot, ...tokens }, null, 2)}\n`, {
      mode: 0o600,
    });
    await fsp.chmod(tokensFile, 0o600);
  }
  return {
    dir,
    bot: init.bot,
    files: [...files.keys()],
    commits: { v1: content.commit ?? init.version.commit, v2: v2.commit, manifest: staging.manifestCommit },
    tokens,
    tokensFile,
  };
}

export function parseArgs(argv) {
  const options = { force: false, bare: false };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--force') options.force = true;
    else if (arg === '--bare') options.bare = true;
    else if (arg === '--tokens-file') {
      const value = argv[++i];
      if (!value) throw new UsageError('--tokens-file needs a path');
      options.tokensFile = value;
    } else if (arg.startsWith('--tokens-file=')) options.tokensFile = arg.slice('--tokens-file='.length);
    else if (arg === '-h' || arg === '--help') options.help = true;
    else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else positional.push(arg);
  }
  if (positional.length > 1) throw new UsageError(`one DIR at most, got ${positional.join(' ')}`);
  options.dir = positional[0] ?? DEFAULT_DIR;
  return options;
}

class UsageError extends Error {}

export async function main(argv = process.argv.slice(2)) {
  let options;
  try {
    options = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`make-example-repo: ${/** @type {Error} */ (err).message}\n${USAGE}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    const r = await makeExampleRepo({ ...options, log: (line) => process.stdout.write(`${line}\n`) });
    const lines = [
      `Example bot repository ready in ${r.dir}`,
      `  try: botver --repo ${JSON.stringify(r.dir)} env list`,
      '',
      'Tokens (shown once: the repository keeps only their SHA-256):',
      `  version v1:             ${r.tokens.versions.v1}`,
      `  version v2:             ${r.tokens.versions.v2}`,
      `  environment production: ${r.tokens.environments.production}`,
      `  environment staging:    ${r.tokens.environments.staging}`,
      ...(r.tokensFile ? ['', `Tokens also written to ${r.tokensFile} (mode 600).`] : []),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`make-example-repo: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** True when run as `node scripts/make-example-repo.js`, false when imported (scripts/start.js). */
function invokedDirectly() {
  try {
    return !!process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (invokedDirectly()) process.exitCode = await main();
