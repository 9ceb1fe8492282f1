import { createHash } from 'node:crypto';
import { promises as fsp, type BigIntStats } from 'node:fs';
import { join } from 'node:path';

// The git index in version 4 (what `feature.manyFiles` gives), which isomorphic-git cannot read:
// entries as in versions 2 and 3 but without padding, each path stored as "drop N bytes from the
// end of the previous path, then append this" (N a git varint). Only what botver needs to keep
// a checked-out branch in step: read the entries, replace or remove some, write the file back in
// version 4. Extensions are dropped except the resolve-undo record: the tree cache and the
// untracked cache are optional and rebuilt by git, and offset tables (EOIE, IEOT) would be wrong
// after a rewrite. (Split and sparse indexes are refused before this is reached: worktree.ts.)

export interface IndexEntry {
  /** ctime s/ns, mtime s/ns, dev, ino, mode, uid, gid, size: as stored (32-bit). */
  stat: number[];
  oid: string;
  /** The 16-bit flags (stage, assume-valid, extended, name length). */
  flags: number;
  /** The extended flags (skip-worktree, intent-to-add) when the extended bit is set. */
  extended: number;
  path: string;
}

export interface IndexFile {
  entries: IndexEntry[];
  /** Extensions kept on rewrite, raw (signature, size and data). */
  kept: Buffer[];
  /** A required extension botver cannot honour (split or sparse index): the caller refuses. */
  required?: 'link' | 'sdir';
}

const EXTENDED = 0x4000;
const STAGE = 0x3000;

/** Parses a version 4 index (the caller checked the header). */
export function parseIndexV4(buf: Buffer): IndexFile {
  const entries: IndexEntry[] = [];
  let at = 12;
  let previous = Buffer.alloc(0);
  for (let n = buf.readUInt32BE(8); n > 0; n--) {
    const stat = Array.from({ length: 10 }, (_, i) => buf.readUInt32BE(at + i * 4));
    const oid = buf.toString('hex', at + 40, at + 60);
    const flags = buf.readUInt16BE(at + 60);
    at += 62;
    let extended = 0;
    if (flags & EXTENDED) {
      extended = buf.readUInt16BE(at);
      at += 2;
    }
    // git's offset varint: 7 bits a byte, most significant first, each continuation adding one.
    let strip = buf[at]! & 0x7f;
    while (buf[at++]! & 0x80) strip = ((strip + 1) << 7) | (buf[at]! & 0x7f);
    const end = buf.indexOf(0, at);
    if (end < 0 || strip > previous.length) throw new Error('the index is damaged (a path runs past its end)');
    const path = Buffer.concat([previous.subarray(0, previous.length - strip), buf.subarray(at, end)]);
    at = end + 1;
    entries.push({ stat, oid, flags, extended, path: path.toString('utf8') });
    previous = path;
  }
  const kept: Buffer[] = [];
  let required: IndexFile['required'];
  while (at + 8 <= buf.length - 20) {
    const size = buf.readUInt32BE(at + 4);
    const signature = buf.toString('latin1', at, at + 4);
    if (signature === 'REUC') kept.push(buf.subarray(at, at + 8 + size));
    if (signature === 'link' || signature === 'sdir') required ??= signature;
    at += 8 + size;
  }
  return { entries, kept, ...(required && { required }) };
}

