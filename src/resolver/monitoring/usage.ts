// Usage counts for `/v1/usage`: requests per UTC day, by route, status, intent, environment and
// version, the NLU's answers and fallbacks, and a latency histogram, kept per (environment,
// version) so that the query can filter on either. In memory; seeded on start from the request
// log (`replay`), so it covers what that log loaded back. With --redis the fleet keeps the same
// counts in Redis hashes (fleet-log.ts): both go through countsOf and DayBuilder.

import type { RequestLogEntry } from './request-log.js';

export interface UsageDay {
  /** YYYY-MM-DD, UTC. */
  day: string;
  total: number;
  /** By route pattern, e.g. "/v1/resolve". */
  byRoute: Record<string, number>;
  /** By HTTP status, e.g. "200". */
  byStatus: Record<string, number>;
  /** By detected intent; requests without one are not counted here. */
  byIntent: Record<string, number>;
  /** By environment ("" for requests that named none: a version token, or no valid token). */
  byEnvironment: Record<string, number>;
  /** By version ("" for requests that named none). */
  byVersion: Record<string, number>;
  /** Successful NLU answers (/v2/request and the dialog). */
  nlu: number;
  /** Of those, the ones with no intent (the fallback's): nlu - fallbacks had an intent. */
  fallbacks: number;
  /** Latency percentiles in ms: the upper bound of the histogram bucket each falls in; null without requests. */
  latency: { p50: number; p95: number; p99: number } | null;
}

export interface UsageQuery {
  environment?: string;
  version?: string;
}

export interface UsageOptions {
  /** Days kept; older ones are dropped as new ones arrive. Default 400. */
  retentionDays?: number;
}

/** Upper bounds of the latency buckets, ms (the last is everything slower). */
export const LATENCY_BUCKETS_MS = [1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000, 2000, 5000];
const NLU_ROUTES = new Set(['/v2/request', '/build/v1/dialog']);

/**
 * What one entry adds to its day, as "kind\tname" keys: t total, r route, s status, i intent,
 * n an NLU answer, f a fallback, l a latency bucket. The series (environment, version) is kept
 * beside them, so byEnvironment and byVersion need no key of their own.
 */
export function countsOf(entry: RequestLogEntry): string[] {
  const keys = ['t\t', `r\t${entry.route}`, `s\t${entry.status}`, `l\t${latencyBucket(entry.latencyMs)}`];
  if (typeof entry.intent === 'string') keys.push(`i\t${entry.intent}`);
  if (NLU_ROUTES.has(entry.route) && entry.status === 200) {
    keys.push('n\t');
    if (entry.intent === null) keys.push('f\t');
  }
  return keys;
}

function latencyBucket(ms: number): number {
  const i = LATENCY_BUCKETS_MS.findIndex((bound) => ms <= bound);
  return i === -1 ? LATENCY_BUCKETS_MS.length : i;
}

/** One day's UsageDay, summed from the counts of the series that match a query. */
export class DayBuilder {
  readonly day: UsageDay;
  private readonly buckets = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);

  constructor(day: string) {
    // Prototype-less records: a route or intent named "__proto__" is just a key.
    const record = () => Object.create(null) as Record<string, number>;
    this.day = {
      day,
      total: 0,
      byRoute: record(),
      byStatus: record(),
      byIntent: record(),
      byEnvironment: record(),
      byVersion: record(),
      nlu: 0,
      fallbacks: 0,
      latency: null,
    };
  }

  /** Adds `n` of a countsOf key for the series (environment, version). */
  add(key: string, n: number, environment: string | null, version: string | null): void {
    const tab = key.indexOf('\t');
    const kind = key.slice(0, tab);
    const name = key.slice(tab + 1);
    const d = this.day;
    const into = (record: Record<string, number>, k: string) => void (record[k] = (record[k] ?? 0) + n);
    if (kind === 't') {
      d.total += n;
      into(d.byEnvironment, environment ?? '');
      into(d.byVersion, version ?? '');
    } else if (kind === 'r') into(d.byRoute, name);
    else if (kind === 's') into(d.byStatus, name);
    else if (kind === 'i') into(d.byIntent, name);
    else if (kind === 'n') d.nlu += n;
    else if (kind === 'f') d.fallbacks += n;
    else if (kind === 'l') {
      const bucket = Number(name);
      if (Number.isInteger(bucket) && bucket >= 0 && bucket < this.buckets.length) this.buckets[bucket]! += n;
    }
  }

  finish(): UsageDay {
    const count = this.buckets.reduce((a, b) => a + b, 0);
    if (count > 0) {
      const at = (q: number) => {
        let seen = 0;
        for (let i = 0; i < this.buckets.length; i++) {
          seen += this.buckets[i]!;
          // The slowest bucket has no upper bound: reported as the last bound.
          if (seen >= q * count) return LATENCY_BUCKETS_MS[Math.min(i, LATENCY_BUCKETS_MS.length - 1)]!;
        }
        return LATENCY_BUCKETS_MS.at(-1)!;
      };
      this.day.latency = { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
    }
    return this.day;
  }
}

