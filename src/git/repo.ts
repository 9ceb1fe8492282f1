import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import git from 'isomorphic-git';
import { atomicFs } from './atomic-fs.js';
import { locateRepo, repoAt, type RepoLocation } from './location.js';
import { acquireLock, listRefs, readHeadTarget, readRef, updateRef, deleteRef, type LockOptions } from './refs.js';
import { formatIdentity, type Signature } from './identity.js';
import { syncCheckedOutBranch } from './worktree.js';
import { resolveRevision } from './revision.js';
import { ObjectSizer } from './object-size.js';
import { BranchCheckedOutError, CheckedOutElsewhereError, NotFoundError } from '../errors.js';

// The one Git boundary: this module (with the rest of src/git/) is all that talks to
// isomorphic-git or touches refs. Everything above it sees commits, paths and bytes. No checkout
// ever happens: reads go through the object store, writes build trees in memory and move a
// branch with compare-and-swap. (Over 300 lines because it is that one boundary: reads, writes
// and ref moves of one repository handle.)

export type { LockOptions };
export { DEFAULT_LOCK_TIMEOUT_MS } from './refs.js';

const fs = atomicFs;

export interface FileEntry {
  /** Path from the root of the commit's tree. */
  path: string;
  oid: string;
}

export interface CommitInfo {
  oid: string;
  tree: string;
  parents: string[];
  message: string;
  author: { name: string; email: string; timestamp: number; timezoneOffset: number };
  committer: { name: string; email: string; timestamp: number; timezoneOffset: number };
}

/** One entry of a tree as stored: its name is not checked (see content/bundle.ts), its kind comes from its mode. */
export interface RawTreeEntry {
  name: string;
  oid: string;
  mode: string;
  kind: 'file' | 'tree' | 'symlink' | 'submodule' | 'unknown';
}

/** path -> new content, or null to delete the file. */
export type FileChanges = ReadonlyMap<string, string | null>;

interface TreeNode {
  entries: Map<string, { mode: string; oid: string; type: 'blob' | 'tree' | 'commit' }>;
}

export class GitRepo {
  /** One isomorphic-git cache per repository: without it each read re-parses packfiles. */
  private readonly cache: object = {};
  private sizer: ObjectSizer | null = null;

  private constructor(readonly location: RepoLocation) {}

  static async open(path: string): Promise<GitRepo> {
    return new GitRepo(await locateRepo(path));
  }

  static fromLocation(location: RepoLocation): GitRepo {
    return new GitRepo(location);
  }

  /** The repository exactly at `path` (a work tree or a bare repository), without looking above it; null if none. */
  static async at(path: string): Promise<GitRepo | null> {
    const location = await repoAt(path);
    return location ? new GitRepo(location) : null;
  }

  /**
   * Creates a repository at `path` (the folder is made if needed), as `git init [--bare]`
   * does, with HEAD naming `defaultBranch`. Use on a folder that holds no repository.
   */
  static async init(path: string, options: { bare?: boolean; defaultBranch: string }): Promise<GitRepo> {
    await fsp.mkdir(path, { recursive: true });
    await git.init({
      fs,
      dir: options.bare ? undefined : path,
      gitdir: options.bare ? path : undefined,
      bare: options.bare,
      defaultBranch: options.defaultBranch,
    });
    const location = await repoAt(path);
    if (!location) throw new Error(`git init at ${path} left no repository`);
    return new GitRepo(location);
  }

  get gitdir(): string {
    return this.location.gitdir;
  }

  get bare(): boolean {
    return this.location.workdir === null;
  }

  /** The commit a branch points at, or null when the branch does not exist. */
  async branchHead(branch: string): Promise<string | null> {
    return readRef(this.gitdir, `refs/heads/${branch}`);
  }

  /** Every local branch with its head. */
  async branches(): Promise<Map<string, string>> {
    const refs = await listRefs(this.gitdir, 'refs/heads/');
    return new Map([...refs].map(([ref, oid]) => [ref.slice('refs/heads/'.length), oid]));
  }

