import type { Logger } from 'pino';
import { assertBranchName, DEFAULT_CONTROL_BRANCH } from '../model/names.js';
import {
  DEFAULT_CONVERSATIONS,
  DEFAULT_IDLE_MS,
  MemoryConversationStore,
  type ConversationStore,
} from '../dialog/store.js';
import { DEFAULT_POLL_MS } from './live-snapshot.js';
import { Admission, DEFAULT_BODY_BUDGET } from './admission.js';
import { DEFAULT_CAPACITY as DEFAULT_LOG_CAPACITY } from './monitoring/request-log.js';
import { createLogger } from './monitoring/logger.js';

// startResolver's options, as written by its caller (everything but the repository optional)
// and as resolved once, here, with every default filled in. This is the one place below the
// CLI that reads environment variables (scripts/check-layers.js holds it to that): an option
// given wins, then the variable, then the default. Everything after it gets plain values.

/** startResolver's options, as its caller writes them. */
export interface ResolverOptions {
  /** The bot repository (work tree or bare). */
  repo: string;
  /** The branch holding environments.yaml. Default: $BOTVER_CONTROL_BRANCH, else "main". */
  controlBranch?: string;
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
  controlBranch: string;
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
}

/** Fills in every default; `env` is read for the three variables above (default: the process's). */
export function resolveResolverOptions(
  options: ResolverOptions,
  env: ResolverEnv = process.env,
): ResolvedResolverOptions {
  return {
    repo: options.repo,
    controlBranch: assertBranchName(options.controlBranch ?? (env.BOTVER_CONTROL_BRANCH || DEFAULT_CONTROL_BRANCH)),
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
