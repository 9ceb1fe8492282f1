import { execFile } from 'node:child_process';
import { PushFailedError } from '../errors.js';

// Publishing what a writing command changed: the `git push` that sends its local branches to the
// remote, printed for the user to run, or run with `--push`. Pushing is native git's job: it
// knows the user's transports (SSH, HTTPS), credential helpers and hooks, and refuses a
// non-fast-forward exactly as git does, because it is git.

/** Local branches a command moved or created ('updated') or deleted. */
export type BranchChanges = ReadonlyMap<string, 'updated' | 'deleted'>;

/** The refspecs that publish `changes`: `main`, `v3`, `:v2` (a deletion). */
export function pushRefspecs(changes: BranchChanges): string[] {
  return [...changes].map(([branch, change]) => (change === 'deleted' ? `:refs/heads/${branch}` : branch));
}

/** The command a user types to publish `changes` (shell-quoted where it needs to be). */
export function pushCommand(remote: string, changes: BranchChanges): string {
  const quote = (s: string) => (/^[\w./:@-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return ['git', 'push', '--atomic', remote, ...pushRefspecs(changes)].map(quote).join(' ');
}

/**
 * Runs `git push --atomic <remote> <refspecs>` in the repository: all branches or none. Throws
 * PushFailedError with git's own words when git refuses (non-fast-forward, no remote,
 * authentication); the local branches stay as the command left them.
 */
export function pushBranches(
  gitdir: string,
  remote: string,
  changes: BranchChanges,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const args = ['--git-dir', gitdir, 'push', '--atomic', '--porcelain', remote, ...pushRefspecs(changes)];
  return new Promise((resolve, reject) => {
    execFile('git', args, { env, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const said = `${stderr}\n${stdout}`
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('To ') && l !== 'Done')
        .slice(0, 8)
        .join('; ');
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        new PushFailedError(
          missing
            ? 'cannot push: the git command is not installed; the change is committed locally'
            : `git push ${remote} was refused; the change is committed locally only: ${said || err.message}`,
          { remote },
        ),
      );
    });
  });
}
