import type { GitRepo } from '../git/repo.js';
import { MissingHistoryError } from '../errors.js';
import type { Problem } from '../errors.js';
import type { ManifestDoc } from './manifest.js';

// The manifest rules that need the repository: every declared version has its branch, and a
// pinned environment is pinned to a commit of its version's branch. Checking a pin walks
// history, so mutations check only the pins they changed (`before` is the manifest they
// started from); `botver validate` passes no `before` and checks them all.

export interface BranchSource {
  branchHead(name: string): Promise<string | null>;
  /** May throw when it cannot tell (a shallow clone): that is reported as the problem. */
  isAncestor(ancestor: string, descendant: string): Promise<boolean>;
  /** In a clone, why these branches are missing and how to fetch them; null: they are simply missing. */
  missingHint?(names: readonly string[]): Promise<string | null>;
}

export async function repositoryProblems(
  repo: BranchSource | GitRepo,
  manifest: ManifestDoc,
  before?: ManifestDoc,
  controlBranch?: string,
): Promise<Problem[]> {
  const problems: Problem[] = [];
  const heads = new Map<string, string | null>();
  const missing: string[] = [];
  for (const name of Object.keys(manifest.data.versions)) {
    if (name === controlBranch) {
      problems.push(manifest.at(['versions', name], `version "${name}" has the name of the control branch`));
      continue;
    }
    const head = await repo.branchHead(name);
    heads.set(name, head);
    if (!head) missing.push(name);
  }
  // In a partial clone (CI's single-branch checkout) every version is missing for one reason:
  // one error says which and how to fetch them, rather than one per version.
  const hint = missing.length && 'missingHint' in repo && repo.missingHint ? await repo.missingHint(missing) : null;
  if (hint) {
    const refs = missing.map((n) => `refs/heads/${n}`).join(', ');
    problems.push(
      manifest.at(
        ['versions', missing[0]!],
        `${missing.length > 1 ? `versions ${missing.join(', ')} are` : `version "${missing[0]}" is`} declared but ${refs} ${missing.length > 1 ? 'do' : 'does'} not exist, and ${hint}`,
      ),
    );
  } else {
    for (const name of missing)
      problems.push(
        manifest.at(
          ['versions', name],
          `version "${name}" is declared but its branch refs/heads/${name} does not exist`,
        ),
      );
  }
  for (const [name, env] of Object.entries(manifest.data.environments)) {
    if (!env.commit) continue;
    const old = before?.environment(name);
    if (before && old?.commit === env.commit && old.version === env.version) continue;
    const head = heads.get(env.version);
    if (!head) continue; // already reported: missing version or branch
    let pinnedThere: boolean;
    try {
      pinnedThere = await repo.isAncestor(env.commit, head);
    } catch (err) {
      if (!(err instanceof MissingHistoryError)) pinnedThere = false;
      else {
        problems.push(
          manifest.at(
            ['environments', name, 'commit'],
            `environment "${name}" is pinned to ${env.commit.slice(0, 12)}, which cannot be checked against version "${env.version}": ${err.message}`,
          ),
        );
        continue;
      }
    }
    if (!pinnedThere) {
      problems.push(
        manifest.at(
          ['environments', name, 'commit'],
          `environment "${name}" is pinned to ${env.commit.slice(0, 12)}, which is not a commit of version "${env.version}" (branch ${env.version})`,
        ),
      );
    }
  }
  return problems;
}
