import { addChannel, removeChannel } from '../../ops/credentials.js';
import { type BotverCommand, shownOnce } from '../command.js';
import { action, type Session } from '../context.js';

export function registerChannel(program: BotverCommand, session: Session): void {
  const channel = program.command('channel').description('channels connected to environments');
  channel
    .command('add')
    .argument('<environment>', 'the environment to connect the channel to')
    .argument('<channel>', 'the name of the channel')
    .description('connect a channel to an environment and print its secret')
    .option('--type <type>', 'channel type', 'webhook')
    .examples(['botver channel add production messenger-awesome-bot'])
    .action(
      action(session, async ({ out, repo }, environment: string, name: string, opts: { type: string }) => {
        const r = await addChannel(await repo(), environment, name, opts.type);
        out.result(r, () =>
          [
            `Connected channel ${name} (${r.type}) to environment ${environment}.`,
            `${shownOnce('channel secret')}:`,
            `  ${r.secret}`,
          ].join('\n'),
        );
      }),
    );
  channel
    .command('remove')
    .argument('<channel>', 'the channel to disconnect')
    .description('disconnect a channel')
    .action(
      action(session, async ({ out, repo }, name: string) => {
        const r = await removeChannel(await repo(), name);
        out.result(r, () => `Disconnected channel ${name} from environment ${r.environment}.`);
      }),
    );
}
