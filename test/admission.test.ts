import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { Admission, SLICE_MS } from '../src/resolver/admission.js';
import { BODY_LIMIT } from '../src/resolver/app.js';
import { moreValuesThan } from '../src/resolver/json-body.js';
import fc from 'fast-check';
import { ClientGoneError, HttpError } from '../src/resolver/http-errors.js';
import { eventually, metric, serve, sharedExampleWithTokens } from './resolver-helpers.js';

// Fairness between clients on the resolver's one event loop (src/resolver/admission.ts): the
// computing routes take turns round-robin between tokens, a token's queue of waiting turns is
// bounded, and the bytes of request bodies in flight are bounded in all.

const example = sharedExampleWithTokens({ trained: true });

describe('turns are handed out round-robin between clients', () => {
  it('a client arriving behind another one’s burst waits for one of its turns, not for all of them', async () => {
    const admission = new Admission();
    const order: string[] = [];
    const all = [
      ...['a1', 'a2', 'a3', 'a4', 'a5'].map((t) => admission.turn('a').then(() => order.push(t))),
      admission.turn('b').then(() => order.push('b1')),
      admission.turn('c').then(() => order.push('c1')),
      admission.turn('b').then(() => order.push('b2')),
    ];
    expect(admission.stats().waiting).toBe(8);
    await Promise.all(all);
    // A FIFO would answer a1…a5 before b1: here each client waiting gets a turn in every round.
    expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4', 'a5']);
    expect(admission.stats().waiting).toBe(0);
  });

  it('ends a slice of turns once it has lasted SLICE_MS: an immediate queued in a long turn runs before the next turn', async () => {
    const admission = new Admission();
    const order: string[] = [];
    const busy = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until) {
        // a turn's work, longer than a slice
      }
    };
    const turns = [1, 2, 3].map((n) =>
      admission.turn('a').then(() => {
        order.push(`turn ${n}`);
        if (n === 1) setImmediate(() => order.push('io after turn 1'));
        busy(2 * SLICE_MS);
      }),
    );
    await Promise.all(turns);
    // Without slices ending, all three would run in one go before any other callback.
    expect(order).toEqual(['turn 1', 'io after turn 1', 'turn 2', 'turn 3']);
  });

  it('refuses a turn with 503 OVERLOADED once a client has its maximum waiting; other clients are not affected', async () => {
    const admission = new Admission(1024, 3);
    const waiting = [admission.turn('a'), admission.turn('a'), admission.turn('a')];
    const refused = await admission.turn('a').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(HttpError);
    expect(refused).toMatchObject({ code: 'OVERLOADED', status: 503, headers: { 'Retry-After': '1' } });
    expect((refused as Error).message).toMatch(/3 requests of this token are already waiting/);
    // A request already admitted is never refused halfway (its work may be half done).
    const admitted = admission.turn('a', { admitted: true });
    expect(admission.stats().waiting).toBe(4);
    await expect(admission.turn('b')).resolves.toBeUndefined();
    await Promise.all([...waiting, admitted]);
    await expect(admission.turn('a')).resolves.toBeUndefined();
    expect(admission.stats().refused).toEqual({ bodies: 0, turns: 1 });
  });

  it('a turn that comes after its client has gone is not given: it rejects with ClientGoneError', async () => {
    const admission = new Admission();
    const gone = { closed: true } as ServerResponse;
    const here = { closed: false } as ServerResponse;
    await expect(admission.turn('a', { res: gone })).rejects.toBeInstanceOf(ClientGoneError);
    await expect(admission.turn('a', { res: here })).resolves.toBeUndefined();
    expect(admission.stats().waiting).toBe(0);
  });
});

/** A POST whose body is sent in two parts: the second only when `finish` is called. */
function slowPost(url: string, path: string, token: string, chunked: boolean, first: string, rest: string) {
  const headers: Record<string, string> = { authorization: `Token ${token}`, 'content-type': 'application/json' };
  if (!chunked) headers['content-length'] = String(Buffer.byteLength(first + rest));
  const req = httpRequest(`${url}${path}`, { method: 'POST', headers });
  const answer = new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
  req.write(first);
  return { answer, finish: () => req.end(rest) };
}