interface Series {
  environment: string | null;
  version: string | null;
  /** day -> countsOf key -> count */
  days: Map<string, Map<string, number>>;
}

export class UsageCounter {
  private readonly retentionDays: number;
  private readonly series = new Map<string, Series>();
  /** Every day any series has, sorted; to drop the oldest past retention. */
  private readonly knownDays = new Set<string>();

  constructor(entries: Iterable<RequestLogEntry> = [], options: UsageOptions = {}) {
    this.retentionDays = options.retentionDays ?? 400;
    this.replay(entries);
  }

  /** Counts entries already seen elsewhere, e.g. `usage.replay(requestLog.entries())` on start. */
  replay(entries: Iterable<RequestLogEntry>): void {
    for (const entry of entries) this.record(entry);
  }

  record(entry: RequestLogEntry): void {
    const day = utcDay(entry.time);
    if (day === undefined) return;
    const key = seriesKey(entry.environment, entry.version);
    let series = this.series.get(key);
    if (series === undefined) {
      series = { environment: entry.environment, version: entry.version, days: new Map() };
      this.series.set(key, series);
    }
    let counts = series.days.get(day);
    if (counts === undefined) {
      if (!this.knownDays.has(day)) {
        this.knownDays.add(day);
        if (this.knownDays.size > this.retentionDays && this.prune(day)) return;
      }
      counts = new Map();
      series.days.set(day, counts);
    }
    for (const k of countsOf(entry)) counts.set(k, (counts.get(k) ?? 0) + 1);
  }

  /** Days oldest first, summed over the series that match the filters. */
  query(q: UsageQuery = {}): { days: UsageDay[] } {
    const merged = new Map<string, DayBuilder>();
    for (const series of this.series.values()) {
      if (q.environment !== undefined && series.environment !== q.environment) continue;
      if (q.version !== undefined && series.version !== q.version) continue;
      for (const [day, counts] of series.days) {
        let out = merged.get(day);
        if (out === undefined) merged.set(day, (out = new DayBuilder(day)));
        for (const [k, n] of counts) out.add(k, n, series.environment, series.version);
      }
    }
    const days = [...merged.keys()].sort().map((day) => merged.get(day)!.finish());
    return { days };
  }

  /** Drops the oldest day; true when that is `day` itself (an entry older than everything kept). */
  private prune(day: string): boolean {
    const oldest = [...this.knownDays].sort()[0]!;
    this.knownDays.delete(oldest);
    for (const series of this.series.values()) series.days.delete(oldest);
    return oldest === day;
  }
}

/** YYYY-MM-DD of an ISO time in UTC; undefined when the time does not parse. */
export function utcDay(time: string): string | undefined {
  // The resolver's own times are toISOString()'s UTC form: the day is its first ten characters.
  if (time.length === 24 && time.charCodeAt(23) === 90 /* Z */ && time.charCodeAt(10) === 84 /* T */)
    return time.slice(0, 10);
  const ms = Date.parse(time);
  if (Number.isNaN(ms)) return undefined;
  return new Date(ms).toISOString().slice(0, 10);
}

function seriesKey(environment: string | null, version: string | null): string {
  // "\0" (no name holds it) for null keeps null apart from every string, "" included.
  return `${environment === null ? '\0' : `=${environment}`}\n${version === null ? '\0' : `=${version}`}`;
}
