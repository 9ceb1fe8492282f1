import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, TEST_ENV, botver, expectFsckClean, git, ok, refsSnapshot, tempDir } from './helpers.js';

// scripts/make-example-repo.js run as a process, the way a user runs it: it turns
// examples/awesome-bot/ into a bot repository through the built library (dist/).

const SCRIPT = join(ROOT, 'scripts', 'make-example-repo.js');
const EXAMPLE = join(ROOT, 'examples', 'awesome-bot');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

beforeAll(() => {
  // The script uses dist/: build it when it is missing or older than the sources.
  const built = join(ROOT, 'dist', 'index.js');
  if (!existsSync(built) || statSync(built).mtimeMs < newestMtime(join(ROOT, 'src'))) {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  }
}, 180_000);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runScript(args: string[], cwd = ROOT): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [SCRIPT, ...args],
      { cwd, env: { ...process.env, ...TEST_ENV } },
      (err, stdout, stderr) => {
        done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** Every example file a version holds: training/, skills/ and tests/, as repository paths. */
function exampleFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.push(relative(EXAMPLE, path).split('\\').join('/'));
    }
  };
  for (const top of ['training', 'skills', 'tests']) walk(join(EXAMPLE, top));
  return out.sort();
}

const TOKEN = /bvt_[A-Za-z0-9_-]{43}/g;

