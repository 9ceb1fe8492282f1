import { promises as fsp } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { NotARepositoryError } from '../errors.js';

export interface RepoLocation {
  /** Where objects and refs live (for a linked work tree: the common git directory). */
  gitdir: string;
  /** Where this checkout's HEAD and index live; equals gitdir except in linked work trees. */
  headGitdir: string;
  /** The work tree, or null for a bare repository. */
  workdir: string | null;
}

async function isFile(path: string) {
  return (await fsp.stat(path).catch(() => null))?.isFile() ?? false;
}
async function isDir(path: string) {
  return (await fsp.stat(path).catch(() => null))?.isDirectory() ?? false;
}

async function looksLikeGitdir(path: string): Promise<boolean> {
  return (
    (await isFile(join(path, 'HEAD'))) && (await isDir(join(path, 'objects'))) && (await isDir(join(path, 'refs')))
  );
}

async function commonDir(gitdir: string): Promise<string> {
  const text = await fsp.readFile(join(gitdir, 'commondir'), 'utf8').catch(() => null);
  return text ? resolve(gitdir, text.trim()) : gitdir;
}

async function atDirectory(dir: string): Promise<RepoLocation | null> {
  const dotgit = join(dir, '.git');
  if (await isDir(dotgit)) return { gitdir: dotgit, headGitdir: dotgit, workdir: dir };
  if (await isFile(dotgit)) {
    // A linked work tree or a submodule: ".git" is a file saying "gitdir: <path>".
    const text = await fsp.readFile(dotgit, 'utf8');
    const match = /^gitdir:\s*(.+)$/m.exec(text);
    if (match) {
      const headGitdir = resolve(dir, match[1]!.trim());
      return { gitdir: await commonDir(headGitdir), headGitdir, workdir: dir };
    }
  }
  if (await looksLikeGitdir(dir)) return { gitdir: dir, headGitdir: dir, workdir: null };
  return null;
}

/** Finds the repository at `path` or, like git, in the closest folder above it. */
export async function locateRepo(path: string): Promise<RepoLocation> {
  let dir = resolve(path);
  if (!(await isDir(dir))) throw new NotARepositoryError(path);
  for (;;) {
    const found = await atDirectory(dir);
    if (found) return found;
    const parent = dirname(dir);
    if (parent === dir) throw new NotARepositoryError(path);
    dir = parent;
  }
}

/** The repository exactly at `path`, without looking above it (for init). */
export async function repoAt(path: string): Promise<RepoLocation | null> {
  return atDirectory(resolve(path));
}
