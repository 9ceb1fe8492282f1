// One class per kind of failure, and ONE table (ERROR_TABLE) from its code to the CLI's exit
// code and the resolver's HTTP status: the CLI calls exitCodeOf, the resolver httpStatusOf, and
// neither keeps a list of its own. Tests assert the class or the code, not the text.

export type ErrorCode =
  // Failures of the library (the CLI reports them; the resolver may meet some of them).
  | 'USAGE'
  | 'NOT_A_REPOSITORY'
  | 'NOT_INITIALISED'
  | 'ALREADY_INITIALISED'
  | 'INVALID_NAME'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'RULE_VIOLATION'
  | 'INVALID_CONTENT'
  | 'CONFLICT'
  | 'CORRUPT_REF'
  | 'REF_LOCKED'
  | 'DIRTY_WORKTREE'
  | 'UNSUPPORTED_INDEX'
  | 'TESTS_FAILED'
  | 'PUSH_FAILED'
  | 'INCOMPLETE_CLONE'
  | 'INTERNAL'
  // Answers only the resolver gives (its HTTP API's codes).
  | 'BAD_REQUEST'
  | 'BAD_PATH'
  | 'MALFORMED_JSON'
  | 'UNAUTHORIZED'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'MEMORY_TOO_LARGE'
  | 'MEMORY_TOO_DEEP'
  | 'UNSUPPORTED_ENCODING'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'HEADERS_TOO_LARGE'
  | 'NOT_READY'
  | 'VERSION_UNAVAILABLE'
  | 'MODEL_TRAINING'
  | 'MODEL_FAILED'
  | 'OVERLOADED'
  | 'STATE_UNAVAILABLE'
  | 'CONVERSATION_BUSY'
  | 'REMOTE_REPOSITORY';

/**
 * Exit code 2 means "the command line itself is wrong" (as commander's own usage errors); every
 * other failure exits 1. HTTP statuses of library failures matter when one reaches the resolver:
 * 5xx ones are logged and answered as INTERNAL, without their text.
 */
export const ERROR_TABLE: Record<ErrorCode, { exit: 1 | 2; http: number }> = {
  USAGE: { exit: 2, http: 400 },
  NOT_A_REPOSITORY: { exit: 1, http: 500 },
  NOT_INITIALISED: { exit: 1, http: 500 },
  ALREADY_INITIALISED: { exit: 1, http: 409 },
  INVALID_NAME: { exit: 2, http: 400 },
  NOT_FOUND: { exit: 1, http: 404 },
  ALREADY_EXISTS: { exit: 1, http: 409 },
  RULE_VIOLATION: { exit: 1, http: 409 },
  INVALID_CONTENT: { exit: 1, http: 422 },
  CONFLICT: { exit: 1, http: 409 },
  CORRUPT_REF: { exit: 1, http: 500 },
  PUSH_FAILED: { exit: 1, http: 502 },
  INCOMPLETE_CLONE: { exit: 1, http: 500 },
  REF_LOCKED: { exit: 1, http: 503 },
  DIRTY_WORKTREE: { exit: 1, http: 409 },
  UNSUPPORTED_INDEX: { exit: 1, http: 409 },
  TESTS_FAILED: { exit: 1, http: 422 },
  INTERNAL: { exit: 1, http: 500 },
  BAD_REQUEST: { exit: 1, http: 400 },
  BAD_PATH: { exit: 1, http: 400 },
  MALFORMED_JSON: { exit: 1, http: 400 },
  UNAUTHORIZED: { exit: 1, http: 401 },
  METHOD_NOT_ALLOWED: { exit: 1, http: 405 },
  PAYLOAD_TOO_LARGE: { exit: 1, http: 413 },
  MEMORY_TOO_LARGE: { exit: 1, http: 413 },
  MEMORY_TOO_DEEP: { exit: 1, http: 400 },
  UNSUPPORTED_ENCODING: { exit: 1, http: 415 },
  UNSUPPORTED_MEDIA_TYPE: { exit: 1, http: 415 },
  HEADERS_TOO_LARGE: { exit: 1, http: 431 },
  NOT_READY: { exit: 1, http: 503 },
  VERSION_UNAVAILABLE: { exit: 1, http: 503 },
  MODEL_TRAINING: { exit: 1, http: 503 },
  MODEL_FAILED: { exit: 1, http: 503 },
  OVERLOADED: { exit: 1, http: 503 },
  STATE_UNAVAILABLE: { exit: 1, http: 503 },
  CONVERSATION_BUSY: { exit: 1, http: 503 },
  REMOTE_REPOSITORY: { exit: 1, http: 409 },
};

