import type { Redis } from 'ioredis';
import {
  clampLimit,
  entryFilter,
  parseSince,
  type LogQuery,
  type RequestLogEntry,
  type SpanCounts,
} from './request-log.js';
import { countsOf, DayBuilder, utcDay, type UsageDay, type UsageQuery } from './usage.js';

/** An entry of the fleet's feed: the replica that answered it beside it. */
type FleetEntry = RequestLogEntry & { replica?: string };

// With --redis, the request log feed and the usage counts of every replica together: each entry
// is appended to a capped Redis stream (the newest DEFAULT_FLEET_ENTRIES, with the replica's
// name), and counted in one hash per UTC day (kept 400 days). /v1/logs and /v1/usage on any
// replica answer from them; while Redis is away they answer from the replica's own log and
// counts, and say so. Writing never waits: entries are sent in batches (every FLUSH_MS, or
// BATCH_MAX entries), one pipeline each with the counts summed, so the feed costs Redis a few
// commands per batch rather than six per request; a batch Redis cannot take is counted, not
// retried. An entry reaches the fleet's feed within FLUSH_MS.

export const DEFAULT_FLEET_ENTRIES = 10_000;
/** How long an entry may wait for its batch. */
export const FLUSH_MS = 100;
/** Entries past which a batch is sent at once. */
const BATCH_MAX = 500;
const RETENTION_S = 400 * 24 * 3600;
/** Stream entries read per round trip while filtering. */
const PAGE = 1000;

export class FleetLog {
  /** Entries that could not be written to Redis (it was away). */
  dropped = 0;
  private batch: RequestLogEntry[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** Batches being sent. */
  private readonly sending = new Set<Promise<void>>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly replica: string,
    private readonly capacity = DEFAULT_FLEET_ENTRIES,
  ) {}

  /** Appends an entry (as the replica's own log stored it: text redacted or dropped) and counts it. */
  record(entry: RequestLogEntry): void {
    if (utcDay(entry.time) === undefined) return;
    this.batch.push(entry);
    if (this.batch.length >= BATCH_MAX) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Sends the entries waiting, and waits for every batch being sent (at shutdown). */
  async close(): Promise<void> {
    void this.flush();
    await Promise.all(this.sending);
  }

  /** Sends the entries waiting as one batch (by the timer, or at BATCH_MAX entries). */
  private flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const entries = this.batch;
    this.batch = [];
    if (entries.length === 0) return Promise.resolve();
    const sent = this.send(entries).finally(() => this.sending.delete(sent));
    this.sending.add(sent);
    return sent;
  }

  private async send(entries: RequestLogEntry[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    // Per day hash, per field: the batch's count.
    const counts = new Map<string, Map<string, number>>();
    const count = (key: string, field: string) => {
      let fields = counts.get(key);
      if (!fields) counts.set(key, (fields = new Map()));
      fields.set(field, (fields.get(field) ?? 0) + 1);
    };
    for (const entry of entries) {
      pipeline.xadd(
        `${this.prefix}log`,
        'MAXLEN',
        '~',
        this.capacity,
        '*',
        'e',
        JSON.stringify({ ...entry, replica: this.replica }),
      );
      const usage = `${this.prefix}usage:${utcDay(entry.time)}`;
      const series = JSON.stringify([entry.environment, entry.version]);
      for (const key of countsOf(entry)) count(usage, `${series}\t${key}`);
    }
    for (const [usage, fields] of counts) {
      for (const [field, n] of fields) pipeline.hincrby(usage, field, n);
      pipeline.expire(usage, RETENTION_S);
    }
    try {
      const replies = await pipeline.exec();
      // The first replies are the entries' XADDs; a count that failed loses only a count.
      this.dropped += replies ? replies.slice(0, entries.length).filter(([err]) => err).length : entries.length;
    } catch {
      this.dropped += entries.length;
    }
  }

  /** The stream's entries with their times, newest first, read a page at a time (while the caller reads on). */
  private async *newestFirst(): AsyncGenerator<{ entry: FleetEntry; time: number }> {
    let end = '+';
    for (;;) {
      const page = await this.redis.xrevrange(`${this.prefix}log`, end, '-', 'COUNT', PAGE);
      for (const [id, fields] of page) {
        end = `(${id}`;
        const entry = JSON.parse(fields[1] ?? 'null') as FleetEntry | null;
        if (entry) yield { entry, time: Date.parse(entry.time) };
      }
      if (page.length < PAGE) return;
    }
  }

  /** The fleet's entries matching every filter, newest first, as RequestLog.query answers. */
  async query(q: LogQuery = {}): Promise<FleetEntry[]> {
    const limit = clampLimit(q.limit);
    const since = q.since === undefined ? undefined : parseSince(q.since);
    const matches = entryFilter(q);
    const out: FleetEntry[] = [];
    if (limit === 0) return out;
    for await (const { entry, time } of this.newestFirst()) {
      if (since !== undefined && time < since) break; // older from here on
      if (!matches(entry, time)) continue;
      out.push(entry);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** The fleet's entries at or after `sinceMs` per environment, as RequestLog.countSince counts them. */
  async countSince(sinceMs: number): Promise<SpanCounts> {
    const counts = new Map<string | null, number>();
    let seen = 0;
    for await (const { entry, time } of this.newestFirst()) {
      if (time < sinceMs) return { counts, partial: false };
      seen++;
      counts.set(entry.environment, (counts.get(entry.environment) ?? 0) + 1);
    }
    // The stream is trimmed to about `capacity` entries: all of it in the span means there were more.
    return { counts, partial: seen >= this.capacity };
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
      const day = new DayBuilder(key.slice(`${this.prefix}usage:`.length));
      for (const [field, count] of Object.entries(await this.redis.hgetall(key))) {
        const tab = field.indexOf('\t');
        const [environment, version] = JSON.parse(field.slice(0, tab)) as [string | null, string | null];
        if (q.environment !== undefined && environment !== q.environment) continue;
        if (q.version !== undefined && version !== q.version) continue;
        day.add(field.slice(tab + 1), Number(count), environment, version);
      }
      if (day.day.total > 0) days.push(day.finish());
    }
    return { days };
  }
}
