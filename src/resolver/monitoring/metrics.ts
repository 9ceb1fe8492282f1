// Prometheus metrics for `GET /metrics`, through prom-client, on a Registry of our own (not
// the library's global one, so that several resolvers, e.g. in tests, do not collide).
//
// Label values: a request that was not authenticated has no environment or version; it is
// labelled environment="" and version="" (the empty value, which Prometheus treats as the
// label being absent). Not "none": "none" is a valid environment or version name, "" is not.
// `route` must be the route pattern (bounded cardinality), never the raw path.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestLogEntry } from './request-log.js';
import type { ConversationStoreStats } from '../../dialog/store.js';
import type { AdmissionStats } from '../admission.js';
import type { FetchStatus } from '../remote.js';

/** One label set of botver_environment_info: what an environment serves now. */
export interface ServingInfo {
  environment: string;
  version: string;
  commit: string;
}

export interface Metrics {
  /** Counts the request and observes its latency. Never throws. */
  observe(entry: RequestLogEntry): void;
  /** Replaces the info gauge's label sets with these (call on every snapshot swap). */
  setServing(envs: ServingInfo[]): void;
  setReady(ready: boolean): void;
  /** The Content-Type header for `render()`'s text. */
  readonly contentType: string;
  render(): Promise<string>;
  /** The underlying registry, to add metrics of one's own. */
  readonly registry: Registry;
}

/** Seconds: most answers take a millisecond or a few; the top buckets catch stalls. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The label value for a missing environment, version or commit. */
export const NO_LABEL = '';

