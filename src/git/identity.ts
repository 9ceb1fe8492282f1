import { promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';

// Who a commit is by, resolved the way git does it: --author, then GIT_AUTHOR_* /
// GIT_COMMITTER_*, then user.name / user.email from the repository's config, then the
// global config files. Times honour GIT_AUTHOR_DATE / GIT_COMMITTER_DATE so scripted and
// tested histories can be reproducible.
//
// The environment is a plain record the caller passes (the CLI passes process.env); nothing
// here reads process.env. Names are resolved once per repository handle (resolveIdentity);
// times are taken for each commit (signatureAt), so a long-lived caller's commits carry
// their own time, not that of its first commit.

/** Environment variables as the caller chose to pass them. */
export type Env = Readonly<Record<string, string | undefined>>;

export interface Person {
  name: string;
  email: string;
  /** Seconds since the epoch. */
  timestamp: number;
  /** Minutes *behind* UTC, as isomorphic-git and Date#getTimezoneOffset count them. */
  timezoneOffset: number;
}

export interface Signature {
  author: Person;
  committer: Person;
}

/** Who commits, without when: what may be cached for the life of a repository handle. */
export interface Identity {
  author: { name: string; email: string };
  committer: { name: string; email: string };
}

function parseConfigUser(text: string): { name?: string; email?: string } {
  const found: { name?: string; email?: string } = {};
  let inUser = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) {
      inUser = /^\[user\]$/i.test(line);
      continue;
    }
    if (!inUser) continue;
    const match = /^(name|email)\s*=\s*(.*)$/i.exec(line);
    if (match) {
      const value = match[2]!.replace(/^"(.*)"$/, '$1').trim();
      if (match[1]!.toLowerCase() === 'name') found.name = value;
      else found.email = value;
    }
  }
  return found;
}

async function configUser(gitdir: string, env: Env): Promise<{ name?: string; email?: string }> {
  const home = env.HOME || homedir();
  const files = [
    join(gitdir, 'config'),
    join(env.XDG_CONFIG_HOME || join(home, '.config'), 'git', 'config'),
    join(home, '.gitconfig'),
  ];
  const merged: { name?: string; email?: string } = {};
  for (const file of files) {
    const text = await fsp.readFile(file, 'utf8').catch(() => '');
    const user = parseConfigUser(text);
    merged.name ??= user.name;
    merged.email ??= user.email;
  }
  return merged;
}

/** Parses git's date forms that scripts use: "@1700000000 +0100", "1700000000 +0100", ISO 8601. */
export function parseGitDate(value: string): { timestamp: number; timezoneOffset: number } {
  const raw = /^@?(\d+)(?:\s+([+-])(\d{2})(\d{2}))?$/.exec(value.trim());
  if (raw) {
    const offset = raw[2] ? (raw[2] === '+' ? -1 : 1) * (Number(raw[3]) * 60 + Number(raw[4])) : 0;
    return { timestamp: Number(raw[1]), timezoneOffset: offset };
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new UsageError(`cannot read the date "${value}"`);
  return { timestamp: Math.floor(ms / 1000), timezoneOffset: new Date(ms).getTimezoneOffset() };
}

export function parsePerson(value: string): { name: string; email: string } {
  const match = /^\s*(.*?)\s*<([^<>]*)>\s*$/.exec(value);
  if (!match?.[1]) throw new UsageError(`--author must look like "Name <email>", not "${value}"`);
  return { name: match[1], email: match[2]! };
}

function timeOf(dateVar: string | undefined, date: Date) {
  if (dateVar) return parseGitDate(dateVar);
  return { timestamp: Math.floor(date.getTime() / 1000), timezoneOffset: date.getTimezoneOffset() };
}

/**
 * Author and committer names and emails: `author` ("Name <email>", a --author flag) first, then
 * GIT_AUTHOR_* / GIT_COMMITTER_* from `env`, then the git config files (the repository's, then
 * the global ones under env.HOME or the user's home folder).
 */
export async function resolveIdentity(gitdir: string, author: string | undefined, env: Env = {}): Promise<Identity> {
  const fromFlag = author ? parsePerson(author) : undefined;
  const needConfig = !fromFlag && !(env.GIT_AUTHOR_NAME && env.GIT_AUTHOR_EMAIL);
  const config =
    needConfig || !(env.GIT_COMMITTER_NAME && env.GIT_COMMITTER_EMAIL) ? await configUser(gitdir, env) : {};
  // git refuses to commit without an identity; a CI job should still be able to promote, so
  // we fall back to a recognisable placeholder instead.
  const name = fromFlag?.name ?? env.GIT_AUTHOR_NAME ?? config.name ?? 'botver';
  const email = fromFlag?.email ?? env.GIT_AUTHOR_EMAIL ?? config.email ?? 'botver@localhost';
  return {
    author: { name, email },
    committer: {
      name: env.GIT_COMMITTER_NAME ?? (fromFlag ? (config.name ?? name) : name),
      email: env.GIT_COMMITTER_EMAIL ?? (fromFlag ? (config.email ?? email) : email),
    },
  };
}

/** A signature for a commit made now (`date`), unless GIT_AUTHOR_DATE / GIT_COMMITTER_DATE in `env` say when. */
export function signatureAt(identity: Identity, env: Env = {}, date = new Date()): Signature {
  return {
    author: { ...identity.author, ...timeOf(env.GIT_AUTHOR_DATE, date) },
    committer: { ...identity.committer, ...timeOf(env.GIT_COMMITTER_DATE ?? env.GIT_AUTHOR_DATE, date) },
  };
}

/** "Name <email> 1700000000 +0100", as in reflogs and raw commits. */
export function formatIdentity(p: Person): string {
  const minutes = -p.timezoneOffset;
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  const tz = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
  return `${p.name} <${p.email}> ${p.timestamp} ${tz}`;
}
