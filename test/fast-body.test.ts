import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { connect } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BODY_LIMIT } from '../src/resolver/json-body.js';
import { Admission } from '../src/resolver/admission.js';
import { createResolverApp } from '../src/resolver/app.js';
import { fastBodyRoutes } from '../src/resolver/fast-body.js';
import { sendJson } from '../src/resolver/http-errors.js';
import { createLogger } from '../src/resolver/monitoring/logger.js';
import { dialogMessage } from '../src/resolver/routes/dialog.js';
import { nlpRequest } from '../src/resolver/routes/nlp.js';
import { MemoryConversationStore } from '../src/dialog/store.js';
import { ADMIN_TOKEN, auth, eventually, getJson, serve, sharedExampleWithTokens } from './resolver-helpers.js';

// POST /v2/request and /build/v1/dialog are answered before Express in the plain case
// (fast-body.ts). Two servers on one resolver's snapshot, NLU and monitoring: one with only the
// fast path (a request it does not take is answered 599 "fell through"), one with only the
// Express app. Every plain request must be taken by the first and answered exactly as the
// second answers it; every other request must fall through to Express.

const shared = sharedExampleWithTokens({ trained: true });
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen(listener: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function twoPaths(admission: () => Admission = () => new Admission()) {
  const { dir, tokens } = shared();
  const resolver = await serve(dir);
  const logger = createLogger({ level: 'silent' });
  const deps = { live: resolver.live, monitoring: resolver.monitoring, logger, nlu: resolver.nlu };
  const fastAdmission = admission();
  const fast = fastBodyRoutes(
    { ...deps, admission: fastAdmission },
    {
      '/v2/request': nlpRequest(resolver.live, resolver.nlu, fastAdmission),
      '/build/v1/dialog': dialogMessage(resolver.live, resolver.nlu, new MemoryConversationStore(), fastAdmission),
    },
  );
  const fastUrl = await listen((req, res) => {
    if (!fast(req, res)) sendJson(res, 599, { fellThrough: true });
  });
  const expressUrl = await listen(createResolverApp({ ...deps, adminToken: ADMIN_TOKEN, admission: admission() }));
  return { tokens, resolver, fastUrl, expressUrl, fastAdmission };
}

interface Sent {
  path: string;
  headers: Record<string, string>;
  body: string | Buffer;
}

/** A request with exactly these headers (fetch would add its own), answered as status, headers and text. */
function send(base: string, { path, headers, body }: Sent) {
  return new Promise<{ status: number; headers: Record<string, string | undefined>; text: string }>(
    (resolve, reject) => {
      const req = httpRequest(`${base}${path}`, { method: 'POST', headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: Object.fromEntries(
              ['content-type', 'content-length', 'cache-control', 'retry-after', 'www-authenticate', 'connection'].map(
                (h) => [h, res.headers[h] as string | undefined],
              ),
            ),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      });
      req.on('error', reject);
      req.end(body);
    },
  );
}

/** An answer's text without what differs between any two answers (a request's uuid and timestamp). */
const normal = (text: string) =>
  text.replace(/"uuid":"[0-9a-f-]{36}"/g, '"uuid":"…"').replace(/"timestamp":"[^"]+"/g, '"timestamp":"…"');

const json = (token: string, value: unknown, type = 'application/json'): Omit<Sent, 'path'> => {
  const body = JSON.stringify(value);
  return {
    headers: { ...auth(token), 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)) },
    body,
  };
};

