import { Command, CommanderError, Option } from 'commander';
import {
  BotverError,
  InvalidContentError,
  NotFoundError,
  RuleViolationError,
  TestsFailedError,
  formatProblem,
} from '../errors.js';
import { openBotRepo, type BotRepo, type OpenOptions } from '../ops/bot-repo.js';
import { initBotRepo } from '../ops/init.js';
import { createVersion, deleteVersion, listVersions, showVersion } from '../ops/versions.js';
import {
  createEnvironment,
  deleteEnvironment,
  describeLink,
  listEnvironments,
  promote,
  promotionSource,
  setEnvironment,
  showEnvironment,
} from '../ops/environments.js';
import type { TestReport } from '../ops/test-version.js';
import { environmentHistory, rollbackEnvironment } from '../ops/history.js';
import { addChannel, removeChannel, rotateToken } from '../ops/credentials.js';
import { validate } from '../ops/validate.js';
import { diffContent } from '../ops/diff.js';
import { Output, githubAnnotation, processIo, short, type Io } from './output.js';
import { diffText, environmentText, environmentsText, historyText, versionText, versionsText } from './format.js';

// The command line: flags mapped onto the library, results printed. No logic of its own.
// `run` never exits the process; it returns the exit code (0 ok, 1 refused/failed, 2 usage).

interface GlobalFlags {
  repo?: string;
  json?: boolean;
  controlBranch?: string;
  author?: string;
}

const examples = (...lines: string[]) => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;

