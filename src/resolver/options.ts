import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { assertBranchName, DEFAULT_CONTROL_BRANCH } from '../model/names.js';
import {
  DEFAULT_CONVERSATIONS,
  DEFAULT_IDLE_MS,
  MemoryConversationStore,
  type ConversationStore,
} from '../dialog/store.js';
import { DEFAULT_POLL_MS } from './live-snapshot.js';
import { DEFAULT_REMOTE } from '../git/branch-view.js';
import { Admission, DEFAULT_BODY_BUDGET } from './admission.js';
import { DEFAULT_CAPACITY as DEFAULT_LOG_CAPACITY } from './monitoring/request-log.js';
import { createLogger } from './monitoring/logger.js';

// startResolver's options, as written by its caller (everything but the repository optional)
// and as resolved once, here, with every default filled in. This is the one place below the
// CLI that reads environment variables (scripts/check-layers.js holds it to that): an option
// given wins, then the variable, then the default. Everything after it gets plain values.

/** `--remote`: follow a repository on a Git host through a local mirror. */
export interface RemoteOptions {
  /** The repository's URL (https://, http://, ssh://, file://); credentials go in `credentials`, never in it. */
  url: string;
  /** Where the mirror is kept. */
  cacheDir: string;
  /** How often to fetch, ms. Default 30 000 (±20 % jitter). */
  fetchIntervalMs?: number;
  /** A fetch taking longer is stopped, ms. Default 60 000. */
  fetchTimeoutMs?: number;
  /** Default: $BOTVER_GIT_USERNAME and $BOTVER_GIT_TOKEN (the username defaults to "git" when only a token is set). */
  credentials?: { username: string; token: string };
}

/** startResolver's options, as its caller writes them. */
export interface ResolverOptions {
  /** The bot repository (work tree or bare); with `remote`, ignored (the mirror is served). */
  repo: string;
  /** Follow a repository on a Git host instead of a local one. */
  remote?: RemoteOptions;
  /** The secret of push webhooks (POST /v1/hooks/git). Default: $BOTVER_WEBHOOK_SECRET. */
  webhookSecret?: string;
  /**
   * Redis (or Valkey) shared by the replicas of one bot: conversations and their locks, and
   * with --remote the news of a push. redis://[user:password@]host:port[/db]. Default: $BOTVER_REDIS_URL.
   */
  redisUrl?: string;
  /** Prefix of every Redis key and channel, so that several bots can share one Redis. Default "botver:". */
  redisPrefix?: string;
  /** This replica's name in the fleet's request log. Default: the host name (a pod's name in Kubernetes). */
  replicaName?: string;
  /** The branch holding environments.yaml. Default: $BOTVER_CONTROL_BRANCH, else "main". */
  controlBranch?: string;
  /** In a clone, the remote whose tracking branches stand in for missing version branches. Default "origin". */
  remoteName?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Ref poll interval (the fallback to fs.watch), ms. Default 500; 0 turns polling off. */
  pollMs?: number;
  /** JSON-lines file the request log is appended to and loaded back from. Default: none (memory only). */
  logFile?: string;
  /** Keep users' message text in the request log. Default false. */
  logText?: boolean;
  /** Commits whose content is kept in memory. Default 32. */
  cacheSize?: number;
  /** The admin routes' token. Default: $BOTVER_ADMIN_TOKEN; without one they answer 401 to everyone. */
  adminToken?: string;
  /** Where conversations live. Default: in memory (100 000 at most, forgotten after 30 min idle). */
  conversations?: ConversationStore;
  /** Bytes of conversations the default in-memory store holds before evicting the least recent. Default 256 MiB. */
  conversationBytes?: number;
  /** Bytes of request bodies being read or waiting for their turn at once; past it, 503 OVERLOADED. Default 64 MiB. */
  requestBodyBytes?: number;
  /** One NLU training's time limit, ms: past it the training is stopped and recorded as failed. Default 30 minutes. */
  trainingTimeoutMs?: number;
  /** One NLU training's heap limit (the training worker's), MB. Default 2048. */
  trainingMemoryMb?: number;
  /** Default: JSON lines on stdout at $BOTVER_LOG_LEVEL, else "info". */
  logger?: Logger;
  /** Request log entries kept in memory. Default 10 000. */
  logCapacity?: number;
  /** How long shutdown waits for in-flight requests before closing their connections, ms. Default 10 000. */
  shutdownGraceMs?: number;
}

