import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { listRefs } from './refs.js';

// A local bare mirror of a remote bot repository, for `botver serve --remote URL`: every branch of
// the remote fetched as refs/remotes/origin/<branch> (where BranchView reads versions and the
// control branch when there is no local branch), force-pushes followed and deleted branches
// pruned. Fetching is native git's job: every transport (HTTPS, SSH, file://), every Git host's
// smart HTTP, packfiles indexed at C speed. Credentials come as a Basic Authorization header
// given to git through its environment (GIT_CONFIG_COUNT), so they are in no URL, no command line,
// no log and not in the mirror's config.

export interface MirrorCredentials {
  username: string;
  token: string;
}

export interface MirrorOptions {
  /** The remote repository: https://…, http://…, ssh://…, git@host:path or file://…; no credentials in it. */
  url: string;
  /** Where mirrors live; one folder per URL. */
  cacheDir: string;
  credentials?: MirrorCredentials;
  /** The environment git runs with (PATH, HOME, proxies, SSH agent). */
  env: Record<string, string | undefined>;
  /** A fetch taking longer than this is stopped and counts as failed. */
  timeoutMs: number;
}

/** What a fetch brought: whether any ref moved, and git's own account of it. */
export interface FetchResult {
  changed: boolean;
  ms: number;
}

export const MIRROR_REMOTE = 'origin';

export class GitMirror {
  private constructor(
    readonly gitdir: string,
    private readonly options: MirrorOptions,
  ) {}

  /** The mirror of `options.url` under the cache folder, created (empty) when it is not there yet. */
  static async open(options: MirrorOptions): Promise<GitMirror> {
    // A password in the URL, or any user in an http(s) one (tokens go there); ssh://git@host is fine.
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/@:]*:[^/@]*@/i.test(options.url) || /^https?:\/\/[^/@]*@/i.test(options.url))
      throw new UsageError(
        'the remote URL holds credentials; give them in BOTVER_GIT_USERNAME and BOTVER_GIT_TOKEN instead, so that they never appear in a URL, a log or the mirror',
      );
    const name = createHash('sha256').update(options.url).digest('hex').slice(0, 16);
    const gitdir = join(options.cacheDir, `${name}.git`);
    const mirror = new GitMirror(gitdir, options);
    if (!existsSync(join(gitdir, 'HEAD'))) {
      await mkdir(gitdir, { recursive: true });
      await mirror.git(['init', '--quiet', '--bare']);
    }
    // Set every time: the URL of this folder is fixed, its refspec is ours.
    await mirror.git(['config', `remote.${MIRROR_REMOTE}.url`, options.url]);
    await mirror.git([
      'config',
      '--replace-all',
      `remote.${MIRROR_REMOTE}.fetch`,
      `+refs/heads/*:refs/remotes/${MIRROR_REMOTE}/*`,
    ]);
    // No gc while the resolver reads packs (it renews its caches after a repack); git fetch packs well.
    await mirror.git(['config', 'gc.auto', '0']);
    return mirror;
  }

  /** Fetches every branch; throws an Error carrying git's message (credentials redacted) when git fails. */
  async fetch(): Promise<FetchResult> {
    const started = performance.now();
    // The refs before and after, read by botver itself: a git process each would cost more than the fetch.
    const refs = async () =>
      [...(await listRefs(this.gitdir, `refs/remotes/${MIRROR_REMOTE}/`))]
        .map(([ref, oid]) => `${oid} ${ref}`)
        .sort()
        .join('\n');
    const before = await refs();
    await this.git(['fetch', '--quiet', '--prune', '--no-tags', MIRROR_REMOTE], true);
    return { changed: (await refs()) !== before, ms: performance.now() - started };
  }

  private git(args: string[], network = false): Promise<string> {
    const { credentials, env, timeoutMs } = this.options;
    const auth = credentials
      ? Buffer.from(`${credentials.username}:${credentials.token}`).toString('base64')
      : undefined;
    const childEnv: Record<string, string | undefined> = {
      ...env,
      GIT_DIR: this.gitdir,
      GIT_TERMINAL_PROMPT: '0', // never wait for a password on a terminal
      GCM_INTERACTIVE: 'never',
      ...(network &&
        auth && {
          GIT_CONFIG_COUNT: '1',
          GIT_CONFIG_KEY_0: 'http.extraHeader',
          GIT_CONFIG_VALUE_0: `Authorization: Basic ${auth}`,
        }),
    };
    return new Promise((resolve, reject) => {
      execFile(
        'git',
        args,
        // SIGTERM: git removes its lock files as it stops (a SIGKILL could leave them, failing later fetches).
        { env: childEnv, timeout: network ? timeoutMs : 60_000, killSignal: 'SIGTERM', maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          const timedOut = (err as { killed?: boolean }).killed;
          const said = redact(`${stderr}`.trim().split('\n').slice(-3).join('; '), [auth, credentials?.token]);
          reject(new Error(timedOut ? `git ${args[0]} took longer than ${timeoutMs} ms` : said || err.message));
        },
      );
    });
  }
}

/** `text` without any of `secrets` in it. */
function redact(text: string, secrets: (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  return out;
}
