// The resolver's request log: one entry per answered request, kept in a bounded in-memory
// ring (the `/v1/logs` feed) and, with `--log-file`, appended to a JSON-lines file that is
// read back on start. Entries never hold a token or a channel secret: `route` is the route
// pattern (e.g. "/v1/channels/:name/webhook"), never the raw path or the headers, and the
// message text is kept only when text logging was turned on explicitly (`logText`), and then
// with credentials in it (`bvt_…`, `bvs_…`, `Bearer …`) replaced by the application log's own
// scrubText: a user pasting a token into a chat does not put it into the log file or /v1/logs.
//
// Over 300 lines on purpose: the ring, the append stream and the two file loaders (a tail read
// backwards for start-up, a full read for usage counts) share the line format and its limits,
// and splitting them would spread one file format over several modules.

import { createWriteStream, type WriteStream } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { UsageError } from '../../errors.js';
import { scrubText } from './logger.js';

export interface RequestLogEntry {
  /** When the request arrived (ISO 8601, UTC). */
  time: string;
  /** null for a request that was not authenticated (or failed to). */
  environment: string | null;
  version: string | null;
  commit: string | null;
  method: string;
  /** The route pattern, e.g. "/v1/resolve"; never the raw path. */
  route: string;
  status: number;
  latencyMs: number;
  intent?: string | null;
  confidence?: number;
  skill?: string | null;
  /** The user's message text: only when text logging is on. */
  text?: string;
}

export interface LogQuery {
  environment?: string;
  version?: string;
  intent?: string;
  /** An HTTP status ("404") or a class of them ("4xx"). */
  status?: string;
  /** ISO 8601 or epoch milliseconds; entries at or after it. */
  since?: string;
  /** ISO 8601 or epoch milliseconds; entries before it. */
  until?: string;
  /** Default 100, at most 1000. */
  limit?: number;
}

/** What RequestLog.countSince and FleetLog.countSince answer. */
export interface SpanCounts {
  counts: Map<string | null, number>;
  /** The log does not reach back that far: the counts are those of what it holds. */
  partial: boolean;
}

export interface RequestLogOptions {
  /** Entries kept in memory (and loaded back from `file`). Default 10 000. */
  capacity?: number;
  /** JSON-lines file the entries are appended to and loaded back from. */
  file?: string;
  /** Keep `text` in entries (memory and file). Off by default: `text` is dropped. */
  logText?: boolean;
  /**
   * Called with every valid entry of the whole file, oldest first, before `open` resolves
   * (e.g. `(e) => usage.record(e)` for usage counts over the file's full history). Without
   * it only the file's tail (the last `capacity` entries) is read.
   */
  onLoad?: (entry: RequestLogEntry) => void;
  /**
   * Called once when the file stops being written (a full disk, a removed folder): entries are
   * kept in memory from then on and `fileError` says why. Never called for `close()`.
   */
  onWriteError?: (error: Error) => void;
}

export const DEFAULT_CAPACITY = 10_000;
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
/** Bytes waiting in the append stream past which new lines are dropped (a stuck disk must not eat the heap). */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;
/** A line longer than this in the file is not an entry of ours: it is skipped. */
const MAX_LINE_BYTES = 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

export class RequestLog {
  readonly capacity: number;
  readonly file: string | undefined;
  private readonly logText: boolean;
  private readonly ring: (RequestLogEntry | undefined)[];
  private readonly times: Float64Array;
  /** Index the next entry goes to. */
  private next = 0;
  private size = 0;
  private stream: WriteStream | undefined;
  private closing: Promise<void> | undefined;
  private dropped = 0;
  private writeError: Error | undefined;
  private skippedOnLoad = 0;

  private constructor(capacity: number, file: string | undefined, logText: boolean) {
    this.capacity = capacity;
    this.file = file;
    this.logText = logText;
    this.ring = new Array<RequestLogEntry | undefined>(capacity);
    this.times = new Float64Array(capacity);
  }

