import { createVersion, deleteVersion, listVersions, showVersion } from '../../ops/versions.js';
import { type BotverCommand, shownOnce } from '../command.js';
import { action, type Session } from '../context.js';
import { versionsText, versionText } from '../format.js';
import { short } from '../output.js';

export function registerVersion(program: BotverCommand, session: Session): void {
  const version = program.command('version').description('list, show, create and delete versions');
  version
    .command('list')
    .description('versions with their head commit and the environments linked to each')
    .action(
      action(session, async ({ out, repo }) => {
        const list = await listVersions(await repo());
        out.result(list, () => versionsText(list));
      }),
    );
  version
    .command('show')
    .argument('<version>', 'the version to show')
    .description('one version: branch head, environments, origin')
    .action(
      action(session, async ({ out, repo }, name: string) => {
        const v = await showVersion(await repo(), name);
        out.result(v, () => versionText(v));
      }),
    );
  version
    .command('create')
    .argument('<version>', 'the name of the new version')
    .description('a new version: branch <version> at the head of --from, and a token for it')
    .requiredOption('--from <version>', 'the version to copy')
    .option('--description <text>', 'what this version is for')
    .examples(['botver version create v2 --from v1 --description "New pizza skill"'])
    .action(
      action(session, async ({ out, repo }, name: string, opts: { from: string; description?: string }) => {
        const r = await createVersion(await repo(), name, opts.from, opts.description);
        out.result(r, () =>
          [
            `Created version ${name} from ${opts.from} (branch ${name} at ${short(r.commit)}).`,
            `${shownOnce(`version token ${name}`)}:`,
            `  ${r.token}`,
          ].join('\n'),
        );
      }),
    );
  version
    .command('delete')
    .argument('<version>', 'the version to delete')
    .description('delete a version and its branch; refused while an environment is linked to it')
    .action(
      action(session, async ({ out, repo }, name: string) => {
        const r = await deleteVersion(await repo(), name);
        out.result(
          r,
          () =>
            `Deleted version ${name}.${r.lastCommit ? ` Its branch was at ${r.lastCommit}; "git branch ${name} ${r.lastCommit}" brings it back.` : ''}`,
        );
      }),
    );
}
