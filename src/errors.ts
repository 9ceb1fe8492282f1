// One class per kind of failure. Callers (the CLI, the resolver) map `code` to an exit
// code or an HTTP status in one place each; tests assert the class or the code, not the text.

export type ErrorCode =
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
  | 'REF_LOCKED'
  | 'DIRTY_WORKTREE'
  | 'TESTS_FAILED';

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

export class TestsFailedError extends BotverError {
  constructor(message: string, data: Record<string, unknown> = {}) {
    super('TESTS_FAILED', message, data);
  }
}