/** The index in version 4, entries sorted by path bytes as git requires, with its trailing checksum. */
export function serializeIndexV4(index: IndexFile): Buffer {
  const entries = [...index.entries].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.write('DIRC', 0, 'latin1');
  header.writeUInt32BE(4, 4);
  header.writeUInt32BE(entries.length, 8);
  parts.push(header);
  let previous = Buffer.alloc(0);
  for (const entry of entries) {
    const path = Buffer.from(entry.path);
    let common = 0;
    while (common < previous.length && common < path.length && previous[common] === path[common]) common++;
    const fixed = Buffer.alloc(entry.flags & EXTENDED ? 64 : 62);
    for (const [i, value] of entry.stat.entries()) fixed.writeUInt32BE(value >>> 0, i * 4);
    fixed.write(entry.oid, 40, 'hex');
    fixed.writeUInt16BE(entry.flags, 60);
    if (entry.flags & EXTENDED) fixed.writeUInt16BE(entry.extended, 62);
    parts.push(fixed, varint(previous.length - common), path.subarray(common), Buffer.from([0]));
    previous = path;
  }
  parts.push(...index.kept);
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

function varint(value: number): Buffer {
  const bytes = [value & 0x7f];
  for (let v = value >>> 7; v > 0; v >>>= 7) bytes.unshift(0x80 | (--v & 0x7f));
  return Buffer.from(bytes);
}

/** An index entry for a file just written (its lstat with `bigint: true`), at stage 0. */
export function entryFor(path: string, oid: string, stat: BigIntStats, previous?: IndexEntry): IndexEntry {
  const low32 = (n: bigint) => Number(n & 0xffffffffn);
  const mode = stat.mode & 0o111n ? 0o100755 : 0o100644;
  // Keep skip-worktree as git does; intent-to-add is cleared now that the path is staged.
  const extended = (previous?.extended ?? 0) & 0x4000;
  return {
    stat: [
      low32(stat.ctimeNs / 1_000_000_000n),
      low32(stat.ctimeNs % 1_000_000_000n),
      low32(stat.mtimeNs / 1_000_000_000n),
      low32(stat.mtimeNs % 1_000_000_000n),
      low32(stat.dev),
      low32(stat.ino),
      mode,
      low32(stat.uid),
      low32(stat.gid),
      low32(stat.size),
    ],
    oid,
    flags: (extended ? EXTENDED : 0) | Math.min(Buffer.byteLength(path), 0xfff),
    extended,
    path,
  };
}

/** Whether a file's lstat still matches its index entry (git's "stat clean"; else compare contents). */
export function statMatches(entry: IndexEntry, stat: BigIntStats): boolean {
  const now = entryFor(entry.path, entry.oid, stat);
  // ctime, dev and uid/gid vary between tools and file systems; git's defaults check mtime, ino, size and mode.
  return [2, 3, 5, 6, 9].every((i) => now.stat[i] === entry.stat[i]);
}

/** The stage-0 entry of `path`, or undefined; a path in conflict (stages 1-3) counts as changed. */
export function stageZero(index: IndexFile, path: string): { entry?: IndexEntry; conflicted: boolean } {
  const all = index.entries.filter((e) => e.path === path);
  return { entry: all.find((e) => (e.flags & STAGE) === 0), conflicted: all.some((e) => (e.flags & STAGE) !== 0) };
}

/** The id git gives a blob of these bytes. */
export function blobOid(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

/**
 * Whether `path` differs, in the index or the work tree, from its text at HEAD (null: absent):
 * what isomorphic-git's status says for versions 2 and 3. A path in conflict counts as changed.
 */
export async function changedInV4(index: IndexFile, dir: string, path: string, head: string | null): Promise<boolean> {
  const headOid = head === null ? null : blobOid(Buffer.from(head, 'utf8'));
  const { entry, conflicted } = stageZero(index, path);
  if (conflicted || (entry?.oid ?? null) !== headOid) return true; // staged: changed, added or removed
  const stat = await fsp.lstat(join(dir, path), { bigint: true }).catch(() => null);
  if (!entry) return stat !== null; // an untracked file in the way
  if (!stat?.isFile()) return true;
  if (statMatches(entry, stat)) return false;
  return blobOid(await fsp.readFile(join(dir, path))) !== entry.oid;
}

/** Stages `path` as the file just written there (its text), or removes it from the index (null). */
export async function stageInV4(index: IndexFile, dir: string, path: string, text: string | null): Promise<void> {
  const previous = stageZero(index, path).entry;
  index.entries = index.entries.filter((e) => e.path !== path);
  if (text === null) return;
  const stat = await fsp.lstat(join(dir, path), { bigint: true });
  index.entries.push(entryFor(path, blobOid(Buffer.from(text, 'utf8')), stat, previous));
}
