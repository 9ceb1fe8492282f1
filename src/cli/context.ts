import type { Command } from 'commander';
import { type BotRepo, type OpenOptions, openBotRepo } from '../ops/bot-repo.js';
import { type Io, Output, processIo } from './output.js';
import { publish } from './publish.js';

// What a command's action gets: where to print, and the library options built from the global
// flags and the environment variables. The CLI is the one place that reads botver's variables;
// the library receives plain values.

/** The process environment, or a stand-in for it (tests, the docs generator). */
export type Env = Readonly<Record<string, string | undefined>>;

/** One run of the program: its streams, its environment, and whether --json was asked. */
export class Session {
  /** Set from the flags of the command that runs; errors before that guess from argv. */
  json = false;

  constructor(
    readonly io: Io = processIo,
    readonly env: Env = process.env,
  ) {}
}

interface GlobalFlags {
  repo?: string;
  json?: boolean;
  controlBranch?: string;
  author?: string;
  remoteName?: string;
  push?: boolean;
}

export interface ActionContext {
  out: Output;
  open: OpenOptions;
  /** Opens the repository (on first use, so that --help and usage errors need none). */
  repo: () => Promise<BotRepo>;
  env: Env;
}

/** An exit code other than 0 from an action that printed its own result (validate, test). */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** An unset or empty variable is the default. */
const variable = (env: Env, name: string) => env[name] || undefined;

/** The lock wait from BOTVER_LOCK_TIMEOUT_MS; a value that is not a number ≥ 0 keeps the library default. */
function lockTimeoutMs(env: Env): number | undefined {
  const text = variable(env, 'BOTVER_LOCK_TIMEOUT_MS');
  const value = Number(text);
  return text !== undefined && Number.isFinite(value) && value >= 0 ? value : undefined;
}

export function openOptions(flags: GlobalFlags, env: Env): OpenOptions {
  return {
    repo: flags.repo ?? variable(env, 'BOTVER_REPO'),
    controlBranch: flags.controlBranch ?? variable(env, 'BOTVER_CONTROL_BRANCH'),
    author: flags.author,
    remoteName: flags.remoteName ?? variable(env, 'BOTVER_REMOTE_NAME'),
    lockTimeoutMs: lockTimeoutMs(env),
    // Commit identities and dates as git reads them: GIT_AUTHOR_*, GIT_COMMITTER_*, HOME, XDG_CONFIG_HOME.
    env,
  };
}

/**
 * Wraps a command's action: builds its context from the flags (the command's own, then the
 * program's), and turns a non-zero return into an ExitCode for run().
 */
export function action<A extends unknown[]>(
  session: Session,
  fn: (ctx: ActionContext, ...args: A) => Promise<number | undefined>,
) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const flags = cmd.optsWithGlobals<GlobalFlags>();
    session.json = !!flags.json;
    const open = openOptions(flags, session.env);
    let opened: Promise<BotRepo> | undefined;
    const ctx: ActionContext = {
      out: new Output(session.json, session.io),
      open,
      repo: () => (opened ??= openBotRepo(open)),
      env: session.env,
    };
    const code = await fn(ctx, ...(args.slice(0, -1) as A));
    // What was read from remote-tracking branches, and how to publish what was changed.
    if (opened) await publish(await opened, { push: !!flags.push, io: session.io, env: session.env });
    if (code) throw new ExitCode(code);
  };
}

/** The variables the CLI reads (the reference, docs/cli.md, lists them from here). */
export const CLI_VARIABLES: readonly (readonly [names: string, meaning: string])[] = [
  ['BOTVER_REPO', 'the bot repository, when --repo is not given'],
  ['BOTVER_CONTROL_BRANCH', 'the branch holding environments.yaml, when --control-branch is not given (default main)'],
  ['BOTVER_REMOTE_NAME', 'the remote of a clone, when --remote-name is not given (default origin)'],
  ['BOTVER_LOCK_TIMEOUT_MS', 'how long to wait for a ref another process has locked, in ms (default 10000)'],
  ['BOTVER_DEBUG', 'any value: print the stack trace of an unexpected error'],
  [
    'GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, GIT_AUTHOR_DATE, GIT_COMMITTER_NAME, GIT_COMMITTER_EMAIL, GIT_COMMITTER_DATE',
    'who made the commits botver writes, and when, as git reads them (--author wins over the author ones)',
  ],
  ['HOME, XDG_CONFIG_HOME', 'where the global git config (user.name, user.email) is looked for'],
];
