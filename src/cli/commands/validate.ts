import { Option } from 'commander';
import { formatProblem } from '../../errors.js';
import { validate } from '../../ops/validate.js';
import type { BotverCommand } from '../command.js';
import { action, type Session } from '../context.js';
import { githubAnnotation, short } from '../output.js';

export function registerValidate(program: BotverCommand, session: Session): void {
  program
    .command('validate')
    .argument('[refs...]', 'versions, environments or commits to check (default: the manifest and every version)')
    .description(
      'check the manifest and every version (or the given refs) against the schemas and rules; exit 1 on any error',
    )
    .addOption(
      new Option('--format <format>', 'text, github (Actions annotations) or json')
        .choices(['text', 'github', 'json'])
        .default('text'),
    )
    .examples(['botver validate', 'botver validate HEAD --format github', 'botver validate v2 staging'])
    .action(
      action(session, async ({ out, repo }, refs: string[], opts: { format: string }) => {
        const report = await validate(await repo(), refs);
        const problems = report.targets.flatMap((t) => t.problems);
        if (out.json || opts.format === 'json') out.io.stdout(`${JSON.stringify(report, null, 2)}\n`);
        else if (opts.format === 'github') out.io.stdout(problems.map((p) => `${githubAnnotation(p)}\n`).join(''));
        else {
          const lines = problems.map(formatProblem);
          const checked = report.targets.map((t) => `${t.ref} (${t.kind} at ${short(t.commit)})`).join(', ');
          const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
          lines.push(`${plural(report.errors, 'error')}, ${plural(report.warnings, 'warning')} in ${checked}`);
          out.io.stdout(`${lines.join('\n')}\n`);
        }
        return report.errors ? 1 : 0;
      }),
    );
}