/** The process exit code for `err`: its code's row in ERROR_TABLE, 1 for anything unexpected. */
export function exitCodeOf(err: unknown): number {
  return err instanceof BotverError ? ERROR_TABLE[err.code].exit : 1;
}

/** The HTTP status for `err`: its code's row in ERROR_TABLE, 500 for anything unexpected. */
export function httpStatusOf(err: unknown): number {
  return err instanceof BotverError ? ERROR_TABLE[err.code].http : 500;
}

export class BotverError extends Error {
  readonly code: ErrorCode;
  readonly data: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, data: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.data = data;
  }
}

/** Bad flags or arguments: the command line itself is wrong (exit 2). */
export class UsageError extends BotverError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

export class NotARepositoryError extends BotverError {
  constructor(path: string) {
    super('NOT_A_REPOSITORY', `${path} is not a git repository (run "botver init" there, or pass --repo)`, { path });
  }
}

export class NotInitialisedError extends BotverError {
  constructor(branch: string) {
    super(
      'NOT_INITIALISED',
      `versioning is not turned on: branch ${branch} has no environments.yaml (run "botver init")`,
      { branch },
    );
  }
}

export class InvalidNameError extends BotverError {
  constructor(kind: string, name: string, why: string) {
    super('INVALID_NAME', `invalid ${kind} name "${name}": ${why}`, { kind, name });
  }
}

export class NotFoundError extends BotverError {
  constructor(kind: string, name: string, hint = '') {
    super('NOT_FOUND', `${kind} "${name}" does not exist${hint ? `: ${hint}` : ''}`, { kind, name });
  }
}

export class AlreadyExistsError extends BotverError {
  constructor(kind: string, name: string, hint = '') {
    super('ALREADY_EXISTS', `${kind} "${name}" already exists${hint ? `: ${hint}` : ''}`, { kind, name });
  }
}

/** A rule of the versioning model refused the operation (limit, link in use, production...). */
export class RuleViolationError extends BotverError {
  constructor(message: string, data: Record<string, unknown> = {}) {
    super('RULE_VIOLATION', message, data);
  }
}

export interface Problem {
  file: string;
  line: number;
  column: number;
  message: string;
  /** Which ref the file was read from, when it matters (validate over several refs). */
  ref?: string;
  severity: 'error' | 'warning';
}

export function formatProblem(p: Problem): string {
  const where = p.ref ? `${p.ref}:${p.file}` : p.file;
  return `${where}:${p.line}:${p.column} ${p.severity === 'warning' ? 'warning: ' : ''}${p.message}`;
}

/** Content (manifest or version files) that does not validate. Carries every problem found. */
export class InvalidContentError extends BotverError {
  readonly problems: Problem[];
  constructor(problems: Problem[], context = '') {
    const first = problems[0];
    const more =
      problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    super('INVALID_CONTENT', `${context}${first ? formatProblem(first) : 'invalid content'}${more}`, {
      problems,
    });
    this.problems = problems;
  }
}

/** Someone else moved the branch (or kept it locked) every time we tried. */
export class ConflictError extends BotverError {
  constructor(message: string, data: Record<string, unknown> = {}) {
    super('CONFLICT', message, data);
  }
}

export class RefLockedError extends BotverError {
  constructor(lockPath: string) {
    super(
      'REF_LOCKED',
      `${lockPath} exists: another git or botver process is updating this ref. ` +
        'If none is running, a crashed one left it behind: remove the file and try again',
      { lockPath },
    );
  }
}

