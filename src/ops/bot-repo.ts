import { DEFAULT_LOCK_TIMEOUT_MS, GitRepo, type FileChanges, type LockOptions } from '../git/repo.js';
import { BranchView, DEFAULT_REMOTE } from '../git/branch-view.js';
import { resolveIdentity, signatureAt, type Env, type Identity, type Signature } from '../git/identity.js';
import { ManifestDoc, MANIFEST_FILE, readManifestText } from '../manifest/manifest.js';
import { repositoryProblems } from '../manifest/rules.js';
import { assertBranchName, DEFAULT_CONTROL_BRANCH } from '../model/names.js';
import { ConflictError, InvalidContentError, NotFoundError, NotInitialisedError, RefMovedError } from '../errors.js';
import type { Manifest } from '../content/types.js';

// A bot repository: a git repository plus the control branch that holds environments.yaml.
// Every mutation is a compare-and-swap loop: read the branch head, compute the change on it,
// write the commit, move the branch only if it is still where we read it; otherwise start
// again on the new head, so concurrent writers (botver or a `git push`) never lose an update.

/**
 * How to open a bot repository, as a caller writes it: everything optional. The library reads no
 * environment variable itself; the CLI maps BOTVER_CONTROL_BRANCH, BOTVER_LOCK_TIMEOUT_MS and
 * process.env (for GIT_AUTHOR_* and friends) onto these fields.
 */
export interface OpenOptions {
  /** Path to the repository (a work tree or a bare repository); default: the current folder. */
  repo?: string;
  /** Branch holding environments.yaml; default "main". */
  controlBranch?: string;
  /** "Name <email>" for the commits made; default GIT_AUTHOR_* from `env`, else the git config. */
  author?: string;
  /** How long to wait for a ref locked by another process, in ms; default 10 000. */
  lockTimeoutMs?: number;
  /** The remote whose tracking branches stand in for missing version branches (a clone); default "origin". */
  remoteName?: string;
  /**
   * Environment variables for commit identities and dates, as git reads them (GIT_AUTHOR_NAME,
   * GIT_AUTHOR_EMAIL, GIT_AUTHOR_DATE, GIT_COMMITTER_*, HOME, XDG_CONFIG_HOME). Default: none,
   * so identities come from --author or the git config files only.
   */
  env?: Env;
  /**
   * The control-branch commit the caller's decision was based on (what an operator's screen
   * showed): a manifest change made when the branch is elsewhere is refused (CONFLICT) rather
   * than applied on top of a change the caller has not seen. Default: none (apply to the head).
   */
  expectedControlCommit?: string;
}

export type { Env };

/** OpenOptions with every default filled in. */
export interface ResolvedOpenOptions {
  repo: string;
  controlBranch: string;
  author: string | undefined;
  lockTimeoutMs: number;
  remoteName: string;
  env: Env;
  expectedControlCommit: string | undefined;
}

export function resolveOpenOptions(options: OpenOptions = {}): ResolvedOpenOptions {
  return {
    repo: options.repo ?? process.cwd(),
    controlBranch: assertBranchName(options.controlBranch || DEFAULT_CONTROL_BRANCH),
    author: options.author,
    lockTimeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
    remoteName: assertBranchName(options.remoteName || DEFAULT_REMOTE),
    env: options.env ?? {},
    expectedControlCommit: options.expectedControlCommit,
  };
}

/** Optional `warnings` on a result: present only when there is something to say. */
export function warningsField(warnings: readonly string[]): { warnings?: string[] } {
  return warnings.length ? { warnings: [...warnings] } : {};
}

export interface ManifestAt {
  /** The control-branch commit the manifest was read from. */
  commit: string;
  manifest: ManifestDoc;
}

export interface Mutation<T> {
  /** The commit message; first line says what happened in words. */
  message: string;
  result: T;
}

const MAX_ATTEMPTS = 50;

export async function openBotRepo(options: OpenOptions = {}): Promise<BotRepo> {
  const resolved = resolveOpenOptions(options);
  return new BotRepo(await GitRepo.open(resolved.repo), resolved);
}

export class BotRepo {
  readonly controlBranch: string;
  readonly options: ResolvedOpenOptions;
  /** Version branches, local or remote-tracking; says which were read from the remote. */
  readonly branches: BranchView;
  /** Local branches this BotRepo has moved, created or deleted: what a `git push` would publish. */
  readonly changedBranches = new Map<string, 'updated' | 'deleted'>();
  private identity: Promise<Identity> | undefined;

  constructor(
    readonly git: GitRepo,
    options: OpenOptions | ResolvedOpenOptions = {},
  ) {
    this.options = resolveOpenOptions(options);
    this.controlBranch = this.options.controlBranch;
    this.branches = new BranchView(git, this.options.remoteName);
  }

  get lock(): LockOptions {
    return { timeoutMs: this.options.lockTimeoutMs };
  }

  /**
   * The signature for a commit made now. Names are resolved once (they need the config files);
   * the time is taken on every call, so each commit of a long-lived BotRepo carries its own.
   */
  async sign(): Promise<Signature> {
    this.identity ??= resolveIdentity(this.git.gitdir, this.options.author, this.options.env);
    try {
      return signatureAt(await this.identity, this.options.env);
    } catch (err) {
      this.identity = undefined; // a bad --author or date: let the next call report it again
      throw err;
    }
  }

