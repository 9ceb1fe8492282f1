import { NotFoundError, PathConflictError, UsageError } from '../errors.js';
import { warningsField, type BotRepo } from './bot-repo.js';

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
  /** Present when the commit landed but the work tree that has the branch checked out could not follow. */
  warnings?: string[];
}

function checkPath(path: string): void {
  const segments = path.split('/');
  // NUL would corrupt the tree object; backslashes and control characters make isomorphic-git
  // (and Windows clients) refuse to read the branch afterwards.
  if (/[\u0000-\u001f\u007f\\]/.test(path)) {
    throw new UsageError(
      `cannot commit "${JSON.stringify(path).slice(1, -1)}": no control characters or backslashes in paths`,
    );
  }
  if (
    !path ||
    path.startsWith('/') ||
    segments.some((s) => s === '' || s === '.' || s === '..' || s.toLowerCase() === '.git')
  ) {
    throw new UsageError(
      `cannot commit "${path}": paths are relative to the repository root, without empty, ".", ".." or ".git" parts`,
    );
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
  if (!message.trim()) throw new UsageError('a commit message is required');
  // Within the change itself: "a" and "a/b" cannot both be files.
  const written: string[] = [...changes].filter(([, text]) => text !== null).map(([path]) => path);
  for (const path of written) {
    const inside = written.find((other) => other.startsWith(`${path}/`));
    if (inside)
      throw new UsageError(`cannot commit both "${path}" and "${inside}": a path is a file or a folder, not both`);
  }
  const { commit, parent, warnings } = await repo.commitToBranch(branch, async (head) => {
    if (!head) throw new NotFoundError('branch', branch, `refs/heads/${branch} does not exist`);
    // Against the branch: a file does not silently replace a folder, nor a folder a file.
    const existing = new Set(
      (await repo.git.listFiles(head)).map((f) => f.path).filter((p) => changes.get(p) !== null),
    );
    for (const path of written) {
      const segments = path.split('/');
      const fileOnTheWay = segments
        .slice(0, -1)
        .map((_, i) => segments.slice(0, i + 1).join('/'))
        .find((prefix) => existing.has(prefix));
      if (fileOnTheWay) throw new PathConflictError(path, branch, `"${fileOnTheWay}" is a file there`);
      if ([...existing].some((p) => p.startsWith(`${path}/`)))
        throw new PathConflictError(path, branch, 'it is a folder there');
    }
    // A commit that changes nothing is not made.
    const unchanged = await Promise.all(
      [...changes].map(async ([path, text]) => (await repo.git.readText(head, path)) === text),
    );
    return unchanged.every(Boolean) ? null : { changes, message };
  });
  return { branch, commit, parent: parent!, ...warningsField(warnings) };
}
