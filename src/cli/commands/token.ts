import { Option } from 'commander';
import { UsageError } from '../../errors.js';
import { rotateToken } from '../../ops/credentials.js';
import { type BotverCommand, shownOnce } from '../command.js';
import { action, type Session } from '../context.js';

export function registerToken(program: BotverCommand, session: Session): void {
  const token = program.command('token').description('request tokens');
  token
    .command('rotate')
    .description('a new token for a version or an environment; the old one stops working')
    .addOption(new Option('--version <version>', 'rotate the token of this version').conflicts('env'))
    .addOption(new Option('--env <environment>', 'rotate the token of this environment'))
    .examples(['botver token rotate --env production', 'botver token rotate --version v2'])
    .action(
      action(session, async ({ out, repo }, opts: { version?: string; env?: string }) => {
        const whose = opts.version ? { version: opts.version } : opts.env ? { environment: opts.env } : undefined;
        if (!whose) throw new UsageError('say whose token: --version <version> or --env <environment>');
        const r = await rotateToken(await repo(), whose);
        out.result(r, () =>
          [
            `Rotated the token of ${r.kind} ${r.name}; the old one no longer works.`,
            `${shownOnce('new token')}:`,
            `  ${r.token}`,
          ].join('\n'),
        );
      }),
    );
}
