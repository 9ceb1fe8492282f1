import { readFileSync } from 'node:fs';
import { acceptGlobalOptionsEverywhere, BotverCommand, globalOptions } from './command.js';
import { registerChannel } from './commands/channel.js';
import { registerDiff } from './commands/diff.js';
import { registerEnv } from './commands/env.js';
import { registerHistory } from './commands/history.js';
import { registerInit } from './commands/init.js';
import { registerPromote } from './commands/promote.js';
import { registerServe } from './commands/serve.js';
import { registerTest } from './commands/test.js';
import { registerToken } from './commands/token.js';
import { registerValidate } from './commands/validate.js';
import { registerVersion } from './commands/version.js';
import { type Env, Session } from './context.js';
import { type Io, processIo } from './output.js';
import { reportError } from './report-error.js';

// The command line: one module per command (commands/), each mapping flags onto the library and
// printing the result. `buildProgram` gives the configured program without running it (the
// reference docs/cli.md is generated from it); `run` runs it and never exits the process: it
// returns the exit code (0 ok, 1 refused or failed, 2 usage; see ERROR_TABLE in errors.ts).

/**
 * botver's own version. src/cli/, dist/cli/ and the bundle in dist/bin/ all sit two folders
 * below the package root, so one relative path finds package.json from each.
 */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(session: Session = new Session()): BotverCommand {
  const program = new BotverCommand('botver');
  program
    .description('Versions and environments for chatbots, on plain Git.')
    .version(packageVersion(), '-V, --version', 'print the version of botver')
    // Program options go before the command (`botver --json env list`); each command accepts
    // them too (acceptGlobalOptionsEverywhere), so `env list --json` works as well.
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (t) => session.io.stdout(t), writeErr: (t) => session.io.stderr(t) })
    .examples([
      'botver init --bot awesome-bot',
      'botver version create v2 --from v1',
      'botver env set staging v2',
      'botver promote staging production',
      'botver history production',
    ]);
  for (const option of globalOptions()) program.addOption(option);

  registerInit(program, session);
  registerVersion(program, session);
  registerEnv(program, session);
  registerPromote(program, session);
  registerTest(program, session);
  registerHistory(program, session);
  registerToken(program, session);
  registerChannel(program, session);
  registerValidate(program, session);
  registerDiff(program, session);
  registerServe(program, session);

  acceptGlobalOptionsEverywhere(program);
  return program;
}

export async function run(argv: string[], io: Io = processIo, env: Env = process.env): Promise<number> {
  const session = new Session(io, env);
  // Until a command's flags are parsed, a usage error answers in JSON if --json is anywhere.
  session.json = argv.includes('--json');
  const program = buildProgram(session);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    return reportError(err, session.json, io, env);
  }
}
