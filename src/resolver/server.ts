import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { GitRepo } from '../git/repo.js';
import { assertBranchName, DEFAULT_CONTROL_BRANCH } from '../model/names.js';
import { createResolverApp } from './app.js';
import { fastResolve } from './fast-resolve.js';
import { LiveSnapshot, DEFAULT_POLL_MS, type ResolverState } from './live-snapshot.js';
import { RequestLog } from './monitoring/request-log.js';
import { UsageCounter } from './monitoring/usage.js';
import { createMetrics } from './monitoring/metrics.js';
import { createLogger } from './monitoring/logger.js';
import type { Monitoring } from './monitoring/index.js';
import { NluService } from '../nlu/nlu-service.js';
import type { ConversationStore } from '../dialog/store.js';

// `botver serve` as a library call: reads the repository, starts following it, listens, and
// shuts down gracefully (stop accepting, let in-flight requests finish, then close).

export interface ResolverOptions {
  /** The bot repository (work tree or bare). */
  repo: string;
  controlBranch?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Ref poll interval (the fallback to fs.watch), ms. Default 500. */
  pollMs?: number;
  /** JSON-lines file the request log is appended to and loaded back from. */
  logFile?: string;
  /** Keep users' message text in the request log (off by default). */
  logText?: boolean;
  /** Commits whose content is kept in memory. Default 32. */
  cacheSize?: number;
  /** Default: $BOTVER_ADMIN_TOKEN. */
  adminToken?: string;
  /** Where conversations live; default in memory (bounded, 30 min idle TTL). */
  conversations?: ConversationStore;
  logger?: Logger;
  /** Request log entries kept in memory. Default 10 000. */
  logCapacity?: number;
  /** How long shutdown waits for in-flight requests before closing their connections, ms. Default 10 000. */
  shutdownGraceMs?: number;
}

export interface RunningResolver {
  url: string;
  port: number;
  server: Server;
  live: LiveSnapshot;
  monitoring: Monitoring;
  nlu: NluService;
  readonly state: ResolverState;
  /** Stops accepting, waits for in-flight requests (up to the grace period), closes. */
  close(): Promise<void>;
}

export async function startResolver(options: ResolverOptions): Promise<RunningResolver> {
  const logger = options.logger ?? createLogger({ level: process.env.BOTVER_LOG_LEVEL || 'info' });
  const controlBranch = assertBranchName(
    options.controlBranch ?? (process.env.BOTVER_CONTROL_BRANCH || DEFAULT_CONTROL_BRANCH),
  );
  const git = await GitRepo.open(options.repo);
  const adminToken = options.adminToken ?? (process.env.BOTVER_ADMIN_TOKEN || undefined);

  const usage = new UsageCounter();
  const log = await RequestLog.open({
    file: options.logFile,
    capacity: options.logCapacity,
    logText: options.logText,
    onLoad: (e) => usage.record(e),
  });
  const metrics = createMetrics();
  const monitoring: Monitoring = { log, usage, metrics };

  const nlu = new NluService({ gitdir: git.gitdir, logger, onChange: () => setReady() });
  const setReady = () =>
    metrics.setReady(live.state.snapshot !== null && live.state.problems.length === 0 && nlu.waiting().length === 0);
  const live: LiveSnapshot = new LiveSnapshot({
    git,
    controlBranch,
    logger,
    pollMs: options.pollMs ?? DEFAULT_POLL_MS,
    cacheSize: options.cacheSize,
    onChange: (state) => {
      nlu.follow(state);
      setReady();
      if (state.snapshot) {
        metrics.setServing(
          [...state.snapshot.environments.values()].flatMap((e) =>
            e.content ? [{ environment: e.name, version: e.version, commit: e.content.commit }] : [],
          ),
        );
      }
    },
  });
  await live.start();

  const app = createResolverApp({ live, monitoring, logger, adminToken, nlu, conversations: options.conversations });
  const fast = fastResolve(live, monitoring);
  const server = createServer((req, res) => {
    if (!fast(req, res)) app(req, res);
  });
  // A request Node cannot parse (bad header bytes, oversized headers) still gets a JSON answer.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || (err as { bytesParsed?: number }).bytesParsed === undefined) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const body = JSON.stringify({
      error: {
        code: status === 431 ? 'HEADERS_TOO_LARGE' : 'BAD_REQUEST',
        message: 'the request could not be parsed as HTTP',
      },
    });
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  // During shutdown, answers say "Connection: close", and keep-alive connections are closed as
  // soon as they fall idle (swept below), rather than kept open until keepAliveTimeout.
  let shuttingDown = false;
  server.prependListener('request', (_req, res) => {
    if (shuttingDown) res.setHeader('Connection', 'close');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info(
    {
      url,
      repo: git.gitdir,
      controlBranch,
      pollMs: options.pollMs ?? DEFAULT_POLL_MS,
      logFile: options.logFile ?? null,
    },
    'resolver listening',
  );
  if (!adminToken)
    logger.warn(
      'BOTVER_ADMIN_TOKEN is not set: the admin routes (/v1/environments, /v1/versions, /v1/logs, /v1/usage) answer 401 to everyone',
    );

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      logger.info('shutting down: no new connections, finishing requests in flight');
      shuttingDown = true;
      live.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 20);
      const grace = setTimeout(() => server.closeAllConnections(), options.shutdownGraceMs ?? 10_000);
      await closed;
      clearInterval(sweep);
      clearTimeout(grace);
      await log.close();
      await nlu.close();
      logger.info('stopped');
    })());

  return {
    url,
    port: address.port,
    server,
    live,
    monitoring,
    nlu,
    get state() {
      return live.state;
    },
    close,
  };
}
