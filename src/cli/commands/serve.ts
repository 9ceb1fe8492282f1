import type { BotverCommand } from '../command.js';
import { action, type Session } from '../context.js';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseCount, parseDuration, parsePort, parsePositive } from '../parse.js';

interface ServeFlags {
  port?: number;
  host?: string;
  pollMs?: number;
  logFile?: string;
  logText?: boolean;
  cacheSize?: number;
  conversationMb?: number;
  requestBodyMb?: number;
  remote?: string;
  cacheDir?: string;
  fetchInterval?: number;
  redis?: string;
}

/** The variables `botver serve` reads (besides the CLI's own): the deploy files may use only these. */
export const SERVE_VARIABLES = [
  'PORT',
  'BOTVER_HOST',
  'BOTVER_POLL_MS',
  'BOTVER_LOG_FILE',
  'BOTVER_LOG_LEVEL',
  'BOTVER_ADMIN_TOKEN',
  'BOTVER_CONVERSATION_MB',
  'BOTVER_REQUEST_BODY_MB',
  'BOTVER_REMOTE',
  'BOTVER_CACHE_DIR',
  'BOTVER_FETCH_INTERVAL',
  'BOTVER_GIT_USERNAME',
  'BOTVER_GIT_TOKEN',
  'BOTVER_WEBHOOK_SECRET',
  'BOTVER_REDIS_URL',
  'BOTVER_TRAINING_TIMEOUT_MS',
  'BOTVER_TRAINING_MEMORY_MB',
] as const;