  /**
   * The manifest at the control branch's head (or at `commit`). Syntax errors throw, and so does
   * a document without the shape every command reads (`versions` and `environments` maps), at
   * its file and line; other schema and rule problems are left to `problems()`, so that a
   * manifest broken by hand can still be read and repaired.
   */
  async readManifest(commit?: string): Promise<ManifestAt> {
    const at = commit ?? (await this.branches.branchHead(this.controlBranch));
    if (!at) throw new NotInitialisedError(this.controlBranch);
    const text = await readManifestText(this.git, at); // size checked before it is read
    if (text === null) throw new NotInitialisedError(this.controlBranch);
    const manifest = ManifestDoc.parse(text);
    const data: unknown = manifest.data;
    const isMap = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (!isMap(data) || !isMap((data as Manifest).versions) || !isMap((data as Manifest).environments)) {
      const problems = manifest.schemaProblems().filter((p) => p.severity === 'error');
      throw new InvalidContentError(
        problems.length
          ? problems
          : [
              {
                file: MANIFEST_FILE,
                line: 1,
                column: 1,
                message: 'must be a map with versions and environments',
                severity: 'error',
              },
            ],
      );
    }
    return { commit: at, manifest };
  }

  /**
   * The head of a version's branch: the local branch, else its remote-tracking one (a clone);
   * NotFoundError when neither is there, saying how to fetch it in a partial clone.
   */
  async versionHead(version: string): Promise<string> {
    const head = await this.branches.branchHead(version);
    if (head) return head;
    const hint = await this.branches.missingHint([version]);
    throw new NotFoundError(
      'branch of version',
      version,
      `refs/heads/${version} is missing${hint ? `, and ${hint}` : ''}`,
    );
  }

  /** What an environment serves now: its pin, or its version's branch head. */
  async servedCommit(manifest: ManifestDoc, environment: string): Promise<string> {
    const env = manifest.environment(environment);
    if (!env) throw new NotFoundError('environment', environment);
    return env.commit ?? (await this.versionHead(env.version));
  }

  /**
   * Applies `change` to the manifest at the control branch's head and commits the result,
   * retrying on a moved branch. `change` edits the document in place and may throw to refuse;
   * the edited manifest must validate or nothing is written. Returns null as message for a
   * change that turned out to be a no-op.
   */
  async updateManifest<T>(
    change: (manifest: ManifestDoc, base: ManifestAt) => Promise<Mutation<T>>,
  ): Promise<T & { manifestCommit: string | null; warnings?: string[] }> {
    let result!: T;
    const { commit, warnings } = await this.commitToBranch(this.controlBranch, async (head) => {
      const expected = this.options.expectedControlCommit;
      if (expected && head !== expected)
        throw new ConflictError(
          `${this.controlBranch} moved to ${head?.slice(0, 7) ?? '(none)'} since ${expected.slice(0, 7)}, which this change was based on; look again and retry`,
        );
      const base = await this.readManifest(head ?? undefined);
      const before = base.manifest.toString();
      // A second parse gives the change a document of its own; `base` stays the old state.
      const manifest = ManifestDoc.parse(before);
      const mutation = await change(manifest, base);
      result = mutation.result;
      const after = manifest.toString();
      if (after === before) return null;
      const problems = manifest.problems();
      if (!problems.length)
        problems.push(...(await repositoryProblems(this.branches, manifest, base.manifest, this.controlBranch)));
      if (problems.length) throw new InvalidContentError(problems, 'refused, the result would not be valid: ');
      return { changes: new Map([[MANIFEST_FILE, after]]), message: mutation.message };
    });
    return { ...result, manifestCommit: commit, ...warningsField(warnings) };
  }

  /**
   * The compare-and-swap loop every commit goes through: `plan` computes the change on the
   * branch's current head (null: nothing to do); the commit lands only if the branch is still
   * there, otherwise `plan` runs again on the new head. Rules are re-checked by `plan` each time.
   * `warnings` says what went wrong after the commit landed (a work tree that could not follow).
   */
  async commitToBranch(
    branch: string,
    plan: (head: string | null) => Promise<{ changes: FileChanges; message: string } | null>,
  ): Promise<{ commit: string | null; parent: string | null; warnings: string[] }> {
    for (let attempt = 1; ; attempt++) {
      // A branch that is only remote-tracking here (a clone) gets its local branch, started where
      // the remote's is, as `git switch` would: writing commands move local branches only.
      const local = await this.git.branchHead(branch);
      const parent = local ?? (await this.branches.branchHead(branch));
      const planned = await plan(parent);
      if (!planned) return { commit: null, parent, warnings: [] };
      const signature = await this.sign();
      const commit = await this.git.writeCommit(parent, planned.changes, planned.message, signature);
      try {
        const firstLine = planned.message.split('\n')[0];
        const { warnings } = await this.git.moveBranch(
          branch,
          commit,
          local,
          [...planned.changes.keys()],
          signature,
          `botver: ${firstLine}`,
          this.lock,
        );
        this.changedBranches.set(branch, 'updated');
        return { commit, parent, warnings };
      } catch (err) {
        if (!(err instanceof RefMovedError)) throw err;
        if (attempt >= MAX_ATTEMPTS)
          throw new ConflictError(
            `${branch} kept moving while botver tried to update it (${attempt} attempts); try again`,
          );
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 10 * attempt)));
      }
    }
  }
}