  /** The object id a full ref name ("refs/heads/main") holds, following a symbolic ref; null when it does not exist. */
  async readRef(ref: string): Promise<string | null> {
    return readRef(this.gitdir, ref);
  }

  /** Every ref under `prefix` ("refs/heads/", "refs/tags/"), full name -> object id, loose and packed. */
  async listRefs(prefix: string): Promise<Map<string, string>> {
    return listRefs(this.gitdir, prefix);
  }

  /** The ref this checkout's HEAD names ("refs/heads/main"), or null when HEAD is detached. */
  async headTarget(): Promise<string | null> {
    return readHeadTarget(this.location.headGitdir);
  }

  /** Points this checkout's HEAD at `branch` (as `git symbolic-ref HEAD refs/heads/<branch>`), under HEAD.lock. */
  async setHead(branch: string, lock: LockOptions = {}): Promise<void> {
    const headPath = join(this.location.headGitdir, 'HEAD');
    const held = await acquireLock(`${headPath}.lock`, lock);
    try {
      await held.handle.writeFile(`ref: refs/heads/${branch}\n`);
      await held.handle.sync();
      await held.commit(headPath);
    } finally {
      await held.release();
    }
  }

  /**
   * Resolves what a user may type: a branch, a tag, a remote-tracking branch, HEAD, or a full or
   * abbreviated commit id, each optionally followed by ~N / ^N. Tags are peeled to their commit.
   */
  async resolveCommit(rev: string): Promise<string> {
    return resolveRevision(
      rev,
      (name) => this.resolveName(name),
      async (c) => (await this.readCommit(c)).parents,
    );
  }

  /** A name alone (no ~N / ^N): branch, tag, remote-tracking branch, HEAD or commit id. */
  async resolveName(refish: string): Promise<string> {
    const candidates =
      refish === 'HEAD'
        ? ['HEAD']
        : refish.startsWith('refs/')
          ? [refish]
          : [`refs/heads/${refish}`, `refs/tags/${refish}`, `refs/remotes/${refish}`, `refs/remotes/origin/${refish}`];
    for (const ref of candidates) {
      const oid =
        ref === 'HEAD'
          ? await git.resolveRef({ fs, gitdir: this.location.headGitdir, ref }).catch(() => null)
          : await readRef(this.gitdir, ref);
      if (oid) return this.peelToCommit(oid, refish);
    }
    if (/^[0-9a-f]{4,40}$/.test(refish)) {
      const oid = await git.expandOid({ fs, gitdir: this.gitdir, oid: refish, cache: this.cache }).catch(() => null);
      if (oid) return this.peelToCommit(oid, refish);
    }
    throw new NotFoundError('ref', refish, 'not a branch, tag or commit of this repository');
  }

  private async peelToCommit(oid: string, refish: string): Promise<string> {
    let current = oid;
    for (let depth = 0; depth < 10; depth++) {
      const object = await git.readObject({
        fs,
        gitdir: this.gitdir,
        oid: current,
        cache: this.cache,
        format: 'parsed',
      });
      if (object.type === 'commit') return current;
      if (object.type === 'tag') {
        current = (object.object as { object: string }).object;
        continue;
      }
      break;
    }
    throw new NotFoundError('commit', refish, 'it names a tree or blob, not a commit');
  }

  async readCommit(oid: string): Promise<CommitInfo> {
    const { commit } = await git.readCommit({ fs, gitdir: this.gitdir, oid, cache: this.cache });
    return {
      oid,
      tree: commit.tree,
      parents: commit.parent,
      message: commit.message,
      author: commit.author,
      committer: commit.committer,
    };
  }

  /** The blob id of the file at `path` in the commit, or null when there is no such file (a link or submodule is none). */
  async fileOid(commit: string, path: string): Promise<string | null> {
    const parts = path.split('/');
    const name = parts.pop()!;
    try {
      const tree = await this.treeAt(commit, parts.join('/'));
      if (!tree) return null;
      const entry = (await this.readTreeEntries(tree)).find((e) => e.name === name);
      return entry?.kind === 'file' ? entry.oid : null;
    } catch (err) {
      if (isMissingPath(err)) return null;
      throw err;
    }
  }

