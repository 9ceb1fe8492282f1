import type { GitRepo, RawTreeEntry } from '../git/repo.js';
import type { Problem } from '../errors.js';
import { MAX_PATH_LENGTH, raiseHint, unsafeNameReason, type ContentLimits } from './limits.js';

// Which files of a commit are a version's content, from its tree as stored: every name is
// checked (a tree made by hand can hold "..", an empty name or a control character), symbolic
// links and submodules are refused (a link's blob is a path, not YAML; a submodule's content is
// not in this repository), and folders nest at most limits.maxTreeDepth deep. Each refusal is a
// problem at the path at fault, never an exception: it fails this version alone.

export interface ContentEntry {
  path: string;
  oid: string;
  /** True when the file sits directly in its folder and ends in .yaml/.yml: the only ones read. */
  readable: boolean;
}

const error = (file: string, message: string): Problem => ({ file, line: 1, column: 1, message, severity: 'error' });
const show = (name: string) => JSON.stringify(name);
const KIND_WORDS = {
  symlink: 'a symbolic link',
  submodule: 'a submodule (gitlink)',
  unknown: 'an entry of unknown mode',
};

/** The problem with one tree entry (name or kind), or null when it may be walked or read. */
function entryProblem(path: string, entry: RawTreeEntry): Problem | null {
  const reason = unsafeNameReason(entry.name);
  if (reason) return error(path, `unsafe path: ${reason} (entry ${show(entry.name)}); not allowed in a version`);
  if (path.length > MAX_PATH_LENGTH) return error(path, `path longer than ${MAX_PATH_LENGTH} characters`);
  if (entry.kind === 'file' || entry.kind === 'tree') return null;
  return error(path, `${KIND_WORDS[entry.kind]} (mode ${entry.mode}) is not allowed in a version`);
}

/**
 * The entries of the content folders `dirs` of `commit`, and the problems of its tree: unsafe
 * names at the root and anywhere under those folders, links and submodules there, folders too
 * deep, more files than limits.maxFiles (then `complete` is false: the rest was not listed). Throws only when the commit or a tree cannot be read.
 */
export async function contentEntries(
  git: GitRepo,
  commit: string,
  dirs: readonly string[],
  limits: ContentLimits,
): Promise<{ entries: Map<string, ContentEntry[]>; problems: Problem[]; complete: boolean }> {
  const problems: Problem[] = [];
  const entries = new Map<string, ContentEntry[]>();
  // The root and training/ are on the way to several folders: read each tree once.
  const trees = new Map<string, Promise<RawTreeEntry[]>>();
  const readTree = (oid: string) => {
    let entries = trees.get(oid);
    if (!entries) trees.set(oid, (entries = git.readTreeEntries(oid)));
    return entries;
  };
  const root = (await git.readCommit(commit)).tree;
  const rootEntries = await readTree(root);
  for (const e of rootEntries) {
    const reason = unsafeNameReason(e.name);
    if (reason) problems.push(error(e.name || '(empty name)', `unsafe path: ${reason}; not allowed in a version`));
  }
  let files = 0;
  let full = false;
  for (const dir of dirs) {
    const list: ContentEntry[] = [];
    entries.set(dir, list);
    // Find the folder by raw entries, refusing a link or submodule standing in for it.
    let tree: string | null = root;
    let path = '';
    for (const part of dir.split('/')) {
      path = path ? `${path}/${part}` : part;
      const entry: RawTreeEntry | undefined = (await readTree(tree)).find((e) => e.name === part);
      if (!entry) {
        tree = null;
        break;
      }
      if (entry.kind !== 'tree') {
        if (entry.kind !== 'file') problems.push(entryProblem(path, entry)!);
        else problems.push(error(path, `${path} must be a folder`));
        tree = null;
        break;
      }
      tree = entry.oid;
    }
    if (!tree) continue;
    const walk = async (treeOid: string, prefix: string, depth: number): Promise<void> => {
      for (const entry of await git.readTreeEntries(treeOid)) {
        if (full) return;
        const path = `${prefix}/${entry.name}`;
        const problem = entryProblem(path, entry);
        if (problem) {
          problems.push(problem);
          continue;
        }
        if (entry.kind === 'tree') {
          if (depth + 1 > limits.maxTreeDepth) {
            problems.push(
              error(
                path,
                `folders nested more than ${limits.maxTreeDepth} deep (limits.maxTreeDepth); ${raiseHint('maxTreeDepth')}`,
              ),
            );
          } else await walk(entry.oid, path, depth + 1);
          continue;
        }
        if (++files > limits.maxFiles) {
          full = true;
          problems.push(
            error(
              path,
              `more than ${limits.maxFiles} files in the version's content folders; ${raiseHint('maxFiles')}`,
            ),
          );
          return;
        }
        const readable = prefix === dir && /\.ya?ml$/.test(entry.name);
        list.push({ path, oid: entry.oid, readable });
      }
    };
    await walk(tree, dir, dir.split('/').length);
  }
  return { entries, problems, complete: !full };
}
