import type { BotverCommand } from '../command.js';
import { action, type Session } from '../context.js';
import { testReportText } from '../format.js';

export function registerTest(program: BotverCommand, session: Session): void {
  program
    .command('test')
    .argument('[refs...]', 'versions, environments or commits to test (default: every version)')
    .description(
      "run a version's tests/*.yaml against its own NLU model and skills: expected intents, entities and replies; exit 1 on any failure",
    )
    .option('--require-tests', 'fail (exit 1) for a version without tests, instead of a warning')
    .examples(
      ['botver test', 'botver test v2', 'botver test staging HEAD', 'botver test v2 --require-tests'],
      `With no ref, every version's head is tested. A ref may be a version, an environment (what it
serves), or any commit. Models are trained once per commit and cached in <gitdir>/botver/models/.
After the checks come the intents not perfectly recognised, with their precision and recall, and
what was mistaken for what (all intents with --json).`,
    )
    .action(
      action(session, async ({ out, repo }, refs: string[], opts: { requireTests?: boolean }) => {
        // Loaded on demand: the NLU engine is heavy, and other commands never need it.
        const { testRefs } = await import('../../ops/test-gate.js');
        const run = await testRefs(await repo(), refs, opts);
        out.result(run, () => run.reports.map(testReportText).join('\n'));
        for (const refusal of run.refusals) out.io.stderr(`botver: ${refusal}\n`);
        return run.ok ? 0 : 1;
      }),
    );
}