/** Every file under `dir` (the .git folder included) whose bytes contain `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && readFileSync(path).includes(needle)) found.push(path);
    }
  };
  walk(dir);
  return found;
}

describe('scripts/make-example-repo.js', () => {
  it('builds a bot repository from examples/awesome-bot that git and botver accept', async () => {
    const base = tempDir('botver-example-');
    const dir = join(base, 'awesome');
    const tokensFile = join(base, 'secrets', 'tokens.json');
    const r = await runScript([dir, '--tokens-file', tokensFile]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);

    // Native git is happy with every object and ref.
    expectFsckClean(dir);
    expect(git(dir, 'for-each-ref', '--format=%(refname)', 'refs/heads/')).toBe(
      'refs/heads/main\nrefs/heads/v1\nrefs/heads/v2',
    );
    expect(git(dir, 'status', '--porcelain')).toBe('');

    // botver validates it, and sees the versions and environments the script promised.
    const validation = await botver(dir, 'validate');
    expect(validation.stdout).toMatch(
      /^0 errors, 0 warnings in main \(manifest at \w+\), v1 \(version at \w+\), v2 \(version at \w+\)$/m,
    );
    expect(validation.code).toBe(0);
    const envs = await ok(dir, 'env', 'list', '--json');
    expect(
      envs.map((e: { name: string; version: string; commit?: string }) => [e.name, e.version, e.commit ?? null]),
    ).toEqual([
      ['production', 'v1', null],
      ['staging', 'v2', null],
    ]);
    const manifest = git(dir, 'show', 'main:environments.yaml');
    expect(manifest).toMatch(/^bot: awesome-bot$/m);
    expect(manifest).toMatch(/^language: en$/m);

    // v1 holds exactly the example's files, byte for byte; v2 is a copy of it.
    const files = exampleFiles();
    expect(files.length).toBeGreaterThan(15);
    expect(git(dir, 'ls-tree', '-r', '--name-only', 'v1').split('\n').sort()).toEqual(files);
    for (const path of files) {
      const committed = execFileSync('git', ['show', `v1:${path}`], { cwd: dir, env: { ...process.env, ...TEST_ENV } });
      expect(committed.equals(readFileSync(join(EXAMPLE, path))), path).toBe(true);
    }
    expect(git(dir, 'rev-parse', 'v2^{tree}')).toBe(git(dir, 'rev-parse', 'v1^{tree}'));

    // The four tokens are printed once, and written only to the file asked for, outside the repo.
    const printed = [...new Set(r.stdout.match(TOKEN) ?? [])];
    expect(printed).toHaveLength(4);
    const saved = JSON.parse(readFileSync(tokensFile, 'utf8'));
    expect(
      [saved.versions.v1, saved.versions.v2, saved.environments.production, saved.environments.staging].sort(),
    ).toEqual([...printed].sort());
    expect(statSync(tokensFile).mode & 0o777).toBe(0o600);
    for (const [kind, name, token] of [
      ['version', 'v1', saved.versions.v1],
      ['version', 'v2', saved.versions.v2],
      ['environment', 'production', saved.environments.production],
      ['environment', 'staging', saved.environments.staging],
    ]) {
      expect(r.stdout).toMatch(new RegExp(`${kind} ${name}: +${token}$`, 'm'));
    }

    // No token in any file of any branch, in any commit message or diff of the history,
    // nor in any plain file of the repository folder (work tree, refs, logs, config).
    const branches = git(dir, 'for-each-ref', '--format=%(refname)', 'refs/heads/').split('\n');
    const grep = (() => {
      try {
        return execFileSync('git', ['grep', '-F', ...printed.flatMap((t) => ['-e', t]), ...branches], {
          cwd: dir,
          encoding: 'utf8',
        });
      } catch (err) {
        if ((err as { status?: number }).status === 1) return null; // git grep: no match
        throw err;
      }
    })();
    expect(grep).toBeNull();
    const history = git(dir, 'log', '--all', '-p', '--format=%H%n%B');
    expect(history).toContain('tokenSha256'); // the history is really there...
    for (const token of printed) {
      expect(history).not.toContain(token); // ...and no token in it
      expect(filesContaining(dir, token)).toEqual([]);
    }
  });

  it('refuses to touch an existing folder without --force, and starts again with it', async () => {
    const base = tempDir('botver-example-');
    const dir = join(base, 'repo');
    expect((await runScript([dir])).code).toBe(0);
    const refs = refsSnapshot(dir);
    const v1Tree = git(dir, 'rev-parse', 'v1^{tree}');

    const refused = await runScript([dir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${dir} already exists`);
    expect(refused.stderr).toContain('--force');
    expect(refsSnapshot(dir)).toBe(refs);

    // An existing folder that is not a repository is not touched either.
    const other = join(base, 'notes');
    mkdirSync(other);
    writeFileSync(join(other, 'keep.txt'), 'mine');
    expect((await runScript([other])).code).toBe(1);
    expect(readdirSync(other)).toEqual(['keep.txt']);

    const forced = await runScript([dir, '--force']);
    expect(forced.code).toBe(0);
    expectFsckClean(dir);
    expect(refsSnapshot(dir)).not.toBe(refs); // a new repository: new commits (new tokens in the manifest)
    expect(git(dir, 'rev-parse', 'v1^{tree}')).toBe(v1Tree); // the same content
    expect((await botver(dir, 'validate')).code).toBe(0);
  });

  it('creates ./example-repo by default and never writes tokens into the repository', async () => {
    const cwd = tempDir('botver-example-cwd-');
    const r = await runScript([], cwd);
    expect(r.code).toBe(0);
    const dir = join(cwd, 'example-repo');
    expectFsckClean(dir);
    expect(readdirSync(cwd)).toEqual(['example-repo']);
    for (const token of new Set(r.stdout.match(TOKEN))) expect(filesContaining(cwd, token)).toEqual([]);

    const inside = await runScript([join(cwd, 'second'), '--tokens-file', join(cwd, 'second', 'tokens.json')]);
    expect(inside.code).toBe(1);
    expect(inside.stderr).toContain('inside the repository');
    expect(existsSync(join(cwd, 'second'))).toBe(false);
  });

  it('makes a bare repository with --bare, and exits 2 on a usage error', async () => {
    const dir = join(tempDir('botver-example-'), 'awesome.git');
    const r = await runScript([dir, '--bare']);
    expect(r.code).toBe(0);
    expect(git(dir, 'rev-parse', '--is-bare-repository')).toBe('true');
    expectFsckClean(dir);
    expect((await botver(dir, 'validate')).code).toBe(0);
    expect(git(dir, 'ls-tree', '-r', '--name-only', 'v1').split('\n').sort()).toEqual(exampleFiles());

    const usage = await runScript(['--frobnicate']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('unknown option --frobnicate');
  });

  it('exports its main function for other scripts', async () => {
    const mod = await import(pathToFileURL(SCRIPT).href);
    expect(typeof mod.makeExampleRepo).toBe('function');
    expect(typeof mod.main).toBe('function');
    const dir = join(tempDir('botver-example-'), 'lib');
    const made = await mod.makeExampleRepo({ dir });
    expect(made.dir).toBe(dir);
    expect(Object.keys(made.tokens.environments)).toEqual(['production', 'staging']);
    expect(git(dir, 'rev-parse', 'v1')).toBe(made.commits.v1);
    expect(existsSync(join(dir, '.botver-tokens.json'))).toBe(false);
  });
});