  async readBlob(oid: string): Promise<Uint8Array> {
    const { blob } = await git.readBlob({ fs, gitdir: this.gitdir, oid, cache: this.cache });
    return blob;
  }

  /**
   * A blob's size from its object header, without reading the blob (a 50 MB file is refused
   * before it is inflated); null when it cannot be told that way, then read and measure it.
   */
  blobSize(oid: string): number | null {
    this.sizer ??= new ObjectSizer(this.gitdir);
    return this.sizer.size(oid);
  }

  /**
   * A tree's entries exactly as stored, names unchecked: isomorphic-git refuses a whole tree
   * holding a name like ".." (a tree made by hand), which would make one bad entry look like an
   * unreadable repository. The caller decides what each name and mode may be.
   */
  async readTreeEntries(treeOid: string): Promise<RawTreeEntry[]> {
    const object = await git.readObject({
      fs,
      gitdir: this.gitdir,
      oid: treeOid,
      format: 'content',
      cache: this.cache,
    });
    if (object.type !== 'tree') throw new NotFoundError('tree', treeOid, `it is a ${object.type}`);
    const bytes = Buffer.from(object.object as Uint8Array);
    const entries: RawTreeEntry[] = [];
    let i = 0;
    while (i < bytes.length) {
      const space = bytes.indexOf(0x20, i);
      const nul = bytes.indexOf(0, space + 1);
      if (space < 0 || nul < 0 || nul + 21 > bytes.length) throw new Error(`tree ${treeOid} is corrupt`);
      const mode = bytes.toString('latin1', i, space);
      entries.push({
        name: bytes.toString('utf8', space + 1, nul),
        oid: bytes.toString('hex', nul + 1, nul + 21),
        mode,
        kind: treeEntryKind(mode),
      });
      i = nul + 21;
    }
    return entries;
  }

  /** The tree id of a commit's root, or of the folder `dir` in it (looked up by raw entries); null when there is none. */
  async treeAt(commit: string, dir = ''): Promise<string | null> {
    let tree = await this.rootTree(commit);
    for (const part of dir.split('/').filter(Boolean)) {
      const entry = (await this.readTreeEntries(tree)).find((e) => e.name === part);
      if (entry?.kind !== 'tree') return null;
      tree = entry.oid;
    }
    return tree;
  }

  /** The root tree of a commit (or of a tag pointing at one, or a tree id itself). */
  private async rootTree(oid: string): Promise<string> {
    let current = oid;
    for (let depth = 0; depth < 10; depth++) {
      const object = await git.readObject({
        fs,
        gitdir: this.gitdir,
        oid: current,
        format: 'content',
        cache: this.cache,
      });
      if (object.type === 'tree') return current;
      const text = Buffer.from(object.object as Uint8Array).toString('utf8', 0, 100);
      const next = /^(?:tree|object) ([0-9a-f]{40})/.exec(text)?.[1];
      if (!next || (object.type !== 'commit' && object.type !== 'tag')) break;
      current = next;
    }
    throw new NotFoundError('commit', oid, 'it does not lead to a tree');
  }

  /** A file's text at a commit, or null when the commit has no such file. */
  async readText(commit: string, path: string): Promise<string | null> {
    const oid = await this.fileOid(commit, path);
    return oid ? Buffer.from(await this.readBlob(oid)).toString('utf8') : null;
  }

  /** Every file under `dir` (recursively) at a commit; empty when the folder does not exist. */
  async listFiles(commit: string, dir = ''): Promise<FileEntry[]> {
    const out: FileEntry[] = [];
    const walk = async (treeOid: string | undefined, prefix: string, filepath?: string) => {
      let tree: import('isomorphic-git').TreeObject;
      try {
        ({ tree } = await git.readTree({
          fs,
          gitdir: this.gitdir,
          oid: treeOid ?? commit,
          filepath,
          cache: this.cache,
        }));
      } catch (err) {
        if (isMissingPath(err)) return;
        throw err;
      }
      for (const entry of tree) {
        const path = prefix ? `${prefix}/${entry.path}` : entry.path;
        if (entry.type === 'tree') await walk(entry.oid, path);
        else if (entry.type === 'blob') out.push({ path, oid: entry.oid });
      }
    };
    await walk(undefined, dir, dir || undefined);
    return out;
  }

