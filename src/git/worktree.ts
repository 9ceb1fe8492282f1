import { promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import git from 'isomorphic-git';
import { acquireLock, readRef, type LockOptions } from './refs.js';
import { sweepBeside, writeFileAtomic, type atomicFs } from './atomic-fs.js';
import { DirtyWorktreeError, RefMovedError, UnsupportedIndexError } from '../errors.js';
import { changedInV4, type IndexFile, parseIndexV4, serializeIndexV4, stageInV4 } from './index-v4.js';

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
    // isomorphic-git reads index versions 2 and 3 without extensions it does not know;
    // version 4 is read and written by index-v4.ts; split and sparse indexes are refused.
    const v4 = await checkIndexFormat(join(ctx.gitdir, 'index'));

    // HEAD is the expected old commit here, so "unmodified" means the work tree and the
    // index hold exactly what botver based its change on.
    const dirty: string[] = [];
    if (plan.expectedOld) {
      for (const filepath of plan.changedPaths) {
        const changed = v4
          ? await changedInV4(v4, ctx.dir, filepath, await plan.readText(plan.expectedOld, filepath))
          : !CLEAN.has(await git.status({ ...ctx, filepath, refresh: false }));
        if (changed) dirty.push(filepath);
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
      await writeFiles(ctx, plan, v4);
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

async function writeFiles(ctx: IsoContext, plan: SyncPlan, v4: IndexFile | null): Promise<void> {
  // Temporary files go under the git directory: one left by a killed process is never in the work tree.
  const tmpDir = join(ctx.gitdir, 'botver', 'tmp');
  for (const filepath of plan.changedPaths) {
    const content = await plan.readText(plan.commit, filepath);
    const target = join(ctx.dir, filepath);
    if (content === null) {
      await fsp.rm(target, { force: true });
      if (v4) await stageInV4(v4, ctx.dir, filepath, null);
      else await git.remove({ ...ctx, filepath });
    } else {
      await fsp.mkdir(dirname(target), { recursive: true });
      await sweepBeside(target); // left in the work tree by earlier botvers, which wrote them there
      await writeFileAtomic(target, content, { tmpDir });
      if (v4) await stageInV4(v4, ctx.dir, filepath, content);
      else await git.add({ ...ctx, filepath });
    }
  }
  if (v4) await writeFileAtomic(join(ctx.gitdir, 'index'), serializeIndexV4(v4));
}

/**
 * Which code can update the index: version 4 (prefix-compressed paths, which isomorphic-git
 * cannot read: "Unsupported dircache version") is returned parsed, for index-v4.ts; versions 2
 * and 3 give null (isomorphic-git). Refused before anything changes: a split index (`link`
 * extension: the entries live in a shared index isomorphic-git never reads, so every file would
 * look deleted) and a sparse index (`sdir`: folders stand for their files) — git's only
 * required extensions. Optional ones (the tree cache, the untracked cache, …) are dropped by
 * the rewrite, which git allows.
 */
export async function checkIndexFormat(indexPath: string): Promise<IndexFile | null> {
  const index = await fsp.readFile(indexPath).catch(() => null);
  if (!index || index.length < 12 + 20 || index.toString('latin1', 0, 4) !== 'DIRC') return null;
  const version = index.readUInt32BE(4);
  if (version === 4) {
    const parsed = parseIndexV4(index);
    // A split or sparse index in version 4 is refused like one in version 2 (extensions below).
    if (!parsed.required) return parsed;
    throw requiredExtension(indexPath, parsed.required);
  }
  if (version !== 2 && version !== 3) return null; // isomorphic-git names what it cannot read
  let at = 12;
  for (let n = index.readUInt32BE(8); n > 0; n--) {
    // ctime, mtime, dev, ino, mode, uid, gid, size (40 bytes), object id (20), flags (2).
    const flags = index.readUInt16BE(at + 60);
    const start = at + 62 + (version === 3 && flags & 0x4000 ? 2 : 0);
    const end = index.indexOf(0, start);
    if (end < 0) return null;
    at = at + Math.ceil((end - at + 1) / 8) * 8; // NUL-padded to a multiple of 8 bytes
  }
  while (at + 8 <= index.length - 20) {
    const signature = index.toString('latin1', at, at + 4);
    if (signature === 'link' || signature === 'sdir') throw requiredExtension(indexPath, signature);
    at += 8 + index.readUInt32BE(at + 4);
  }
  return null;
}

function requiredExtension(indexPath: string, signature: 'link' | 'sdir'): UnsupportedIndexError {
  return signature === 'link'
    ? new UnsupportedIndexError(indexPath, 'a split index', 'git update-index --no-split-index')
    : new UnsupportedIndexError(indexPath, 'a sparse index', 'git sparse-checkout init --no-sparse-index');
}
