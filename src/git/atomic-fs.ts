import { promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

// isomorphic-git writes objects and the index in place. A process killed mid-write would
// leave a truncated object under its final name, and isomorphic-git never rewrites an
// object that "exists", so the repository would stay corrupt. This fs hands isomorphic-git
// a writeFile that writes a temporary file beside the target, fsyncs it and renames it
// over the target — as git does — so a reader sees the old file or the whole new one.

export async function writeFileAtomic(path: string, data: string | Uint8Array, options?: unknown): Promise<void> {
  const encoding = typeof options === 'string' ? options : (options as { encoding?: string } | undefined)?.encoding;
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
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

/** The fs handed to isomorphic-git: node's promises API with atomic writeFile. */
export const atomicFs = {
  promises: {
    readFile: fsp.readFile,
    writeFile: writeFileAtomic,
    unlink: fsp.unlink,
    readdir: fsp.readdir,
    mkdir: fsp.mkdir,
    rmdir: fsp.rmdir,
    rm: fsp.rm,
    stat: fsp.stat,
    lstat: fsp.lstat,
    readlink: fsp.readlink,
    symlink: fsp.symlink,
    chmod: fsp.chmod,
  },
};
