import { basename, resolve } from 'node:path';
import { stringify } from 'yaml';
import { GitRepo } from '../git/repo.js';
import { ManifestDoc, MANIFEST_FILE, PRODUCTION, DEFAULT_MAX_VERSIONS } from '../manifest/manifest.js';
import { generateToken, sha256Hex } from '../model/tokens.js';
import { assertValidName } from '../model/names.js';
import { AlreadyInitialisedError, FirstVersionTakenError, InvalidContentError, UsageError } from '../errors.js';
import { BotRepo, resolveOpenOptions, warningsField, type OpenOptions } from './bot-repo.js';
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
  /** Present when the work tree could not follow a commit that landed (see BotRepo.commitToBranch). */
  warnings?: string[];
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
  const resolved = resolveOpenOptions(options);
  const path = resolve(resolved.repo);
  const controlBranch = resolved.controlBranch;
  const language = options.language ?? 'en';
  if (!/^[a-z]{2,3}$/.test(language))
    throw new UsageError(`--language must be an ISO 639 code like "en", not "${language}"`);
  if (FIRST_VERSION === controlBranch) throw new UsageError(`the control branch cannot be named ${FIRST_VERSION}`);

  let store = await GitRepo.at(path);
  const createdRepository = !store;
  store ??= await GitRepo.init(path, { bare: options.bare, defaultBranch: controlBranch });
  const repo = new BotRepo(store, resolved);
  const controlHead = await store.branchHead(controlBranch);
  if (controlHead && (await store.fileOid(controlHead, MANIFEST_FILE))) {
    throw new AlreadyInitialisedError(controlBranch, MANIFEST_FILE);
  }
  if (await store.branchHead(FIRST_VERSION)) {
    throw new FirstVersionTakenError(FIRST_VERSION);
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
  const warnings: string[] = [];
  const versionMoved = await store.moveBranch(
    FIRST_VERSION,
    versionCommit,
    null,
    [...content.keys()],
    signature,
    `botver: create version ${FIRST_VERSION}`,
    repo.lock,
  );
  warnings.push(...versionMoved.warnings);
  let manifestCommit: string;
  try {
    manifestCommit = await store.writeCommit(
      controlHead,
      new Map([[MANIFEST_FILE, manifestText]]),
      `turn on versioning: version ${FIRST_VERSION}, environment ${PRODUCTION} -> ${FIRST_VERSION}`,
      signature,
    );
    const manifestMoved = await store.moveBranch(
      controlBranch,
      manifestCommit,
      controlHead,
      [MANIFEST_FILE],
      signature,
      'botver: init',
      repo.lock,
    );
    warnings.push(...manifestMoved.warnings);
  } catch (err) {
    // Leave the repository as it was: the version branch goes again.
    await store.deleteBranch(FIRST_VERSION, versionCommit, repo.lock).catch(() => undefined);
    throw err;
  }
  // A bare repository made by `git init --bare` points HEAD at an unborn "master": point it at
  // the control branch, so that a clone checks out the manifest (a work tree's HEAD is left as
  // the user has it).
  if (store.bare) {
    const target = await store.headTarget().catch(() => null);
    if (target && target !== `refs/heads/${controlBranch}` && !(await store.readRef(target).catch(() => null))) {
      await store.setHead(controlBranch, repo.lock);
    }
  }
  return {
    bot,
    createdRepository,
    version: { name: FIRST_VERSION, commit: versionCommit, token: versionToken },
    environment: { name: PRODUCTION, token: environmentToken },
    manifestCommit,
    ...warningsField(warnings),
  };
}
