import { diffContent } from '../../ops/diff.js';
import type { BotverCommand } from '../command.js';
import { action, type Session } from '../context.js';
import { diffText } from '../format.js';

export function registerDiff(program: BotverCommand, session: Session): void {
  program
    .command('diff')
    .argument('<a>', 'the first ref to compare')
    .argument('<b>', 'the second ref to compare')
    .description('what changed between two versions, environments or commits: intents, expressions, entities, skills')
    .examples(['botver diff v1 v2', 'botver diff production staging', 'botver diff v2~3 v2'])
    .action(
      action(session, async ({ out, repo }, a: string, b: string) => {
        const d = await diffContent(await repo(), a, b);
        out.result(d, () => diffText(d));
      }),
    );
}
