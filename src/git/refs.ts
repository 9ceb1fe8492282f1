import { promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import { CorruptRefError, RefLockedError, RefMovedError } from '../errors.js';

// Re-exported for callers that imported it from here before it moved to errors.ts.
export { RefMovedError };

// Ref updates done the way native git does them, because isomorphic-git neither locks refs
// across processes nor writes them atomically (isomorphic-git#1278):
//   take <ref>.lock with O_EXCL -> check the current value (loose ref, else packed-refs)
//   -> write the new value into the lock file -> fsync -> rename over the ref.
// A lock held by git or by another botver process is waited for, then reported.

export const ZERO_OID = '0000000000000000000000000000000000000000';

export interface LockOptions {
  /** How long to wait for a lock held by another process. */
  timeoutMs?: number;
}

export interface ReflogEntry {
  /** "Name <email> 1700000000 +0100" */
  identity: string;
  message: string;
}

/** How long a lock held by another process is waited for when the caller does not say. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface HeldLock {
  path: string;
  handle: fsp.FileHandle;
  /**
   * Renames the lock file over `target` (git's "commit" of a lock file). From then on the
   * lock path may already be another process's new lock, so release() must not remove it.
   */
  commit(target: string): Promise<void>;
  /** Removes the lock file unless commit() moved it; safe to call more than once. */
  release(): Promise<void>;
}

/** Create `path` exclusively, waiting while another process holds it. */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<HeldLock> {
  const timeout = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const started = Date.now();
  let delay = 5;
  for (;;) {
    try {
      const handle = await fsp.open(path, 'wx', 0o644);
      let released = false;
      return {
        path,
        handle,
        async commit(target: string) {
          await handle.close().catch(() => undefined);
          await fsp.rename(path, target);
          released = true;
        },
        async release() {
          if (released) return;
          released = true;
          await handle.close().catch(() => undefined);
          await fsp.rm(path, { force: true });
        },
      };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        await fsp.mkdir(dirname(path), { recursive: true });
        continue;
      }
      if (code !== 'EEXIST') throw err;
      if (Date.now() - started >= timeout) throw new RefLockedError(path);
      await sleep(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 100);
    }
  }
}

async function readPackedRefs(gitdir: string): Promise<Map<string, string>> {
  const refs = new Map<string, string>();
  let text: string;
  try {
    text = await fsp.readFile(join(gitdir, 'packed-refs'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return refs;
    throw err;
  }
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#') || line.startsWith('^')) continue;
    const space = line.indexOf(' ');
    if (space === 40) refs.set(line.slice(41), line.slice(0, 40));
  }
  return refs;
}

/**
 * Whether `ref` is a name that stays inside the repository's folder: no ".." or "." part, no
 * empty part (a leading, trailing or doubled "/"), no backslash or control character (git's
 * own check-ref-format rules, the ones that matter for a path). A name from a request ("../../
 * etc/passwd") is never joined to the git folder: it does not exist.
 */
export function isSafeRefName(ref: string): boolean {
  if (ref === '' || ref.length > 1024 || /[\\\x00-\x1f\x7f]/.test(ref)) return false;
  return ref.split('/').every((part) => part !== '' && !part.startsWith('.') && !part.endsWith('.lock'));
}

function refPathOf(gitdir: string, ref: string): string {
  if (!isSafeRefName(ref)) throw new RangeError(`not a valid ref name: ${JSON.stringify(ref.slice(0, 100))}`);
  return join(gitdir, ref);
}

/** The object id a (non-symbolic) ref holds, or null when it does not exist (or cannot: an unsafe name). */
export async function readRef(gitdir: string, ref: string): Promise<string | null> {
  if (!isSafeRefName(ref)) return null;
  try {
    const value = (await fsp.readFile(join(gitdir, ref), 'utf8')).trim();
    if (/^[0-9a-f]{40}$/.test(value)) return value;
    if (value.startsWith('ref: ')) return readRef(gitdir, value.slice(5).trim());
    throw new CorruptRefError(ref, value);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'EISDIR' && code !== 'ENOTDIR') throw err;
  }
  return (await readPackedRefs(gitdir)).get(ref) ?? null;
}

