import { Option } from 'commander';
import {
  createEnvironment,
  deleteEnvironment,
  describeLink,
  listEnvironments,
  setEnvironment,
  showEnvironment,
} from '../../ops/environments.js';
import { type BotverCommand, shownOnce } from '../command.js';
import { action, type Session } from '../context.js';
import { environmentsText, environmentText } from '../format.js';
import { short } from '../output.js';

export function registerEnv(program: BotverCommand, session: Session): void {
  const env = program.command('env').description('list, show, create, link and delete environments');
  env
    .command('list')
    .description('environments with their version, pin, the commit they serve, and channels')
    .action(
      action(session, async ({ out, repo }) => {
        const list = await listEnvironments(await repo());
        out.result(list, () => environmentsText(list));
      }),
    );
  env
    .command('show')
    .argument('<environment>', 'the environment to show')
    .description('one environment')
    .action(
      action(session, async ({ out, repo }, name: string) => {
        const e = await showEnvironment(await repo(), name);
        out.result(e, () => environmentText(e));
      }),
    );
  env
    .command('create')
    .argument('<environment>', 'the name of the new environment')
    .description('a new environment linked to a version, and a token for it')
    .requiredOption('--version <version>', 'the version it serves')
    .option('--pin', "pin it to the version's current head instead of following the branch")
    .option('--description <text>', 'what this environment is for')
    .examples(['botver env create staging --version v2', 'botver env create canary --version v2 --pin'])
    .action(
      action(
        session,
        async ({ out, repo }, name: string, opts: { version: string; pin?: boolean; description?: string }) => {
          const r = await createEnvironment(await repo(), name, opts.version, opts);
          out.result(r, () =>
            [
              `Created environment ${name} -> ${describeLink(r)}.`,
              `${shownOnce(`environment token ${name}`)}:`,
              `  ${r.token}`,
            ].join('\n'),
          );
        },
      ),
    );
  env
    .command('set')
    .argument('<environment>', 'the environment to link')
    .argument('<version>', 'the version to link it to')
    .description('link an environment to a version (a promotion)')
    .addOption(new Option('--pin', "pin to the version's current head").conflicts('commit'))
    .addOption(new Option('--commit <sha>', 'pin to this commit of the version'))
    .examples([
      'botver env set staging v2',
      'botver env set production v2 --pin',
      'botver env set production v2 --commit 3c1b0e5',
    ])
    .action(
      action(
        session,
        async ({ out, repo }, name: string, versionName: string, opts: { pin?: boolean; commit?: string }) => {
          const r = await setEnvironment(await repo(), name, versionName, opts);
          out.result(r, () =>
            r.manifestCommit
              ? `Linked ${name} to ${describeLink(r.to)} (was ${describeLink(r.from)}); commit ${short(r.manifestCommit)}.`
              : `${name} is already linked to ${describeLink(r.to)}; nothing to do.`,
          );
        },
      ),
    );
  env
    .command('delete')
    .argument('<environment>', 'the environment to delete')
    .description('delete an environment; production cannot be deleted')
    .action(
      action(session, async ({ out, repo }, name: string) => {
        const r = await deleteEnvironment(await repo(), name);
        out.result(r, () => `Deleted environment ${name}.`);
      }),
    );
}
