import { promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import git from 'isomorphic-git';
import { acquireLock, readRef, type LockOptions } from './refs.js';
import { writeFileAtomic, type atomicFs } from './atomic-fs.js';
import { DirtyWorktreeError, RefMovedError } from '../errors.js';

// When botver commits onto the branch that a non-bare repository has checked out, the work
// tree and the index must follow, or `git status` would show botver's change reverted.
// Everything happens under index.lock — the lock `git commit` itself takes — so a native git
// command and other botver processes wait, and the dirty check, the ref update and the file
// writes are one step as far as they can tell.

const CLEAN = new Set(['unmodified', 'absent']);

interface IsoContext {
  fs: typeof atomicFs;
  dir: string;
  gitdir: string;
  cache: object;
}

interface SyncPlan {
  ref: string;
  commit: string;
  expectedOld: string | null;
  changedPaths: readonly string[];
  lock: LockOptions;
  readText(commit: string, path: string): Promise<string | null>;
}

/**
 * Moves the checked-out branch (`moveRef`) and brings the index and work tree along. Returns
 * warnings: once the ref has moved, a failure to write the files is reported, not thrown.
 */
export async function syncCheckedOutBranch(
  ctx: IsoContext,
  plan: SyncPlan,
  moveRef: () => Promise<void>,
): Promise<{ warnings: string[] }> {
  const indexLock = await acquireLock(join(ctx.gitdir, 'index.lock'), plan.lock);
  try {
    // Fail fast, before looking at files, if someone else moved the branch meanwhile.
    const current = await readRef(ctx.gitdir, plan.ref);
    if (current !== plan.expectedOld) throw new RefMovedError(plan.ref, plan.expectedOld, current);

    // HEAD is the expected old commit here, so "unmodified" means the work tree and the
    // index hold exactly what botver based its change on.
    const dirty: string[] = [];
    if (plan.expectedOld) {
      for (const filepath of plan.changedPaths) {
        const state = await git.status({ ...ctx, filepath, refresh: false });
        if (!CLEAN.has(state)) dirty.push(filepath);
      }
    } else {
      // An unborn branch: any file already in the way is the user's.
      for (const filepath of plan.changedPaths) {
        if (await fsp.lstat(join(ctx.dir, filepath)).catch(() => null)) dirty.push(filepath);
      }
    }
    if (dirty.length) throw new DirtyWorktreeError(dirty);

    await moveRef();
    // The commit has landed: from here a failure must not be reported as "nothing happened"
    // (callers would undo or hide a change that is in the repository), only as a warning.
    try {
      await writeFiles(ctx, plan);
    } catch (err) {
      return {
        warnings: [
          `${plan.ref} was updated, but the work tree could not follow (${(err as Error).message}); ` +
            'run "git reset --hard" (after removing index.lock, if left) to bring it level',
        ],
      };
    }
    return { warnings: [] };
  } finally {
    await indexLock.release();
  }
}

async function writeFiles(ctx: IsoContext, plan: SyncPlan): Promise<void> {
  for (const filepath of plan.changedPaths) {
    const content = await plan.readText(plan.commit, filepath);
    const target = join(ctx.dir, filepath);
    if (content === null) {
      await fsp.rm(target, { force: true });
      await git.remove({ ...ctx, filepath });
    } else {
      await fsp.mkdir(dirname(target), { recursive: true });
      await writeFileAtomic(target, content);
      await git.add({ ...ctx, filepath });
    }
  }
}
