import { promises as fsp, existsSync, readFileSync, readdirSync, statSync, lstatSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

// isomorphic-git writes objects and the index in place. A process killed mid-write would
// leave a truncated object under its final name, and isomorphic-git never rewrites an
// object that "exists", so the repository would stay corrupt. This fs hands isomorphic-git
// a writeFile that writes a temporary file beside the target, fsyncs it and renames it
// over the target — as git does — so a reader sees the old file or the whole new one.

// A loose object's temporary file is named as git names its own (objects/xx/tmp_obj_*): one
// left by a killed process is then ignored by `git fsck` and removed by `git gc`/`git prune`,
// where any other name is reported as a "bad sha1 file" forever.
const tempPrefix = (path: string) =>
  /^[0-9a-f]{38}$/.test(basename(path)) && /^[0-9a-f]{2}$/.test(basename(dirname(path)))
    ? 'tmp_obj_'
    : `.${basename(path)}.tmp-`;

export async function writeFileAtomic(path: string, data: string | Uint8Array, options?: unknown): Promise<void> {
  const encoding = typeof options === 'string' ? options : (options as { encoding?: string } | undefined)?.encoding;
  const tmp = join(dirname(path), `${tempPrefix(path)}${process.pid}-${randomBytes(4).toString('hex')}`);
  // ENOENT here (missing folder) goes back to isomorphic-git, which creates it and retries.
  const handle = await fsp.open(tmp, 'wx', 0o644);
  try {
    await handle.writeFile(data, encoding ? { encoding: encoding as BufferEncoding } : undefined);
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
