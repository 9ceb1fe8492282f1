import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { constants, inflateSync } from 'node:zlib';

// The size of a blob without reading it: a version's file over the size limit must be refused
// before it is inflated into memory, let alone parsed. Git records the size in the object's
// header: a loose object starts with "blob <size>\0" (the first few hundred compressed bytes
// inflate to it), a packed one has it in its entry header, or — stored as a delta — at the
// start of the delta. isomorphic-git offers no such read, so this reads those few bytes itself.
// Null when the size cannot be told this way (an object in an alternate store, a v1 pack
// index): the caller then reads the blob and checks its length before parsing it.

const HEAD_BYTES = 512;

interface PackIndex {
  pack: string;
  idx: Buffer;
  count: number;
}

export class ObjectSizer {
  private packs: PackIndex[] | null = null;

  constructor(private readonly gitdir: string) {}

  size(oid: string): number | null {
    try {
      return this.loose(oid) ?? this.packed(oid, true);
    } catch {
      return null;
    }
  }

  private loose(oid: string): number | null {
    let head: Buffer;
    try {
      head = readHead(join(this.gitdir, 'objects', oid.slice(0, 2), oid.slice(2)), 0, HEAD_BYTES);
    } catch {
      return null;
    }
    const header = inflateSync(head, { finishFlush: constants.Z_SYNC_FLUSH }).toString('latin1');
    const match = /^[a-z]+ (\d+)\0/.exec(header);
    return match ? Number(match[1]) : null;
  }

  private packed(oid: string, retry: boolean): number | null {
    this.packs ??= this.loadPacks();
    const wanted = Buffer.from(oid, 'hex');
    for (const p of this.packs) {
      const offset = findOffset(p, wanted);
      if (offset !== null) return entrySize(p.pack, offset);
    }
    // A pack written since the list was read (a fetch, a gc): read the list again, once.
    if (retry) {
      this.packs = null;
      return this.packed(oid, false);
    }
    return null;
  }

  private loadPacks(): PackIndex[] {
    const dir = join(this.gitdir, 'objects', 'pack');
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.idx'));
    } catch {
      return [];
    }
    const packs: PackIndex[] = [];
    for (const name of names) {
      const idx = readFileSync(join(dir, name));
      // Version 2 only ("\377tOc", 2): what every git since 1.5.2 writes.
      if (idx.readUInt32BE(0) !== 0xff744f63 || idx.readUInt32BE(4) !== 2) continue;
      packs.push({ pack: join(dir, name.replace(/\.idx$/, '.pack')), idx, count: idx.readUInt32BE(8 + 255 * 4) });
    }
    return packs;
  }
}

function readHead(path: string, position: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = readSync(fd, buf, 0, length, position);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** The entry's offset in the pack, by binary search among the ids sharing its first byte. */
function findOffset({ idx, count }: PackIndex, oid: Buffer): number | null {
  const fanout = 8;
  const first = oid[0]!;
  let lo = first === 0 ? 0 : idx.readUInt32BE(fanout + (first - 1) * 4);
  let hi = idx.readUInt32BE(fanout + first * 4);
  const names = fanout + 256 * 4;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    // The id stored at `mid` compared with the one wanted.
    const cmp = idx.compare(oid, 0, 20, names + mid * 20, names + mid * 20 + 20);
    if (cmp === 0) {
      const offsets = names + count * 24; // after the names (20 bytes each) and CRCs (4 each)
      const small = idx.readUInt32BE(offsets + mid * 4);
      if (!(small & 0x80000000)) return small;
      return Number(idx.readBigUInt64BE(offsets + count * 4 + (small & 0x7fffffff) * 8));
    }
    if (cmp < 0) lo = mid + 1;
    else hi = mid;
  }
  return null;
}

/** The size of the object stored at `offset` of a pack: from its header, or its delta's. */
function entrySize(pack: string, offset: number): number | null {
  const head = readHead(pack, offset, HEAD_BYTES);
  let i = 0;
  let byte = head[i++]!;
  const type = (byte >> 4) & 7;
  let size = byte & 15;
  let shift = 4;
  while (byte & 0x80) {
    byte = head[i++]!;
    size += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  }
  if (type >= 1 && type <= 4) return size;
  if (type === 6) {
    // OFS_DELTA: a variable-length offset of the base comes first.
    do byte = head[i++]!;
    while (byte & 0x80);
  } else if (type === 7)
    i += 20; // REF_DELTA: the base's id
  else return null;
  // The delta starts with the base's size, then the result's: both varints.
  const delta = inflateSync(head.subarray(i), { finishFlush: constants.Z_SYNC_FLUSH });
  let j = 0;
  const varint = () => {
    let value = 0;
    let s = 0;
    let b: number;
    do {
      b = delta[j++]!;
      value += (b & 0x7f) * 2 ** s;
      s += 7;
    } while (b & 0x80);
    return value;
  };
  varint();
  return varint();
}