export class DirtyWorktreeError extends BotverError {
  constructor(files: string[]) {
    super('DIRTY_WORKTREE', `local changes to ${files.join(', ')} would be overwritten: commit or stash them first`, {
      files,
    });
  }
}

/**
 * The checked-out work tree's index is in a format botver cannot update (a split index, a
 * sparse index): refused before anything changes, naming the git command that converts it.
 */
export class UnsupportedIndexError extends BotverError {
  constructor(index: string, format: string, fix: string) {
    super(
      'UNSUPPORTED_INDEX',
      `${index} is ${format}, which botver cannot update; nothing was changed: convert it with "${fix}" and run the command again`,
      { index, format, fix },
    );
  }
}

/** A ref file holds something that is neither an object id nor a symbolic ref: the repository is damaged. */
export class CorruptRefError extends BotverError {
  constructor(ref: string, value: string) {
    super('CORRUPT_REF', `${ref} holds "${value.slice(0, 60)}", not an object id`, { ref });
  }
}

/** The ref no longer holds the value the caller based its change on: re-read and retry. */
export class RefMovedError extends BotverError {
  constructor(ref: string, expected: string | null, actual: string | null) {
    super('CONFLICT', `${ref} moved from ${expected ?? '(none)'} to ${actual ?? '(none)'} meanwhile`, {
      ref,
      expected,
      actual,
    });
  }
}

/** A commit would put a file where the branch has a folder, or a folder where it has a file. */
export class PathConflictError extends BotverError {
  constructor(path: string, branch: string, why: string) {
    super('CONFLICT', `cannot commit "${path}" on ${branch}: ${why}`, { path, branch });
  }
}

/** The operation would remove or replace the branch this work tree has checked out. */
export class BranchCheckedOutError extends BotverError {
  constructor(branch: string, workdir: string) {
    super('CONFLICT', `branch ${branch} is checked out in ${workdir}; switch to another branch first`, {
      branch,
      workdir,
    });
  }
}

/**
 * The branch is checked out in another (linked) work tree, whose files botver cannot keep in step
 * with a write. `worktree` is that work tree's path when known.
 */
export class CheckedOutElsewhereError extends BotverError {
  constructor(branch: string, worktree: string | null) {
    super(
      'DIRTY_WORKTREE',
      worktree
        ? `branch ${branch} is checked out in the work tree ${worktree}; botver cannot keep that one in step (switch it to another branch, or run botver there)`
        : `branch ${branch} is checked out in a linked work tree; botver cannot keep it in step`,
      { branch, worktree },
    );
  }
}

export class AlreadyInitialisedError extends BotverError {
  constructor(branch: string, manifestFile: string) {
    super('ALREADY_INITIALISED', `versioning is already on: ${branch} has ${manifestFile}`, { branch });
  }
}

/** `botver init` needs the first version's branch name, and a branch already has it. */
export class FirstVersionTakenError extends BotverError {
  constructor(branch: string) {
    super('ALREADY_EXISTS', `branch ${branch} already exists; botver init needs it for the first version`, { branch });
  }
}

/** A shallow clone lacks the history a question needs (a pin's ancestry, an environment's history). */
export class MissingHistoryError extends BotverError {
  constructor(readonly remote: string) {
    super(
      'INCOMPLETE_CLONE',
      `this is a shallow clone: the history needed is not here; fetch it with git fetch --unshallow ${remote} (in GitHub Actions: actions/checkout with fetch-depth: 0)`,
      { remote },
    );
  }
}

/** `--push` could not publish the change (rejected as non-fast-forward, no such remote, …); the local change stands. */
export class PushFailedError extends BotverError {
  constructor(message: string, data: Record<string, unknown> = {}) {
    super('PUSH_FAILED', message, data);
  }
}

export class TestsFailedError extends BotverError {
  constructor(message: string, data: Record<string, unknown> = {}) {
    super('TESTS_FAILED', message, data);
  }
}