/** ResolverOptions with every default filled in: what the resolver runs with. */
export interface ResolvedResolverOptions {
  repo: string;
  remote: (Required<Omit<RemoteOptions, 'credentials'>> & { credentials: RemoteOptions['credentials'] }) | undefined;
  webhookSecret: string | undefined;
  redisUrl: string | undefined;
  redisPrefix: string;
  replicaName: string;
  /** The environment git runs with for --remote (PATH, HOME, proxies, SSH agent), without botver's own variables. */
  gitEnv: Record<string, string | undefined>;
  controlBranch: string;
  remoteName: string;
  port: number;
  host: string;
  pollMs: number;
  /** undefined: the request log is kept in memory only. */
  logFile: string | undefined;
  logText: boolean;
  cacheSize: number;
  /** undefined: nobody is admin. */
  adminToken: string | undefined;
  conversations: ConversationStore;
  admission: Admission;
  logger: Logger;
  logCapacity: number;
  shutdownGraceMs: number;
  /** undefined: the NLU's defaults (nlu/train-runner.ts). */
  trainingTimeoutMs: number | undefined;
  trainingMemoryMb: number | undefined;
}

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_CACHE_SIZE = 32;
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

/** The environment variables the resolver reads (an empty one counts as unset). */
export interface ResolverEnv {
  BOTVER_CONTROL_BRANCH?: string;
  BOTVER_ADMIN_TOKEN?: string;
  BOTVER_LOG_LEVEL?: string;
  BOTVER_WEBHOOK_SECRET?: string;
  BOTVER_REDIS_URL?: string;
  BOTVER_GIT_USERNAME?: string;
  BOTVER_GIT_TOKEN?: string;
}

export const DEFAULT_FETCH_INTERVAL_MS = 30_000;
export const DEFAULT_FETCH_TIMEOUT_MS = 60_000;

/** Fills in every default; `env` is read for the variables above (default: the process's). */
export function resolveResolverOptions(
  options: ResolverOptions,
  env: ResolverEnv = process.env,
): ResolvedResolverOptions {
  const token = env.BOTVER_GIT_TOKEN || undefined;
  const remote = options.remote && {
    url: options.remote.url,
    cacheDir: options.remote.cacheDir,
    fetchIntervalMs: options.remote.fetchIntervalMs ?? DEFAULT_FETCH_INTERVAL_MS,
    fetchTimeoutMs: options.remote.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
    credentials:
      options.remote.credentials ?? (token ? { username: env.BOTVER_GIT_USERNAME || 'git', token } : undefined),
  };
  return {
    repo: options.repo,
    remote,
    webhookSecret: options.webhookSecret ?? (env.BOTVER_WEBHOOK_SECRET || undefined),
    redisUrl: options.redisUrl ?? (env.BOTVER_REDIS_URL || undefined),
    redisPrefix: options.redisPrefix ?? 'botver:',
    replicaName: options.replicaName ?? hostname(),
    gitEnv: Object.fromEntries(
      Object.entries(env as Record<string, string | undefined>).filter(([name]) => !name.startsWith('BOTVER_')),
    ),
    controlBranch: assertBranchName(options.controlBranch ?? (env.BOTVER_CONTROL_BRANCH || DEFAULT_CONTROL_BRANCH)),
    remoteName: assertBranchName(options.remoteName || DEFAULT_REMOTE),
    port: options.port ?? DEFAULT_PORT,
    host: options.host ?? DEFAULT_HOST,
    pollMs: options.pollMs ?? DEFAULT_POLL_MS,
    logFile: options.logFile,
    logText: options.logText === true,
    cacheSize: options.cacheSize ?? DEFAULT_CACHE_SIZE,
    adminToken: options.adminToken ?? (env.BOTVER_ADMIN_TOKEN || undefined),
    conversations:
      options.conversations ??
      new MemoryConversationStore(DEFAULT_CONVERSATIONS, DEFAULT_IDLE_MS, options.conversationBytes),
    admission: new Admission(options.requestBodyBytes ?? DEFAULT_BODY_BUDGET),
    logger: options.logger ?? createLogger({ level: env.BOTVER_LOG_LEVEL || 'info' }),
    logCapacity: options.logCapacity ?? DEFAULT_LOG_CAPACITY,
    shutdownGraceMs: options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
    trainingTimeoutMs: options.trainingTimeoutMs,
    trainingMemoryMb: options.trainingMemoryMb,
  };
}