const once = (what: string) => `${what} (shown once: store it now, botver keeps only its SHA-256)`;

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  let json = argv.includes('--json');
  const program = new Command('botver');

  const context = (cmd: Command) => {
    const flags = cmd.optsWithGlobals<GlobalFlags>();
    json = !!flags.json;
    const out = new Output(json, io);
    const open: OpenOptions = {
      repo: flags.repo ?? (process.env.BOTVER_REPO || undefined),
      controlBranch: flags.controlBranch,
      author: flags.author,
    };
    return { out, open, repo: () => openBotRepo(open) };
  };
  /** Registers an action that gets the output and a lazily opened repository. */
  const act =
    <A extends unknown[]>(
      fn: (
        ctx: { out: Output; open: OpenOptions; repo: () => Promise<BotRepo> },
        ...args: A
      ) => Promise<number | undefined>,
    ) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      const code = await fn(context(cmd), ...(args.slice(0, -1) as A));
      if (code) throw new ExitCode(code);
    };

  program
    .description('Versions and environments for chatbots, on plain Git.')
    .option('--repo <path>', 'the bot repository (work tree or bare); default: $BOTVER_REPO or the current folder')
    .option('--json', 'print one JSON document instead of text')
    .option('--control-branch <branch>', 'branch holding environments.yaml (default: $BOTVER_CONTROL_BRANCH or main)')
    .option('--author <"Name <email>">', 'author of the commits made (default: GIT_AUTHOR_* or git config)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .addHelpText(
      'after',
      examples(
        'botver init --bot awesome-bot',
        'botver version create v2 --from v1',
        'botver env set staging v2',
        'botver promote staging production',
        'botver history production',
      ),
    );

  program
    .command('init')
    .description('turn versioning on: environments.yaml, version v1 and environment production -> v1')
    .option('--bot <name>', 'name of the bot (default: the folder name)')
    .option('--language <code>', 'default language of the bot', 'en')
    .option('--empty', 'create v1 without the starter intent and skills')
    .option('--bare', 'when there is no repository yet, create a bare one')
    .addHelpText('after', examples('botver init --bot awesome-bot', 'botver --repo /srv/bots/awesome.git init --bare'))
    .action(
      act(async ({ out, open }, opts: { bot?: string; language?: string; empty?: boolean; bare?: boolean }) => {
        const r = await initBotRepo({ ...open, ...opts });
        out.result(r, () =>
          [
            `${r.createdRepository ? 'Created a git repository and turned' : 'Turned'} versioning on for bot ${r.bot}.`,
            `  version v1 (branch v1 at ${short(r.version.commit)})`,
            `  environment production -> v1`,
            '',
            `${once('version token v1')}:`,
            `  ${r.version.token}`,
            `${once('environment token production')}:`,
            `  ${r.environment.token}`,
          ].join('\n'),
        );
      }),
    );

  const version = program.command('version').description('list, show, create and delete versions');
  version
    .command('list')
    .description('versions with their head commit and the environments linked to each')
    .action(
      act(async ({ out, repo }) => {
        const list = await listVersions(await repo());
        out.result(list, () => versionsText(list));
      }),
    );
  version
    .command('show <version>')
    .description('one version: branch head, environments, origin')
    .action(
      act(async ({ out, repo }, name: string) => {
        const v = await showVersion(await repo(), name);
        out.result(v, () => versionText(v));
      }),
    );
  version
    .command('create <version>')
    .description('a new version: branch <version> at the head of --from, and a token for it')
    .requiredOption('--from <version>', 'the version to copy')
    .option('--description <text>', 'what this version is for')
    .addHelpText('after', examples('botver version create v2 --from v1 --description "New pizza skill"'))
    .action(
      act(async ({ out, repo }, name: string, opts: { from: string; description?: string }) => {
        const r = await createVersion(await repo(), name, opts.from, opts.description);
        out.result(r, () =>
          [
            `Created version ${name} from ${opts.from} (branch ${name} at ${short(r.commit)}).`,
            `${once(`version token ${name}`)}:`,
            `  ${r.token}`,
          ].join('\n'),
        );
      }),
    );
  version
    .command('delete <version>')
    .description('delete a version and its branch; refused while an environment is linked to it')
    .action(
      act(async ({ out, repo }, name: string) => {
        const r = await deleteVersion(await repo(), name);
        if (r.warning) out.io.stderr(`botver: warning: ${r.warning}\n`);
        out.result(
          r,
          () =>
            `Deleted version ${name}.${r.lastCommit ? ` Its branch was at ${r.lastCommit}; "git branch ${name} ${r.lastCommit}" brings it back.` : ''}`,
        );
      }),
    );

  const env = program.command('env').description('list, show, create, link and delete environments');
  env
    .command('list')
    .description('environments with their version, pin, the commit they serve, and channels')
    .action(
      act(async ({ out, repo }) => {
        const list = await listEnvironments(await repo());
        out.result(list, () => environmentsText(list));
      }),
    );
  env
    .command('show <environment>')
    .description('one environment')
    .action(
      act(async ({ out, repo }, name: string) => {
        const e = await showEnvironment(await repo(), name);
        out.result(e, () => environmentText(e));
      }),
    );
  env
    .command('create <environment>')
    .description('a new environment linked to a version, and a token for it')
    .requiredOption('--version <version>', 'the version it serves')
    .option('--pin', "pin it to the version's current head instead of following the branch")
    .option('--description <text>', 'what this environment is for')
    .addHelpText(
      'after',
      examples('botver env create staging --version v2', 'botver env create canary --version v2 --pin'),
    )
    .action(
      act(async ({ out, repo }, name: string, opts: { version: string; pin?: boolean; description?: string }) => {
        const r = await createEnvironment(await repo(), name, opts.version, opts);
        out.result(r, () =>
          [
            `Created environment ${name} -> ${describeLink(r)}.`,
            `${once(`environment token ${name}`)}:`,
            `  ${r.token}`,
          ].join('\n'),
        );
      }),
    );
  env
    .command('set <environment> <version>')
    .description('link an environment to a version (a promotion)')
    .addOption(new Option('--pin', "pin to the version's current head").conflicts('commit'))
    .addOption(new Option('--commit <sha>', 'pin to this commit of the version'))
    .addHelpText(
      'after',
      examples(
        'botver env set staging v2',
        'botver env set production v2 --pin',
        'botver env set production v2 --commit 3c1b0e5',
      ),
    )
    .action(
      act(async ({ out, repo }, name: string, versionName: string, opts: { pin?: boolean; commit?: string }) => {
        const r = await setEnvironment(await repo(), name, versionName, opts);
        out.result(r, () =>
          r.manifestCommit
            ? `Linked ${name} to ${describeLink(r.to)} (was ${describeLink(r.from)}); commit ${short(r.manifestCommit)}.`
            : `${name} is already linked to ${describeLink(r.to)}; nothing to do.`,
        );
      }),
    );
  env
    .command('delete <environment>')
    .description('delete an environment; production cannot be deleted')
    .action(
      act(async ({ out, repo }, name: string) => {
        const r = await deleteEnvironment(await repo(), name);
        out.result(r, () => `Deleted environment ${name}.`);
      }),
    );

  program
    .command('promote <from> <to>')
    .description(
      "link environment <to> to exactly what <from> (an environment or a version) serves now, pinned to that commit; <from>'s tests run first and a failure refuses the promotion",
    )
    .option('--skip-tests', 'promote without running the tests (recorded in the commit message)')
    .addHelpText(
      'after',
      examples(
        'botver promote staging production',
        'botver promote v2 staging',
        'botver promote staging production --skip-tests',
      ),
    )
    .action(
      act(async ({ out, repo: open }, from: string, to: string, opts: { skipTests?: boolean }) => {
        const repo = await open();
        let testedCommit: string | undefined;
        if (!opts.skipTests) {
          // Arguments first: a promotion that would be refused anyway costs no test run.
          const { manifest } = await repo.readManifest();
          if (!manifest.environment(to)) throw new NotFoundError('environment', to);
          if (from === to) throw new RuleViolationError(`cannot promote environment "${to}" to itself`);
          const source = await promotionSource(repo, from, manifest);
          const { testVersion } = await import('../ops/test-version.js');
          const report = await testVersion(repo, from, source.commit);
          if (report.failed) {
            if (!out.json) out.io.stderr(testReportText(report));
            throw new TestsFailedError(
              `refused: ${report.failed} of ${report.checks.length} tests of ${from} (${short(source.commit)}) fail; fix them or promote with --skip-tests`,
              { report },
            );
          }
          testedCommit = source.commit;
        }
        const r = await promote(repo, from, to, { testedCommit, skipTests: opts.skipTests });
        out.result(r, () =>
          r.manifestCommit
            ? `Promoted ${to} to ${describeLink(r.to)} from ${from} (was ${describeLink(r.from)})${opts.skipTests ? ', tests skipped' : ''}; commit ${short(r.manifestCommit)}.`
            : `${to} already serves ${describeLink(r.to)}; nothing to do.`,
        );
      }),
    );

  program
    .command('test [refs...]')
    .description(
      "run a version's tests/*.yaml against its own NLU model and skills: expected intents, entities and replies; exit 1 on any failure",
    )
    .addHelpText(
      'after',
      `${examples('botver test', 'botver test v2', 'botver test staging HEAD')}
With no ref, every version's head is tested. A ref may be a version, an environment (what it
serves), or any commit. Models are trained once per commit and cached in <gitdir>/botver/models/.
`,
    )
    .action(
      act(async ({ out, repo: open }, refs: string[]) => {
        const repo = await open();
        const { testVersion } = await import('../ops/test-version.js');
        const targets: { ref: string; commit: string }[] = [];
        const { manifest } = await repo.readManifest();
        for (const ref of refs.length ? refs : Object.keys(manifest.data.versions)) {
          const commit = manifest.environment(ref)
            ? await repo.servedCommit(manifest, ref)
            : await repo.git.resolveCommit(ref);
          targets.push({ ref, commit });
        }
        const reports: TestReport[] = [];
        for (const t of targets) reports.push(await testVersion(repo, t.ref, t.commit));
        out.result({ reports }, () => reports.map(testReportText).join('\n'));
        return reports.some((r) => r.failed) ? 1 : 0;
      }),
    );

  program
    .command('history <environment>')
    .description("every change of an environment's link: when, who, from what to what, commit")
    .option('-n, --limit <count>', 'show only the newest changes', (v) => parsePositive(v, '--limit'))
    .addHelpText('after', examples('botver history production', 'botver history staging -n 5 --json'))
    .action(
      act(async ({ out, repo }, name: string, opts: { limit?: number }) => {
        const changes = await environmentHistory(await repo(), name, opts);
        out.result(changes, () => historyText(name, changes));
      }),
    );

  program
    .command('rollback <environment>')
    .description("restore an environment's previous link (or the one it had at --to) as a new commit")
    .option('--to <commit>', 'a commit of the control branch whose link to restore')
    .addHelpText('after', examples('botver rollback production', 'botver rollback production --to 4f2a9c1'))
    .action(
      act(async ({ out, repo }, name: string, opts: { to?: string }) => {
        const r = await rollbackEnvironment(await repo(), name, opts.to);
        out.result(r, () =>
          r.manifestCommit
            ? `Rolled ${name} back to ${describeLink(r.to)} (was ${describeLink(r.from)}); commit ${short(r.manifestCommit)}.`
            : `${name} already serves ${describeLink(r.to)}; nothing to do.`,
        );
      }),
    );

  const token = program.command('token').description('request tokens');
  token
    .command('rotate')
    .description('a new token for a version or an environment; the old one stops working')
    .addOption(new Option('--version <version>', 'rotate the token of this version').conflicts('env'))
    .addOption(new Option('--env <environment>', 'rotate the token of this environment'))
    .addHelpText('after', examples('botver token rotate --env production', 'botver token rotate --version v2'))
    .action(
      act(async ({ out, repo }, opts: { version?: string; env?: string }) => {
        if (!opts.version && !opts.env)
          throw new BotverError('USAGE', 'say whose token: --version <version> or --env <environment>');
        const r = await rotateToken(
          await repo(),
          opts.version ? { version: opts.version } : { environment: opts.env! },
        );
        out.result(r, () =>
          [
            `Rotated the token of ${r.kind} ${r.name}; the old one no longer works.`,
            `${once(`new token`)}:`,
            `  ${r.token}`,
          ].join('\n'),
        );
      }),
    );

  const channel = program.command('channel').description('channels connected to environments');
  channel
    .command('add <environment> <name>')
    .description('connect a channel to an environment and print its secret')
    .option('--type <type>', 'channel type', 'webhook')
    .addHelpText('after', examples('botver channel add production messenger-awesome-bot'))
    .action(
      act(async ({ out, repo }, environment: string, name: string, opts: { type: string }) => {
        const r = await addChannel(await repo(), environment, name, opts.type);
        out.result(r, () =>
          [
            `Connected channel ${name} (${r.type}) to environment ${environment}.`,
            `${once('channel secret')}:`,
            `  ${r.secret}`,
          ].join('\n'),
        );
      }),
    );
  channel
    .command('remove <name>')
    .description('disconnect a channel')
    .action(
      act(async ({ out, repo }, name: string) => {
        const r = await removeChannel(await repo(), name);
        out.result(r, () => `Disconnected channel ${name} from environment ${r.environment}.`);
      }),
    );

  program
    .command('validate [refs...]')
    .description(
      'check the manifest and every version (or the given refs) against the schemas and rules; exit 1 on any error',
    )
    .addOption(
      new Option('--format <format>', 'text, github (Actions annotations) or json')
        .choices(['text', 'github', 'json'])
        .default('text'),
    )
    .addHelpText(
      'after',
      examples('botver validate', 'botver validate HEAD --format github', 'botver validate v2 staging'),
    )
    .action(
      act(async ({ out, repo }, refs: string[], opts: { format: string }) => {
        const report = await validate(await repo(), refs);
        const problems = report.targets.flatMap((t) => t.problems);
        if (out.json || opts.format === 'json') out.io.stdout(`${JSON.stringify(report, null, 2)}\n`);
        else if (opts.format === 'github') out.io.stdout(problems.map((p) => `${githubAnnotation(p)}\n`).join(''));
        else {
          const lines = problems.map(formatProblem);
          const checked = report.targets.map((t) => `${t.ref} (${t.kind} at ${short(t.commit)})`).join(', ');
          lines.push(
            `${report.errors} error${report.errors === 1 ? '' : 's'}, ${report.warnings} warning${report.warnings === 1 ? '' : 's'} in ${checked}`,
          );
          out.io.stdout(`${lines.join('\n')}\n`);
        }
        return report.errors ? 1 : 0;
      }),
    );

  program
    .command('diff <a> <b>')
    .description('what changed between two versions, environments or commits: intents, expressions, entities, skills')
    .addHelpText('after', examples('botver diff v1 v2', 'botver diff production staging', 'botver diff v2~3 v2'))
    .action(
      act(async ({ out, repo }, a: string, b: string) => {
        const d = await diffContent(await repo(), a, b);
        out.result(d, () => diffText(d));
      }),
    );

  program
    .command('serve')
    .description('answer bots over HTTP with the version their token points at, following the repository live')
    .option('--port <port>', 'port to listen on (default: $PORT or 8080)', (v) => parsePort(v))
    .option('--host <host>', 'address to listen on (default: $BOTVER_HOST or 127.0.0.1; 0.0.0.0 for all)')
    .option(
      '--poll-ms <ms>',
      'how often refs are polled, besides file watching (default: $BOTVER_POLL_MS or 500; 0: watch only)',
      (v) => parseCount(v, '--poll-ms'),
    )
    .option(
      '--log-file <path>',
      'append the request log to this JSON-lines file and load it back on start (default: $BOTVER_LOG_FILE)',
    )
    .option('--log-text', "keep users' message text in the request log (default: off)")
    .option('--cache-size <commits>', 'commits whose content is kept in memory (default: 32)', (v) =>
      parsePositive(v, '--cache-size'),
    )
    .addHelpText(
      'after',
      `${examples('botver serve --repo ./bot.git --port 8080', 'BOTVER_ADMIN_TOKEN=... PORT=3000 botver serve --host 0.0.0.0 --log-file requests.jsonl')}
Environment: PORT, BOTVER_HOST, BOTVER_REPO, BOTVER_POLL_MS, BOTVER_LOG_FILE, BOTVER_LOG_LEVEL,
BOTVER_ADMIN_TOKEN (admin routes; unset: they answer 401), BOTVER_CONTROL_BRANCH.
Logs are JSON lines on stdout. SIGTERM or SIGINT: stop accepting, finish requests in flight, exit 0.
`,
    )
    .action(
      act(
        async (
          { open },
          opts: {
            port?: number;
            host?: string;
            pollMs?: number;
            logFile?: string;
            logText?: boolean;
            cacheSize?: number;
          },
        ) => {
          const env = process.env;
          const { startResolver } = await import('../resolver/server.js');
          const resolver = await startResolver({
            repo: open.repo ?? process.cwd(),
            controlBranch: open.controlBranch,
            port: opts.port ?? (env.PORT ? parsePort(env.PORT) : 8080),
            host: opts.host ?? (env.BOTVER_HOST || '127.0.0.1'),
            pollMs: opts.pollMs ?? (env.BOTVER_POLL_MS ? parseCount(env.BOTVER_POLL_MS, 'BOTVER_POLL_MS') : undefined),
            logFile: opts.logFile ?? (env.BOTVER_LOG_FILE || undefined),
            logText: opts.logText,
            cacheSize: opts.cacheSize,
          });
          await new Promise<void>((resolve) => {
            const stop = () => void resolver.close().then(resolve);
            process.once('SIGTERM', stop);
            process.once('SIGINT', stop);
          });
        },
      ),
    );

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    return reportError(err, json, io);
  }
}

