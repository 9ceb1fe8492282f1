import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ERROR_TABLE, type ErrorCode } from '../errors.js';
import { GitRepo } from '../git/repo.js';
import { createRequestListener } from './app.js';
import { LiveSnapshot } from './live-snapshot.js';
import type { ResolverState } from './snapshot.js';
import { RequestLog } from './monitoring/request-log.js';
import { UsageCounter } from './monitoring/usage.js';
import { createMetrics, type Metrics } from './monitoring/metrics.js';
import { NluService } from '../nlu/nlu-service.js';
import { resolveResolverOptions, type ResolverOptions } from './options.js';
import { GitMirror, MIRROR_REMOTE } from '../git/mirror.js';
import { RemoteFollower } from './remote.js';
import { connectShared } from './shared-state.js';

// `botver serve` as a library call: resolves its options (options.ts), reads the repository,
// starts following it, listens, and shuts down gracefully (stop accepting, let in-flight
// requests finish, then close).

export type { ResolverOptions } from './options.js';

/** How long a request may take to arrive, headers and body (a body is at most 256 KB). */
export const REQUEST_TIMEOUT_MS = 30_000;

export interface RunningResolver {
  url: string;
  port: number;
  server: Server;
  live: LiveSnapshot;
  /** The request log, usage counts and metrics (the concrete ones: their whole API). */
  monitoring: { log: RequestLog; usage: UsageCounter; metrics: Metrics };
  nlu: NluService;
  readonly state: ResolverState;
  /** Stops accepting, waits for in-flight requests (up to the grace period), closes. */
  close(): Promise<void>;
}

export async function startResolver(written: ResolverOptions): Promise<RunningResolver> {
  const options = resolveResolverOptions(written);
  const { logger, controlBranch, adminToken } = options;
  // --remote: the mirror is the repository served; the follower keeps it fetched.
  const mirror = options.remote
    ? await GitMirror.open({
        url: options.remote.url,
        cacheDir: options.remote.cacheDir,
        credentials: options.remote.credentials,
        env: options.gitEnv,
        timeoutMs: options.remote.fetchTimeoutMs,
      })
    : null;
  const git = await GitRepo.open(mirror ? mirror.gitdir : options.repo);
  let follower: RemoteFollower | null = null;
  // --redis: conversations (and their locks) shared by every replica; the news of a push too.
  const shared = options.redisUrl
    ? await connectShared(options.redisUrl, options.redisPrefix, logger, options.replicaName)
    : null;
  const conversations = written.conversations ?? shared?.conversations ?? options.conversations;

  const usage = new UsageCounter();
  const log = await RequestLog.open({
    file: options.logFile,
    capacity: options.logCapacity,
    logText: options.logText,
    onLoad: (e) => usage.record(e),
    onWriteError: (err) =>
      logger.warn(
        { file: options.logFile, error: err.message },
        'the request log file cannot be written; requests are logged in memory only (see /readyz)',
      ),
  });
  const metrics = createMetrics({ requestLog: log });
  const monitoring = { log, usage, metrics, fleet: shared?.fleet };

  const nlu = new NluService({
    gitdir: git.gitdir,
    logger,
    onChange: () => setReady(),
    trainingTimeoutMs: options.trainingTimeoutMs,
    trainingMemoryMb: options.trainingMemoryMb,
  });
  const setReady = () =>
    metrics.setReady(live.state.snapshot !== null && live.state.problems.length === 0 && nlu.waiting().length === 0);
  const live: LiveSnapshot = new LiveSnapshot({
    git,
    controlBranch,
    // A mirror's branches are always origin/*, whatever --remote-name says.
    remoteName: mirror ? MIRROR_REMOTE : options.remoteName,
    logger,
    pollMs: options.pollMs,
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
  if (mirror && options.remote) {
    follower = new RemoteFollower({
      mirror,
      url: options.remote.url,
      intervalMs: options.remote.fetchIntervalMs,
      logger,
      onChange: () => live.refresh(),
      onWebhook: () => shared?.announce(),
    });
    shared?.onAnnounce(() => follower?.trigger('peer'));
    // The first fetch before the first snapshot: a replica that can fetch starts with the remote's state.
    await follower.start();
  }
  await live.start();

  const listener = createRequestListener({
    live,
    monitoring,
    logger,
    adminToken,
    nlu,
    conversations,
    admission: options.admission,
    redis: shared ?? undefined,
    repository: {
      git,
      controlBranch,
      remoteName: mirror ? MIRROR_REMOTE : options.remoteName,
      remoteUrl: options.remote?.url ?? null,
    },
    refresh: () => live.refresh(),
    remote:
      follower && options.remote
        ? { follower, url: options.remote.url, webhookSecret: options.webhookSecret }
        : undefined,
  });
  const server = createServer(listener);
  // A request must arrive whole within this time: a stalled body holds its share of the body
  // budget (admission.ts) for at most this long. Node's default is 5 minutes.
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  // The latest answer on each connection: bytes that arrive after an answer that closes the
  // connection (a route answered before reading a chunked body) are not a request to answer.
  const lastAnswer = new WeakMap<object, ServerResponse>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => lastAnswer.set(req.socket, res));
  // A request Node cannot parse (bad header bytes, oversized headers) still gets a JSON answer.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || (err as { bytesParsed?: number }).bytesParsed === undefined) return socket.destroy();
    const answer = lastAnswer.get(socket);
    if (err.code === 'HPE_CLOSED_CONNECTION' && answer) {
      if (answer.writableFinished) socket.end();
      else answer.once('finish', () => socket.end());
      return;
    }
    // Bytes after an answer that closed the connection (a route answered before reading a chunked
    // body): the client already has its answer; a second one would be data after "Connection: close".
    const code: ErrorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : 'BAD_REQUEST';
    const status = ERROR_TABLE[code].http;
    const body = JSON.stringify({ error: { code, message: 'the request could not be parsed as HTTP' } });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
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
    server.listen(options.port, options.host, () => {
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
      pollMs: options.pollMs,
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
      follower?.stop();
      live.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 20);
      const grace = setTimeout(() => server.closeAllConnections(), options.shutdownGraceMs);
      await closed;
      clearInterval(sweep);
      clearTimeout(grace);
      await log.close();
      await nlu.close();
      await shared?.close();
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
