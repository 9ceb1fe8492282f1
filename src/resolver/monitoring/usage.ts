// Usage counts for `/v1/usage`: requests per UTC day, by route, status and intent, kept per
// (environment, version) so that the query can filter on either. In memory; seeded on start
// from the request log (`replay`), so it covers what that log loaded back.

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
}

export interface UsageQuery {
  environment?: string;
  version?: string;
}

export interface UsageOptions {
  /** Days kept; older ones are dropped as new ones arrive. Default 400. */
  retentionDays?: number;
}

interface Counts {
  total: number;
  byRoute: Map<string, number>;
  byStatus: Map<string, number>;
  byIntent: Map<string, number>;
}

interface Series {
  environment: string | null;
  version: string | null;
  days: Map<string, Counts>;
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
      counts = { total: 0, byRoute: new Map(), byStatus: new Map(), byIntent: new Map() };
      series.days.set(day, counts);
    }
    counts.total++;
    increment(counts.byRoute, entry.route);
    increment(counts.byStatus, String(entry.status));
    if (typeof entry.intent === 'string') increment(counts.byIntent, entry.intent);
  }

  /** Days oldest first, summed over the series that match the filters. */
  query(q: UsageQuery = {}): { days: UsageDay[] } {
    const merged = new Map<string, UsageDay>();
    for (const series of this.series.values()) {
      if (q.environment !== undefined && series.environment !== q.environment) continue;
      if (q.version !== undefined && series.version !== q.version) continue;
      for (const [day, counts] of series.days) {
        let out = merged.get(day);
        if (out === undefined) {
          // Prototype-less records: a route or intent named "__proto__" is just a key.
          out = {
            day,
            total: 0,
            byRoute: Object.create(null),
            byStatus: Object.create(null),
            byIntent: Object.create(null),
          };
          merged.set(day, out);
        }
        out.total += counts.total;
        addInto(out.byRoute, counts.byRoute);
        addInto(out.byStatus, counts.byStatus);
        addInto(out.byIntent, counts.byIntent);
      }
    }
    const days = [...merged.values()].sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
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

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function addInto(target: Record<string, number>, counts: Map<string, number>): void {
  for (const [key, n] of counts) target[key] = (target[key] ?? 0) + n;
}