/** Every ref under `prefix` (e.g. "refs/heads/"), loose and packed, loose winning. */
export async function listRefs(gitdir: string, prefix: string): Promise<Map<string, string>> {
  const refs = new Map<string, string>();
  for (const [name, oid] of await readPackedRefs(gitdir)) if (name.startsWith(prefix)) refs.set(name, oid);
  async function walk(dir: string, refPrefix: string): Promise<void> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const name = refPrefix + entry.name;
      if (entry.isDirectory()) await walk(join(dir, entry.name), `${name}/`);
      else if (!entry.name.endsWith('.lock')) {
        const value = (await fsp.readFile(join(dir, entry.name), 'utf8').catch(() => '')).trim();
        if (/^[0-9a-f]{40}$/.test(value)) refs.set(name, value);
      }
    }
  }
  await walk(join(gitdir, prefix), prefix);
  return refs;
}

/** The branch HEAD names (e.g. "refs/heads/main"), or null when HEAD is detached. */
export async function readHeadTarget(gitdir: string): Promise<string | null> {
  const head = (await fsp.readFile(join(gitdir, 'HEAD'), 'utf8')).trim();
  return head.startsWith('ref: ') ? head.slice(5).trim() : null;
}

async function appendReflog(gitdir: string, ref: string, oldOid: string | null, newOid: string, entry: ReflogEntry) {
  const path = join(gitdir, 'logs', ref);
  const message = entry.message.split('\n')[0];
  const line = `${oldOid ?? ZERO_OID} ${newOid} ${entry.identity}\t${message}\n`;
  await fsp.mkdir(dirname(path), { recursive: true });
  await fsp.appendFile(path, line);
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic there.
  } finally {
    await handle.close();
  }
}

/**
 * Point `ref` at `newOid` if and only if it still holds `expectedOld` (null: must not exist).
 * Throws RefMovedError when it does not, RefLockedError when the lock stays taken.
 */
export async function updateRef(
  gitdir: string,
  ref: string,
  newOid: string,
  expectedOld: string | null,
  options: LockOptions & { reflog?: ReflogEntry } = {},
): Promise<void> {
  const refPath = refPathOf(gitdir, ref);
  const lock = await acquireLock(`${refPath}.lock`, options);
  try {
    const actual = await readRef(gitdir, ref);
    if (actual !== expectedOld) throw new RefMovedError(ref, expectedOld, actual);
    await lock.handle.writeFile(`${newOid}\n`);
    await lock.handle.sync();
    await lock.handle.close();
    if (options.reflog) await appendReflog(gitdir, ref, expectedOld, newOid, options.reflog);
    await lock.commit(refPath);
    await fsyncDir(dirname(refPath));
  } finally {
    await lock.release();
  }
}

/** Delete `ref` (loose and packed) if and only if it still holds `expectedOld`. */
export async function deleteRef(gitdir: string, ref: string, expectedOld: string, options: LockOptions = {}) {
  const refPath = refPathOf(gitdir, ref);
  const lock = await acquireLock(`${refPath}.lock`, options);
  try {
    const actual = await readRef(gitdir, ref);
    if (actual !== expectedOld) throw new RefMovedError(ref, expectedOld, actual);
    const packed = await readPackedRefs(gitdir);
    if (packed.has(ref)) {
      const packedPath = join(gitdir, 'packed-refs');
      const packedLock = await acquireLock(`${packedPath}.lock`, options);
      try {
        const text = await fsp.readFile(packedPath, 'utf8');
        const lines = text.split('\n');
        const kept: string[] = [];
        for (let i = 0; i < lines.length; i++) {
          const line = lines[i] ?? '';
          if (line.length > 41 && line.slice(41) === ref && !line.startsWith('#')) {
            if (lines[i + 1]?.startsWith('^')) i++; // its peeled value goes too
            continue;
          }
          kept.push(line);
        }
        await packedLock.handle.writeFile(kept.join('\n'));
        await packedLock.handle.sync();
        await packedLock.handle.close();
        await packedLock.commit(packedPath);
      } finally {
        await packedLock.release();
      }
    }
    await fsp.rm(refPath, { force: true });
    await fsp.rm(join(gitdir, 'logs', ref), { force: true });
  } finally {
    await lock.release();
  }
}
