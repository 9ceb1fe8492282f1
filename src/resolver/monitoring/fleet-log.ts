import type { Redis } from 'ioredis';
import { clampLimit, parseSince, type LogQuery, type RequestLogEntry } from './request-log.js';
import { utcDay, type UsageDay, type UsageQuery } from './usage.js';

// With --redis, the request log feed and the usage counts of every replica together: each entry
// is appended to a capped Redis stream (the newest DEFAULT_FLEET_ENTRIES, with the replica's
// name), and counted in one hash per UTC day (kept 400 days). /v1/logs and /v1/usage on any
// replica answer from them; while Redis is away they answer from the replica's own log and
// counts, and say so. Writing never waits: an entry Redis cannot take is counted, not retried.

export const DEFAULT_FLEET_ENTRIES = 10_000;
const RETENTION_S = 400 * 24 * 3600;
/** Stream entries read per round trip while filtering. */
const PAGE = 1000;

export class FleetLog {
  /** Entries that could not be written to Redis (it was away). */
  dropped = 0;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly replica: string,
    private readonly capacity = DEFAULT_FLEET_ENTRIES,
  ) {}

  /** Appends an entry (as the replica's own log stored it: text redacted or dropped) and counts it. */
  record(entry: RequestLogEntry): void {
    const day = utcDay(entry.time);
    if (day === undefined) return;
    const series = JSON.stringify([entry.environment, entry.version]);
    const usage = `${this.prefix}usage:${day}`;
    const pipeline = this.redis
      .pipeline()
      .xadd(
        `${this.prefix}log`,
        'MAXLEN',
        '~',
        this.capacity,
        '*',
        'e',
        JSON.stringify({ ...entry, replica: this.replica }),
      )
      .hincrby(usage, `${series}\tt\t`, 1)
      .hincrby(usage, `${series}\tr\t${entry.route}`, 1)
      .hincrby(usage, `${series}\ts\t${entry.status}`, 1);
    if (typeof entry.intent === 'string') pipeline.hincrby(usage, `${series}\ti\t${entry.intent}`, 1);
    pipeline.expire(usage, RETENTION_S);
    pipeline.exec().then(
      (replies) => {
        if (replies?.some(([err]) => err)) this.dropped++;
      },
      () => {
        this.dropped++;
      },
    );
  }

  /** The fleet's entries matching every filter, newest first, as RequestLog.query answers. */
  async query(q: LogQuery = {}): Promise<(RequestLogEntry & { replica?: string })[]> {
    const limit = clampLimit(q.limit);
    const since = q.since === undefined ? undefined : parseSince(q.since);
    const out: (RequestLogEntry & { replica?: string })[] = [];
    let end = '+';
    for (;;) {
      const page = await this.redis.xrevrange(`${this.prefix}log`, end, '-', 'COUNT', PAGE);
      for (const [id, fields] of page) {
        end = `(${id}`;
        const entry = JSON.parse(fields[1] ?? 'null') as (RequestLogEntry & { replica?: string }) | null;
        if (!entry) continue;
        if (since !== undefined && Date.parse(entry.time) < since) return out; // older from here on
        if (q.environment !== undefined && entry.environment !== q.environment) continue;
        if (q.version !== undefined && entry.version !== q.version) continue;
        if (q.intent !== undefined && entry.intent !== q.intent) continue;
        out.push(entry);
        if (out.length >= limit) return out;
      }
      if (page.length < PAGE) return out;
    }
  }

  /** The fleet's usage by day, oldest first, summed over the series matching the filters. */
  async usage(q: UsageQuery = {}): Promise<{ days: UsageDay[] }> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}usage:*`, 'COUNT', 500);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    const days: UsageDay[] = [];
    for (const key of keys.sort()) {
      const day: UsageDay = {
        day: key.slice(`${this.prefix}usage:`.length),
        total: 0,
        byRoute: Object.create(null),
        byStatus: Object.create(null),
        byIntent: Object.create(null),
      };
      for (const [field, count] of Object.entries(await this.redis.hgetall(key))) {
        const [series, kind, name] = field.split('\t') as [string, string, string];
        const [environment, version] = JSON.parse(series) as [string | null, string | null];
        if (q.environment !== undefined && environment !== q.environment) continue;
        if (q.version !== undefined && version !== q.version) continue;
        const n = Number(count);
        if (kind === 't') day.total += n;
        const into = kind === 'r' ? day.byRoute : kind === 's' ? day.byStatus : kind === 'i' ? day.byIntent : null;
        if (into) into[name] = (into[name] ?? 0) + n;
      }
      if (day.total > 0) days.push(day);
    }
    return { days };
  }
}