class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

function parsePositive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new BotverError('USAGE', `${flag} takes a whole number above 0, not "${value}"`);
  return n;
}

function testReportText(r: TestReport): string {
  const lines = r.checks.map(
    (c) => `${c.passed ? 'pass' : 'FAIL'}  ${c.file}: ${c.name}${c.detail ? `\n        ${c.detail}` : ''}`,
  );
  const accuracy =
    r.intentAccuracy === null
      ? ''
      : `, intent accuracy ${(r.intentAccuracy * 100).toFixed(1)}% (${r.utterances} utterances)`;
  lines.push(`${r.ref} (${short(r.commit)}): ${r.passed} passed, ${r.failed} failed${accuracy}`);
  return `${lines.join('\n')}\n`;
}

function parseCount(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw new BotverError('USAGE', `${flag} takes a whole number, not "${value}"`);
  return n;
}

function parsePort(value: string): number {
  const n = parseCount(value, 'the port');
  if (n > 65535) throw new BotverError('USAGE', `a port is at most 65535, not ${value}`);
  return n;
}

/** Maps any failure to its exit code and a one-line reason (plus the problem list, if any). */
function reportError(err: unknown, json: boolean, io: Io): number {
  if (err instanceof ExitCode) return err.code;
  if (err instanceof CommanderError) {
    if (['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(err.code)) return 0;
    // commander printed the message on stderr; --json still promises one JSON document on stdout.
    if (json)
      io.stdout(
        `${JSON.stringify({ error: { code: 'USAGE', message: err.message.replace(/^error: /, '') } }, null, 2)}\n`,
      );
    return 2;
  }
  if (err instanceof BotverError) {
    const exit = err.code === 'USAGE' || err.code === 'INVALID_NAME' ? 2 : 1;
    if (json)
      io.stdout(`${JSON.stringify({ error: { code: err.code, message: err.message, ...err.data } }, null, 2)}\n`);
    io.stderr(`botver: ${err.message}\n`);
    if (!json && err instanceof InvalidContentError && err.problems.length > 1) {
      for (const p of err.problems) io.stderr(`  ${formatProblem(p)}\n`);
    }
    return exit;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (json) io.stdout(`${JSON.stringify({ error: { code: 'INTERNAL', message } }, null, 2)}\n`);
  io.stderr(`botver: ${message}\n`);
  if (process.env.BOTVER_DEBUG && err instanceof Error) io.stderr(`${err.stack}\n`);
  return 1;
}
