import { loadBundle } from '../content/bundle.js';
import { MANIFEST_FILE, ManifestDoc, manifestRuleProblems, readManifestText } from '../manifest/manifest.js';
import { DEFAULT_LIMITS, type ContentLimits } from '../content/limits.js';
import { repositoryProblems } from '../manifest/rules.js';
import { InvalidContentError, type Problem } from '../errors.js';
import type { BotRepo } from './bot-repo.js';

export interface ValidationTarget {
  /** What the user named (or the version / environment validated). */
  ref: string;
  kind: 'manifest' | 'version';
  commit: string;
  problems: Problem[];
}

export interface ValidationReport {
  targets: ValidationTarget[];
  errors: number;
  warnings: number;
}

function tag(problems: Problem[], ref: string): Problem[] {
  return problems.map((p) => ({ ...p, ref }));
}

async function validateManifestAt(
  repo: BotRepo,
  ref: string,
  commit: string,
): Promise<{ target: ValidationTarget; manifest: ManifestDoc | null }> {
  let manifest: ManifestDoc | null = null;
  let problems: Problem[];
  try {
    const text = await readManifestText(repo.git, commit);
    if (text === null) throw new InvalidContentError([atManifest(`${MANIFEST_FILE} is missing at ${ref}`)]);
    manifest = ManifestDoc.parse(text);
    const schema = manifest.schemaProblems();
    if (schema.length) {
      // Only a manifest whose shape is wrong stops the versions from being checked.
      problems = schema;
      manifest = null;
    } else {
      problems = [
        ...manifestRuleProblems(manifest),
        ...(await repositoryProblems(repo.branches, manifest, undefined, repo.controlBranch)),
      ];
    }
  } catch (err) {
    // Whatever the manifest's failure, it is reported at the manifest, never as a bare exception.
    problems =
      err instanceof InvalidContentError ? err.problems : [atManifest(`cannot be read: ${(err as Error).message}`)];
  }
  return { target: { ref, kind: 'manifest', commit, problems: tag(problems, ref) }, manifest };
}

function atManifest(message: string): Problem {
  return { file: MANIFEST_FILE, line: 1, column: 1, message, severity: 'error' };
}

/** The limits of the manifest at the control branch (the ones the resolver applies), or the defaults without a valid one. */
async function controlLimits(repo: BotRepo): Promise<ContentLimits> {
  try {
    const head = await repo.branches.branchHead(repo.controlBranch);
    const text = head ? await readManifestText(repo.git, head) : null;
    const manifest = text === null ? null : ManifestDoc.parse(text);
    return manifest && !manifest.schemaProblems().length ? manifest.limits : DEFAULT_LIMITS;
  } catch {
    return DEFAULT_LIMITS;
  }
}

async function validateVersionAt(
  repo: BotRepo,
  ref: string,
  commit: string,
  limits: ContentLimits,
): Promise<ValidationTarget> {
  const { problems } = await loadBundle(repo.git, commit, limits);
  return { ref, kind: 'version', commit, problems: tag(problems, ref) };
}

/**
 * With no refs: the manifest at the control branch, every version's head and every pinned
 * commit an environment serves. With refs: each one, as a manifest when its tree has
 * environments.yaml, otherwise as a version's content.
 */
export async function validate(repo: BotRepo, refs: string[] = []): Promise<ValidationReport> {
  const targets: ValidationTarget[] = [];
  if (refs.length === 0) {
    const head = await repo.branches.branchHead(repo.controlBranch);
    if (!head)
      throw new InvalidContentError([
        {
          file: MANIFEST_FILE,
          line: 1,
          column: 1,
          message: `branch ${repo.controlBranch} does not exist`,
          severity: 'error',
        },
      ]);
    const { target, manifest } = await validateManifestAt(repo, repo.controlBranch, head);
    targets.push(target);
    if (manifest) {
      const done = new Set<string>();
      for (const name of Object.keys(manifest.data.versions)) {
        const commit = await repo.branches.branchHead(name);
        if (!commit) continue; // reported with the manifest
        done.add(commit);
        targets.push(await validateVersionAt(repo, name, commit, manifest.limits));
      }
      for (const [name, env] of Object.entries(manifest.data.environments)) {
        if (env.commit && !done.has(env.commit)) {
          done.add(env.commit);
          targets.push(await validateVersionAt(repo, `${name}@${env.commit.slice(0, 7)}`, env.commit, manifest.limits));
        }
      }
    }
  } else {
    const limits = await controlLimits(repo);
    for (const ref of refs) {
      const commit = await repo.git.resolveCommit(ref);
      if (await repo.git.fileOid(commit, MANIFEST_FILE))
        targets.push((await validateManifestAt(repo, ref, commit)).target);
      else targets.push(await validateVersionAt(repo, ref, commit, limits));
    }
  }
  const all = targets.flatMap((t) => t.problems);
  return {
    targets,
    errors: all.filter((p) => p.severity === 'error').length,
    warnings: all.filter((p) => p.severity === 'warning').length,
  };
}
