import { InvalidNameError, UsageError } from '../errors.js';

/** Names of versions, environments and channels (docs/formats.md, "Names"): safe as branch names and URL parts. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export type NamedKind = 'version' | 'environment' | 'channel';

export function assertValidName(kind: NamedKind, name: string, controlBranch?: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new InvalidNameError(
      kind,
      name,
      'use 1 to 63 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit',
    );
  }
  // Git refuses these in ref names even though the pattern allows them.
  if (name.includes('..') || name.endsWith('.lock') || name.endsWith('.')) {
    throw new InvalidNameError(kind, name, 'git does not allow "..", a trailing "." or ".lock" in a branch name');
  }
  if (kind === 'version' && name === controlBranch) {
    throw new InvalidNameError(kind, name, `it is the control branch, which holds environments.yaml`);
  }
}

/** The control branch (holding environments.yaml) when the caller names none. */
export const DEFAULT_CONTROL_BRANCH = 'main';

/** A control branch name git would accept, and that stays inside refs/heads/. */
export function assertBranchName(name: string): string {
  const parts = name.split('/');
  if (
    !/^[A-Za-z0-9._/-]+$/.test(name) ||
    parts.some((p) => !p || p.startsWith('.') || p.endsWith('.lock')) ||
    name.includes('..')
  ) {
    throw new UsageError(`invalid control branch name "${name}"`);
  }
  return name;
}
