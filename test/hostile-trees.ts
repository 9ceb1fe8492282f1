import { execFileSync } from 'node:child_process';
import { TEST_ENV, git } from './helpers.js';

// Commits git itself would never make, made with native git's plumbing: trees holding "..",
// empty or control-character names, symbolic links, submodules, oversized blobs. Each helper
// adds one entry to a branch's tree and moves the branch with update-ref (compare-and-swap).

export interface TreeEntry {
  mode: string;
  name: string;
  oid: string;
}

function run(dir: string, args: string[], input?: Buffer | string): string {
  return execFileSync('git', args, { cwd: dir, env: { ...process.env, ...TEST_ENV }, input, maxBuffer: 1 << 28 })
    .toString()
    .trim();
}

/** Writes a blob of these bytes; returns its id. */
export function writeBlob(dir: string, bytes: Buffer | string): string {
  return run(dir, ['hash-object', '-w', '--stdin'], bytes);
}

/** The entries of `rev:path` (a tree), names exactly as stored. */
export function treeEntries(dir: string, treeish: string): TreeEntry[] {
  const out = execFileSync('git', ['ls-tree', '-z', treeish], { cwd: dir, env: { ...process.env, ...TEST_ENV } });
  return out
    .toString('utf8')
    .split('\0')
    .filter(Boolean)
    .map((line) => {
      const tab = line.indexOf('\t');
      const [mode, , oid] = line.slice(0, tab).split(' ');
      return { mode: mode!, name: line.slice(tab + 1), oid: oid! };
    });
}

/** A tree object written as is (`hash-object -t tree --literally`): any name, any mode. */
export function writeRawTree(dir: string, entries: TreeEntry[]): string {
  const bytes = Buffer.concat(
    entries.map((e) =>
      Buffer.concat([Buffer.from(`${e.mode.replace(/^0+/, '')} ${e.name}\0`, 'utf8'), Buffer.from(e.oid, 'hex')]),
    ),
  );
  return run(dir, ['hash-object', '-t', 'tree', '--literally', '-w', '--stdin'], bytes);
}

/**
 * Commits onto `branch` its head's tree with `entry` added in folder `folder` ('' for the root;
 * missing folders are created), and returns the new commit.
 */
export function commitEntry(
  dir: string,
  branch: string,
  folder: string,
  entry: TreeEntry,
  message = 'hostile',
): string {
  const head = git(dir, 'rev-parse', `refs/heads/${branch}`);
  const build = (treeish: string | null, parts: string[]): string => {
    const entries = treeish ? treeEntries(dir, treeish) : [];
    if (parts.length === 0) return writeRawTree(dir, [...entries.filter((e) => e.name !== entry.name), entry]);
    const [first, ...rest] = parts as [string, ...string[]];
    const existing = entries.find((e) => e.name === first);
    const sub = build(existing ? existing.oid : null, rest);
    return writeRawTree(dir, [...entries.filter((e) => e.name !== first), { mode: '40000', name: first, oid: sub }]);
  };
  const tree = build(`${head}^{tree}`, folder.split('/').filter(Boolean));
  const commit = run(dir, ['commit-tree', tree, '-p', head, '-m', message]);
  run(dir, ['update-ref', `refs/heads/${branch}`, commit, head]);
  return commit;
}
