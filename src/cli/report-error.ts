import { CommanderError } from 'commander';
import { BotverError, exitCodeOf, formatProblem, InvalidContentError, UsageError } from '../errors.js';
import { type Env, ExitCode } from './context.js';
import type { Io } from './output.js';

// Any failure of a command becomes its exit code (ERROR_TABLE, through exitCodeOf) and a
// one-line reason on stderr; with --json, also one JSON error document on stdout.

const jsonDocument = (error: Record<string, unknown>) => `${JSON.stringify({ error }, null, 2)}\n`;

export function reportError(err: unknown, json: boolean, io: Io, env: Env): number {
  if (err instanceof ExitCode) return err.code;
  if (err instanceof CommanderError) {
    if (['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(err.code)) return 0;
    // commander printed the message on stderr already; --json still promises a document on stdout.
    const usage = new UsageError(err.message.replace(/^error: /, ''));
    if (json) io.stdout(jsonDocument({ code: usage.code, message: usage.message }));
    return exitCodeOf(usage);
  }
  if (err instanceof BotverError) {
    if (json) io.stdout(jsonDocument({ code: err.code, message: err.message, ...err.data }));
    io.stderr(`botver: ${err.message}\n`);
    if (!json && err instanceof InvalidContentError && err.problems.length > 1) {
      for (const p of err.problems) io.stderr(`  ${formatProblem(p)}\n`);
    }
    return exitCodeOf(err);
  }
  const message = err instanceof Error ? err.message : String(err);
  if (json) io.stdout(jsonDocument({ code: 'INTERNAL', message }));
  io.stderr(`botver: ${message}\n`);
  if (env.BOTVER_DEBUG && err instanceof Error) io.stderr(`${err.stack}\n`);
  return exitCodeOf(err);
}