export interface MetricsOptions {
  /** Node's default process metrics. Default true. */
  defaultMetrics?: boolean;
  /** The request log whose lost file lines botver_request_log_write_failures_total counts. */
  requestLog?: { readonly droppedLines: number };
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'botver_requests_total',
    help: 'Requests answered by the resolver',
    labelNames: ['environment', 'version', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'botver_request_duration_seconds',
    help: 'Time from a request to its answer, in seconds',
    labelNames: ['environment', 'version', 'route'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const serving = new Gauge({
    name: 'botver_environment_info',
    help: 'The version and commit each environment serves (always 1)',
    labelNames: ['environment', 'version', 'commit'] as const,
    registers: [registry],
  });
  const ready = new Gauge({
    name: 'botver_ready',
    help: 'Whether the resolver is ready to answer (1) or not (0)',
    registers: [registry],
  });
  ready.set(0);
  const requestLog = options.requestLog;
  let counted = 0;
  new Counter({
    name: 'botver_request_log_write_failures_total',
    help: 'Request log lines that could not be written to the log file (--log-file)',
    registers: [registry],
    // Read from the log when scraped: the log knows nothing of metrics.
    collect() {
      const dropped = requestLog?.droppedLines ?? 0;
      if (dropped > counted) this.inc(dropped - counted);
      counted = dropped;
    },
  });

  return {
    registry,
    contentType: registry.contentType,
    observe(entry) {
      try {
        const environment = entry.environment ?? NO_LABEL;
        const version = entry.version ?? NO_LABEL;
        requests.inc({ environment, version, route: entry.route, status: String(entry.status) });
        if (Number.isFinite(entry.latencyMs) && entry.latencyMs >= 0) {
          duration.observe({ environment, version, route: entry.route }, entry.latencyMs / 1000);
        }
      } catch {
        // A metric must never fail a request.
      }
    },
    setServing(envs) {
      serving.reset();
      for (const env of envs) {
        serving.set({ environment: env.environment, version: env.version, commit: env.commit }, 1);
      }
    },
    setReady(value) {
      ready.set(value ? 1 : 0);
    },
    render() {
      return registry.metrics();
    },
  };
}

/**
 * The in-memory conversation store's gauges and eviction counter, read from `stats` when
 * scraped. Registered once per registry (a second call is a no-op).
 */
export function addConversationMetrics(registry: Registry, stats: () => ConversationStoreStats): void {
  if (registry.getSingleMetric('botver_conversation_bytes')) return;
  new Gauge({
    name: 'botver_conversations',
    help: 'Conversations held in memory',
    registers: [registry],
    collect() {
      this.set(stats().conversations);
    },
  });
  new Gauge({
    name: 'botver_conversation_bytes',
    help: 'Bytes of conversations held in memory (their JSON text, keys and a fixed cost per entry)',
    registers: [registry],
    collect() {
      this.set(stats().bytes);
    },
  });
  new Gauge({
    name: 'botver_conversation_bytes_max',
    help: 'The byte budget of conversations in memory (--conversation-mb)',
    registers: [registry],
    collect() {
      this.set(stats().maxBytes);
    },
  });
  let counted = 0;
  new Counter({
    name: 'botver_conversation_evictions_total',
    help: 'Conversations forgotten before their idle time to stay within the byte budget or the count',
    registers: [registry],
    collect() {
      const evictions = stats().evictions;
      if (evictions > counted) this.inc(evictions - counted);
      counted = evictions;
    },
  });
}

/** The resolver's fairness (admission.ts): requests waiting for a turn, body bytes held, refusals. */
export function addAdmissionMetrics(registry: Registry, stats: () => AdmissionStats): void {
  if (registry.getSingleMetric('botver_waiting_requests')) return;
  new Gauge({
    name: 'botver_waiting_requests',
    help: 'NLU and dialog requests waiting for their turn on the event loop',
    registers: [registry],
    collect() {
      this.set(stats().waiting);
    },
  });
  new Gauge({
    name: 'botver_request_body_bytes',
    help: 'Bytes of request bodies being read or waiting, reserved against the body budget',
    registers: [registry],
    collect() {
      this.set(stats().bodyBytes);
    },
  });
  const counted = { bodies: 0, turns: 0 };
  new Counter({
    name: 'botver_overloaded_total',
    help: "Requests answered 503 OVERLOADED, by reason (bodies: the body budget; turns: a token's waiting queue)",
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const { refused } = stats();
      for (const reason of ['bodies', 'turns'] as const) {
        if (refused[reason] > counted[reason]) this.inc({ reason }, refused[reason] - counted[reason]);
        counted[reason] = refused[reason];
      }
    },
  });
}

/** `--redis`: request-log entries the fleet's feed lost while Redis was away (fleet-log.ts). */
export function addFleetLogMetrics(registry: Registry, dropped: () => number): void {
  if (registry.getSingleMetric('botver_fleet_log_dropped_total')) return;
  let counted = 0;
  new Counter({
    name: 'botver_fleet_log_dropped_total',
    help: "Request-log entries not written to the fleet's feed in Redis (Redis away); the replica's own log has them",
    registers: [registry],
    collect() {
      const now = dropped();
      if (now > counted) this.inc(now - counted);
      counted = now;
    },
  });
}

/** `--remote`: the fetches from the Git host (remote.ts). */
export function addFetchMetrics(registry: Registry, status: FetchStatus): void {
  if (registry.getSingleMetric('botver_fetch_last_success_timestamp_seconds')) return;
  new Gauge({
    name: 'botver_fetch_last_success_timestamp_seconds',
    help: 'When the last fetch from the remote succeeded (Unix time; 0 before the first)',
    registers: [registry],
    collect() {
      this.set(status.lastSuccess ? status.lastSuccess / 1000 : 0);
    },
  });
  const counted = { ok: 0, failed: 0 };
  new Counter({
    name: 'botver_fetches_total',
    help: 'Fetches from the remote, by result (ok, failed)',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      for (const result of ['ok', 'failed'] as const) {
        if (status.fetches[result] > counted[result]) this.inc({ result }, status.fetches[result] - counted[result]);
        counted[result] = status.fetches[result];
      }
    },
  });
  new Gauge({
    name: 'botver_fetch_failures_in_a_row',
    help: 'Fetches from the remote that failed since the last one that worked',
    registers: [registry],
    collect() {
      this.set(status.failuresInARow);
    },
  });
  new Histogram({
    name: 'botver_fetch_duration_seconds',
    help: 'How long a fetch from the remote took, failed ones included',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
    collect() {
      for (const d of status.durations.splice(0)) this.observe(d);
    },
  });
}
