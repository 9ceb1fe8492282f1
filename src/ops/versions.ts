import { assertValidName } from '../model/names.js';
import { generateToken, sha256Hex } from '../model/tokens.js';
import { AlreadyExistsError, NotFoundError, RuleViolationError } from '../errors.js';
import { warningsField, type BotRepo } from './bot-repo.js';

export interface VersionInfo {
  name: string;
  description?: string;
  createdFrom?: string;
  /** Head of the version's branch; null when the branch is missing. */
  head: string | null;
  /** The ref the head was read from: refs/heads/<name>, or refs/remotes/<remote>/<name> in a clone; null when missing. */
  ref: string | null;
  environments: string[];
}

export async function listVersions(repo: BotRepo): Promise<VersionInfo[]> {
  const { manifest } = await repo.readManifest();
  const versions: VersionInfo[] = [];
  for (const [name, v] of Object.entries(manifest.data.versions)) {
    const branch = await repo.branches.head(name);
    versions.push({
      name,
      ...(v.description !== undefined && { description: v.description }),
      ...(v.createdFrom !== undefined && { createdFrom: v.createdFrom }),
      head: branch?.commit ?? null,
      ref: branch?.ref ?? null,
      environments: manifest.environmentsOf(name),
    });
  }
  return versions;
}

export async function showVersion(repo: BotRepo, name: string): Promise<VersionInfo> {
  const found = (await listVersions(repo)).find((v) => v.name === name);
  if (!found) throw new NotFoundError('version', name);
  return found;
}

export interface CreatedVersion {
  name: string;
  from: string;
  commit: string;
  token: string;
}

/** A new version: branch `name` at the head of `from`, and its entry in the manifest. */
export async function createVersion(
  repo: BotRepo,
  name: string,
  from: string,
  description?: string,
): Promise<CreatedVersion & { manifestCommit: string | null; warnings?: string[] }> {
  assertValidName('version', name, repo.controlBranch);
  const { manifest } = await repo.readManifest();
  if (manifest.version(name)) throw new AlreadyExistsError('version', name);
  if (!manifest.version(from))
    throw new NotFoundError('version', from, 'versions are created from an existing version (--from)');
  const count = Object.keys(manifest.data.versions).length;
  if (count >= manifest.maxVersions) {
    throw new RuleViolationError(
      `cannot create version "${name}": ${count} versions exist, the limit is maxVersions = ` +
        `${manifest.maxVersions}; delete one or raise maxVersions in environments.yaml`,
    );
  }
  const ref = `refs/heads/${name}`;
  const head = await repo.versionHead(from);
  const existing = await repo.git.branchHead(name);
  // A branch at exactly `from`'s head, undeclared, is what an interrupted create leaves: adopt it.
  if (existing && existing !== head)
    throw new AlreadyExistsError('branch', name, `${ref} exists but is not a version; choose another name`);
  if (!existing) await repo.git.createBranch(name, head, await repo.sign(), `branch: Created from ${from}`, repo.lock);
  repo.changedBranches.set(name, 'updated');
  const token = generateToken();
  try {
    const { manifestCommit, warnings } = await repo.updateManifest(async (m) => {
      // Re-checked on every attempt: a concurrent create may have taken the last slot.
      if (m.version(name)) throw new AlreadyExistsError('version', name);
      const now = Object.keys(m.data.versions).length;
      if (now >= m.maxVersions) {
        throw new RuleViolationError(
          `cannot create version "${name}": ${now} versions exist, the limit is maxVersions = ${m.maxVersions}`,
        );
      }
      m.set(['versions', name], {
        ...(description !== undefined && { description }),
        createdFrom: from,
        tokenSha256: sha256Hex(token),
      });
      return { message: `create version ${name} from ${from} (at ${head.slice(0, 7)})`, result: {} };
    });
    return { name, from, commit: head, token, manifestCommit, ...(warnings && { warnings }) };
  } catch (err) {
    if (!existing) {
      await repo.git.deleteBranch(name, head, repo.lock).catch(() => undefined);
      repo.changedBranches.delete(name);
    }
    throw err;
  }
}

export interface DeletedVersion {
  name: string;
  /** Where the branch was: `git branch <name> <lastCommit>` brings it back. */
  lastCommit: string | null;
  manifestCommit: string | null;
  /** Present when something went wrong after the version was deleted (its branch left over, a work tree behind). */
  warnings?: string[];
}

/** Removes a version from the manifest, then its branch. Refused while an environment uses it. */
export async function deleteVersion(repo: BotRepo, name: string): Promise<DeletedVersion> {
  // Checked before the manifest changes: afterwards a refusal would leave half a deletion.
  await repo.git.assertNotCheckedOut(name);
  const { manifestCommit, warnings = [] } = await repo.updateManifest(async (m) => {
    if (!m.version(name)) throw new NotFoundError('version', name);
    const linked = m.environmentsOf(name);
    if (linked.length) {
      throw new RuleViolationError(
        linked.length > 1
          ? `cannot delete version "${name}": environments ${linked.join(', ')} are linked to it; link them to another version first`
          : `cannot delete version "${name}": environment ${linked[0]} is linked to it; link it to another version first`,
        { environments: linked },
      );
    }
    m.set(['versions', name], undefined);
    const head = await repo.branches.branchHead(name); // in a clone, maybe only origin/<name>
    return { message: `delete version ${name}${head ? ` (branch was at ${head.slice(0, 7)})` : ''}`, result: {} };
  });
  // The branch goes once the manifest no longer names it, so no snapshot ever lists a
  // version without its branch. Its last commit is reported so it can be brought back.
  const local = await repo.git.branchHead(name);
  const tracking = await repo.git.readRef(`refs/remotes/${repo.branches.remote}/${name}`).catch(() => null);
  const lastCommit = local ?? tracking;
  // Published, the deletion removes the branch from the remote, where it is (a never-pushed
  // version has nothing there to delete: git would refuse, and with it the whole push).
  if (tracking) repo.changedBranches.set(name, 'deleted');
  try {
    if (local) await repo.git.deleteBranch(name, local, repo.lock);
  } catch (err) {
    // The version is deleted (the manifest commit landed); only its branch is left over.
    warnings.push(
      `version ${name} is deleted, but its branch could not be: ${(err as Error).message}; delete it with "git branch -D ${name}"`,
    );
  }
  return { name, lastCommit, manifestCommit, ...warningsField(warnings) };
}
