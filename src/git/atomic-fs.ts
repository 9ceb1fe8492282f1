import { promises as fsp, existsSync, readFileSync, readdirSync, statSync, lstatSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

// isomorphic-git writes objects and the index in place. A process killed mid-write would
// leave a truncated object under its final name, and isomorphic-git never rewrites an
// object that "exists", so the repository would stay corrupt. This fs hands isomorphic-git
// a writeFile that writes a temporary file, fsyncs it and renames it over the target — as
// git does — so a reader sees the old file or the whole new one.
//
// Where the temporary file lives: files of the git directory (objects, the index, models) get
// theirs beside the target; files of the work tree get theirs in <gitdir>/botver/tmp/
// (`tmpDir`), so that a process killed between create and rename leaves nothing in the work
// tree (`git status` and `git reset --hard` would show or keep it). Temporary files of dead
// writers are removed at the next write to the same place (see sweepStale).

/** Options of writeFileAtomic: an encoding (isomorphic-git passes one), or where temporary files go. */
export interface AtomicWriteOptions {
  encoding?: BufferEncoding;
  /** A folder on the same file system as the target for the temporary file (default: beside it). */
  tmpDir?: string;
}

// A loose object's temporary file is named as git names its own (objects/xx/tmp_obj_*): one
// left by a killed process is then ignored by `git fsck` and removed by `git gc`/`git prune`,
// where any other name is reported as a "bad sha1 file" forever.
const isLooseObject = (path: string) =>
  /^[0-9a-f]{38}$/.test(basename(path)) && /^[0-9a-f]{2}$/.test(basename(dirname(path)));

/** A temporary file's name ends with "<pid>-<8 hex>": the writer's pid says whether it is still alive. */
const suffix = () => `${process.pid}-${randomBytes(4).toString('hex')}`;
/** The writer's pid in a temporary file's name (the part after the prefix), or null. */
const pidIn = (rest: string, pattern: RegExp): number | null => {
  const match = pattern.exec(rest);
  return match ? Number(match[1]) : null;
};
const IN_TMP_DIR = /^(\d+)-[0-9a-f]{8}-/;
const BESIDE = /^(\d+)-[0-9a-f]{8}$/;

/** Temporary files of writers that are gone are removed after this long even if their pid is in use again. */
export const STALE_TMP_MS = 60 * 60 * 1000;

export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options?: BufferEncoding | AtomicWriteOptions,
): Promise<void> {
  const opts: AtomicWriteOptions = typeof options === 'string' ? { encoding: options } : (options ?? {});
  if (opts.tmpDir) {
    await fsp.mkdir(opts.tmpDir, { recursive: true });
    await sweepStale(opts.tmpDir, (name) => pidIn(name, IN_TMP_DIR));
    const tmp = join(opts.tmpDir, `${suffix()}-${basename(path)}`);
    try {
      return await writeAndRename(tmp, path, data, opts.encoding);
    } catch (err) {
      // The git directory on another file system than the work tree: a rename cannot cross,
      // so the temporary file goes beside the target after all.
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    }
  }
  const looseObject = isLooseObject(path);
  // Loose objects' folders hold thousands of files and git gc removes their leftovers.
  if (!looseObject) await sweepBeside(path);
  const prefix = looseObject ? 'tmp_obj_' : `.${basename(path)}.tmp-`;
  // ENOENT here (missing folder) goes back to isomorphic-git, which creates it and retries.
  await writeAndRename(join(dirname(path), `${prefix}${suffix()}`), path, data, opts.encoding);
}

/** Removes the stale temporary files beside `path` (".<name>.tmp-<pid>-<hex>", also left by older botvers in the work tree). */
export function sweepBeside(path: string): Promise<void> {
  const prefix = `.${basename(path)}.tmp-`;
  return sweepStale(dirname(path), (name) =>
    name.startsWith(prefix) ? pidIn(name.slice(prefix.length), BESIDE) : null,
  );
}

async function writeAndRename(
  tmp: string,
  path: string,
  data: string | Uint8Array,
  encoding: BufferEncoding | undefined,
): Promise<void> {
  const handle = await fsp.open(tmp, 'wx', 0o644);
  try {
    await handle.writeFile(data, encoding ? { encoding } : undefined);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await fsp.rename(tmp, path);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Removes the temporary files in `dir` (those `pidOf` finds a pid in) left by writers that are gone:
 * their pid is not a live process, or they are older than STALE_TMP_MS (the pid was reused).
 * Best effort: a file another process removes meanwhile, or one we may not remove, is skipped.
 */
async function sweepStale(dir: string, pidOf: (name: string) => number | null): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = pidOf(name);
    if (pid === null || pid === process.pid) continue;
    const path = join(dir, name);
    const stat = await fsp.lstat(path).catch(() => null);
    if (!stat?.isFile()) continue;
    if (alive(pid) && Date.now() - stat.mtimeMs < STALE_TMP_MS) continue;
    await fsp.rm(path, { force: true }).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Reads are done synchronously behind the promise API. isomorphic-git makes several small
// reads per object (a loose-object probe that usually fails, the pack folder, the pack);
// through libuv's thread pool each costs a round trip, which made walking 500 commits take
// ~0.5 s of pure waiting. Synchronous reads of small, page-cached files take microseconds.
const syncRead =
  <A extends unknown[], R>(fn: (...args: A) => R) =>
  async (...args: A): Promise<R> =>
    fn(...args);

// Most reads probe for a loose object that is not there; a thrown ENOENT with its stack
// costs more than the probe itself, so ask first and fail with a light error.
const missing = (path: string) => Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
const readFile = async (path: string, options?: unknown) => {
  if (!existsSync(path)) throw missing(path);
  return readFileSync(path, options as BufferEncoding);
};

/** The fs handed to isomorphic-git: synchronous reads, atomic writeFile. */
export const atomicFs = {
  promises: {
    readFile,
    writeFile: writeFileAtomic,
    unlink: fsp.unlink,
    readdir: syncRead(readdirSync as (path: string, options?: unknown) => string[]),
    mkdir: fsp.mkdir,
    rmdir: fsp.rmdir,
    rm: fsp.rm,
    stat: syncRead(statSync as (path: string, options?: unknown) => ReturnType<typeof statSync>),
    lstat: syncRead(lstatSync as (path: string, options?: unknown) => ReturnType<typeof lstatSync>),
    readlink: fsp.readlink,
    symlink: fsp.symlink,
    chmod: fsp.chmod,
  },
};
