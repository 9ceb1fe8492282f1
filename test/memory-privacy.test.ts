import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyState, runTurn } from '../src/dialog/engine.js';
import { deeperThan, cloneData, jsonBytes, MAX_MEMORY_DEPTH } from '../src/dialog/limits.js';
import { renderTemplate } from '../src/dialog/templates.js';
import { MemoryConversationStore, type Conversation, type ConversationStore } from '../src/dialog/store.js';
import { tempDir } from './helpers.js';
import {
  ADMIN_TOKEN,
  auth,
  commitTo,
  eventually,
  getJson,
  metric,
  serve,
  sharedExampleWithTokens,
} from './resolver-helpers.js';

// Issue #9, break 3 and the privacy half of break 7: clients cannot grow the server's memory
// past a byte budget, cannot make a conversation fail with deep memory, cannot put a token into
// the request log through a message, and /readyz tells the public only what is not ready.

const example = sharedExampleWithTokens();
const admin = auth(ADMIN_TOKEN, 'Bearer');
const STATE = '/build/v1/users/u/bots/b/versions/v1/builder/conversation_states';

async function say(url: string, token: string, id: string, extra: Record<string, unknown> = {}, text = 'hello') {
  const res = await fetch(`${url}/build/v1/dialog`, {
    method: 'POST',
    headers: { ...auth(token), 'Content-Type': 'application/json' },
    body: JSON.stringify({ message: { type: 'text', content: text }, conversation_id: id, ...extra }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** `levels` arrays nested in one another, as JSON text (JSON.stringify would overflow on deep ones). */
const nestedJson = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

describe('the conversation store has a byte budget', () => {
  it('keeps the bytes it holds under the budget, evicting the least recent conversations, and reports it on /metrics', async () => {
    const { dir, tokens } = example();
    const budget = 512 * 1024;
    const { url } = await serve(dir, { conversationBytes: budget });
    const memory = { notes: 'n'.repeat(60_000) }; // just under the 64 KB a conversation may hold
    const ids = Array.from({ length: 30 }, (_, i) => `big-${i}`); // ~1.8 MB sent in all
    for (let i = 0; i < ids.length; i += 10) {
      const answers = await Promise.all(ids.slice(i, i + 10).map((id) => say(url, tokens.production, id, { memory })));
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    }
    const text = await (await fetch(`${url}/metrics`)).text();
    const held = metric(text, 'botver_conversation_bytes')!;
    expect(held).toBeGreaterThan(5 * 60_000); // it does hold conversations…
    expect(held).toBeLessThanOrEqual(budget); // …but never more than the budget
    expect(metric(text, 'botver_conversation_bytes_max')).toBe(budget);
    const kept = metric(text, 'botver_conversations')!;
    expect(kept).toBeLessThan(ids.length);
    expect(metric(text, 'botver_conversation_evictions_total')).toBe(ids.length - kept);
    // The oldest are gone, the newest kept, and a forgotten conversation simply starts over.
    expect((await getJson(`${url}${STATE}/${ids[0]}`, auth(tokens.production))).status).toBe(404);
    const newest = await getJson(`${url}${STATE}/${ids.at(-1)}`, auth(tokens.production));
    expect(newest.body.results.memory.notes === memory.notes).toBe(true); // (not toEqual: a 60 KB diff)
    expect((await say(url, tokens.production, ids[0]!)).status).toBe(200);
  });

  it('counts what it really holds: the stored JSON in UTF-8, three bytes for a €', async () => {
    const conv = (id: string, notes: string): Conversation => ({
      id,
      language: 'en',
      version: 'v1',
      commit: 'c'.repeat(40),
      updatedAt: Date.now(),
      ...emptyState(),
      memory: { notes },
    });
    const store = new MemoryConversationStore(100, 60_000, 50_000);
    await store.set('latin', conv('latin', 'a'.repeat(10_000)));
    const latin = store.stats().bytes;
    expect(latin).toBeGreaterThan(10_000);
    await store.set('wide', conv('wide', '€'.repeat(5_000)));
    expect(store.stats().bytes - latin).toBeGreaterThan(15_000);
    // A third one does not fit beside them: the least recently saved goes.
    await store.set('more', conv('more', 'b'.repeat(30_000)));
    expect(await store.get('latin')).toBeUndefined();
    expect((await store.get('wide'))?.memory).toEqual({ notes: '€'.repeat(5_000) });
    expect(store.stats()).toMatchObject({ conversations: 2, evictions: 1, maxBytes: 50_000 });
    expect(store.stats().bytes).toBeLessThanOrEqual(50_000);
    // What is stored is a copy: changing the object afterwards changes nothing.
    const c = conv('copy', 'x');
    await store.set('copy', c);
    c.memory.notes = 'changed';
    expect((await store.get('copy'))?.memory).toEqual({ notes: 'x' });
  });
});

describe('client memory is checked before anything is stored or processed', () => {
  it('measures memory as the UTF-8 bytes of its JSON without building it, exactly as JSON.stringify writes it', () => {
    const bytesOf = (v: unknown) => Buffer.byteLength(JSON.stringify(v), 'utf8');
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), (v, raw, text) => {
        // Binary strings hold lone surrogates and control characters: JSON.stringify escapes them.
        const mixed = [v, raw, text, { raw, [raw]: text, v }, [raw, undefined, () => 1, Symbol('s'), text]];
        for (const x of mixed) expect(jsonBytes(x)).toBe(bytesOf(x));
      }),
      { seed: 9, numRuns: 500 },
    );
    const edges = {
      a: undefined,
      n: Number.NaN,
      i: -Number.POSITIVE_INFINITY,
      z: -0,
      e: 1e21,
      f: 1e-7,
      d: new Date(0),
    };
    expect(jsonBytes(edges)).toBe(bytesOf(edges));
    const tricky = '\ud800x\udc00\ud800\udc00"\\\n\u0001\u007f€😀';
    expect(jsonBytes({ [tricky]: [tricky, { toJSON: () => tricky }] })).toBe(
      bytesOf({ [tricky]: [tricky, { toJSON: () => tricky }] }),
    );
  });

  it('memory nested 2,000 levels deep: 400 MEMORY_TOO_DEEP naming the limit; 100,000 levels: 413 before parsing; the conversation keeps working', async () => {
    const { dir, tokens } = example();
    const { url } = await serve(dir);
    expect((await say(url, tokens.production, 'deep', {}, 'I want to order a pizza')).status).toBe(200);
    for (const [levels, status, code, message] of [
      [2_000, 400, 'MEMORY_TOO_DEEP', `deeper than ${MAX_MEMORY_DEPTH} levels`],
      // 100,000 arrays are 100,000 JSON values: refused before JSON.parse builds them.
      [100_000, 413, 'PAYLOAD_TOO_LARGE', 'more than 10,000 JSON values'],
    ] as const) {
      const body = `{"message":{"type":"text","content":"large please"},"conversation_id":"deep","memory":{"x":${nestedJson(levels)}}}`;
      const res = await fetch(`${url}/build/v1/dialog`, {
        method: 'POST',
        headers: { ...auth(tokens.production), 'Content-Type': 'application/json' },
        body,
      });
      expect(res.status, `${levels} levels`).toBe(status);
      const error = ((await res.json()) as any).error;
      expect(error.code).toBe(code);
      expect(error.message).toContain(message);
    }
    // Nothing of it was kept, and the next messages are answered as if it had never come.
    for (let i = 0; i < 3; i++) {
      const next = await say(url, tokens.production, 'deep', {}, 'large please');
      expect(next.status).toBe(200);
      expect(JSON.stringify(next.body.results.conversation.memory)).not.toContain('[[');
    }
    // The limit itself: the memory object is level 1, so x may hold MAX - 1 more levels.
    const atLimit = JSON.parse(`{"x":${nestedJson(MAX_MEMORY_DEPTH - 1)}}`);
    const over = JSON.parse(`{"x":${nestedJson(MAX_MEMORY_DEPTH)}}`);
    expect((await say(url, tokens.production, 'edge', { memory: atLimit })).status).toBe(200);
    const refused = await say(url, tokens.production, 'edge2', { memory: over });
    expect([refused.status, refused.body.error.code]).toEqual([400, 'MEMORY_TOO_DEEP']);
    expect((await getJson(`${url}${STATE}/edge2`, auth(tokens.production))).status).toBe(404);
  });
});

describe('no stored state can make a conversation fail', () => {
  it('a state of 100,000 levels in a shared store is dropped: the conversation starts over with a 200, never a 500', async () => {
    const { dir, tokens } = example();
    // A shared store (as Redis would be) holding a state another resolver, or a hand, wrote.
    const map = new Map<string, Conversation>();
    const store: ConversationStore = {
      get: async (key) => map.get(key),
      set: async (key, c) => void map.set(key, c),
      delete: async (key) => map.delete(key),
    };
    const deep = JSON.parse(`{"x":${nestedJson(100_000)}}`) as Record<string, unknown>;
    const { url } = await serve(dir, { conversations: store });
    map.set('environment:production:stuck', {
      id: 'stuck',
      language: 'en',
      version: 'v1',
      commit: (await getJson(`${url}/v1/resolve`, auth(tokens.production))).body.commit,
      updatedAt: Date.now(),
      ...emptyState(),
      memory: deep,
    });
    // Its state is not shown (JSON.stringify would overflow): as good as gone, never a 500.
    expect((await getJson(`${url}${STATE}/stuck`, auth(tokens.production))).status).toBe(404);
    for (let i = 0; i < 3; i++) {
      const r = await say(url, tokens.production, 'stuck', {}, 'I want to order a pizza');
      expect(r.status).toBe(200);
      expect(r.body.results.conversation.memory.x).toBeUndefined();
    }
    expect(map.get('environment:production:stuck')?.memory.x).toBeUndefined();
  });

  it('the engine and the templates take data of any depth without overflowing the stack', () => {
    const deep = JSON.parse(`{"x":${nestedJson(100_000)}}`) as Record<string, unknown>;
    expect(deeperThan(deep, 100_000)).toBe(true);
    expect(deeperThan(deep, 100_001)).toBe(false);
    const copy = cloneData(deep);
    expect(copy === deep || copy.x === deep.x).toBe(false); // (not toBe: vitest would diff it recursively)
    expect(deeperThan(copy, 100_000)).toBe(true);
    const skills = [{ slug: 'echo', triggers: [{ intent: 'hi' }], actions: [{ reply: 'x={{memory.x}}' }] }];
    const turn = runTurn(
      skills,
      { ...emptyState(), memory: deep },
      { intents: [{ slug: 'hi', confidence: 1 }], entities: {} },
    );
    expect(turn.messages).toEqual([{ type: 'text', content: 'x=' }]); // too deep to show: rendered as missing
    expect(renderTemplate('{{memory.x}}', { memory: { x: [[1]] } })).toBe('[[1]]');
  });
});

describe('token-shaped strings never reach the request log', () => {
  const secrets = [
    'bvt_Q2hhbmdlTWVQbGVhc2UxMjM0NTY3ODkw',
    'bvs_c2VjcmV0LWNoYW5uZWwtc2VjcmV0LTEyMw',
    'Bearer eyJhbGciOiJIUzI1NiJ9.payload.signature',
  ];
  const message = `here is my token ${secrets[0]} and the secret ${secrets[1]}, Authorization: ${secrets[2]}`;

  it('with --log-text: redacted in /v1/logs and the JSON-lines file, from /v2/request and the dialog', async () => {
    const { dir, tokens } = example();
    const logFile = join(tempDir(), 'requests.jsonl');
    const resolver = await serve(dir, { logText: true, logFile });
    const { url } = resolver;
    const nlp = await fetch(`${url}/v2/request`, {
      method: 'POST',
      headers: { ...auth(tokens.production), 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: message }),
    });
    expect(nlp.status).toBe(200);
    expect((await say(url, tokens.production, 'leak', {}, message)).status).toBe(200);
    const feed = (await getJson(`${url}/v1/logs`, admin)).body.entries as { text?: string }[];
    const texts = feed.map((e) => e.text);
    expect(texts).toHaveLength(2);
    for (const text of texts) {
      expect(text).toContain('here is my token [Redacted] and the secret [Redacted], Authorization: Bearer [Redacted]');
    }
    await resolver.monitoring.log.close(); // flushed
    const file = readFileSync(logFile, 'utf8');
    expect(file).toContain('[Redacted]');
    for (const secret of secrets) {
      expect(JSON.stringify(feed)).not.toContain(secret.replace('Bearer ', ''));
      expect(file).not.toContain(secret.replace('Bearer ', ''));
    }
  });

  it('entries an older botver wrote with a token in them are redacted when loaded back', async () => {
    const { dir } = example();
    const logFile = join(tempDir(), 'requests.jsonl');
    const old = {
      time: new Date().toISOString(),
      environment: 'production',
      version: 'v1',
      commit: null,
      method: 'POST',
      route: '/v2/request',
      status: 200,
      latencyMs: 1,
      text: message,
    };
    writeFileSync(logFile, `${JSON.stringify(old)}\n`);
    const { url } = await serve(dir, { logText: true, logFile });
    const [entry] = (await getJson(`${url}/v1/logs`, admin)).body.entries;
    expect(entry.text).toContain('my token [Redacted]');
    for (const secret of secrets) expect(entry.text).not.toContain(secret.replace('Bearer ', ''));
  });
});

