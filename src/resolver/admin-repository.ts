import { BotRepo } from '../ops/bot-repo.js';
import type { GitRepo } from '../git/repo.js';
import type { TestReport } from '../ops/test-version.js';
import { HttpError } from './http-errors.js';

// What the admin routes need of the repository the resolver serves: where it is (to read
// history and diffs, and to make the commits the console's actions make), and whether it is
// botver's to write. A resolver that follows a Git host (--remote) serves a mirror that every
// fetch overwrites: a commit made there would be a silent divergence from the host, so its
// actions are answered with the CLI commands to run in a clone instead (REMOTE_REPOSITORY).

export interface AdminRepository {
  /**
   * The repository served (the work tree or bare repository of --repo, or the mirror of
   * --remote), opened once: its object cache serves every admin request.
   */
  git: GitRepo;
  controlBranch: string;
  /** The remote whose tracking branches stand in for missing version branches. */
  remoteName: string;
  /** With --remote: the Git host's URL, as given (credentials are never in it: they come from the environment). */
  remoteUrl: string | null;
}

/** "Name <email>", as git writes an identity; no control character (a NUL breaks the commit object). */
const AUTHOR = /^[^<>\x00-\x1f\x7f]+ <[^<>\s\x00-\x1f\x7f]+>$/;
export const AUTHOR_HEADER = 'x-botver-author';

/**
 * The operator an action is made by: the X-Botver-Author header, "Name <email>", percent-encoded
 * so that any name fits in a header (the console encodes it; plain ASCII passes as it is).
 */
export function operatorOf(header: string | string[] | undefined): string {
  const missing = () =>
    new HttpError(
      'BAD_REQUEST',
      'actions need the X-Botver-Author header: the operator as "Name <email>" (percent-encoded), the author of the commit made',
    );
  if (typeof header !== 'string' || header.trim() === '') throw missing();
  let author: string;
  try {
    author = decodeURIComponent(header).trim();
  } catch {
    throw new HttpError('BAD_REQUEST', 'the X-Botver-Author header is not valid percent-encoding');
  }
  if (!AUTHOR.test(author) || author.length > 300)
    throw new HttpError(
      'BAD_REQUEST',
      `the X-Botver-Author header must be "Name <email>", got "${author.slice(0, 100)}"`,
    );
  return author;
}

/**
 * The repository for one admin request: `author` for the commits an action makes, and the
 * control-branch commit the operator's decision was based on, if the request said which.
 */
export function adminRepo(
  repository: AdminRepository,
  change: { author?: string; expectedControlCommit?: string } = {},
): BotRepo {
  return new BotRepo(repository.git, {
    repo: repository.git.gitdir,
    controlBranch: repository.controlBranch,
    remoteName: repository.remoteName,
    ...change,
  });
}

export interface TestSummary {
  ref: string;
  commit: string;
  passed: boolean;
  total: number;
  failed: number;
  intentAccuracy: number | null;
  /** When the tests ran (ISO 8601). */
  at: string;
}

/**
 * The latest test results by commit, as the console's runs and promotions produced them (the
 * resolver never runs tests on its own): a version whose head has one shows it. Bounded; the
 * oldest result is forgotten first.
 */
export class TestResults {
  private readonly byCommit = new Map<string, TestSummary>();

  /** The test run in progress: runs wait for each other (each trains a model in a worker). */
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly capacity = 500) {}

  /** Runs `work` once the test runs before it have ended. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.running.then(work, work);
    this.running = run.catch(() => undefined);
    return run;
  }

  record(report: TestReport): TestSummary {
    const summary: TestSummary = {
      ref: report.ref,
      commit: report.commit,
      passed: report.failed === 0,
      total: report.checks.length,
      failed: report.failed,
      intentAccuracy: report.intentAccuracy,
      at: new Date().toISOString(),
    };
    this.byCommit.delete(report.commit);
    this.byCommit.set(report.commit, summary);
    if (this.byCommit.size > this.capacity) this.byCommit.delete(this.byCommit.keys().next().value!);
    return summary;
  }

  of(commit: string | null): TestSummary | null {
    return commit ? (this.byCommit.get(commit) ?? null) : null;
  }
}
