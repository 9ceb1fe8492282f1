import { promises as fsp } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import git from 'isomorphic-git';
import { stringify } from 'yaml';
import { atomicFs, writeFileAtomic } from '../git/atomic-fs.js';
import { readHeadTarget, readRef } from '../git/refs.js';
import { repoAt } from '../git/location.js';
import { GitRepo } from '../git/repo.js';
import { ManifestDoc, MANIFEST_FILE, PRODUCTION, DEFAULT_MAX_VERSIONS } from '../manifest/manifest.js';
import { generateToken, sha256Hex } from '../model/tokens.js';
import { assertValidName } from '../model/names.js';
import { BotverError, InvalidContentError } from '../errors.js';
import { BotRepo, assertBranchName, defaultControlBranch, type OpenOptions } from './bot-repo.js';
import { starterContent } from './starter-content.js';

export interface InitOptions extends OpenOptions {
  bot?: string;
  language?: string;
  /** Create v1 with no files instead of the starter intent and skills. */
  empty?: boolean;
  /** When the folder holds no repository yet, create a bare one. */
  bare?: boolean;
  maxVersions?: number;
}

export interface InitResult {
  bot: string;
  createdRepository: boolean;
  version: { name: string; commit: string; token: string };
  environment: { name: string; token: string };
  manifestCommit: string;
}

const FIRST_VERSION = 'v1';

function botNameFrom(path: string): string {
  const slug = basename(resolve(path))
    .toLowerCase()
    .replace(/\.git$/, '')
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '');
  return slug || 'bot';
}

/** Turns versioning on: manifest, version v1 and environment production -> v1. */
export async function initBotRepo(options: InitOptions = {}): Promise<InitResult> {
  const path = resolve(options.repo ?? process.cwd());
  const controlBranch = assertBranchName(options.controlBranch ?? defaultControlBranch());
  const language = options.language ?? 'en';
  if (!/^[a-z]{2,3}$/.test(language))
    throw new BotverError('USAGE', `--language must be an ISO 639 code like "en", not "${language}"`);
  if (FIRST_VERSION === controlBranch)
    throw new BotverError('USAGE', `the control branch cannot be named ${FIRST_VERSION}`);

  let location = await repoAt(path);
  let createdRepository = false;
  if (!location) {
    await fsp.mkdir(path, { recursive: true });
    await git.init({
      fs: atomicFs,
      dir: options.bare ? undefined : path,
      gitdir: options.bare ? path : undefined,
      bare: options.bare,
      defaultBranch: controlBranch,
    });
    location = (await repoAt(path))!;
    createdRepository = true;
  }
  const repo = new BotRepo(GitRepo.fromLocation(location), { ...options, controlBranch });
  const store = repo.git;
  const controlHead = await store.branchHead(controlBranch);
  if (controlHead && (await store.fileOid(controlHead, MANIFEST_FILE))) {
    throw new BotverError('ALREADY_INITIALISED', `versioning is already on: ${controlBranch} has ${MANIFEST_FILE}`);
  }
  if (await store.branchHead(FIRST_VERSION)) {
    throw new BotverError(
      'ALREADY_EXISTS',
      `branch ${FIRST_VERSION} already exists; botver init needs it for the first version`,
    );
  }

  const bot = options.bot ?? botNameFrom(path);
  assertValidName('version', FIRST_VERSION, controlBranch);
  const versionToken = generateToken();
  const environmentToken = generateToken();
  const manifestText =
    `# botver manifest: which version each environment serves.\n` +
    `# Change it with "botver env set" / "botver promote", or in a pull request.\n` +
    stringify(
      {
        apiVersion: 'botver/v1',
        bot,
        language,
        maxVersions: options.maxVersions ?? DEFAULT_MAX_VERSIONS,
        versions: { [FIRST_VERSION]: { description: 'First version', tokenSha256: sha256Hex(versionToken) } },
        environments: { [PRODUCTION]: { version: FIRST_VERSION, tokenSha256: sha256Hex(environmentToken) } },
      },
      { lineWidth: 0 },
    );
  const problems = ManifestDoc.parse(manifestText).problems();
  if (problems.length) throw new InvalidContentError(problems);

  const signature = await repo.sign();
  const content = options.empty ? new Map<string, string>() : starterContent(bot);
  const versionCommit = await store.writeCommit(null, content, `create version ${FIRST_VERSION}`, signature);
  await store.moveBranch(
    FIRST_VERSION,
    versionCommit,
    null,
    [...content.keys()],
    signature,
    `botver: create version ${FIRST_VERSION}`,
    repo.lock,
  );
  let manifestCommit: string;
  try {
    manifestCommit = await store.writeCommit(
      controlHead,
      new Map([[MANIFEST_FILE, manifestText]]),
      `turn on versioning: version ${FIRST_VERSION}, environment ${PRODUCTION} -> ${FIRST_VERSION}`,
      signature,
    );
    await store.moveBranch(
      controlBranch,
      manifestCommit,
      controlHead,
      [MANIFEST_FILE],
      signature,
      'botver: init',
      repo.lock,
    );
  } catch (err) {
    // Leave the repository as it was: the version branch goes again.
    await store.deleteBranch(FIRST_VERSION, versionCommit, repo.lock).catch(() => undefined);
    throw err;
  }
  // A bare repository made by `git init --bare` points HEAD at an unborn "master": point it at
  // the control branch, so that a clone checks out the manifest (a work tree's HEAD is left as
  // the user has it).
  if (store.bare) {
    const target = await readHeadTarget(store.gitdir).catch(() => null);
    if (
      target &&
      target !== `refs/heads/${controlBranch}` &&
      !(await readRef(store.gitdir, target).catch(() => null))
    ) {
      await writeFileAtomic(join(store.gitdir, 'HEAD'), `ref: refs/heads/${controlBranch}\n`);
    }
  }
  return {
    bot,
    createdRepository,
    version: { name: FIRST_VERSION, commit: versionCommit, token: versionToken },
    environment: { name: PRODUCTION, token: environmentToken },
    manifestCommit,
  };
}
