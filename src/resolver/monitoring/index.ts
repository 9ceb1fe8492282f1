import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { RequestLog, RequestLogEntry } from './request-log.js';
import type { UsageCounter } from './usage.js';
import type { Metrics } from './metrics.js';
import type { FleetLog } from './fleet-log.js';
import { routeOf } from '../http-errors.js';

// One entry per answered request, built when the answer is finished, fed to the request log
// (/v1/logs), the usage counts (/v1/usage) and Prometheus (/metrics). Probes, /metrics and the
// admin routes are not bot traffic and are not recorded.

/** What the app records requests into and reports from (RequestLog, UsageCounter and createMetrics give it). */
export interface Monitoring {
  log: Pick<RequestLog, 'record' | 'query' | 'countSince' | 'file' | 'fileError' | 'droppedLines'>;
  usage: Pick<UsageCounter, 'record' | 'query'>;
  metrics: Metrics;
  /** With --redis: the feed and usage of every replica (fleet-log.ts). */
  fleet?: Pick<FleetLog, 'record' | 'query' | 'countSince' | 'usage' | 'replica' | 'dropped'>;
}

/** What a route leaves in res.locals for the entry (Express), or passes directly (fast path). */
export interface Attribution {
  environment?: string | null;
  version?: string | null;
  commit?: string | null;
  intent?: string | null;
  confidence?: number;
  skill?: string | null;
  text?: string;
  /** Not bot traffic, whatever its route: the console's own files. */
  unrecorded?: boolean;
}

// The admin routes (reads and the console's actions: those are recorded as commits) and the probes.
const UNRECORDED = new Set([
  '/healthz',
  '/readyz',
  '/metrics',
  '/v1/server',
  '/v1/environments',
  '/v1/environments/:name',
  '/v1/environments/:name/history',
  '/v1/environments/:name/link',
  '/v1/environments/:name/promote',
  '/v1/environments/:name/rollback',
  '/v1/environments/:name/token',
  '/v1/environments/:name/channels',
  '/v1/channels/:name',
  '/v1/versions',
  '/v1/versions/:name/test',
  '/v1/diff',
  '/v1/logs',
  '/v1/usage',
]);

/** Records the request once its answer is finished; `route` is read then (Express sets it while routing). */
export function recordWhenFinished(
  monitoring: Monitoring,
  req: IncomingMessage,
  res: ServerResponse,
  route: () => string,
  attribution: () => Attribution,
): void {
  const started = performance.now();
  const time = new Date().toISOString();
  res.once('finish', () => {
    const pattern = route();
    if (UNRECORDED.has(pattern)) return;
    const a = attribution();
    if (a.unrecorded) return;
    const entry: RequestLogEntry = {
      time,
      environment: a.environment ?? null,
      version: a.version ?? null,
      commit: a.commit ?? null,
      method: req.method ?? 'GET',
      route: pattern,
      status: res.statusCode,
      latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
    };
    if (a.intent !== undefined) entry.intent = a.intent;
    if (a.confidence !== undefined) entry.confidence = a.confidence;
    if (a.skill !== undefined) entry.skill = a.skill;
    if (a.text !== undefined) entry.text = a.text;
    const stored = monitoring.log.record(entry);
    if (stored) monitoring.fleet?.record(stored);
    monitoring.usage.record(entry);
    monitoring.metrics.observe(entry);
  });
}

/** The Express middleware: routes put their attribution in res.locals. */
export function recordRequests(monitoring: Monitoring): RequestHandler {
  return (req, res, next) => {
    recordWhenFinished(
      monitoring,
      req,
      res,
      () => routeOf(req),
      () => res.locals as Attribution,
    );
    next();
  };
}
