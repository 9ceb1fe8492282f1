import { loadBundle } from '../content/bundle.js';
import { MANIFEST_FILE, ManifestDoc, manifestRuleProblems } from '../manifest/manifest.js';
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

/**
 * Version branches as a read-only check sees them: the local branch, else the remote-tracking
 * one, so `botver validate` works in a pull request's CI clone, which has only origin/<v>.
 */
function branchesOf(repo: BotRepo) {
  return {
    branchHead: async (name: string) =>
      (await repo.git.branchHead(name)) ??
      (await repo.git.resolveName(`refs/remotes/origin/${name}`).catch(() => null)),
    isAncestor: (a: string, b: string) => repo.git.isAncestor(a, b),
  };
}

function tag(problems: Problem[], ref: string): Problem[] {
  return problems.map((p) => ({ ...p, ref }));
}

async function validateManifestAt(
  repo: BotRepo,
  ref: string,
  commit: string,
): Promise<{ target: ValidationTarget; manifest: ManifestDoc | null }> {
  const text = await repo.git.readText(commit, MANIFEST_FILE);
  let manifest: ManifestDoc | null = null;
  let problems: Problem[];
  try {
    manifest = ManifestDoc.parse(text ?? '');
    const schema = manifest.schemaProblems();
    if (schema.length) {
      // Only a manifest whose shape is wrong stops the versions from being checked.
      problems = schema;
      manifest = null;
    } else {
      problems = [
        ...manifestRuleProblems(manifest),
        ...(await repositoryProblems(branchesOf(repo), manifest, undefined, repo.controlBranch)),
      ];
    }
  } catch (err) {
    if (!(err instanceof InvalidContentError)) throw err;
    problems = err.problems;
  }
  return { target: { ref, kind: 'manifest', commit, problems: tag(problems, ref) }, manifest };
}

async function validateVersionAt(repo: BotRepo, ref: string, commit: string): Promise<ValidationTarget> {
  const { problems } = await loadBundle(repo.git, commit);
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
    const head = await repo.git.branchHead(repo.controlBranch);
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
        const commit = await branchesOf(repo).branchHead(name);
        if (!commit) continue; // reported with the manifest
        done.add(commit);
        targets.push(await validateVersionAt(repo, name, commit));
      }
      for (const [name, env] of Object.entries(manifest.data.environments)) {
        if (env.commit && !done.has(env.commit)) {
          done.add(env.commit);
          targets.push(await validateVersionAt(repo, `${name}@${env.commit.slice(0, 7)}`, env.commit));
        }
      }
    }
  } else {
    for (const ref of refs) {
      const commit = await repo.git.resolveCommit(ref);
      if (await repo.git.fileOid(commit, MANIFEST_FILE))
        targets.push((await validateManifestAt(repo, ref, commit)).target);
      else targets.push(await validateVersionAt(repo, ref, commit));
    }
  }
  const all = targets.flatMap((t) => t.problems);
  return {
    targets,
    errors: all.filter((p) => p.severity === 'error').length,
    warnings: all.filter((p) => p.severity === 'warning').length,
  };
}