export function registerServe(program: BotverCommand, session: Session): void {
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
    .option(
      '--conversation-mb <MiB>',
      'memory for conversations, in MiB; the least recently active are forgotten beyond it (default: $BOTVER_CONVERSATION_MB or 256)',
      (v) => parsePositive(v, '--conversation-mb'),
    )
    .option(
      '--request-body-mb <MiB>',
      'request bodies being read or waiting at once, in MiB; beyond it, 503 OVERLOADED (default: $BOTVER_REQUEST_BODY_MB or 64)',
      (v) => parsePositive(v, '--request-body-mb'),
    )
    .option(
      '--remote <url>',
      'follow a repository on a Git host (https://, ssh://, file://) through a local mirror instead of --repo; credentials in $BOTVER_GIT_USERNAME / $BOTVER_GIT_TOKEN (default: $BOTVER_REMOTE)',
    )
    .option(
      '--cache-dir <path>',
      'where --remote keeps its mirror (default: $BOTVER_CACHE_DIR, else $XDG_CACHE_HOME/botver/mirrors or ~/.cache/botver/mirrors)',
    )
    .option(
      '--fetch-interval <duration>',
      'with --remote, how often to fetch besides push webhooks: 30s, 500ms, 2m (default: $BOTVER_FETCH_INTERVAL or 30s)',
      (v) => parseDuration(v, '--fetch-interval'),
    )
    .option(
      '--redis <url>',
      'share conversations (and push news) between replicas through Redis or Valkey: redis://host:6379; a URL with a password belongs in $BOTVER_REDIS_URL, not on the command line (default: $BOTVER_REDIS_URL)',
    )
    .examples(
      [
        'botver serve --repo ./bot.git --port 8080',
        'BOTVER_ADMIN_TOKEN=... PORT=3000 botver serve --host 0.0.0.0 --log-file requests.jsonl',
        'BOTVER_GIT_TOKEN=... BOTVER_WEBHOOK_SECRET=... botver serve --remote https://github.com/you/awesome-bot.git',
      ],
      `Environment: PORT, BOTVER_HOST, BOTVER_REPO, BOTVER_POLL_MS, BOTVER_LOG_FILE, BOTVER_LOG_LEVEL,
BOTVER_ADMIN_TOKEN (admin routes; unset: they answer 401), BOTVER_CONTROL_BRANCH, BOTVER_CONVERSATION_MB,
BOTVER_REQUEST_BODY_MB; with --remote: BOTVER_REMOTE, BOTVER_CACHE_DIR, BOTVER_FETCH_INTERVAL, BOTVER_GIT_USERNAME,
BOTVER_GIT_TOKEN (never logged), BOTVER_WEBHOOK_SECRET (POST /v1/hooks/git); BOTVER_REDIS_URL.
Logs are JSON lines on stdout. SIGTERM or SIGINT: stop accepting, finish requests in flight, exit 0.`,
    )
    .action(
      action(session, async ({ open, env }, opts: ServeFlags) => {
        // The server and its libraries load only for `serve` (their own bundle chunk).
        const { startResolver } = await import('../../resolver/server.js');
        const conversationMb =
          opts.conversationMb ??
          (env.BOTVER_CONVERSATION_MB
            ? parsePositive(env.BOTVER_CONVERSATION_MB, 'BOTVER_CONVERSATION_MB')
            : undefined);
        const requestBodyMb =
          opts.requestBodyMb ??
          (env.BOTVER_REQUEST_BODY_MB
            ? parsePositive(env.BOTVER_REQUEST_BODY_MB, 'BOTVER_REQUEST_BODY_MB')
            : undefined);
        const remoteUrl = opts.remote ?? (env.BOTVER_REMOTE || undefined);
        const fetchIntervalMs =
          opts.fetchInterval ??
          (env.BOTVER_FETCH_INTERVAL ? parseDuration(env.BOTVER_FETCH_INTERVAL, 'BOTVER_FETCH_INTERVAL') : undefined);
        const cacheDir =
          opts.cacheDir ??
          (env.BOTVER_CACHE_DIR ||
            join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'botver', 'mirrors'));
        const gitToken = env.BOTVER_GIT_TOKEN || undefined;
        const resolver = await startResolver({
          remote: remoteUrl
            ? {
                url: remoteUrl,
                cacheDir,
                fetchIntervalMs,
                credentials: gitToken ? { username: env.BOTVER_GIT_USERNAME || 'git', token: gitToken } : undefined,
              }
            : undefined,
          webhookSecret: env.BOTVER_WEBHOOK_SECRET || undefined,
          redisUrl: opts.redis ?? (env.BOTVER_REDIS_URL || undefined),
          repo: open.repo ?? process.cwd(),
          controlBranch: open.controlBranch,
          remoteName: open.remoteName,
          port: opts.port ?? (env.PORT ? parsePort(env.PORT) : 8080),
          host: opts.host ?? (env.BOTVER_HOST || '127.0.0.1'),
          pollMs: opts.pollMs ?? (env.BOTVER_POLL_MS ? parseCount(env.BOTVER_POLL_MS, 'BOTVER_POLL_MS') : undefined),
          logFile: opts.logFile ?? (env.BOTVER_LOG_FILE || undefined),
          logText: opts.logText,
          cacheSize: opts.cacheSize,
          conversationBytes: conversationMb === undefined ? undefined : conversationMb * 1024 * 1024,
          requestBodyBytes: requestBodyMb === undefined ? undefined : requestBodyMb * 1024 * 1024,
          trainingTimeoutMs: env.BOTVER_TRAINING_TIMEOUT_MS
            ? parsePositive(env.BOTVER_TRAINING_TIMEOUT_MS, 'BOTVER_TRAINING_TIMEOUT_MS')
            : undefined,
          trainingMemoryMb: env.BOTVER_TRAINING_MEMORY_MB
            ? parsePositive(env.BOTVER_TRAINING_MEMORY_MB, 'BOTVER_TRAINING_MEMORY_MB')
            : undefined,
        });
        await new Promise<void>((resolve) => {
          const stop = () => void resolver.close().then(resolve);
          process.on('SIGTERM', stop); // on: a second signal during the close does not cut it short
          process.on('SIGINT', stop);
        });
      }),
    );
}
