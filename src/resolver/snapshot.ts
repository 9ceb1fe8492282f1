import { BranchView } from '../git/branch-view.js';
import type { GitRepo } from '../git/repo.js';
import { ManifestDoc, MANIFEST_FILE, readManifestText } from '../manifest/manifest.js';
import type { ContentLimits } from '../content/limits.js';
import { repositoryProblems } from '../manifest/rules.js';
import { InvalidContentError, type Problem } from '../errors.js';
import type { ChannelEntry } from '../content/types.js';
import type { ContentCache, VersionContent } from '../content/version-content.js';

// One immutable view of the repository: the manifest at one control-branch commit, what each
// version and environment serves, and the token index. A request takes the current snapshot
// once and answers from it alone, so manifest, version, commit and content always agree.
// A new snapshot is built beside the old one and swapped in whole.

export interface ServedVersion {
  name: string;
  description: string | null;
  createdFrom: string | null;
  /** The branch head now. */
  head: string;
  /** The content served: the head's, or the last good commit's when the head fails validation. */
  content: VersionContent | null;
  status: ServingStatus;
}

/** ok: serves its current commit; last-good: an older one, as the current fails validation; unavailable: nothing. */
export type ServingStatus = 'ok' | 'last-good' | 'unavailable';

export interface ServedEnvironment {
  name: string;
  version: string;
  description: string | null;
  /** The pin, when there is one. */
  pinned: string | null;
  content: VersionContent | null;
  status: ServingStatus;
  channels: { name: string; type: string; secretSha256: string }[];
}

/** Why the resolver is not fully ready: a manifest or version that fails validation, or an unreadable repository. */
export interface ReadinessProblem {
  scope: 'repository' | 'manifest' | 'version' | 'environment';
  /** The version or environment; the control branch for the manifest. */
  name: string;
  /** The commit that failed (null when there is none to name). */
  commit: string | null;
  /** What is served instead: the last good commit, or null when nothing is. */
  serving: string | null;
  errors: Problem[];
}

export interface TokenOwner {
  kind: 'environment' | 'version';
  name: string;
}

export interface Snapshot {
  manifestCommit: string;
  manifest: ManifestDoc;
  bot: string;
  language: string;
  versions: ReadonlyMap<string, ServedVersion>;
  environments: ReadonlyMap<string, ServedEnvironment>;
  /** The limits versions' content is checked against (the manifest's). */
  limits: ContentLimits;
  /** sha256 hex of a token -> what it opens. */
  tokens: ReadonlyMap<string, TokenOwner>;
  /** Problems of versions and environments this snapshot serves around (last good or nothing). */
  problems: ReadinessProblem[];
  /** /v1/resolve bodies built for this snapshot, by "kind:name" (filled on first use). */
  readonly bodies: Map<string, Buffer>;
}

/** What the resolver answers from, replaced whole on every change (live-snapshot.ts). */
export interface ResolverState {
  /** What requests are answered from; null until a valid manifest has been read. */
  snapshot: Snapshot | null;
  /** Everything that keeps the resolver from being fully ready (empty = ready). */
  problems: ReadinessProblem[];
}

/**
 * Where the resolver's routes take what they serve: the current state, taken once per request,
 * and commits' content and files, through the same caches. LiveSnapshot is one; a test can
 * give a fixed one.
 */
export interface SnapshotSource {
  readonly state: ResolverState;
  /** A commit's content (a conversation keeps the commit it started on). */
  content(commit: string): Promise<VersionContent>;
  /** One file of a commit, or null when there is no such file. */
  readFile(commit: string, path: string): Promise<{ oid: string; bytes: Uint8Array } | null>;
}

/** How far back a version's history is searched for a good commit when there is no previous one. */
export const LAST_GOOD_DEPTH = 20;

export interface BuildInput {
  git: GitRepo;
  controlBranch: string;
  /** Whose remote-tracking branches stand in for missing version branches (a clone); default origin. */
  remoteName?: string;
  contents: ContentCache;
  previous: Snapshot | null;
}

export type BuildResult =
  | { ok: true; snapshot: Snapshot }
  /** The manifest at `commit` cannot be served: the previous snapshot stays. */
  | { ok: false; problem: ReadinessProblem };