describe('/readyz: what is not ready for everyone, the details for the admin token', () => {
  it('a version whose head fails the schema: public scope, name and count only; the admin sees files, lines and commits', async () => {
    const { dir } = example();
    const { url } = await serve(dir, { logFile: '/dev/full' }); // also a request-log warning, named by a path
    const bad = await commitTo(dir, 'v2', { 'training/intents/broken.yaml': 'slug: broken\nexpressions: 5\n' });
    await fetch(`${url}/v1/resolve`); // a request, so a log line fails to be written
    const { value: pub } = await eventually('/readyz reports v2', async () => {
      const r = await getJson(`${url}/readyz`);
      return r.status === 503 && r.body.problems.length === 2 ? r : undefined;
    });
    expect(pub.body).toEqual({
      ready: false,
      problems: [
        { scope: 'version', name: 'v2', errorCount: expect.any(Number) },
        { scope: 'request-log', name: 'request-log', errorCount: 1 },
      ],
    });
    const text = JSON.stringify(pub.body);
    for (const hidden of [dir, '/dev/full', 'broken.yaml', bad, 'expressions']) expect(text).not.toContain(hidden);
    // A wrong token is no admin: the same public answer, not a 401 (probes send none).
    expect((await getJson(`${url}/readyz`, auth('not-the-admin-token', 'Bearer'))).body).toEqual(pub.body);
    // A load balancer's readiness probe: v2 is served from its last good commit, so this replica serves.
    const serving = await getJson(`${url}/readyz?probe=serving`);
    expect([serving.status, serving.body]).toEqual([200, { ...pub.body, ready: true }]);

    const full = await getJson(`${url}/readyz`, admin);
    expect(full.status).toBe(503);
    expect(full.body.manifestCommit).toMatch(/^[0-9a-f]{40}$/);
    expect(full.body.problems[0]).toMatchObject({ scope: 'version', name: 'v2', commit: bad });
    expect(full.body.problems[0].errors[0]).toMatchObject({ file: 'training/intents/broken.yaml', line: 2 });
    expect(full.body.problems[1]).toMatchObject({ scope: 'request-log', name: '/dev/full' });
    expect(pub.body.problems[0].errorCount).toBe(full.body.problems[0].errors.length);
  });
});
