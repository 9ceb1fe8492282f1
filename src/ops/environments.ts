import { assertValidName } from '../model/names.js';
import { generateToken, sha256Hex } from '../model/tokens.js';
import { PRODUCTION, type ManifestDoc } from '../manifest/manifest.js';
import { AlreadyExistsError, ConflictError, NotFoundError, RuleViolationError } from '../errors.js';
import { type BotRepo, warningsField } from './bot-repo.js';
import type { TestOptions, TestReport } from './test-version.js';

export interface Link {
  version: string;
  /** The pin, when the environment is pinned. */
  commit?: string;
}

export interface EnvironmentInfo extends Link {
  name: string;
  description?: string;
  /** What it serves now: the pin, or the head of its version's branch (null if missing). */
  resolvedCommit: string | null;
  channels: { name: string; type: string }[];
}

export function describeLink(link: Link | null | undefined): string {
  if (!link) return '(none)';
  return link.commit ? `${link.version}@${link.commit.slice(0, 7)}` : link.version;
}

export async function listEnvironments(repo: BotRepo): Promise<EnvironmentInfo[]> {
  const { manifest } = await repo.readManifest();
  const environments: EnvironmentInfo[] = [];
  for (const [name, env] of Object.entries(manifest.data.environments)) {
    environments.push({
      name,
      version: env.version,
      ...(env.commit && { commit: env.commit }),
      ...(env.description !== undefined && { description: env.description }),
      // A clone has the version's branch as origin/<version> only (BranchView).
      resolvedCommit: env.commit ?? (await repo.branches.branchHead(env.version)),
      channels: (env.channels ?? []).map((c) => ({ name: c.name, type: c.type })),
    });
  }
  return environments;
}

export async function showEnvironment(repo: BotRepo, name: string): Promise<EnvironmentInfo> {
  const found = (await listEnvironments(repo)).find((e) => e.name === name);
  if (!found) throw new NotFoundError('environment', name);
  return found;
}

function requireVersion(m: ManifestDoc, version: string): void {
  if (!m.version(version)) throw new NotFoundError('version', version, 'create it first with "botver version create"');
}

export interface PinChoice {
  /** Pin to the version's current head. */
  pin?: boolean;
  /** Pin to this commit (any form git understands) of the version's branch. */
  commit?: string;
}

async function resolvePin(repo: BotRepo, version: string, choice: PinChoice): Promise<string | undefined> {
  if (choice.commit) return repo.git.resolveCommit(choice.commit);
  if (choice.pin) return repo.versionHead(version);
  return undefined;
}

export async function createEnvironment(
  repo: BotRepo,
  name: string,
  version: string,
  choice: PinChoice & { description?: string } = {},
) {
  assertValidName('environment', name);
  const token = generateToken();
  const result = await repo.updateManifest(async (m) => {
    if (m.environment(name)) throw new AlreadyExistsError('environment', name);
    requireVersion(m, version);
    const commit = await resolvePin(repo, version, choice);
    m.set(['environments', name], {
      version,
      ...(commit && { commit }),
      ...(choice.description !== undefined && { description: choice.description }),
      tokenSha256: sha256Hex(token),
    });
    return {
      message: `create environment ${name} linked to ${describeLink({ version, commit })}`,
      result: { name, version, ...(commit && { commit }) },
    };
  });
  return { ...result, token };
}

/** Writes a new link for `name` into the manifest; the message says from what to what. */
export function relink(m: ManifestDoc, name: string, to: Link, verb: string): { message: string; from: Link } {
  const env = m.environment(name);
  if (!env) throw new NotFoundError('environment', name, 'create it with "botver env create"');
  requireVersion(m, to.version);
  const from: Link = { version: env.version, ...(env.commit && { commit: env.commit }) };
  m.set(['environments', name, 'version'], to.version);
  m.set(['environments', name, 'commit'], to.commit, 'version');
  return { message: `${verb} ${name} to ${describeLink(to)} (was ${describeLink(from)})`, from };
}

/** `env set`: link an environment to a version, optionally pinned. This is a promotion. */
export async function setEnvironment(repo: BotRepo, name: string, version: string, choice: PinChoice = {}) {
  return repo.updateManifest(async (m) => {
    const commit = await resolvePin(repo, version, choice);
    const to: Link = { version, ...(commit && { commit }) };
    const { message, from } = relink(m, name, to, 'link');
    return { message, result: { environment: name, from, to } };
  });
}

