import { MANIFEST_FILE, ManifestDoc } from '../manifest/manifest.js';
import { NotFoundError, RuleViolationError } from '../errors.js';
import type { BotRepo } from './bot-repo.js';
import { describeLink, relink, type Link } from './environments.js';

export interface LinkChange {
  /** The control-branch commit that made the change. */
  commit: string;
  /** ISO 8601, from the commit's author date. */
  date: string;
  author: string;
  /** null: the environment did not exist before this commit. */
  from: Link | null;
  /** null: the commit deleted the environment. */
  to: Link | null;
  message: string;
}

function linkOf(manifest: ManifestDoc | null, environment: string): Link | null {
  const env = manifest?.environment(environment);
  if (!env || typeof env.version !== 'string') return null;
  return { version: env.version, ...(env.commit && { commit: env.commit }) };
}

const sameLink = (a: Link | null, b: Link | null) => a?.version === b?.version && a?.commit === b?.commit;

/**
 * Every change of an environment's link, newest first: `git log --first-parent` of the
 * manifest on the control branch, so a merged pull request counts as the one change it made.
 * The manifest is parsed only where its blob changed, and once per distinct blob.
 */
export async function environmentHistory(repo: BotRepo, environment: string, options: { limit?: number } = {}): Promise<LinkChange[]> {
  const head = await repo.git.branchHead(repo.controlBranch);
  if (!head) throw new NotFoundError('branch', repo.controlBranch);
  const parsed = new Map<string, ManifestDoc | null>();
  const manifestAt = async (blob: string | null) => {
    if (!blob) return null;
    if (!parsed.has(blob)) {
      const text = Buffer.from(await repo.git.readBlob(blob)).toString('utf8');
      let doc: ManifestDoc | null = null;
      try {
        doc = ManifestDoc.parse(text);
      } catch {
        // A commit with a broken manifest changed nothing we can read; skip over it.
      }
      parsed.set(blob, doc);
    }
    return parsed.get(blob)!;
  };

  const changes: LinkChange[] = [];
  let known = false;
  let oid: string | undefined = head;
  let blob = await repo.git.fileOid(head, MANIFEST_FILE);
  while (oid) {
    const commit = await repo.git.readCommit(oid);
    const parent = commit.parents[0];
    const parentBlob = parent ? await repo.git.fileOid(parent, MANIFEST_FILE) : null;
    if (parentBlob !== blob) {
      const [after, before] = [await manifestAt(blob), await manifestAt(parentBlob)];
      const to = linkOf(after, environment);
      const from = linkOf(before, environment);
      if (to || from) known = true;
      if (!sameLink(from, to)) {
        changes.push({
          commit: oid,
          date: new Date(commit.author.timestamp * 1000).toISOString(),
          author: `${commit.author.name} <${commit.author.email}>`,
          from,
          to,
          message: commit.message.split('\n')[0] ?? '',
        });
        if (options.limit && changes.length >= options.limit) break;
      }
    }
    oid = parent;
    blob = parentBlob;
  }
  if (!known) throw new NotFoundError('environment', environment, `no commit of ${repo.controlBranch} ever had it`);
  return changes;
}

/**
 * Restores an environment's previous link (the one before its latest change), or the link it
 * had at control-branch commit `to`, as a new commit: history is never rewritten.
 */
export async function rollbackEnvironment(repo: BotRepo, environment: string, to?: string) {
  let target: Link;
  let where: string;
  if (to) {
    const commit = await repo.git.resolveCommit(to);
    const { manifest } = await repo.readManifest(commit);
    const link = linkOf(manifest, environment);
    if (!link) throw new NotFoundError('environment', environment, `it did not exist at ${commit.slice(0, 7)}`);
    target = link;
    where = commit;
  } else {
    const [latest] = await environmentHistory(repo, environment, { limit: 1 });
    if (!latest?.from) {
      throw new RuleViolationError(`environment "${environment}" has no earlier link to roll back to (it was created with ${describeLink(latest?.to)})`);
    }
    target = latest.from;
    where = latest.commit;
  }
  return repo.updateManifest(async (m) => {
    const { message, from } = relink(m, environment, target, 'roll back');
    const detail = to ? `as of ${where.slice(0, 7)}` : `undoing ${where.slice(0, 7)}`;
    return { message: `${message}, ${detail}`, result: { environment, from, to: target } };
  });
}