export async function buildSnapshot({
  git,
  controlBranch,
  remoteName,
  contents,
  previous,
}: BuildInput): Promise<BuildResult> {
  // Version branches as every command reads them: local, else remote-tracking (a clone).
  const branches = new BranchView(git, remoteName);
  const refuse = (commit: string | null, errors: Problem[]): BuildResult => ({
    ok: false,
    problem: { scope: 'manifest', name: controlBranch, commit, serving: previous?.manifestCommit ?? null, errors },
  });
  const manifestCommit = await branches.branchHead(controlBranch);
  if (!manifestCommit)
    return refuse(null, [fileProblem(`the control branch ${controlBranch} does not exist (run "botver init")`)]);

  let manifest: ManifestDoc;
  if (previous?.manifestCommit === manifestCommit) {
    manifest = previous.manifest;
  } else {
    // Whatever goes wrong reading the manifest (too big, YAML refused, a missing object) keeps
    // the previous snapshot whole: it is the manifest's problem, not the repository's.
    try {
      const text = await readManifestText(git, manifestCommit);
      if (text === null)
        return refuse(manifestCommit, [fileProblem(`${MANIFEST_FILE} is missing on ${controlBranch}`)]);
      manifest = ManifestDoc.parse(text);
    } catch (err) {
      if (err instanceof InvalidContentError) return refuse(manifestCommit, err.problems);
      return refuse(manifestCommit, [fileProblem(`cannot be read: ${(err as Error).message}`)]);
    }
  }
  const manifestProblems = manifest.problems();
  // Pins unchanged since the previous snapshot were checked then: only new ones walk history.
  if (!manifestProblems.length)
    manifestProblems.push(...(await repositoryProblems(branches, manifest, previous?.manifest, controlBranch)));
  const errors = manifestProblems.filter((p) => p.severity === 'error');
  if (errors.length) return refuse(manifestCommit, errors);

  const data = manifest.data;
  const limits = manifest.limits;
  const problems: ReadinessProblem[] = [];
  const versions = new Map<string, ServedVersion>();
  for (const [name, entry] of Object.entries(data.versions)) {
    const head = (await branches.branchHead(name))!; // repositoryProblems made sure it exists
    const fallback = previous?.versions.get(name)?.content ?? null;
    const content = await servable({ git, contents, limits, problems }, name, 'version', head, fallback);
    versions.set(name, {
      name,
      description: entry.description ?? null,
      createdFrom: entry.createdFrom ?? null,
      head,
      content,
      status: statusOf(head, content),
    });
  }
  const environments = new Map<string, ServedEnvironment>();
  for (const [name, entry] of Object.entries(data.environments)) {
    let { content, status } = versions.get(entry.version)!;
    if (entry.commit) {
      const before = previous?.environments.get(name);
      const fallback = before?.version === entry.version ? before.content : null;
      content = await servable({ git, contents, limits, problems }, name, 'environment', entry.commit, fallback);
      status = statusOf(entry.commit, content);
    }
    const channels = (entry.channels ?? []).map((c: ChannelEntry) => ({
      name: c.name,
      type: c.type,
      secretSha256: c.secretSha256,
    }));
    environments.set(name, {
      name,
      version: entry.version,
      description: entry.description ?? null,
      pinned: entry.commit ?? null,
      content,
      status,
      channels,
    });
  }
  const tokens = new Map<string, TokenOwner>();
  for (const [name, v] of Object.entries(data.versions))
    tokens.set(v.tokenSha256.toLowerCase(), { kind: 'version', name });
  for (const [name, e] of Object.entries(data.environments))
    tokens.set(e.tokenSha256.toLowerCase(), { kind: 'environment', name });
  contents.touch(
    [...versions.values(), ...environments.values()].flatMap((s) => (s.content ? [s.content.commit] : [])),
    limits,
  );

  return {
    ok: true,
    snapshot: {
      manifestCommit,
      manifest,
      bot: data.bot,
      language: data.language ?? 'en',
      limits,
      versions,
      environments,
      tokens,
      problems,
      bodies: new Map(),
    },
  };
}

interface ServeContext {
  git: GitRepo;
  contents: ContentCache;
  limits: ContentLimits;
  /** Where a failing commit is recorded. */
  problems: ReadinessProblem[];
}

/**
 * The content to serve for `commit`: its own when it validates; otherwise the `fallback` the
 * previous snapshot served, or (on a fresh start) the newest good commit among its first
 * parents; null when there is none. A failing commit is recorded in `problems`. Nothing here
 * throws: a commit that cannot even be read (a missing or corrupt object) fails like one that
 * does not validate, so it takes down this version or environment alone.
 */
async function servable(
  { git, contents, limits, problems }: ServeContext,
  name: string,
  scope: 'version' | 'environment',
  commit: string,
  fallback: VersionContent | null,
): Promise<VersionContent | null> {
  const load = (at: string) => contents.get(at, limits).catch((err: unknown) => unreadable(at, err));
  const content = await load(commit);
  if (content.ok) return content;
  let good = fallback;
  if (!good) {
    let at = commit;
    for (let depth = 0; depth < LAST_GOOD_DEPTH && !good; depth++) {
      const parent = (await git.readCommit(at).catch(() => null))?.parents[0];
      if (!parent) break;
      const candidate = await load(parent);
      if (candidate.ok) good = candidate;
      at = parent;
    }
  }
  problems.push({
    scope,
    name,
    commit,
    serving: good?.commit ?? null,
    errors: content.problems.filter((p) => p.severity === 'error'),
  });
  return good;
}

function unreadable(commit: string, err: unknown): VersionContent {
  const message = `cannot be read at commit ${commit.slice(0, 12)}: ${err instanceof Error ? err.message : String(err)}`;
  return {
    commit,
    problems: [{ file: '.', line: 1, column: 1, message, severity: 'error' }],
    ok: false,
    bundle: null,
    bundleJson: null,
  };
}

function statusOf(commit: string, content: VersionContent | null): ServingStatus {
  return content?.commit === commit ? 'ok' : content ? 'last-good' : 'unavailable';
}

function fileProblem(message: string): Problem {
  return { file: MANIFEST_FILE, line: 1, column: 1, message, severity: 'error' };
}
