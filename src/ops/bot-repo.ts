import { GitRepo, type FileChanges } from '../git/repo.js';
import { RefMovedError, type LockOptions } from '../git/refs.js';
import { resolveSignature, type Signature } from '../git/identity.js';
import { ManifestDoc, MANIFEST_FILE } from '../manifest/manifest.js';
import { repositoryProblems } from '../manifest/rules.js';
import { ConflictError, InvalidContentError, NotFoundError, NotInitialisedError, UsageError } from '../errors.js';

// A bot repository: a git repository plus the control branch that holds environments.yaml.
// Every mutation is a compare-and-swap loop: read the branch head, compute the change on it,
// write the commit, move the branch only if it is still where we read it; otherwise start
// again on the new head, so concurrent writers (botver or a `git push`) never lose an update.

export interface OpenOptions {
  /** Path to the repository (a work tree or a bare repository); default: the current folder. */
  repo?: string;
  /** Branch holding environments.yaml; default BOTVER_CONTROL_BRANCH or "main". */
  controlBranch?: string;
  /** "Name <email>" for the commits made; default GIT_AUTHOR_* or the git config. */
  author?: string;
  /** How long to wait for a ref locked by another process. */
  lockTimeoutMs?: number;
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

export const defaultControlBranch = () => process.env.BOTVER_CONTROL_BRANCH || 'main';

/** A control branch name git would accept, and that stays inside refs/heads/. */
export function assertBranchName(name: string): string {
  const parts = name.split('/');
  if (
    !/^[A-Za-z0-9._/-]+$/.test(name) ||
    parts.some((p) => !p || p.startsWith('.') || p.endsWith('.lock')) ||
    name.includes('..')
  ) {
    throw new UsageError(`invalid control branch name "${name}"`);
  }
  return name;
}

export async function openBotRepo(options: OpenOptions = {}): Promise<BotRepo> {
  const git = await GitRepo.open(options.repo ?? process.cwd());
  return new BotRepo(git, options);
}

export class BotRepo {
  readonly controlBranch: string;
  private signature: Signature | undefined;

  constructor(
    readonly git: GitRepo,
    private readonly options: OpenOptions = {},
  ) {
    this.controlBranch = assertBranchName(options.controlBranch ?? defaultControlBranch());
  }

  get lock(): LockOptions {
    return { timeoutMs: this.options.lockTimeoutMs };
  }

  async sign(): Promise<Signature> {
    this.signature ??= await resolveSignature(this.git.gitdir, this.options.author);
    return this.signature;
  }

  /** The manifest at the control branch's head (or at `commit`). Syntax errors throw. */
  async readManifest(commit?: string): Promise<ManifestAt> {
    const at = commit ?? (await this.git.branchHead(this.controlBranch));
    if (!at) throw new NotInitialisedError(this.controlBranch);
    const text = await this.git.readText(at, MANIFEST_FILE);
    if (text === null) throw new NotInitialisedError(this.controlBranch);
    return { commit: at, manifest: ManifestDoc.parse(text) };
  }

  /** The head of a version's branch; NotFoundError when the branch is gone. */
  async versionHead(version: string): Promise<string> {
    const head = await this.git.branchHead(version);
    if (!head) throw new NotFoundError('branch of version', version, `refs/heads/${version} is missing`);
    return head;
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
  ): Promise<T & { manifestCommit: string | null }> {
    let result!: T;
    const { commit } = await this.commitToBranch(this.controlBranch, async (head) => {
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
        problems.push(...(await repositoryProblems(this.git, manifest, base.manifest, this.controlBranch)));
      if (problems.length) throw new InvalidContentError(problems, 'refused, the result would not be valid: ');
      return { changes: new Map([[MANIFEST_FILE, after]]), message: mutation.message };
    });
    return { ...result, manifestCommit: commit };
  }

  /**
   * The compare-and-swap loop every commit goes through: `plan` computes the change on the
   * branch's current head (null: nothing to do); the commit lands only if the branch is still
   * there, otherwise `plan` runs again on the new head. Rules are re-checked by `plan` each time.
   */
  async commitToBranch(
    branch: string,
    plan: (head: string | null) => Promise<{ changes: FileChanges; message: string } | null>,
  ): Promise<{ commit: string | null; parent: string | null }> {
    for (let attempt = 1; ; attempt++) {
      const parent = await this.git.branchHead(branch);
      const planned = await plan(parent);
      if (!planned) return { commit: null, parent };
      const signature = await this.sign();
      const commit = await this.git.writeCommit(parent, planned.changes, planned.message, signature);
      try {
        const firstLine = planned.message.split('\n')[0];
        await this.git.moveBranch(
          branch,
          commit,
          parent,
          [...planned.changes.keys()],
          signature,
          `botver: ${firstLine}`,
          this.lock,
        );
        return { commit, parent };
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
