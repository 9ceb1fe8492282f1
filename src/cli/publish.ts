import type { BotRepo } from '../ops/bot-repo.js';
import { pushBranches, pushCommand } from '../git/push.js';
import { PushFailedError } from '../errors.js';
import type { Env } from './context.js';
import type { Io } from './output.js';

// After a command, in a clone: a note naming the versions read from remote-tracking branches
// (there was no local branch), and for a command that changed branches, the `git push` that
// publishes the change — or, with --push, that push run. Notes go to stderr, so stdout keeps
// only the result (one JSON document with --json).

export async function publish(repo: BotRepo, options: { push: boolean; io: Io; env: Env }): Promise<void> {
  const { io } = options;
  const remote = repo.branches.remote;
  if (repo.branches.fromRemote.size) {
    const names = [...repo.branches.fromRemote.keys()].sort().join(', ');
    io.stderr(`botver: note: read from ${remote}/… (no local branch): ${names}\n`);
  }
  // The control branch first, then the others by name: the same command for the same change.
  const rank = (b: string) => (b === repo.controlBranch ? '' : b);
  const changes = new Map([...repo.changedBranches].sort(([a], [b]) => rank(a).localeCompare(rank(b))));
  if (!changes.size) {
    if (options.push) io.stderr('botver: note: nothing changed, nothing to push\n');
    return;
  }
  const { remoteUrl } = await repo.branches.cloneShape();
  if (options.push) {
    if (!remoteUrl)
      throw new PushFailedError(
        `cannot push: this repository has no remote "${remote}"; the change is committed locally`,
        {
          remote,
        },
      );
    await pushBranches(repo.git.gitdir, remote, changes, { ...options.env });
    io.stderr(`botver: pushed to ${remote}: ${[...changes.keys()].join(', ')}\n`);
  } else if (remoteUrl) {
    io.stderr(`botver: to publish: ${pushCommand(remote, changes)}\n`);
  }
}
