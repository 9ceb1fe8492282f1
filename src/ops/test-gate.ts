import { TestsFailedError } from '../errors.js';
import type { BotRepo } from './bot-repo.js';
import { type TestOptions, type TestReport, testVersion } from './test-version.js';

// The policy around a version's tests, shared by `botver test` and `promote`: which commit a
// ref stands for, what a version without tests means (a warning, or a refusal when tests are
// required), and when a promotion is refused. Running the tests is test-version.ts's job.

export interface TestPolicy extends TestOptions {
  /** A version without tests (tests/*.yaml) fails instead of passing with a warning. */
  requireTests?: boolean;
}

export interface TestRun {
  reports: TestReport[];
  /** Versions without tests, in words, when tests are not required. */
  warnings: string[];
  /** Versions without tests, in words, when tests are required: each one fails the run. */
  refusals: string[];
  /** False when a check failed or a required test is missing. */
  ok: boolean;
}

const short = (commit: string) => commit.slice(0, 7);

const untested = (ref: string, commit: string) => `${ref} (${short(commit)}) has no tests (tests/*.yaml)`;

/** The warning for a report that checked nothing, or null when it checked something. */
export function noTestsWarning(report: TestReport): string | null {
  return report.checks.length ? null : `${untested(report.ref, report.commit)}: nothing was checked`;
}

/**
 * `botver test [REF...]`: each ref's tests (no ref: every declared version's head). A ref is a
 * version, an environment (the commit it serves) or any commit git can name.
 */
export async function testRefs(repo: BotRepo, refs: string[], policy: TestPolicy = {}): Promise<TestRun> {
  const { manifest } = await repo.readManifest();
  const targets: { ref: string; commit: string }[] = [];
  // Every ref is resolved before any test runs: a bad one costs no training.
  for (const ref of refs.length ? refs : Object.keys(manifest.data.versions)) {
    const commit = manifest.environment(ref)
      ? await repo.servedCommit(manifest, ref)
      : await repo.git.resolveCommit(ref);
    targets.push({ ref, commit });
  }
  const run: TestRun = { reports: [], warnings: [], refusals: [], ok: true };
  for (const t of targets) {
    const report = await testVersion(repo, t.ref, t.commit, policy);
    run.reports.push(report);
    if (report.failed) run.ok = false;
    if (!report.checks.length) {
      if (policy.requireTests) {
        run.refusals.push(`${untested(t.ref, t.commit)} and tests are required (--require-tests)`);
        run.ok = false;
      } else run.warnings.push(noTestsWarning(report)!);
    }
  }
  return run;
}

/**
 * The test gate of a promotion: runs FROM's tests at `commit`. Throws TestsFailedError (with
 * the report) when one fails, or when there are none and they are required; returns the
 * warnings to give otherwise.
 */
export async function gateOnTests(
  repo: BotRepo,
  from: string,
  commit: string,
  policy: TestPolicy = {},
): Promise<{ report: TestReport; warnings: string[] }> {
  const report = await testVersion(repo, from, commit, policy);
  if (report.failed) {
    throw new TestsFailedError(
      `refused: ${report.failed} of ${report.checks.length} tests of ${from} (${short(commit)}) fail; fix them or promote with --skip-tests`,
      { report },
    );
  }
  const warning = noTestsWarning(report);
  if (warning && policy.requireTests) {
    throw new TestsFailedError(
      `refused: ${untested(from, commit)} and tests are required (--require-tests); add tests or promote without --require-tests`,
      { report },
    );
  }
  return { report, warnings: warning ? [warning] : [] };
}
