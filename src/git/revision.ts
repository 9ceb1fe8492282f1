import { NotFoundError } from '../errors.js';

// Revisions as users type them after git: a name followed by any number of ~N (N-th
// first-parent ancestor) and ^N (N-th parent; ^0 is the commit itself), e.g. `v2~1`,
// `production^`, `3c1b0e5~2^2`. Ref names cannot contain ~ or ^, so the name ends at the first.

/**
 * Resolves `rev` to a commit: `resolveName` turns its name part into a commit, then each
 * suffix walks to a parent.
 */
export async function resolveRevision(
  rev: string,
  resolveName: (name: string) => Promise<string>,
  parentsOf: (commit: string) => Promise<string[]>,
): Promise<string> {
  const cut = rev.search(/[~^]/);
  if (cut <= 0) return resolveName(rev);
  const suffix = rev.slice(cut);
  if (!/^(?:[~^]\d*)+$/.test(suffix))
    throw new NotFoundError('revision', rev, 'after a name, only ~N and ^N are understood');
  let commit = await resolveName(rev.slice(0, cut));
  for (const [, op, digits] of suffix.matchAll(/([~^])(\d*)/g)) {
    const n = digits === '' ? 1 : Number(digits);
    if (op === '~') {
      for (let i = 0; i < n; i++) commit = await parent(parentsOf, commit, 1, rev);
    } else if (n > 0) commit = await parent(parentsOf, commit, n, rev);
  }
  return commit;
}

async function parent(
  parentsOf: (commit: string) => Promise<string[]>,
  commit: string,
  nth: number,
  rev: string,
): Promise<string> {
  const parents = await parentsOf(commit);
  const found = parents[nth - 1];
  if (!found)
    throw new NotFoundError(
      'revision',
      rev,
      `commit ${commit.slice(0, 7)} has ${parents.length ? `only ${parents.length} parent${parents.length > 1 ? 's' : ''}` : 'no parent'}`,
    );
  return found;
}
