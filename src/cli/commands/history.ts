import { describeLink } from '../../ops/environments.js';
import { environmentHistory, rollbackEnvironment } from '../../ops/history.js';
import type { BotverCommand } from '../command.js';
import { action, type Session } from '../context.js';
import { historyText } from '../format.js';
import { short } from '../output.js';
import { parsePositive } from '../parse.js';

// An environment's past: `history` lists the changes of its link, `rollback` restores one.

export function registerHistory(program: BotverCommand, session: Session): void {
  program
    .command('history')
    .argument('<environment>', 'the environment whose changes to list')
    .description("every change of an environment's link: when, who, from what to what, commit")
    .option('-n, --limit <count>', 'show only the newest changes', (v) => parsePositive(v, '--limit'))
    .examples(['botver history production', 'botver history staging -n 5 --json'])
    .action(
      action(session, async ({ out, repo }, name: string, opts: { limit?: number }) => {
        const changes = await environmentHistory(await repo(), name, opts);
        out.result(changes, () => historyText(name, changes));
      }),
    );

  program
    .command('rollback')
    .argument('<environment>', 'the environment to roll back')
    .description("restore an environment's previous link (or the one it had at --to) as a new commit")
    .option('--to <commit>', 'a commit of the control branch whose link to restore')
    .examples(['botver rollback production', 'botver rollback production --to 4f2a9c1'])
    .action(
      action(session, async ({ out, repo }, name: string, opts: { to?: string }) => {
        const r = await rollbackEnvironment(await repo(), name, opts.to);
        out.result(r, () =>
          r.manifestCommit
            ? `Rolled ${name} back to ${describeLink(r.to)} (was ${describeLink(r.from)}); commit ${short(r.manifestCommit)}.`
            : `${name} already serves ${describeLink(r.to)}; nothing to do.`,
        );
      }),
    );
}
