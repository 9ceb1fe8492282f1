import { initBotRepo } from '../../ops/init.js';
import type { BotverCommand } from '../command.js';
import { shownOnce } from '../command.js';
import { action, type Session } from '../context.js';
import { short } from '../output.js';

export function registerInit(program: BotverCommand, session: Session): void {
  program
    .command('init')
    .description('turn versioning on: environments.yaml, version v1 and environment production -> v1')
    .option('--bot <name>', 'name of the bot (default: the folder name)')
    .option('--language <code>', 'default language of the bot', 'en')
    .option('--empty', 'create v1 without the starter intent and skills')
    .option('--bare', 'when there is no repository yet, create a bare one')
    .examples(['botver init --bot awesome-bot', 'botver --repo /srv/bots/awesome.git init --bare'])
    .action(
      action(
        session,
        async ({ out, open }, opts: { bot?: string; language?: string; empty?: boolean; bare?: boolean }) => {
          const r = await initBotRepo({ ...open, ...opts });
          out.result(r, () =>
            [
              `${r.createdRepository ? 'Created a git repository and turned' : 'Turned'} versioning on for bot ${r.bot}.`,
              `  version v1 (branch v1 at ${short(r.version.commit)})`,
              `  environment production -> v1`,
              '',
              `${shownOnce('version token v1')}:`,
              `  ${r.version.token}`,
              `${shownOnce('environment token production')}:`,
              `  ${r.environment.token}`,
            ].join('\n'),
          );
        },
      ),
    );
}
