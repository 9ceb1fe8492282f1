import type { GitRepo } from '../git/repo.js';
import type { Problem } from '../errors.js';
import type { ManifestDoc } from './manifest.js';

// The manifest rules that need the repository: every declared version has its branch, and a
// pinned environment is pinned to a commit of its version's branch. Checking a pin walks
// history, so mutations check only the pins they changed (`before` is the manifest they
// started from); `botver validate` passes no `before` and checks them all.

export interface BranchSource {
  branchHead(name: string): Promise<string | null>;
  isAncestor(ancestor: string, descendant: string): Promise<boolean>;
}

export async function repositoryProblems(
  repo: BranchSource | GitRepo,
  manifest: ManifestDoc,
  before?: ManifestDoc,
  controlBranch?: string,
): Promise<Problem[]> {
  const problems: Problem[] = [];
  const heads = new Map<string, string | null>();
  for (const name of Object.keys(manifest.data.versions)) {
    if (name === controlBranch) {
      problems.push(manifest.at(['versions', name], `version "${name}" has the name of the control branch`));
      continue;
    }
    const head = await repo.branchHead(name);
    heads.set(name, head);
    if (!head)
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
    if (!(await repo.isAncestor(env.commit, head).catch(() => false))) {
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
