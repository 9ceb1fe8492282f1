import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { createLogger, scrubText } from '../src/resolver/monitoring/logger.js';
import { createMetrics } from '../src/resolver/monitoring/metrics.js';
import { RequestLog, parseLogQuery, type RequestLogEntry } from '../src/resolver/monitoring/request-log.js';
import { UsageCounter } from '../src/resolver/monitoring/usage.js';

const dirs: string[] = [];
const logs: RequestLog[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'botver-monitoring-'));
  dirs.push(dir);
  return dir;
}

async function openLog(options: Parameters<typeof RequestLog.open>[0]): Promise<RequestLog> {
  const log = await RequestLog.open(options);
  logs.push(log);
  return log;
}

afterEach(async () => {
  await Promise.all(logs.splice(0).map((log) => log.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const T0 = Date.parse('2024-05-01T10:00:00.000Z');

function entry(n: number, extra: Partial<RequestLogEntry> = {}): RequestLogEntry {
  return {
    time: new Date(T0 + n * 1000).toISOString(),
    environment: 'production',
    version: 'v1',
    commit: 'c'.repeat(40),
    method: 'GET',
    route: '/v1/resolve',
    status: 200,
    latencyMs: 1.5,
    ...extra,
  };
}

const ids = (entries: RequestLogEntry[]): number[] => entries.map((e) => (Date.parse(e.time) - T0) / 1000);

describe('RequestLog in memory', () => {
  it('keeps at most `capacity` entries, newest first', async () => {
    const log = await openLog({ capacity: 3 });
    for (let i = 1; i <= 5; i++) log.record(entry(i));
    expect(log.length).toBe(3);
    expect(ids(log.query({}))).toEqual([5, 4, 3]);
    expect(ids(log.entries())).toEqual([3, 4, 5]);
  });

  it('filters by environment, version, intent and since, and combines them', async () => {
    const log = await openLog({});
    log.record(entry(1, { environment: 'production', version: 'v1', intent: 'greet' }));
    log.record(entry(2, { environment: 'staging', version: 'v2', intent: 'order-pizza' }));
    log.record(entry(3, { environment: 'production', version: 'v2', intent: 'greet' }));
    log.record(entry(4, { environment: null, version: null, commit: null, status: 401 }));
    log.record(entry(5, { environment: 'staging', version: 'v2', intent: null }));

    expect(ids(log.query({ environment: 'production' }))).toEqual([3, 1]);
    expect(ids(log.query({ version: 'v2' }))).toEqual([5, 3, 2]);
    expect(ids(log.query({ intent: 'greet' }))).toEqual([3, 1]);
    expect(ids(log.query({ environment: 'staging', version: 'v2' }))).toEqual([5, 2]);
    expect(ids(log.query({ environment: 'production', intent: 'order-pizza' }))).toEqual([]);
    // since: inclusive, ISO or epoch milliseconds
    expect(ids(log.query({ since: new Date(T0 + 3000).toISOString() }))).toEqual([5, 4, 3]);
    expect(ids(log.query({ since: String(T0 + 4000) }))).toEqual([5, 4]);
    expect(ids(log.query({ since: String(T0 + 4000), environment: 'staging' }))).toEqual([5]);
    expect(ids(log.query({ since: new Date(T0 + 60_000).toISOString() }))).toEqual([]);
  });

  it('limits: 100 by default, 1000 at most, and counts after filtering', async () => {
    const log = await openLog({ capacity: 2000 });
    for (let i = 1; i <= 1500; i++) log.record(entry(i, { environment: i % 2 === 0 ? 'even' : 'odd' }));
    const byDefault = log.query({});
    expect(byDefault).toHaveLength(100);
    expect(ids(byDefault)[0]).toBe(1500);
    expect(log.query({ limit: 5000 })).toHaveLength(1000);
    expect(ids(log.query({ limit: 3 }))).toEqual([1500, 1499, 1498]);
    expect(ids(log.query({ limit: 3, environment: 'odd' }))).toEqual([1499, 1497, 1495]);
    expect(log.query({ limit: 0 })).toEqual([]);
  });

  it('returns copies: changing an answer does not change the log', async () => {
    const log = await openLog({});
    log.record(entry(1));
    log.query({})[0]!.status = 500;
    expect(log.query({})[0]!.status).toBe(200);
  });

  it('drops the message text unless text logging is on', async () => {
    const off = await openLog({});
    off.record(entry(1, { text: 'my secret order' }));
    expect(off.query({})[0]).not.toHaveProperty('text');

    const on = await openLog({ logText: true });
    on.record(entry(1, { text: 'my order' }));
    expect(on.query({})[0]!.text).toBe('my order');
  });

  it('never throws on a malformed entry, and ignores it', async () => {
    const log = await openLog({});
    expect(() => log.record({ time: 'not a time' } as unknown as RequestLogEntry)).not.toThrow();
    expect(() => log.record(null as unknown as RequestLogEntry)).not.toThrow();
    expect(log.length).toBe(0);
  });

  it('parses the /v1/logs query string', () => {
    expect(parseLogQuery({})).toEqual({});
    expect(parseLogQuery({ environment: '', version: '', intent: '', since: '', limit: '' })).toEqual({});
    expect(
      parseLogQuery({
        environment: 'production',
        version: 'v1',
        intent: 'greet',
        since: '2024-05-01T00:00:00Z',
        limit: '20',
      }),
    ).toEqual({ environment: 'production', version: 'v1', intent: 'greet', since: '2024-05-01T00:00:00Z', limit: 20 });
    expect(parseLogQuery({ since: '1714521600000' }).since).toBe('1714521600000');
    expect(parseLogQuery({ limit: '99999' }).limit).toBe(1000);
    for (const bad of [
      { limit: 'ten' },
      { limit: '0' },
      { limit: '-1' },
      { limit: '1.5' },
      { since: 'yesterday' },
      { environment: ['a', 'b'] },
    ]) {
      expect(() => parseLogQuery(bad)).toThrow(UsageError);
    }
  });
});

describe('RequestLog file', () => {
  it('appends JSON lines and loads them back after close and reopen', async () => {
    const file = join(tempDir(), 'requests.jsonl');
    const first = await openLog({ file });
    first.record(entry(1, { intent: 'greet', confidence: 0.9, skill: 'hello' }));
    first.record(entry(2, { environment: null, version: null, commit: null, status: 401, route: '/v1/resolve' }));
    await first.close();

    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0]!)).toMatchObject({ intent: 'greet', confidence: 0.9, skill: 'hello' });

    const second = await openLog({ file });
    expect(second.query({})).toEqual([first.query({})[0], first.query({})[1]]);
    second.record(entry(3));
    await second.close();

    const third = await openLog({ file });
    expect(ids(third.query({}))).toEqual([3, 2, 1]);
    expect(third.skippedLines).toBe(0);
  });

  it('loads only the last `capacity` entries of a file larger than one read', async () => {
    const file = join(tempDir(), 'requests.jsonl');
    const writer = await openLog({ file, capacity: 5000 });
    for (let i = 1; i <= 3000; i++) writer.record(entry(i, { commit: String(i).padStart(40, '0') }));
    await writer.close();
    expect(readFileSync(file).length).toBeGreaterThan(3 * 64 * 1024);

    const reader = await openLog({ file, capacity: 1000 });
    expect(reader.length).toBe(1000);
    const loaded = ids(reader.entries());
    expect(loaded[0]).toBe(2001);
    expect(loaded[999]).toBe(3000);
    expect(loaded.every((id, i) => id === 2001 + i)).toBe(true);
  });

  it('skips corrupt lines and a half-written last line, and starts a fresh line after it', async () => {
    const file = join(tempDir(), 'requests.jsonl');
    writeFileSync(
      file,
      [
        JSON.stringify(entry(1)),
        'this is not json',
        JSON.stringify({ time: 'no', route: 1 }),
        '',
        JSON.stringify(entry(2)),
      ].join('\n') +
        '\n' +
        JSON.stringify(entry(3)).slice(0, 40),
    );
    const log = await openLog({ file });
    expect(ids(log.query({}))).toEqual([2, 1]);
    expect(log.skippedLines).toBe(3);
    log.record(entry(4));
    await log.close();

    // The half line was ended before the new entry: the new entry survives the next restart.
    const again = await openLog({ file });
    expect(ids(again.query({}))).toEqual([4, 2, 1]);
  });

  it('skips a line far too long to be an entry', async () => {
    const file = join(tempDir(), 'requests.jsonl');
    writeFileSync(file, `${JSON.stringify(entry(1))}\n${'x'.repeat(3 * 1024 * 1024)}\n${JSON.stringify(entry(2))}\n`);
    const tail = await openLog({ file });
    expect(ids(tail.query({}))).toEqual([2, 1]);
    expect(tail.skippedLines).toBe(1);
    await tail.close();

    const seen: RequestLogEntry[] = [];
    const full = await openLog({ file, onLoad: (e) => seen.push(e) });
    expect(ids(seen)).toEqual([1, 2]);
    expect(full.skippedLines).toBe(1);
  });

  it('with onLoad, reads every entry of the file but keeps only the last `capacity`', async () => {
    const file = join(tempDir(), 'requests.jsonl');
    const writer = await openLog({ file });
    for (let i = 1; i <= 50; i++) writer.record(entry(i));
    await writer.close();
    appendFileSync(file, '{"half":');

    const usage = new UsageCounter();
    const log = await openLog({ file, capacity: 10, onLoad: (e) => usage.record(e) });
    expect(log.length).toBe(10);
    expect(ids(log.query({}))[0]).toBe(50);
    expect(usage.query({}).days[0]!.total).toBe(50);
    expect(log.skippedLines).toBe(1);
    log.record(entry(51));
    await log.close();
    expect(readFileSync(file, 'utf8').endsWith(`\n${JSON.stringify(entry(51))}\n`)).toBe(true);
  });

  it('does not write the message text to the file unless text logging is on', async () => {
    const file = join(tempDir(), 'requests.jsonl');
    const log = await openLog({ file });
    log.record(entry(1, { text: 'hunter2 pizza' }));
    await log.close();
    expect(readFileSync(file, 'utf8')).not.toContain('hunter2');
  });

  it('fails to open when the file cannot be appended to', async () => {
    const file = join(tempDir(), 'missing-folder', 'requests.jsonl');
    await expect(RequestLog.open({ file })).rejects.toThrow();
  });

  it('close is idempotent and later entries stay in memory', async () => {
    const file = join(tempDir(), 'requests.jsonl');
    const log = await openLog({ file });
    await log.close();
    await log.close();
    expect(() => log.record(entry(1))).not.toThrow();
    expect(log.length).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe('');
  });
});

describe('UsageCounter', () => {
  const day1 = '2024-05-01';
  const entries: RequestLogEntry[] = [
    entry(0, { time: `${day1}T00:00:00.000Z`, intent: 'greet' }),
    entry(0, { time: `${day1}T23:59:59.999Z`, route: '/v2/request', intent: 'greet' }),
    // 23:30 at UTC-2 is 01:30 the next day in UTC
    entry(0, { time: '2024-05-01T23:30:00-02:00', route: '/v2/request', intent: 'order-pizza', status: 200 }),
    entry(0, { time: '2024-05-02T08:00:00.000Z', environment: 'staging', version: 'v2', status: 404 }),
    entry(0, { time: '2024-04-30T12:00:00.000Z', environment: null, version: null, commit: null, status: 401 }),
  ];

  it('groups by UTC day (oldest first), route, status and intent', () => {
    const usage = new UsageCounter(entries);
    expect(usage.query({}).days).toMatchObject([
      { day: '2024-04-30', total: 1, byRoute: { '/v1/resolve': 1 }, byStatus: { '401': 1 }, byIntent: {} },
      {
        day: '2024-05-01',
        total: 2,
        byRoute: { '/v1/resolve': 1, '/v2/request': 1 },
        byStatus: { '200': 2 },
        byIntent: { greet: 2 },
      },
      {
        day: '2024-05-02',
        total: 2,
        byRoute: { '/v2/request': 1, '/v1/resolve': 1 },
        byStatus: { '200': 1, '404': 1 },
        byIntent: { 'order-pizza': 1 },
      },
    ]);
  });

  it('counts by environment and version, the NLU answers and fallbacks, and latency percentiles per day', () => {
    const day = '2024-06-01T10:00:00.000Z';
    const usage = new UsageCounter([
      // 18 NLU answers on production v1: 3 of them without an intent (the fallback's)
      ...Array.from({ length: 18 }, (_, i) =>
        entry(0, { time: day, route: '/v2/request', intent: i < 3 ? null : 'greet', latencyMs: 4 }),
      ),
      entry(0, {
        time: day,
        route: '/build/v1/dialog',
        environment: 'staging',
        version: 'v2',
        intent: null,
        latencyMs: 40,
      }),
      // an NLU route that failed is not an NLU answer; a resolve with no intent is not a fallback
      entry(0, { time: day, route: '/v2/request', status: 503, latencyMs: 0.5 }),
      entry(0, { time: day, environment: null, version: null, status: 401, latencyMs: 9000 }),
    ]);
    const [d] = usage.query({}).days;
    expect(d).toMatchObject({
      total: 21,
      byEnvironment: { production: 19, staging: 1, '': 1 },
      byVersion: { v1: 19, v2: 1, '': 1 },
      nlu: 19,
      fallbacks: 4,
    });
    // 18 of 21 at 4 ms (bucket <= 5), one at 40 (<= 50), one at 0.5 (<= 1), one past the last bound
    expect(d!.latency).toEqual({ p50: 5, p95: 50, p99: 5000 });
    expect(usage.query({ environment: 'staging' }).days[0]).toMatchObject({
      nlu: 1,
      fallbacks: 1,
      latency: { p50: 50 },
    });
    expect(usage.query({ environment: 'none' }).days).toEqual([]);
  });

  it('filters by environment and version', () => {
    const usage = new UsageCounter();
    usage.replay(entries);
    expect(usage.query({ environment: 'production' }).days.map((d) => [d.day, d.total])).toEqual([
      ['2024-05-01', 2],
      ['2024-05-02', 1],
    ]);
    expect(usage.query({ version: 'v2' }).days).toMatchObject([
      { day: '2024-05-02', total: 1, byRoute: { '/v1/resolve': 1 }, byStatus: { '404': 1 }, byIntent: {} },
    ]);
    expect(usage.query({ environment: 'staging', version: 'v1' }).days).toEqual([]);
    expect(usage.query({ environment: 'none' }).days).toEqual([]);
  });

  it('is seeded from a reopened request log', async () => {
    const file = join(tempDir(), 'requests.jsonl');
    const writer = await openLog({ file });
    for (const e of entries) writer.record(e);
    await writer.close();
    const reader = await openLog({ file });
    expect(new UsageCounter(reader.entries()).query({})).toEqual(new UsageCounter(entries).query({}));
  });

  it('keeps `retentionDays` days', () => {
    const usage = new UsageCounter([], { retentionDays: 2 });
    usage.record(entry(0, { time: '2024-05-01T00:00:00Z' }));
    usage.record(entry(0, { time: '2024-05-02T00:00:00Z' }));
    usage.record(entry(0, { time: '2024-05-03T00:00:00Z' }));
    usage.record(entry(0, { time: '2024-04-01T00:00:00Z' })); // older than everything kept
    expect(usage.query({}).days.map((d) => d.day)).toEqual(['2024-05-02', '2024-05-03']);
  });
});

describe('metrics', () => {
  it('renders the labelled counter, histogram, info gauge and readiness', async () => {
    const metrics = createMetrics();
    metrics.observe(entry(1, { latencyMs: 3 }));
    metrics.observe(entry(2, { latencyMs: 7 }));
    metrics.observe(entry(3, { environment: null, version: null, commit: null, status: 401, latencyMs: 0.2 }));
    metrics.setServing([
      { environment: 'production', version: 'v1', commit: 'a'.repeat(40) },
      { environment: 'staging', version: 'v2', commit: 'b'.repeat(40) },
    ]);
    metrics.setReady(true);

    const text = await metrics.render();
    expect(metrics.contentType).toMatch(/^text\/plain/);
    expect(text).toContain(
      'botver_requests_total{environment="production",version="v1",route="/v1/resolve",status="200"} 2',
    );
    expect(text).toContain('botver_requests_total{environment="",version="",route="/v1/resolve",status="401"} 1');
    expect(text).toContain('# TYPE botver_request_duration_seconds histogram');
    expect(text).toContain(
      'botver_request_duration_seconds_bucket{le="0.005",environment="production",version="v1",route="/v1/resolve"} 1',
    );
    expect(text).toContain(
      'botver_request_duration_seconds_bucket{le="0.01",environment="production",version="v1",route="/v1/resolve"} 2',
    );
    expect(text).toContain(
      'botver_request_duration_seconds_count{environment="production",version="v1",route="/v1/resolve"} 2',
    );
    expect(text).toContain(
      `botver_environment_info{environment="production",version="v1",commit="${'a'.repeat(40)}"} 1`,
    );
    expect(text).toContain(`botver_environment_info{environment="staging",version="v2",commit="${'b'.repeat(40)}"} 1`);
    expect(text).toContain('botver_ready 1');
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it('setServing replaces the old label sets', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.setServing([{ environment: 'production', version: 'v1', commit: 'a'.repeat(40) }]);
    metrics.setServing([{ environment: 'production', version: 'v2', commit: 'c'.repeat(40) }]);
    const text = await metrics.render();
    expect(text).toContain(
      `botver_environment_info{environment="production",version="v2",commit="${'c'.repeat(40)}"} 1`,
    );
    expect(text).not.toContain('version="v1"');
    expect(text).not.toContain('a'.repeat(40));
    expect(text).toContain('botver_ready 0');
    expect(text).not.toMatch(/^process_/m);
  });

  it('keeps separate registries apart', async () => {
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.observe(entry(1));
    expect(await a.render()).toContain('botver_requests_total{');
    expect(await b.render()).not.toContain('botver_requests_total{');
  });
});

describe('logger', () => {
  function capture(level = 'debug') {
    const chunks: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, callback) {
        chunks.push(String(chunk));
        callback();
      },
    });
    return { logger: createLogger({ level, destination }), output: () => chunks.join('') };
  }

  it('writes JSON lines', () => {
    const { logger, output } = capture();
    logger.info({ route: '/v1/resolve', status: 200 }, 'answered');
    const line = JSON.parse(output().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, name: 'botver', route: '/v1/resolve', status: 200, msg: 'answered' });
    expect(typeof line.time).toBe('string');
  });

  it('never writes a token passed in an object, a header, a child binding or a message', () => {
    const { logger, output } = capture();
    const headers = { authorization: 'Token SECRET-1', 'x-hub-signature-256': 'sha256=SECRET-2', host: 'example.org' };
    logger.info({ req: { method: 'GET', url: '/v1/resolve', headers } }, 'request');
    logger.info({ headers: { Authorization: 'Bearer SECRET-3' } });
    logger.info({ token: 'SECRET-4', secret: 'SECRET-5', authorization: 'SECRET-6' });
    logger.info({ created: { environment: 'staging', token: 'SECRET-7', adminToken: 'SECRET-8' } });
    logger.info({ deep: [{ a: { b: { c: { channelSecret: 'SECRET-9', 'X-Hub-Signature': 'SECRET-10' } } } }] });
    logger.child({ token: 'SECRET-11', channel: { secret: 'SECRET-12' } }).info({ password: 'SECRET-13' }, 'child');
    logger.warn('bad header Authorization: Bearer SECRET-14');
    logger.info({ note: 'presented bvt_SECRET21abcdefghijklmnop' }, 'url /v1/resolve?token=bvs_SECRET22abcdefgh');
    logger.error('token %s rejected', 'Token SECRET-15');
    logger
      .child({ a: { b: { c: { token: 'SECRET-16' } } } })
      .child({ x: { y: { z: { apiKey: 'SECRET-17' } } } })
      .info('grandchild');
    logger.error(new Error('rejected Authorization: Bearer SECRET-18'));
    const err = Object.assign(new Error('failed', { cause: new Error('Token SECRET-19') }), { token: 'SECRET-20' });
    logger.error({ err }, 'with cause');

    const text = output();
    expect(text.trim().split('\n')).toHaveLength(12);
    expect(text).not.toMatch(/SECRET-?\d+/);
    expect(text).toContain('[Redacted]');
    // What is not a credential is kept.
    expect(text).toContain('example.org');
    expect(text).toContain('"environment":"staging"');
    // The caller's objects are not changed.
    expect(headers.authorization).toBe('Token SECRET-1');
  });

  it('scrubs credentials from free text', () => {
    expect(scrubText('Authorization: Bearer abc.def-ghi')).toBe('Authorization: Bearer [Redacted]');
    expect(scrubText('a Token xyz9 and a basic dXNlcjpwYXNz')).toBe('a Token [Redacted] and a basic [Redacted]');
    expect(scrubText('no credentials here')).toBe('no credentials here');
    expect(scrubText('token expired, Bearer token rejected')).toBe('token expired, Bearer token rejected');
    expect(scrubText('token Token abc123')).toBe('token Token [Redacted]');
    expect(scrubText('GET /v1/x?t=bvt_AbCdEf0123456789-_xyz and bvs_q1w2e3r4t5')).toBe(
      'GET /v1/x?t=[Redacted] and [Redacted]',
    );
  });

  it('honours the level', () => {
    const { logger, output } = capture('warn');
    logger.info('quiet');
    logger.warn('loud');
    expect(output()).not.toContain('quiet');
    expect(output()).toContain('loud');
  });
});
