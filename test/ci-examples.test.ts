import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BIN, ROOT, TEST_ENV, exampleBotRepo, git, sharedRepo, tempDir } from './helpers.js';

// The CI files users copy (examples/ci/) run as written, in checkouts made the way those CI
// systems make them: actions/checkout's commands for a pull request and for a push, GitLab's
// runner's for a merge request. Every `run` step but the npm install runs in bash, with `botver`
// on the PATH being this checkout's build. The remote is a bare repository on disk.

interface Step {
  id?: string;
  name?: string;
  run?: string;
  env?: Record<string, string>;
}
const workflow = parse(readFileSync(join(ROOT, 'examples/ci/github-actions/botver.yml'), 'utf8')) as {
  jobs: Record<string, { steps: Step[] }>;
};
const gitlab = parse(readFileSync(join(ROOT, 'examples/ci/gitlab-ci.yml'), 'utf8')) as {
  botver: { before_script: string[]; script: string[]; variables: Record<string, string> };
};

const remote = sharedRepo(async () => {
  const work = await exampleBotRepo();
  const bare = tempDir('botver-remote-');
  git(bare, 'clone', '--quiet', '--bare', work, '.');
  return bare;
});

/** A folder holding a `botver` command that runs this checkout's build. */
function botverOnPath(): string {
  const bin = tempDir('botver-bin-');
  writeFileSync(join(bin, 'botver'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(join(bin, 'botver'), 0o755);
  return bin;
}

/** Runs a CI script as the runner does (bash, stop at the first failure). */
function runStep(cwd: string, script: string, env: Record<string, string>) {
  const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
    cwd,
    env: { ...process.env, ...TEST_ENV, PATH: `${botverOnPath()}:${process.env.PATH}`, ...env },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A pull request into `base` of a change made by `edit` in a work clone: its merge commit, as refs/pull/1/merge. */
function pullRequest(origin: string, base: string, edit: (work: string) => void): string {
  const work = join(tempDir('botver-pr-'), 'work');
  git(tempDir(), 'clone', '--quiet', `file://${origin}`, work);
  git(work, 'switch', '--quiet', '-c', 'feature', `origin/${base}`);
  edit(work);
  git(work, 'add', '-A');
  git(work, 'commit', '--quiet', '-m', 'the pull request');
  git(work, 'switch', '--quiet', '--detach', `origin/${base}`);
  git(work, 'merge', '--quiet', '--no-ff', '-m', 'Merge pull request #1', 'feature');
  git(work, 'push', '--quiet', 'origin', 'HEAD:refs/pull/1/merge');
  return git(work, 'rev-parse', 'HEAD');
}

/** actions/checkout@v4's start: a new repository with the remote; with fetch-depth 0, every branch and tag fetched. */
function checkoutStart(origin: string, fetchAll: boolean): string {
  const dir = join(tempDir('botver-gha-'), 'repo');
  git(tempDir(), 'init', '--quiet', dir);
  git(dir, 'remote', 'add', 'origin', `file://${origin}`);
  if (fetchAll)
    git(
      dir,
      'fetch',
      '--quiet',
      '--prune',
      'origin',
      '+refs/heads/*:refs/remotes/origin/*',
      '+refs/tags/*:refs/tags/*',
    );
  return dir;
}

/** actions/checkout@v4 for a pull request: fetch-depth 0 fetches everything, then the merge ref; else one commit of it. */
function checkoutPullRequest(origin: string, depth: number): string {
  const dir = checkoutStart(origin, depth === 0);
  const merge = '+refs/pull/1/merge:refs/remotes/pull/1/merge';
  if (depth === 0) git(dir, 'fetch', '--quiet', 'origin', merge);
  else git(dir, 'fetch', '--quiet', `--depth=${depth}`, 'origin', merge);
  git(dir, 'checkout', '--quiet', '--force', 'refs/remotes/pull/1/merge');
  return dir;
}

const checkSteps = () => workflow.jobs.check!.steps.filter((s) => s.run && s.id !== 'install');

describe('examples/ci/github-actions/botver.yml', () => {
  it('check: a good pull request into a version passes validate, test and diff', async () => {
    const origin = remote();
    pullRequest(origin, 'v2', (work) => {
      const file = join(work, 'training/intents/greetings.yaml');
      writeFileSync(file, readFileSync(file, 'utf8').replace('expressions:\n', 'expressions:\n  - hiya there\n'));
    });
    const dir = checkoutPullRequest(origin, 0);
    const env = { GITHUB_BASE_REF: 'v2', GITHUB_EVENT_NAME: 'pull_request' };
    const steps = checkSteps();
    expect(steps.map((s) => s.name)).toEqual(['validate', 'test', 'diff']);
    const out: Record<string, string> = {};
    for (const step of steps) {
      const r = runStep(dir, step.run!, env);
      expect(r.code, `${step.name}: ${r.stdout}${r.stderr}`).toBe(0);
      out[step.name!] = r.stdout;
    }
    expect(out.validate).not.toContain('::error');
    expect(out.diff).toContain('hiya there');
  });

  it('check: a broken pull request fails validate with an annotation on its file and line', async () => {
    const origin = remote();
    pullRequest(origin, 'v2', (work) => {
      writeFileSync(join(work, 'training/intents/broken.yaml'), 'slug: broken\nexpressions: not a list\n');
    });
    const dir = checkoutPullRequest(origin, 0);
    const r = runStep(dir, checkSteps()[0]!.run!, { GITHUB_BASE_REF: 'v2' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^::error file=training\/intents\/broken\.yaml,line=2,/m);
  });

  it('check: a promotion pull request into main tests every version; with the default fetch-depth 1, one error names the fix', async () => {
    const origin = remote();
    const v2 = git(origin, 'rev-parse', 'v2');
    pullRequest(origin, 'main', (work) => {
      const file = join(work, 'environments.yaml');
      writeFileSync(
        file,
        readFileSync(file, 'utf8').replace(/(production:\n\s+version: )v1/, `$1v2\n    commit: ${v2}`),
      );
    });
    const full = checkoutPullRequest(origin, 0);
    for (const step of checkSteps()) {
      const r = runStep(full, step.run!, { GITHUB_BASE_REF: 'main' });
      expect(r.code, `${step.name}: ${r.stdout}${r.stderr}`).toBe(0);
      if (step.name === 'diff') expect(r.stdout).toContain(`+    commit: ${v2}`);
    }
    // actions/checkout's default: one commit, no branch. One annotation, naming the fetch.
    const shallow = checkoutPullRequest(origin, 1);
    const r = runStep(shallow, checkSteps()[0]!.run!, { GITHUB_BASE_REF: 'main' });
    expect(r.code).toBe(1);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('actions/checkout with fetch-depth: 0');
  });

  it('promote: a push to a version branch promotes it to staging and pushes main', async () => {
    const origin = remote();
    const job = workflow.jobs.promote!;
    // actions/checkout@v4 with ref: main and fetch-depth: 0.
    const dir = checkoutStart(origin, true);
    git(dir, 'checkout', '--quiet', '--force', '-B', 'main', 'refs/remotes/origin/main');
    // A merge into v1 was pushed: v1 (staging serves v2) is promoted to staging, pinned.
    const step = job.steps.find((s) => s.name === 'promote')!;
    const r = runStep(dir, step.run!, { GITHUB_REF_NAME: 'v1', GITHUB_EVENT_NAME: 'push', ...step.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('botver: pushed to origin: main');
    const manifest = git(origin, 'show', 'main:environments.yaml');
    expect(manifest).toMatch(new RegExp(`staging:\\n\\s+version: v1\\n\\s+commit: ${git(origin, 'rev-parse', 'v1')}`));
    expect(git(origin, 'log', '-1', '--format=%an', 'main')).toBe('botver CI');
  });
});

describe('examples/ci/gitlab-ci.yml', () => {
  it("a merge request into a version: GitLab's checkout has one branch; the file fetches the rest and checks it", async () => {
    const origin = remote();
    const merge = pullRequest(origin, 'v2', (work) => {
      const file = join(work, 'training/intents/greetings.yaml');
      writeFileSync(file, readFileSync(file, 'utf8').replace('expressions:\n', 'expressions:\n  - hiya there\n'));
    });
    git(origin, 'update-ref', 'refs/heads/feature', merge);
    // The runner: init, fetch only the pipeline's branch (GIT_DEPTH 0: whole history), check out its commit.
    expect(gitlab.botver.variables.GIT_DEPTH).toBe('0');
    const dir = join(tempDir('botver-gitlab-'), 'repo');
    git(tempDir(), 'init', '--quiet', dir);
    git(dir, 'remote', 'add', 'origin', `file://${origin}`);
    git(dir, 'fetch', '--quiet', 'origin', '+refs/heads/feature:refs/remotes/origin/feature');
    git(dir, 'checkout', '--quiet', '--force', merge);
    const scripts = [
      ...gitlab.botver.before_script.filter((l) => !l.startsWith('npm install')),
      ...gitlab.botver.script,
    ];
    for (const script of scripts) {
      const r = runStep(dir, script, { CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'v2' });
      expect(r.code, `${script}: ${r.stdout}${r.stderr}`).toBe(0);
    }
    expect(execFileSync('git', ['branch', '-r'], { cwd: dir, encoding: 'utf8' })).toContain('origin/v2');
  });
});