export async function deleteEnvironment(repo: BotRepo, name: string) {
  if (name === PRODUCTION) throw new RuleViolationError(`environment "${PRODUCTION}" cannot be deleted`);
  return repo.updateManifest(async (m) => {
    const env = m.environment(name);
    if (!env) throw new NotFoundError('environment', name);
    m.set(['environments', name], undefined);
    return { message: `delete environment ${name} (was linked to ${describeLink(env)})`, result: { name } };
  });
}

/** What `promote FROM …` would link to now: FROM's version and the commit it serves (an environment) or its head (a version). */
export async function promotionSource(
  repo: BotRepo,
  fromName: string,
  manifest?: ManifestDoc,
): Promise<Link & { commit: string }> {
  const m = manifest ?? (await repo.readManifest()).manifest;
  if (m.environment(fromName))
    return { version: m.environment(fromName)!.version, commit: await repo.servedCommit(m, fromName) };
  if (m.version(fromName)) return { version: fromName, commit: await repo.versionHead(fromName) };
  throw new NotFoundError('environment or version', fromName);
}

export interface PromoteOptions extends TestOptions {
  /** Promote without running FROM's tests; the commit message says so. */
  skipTests?: boolean;
  /** Refuse when FROM has no tests (tests/*.yaml) instead of promoting with a warning. */
  requireTests?: boolean;
  /** Given the report of FROM's tests once they ran, passed or failed (the console shows and keeps it). */
  onTested?: (report: TestReport) => void;
}

export interface PromoteResult {
  environment: string;
  source: string;
  /** TO's link before. */
  from: Link;
  /** TO's link now: FROM's version, pinned to the commit FROM served. */
  to: Link;
  testsSkipped: boolean;
  /** The control-branch commit made; null when TO already served exactly that. */
  manifestCommit: string | null;
  /**
   * What the caller should hear about although the promotion happened (FROM has no tests, a work
   * tree that could not follow); present only when there is something to say.
   */
  warnings?: string[];
}

/** The refusals a promotion meets whatever FROM is; checked before any test runs. */
function checkTarget(m: ManifestDoc, fromName: string, to: string): void {
  if (!m.environment(to)) throw new NotFoundError('environment', to);
  if (fromName === to) throw new RuleViolationError(`cannot promote environment "${to}" to itself`);
}

/**
 * `promote FROM TO`: TO serves exactly what FROM (an environment, or a version) serves now,
 * pinned. FROM's tests run first (unless `skipTests`) and a failure refuses the promotion with
 * TestsFailedError; if FROM moves while they run, the promotion is refused rather than linking
 * an untested commit.
 */
export async function promote(
  repo: BotRepo,
  fromName: string,
  to: string,
  options: PromoteOptions = {},
): Promise<PromoteResult> {
  const skipTests = !!options.skipTests;
  let testedCommit: string | undefined;
  const warnings: string[] = [];
  if (!skipTests) {
    // Arguments first: a promotion that would be refused anyway costs no test run.
    const { manifest } = await repo.readManifest();
    checkTarget(manifest, fromName, to);
    const source = await promotionSource(repo, fromName, manifest);
    // Loaded on demand: the NLU engine is heavy, and most callers of this module never test.
    const { gateOnTests } = await import('./test-gate.js');
    let gate: Awaited<ReturnType<typeof gateOnTests>>;
    try {
      gate = await gateOnTests(repo, fromName, source.commit, options);
    } catch (err) {
      const report = (err as { data?: { report?: TestReport } }).data?.report;
      if (report) options.onTested?.(report);
      throw err;
    }
    options.onTested?.(gate.report);
    warnings.push(...gate.warnings);
    testedCommit = source.commit;
  }
  const result = await repo.updateManifest(async (m, base) => {
    const source: Link = await promotionSource(repo, fromName, base.manifest);
    if (fromName === to) throw new RuleViolationError(`cannot promote environment "${to}" to itself`);
    if (testedCommit && source.commit !== testedCommit) {
      throw new ConflictError(
        `${fromName} moved to ${source.commit!.slice(0, 7)} while the tests of ${testedCommit.slice(0, 7)} ran; promote again`,
      );
    }
    const { message, from } = relink(m, to, source, 'promote');
    const note = skipTests ? ' (tests skipped with --skip-tests)' : '';
    return {
      message: `${message}, from ${fromName}${note}`,
      result: { environment: to, source: fromName, from, to: source, testsSkipped: skipTests },
    };
  });
  return { ...result, ...warningsField([...warnings, ...(result.warnings ?? [])]) };
}