  /** Whether `ancestor` is `descendant` or reachable from it. */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    if (ancestor === descendant) return true;
    return git.isDescendent({ fs, gitdir: this.gitdir, oid: descendant, ancestor, depth: -1, cache: this.cache });
  }

  /**
   * Writes a commit whose tree is `parent`'s tree with `changes` applied, and returns its id.
   * Objects only: no ref moves. `parent` null makes a root commit.
   */
  async writeCommit(
    parent: string | null,
    changes: FileChanges,
    message: string,
    signature: Signature,
  ): Promise<string> {
    const baseTree = parent ? (await this.readCommit(parent)).tree : null;
    const tree = await this.applyChanges(baseTree, changes);
    return git.writeCommit({
      fs,
      gitdir: this.gitdir,
      commit: {
        message: message.endsWith('\n') ? message : `${message}\n`,
        tree,
        parent: parent ? [parent] : [],
        author: signature.author,
        committer: signature.committer,
      },
    });
  }

  private async applyChanges(baseTree: string | null, changes: FileChanges): Promise<string> {
    // Group the changes by folder so each touched tree is read and written once.
    const load = async (oid: string | null): Promise<TreeNode> => {
      const entries: TreeNode['entries'] = new Map();
      if (oid) {
        const { tree } = await git.readTree({ fs, gitdir: this.gitdir, oid, cache: this.cache });
        for (const e of tree) entries.set(e.path, { mode: e.mode, oid: e.oid, type: e.type });
      }
      return { entries };
    };
    const write = async (treeOid: string | null, edits: Map<string, string | null>): Promise<string | null> => {
      const node = await load(treeOid);
      const subEdits = new Map<string, Map<string, string | null>>();
      for (const [path, content] of edits) {
        const slash = path.indexOf('/');
        if (slash === -1) {
          if (content === null) node.entries.delete(path);
          else {
            const oid = await git.writeBlob({ fs, gitdir: this.gitdir, blob: Buffer.from(content, 'utf8') });
            node.entries.set(path, { mode: '100644', oid, type: 'blob' });
          }
        } else {
          const head = path.slice(0, slash);
          if (!subEdits.has(head)) subEdits.set(head, new Map());
          subEdits.get(head)!.set(path.slice(slash + 1), content);
        }
      }
      for (const [name, sub] of subEdits) {
        const existing = node.entries.get(name);
        const subOid = await write(existing?.type === 'tree' ? existing.oid : null, sub);
        if (subOid === null) node.entries.delete(name);
        else node.entries.set(name, { mode: '040000', oid: subOid, type: 'tree' });
      }
      // Empty folders do not exist in git; the root tree may be empty.
      if (node.entries.size === 0 && treeOid !== baseTree) return null;
      const tree = [...node.entries].map(([path, e]) => ({ path, ...e }));
      return git.writeTree({ fs, gitdir: this.gitdir, tree });
    };
    return (await write(baseTree, new Map(changes))) ?? (await git.writeTree({ fs, gitdir: this.gitdir, tree: [] }));
  }

  /**
   * Moves `branch` from `expectedOld` to `commit` (compare-and-swap; RefMovedError when it
   * moved). When the branch is checked out in this repository's work tree, the changed files
   * and the index follow, as in a fast-forward; local edits to them refuse the whole update.
   * `warnings`: what went wrong after the branch moved (the work tree could not follow).
   */
  async moveBranch(
    branch: string,
    commit: string,
    expectedOld: string | null,
    changedPaths: readonly string[],
    signature: Signature,
    reflogMessage: string,
    lock: LockOptions = {},
  ): Promise<{ warnings: string[] }> {
    const ref = `refs/heads/${branch}`;
    const reflog = this.bare ? undefined : { identity: formatIdentity(signature.committer), message: reflogMessage };
    const checkedOut =
      this.location.workdir !== null && (await readHeadTarget(this.location.headGitdir).catch(() => null)) === ref;
    if (!checkedOut) {
      const elsewhere = await this.checkedOutElsewhere(ref);
      if (elsewhere) throw new CheckedOutElsewhereError(branch, elsewhere);
      await updateRef(this.gitdir, ref, commit, expectedOld, { ...lock, reflog });
      return { warnings: [] };
    }
    if (this.location.headGitdir !== this.gitdir) throw new CheckedOutElsewhereError(branch, null);
    return syncCheckedOutBranch(
      { fs, dir: this.location.workdir!, gitdir: this.gitdir, cache: this.cache },
      { ref, commit, expectedOld, changedPaths, lock, readText: (c, p) => this.readText(c, p) },
      () => updateRef(this.gitdir, ref, commit, expectedOld, { ...lock, reflog }),
    );
  }

  /**
   * The other work tree (linked, from `git worktree add`, or the main one seen from a linked
   * one) that has `ref` checked out, or null. git refuses to move such a branch under it too.
   */
  private async checkedOutElsewhere(ref: string): Promise<string | null> {
    const heads: { headGitdir: string; where: () => Promise<string> }[] = [];
    const worktrees = join(this.gitdir, 'worktrees');
    for (const name of await fsp.readdir(worktrees).catch(() => [] as string[])) {
      const headGitdir = join(worktrees, name);
      heads.push({
        headGitdir,
        where: async () => dirname((await fsp.readFile(join(headGitdir, 'gitdir'), 'utf8')).trim()),
      });
    }
    // Seen from a linked work tree, the main one (a non-bare repository's ".git") counts too.
    if (this.location.headGitdir !== this.gitdir && basename(this.gitdir) === '.git') {
      heads.push({ headGitdir: this.gitdir, where: async () => dirname(this.gitdir) });
    }
    for (const h of heads) {
      if (h.headGitdir === this.location.headGitdir) continue;
      if ((await readHeadTarget(h.headGitdir).catch(() => null)) === ref) return h.where().catch(() => h.headGitdir);
    }
    return null;
  }

  /** Creates `branch` at `commit` (RefMovedError if it exists meanwhile), with a reflog entry as `git branch` writes. */
  async createBranch(
    branch: string,
    commit: string,
    signature: Signature,
    reflogMessage: string,
    lock: LockOptions = {},
  ): Promise<void> {
    const reflog = this.bare ? undefined : { identity: formatIdentity(signature.committer), message: reflogMessage };
    await updateRef(this.gitdir, `refs/heads/${branch}`, commit, null, { ...lock, reflog });
  }

  /** Refuses (CONFLICT) when `branch` is this work tree's checked-out branch. */
  async assertNotCheckedOut(branch: string): Promise<void> {
    if (this.location.workdir !== null && (await readHeadTarget(this.location.headGitdir)) === `refs/heads/${branch}`) {
      throw new BranchCheckedOutError(branch, this.location.workdir);
    }
  }

  /**
   * Deletes `branch` and its reflog, as `git branch -D` does, if and only if it still points at
   * `expectedOld` (RefMovedError otherwise); refused while this work tree has it checked out.
   */
  async deleteBranch(branch: string, expectedOld: string, lock: LockOptions = {}): Promise<void> {
    await this.assertNotCheckedOut(branch);
    await deleteRef(this.gitdir, `refs/heads/${branch}`, expectedOld, lock);
  }
}

function treeEntryKind(mode: string): RawTreeEntry['kind'] {
  if (mode === '40000' || mode === '040000') return 'tree';
  if (mode === '100644' || mode === '100755' || mode === '100664') return 'file';
  if (mode === '120000') return 'symlink';
  if (mode === '160000') return 'submodule';
  return 'unknown';
}

function isMissingPath(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'NotFoundError' || code === 'ObjectTypeError';
}
