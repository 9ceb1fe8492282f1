import { TestsFailedError } from '../../errors.js';
import { describeLink, promote } from '../../ops/environments.js';
import type { TestReport } from '../../ops/test-version.js';
import type { BotverCommand } from '../command.js';
import { action, type Session } from '../context.js';
import { testReportText } from '../format.js';
import { short } from '../output.js';

export function registerPromote(program: BotverCommand, session: Session): void {
  program
    .command('promote')
    .argument('<from>', 'the environment or version whose served commit to promote')
    .argument('<to>', 'the environment to promote to')
    .description(
      'link environment <to> to exactly what <from> (an environment or a version) serves now, pinned to that ' +
        "commit; <from>'s tests run first and a failure refuses the promotion",
    )
    .option('--skip-tests', 'promote without running the tests (recorded in the commit message)')
    .option('--require-tests', 'refuse when <from> has no tests, instead of a warning')
    .examples([
      'botver promote staging production',
      'botver promote v2 staging',
      'botver promote staging production --skip-tests',
      'botver promote staging production --require-tests',
    ])
    .action(
      action(
        session,
        async ({ out, repo }, from: string, to: string, opts: { skipTests?: boolean; requireTests?: boolean }) => {
          const r = await promote(await repo(), from, to, opts).catch((err: unknown) => {
            // The failing checks, before the one-line refusal; --json has them in the error document.
            const report = err instanceof TestsFailedError ? (err.data.report as TestReport | undefined) : undefined;
            if (report?.failed && !out.json) out.io.stderr(testReportText(report));
            throw err;
          });
          out.result(r, () =>
            r.manifestCommit
              ? `Promoted ${to} to ${describeLink(r.to)} from ${from} (was ${describeLink(r.from)})` +
                `${r.testsSkipped ? ', tests skipped' : ''}; commit ${short(r.manifestCommit)}.`
              : `${to} already serves ${describeLink(r.to)}; nothing to do.`,
          );
        },
      ),
    );
}
