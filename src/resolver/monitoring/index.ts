import type { RequestHandler } from 'express';
import type { RequestLog, RequestLogEntry } from './request-log.js';
import type { UsageCounter } from './usage.js';
import type { Metrics } from './metrics.js';
import { routeOf } from '../http-errors.js';

// One entry per answered request, built when the answer is finished, fed to the request log
// (/v1/logs), the usage counts (/v1/usage) and Prometheus (/metrics). Probes, /metrics and the
// admin routes are not bot traffic and are not recorded.

export interface Monitoring {
  log: RequestLog;
  usage: UsageCounter;
  metrics: Metrics;
}

const UNRECORDED = new Set(['/healthz', '/readyz', '/metrics', '/v1/environments', '/v1/versions', '/v1/logs', '/v1/usage']);

export function recordRequests(monitoring: Monitoring): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    const time = new Date().toISOString();
    res.once('finish', () => {
      const route = routeOf(req);
      if (UNRECORDED.has(route)) return;
      const locals = res.locals;
      const entry: RequestLogEntry = {
        time,
        environment: locals.environment ?? null,
        version: locals.version ?? null,
        commit: locals.commit ?? null,
        method: req.method,
        route,
        status: res.statusCode,
        latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
      };
      if (locals.intent !== undefined) entry.intent = locals.intent;
      if (locals.confidence !== undefined) entry.confidence = locals.confidence;
      if (locals.skill !== undefined) entry.skill = locals.skill;
      if (locals.text !== undefined) entry.text = locals.text;
      monitoring.log.record(entry);
      monitoring.usage.record(entry);
      monitoring.metrics.observe(entry);
    });
    next();
  };
}
