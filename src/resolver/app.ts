import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { LiveSnapshot } from './live-snapshot.js';
import { recordRequests, type Monitoring } from './monitoring/index.js';
import { contentRoutes } from './routes/content.js';
import { adminRoutes } from './routes/admin.js';
import { healthRoutes } from './routes/health.js';
import { openapiRoutes } from './routes/openapi.js';
import { nlpRoutes } from './routes/nlp.js';
import type { NluService } from '../nlu/nlu-service.js';
import { dialogRoutes } from './routes/dialog.js';
import { MemoryConversationStore, type ConversationStore } from '../dialog/store.js';
import { HttpError, errorHandler, notFound } from './http-errors.js';

// The resolver's Express application, separate from listening so that it can be mounted or
// tested on any server. Bodies are JSON only, at most 1 MB.

export const BODY_LIMIT = 1024 * 1024;

export interface ResolverAppDeps {
  live: LiveSnapshot;
  monitoring: Monitoring;
  logger: Logger;
  /** BOTVER_ADMIN_TOKEN; without it the admin routes answer 401 to everyone. */
  adminToken?: string;
  /** NLU models for /v2/request and /build/v1/dialog; without it those routes are not served. */
  nlu?: NluService;
  /** Where conversations live; default in memory (bounded, 30 min idle TTL). */
  conversations?: ConversationStore;
}

export function createResolverApp({
  live,
  monitoring,
  logger,
  adminToken,
  nlu,
  conversations,
}: ResolverAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Bodies are served from buffers built once per snapshot; hashing them per request for an
  // ETag would cost more than the answer. Routes set their own (commit or blob id) ETags.
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(recordRequests(monitoring));
  // A declared length over the limit is refused before a byte is read, whatever the type.
  app.use((req, _res, next) => {
    const length = Number(req.headers['content-length']);
    if (length > BODY_LIMIT)
      return next(new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body is over the ${BODY_LIMIT} byte limit`));
    next();
  });
  app.use(express.json({ limit: BODY_LIMIT, type: ['application/json', 'application/*+json'] }));

  // Bot routes first: they carry the traffic, and Express tries routes in order.
  app.use(contentRoutes(live));
  if (nlu) {
    app.use(nlpRoutes(live, nlu));
    app.use(dialogRoutes(live, nlu, conversations ?? new MemoryConversationStore()));
  }
  app.use(healthRoutes(live, monitoring.metrics, nlu));
  app.use(openapiRoutes());
  app.use(adminRoutes(live, monitoring, adminToken));
  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}