describe('body routes before Express (fast-body.ts)', () => {
  it('takes the plain case and answers it exactly as the Express route, errors included', async () => {
    const { tokens, fastUrl, expressUrl, fastAdmission } = await twoPaths();
    const p = tokens.production;
    const cases: [string, Sent][] = [
      ['an intent', { path: '/v2/request', ...json(p, { text: 'what is on the menu?' }) }],
      ['a language', { path: '/v2/request', ...json(p, { text: 'hello there', language: 'en' }) }],
      ['charset=utf-8', { path: '/v2/request', ...json(p, { text: 'hi' }, 'Application/JSON; charset="UTF-8"') }],
      ['a version token', { path: '/v2/request', ...json(tokens.v2, { text: 'hello there' }) }],
      ['no text', { path: '/v2/request', ...json(p, { language: 'en' }) }],
      ['a bad language', { path: '/v2/request', ...json(p, { text: 'hi', language: 'english' }) }],
      ['a text too long', { path: '/v2/request', ...json(p, { text: 'a'.repeat(2001) }) }],
      ['a scalar body', { path: '/v2/request', ...json(p, 42) }],
      ['too many values', { path: '/v2/request', ...json(p, { text: 'hi', x: Array(10_001).fill(0) }) }],
      [
        'broken JSON',
        { path: '/v2/request', headers: { ...auth(p), 'Content-Type': 'application/json' }, body: '{"text": ' },
      ],
      [
        'a message',
        {
          path: '/build/v1/dialog',
          ...json(p, { message: { type: 'text', content: 'hello there' }, conversation_id: 'c1' }),
        },
      ],
      [
        'a message with memory',
        {
          path: '/build/v1/dialog',
          ...json(tokens.staging, {
            message: { type: 'text', content: 'what is on the menu?' },
            conversation_id: 'c2',
            memory: { name: 'Ann' },
          }),
        },
      ],
      ['no conversation id', { path: '/build/v1/dialog', ...json(p, { message: { type: 'text', content: 'hi' } }) }],
      [
        'a memory too deep',
        {
          path: '/build/v1/dialog',
          ...json(p, {
            message: { type: 'text', content: 'hi' },
            conversation_id: 'c3',
            memory: JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`),
          }),
        },
      ],
    ];
    for (const [what, request] of cases) {
      if (!('Content-Length' in request.headers))
        request.headers['Content-Length'] = String(Buffer.byteLength(request.body));
      const [fast, slow] = await Promise.all([send(fastUrl, request), send(expressUrl, request)]);
      expect([what, fast.status]).not.toEqual([what, 599]);
      expect([what, fast.status, fast.headers]).toEqual([what, slow.status, slow.headers]);
      expect([what, normal(fast.text)]).toEqual([what, normal(slow.text)]);
      // What the body reserved in the budget is given back once answered.
      await eventually(`${what}: the body budget given back`, async () =>
        fastAdmission.stats().bodyBytes === 0 ? true : undefined,
      );
    }
  });

  it('refuses a body over the budget as Express does, unread, and gives back what a client that left had reserved', async () => {
    const { tokens, fastUrl, expressUrl, fastAdmission } = await twoPaths(() => new Admission(64));
    const request = {
      path: '/v2/request',
      ...json(tokens.production, { text: 'a message whose body is longer than the budget of 64 bytes' }),
    };
    const [fast, slow] = await Promise.all([send(fastUrl, request), send(expressUrl, request)]);
    expect(fast.status).toBe(503);
    expect([fast.headers, fast.text]).toEqual([slow.headers, slow.text]);
    expect(fast.headers.connection).toBe('close');
    expect(JSON.parse(fast.text).error.code).toBe('OVERLOADED');
    expect(fastAdmission.stats().refused.bodies).toBe(1);

    // A client that sends half its body and goes away: no answer, and its reservation is freed.
    const port = Number(new URL(fastUrl).port);
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      `POST /v2/request HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${tokens.production}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 60\r\n\r\n{"text": "half',
    );
    await eventually('the half body reserved', async () => (fastAdmission.stats().bodyBytes === 60 ? true : undefined));
    socket.destroy();
    await eventually('given back', async () => (fastAdmission.stats().bodyBytes === 0 ? true : undefined));
  });

  it('leaves every other request to Express', async () => {
    const { tokens, fastUrl } = await twoPaths();
    const p = tokens.production;
    const body = JSON.stringify({ text: 'hello there' });
    const typed = (type: string) => ({ ...auth(p), 'Content-Type': type, 'Content-Length': String(body.length) });
    const cases: [string, Sent][] = [
      ['a trailing slash', { path: '/v2/request/', headers: typed('application/json'), body }],
      ['a query string', { path: '/v2/request?x=1', headers: typed('application/json'), body }],
      [
        'no token',
        {
          path: '/v2/request',
          headers: { 'Content-Type': 'application/json', 'Content-Length': String(body.length) },
          body,
        },
      ],
      ['a wrong token', { path: '/v2/request', headers: { ...typed('application/json'), ...auth('bvt_nope') }, body }],
      ['another charset', { path: '/v2/request', headers: typed('application/json; charset=latin1'), body }],
      ['another type', { path: '/v2/request', headers: typed('text/plain'), body }],
      ['a +json type', { path: '/v2/request', headers: typed('application/vnd.api+json'), body }],
      ['no type', { path: '/v2/request', headers: { ...auth(p), 'Content-Length': String(body.length) }, body }],
      [
        'an empty body',
        { path: '/v2/request', headers: { ...typed('application/json'), 'Content-Length': '0' }, body: '' },
      ],
      [
        'chunked',
        {
          path: '/v2/request',
          headers: { ...auth(p), 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
          body,
        },
      ],
      [
        'gzip',
        {
          path: '/v2/request',
          headers: {
            ...typed('application/json'),
            'Content-Encoding': 'gzip',
            'Content-Length': String(gzipSync(body).length),
          },
          body: gzipSync(body),
        },
      ],
      ['another route', { path: '/v1/channels/web/webhook', headers: typed('application/json'), body }],
      ['charset=utf8', { path: '/v2/request', headers: typed('application/json; charset=utf8'), body }],
      [
        'over the body limit',
        {
          path: '/v2/request',
          headers: { ...typed('application/json'), 'Content-Length': String(BODY_LIMIT + 1) },
          body: `{"text": "${'a'.repeat(BODY_LIMIT - 11)}"}`,
        },
      ],
    ];
    for (const [what, request] of cases) {
      const answer = await send(fastUrl, request);
      expect([what, answer.status]).toEqual([what, 599]);
    }
    const get = await fetch(`${fastUrl}/v2/request`, { headers: auth(p) });
    expect(get.status).toBe(599);
  });

  it('the real server answers the plain case before Express, both paths alike, and logs the same entries', async () => {
    // Which requests reach Express: its app's handle is a spy (apps copy it when created).
    const application = express.application as unknown as { handle(req: { url: string }): void };
    const handle = vi.spyOn(application, 'handle');
    const { dir, tokens } = shared();
    const { url } = await serve(dir);
    const reached = () => handle.mock.calls.map(([req]) => req.url);
    const request = json(tokens.production, { text: 'what is on the menu?' });
    const fast = await send(url, { path: '/v2/request', ...request });
    expect(reached()).toEqual([]);
    const slow = await send(url, { path: '/v2/request/', ...request });
    expect(reached()).toEqual(['/v2/request/']);
    handle.mockRestore();
    expect(fast.status).toBe(200);
    expect([fast.headers, normal(fast.text)]).toEqual([slow.headers, normal(slow.text)]);
    const log = await getJson(`${url}/v1/logs`, auth(ADMIN_TOKEN, 'Bearer'));
    const entries = log.body.entries.map(({ time: _t, latencyMs: _l, ...rest }: Record<string, unknown>) => rest);
    expect(entries).toHaveLength(2);
    expect(entries[0]).toEqual(entries[1]);
    expect(entries[0]).toMatchObject({
      route: '/v2/request',
      status: 200,
      environment: 'production',
      intent: 'ask-menu',
    });
  });
});
