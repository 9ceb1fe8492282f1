import { MANIFEST_FILE, ManifestDoc } from '../manifest/manifest.js';
import { DEFAULT_LIMITS } from '../content/limits.js';
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

const BROKEN = Symbol('unparsable manifest');

const sameLink = (a: Link | null, b: Link | null) => a?.version === b?.version && a?.commit === b?.commit;

/**
 * Every change of an environment's link, newest first: `git log --first-parent` of the
 * manifest on the control branch, so a merged pull request counts as the one change it made.
 * The manifest is parsed only where its blob changed, and once per distinct blob.
 */
export async function environmentHistory(
  repo: BotRepo,
  environment: string,
  options: { limit?: number; from?: string } = {},
): Promise<LinkChange[]> {
  const head = options.from ?? (await repo.branches.branchHead(repo.controlBranch));
  if (!head) throw new NotFoundError('branch', repo.controlBranch);
  const parsed = new Map<string, ManifestDoc | typeof BROKEN>();
  /** The manifest of a blob; null when there is none; BROKEN when it does not parse. */
  const manifestAt = async (blob: string | null): Promise<ManifestDoc | null | typeof BROKEN> => {
    if (!blob) return null;
    if (!parsed.has(blob)) {
      let doc: ManifestDoc | typeof BROKEN = BROKEN;
      try {
        // Over the manifest's size limit: not read at all (readManifestText's rule).
        if ((repo.git.blobSize(blob) ?? 0) > DEFAULT_LIMITS.maxFileBytes) throw new Error('too large');
        doc = ManifestDoc.parse(Buffer.from(await repo.git.readBlob(blob)).toString('utf8'));
        if (doc.schemaProblems().length) doc = BROKEN;
      } catch {
        // left BROKEN
      }
      parsed.set(blob, doc);
    }
    return parsed.get(blob)!;
  };

  // Each commit where the manifest's blob changed introduces a state. A state whose manifest
  // does not parse is skipped: the change is reported at the next readable state, compared with
  // the last readable one before it (no phantom "deleted, then recreated" around a bad commit).
  const changes: LinkChange[] = [];
  let known = false;
  let newer: { link: Link | null; by: string; info: Awaited<ReturnType<typeof repo.git.readCommit>> } | null = null;
  const emit = (from: Link | null) => {
    if (!newer || sameLink(from, newer.link)) return false;
    const { info, by, link } = newer;
    changes.push({
      commit: by,
      date: new Date(info.author.timestamp * 1000).toISOString(),
      author: `${info.author.name} <${info.author.email}>`,
      from,
      to: link,
      message: info.message.split('\n')[0] ?? '',
    });
    return !!options.limit && changes.length >= options.limit;
  };
  let oid: string | undefined = head;
  let blob = await repo.git.fileOid(head, MANIFEST_FILE);
  let done = false;
  while (oid && !done) {
    const commit = await repo.git.readCommit(oid);
    const parent = commit.parents[0];
    if (parent) await repo.branches.assertParentsHere(oid);
    const parentBlob = parent ? await repo.git.fileOid(parent, MANIFEST_FILE) : null;
    if (parentBlob !== blob) {
      const after = await manifestAt(blob);
      if (after !== BROKEN) {
        const link = linkOf(after, environment);
        if (link) known = true;
        done = emit(link);
        newer = { link, by: oid, info: commit };
      }
    }
    oid = parent;
    blob = parentBlob;
  }
  // The oldest state is compared with no manifest at all (before the first commit that had one).
  if (!done && blob === null) emit(null);
  if (!known) throw new NotFoundError('environment', environment, `no commit of ${repo.controlBranch} ever had it`);
  return changes;
}

/**
 * Restores an environment's previous link (the one before its latest change), or the link it
 * had at control-branch commit `to`, as a new commit: history is never rewritten.
 */
export async function rollbackEnvironment(repo: BotRepo, environment: string, to?: string) {
  const explicit = to ? await linkAt(repo, environment, to) : null;
  return repo.updateManifest(async (m, base) => {
    // Computed inside the compare-and-swap loop, on the manifest being changed: a promotion
    // landing meanwhile is what gets rolled back, never silently overwritten.
    let target: Link;
    let detail: string;
    if (explicit) {
      target = explicit.link;
      detail = `as of ${explicit.commit.slice(0, 7)}`;
    } else {
      const [latest] = await environmentHistory(repo, environment, { limit: 1, from: base.commit });
      if (!latest?.from) {
        throw new RuleViolationError(
          `environment "${environment}" has no earlier link to roll back to (it was created with ${describeLink(latest?.to)})`,
        );
      }
      target = latest.from;
      detail = `undoing ${latest.commit.slice(0, 7)}`;
    }
    const { message, from } = relink(m, environment, target, 'roll back');
    return { message: `${message}, ${detail}`, result: { environment, from, to: target } };
  });
}

async function linkAt(repo: BotRepo, environment: string, to: string): Promise<{ link: Link; commit: string }> {
  const commit = await repo.git.resolveCommit(to);
  const text = await repo.git.readText(commit, MANIFEST_FILE);
  if (text === null)
    throw new NotFoundError(
      'manifest at',
      to,
      `commit ${commit.slice(0, 7)} has no ${MANIFEST_FILE}; name a commit of ${repo.controlBranch}`,
    );
  const link = linkOf(ManifestDoc.parse(text), environment);
  if (!link) throw new NotFoundError('environment', environment, `it did not exist at ${commit.slice(0, 7)}`);
  return { link, commit };
}
