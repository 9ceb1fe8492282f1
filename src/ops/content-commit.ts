import { BotverError, NotFoundError } from '../errors.js';
import type { BotRepo } from './bot-repo.js';

// Writing files onto a branch (a version's training data, skills, tests) without a work
// tree: the commit is built in memory on the branch's head and the branch is moved with
// compare-and-swap, retrying on the new head when someone (botver or a `git push`) moved it
// meanwhile (BotRepo.commitToBranch, the loop every botver commit goes through), so no update is lost.

export interface CommittedFiles {
  branch: string;
  /** The new commit, or null when the files already had this content (nothing committed). */
  commit: string | null;
  /** The head the commit was made on. */
  parent: string;
}


function checkPath(path: string): void {
  const segments = path.split('/');
  // NUL would corrupt the tree object; backslashes and control characters make isomorphic-git
  // (and Windows clients) refuse to read the branch afterwards.
  if (/[\u0000-\u001f\u007f\\]/.test(path)) {
    throw new BotverError('USAGE', `cannot commit "${JSON.stringify(path).slice(1, -1)}": no control characters or backslashes in paths`);
  }
  if (!path || path.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..' || s.toLowerCase() === '.git')) {
    throw new BotverError('USAGE', `cannot commit "${path}": paths are relative to the repository root, without empty, ".", ".." or ".git" parts`);
  }
}

/**
 * Commits `files` (path -> text, or null to delete) onto `branch` as one commit. The branch
 * must exist; the changes are applied to whatever its head is when the commit is made.
 */
export async function commitFiles(
  repo: BotRepo,
  branch: string,
  files: ReadonlyMap<string, string | null> | Readonly<Record<string, string | null>>,
  message: string,
): Promise<CommittedFiles> {
  const changes = new Map(files instanceof Map ? files : Object.entries(files));
  for (const path of changes.keys()) checkPath(path);
  if (!message.trim()) throw new BotverError('USAGE', 'a commit message is required');
  const { commit, parent } = await repo.commitToBranch(branch, async (head) => {
    if (!head) throw new NotFoundError('branch', branch, `refs/heads/${branch} does not exist`);
    // A commit that changes nothing is not made.
    const unchanged = await Promise.all([...changes].map(async ([path, text]) => (await repo.git.readText(head, path)) === text));
    return unchanged.every(Boolean) ? null : { changes, message };
  });
  return { branch, commit, parent: parent! };
}