describe('request bodies in flight are bounded in bytes, whatever the number of connections', () => {
  it('a body that would pass the budget is answered 503 OVERLOADED before it is read; the budget is freed when a request ends', async () => {
    const { dir, tokens } = example();
    // Room for one chunked body (reserved at the body limit) and a little more.
    const { url } = await serve(dir, { requestBodyBytes: BODY_LIMIT + 100_000 });
    const text = JSON.stringify({ text: 'hello there' });
    const held = slowPost(url, '/v2/request', tokens.production, true, text.slice(0, 5), text.slice(5));
    // Its headers are in and its body's bytes reserved (at the body limit: it is chunked).
    await eventually('the held body reserved', async () => {
      const held = metric(await (await fetch(`${url}/metrics`)).text(), 'botver_request_body_bytes');
      return held === BODY_LIMIT ? held : undefined;
    });
    const refused = slowPost(url, '/v2/request', tokens.staging, true, text.slice(0, 5), text.slice(5));
    const answer = await refused.answer;
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body).error).toMatchObject({ code: 'OVERLOADED' });
    expect(JSON.parse(answer.body).error.message).toMatch(/budget of request bodies/);
    expect(answer.headers['retry-after']).toBe('1');
    expect(answer.headers.connection).toBe('close');
    // A small body with a declared length still fits beside the held one.
    const small = await fetch(`${url}/v2/request`, {
      method: 'POST',
      headers: { Authorization: `Token ${tokens.staging}`, 'Content-Type': 'application/json' },
      body: text,
    });
    expect(small.status).toBe(200);
    // The held request completes normally, and its bytes are given back.
    held.finish();
    expect((await held.answer).status).toBe(200);
    const again = slowPost(url, '/v2/request', tokens.staging, true, text.slice(0, 5), text.slice(5));
    again.finish();
    expect((await again.answer).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^botver_overloaded_total\{reason="bodies"\} 1$/m);
    expect(metrics).toMatch(/^botver_request_body_bytes 0$/m);
  });

  it('reserves nothing for a request without a valid token, and the body limit for a compressed body', async () => {
    const { dir, tokens } = example();
    const { url } = await serve(dir, { requestBodyBytes: 4 * BODY_LIMIT });
    const bodyBytes = async () => metric(await (await fetch(`${url}/metrics`)).text(), 'botver_request_body_bytes');
    // No token: 401 before the body is reserved or read, however many such connections stall.
    const stalled = Array.from({ length: 8 }, () => slowPost(url, '/v2/request', 'bvt_nobody', true, '{"te', ''));
    for (const s of stalled) expect((await s.answer).status).toBe(401);
    expect(await bodyBytes()).toBe(0);
    // A gzip body of a few hundred bytes may inflate to the limit: that is what it reserves.
    const text = JSON.stringify({ text: 'hello there', note: 'n'.repeat(100_000) });
    const zipped = gzipSync(text);
    const headers: Record<string, string> = {
      authorization: `Token ${tokens.production}`,
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'content-length': String(zipped.length),
    };
    const req = httpRequest(`${url}/v2/request`, { method: 'POST', headers });
    const answer = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
    });
    req.write(zipped.subarray(0, 10));
    await eventually('the gzip body reserved at the limit', async () =>
      (await bodyBytes()) === BODY_LIMIT ? true : undefined,
    );
    req.end(zipped.subarray(10));
    expect(await answer).toBe(200);
    expect(await bodyBytes()).toBe(0);
  });
});

describe('bodies are parsed as express.json parsed them', () => {
  it("counts a body's JSON values before parsing it, exactly, as text and as UTF-8 bytes", () => {
    const countOf = (v: unknown): number =>
      1 + (v !== null && typeof v === 'object' ? Object.values(v).reduce<number>((n, c) => n + countOf(c), 0) : 0);
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), (value, spaced) => {
        const text = JSON.stringify(value, null, spaced ? 1 : undefined);
        const n = countOf(value);
        for (const form of [text, Buffer.from(text, 'utf8')]) {
          expect(moreValuesThan(form, n)).toBe(false);
          expect(moreValuesThan(form, n - 1)).toBe(n > 1);
        }
      }),
      { seed: 10, numRuns: 400 },
    );
    // Escapes, and brackets and commas inside strings, count for nothing.
    const tricky = JSON.stringify({ a: 'x\\"],[{,', b: ['\\', '"', ''], c: '\u2028' });
    expect(moreValuesThan(tricky, 7)).toBe(false);
    expect(moreValuesThan(tricky, 6)).toBe(true);
  });

  it('UTF-16 with a byte order mark, a body of only a byte order mark, an unknown charset', async () => {
    const { dir, tokens } = example();
    const { url } = await serve(dir);
    const post = async (body: Buffer | string, type: string) => {
      const res = await fetch(`${url}/v2/request`, {
        method: 'POST',
        headers: { Authorization: `Token ${tokens.production}`, 'Content-Type': type },
        body: typeof body === 'string' ? body : new Uint8Array(body),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const hello = JSON.stringify({ text: 'hello' });
    const be = Buffer.from(`\ufeff${hello}`, 'utf16le').swap16(); // big-endian, with its mark
    expect((await post(be, 'application/json; charset=utf-16')).status).toBe(200);
    expect((await post(`\ufeff${hello}`, 'application/json')).status).toBe(200);
    // A mark and nothing else is an empty body: {}, which lacks the text.
    const empty = await post('\ufeff', 'application/json');
    expect([empty.status, empty.body.error.code]).toEqual([400, 'BAD_REQUEST']);
    const latin = await post(hello, 'application/json; charset=latin1');
    expect([latin.status, latin.body.error]).toEqual([
      415,
      { code: 'UNSUPPORTED_ENCODING', message: 'unsupported charset "LATIN1"' },
    ]);
  });
});
