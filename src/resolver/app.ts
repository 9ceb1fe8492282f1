import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import { fastResolve } from './fast-resolve.js';
import { fastBodyRoutes, type FastBodyRoutes } from './fast-body.js';
import type { Logger } from 'pino';
import type { SnapshotSource } from './snapshot.js';
import { recordRequests, type Monitoring } from './monitoring/index.js';
import {
  addAdmissionMetrics,
  addConversationMetrics,
  addFetchMetrics,
  addFleetLogMetrics,
} from './monitoring/metrics.js';
import { hookRoutes } from './routes/hooks.js';
import type { ReadyzProblem } from './routes/health.js';
import { fetchProblem, type RemoteFollower } from './remote.js';
import { Admission } from './admission.js';
import { contentRoutes } from './routes/content.js';
import { adminRoutes } from './routes/admin.js';
import { adminActionRoutes } from './routes/admin-actions.js';
import { consoleRoutes } from './routes/console.js';
import { TestResults, type AdminRepository } from './admin-repository.js';
import { healthRoutes } from './routes/health.js';
import { openapiRoutes } from './routes/openapi.js';
import { nlpRequest, nlpRoutes } from './routes/nlp.js';
import type { NluProvider } from '../nlu/nlu-service.js';
import { dialogMessage, dialogRoutes } from './routes/dialog.js';
import { MemoryConversationStore, type ConversationStore } from '../dialog/store.js';
import { HttpError, errorHandler, notFound } from './http-errors.js';
import { BODY_LIMIT } from './json-body.js';

// The resolver's Express application, separate from listening so that it can be mounted or
// tested on any server. Bodies are JSON only, at most 256 KB. It depends on interfaces only
// (where snapshots come from, the NLU, the conversation store, monitoring): startResolver
// gives the real ones, a test can give small ones and build the app without a repository
// or a trained model.

export { BODY_LIMIT } from './json-body.js';

export interface ResolverAppDeps {
  /** What is served: LiveSnapshot follows a repository. */
  live: SnapshotSource;
  monitoring: Monitoring;
  logger: Logger;
  /** The admin routes' token; without it they answer 401 to everyone. */
  adminToken?: string;
  /** NLU models for /v2/request and /build/v1/dialog (NluService); without it those routes are not served. */
  nlu?: NluProvider;
  /** Where conversations live; default in memory (bounded, 30 min idle TTL). */
  conversations?: ConversationStore;
  /** Turns and the body budget (admission.ts); default: its defaults. */
  admission?: Admission;
  /** With --remote: what push webhooks trigger, and the fetch's state for /readyz and /metrics. */
  remote?: { follower: RemoteFollower; url: string; webhookSecret: string | undefined };
  /** With --redis: whether Redis is reachable, for /readyz. */
  redis?: { problem(): ReadyzProblem | null };
  /** The repository served, for the admin routes' history, diffs and actions (the console's); without it they answer 503. */
  repository?: AdminRepository;
  /** Called after an admin action's commit, so that the next read sees it (LiveSnapshot.refresh). */
  refresh?: () => Promise<void>;
  /** The built console's folder (default: dist/console, see routes/console.ts); null: not served. */
  consoleDir?: string | null;
}

export function createResolverApp(deps: ResolverAppDeps): Express {
  return buildResolver(deps).app;
}

/**
 * The resolver's whole request listener: GET /v1/resolve (fast-resolve.ts) and the plain case
 * of the body routes (fast-body.ts) answered before Express, everything else by the app.
 */
export function createRequestListener(deps: ResolverAppDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { app, admission, bodyRoutes } = buildResolver(deps);
  const resolve = fastResolve(deps.live, deps.monitoring);
  const bodies = bodyRoutes ? fastBodyRoutes({ ...deps, admission }, bodyRoutes) : () => false;
  return (req, res) => {
    if (!resolve(req, res) && !bodies(req, res)) app(req, res);
  };
}

function buildResolver(deps: ResolverAppDeps): {
  app: Express;
  admission: Admission;
  bodyRoutes: FastBodyRoutes | null;
} {
  const { live, monitoring, logger, adminToken, nlu, conversations, remote, redis, repository, refresh } = deps;
  const admission = deps.admission ?? new Admission();
  const app = express();
  app.disable('x-powered-by');
  // Bodies are served from buffers built once per snapshot; hashing them per request for an
  // ETag would cost more than the answer. Routes set their own (commit or blob id) ETags.
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(recordRequests(monitoring));
  // Push webhooks stream their (possibly large) payloads into an HMAC: before the body limit.
  app.use(hookRoutes(remote?.webhookSecret, remote?.follower));
  // A declared length over the limit is refused before a byte is read, whatever the type.
  app.use((req, _res, next) => {
    const length = Number(req.headers['content-length']);
    if (length > BODY_LIMIT)
      return next(new HttpError('PAYLOAD_TOO_LARGE', `the body is over the ${BODY_LIMIT} byte limit`));
    next();
  });
  // Bodies are read only by the routes that take one, after their token (json-body.ts), in
  // their client's turn (admission.ts).
  addAdmissionMetrics(monitoring.metrics.registry, () => admission.stats());

  // Bot routes first: they carry the traffic, and Express tries routes in order.
  app.use(contentRoutes(live));
  let bodyRoutes: FastBodyRoutes | null = null;
  if (nlu) {
    // One handler per route for both paths: the dialog's handler orders each conversation's messages.
    const store = conversations ?? new MemoryConversationStore();
    const request = nlpRequest(live, nlu, admission);
    const dialog = dialogMessage(live, nlu, store, admission);
    bodyRoutes = { '/v2/request': request, '/build/v1/dialog': dialog };
    app.use(nlpRoutes(live, admission, request));
    // The default store's bytes and evictions on /metrics (another store reports its own way).
    if (store instanceof MemoryConversationStore)
      addConversationMetrics(monitoring.metrics.registry, () => store.stats());
    app.use(dialogRoutes(live, store, admission, dialog));
  }
  if (remote) addFetchMetrics(monitoring.metrics.registry, remote.follower.status);
  const { fleet } = monitoring;
  if (fleet) addFleetLogMetrics(monitoring.metrics.registry, () => fleet.dropped);
  app.use(
    healthRoutes(live, monitoring, nlu, adminToken, () => [
      remote ? fetchProblem(remote.follower, remote.url) : null,
      redis ? redis.problem() : null,
    ]),
  );
  app.use(openapiRoutes());
  const tests = new TestResults();
  // Actions first: POST /v1/environments shares its path with the reads' GET.
  app.use(adminActionRoutes({ adminToken, repository, tests, admission, refresh }));
  app.use(adminRoutes({ live, monitoring, adminToken, repository, nlu, tests }));
  app.use(consoleRoutes(deps.consoleDir));
  app.use(notFound);
  app.use(errorHandler(logger));
  return { app, admission, bodyRoutes };
}