  static async open(options: RequestLogOptions = {}): Promise<RequestLog> {
    const capacity = options.capacity ?? DEFAULT_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`request log capacity must be a positive integer, got ${capacity}`);
    }
    const log = new RequestLog(capacity, options.file, options.logText === true);
    if (options.file === undefined) return log;

    const endsWithNewline = options.onLoad
      ? await log.loadAll(options.file, options.onLoad)
      : await log.loadTail(options.file);
    const stream = createWriteStream(options.file, { flags: 'a' });
    // A file that cannot be opened for appending fails `open` (a bad --log-file stops start-up).
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => {
        stream.off('error', reject);
        resolve();
      });
      stream.once('error', reject);
    });
    log.onWriteError = options.onWriteError;
    // Never thrown at a request: remembered (see fileError), and the file is no longer written.
    stream.on('error', (err) => log.failed(err));
    // A crash can leave a half-written last line: end it, so the next entry starts a line of its own.
    if (!endsWithNewline) stream.write('\n');
    log.stream = stream;
    return log;
  }

  /**
   * A line's write callback: a line the stream could not write (or dropped when it failed) is
   * counted, and its error remembered — the stream's 'error' event may never come once close()
   * has ended the stream, and /readyz must still say why lines were lost.
   */
  private readonly written = (err?: Error | null): void => {
    if (!err) return;
    this.dropped++;
    this.failed(err);
  };

  private onWriteError: ((error: Error) => void) | undefined;

  /** The file failed: remembered once (fileError), and no longer written. */
  private failed(err: Error): void {
    if (this.writeError) return;
    this.writeError = err;
    this.stream = undefined;
    this.onWriteError?.(err);
  }

  /** Adds an entry. O(1), never throws; the file write is buffered (no fsync per line). */
  /** Keeps an entry; returns it as stored (text dropped or redacted), undefined when refused. */
  record(entry: RequestLogEntry): RequestLogEntry | undefined {
    try {
      const stored = this.normalise(entry);
      if (stored === undefined) return undefined;
      this.push(stored, Date.parse(stored.time));
      const stream = this.stream;
      if (stream === undefined) {
        if (this.writeError) this.dropped++; // the file failed: every later line is one it misses
        return stored;
      }
      if (stream.writableLength > MAX_PENDING_BYTES) {
        this.dropped++;
        return stored;
      }
      stream.write(`${JSON.stringify(stored)}\n`, this.written);
      return stored;
    } catch {
      this.dropped++;
      return undefined;
    }
  }

  /** Entries matching every given filter, newest first, at most `limit` (default 100, max 1000). */
  query(q: LogQuery = {}): RequestLogEntry[] {
    const limit = clampLimit(q.limit);
    const since = q.since === undefined ? undefined : parseSince(q.since);
    const matches = entryFilter(q);
    const out: RequestLogEntry[] = [];
    if (limit === 0) return out;
    for (const { entry, time } of this.newestFirst()) {
      if (since !== undefined && !(time >= since)) continue;
      if (!matches(entry, time)) continue;
      out.push({ ...entry });
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * Entries at or after `sinceMs` per environment (null: no environment), newest first until an
   * older one; `partial` when the log is full and all of it is that recent (there were more).
   */
  countSince(sinceMs: number): SpanCounts {
    const counts = new Map<string | null, number>();
    let seen = 0;
    for (const { entry, time } of this.newestFirst()) {
      if (!(time >= sinceMs)) return { counts, partial: false };
      seen++;
      counts.set(entry.environment, (counts.get(entry.environment) ?? 0) + 1);
    }
    return { counts, partial: seen === this.capacity };
  }

  /** The entries in memory with their times (epoch ms), newest first. */
  private *newestFirst(): Generator<{ entry: RequestLogEntry; time: number }> {
    for (let i = 0; i < this.size; i++) {
      const at = (this.next - 1 - i + this.capacity) % this.capacity;
      const entry = this.ring[at];
      if (entry !== undefined) yield { entry, time: this.times[at]! };
    }
  }

  /** Every entry in memory, oldest first (e.g. to seed a UsageCounter). */
  entries(): RequestLogEntry[] {
    const out: RequestLogEntry[] = [];
    for (let i = this.size - 1; i >= 0; i--) {
      const entry = this.ring[(this.next - 1 - i + this.capacity) % this.capacity];
      if (entry !== undefined) out.push({ ...entry });
    }
    return out;
  }

  get length(): number {
    return this.size;
  }

  /** Lines not written to the file (backlog full, or a write error); /readyz and /metrics report them. */
  get droppedLines(): number {
    return this.dropped;
  }

  /** The error that stopped file writes, if any. */
  get fileError(): Error | undefined {
    return this.writeError;
  }

  /** Corrupt lines skipped while loading the file. */
  get skippedLines(): number {
    return this.skippedOnLoad;
  }

  /** Flushes and closes the file. Later entries are kept in memory only. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    const stream = this.stream;
    this.stream = undefined;
    this.closing = new Promise<void>((resolve) => {
      if (stream === undefined || stream.destroyed) return resolve();
      stream.once('error', () => resolve());
      stream.end(() => resolve());
    });
    return this.closing;
  }

  private push(entry: RequestLogEntry, timeMs: number): void {
    this.ring[this.next] = entry;
    this.times[this.next] = timeMs;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  /**
   * A copy of the entry with only the known fields, `text` only when text logging is on and with
   * credentials redacted (also in entries loaded from a file an older botver wrote).
   */
  private normalise(entry: unknown): RequestLogEntry | undefined {
    if (!isEntry(entry)) return undefined;
    const out: RequestLogEntry = {
      time: entry.time,
      environment: entry.environment,
      version: entry.version,
      commit: entry.commit,
      method: entry.method,
      route: entry.route,
      status: entry.status,
      latencyMs: entry.latencyMs,
    };
    if (entry.intent !== undefined) out.intent = entry.intent;
    if (entry.confidence !== undefined) out.confidence = entry.confidence;
    if (entry.skill !== undefined) out.skill = entry.skill;
    if (this.logText && entry.text !== undefined) out.text = scrubText(entry.text);
    return out;
  }

  private loadLine(line: Buffer): RequestLogEntry | undefined {
    if (line.length === 0) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line.toString('utf8'));
    } catch {
      this.skippedOnLoad++;
      return undefined;
    }
    const entry = this.normalise(parsed);
    if (entry === undefined) this.skippedOnLoad++;
    return entry;
  }

  /**
   * What both loaders do with the file's lines: `take` parses one (skipping a corrupt one, or
   * the line an over-long fragment belonged to); `bound` drops a partial line past
   * MAX_LINE_BYTES and remembers to skip the rest of it.
   */
  private lineReader(onEntry: (entry: RequestLogEntry) => void) {
    const state = {
      overlong: false,
      take: (line: Buffer): void => {
        if (state.overlong) {
          state.overlong = false;
          this.skippedOnLoad++;
          return;
        }
        const entry = this.loadLine(line);
        if (entry !== undefined) onEntry(entry);
      },
      bound: (rest: Buffer): Buffer => {
        if (rest.length <= MAX_LINE_BYTES) return rest;
        state.overlong = true;
        return Buffer.alloc(0);
      },
    };
    return state;
  }

  /**
   * Reads the file backwards in chunks until `capacity` entries are found: start-up time does
   * not grow with the file. Returns whether the file is empty or ends with a newline.
   */
  private async loadTail(file: string): Promise<boolean> {
    const handle = await openOrMissing(file);
    if (handle === undefined) return true;
    try {
      const { size } = await handle.stat();
      if (size === 0) return true;
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      const endsWithNewline = last[0] === NEWLINE;

      const found: RequestLogEntry[] = []; // newest first
      let pos = size;
      let rest: Buffer = Buffer.alloc(0); // the start of a line whose beginning is further back
      const lines = this.lineReader((entry) => found.push(entry));
      const take = lines.take;
      while (pos > 0 && found.length < this.capacity) {
        const length = Math.min(CHUNK_BYTES, pos);
        pos -= length;
        const chunk = Buffer.alloc(length);
        await handle.read(chunk, 0, length, pos);
        const data = rest.length > 0 ? Buffer.concat([chunk, rest]) : chunk;
        let end = data.length;
        for (let i = data.length - 1; i >= 0 && found.length < this.capacity; i--) {
          if (data[i] !== NEWLINE) continue;
          take(data.subarray(i + 1, end));
          end = i;
        }
        rest = lines.bound(found.length < this.capacity ? data.subarray(0, end) : Buffer.alloc(0));
      }
      if (pos === 0 && found.length < this.capacity && (rest.length > 0 || lines.overlong)) take(rest);
      for (let i = found.length - 1; i >= 0; i--) {
        const entry = found[i]!;
        this.push(entry, Date.parse(entry.time));
      }
      return endsWithNewline;
    } finally {
      await handle.close();
    }
  }

  /** Reads the whole file forwards, handing every entry to `onLoad`; the ring keeps the last ones. */
  private async loadAll(file: string, onLoad: (entry: RequestLogEntry) => void): Promise<boolean> {
    const handle = await openOrMissing(file);
    if (handle === undefined) return true;
    try {
      let rest: Buffer = Buffer.alloc(0);
      let lastByte: number | undefined;
      const lines = this.lineReader((entry) => {
        this.push(entry, Date.parse(entry.time));
        onLoad({ ...entry });
      });
      const take = lines.take;
      for (;;) {
        const chunk = Buffer.alloc(CHUNK_BYTES);
        const { bytesRead } = await handle.read(chunk, 0, CHUNK_BYTES, null);
        if (bytesRead === 0) break;
        lastByte = chunk[bytesRead - 1];
        const data =
          rest.length > 0 ? Buffer.concat([rest, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
        let start = 0;
        for (let i = 0; i < data.length; i++) {
          if (data[i] !== NEWLINE) continue;
          take(data.subarray(start, i));
          start = i + 1;
        }
        rest = lines.bound(data.subarray(start));
      }
      if (rest.length > 0 || lines.overlong) take(rest);
      return lastByte === undefined || lastByte === NEWLINE;
    } finally {
      await handle.close();
    }
  }
}

/**
 * The `/v1/logs` query string as a LogQuery. Empty parameters are no filter; a bad `limit` or
 * `since` is a UsageError (code USAGE: answer 400). `limit` above 1000 is capped, not refused.
 */
export function parseLogQuery(params: Record<string, unknown>): LogQuery {
  const q: LogQuery = {};
  const one = (name: string): string | undefined => {
    const value = params[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw new UsageError(`query parameter "${name}" must be given once`);
    return value === '' ? undefined : value;
  };
  const environment = one('environment');
  const version = one('version');
  const intent = one('intent');
  const status = one('status');
  const since = one('since');
  const until = one('until');
  const limit = one('limit');
  if (environment !== undefined) q.environment = environment;
  if (version !== undefined) q.version = version;
  if (intent !== undefined) q.intent = intent;
  if (status !== undefined) {
    if (!/^[1-5](?:\d\d|xx)$/.test(status))
      throw new UsageError(`"status" must be an HTTP status (404) or a class of them (4xx), got "${status}"`);
    q.status = status;
  }
  for (const [name, value] of [
    ['since', since],
    ['until', until],
  ] as const) {
    if (value === undefined) continue;
    if (Number.isNaN(parseSince(value)))
      throw new UsageError(`"${name}" must be an ISO 8601 time or epoch milliseconds, got "${value}"`);
    q[name] = value;
  }
  if (limit !== undefined) {
    if (!/^\d{1,9}$/.test(limit) || Number(limit) < 1) {
      throw new UsageError(`"limit" must be a positive integer, got "${limit}"`);
    }
    q.limit = Math.min(Number(limit), MAX_LIMIT);
  }
  return q;
}

/**
 * Whether an entry (with its time in epoch ms) passes a query's filters other than `since`
 * and `limit`, which the readers apply as they walk from the newest entry.
 */
export function entryFilter(q: LogQuery): (entry: RequestLogEntry, timeMs: number) => boolean {
  const until = q.until === undefined ? undefined : parseSince(q.until);
  const status = q.status;
  const statusClass = status?.endsWith('xx') ? status[0] : undefined;
  return (entry, timeMs) =>
    (q.environment === undefined || entry.environment === q.environment) &&
    (q.version === undefined || entry.version === q.version) &&
    (q.intent === undefined || entry.intent === q.intent) &&
    (status === undefined ||
      (statusClass !== undefined ? String(entry.status)[0] === statusClass : String(entry.status) === status)) &&
    (until === undefined || timeMs < until);
}

/** Epoch ms of an ISO 8601 time or of a string of digits (epoch ms); NaN when neither. */
export function parseSince(since: string): number {
  if (/^\d+$/.test(since)) return Number(since);
  return Date.parse(since);
}

export function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_LIMIT;
  return Math.max(0, Math.min(Math.floor(limit), MAX_LIMIT));
}

function isEntry(value: unknown): value is RequestLogEntry {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    typeof e.time === 'string' &&
    !Number.isNaN(Date.parse(e.time)) &&
    stringOrNull(e.environment) &&
    stringOrNull(e.version) &&
    stringOrNull(e.commit) &&
    typeof e.method === 'string' &&
    typeof e.route === 'string' &&
    typeof e.status === 'number' &&
    Number.isInteger(e.status) &&
    typeof e.latencyMs === 'number' &&
    Number.isFinite(e.latencyMs) &&
    (e.intent === undefined || stringOrNull(e.intent)) &&
    (e.confidence === undefined || (typeof e.confidence === 'number' && Number.isFinite(e.confidence))) &&
    (e.skill === undefined || stringOrNull(e.skill)) &&
    (e.text === undefined || typeof e.text === 'string')
  );
}

function stringOrNull(value: unknown): boolean {
  return value === null || typeof value === 'string';
}

/** The file to load, or undefined when there is none, or it is not a regular file (a device, a pipe: nothing to read back). */
async function openOrMissing(file: string) {
  let handle: Awaited<ReturnType<typeof openFile>>;
  try {
    handle = await openFile(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if ((await handle.stat()).isFile()) return handle;
  await handle.close();
  return undefined;
}
