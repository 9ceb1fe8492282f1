import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { ScriptedConversation, Skill, TestFile } from '../src/content/types.js';
import { emptyState, runTurn, type DialogState, type NlpEntity, type NlpResults } from '../src/dialog/engine.js';
import { renderDeep, renderTemplate } from '../src/dialog/templates.js';
import { MemoryConversationStore, type Conversation } from '../src/dialog/store.js';
import { ROOT, git, ok } from './helpers.js';
import {
  ADMIN_TOKEN,
  auth,
  commitTo,
  sharedExampleWithTokens,
  getJson,
  serve,
  waitForCommit,
  type Tokens,
} from './resolver-helpers.js';

// The skills engine (docs/formats.md) and the builder API serving it (docs/openapi.yaml): runTurn on
// hand-written skills and NLP results, then POST /build/v1/dialog and the conversation states
// on real bot repositories, through a real resolver on 127.0.0.1 and real fetch.

const EXAMPLE = join(ROOT, 'examples', 'awesome-bot');
const exampleText = (path: string) => readFileSync(join(EXAMPLE, path), 'utf8');

// ---------------------------------------------------------------------------------------
// runTurn: hand-written skills, hand-written NLP results, no server.

const ent = (value: string, raw = value): NlpEntity => ({ value, raw, confidence: 0.97 });

/** NLP results as the engine reads them: the top intent first, entities by slug. */
function nlp(
  intent: string | null,
  entities: Record<string, NlpEntity[]> = {},
  extra: Record<string, unknown> = {},
): NlpResults {
  return { intents: intent ? [{ slug: intent, confidence: 0.93 }] : [], entities, ...extra };
}

/** Runs messages one after another from `state`; returns every turn. */
function converse(skills: readonly Skill[], messages: NlpResults[], state: DialogState = emptyState()) {
  const turns: ReturnType<typeof runTurn>[] = [];
  for (const m of messages) {
    const turn = runTurn(skills, state, m);
    turns.push(turn);
    state = turn.state;
  }
  return turns;
}

const texts = (turn: { messages: { content: unknown }[] }) => turn.messages.map((m) => m.content);

const FALLBACK: Skill = { slug: 'fallback', fallback: true, actions: [{ reply: 'Sorry?' }] };

const ORDER: Skill = {
  slug: 'order',
  triggers: [{ intent: 'order' }],
  requirements: [
    { entity: 'pizza-size', alias: 'size', ask: 'What size?' },
    { entity: 'pizza-topping', alias: 'topping', ask: 'Which topping?' },
  ],
  actions: [{ reply: 'One {{memory.size.value}} {{memory.topping.value}} pizza!' }, { end: true }],
};

const HOURS: Skill = { slug: 'hours', triggers: [{ intent: 'hours' }], actions: [{ reply: 'We open at 11.' }] };

describe('runTurn: choosing the skill', () => {
  it('starts the skill whose intent trigger is the top intent (only the top one counts)', () => {
    const skills: Skill[] = [
      HOURS,
      { slug: 'menu', triggers: [{ intent: 'menu' }], actions: [{ reply: 'The menu.' }] },
      FALLBACK,
    ];
    const turn = runTurn(skills, emptyState(), nlp('menu'));
    expect(turn).toEqual({
      state: { memory: {}, skill: null, skill_stack: [], skill_occurences: { menu: 1 } },
      messages: [{ type: 'text', content: 'The menu.' }],
      skill: 'menu',
      ended: false,
    });
    // A second-ranked intent is not a trigger.
    const second = runTurn(skills, emptyState(), {
      intents: [
        { slug: 'weather', confidence: 0.9 },
        { slug: 'hours', confidence: 0.8 },
      ],
      entities: {},
    });
    expect(second.skill).toBe('fallback');
  });

  it('starts a skill on an entity trigger when the entity is present, and fills its requirement from it', () => {
    const status: Skill = {
      slug: 'status',
      triggers: [{ intent: 'status' }, { entity: 'order-number' }],
      requirements: [{ entity: 'order-number', alias: 'order', ask: 'Your order number?' }],
      actions: [{ reply: 'Order {{memory.order.value}} is in the oven.' }, { unset: ['order'] }],
    };
    const skills = [HOURS, status, FALLBACK];
    const bare = runTurn(skills, emptyState(), nlp(null, { 'order-number': [ent('AB1234')] }));
    expect(bare.skill).toBe('status');
    expect(texts(bare)).toEqual(['Order AB1234 is in the oven.']);
    expect(bare.state.memory).toEqual({}); // unset
    // Without the entity (and without the intent) it does not start.
    expect(runTurn(skills, emptyState(), nlp(null, { 'pizza-size': [ent('large')] })).skill).toBe('fallback');
    // By intent, without the entity: it asks.
    const asked = runTurn(skills, emptyState(), nlp('status'));
    expect(texts(asked)).toEqual(['Your order number?']);
    expect(asked.state.skill).toBe('status');
  });

  it('prefers an intent trigger to an entity trigger to a memory trigger, and the first skill within a kind', () => {
    const byMemory: Skill = { slug: 'by-memory', triggers: [{ memory: 'vip' }], actions: [{ reply: 'memory' }] };
    const byEntity: Skill = { slug: 'by-entity', triggers: [{ entity: 'city' }], actions: [{ reply: 'entity' }] };
    const byIntent: Skill = { slug: 'by-intent', triggers: [{ intent: 'travel' }], actions: [{ reply: 'intent' }] };
    const byIntentToo: Skill = {
      slug: 'by-intent-too',
      triggers: [{ intent: 'travel' }],
      actions: [{ reply: 'intent too' }],
    };
    const skills = [byMemory, byEntity, byIntent, byIntentToo, FALLBACK];
    const vip: DialogState = { ...emptyState(), memory: { vip: true } };
    expect(runTurn(skills, vip, nlp('travel', { city: [ent('Paris')] })).skill).toBe('by-intent');
    expect(runTurn(skills, vip, nlp('other', { city: [ent('Paris')] })).skill).toBe('by-entity');
    expect(runTurn(skills, vip, nlp('other')).skill).toBe('by-memory');
    expect(runTurn(skills, emptyState(), nlp('other')).skill).toBe('fallback');
  });

  it('memory triggers: set, exists true, exists false (null counts as absent)', () => {
    const set: Skill = { slug: 'set', triggers: [{ memory: 'greeted' }], actions: [{ reply: 'set' }] };
    const existsTrue: Skill = {
      slug: 'exists-true',
      triggers: [{ memory: 'greeted', exists: true }],
      actions: [{ reply: 'exists' }],
    };
    const existsFalse: Skill = {
      slug: 'exists-false',
      triggers: [{ memory: 'greeted', exists: false }],
      actions: [{ reply: 'new here' }],
    };
    const m = (memory: Record<string, unknown>): DialogState => ({ ...emptyState(), memory });
    for (const [memory, want] of [
      [{}, ['fallback', 'fallback', 'exists-false']],
      [{ greeted: true }, ['set', 'exists-true', 'fallback']],
      [{ greeted: false }, ['set', 'exists-true', 'fallback']], // false is a value: the key exists
      [{ greeted: null }, ['fallback', 'fallback', 'exists-false']],
    ] as const) {
      const got = [set, existsTrue, existsFalse].map((s) => runTurn([s, FALLBACK], m(memory), nlp(null)).skill);
      expect(got, JSON.stringify(memory)).toEqual(want);
    }
  });

  it('memory equals: on a plain value (as `set` stores it) and on an entity stored by a requirement (its value)', () => {
    const greeter: Skill = {
      slug: 'greeter',
      triggers: [{ intent: 'hello' }],
      actions: [{ reply: 'Hello!' }, { set: { mood: 'happy', visits: 2, vip: true } }],
    };
    const happy: Skill = {
      slug: 'happy',
      triggers: [{ memory: 'mood', equals: 'happy' }],
      actions: [{ reply: 'Glad you are happy.' }],
    };
    const twice: Skill = {
      slug: 'twice',
      triggers: [{ memory: 'visits', equals: 2 }],
      actions: [{ reply: 'Second visit.' }],
    };
    const sizer: Skill = {
      slug: 'sizer',
      triggers: [{ intent: 'size' }],
      requirements: [{ entity: 'pizza-size', alias: 'size', ask: 'Which size?' }],
      actions: [{ reply: 'Noted.' }],
    };
    const large: Skill = {
      slug: 'large',
      triggers: [{ memory: 'size', equals: 'large', exists: true }],
      actions: [{ reply: 'Large it is.' }],
    };

    // Plain values.
    let [, after] = converse([greeter, happy, FALLBACK], [nlp('hello'), nlp(null)]);
    expect(after!.skill).toBe('happy');
    [, after] = converse([greeter, twice, FALLBACK], [nlp('hello'), nlp(null)]);
    expect(after!.skill).toBe('twice');
    const sad: DialogState = { ...emptyState(), memory: { mood: 'sad' } };
    expect(runTurn([happy, FALLBACK], sad, nlp(null)).skill).toBe('fallback');

    // An entity stored by a requirement: compared by its value.
    const turns = converse(
      [sizer, large, FALLBACK],
      [nlp('size'), nlp(null, { 'pizza-size': [ent('large', 'big')] }), nlp(null)],
    );
    expect(turns.map((t) => t.skill)).toEqual(['sizer', 'sizer', 'large']);
    expect(turns[1]!.state.memory.size).toEqual(ent('large', 'big'));
    const small = converse([sizer, large, FALLBACK], [nlp('size', { 'pizza-size': [ent('small')] }), nlp(null)]);
    expect(small.map((t) => t.skill)).toEqual(['sizer', 'fallback']);
  });

  it('answers with the fallback skill when nothing matches, and with nothing when there is no skill at all', () => {
    const fallback = runTurn([HOURS, FALLBACK], emptyState(), nlp('weather'));
    expect(fallback).toEqual({
      state: { memory: {}, skill: null, skill_stack: [], skill_occurences: { fallback: 1 } },
      messages: [{ type: 'text', content: 'Sorry?' }],
      skill: 'fallback',
      ended: false,
    });
    for (const skills of [[], [HOURS]]) {
      const none = runTurn(skills, emptyState(), nlp('weather'));
      expect(none).toEqual({ state: emptyState(), messages: [], skill: null, ended: false });
    }
  });

  it('does not change the state it is given', () => {
    const state: DialogState = {
      memory: { size: ent('large') },
      skill: 'order',
      skill_stack: [],
      skill_occurences: { order: 1 },
    };
    const copy = structuredClone(state);
    const turn = runTurn([ORDER, HOURS, FALLBACK], state, nlp('hours'));
    expect(turn.state).not.toEqual(copy);
    expect(state).toEqual(copy);
  });
});

describe('runTurn: requirements', () => {
  it('asks for the requirements in order, repeats the question while one is missing, and stores each entity under its alias', () => {
    const skills = [ORDER, HOURS, FALLBACK];
    const turns = converse(skills, [
      nlp('order'),
      nlp(null), // nothing useful: the same question again
      nlp(null, { 'pizza-topping': [ent('pepperoni')] }), // the second requirement, before the first
      nlp(null, { 'pizza-size': [ent('large', 'big')] }),
    ]);
    expect(turns.map(texts)).toEqual([['What size?'], ['What size?'], ['What size?'], ['One large pepperoni pizza!']]);
    expect(turns.map((t) => t.skill)).toEqual(['order', 'order', 'order', 'order']);
    expect(turns[2]!.state).toEqual({
      memory: { topping: ent('pepperoni') },
      skill: 'order',
      skill_stack: [],
      skill_occurences: { order: 3 },
    });
    expect(turns[3]!.ended).toBe(true);
  });

  it('fills every requirement one message carries, and two entities of one kind fill two requirements in order', () => {
    expect(
      texts(
        runTurn([ORDER], emptyState(), nlp('order', { 'pizza-size': [ent('small')], 'pizza-topping': [ent('ham')] })),
      ),
    ).toEqual(['One small ham pizza!']);

    const trip: Skill = {
      slug: 'trip',
      triggers: [{ intent: 'trip' }],
      requirements: [
        { entity: 'city', alias: 'origin', ask: 'From where?' },
        { entity: 'city', alias: 'destination', ask: 'To where?' },
      ],
      actions: [{ reply: 'From {{memory.origin.value}} to {{memory.destination.value}}.' }],
    };
    const both = runTurn([trip], emptyState(), nlp('trip', { city: [ent('Paris'), ent('Rome')] }));
    expect(texts(both)).toEqual(['From Paris to Rome.']);
    expect(both.state.memory).toEqual({ origin: ent('Paris'), destination: ent('Rome') });

    // One at a time: the first fills the first missing one, the next the second.
    const steps = converse([trip], [nlp('trip', { city: [ent('Oslo')] }), nlp(null, { city: [ent('Bergen')] })]);
    expect(steps.map(texts)).toEqual([['To where?'], ['From Oslo to Bergen.']]);
  });

  it('keeps a message that carries an entity the skill in progress needs, even when another skill’s intent matches it', () => {
    const skills = [ORDER, HOURS, FALLBACK];
    const [, answer] = converse(skills, [nlp('order'), nlp('hours', { 'pizza-size': [ent('medium')] })]);
    expect(answer!.skill).toBe('order');
    expect(texts(answer!)).toEqual(['Which topping?']);
    expect(answer!.state.skill_stack).toEqual([]);
  });

  it('asks with a rich message and fills a requirement from memory the caller put in the state', () => {
    const rich: Skill = {
      slug: 'rich',
      triggers: [{ intent: 'order' }],
      requirements: [
        {
          entity: 'pizza-size',
          alias: 'size',
          ask: {
            type: 'quickReplies',
            content: { title: 'Size for {{memory.name}}?', buttons: [{ title: 'Small', value: 'small' }] },
          },
        },
        { entity: 'pizza-topping', alias: 'topping', ask: 'Topping?' },
      ],
      actions: [{ reply: '{{memory.size.value}} {{memory.topping.value}}' }],
    };
    const asked = runTurn([rich], { ...emptyState(), memory: { name: 'Ada' } }, nlp('order'));
    expect(asked.messages).toEqual([
      { type: 'quickReplies', content: { title: 'Size for Ada?', buttons: [{ title: 'Small', value: 'small' }] } },
    ]);
    // Memory merged in by the client (here: put in the state) counts as filled.
    const prefilled = runTurn([rich], { ...emptyState(), memory: { size: { value: 'large' } } }, nlp('order'));
    expect(texts(prefilled)).toEqual(['Topping?']);
  });
});

describe('runTurn: actions', () => {
  it('replies with templates over memory and the NLP results; a missing value renders as nothing', () => {
    const echo: Skill = {
      slug: 'echo',
      triggers: [{ intent: 'echo' }],
      actions: [
        {
          reply:
            'intent={{nlp.intents.0.slug}} conf={{ nlp.intents.0.confidence }} source={{nlp.source}} entity={{nlp.entities.city.0.raw}}',
        },
        {
          reply:
            'name={{memory.name}} size={{memory.size.value}} missing=[{{memory.nope}}][{{memory.name.value}}][{{nlp.intents.3.slug}}]',
        },
        { reply: 'object={{memory.size}}' },
      ],
    };
    const state: DialogState = { ...emptyState(), memory: { name: 'Ada', size: { value: 'large' } } };
    const turn = runTurn([echo], state, nlp('echo', { city: [ent('Paris', 'paris')] }, { source: 'to paris' }));
    expect(texts(turn)).toEqual([
      'intent=echo conf=0.93 source=to paris entity=paris',
      'name=Ada size=large missing=[][][]',
      'object={"value":"large"}',
    ]);
  });

  it('renders every string inside a rich reply and leaves the rest of it as it is', () => {
    const card: Skill = {
      slug: 'card',
      triggers: [{ intent: 'card' }],
      actions: [
        {
          reply: {
            type: 'card',
            content: {
              title: 'Hi {{memory.name}}',
              subtitle: '{{nlp.intents.0.slug}}',
              count: 3,
              ok: true,
              none: null,
              buttons: [{ title: '{{memory.size.value}}', type: 'postback', value: 'order {{memory.size.value}}' }],
            },
          },
        },
      ],
    };
    const turn = runTurn([card], { ...emptyState(), memory: { name: 'Ada', size: ent('small') } }, nlp('card'));
    expect(turn.messages).toEqual([
      {
        type: 'card',
        content: {
          title: 'Hi Ada',
          subtitle: 'card',
          count: 3,
          ok: true,
          none: null,
          buttons: [{ title: 'small', type: 'postback', value: 'order small' }],
        },
      },
    ]);
  });

  it('set and unset change memory, in order with the replies', () => {
    const skill: Skill = {
      slug: 'mem',
      triggers: [{ intent: 'mem' }],
      actions: [
        { set: { a: 'one', b: 2, c: true } },
        { reply: '{{memory.a}} {{memory.b}} {{memory.c}}' },
        { unset: ['a', 'c', 'never-set'] },
        { reply: '[{{memory.a}}] {{memory.b}} [{{memory.c}}]' },
        { set: { b: 3 } },
      ],
    };
    const turn = runTurn([skill], { ...emptyState(), memory: { kept: 'x' } }, nlp('mem'));
    expect(texts(turn)).toEqual(['one 2 true', '[] 2 []']);
    expect(turn.state.memory).toEqual({ kept: 'x', b: 3 });
    expect(turn.ended).toBe(false);
  });

  it('end clears memory and the skill stack: the conversation is over, later actions do not run', () => {
    const bye: Skill = {
      slug: 'bye',
      triggers: [{ intent: 'bye' }],
      actions: [{ reply: 'Bye {{memory.name}}' }, { end: true }, { reply: 'never' }],
    };
    const skills = [ORDER, bye, FALLBACK];
    const [asked, ended] = converse(skills, [nlp('order'), nlp('bye')], { ...emptyState(), memory: { name: 'Ada' } });
    expect(asked!.state.skill).toBe('order');
    expect(ended).toEqual({
      state: emptyState(),
      messages: [{ type: 'text', content: 'Bye Ada' }],
      skill: 'bye',
      ended: true,
    });
  });
});

describe('runTurn: the skill stack and skill occurrences', () => {
  it('puts the skill in progress on the stack when another skill’s intent takes over, and resumes it afterwards', () => {
    const address: Skill = {
      slug: 'address',
      triggers: [{ intent: 'deliver' }],
      requirements: [{ entity: 'street', alias: 'street', ask: 'Which street?' }],
      actions: [{ reply: 'Delivering to {{memory.street.value}}.' }],
    };
    const skills = [ORDER, HOURS, address, FALLBACK];
    const turns = converse(skills, [
      nlp('order', { 'pizza-size': [ent('large')] }), // asks the topping
      nlp('hours'), // answers, then order resumes with its next missing requirement
      nlp('deliver'), // interrupts and itself asks: order waits on the stack
      nlp(null, { street: [ent('Main Street')] }), // address done, order resumes
      nlp(null, { 'pizza-topping': [ent('ham')] }),
    ]);
    expect(turns.map(texts)).toEqual([
      ['Which topping?'],
      ['We open at 11.', 'Which topping?'],
      ['Which street?'],
      ['Delivering to Main Street.', 'Which topping?'],
      ['One large ham pizza!'],
    ]);
    expect(turns.map((t) => t.skill)).toEqual(['order', 'hours', 'address', 'address', 'order']);
    expect(turns.map((t) => [t.state.skill, t.state.skill_stack])).toEqual([
      ['order', []],
      ['order', []],
      ['address', ['order']],
      ['order', []],
      [null, []],
    ]);
    expect(turns[3]!.state.skill_occurences).toEqual({ order: 1, hours: 1, address: 2 });
  });

  it('continues the skill in progress when no other intent trigger matches (the fallback does not take over)', () => {
    const [, again] = converse([ORDER, HOURS, FALLBACK], [nlp('order'), nlp('weather')]);
    expect(again!.skill).toBe('order');
    expect(texts(again!)).toEqual(['What size?']);
  });

  it('counts per skill how many messages each answered', () => {
    const turns = converse(
      [ORDER, HOURS, FALLBACK],
      [nlp('hours'), nlp('hours'), nlp('x'), nlp('order'), nlp(null, { 'pizza-size': [ent('small')] })],
    );
    expect(turns.map((t) => t.state.skill_occurences)).toEqual([
      { hours: 1 },
      { hours: 2 },
      { hours: 2, fallback: 1 },
      { hours: 2, fallback: 1, order: 1 },
      { hours: 2, fallback: 1, order: 2 },
    ]);
  });
});

describe('templates and the conversation store', () => {
  it('looks paths up in plain data only: nothing is evaluated, inherited members and re-rendering are out of reach', () => {
    const scope = { memory: { name: '{{memory.secret}}', secret: 's3cret', list: ['a', 'b'] }, nlp: { intents: [] } };
    expect(renderTemplate('{{memory.name}}', scope)).toBe('{{memory.secret}}'); // a value is never rendered again
    expect(
      renderTemplate(
        '[{{memory.constructor}}][{{memory.__proto__}}][{{memory.name.length}}][{{memory.toString}}]',
        scope,
      ),
    ).toBe('[][][][]');
    expect(
      renderTemplate('{{memory.list.1}} {{ memory.list }} {{memory.secret + 1}} {{process.env.HOME}}', scope),
    ).toBe('b ["a","b"] {{memory.secret + 1}} ');
    expect(renderDeep([1, '{{memory.list.0}}', { a: ['{{memory.secret}}'] }], scope)).toEqual([
      1,
      'a',
      { a: ['s3cret'] },
    ]);
  });

  it('MemoryConversationStore forgets the least recently saved past capacity, and a conversation idle too long', async () => {
    const conv = (id: string): Conversation => ({
      id,
      language: 'en',
      version: 'v1',
      commit: 'c'.repeat(40),
      updatedAt: Date.now(),
      ...emptyState(),
    });
    const store = new MemoryConversationStore(2, 60_000);
    await store.set('a', conv('a'));
    await store.set('b', conv('b'));
    await store.set('a', conv('a')); // a is now the most recent
    await store.set('c', conv('c'));
    expect([await store.get('a'), await store.get('b'), await store.get('c')].map((c) => c?.id)).toEqual([
      'a',
      undefined,
      'c',
    ]);
    expect(await store.delete('a')).toBe(true);
    expect(await store.delete('a')).toBe(false);

    // Idle: judged by the conversation's last message (updatedAt), no waiting needed.
    const idle = new MemoryConversationStore(10, 60_000);
    await idle.set('fresh', conv('fresh'));
    await idle.set('stale', { ...conv('stale'), updatedAt: Date.now() - 61_000 });
    expect((await idle.get('fresh'))?.id).toBe('fresh');
    expect(await idle.get('stale')).toBeUndefined();
    expect(await idle.delete('stale')).toBe(false); // forgotten, not just hidden
  });
});

// ---------------------------------------------------------------------------------------
// POST /build/v1/dialog and the conversation states, over HTTP.

const admin = auth(ADMIN_TOKEN, 'Bearer');
const json = { 'Content-Type': 'application/json' };

async function post(
  url: string,
  token: string | null,
  body: unknown,
): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${url}/build/v1/dialog`, {
    method: 'POST',
    headers: { ...json, ...(token ? auth(token) : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

/** One message of a conversation; expects 200 and returns `results`. */
async function say(
  url: string,
  token: string,
  conversationId: string,
  text: string,
  extra: Record<string, unknown> = {},
): Promise<any> {
  const r = await post(url, token, {
    message: { type: 'text', content: text },
    conversation_id: conversationId,
    ...extra,
  });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body.message).toBe('Dialog rendered with success');
  return r.body.results;
}

const statePath = (id: string) =>
  `/build/v1/users/someone/bots/awesome-bot/versions/any/builder/conversation_states/${encodeURIComponent(id)}`;

async function state(url: string, token: string, id: string, method = 'GET'): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${statePath(id)}`, { method, headers: auth(token) });
  return { status: res.status, body: await res.json() };
}

const replies = (results: any): unknown[] =>
  results.messages.map((m: { type: string; content: unknown }) =>
    m.type === 'text' ? m.content : JSON.stringify(m.content),
  );

const shared = sharedExampleWithTokens({ trained: true });

async function example(): Promise<{ dir: string; tokens: Tokens; url: string }> {
  const { dir, tokens } = shared();
  const resolver = await serve(dir);
  return { dir, tokens, url: resolver.url };
}

/** The request log feed (newest first), dialog requests only. */
async function dialogLog(url: string, query = ''): Promise<any[]> {
  const r = await getJson(`${url}/v1/logs?limit=1000${query}`, admin);
  expect(r.status).toBe(200);
  return r.body.entries.filter((e: { route: string }) => e.route === '/build/v1/dialog');
}

describe('POST /build/v1/dialog', () => {
  it('plays the example bot’s scripted conversations (tests/smoke.yaml) with exactly the expected replies and skills', async () => {
    const { dir, tokens, url } = await example();
    const smoke = parse(exampleText('tests/smoke.yaml')) as TestFile;
    const conversations: ScriptedConversation[] = smoke.conversations ?? [];
    expect(conversations.length).toBeGreaterThan(0);
    const v1 = git(dir, 'rev-parse', 'refs/heads/v1');
    for (const conversation of conversations) {
      for (const [i, step] of conversation.steps.entries()) {
        const results = await say(
          url,
          tokens.production,
          conversation.name,
          step.say,
          smoke.language ? { language: smoke.language } : {},
        );
        const where = `"${conversation.name}", step ${i + 1} "${step.say}"`;
        expect(replies(results), where).toEqual(step.expect);
        if (step.expectSkill) expect(results.conversation.skill, where).toBe(step.expectSkill);
        expect(results.conversation.id).toBe(conversation.name);
        expect(results.nlp.source).toBe(step.say);
        expect(results.nlp.botver).toEqual({ environment: 'production', version: 'v1', commit: v1 });
      }
    }
  });

  it('answers in the platform’s shape, shows a rich message, keeps state between messages and merges the client’s memory (shallow)', async () => {
    const { dir, tokens, url } = await example();
    const v1 = git(dir, 'rev-parse', 'refs/heads/v1');

    const first = await say(url, tokens.production, 'merge', 'I want to order a pizza', {
      memory: { customer: 'Ada' },
    });
    expect(Object.keys(first)).toEqual(['messages', 'conversation', 'nlp']);
    expect(first.messages).toEqual([
      { type: 'text', content: 'What size would you like? We have small, medium and large.' },
    ]);
    expect(first.conversation).toEqual({
      id: 'merge',
      language: 'en',
      memory: { customer: 'Ada' },
      skill: 'order-pizza',
      skill_stack: [],
      skill_occurences: { 'order-pizza': 1 },
    });
    expect(first.nlp.intents[0]).toMatchObject({ slug: 'order-pizza' });

    // The menu interrupts the order (a rich list, then text), and the order resumes.
    const menu = await say(url, tokens.production, 'merge', 'what pizzas are on the menu?');
    const skill = parse(exampleText('skills/ask-menu.yaml')) as { actions: { reply: unknown }[] };
    expect(menu.messages).toEqual([
      skill.actions[0]!.reply,
      { type: 'text', content: skill.actions[1]!.reply },
      first.messages[0],
    ]);
    expect(menu.conversation).toMatchObject({
      skill: 'ask-menu',
      skill_stack: [],
      skill_occurences: { 'order-pizza': 1, 'ask-menu': 1 },
    });

    const sized = await say(url, tokens.production, 'merge', 'large please', { memory: { customer: 'Bob', table: 4 } });
    expect(replies(sized)).toEqual(['Which topping would you like?']);
    expect(sized.conversation.memory).toEqual({
      customer: 'Bob',
      table: 4,
      size: expect.objectContaining({ value: 'large' }),
    });

    const read = await state(url, tokens.production, 'merge');
    expect(read).toEqual({
      status: 200,
      body: {
        results: {
          id: 'merge',
          language: 'en',
          memory: sized.conversation.memory,
          skill: 'order-pizza',
          skill_stack: [],
          skill_occurences: { 'order-pizza': 2, 'ask-menu': 1 },
          version: 'v1',
          commit: v1,
        },
        message: 'Conversation state rendered with success',
      },
    });

    // Shallow: the client's `size` replaces the stored entity as a whole.
    const done = await say(url, tokens.production, 'merge', 'pepperoni', { memory: { size: { value: 'small' } } });
    expect(replies(done)).toEqual(['One small pepperoni pizza coming up! It will be with you in about 30 minutes.']);
    expect(done.conversation).toMatchObject({ memory: {}, skill: 'order-pizza', skill_stack: [] });
    expect((await state(url, tokens.production, 'merge')).status).toBe(404); // ended: forgotten

    // Memory sent with the first message fills a requirement before it is asked.
    const prefilled = await say(url, tokens.production, 'prefilled', 'I want to order a pizza', {
      memory: { size: { value: 'medium' } },
    });
    expect(replies(prefilled)).toEqual(['Which topping would you like?']);
  });

  it('reads a conversation’s state and resets it: afterwards GET is 404 and the next message starts afresh', async () => {
    const { tokens, url } = await example();
    await say(url, tokens.production, 'reset me', 'hi there');
    await say(url, tokens.production, 'reset me', 'I want to order a pizza');
    const before = await state(url, tokens.production, 'reset me');
    expect(before.status).toBe(200);
    expect(before.body.results).toMatchObject({
      id: 'reset me',
      memory: { greeted: true },
      skill: 'order-pizza',
      skill_occurences: { greetings: 1, 'order-pizza': 1 },
    });

    expect(await state(url, tokens.production, 'reset me', 'DELETE')).toEqual({
      status: 200,
      body: { results: null, message: 'Conversation state reset with success' },
    });
    expect(await state(url, tokens.production, 'reset me')).toEqual({
      status: 404,
      body: { error: { code: 'NOT_FOUND', message: 'no conversation "reset me"' } },
    });
    expect((await state(url, tokens.production, 'reset me', 'DELETE')).status).toBe(404);
    expect((await state(url, tokens.production, 'never existed')).status).toBe(404);

    // Fresh: no order in progress, no memory, counts from zero.
    const fresh = await say(url, tokens.production, 'reset me', 'hi there');
    expect(fresh.conversation).toEqual({
      id: 'reset me',
      language: 'en',
      memory: { greeted: true },
      skill: 'greetings',
      skill_stack: [],
      skill_occurences: { greetings: 1 },
    });
  });

  it('keeps a conversation started with a version token apart from one with the same id started with an environment token', async () => {
    const { tokens, url } = await example();
    // staging -> v2: both tokens serve the same commit, yet the conversations are two.
    const byEnv = await say(url, tokens.staging, 'same-id', 'I want to order a pizza');
    expect(byEnv.conversation.skill).toBe('order-pizza');
    const byVersion = await say(url, tokens.v2, 'same-id', 'thank you very much');
    expect(byVersion.conversation).toMatchObject({ skill: 'thanks', memory: {}, skill_occurences: { thanks: 1 } }); // not the order waiting for a size
    expect(byVersion.nlp.botver).toMatchObject({ environment: null, version: 'v2' });

    expect((await state(url, tokens.staging, 'same-id')).body.results).toMatchObject({
      skill: 'order-pizza',
      memory: {},
    });
    expect((await state(url, tokens.production, 'same-id')).status).toBe(404); // another environment, same id
    await say(url, tokens.v2, 'same-id', 'hi there');
    expect((await state(url, tokens.v2, 'same-id')).body.results).toMatchObject({
      memory: { greeted: true },
      skill_occurences: { thanks: 1, greetings: 1 },
    });
    expect((await state(url, tokens.v2, 'same-id', 'DELETE')).status).toBe(200);
    const env = await state(url, tokens.staging, 'same-id');
    expect(env.status).toBe(200);
    expect(env.body.results.memory).toEqual({});

    // The staging conversation carries on where it was.
    expect(replies(await say(url, tokens.staging, 'same-id', 'large please'))).toEqual([
      'Which topping would you like?',
    ]);
  });

  it('refuses malformed bodies (400), missing or unknown tokens (401) and other methods (405)', async () => {
    const { tokens, url } = await example();
    const t = tokens.production;
    const message = { type: 'text', content: 'hi there' };
    const bad = [
      {},
      { conversation_id: 'c' },
      { message: 'hi there', conversation_id: 'c' },
      { message: { content: 'hi there' }, conversation_id: 'c' },
      { message },
      { message, conversation_id: '' },
      { message, conversation_id: 'x'.repeat(257) },
      { message, conversation_id: { id: 'c' } },
      { message, conversation_id: 'c', memory: [] },
      { message, conversation_id: 'c', memory: null },
      { message, conversation_id: 'c', memory: 'size=large' },
      { message, conversation_id: 'c', language: 'english' },
      [],
    ];
    for (const body of bad) {
      const r = await post(url, t, body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(r.body.error.code).toBe('BAD_REQUEST');
    }
    expect((await post(url, t, '{"message":')).body).toMatchObject({ error: { code: 'MALFORMED_JSON' } });
    expect((await post(url, t, { message, conversation_id: 'x'.repeat(256) })).status).toBe(200);
    expect((await post(url, t, { message, conversation_id: 42 })).body.results.conversation.id).toBe('42');
    // Nothing refused left a conversation behind.
    expect((await state(url, t, 'c')).status).toBe(404);

    const unauthorized = { error: { code: 'UNAUTHORIZED', message: expect.any(String) } };
    for (const token of [null, 'bvt_not-a-real-token', ADMIN_TOKEN]) {
      const r = await post(url, token, { message, conversation_id: 'c' });
      expect(r.status).toBe(401);
      expect(r.body).toEqual(unauthorized);
    }
    for (const method of ['GET', 'DELETE']) {
      const r = await fetch(`${url}${statePath('c')}`, { method });
      expect(r.status).toBe(401);
      const wrong = await fetch(`${url}${statePath('c')}`, { method, headers: auth('bvt_nope') });
      expect(wrong.status).toBe(401);
      expect(await wrong.json()).toEqual(unauthorized);
    }

    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
      const r = await fetch(`${url}/build/v1/dialog`, { method, headers: auth(t) });
      expect(r.status, method).toBe(405);
      expect(r.headers.get('allow')).toBe('POST');
      expect(((await r.json()) as any).error.code).toBe('METHOD_NOT_ALLOWED');
    }
    for (const method of ['POST', 'PUT']) {
      const r = await fetch(`${url}${statePath('c')}`, { method, headers: { ...json, ...auth(t) }, body: '{}' });
      expect(r.status, method).toBe(405);
      expect(r.headers.get('allow')).toBe('GET, DELETE');
    }
  });

  it('keeps a conversation on the version and commit it started on across a promotion, until it ends', async () => {
    const { dir, tokens } = shared();
    const original = exampleText('skills/order-pizza.yaml');
    const changed = original
      .replace('What size would you like?', 'V2 wants a size.')
      .replace('Which topping would you like?', 'V2 wants a topping.')
      .replace('coming up!', 'coming up from v2!');
    expect(changed.match(/V2 wants|from v2/g)).toHaveLength(3);
    const v2 = await commitTo(dir, 'v2', { 'skills/order-pizza.yaml': changed }, 'v2: new wording');
    const v1 = git(dir, 'rev-parse', 'refs/heads/v1');
    const { url } = await serve(dir);

    const asked = await say(url, tokens.staging, 'promo', 'I want to order a pizza');
    expect(replies(asked)).toEqual(['V2 wants a size. We have small, medium and large.']);
    expect(asked.nlp.botver).toEqual({ environment: 'staging', version: 'v2', commit: v2 });

    await ok(dir, 'env', 'set', 'staging', 'v1');
    await waitForCommit(url, tokens.staging, v1);

    // A conversation started after the promotion is on v1 ...
    const other = await say(url, tokens.staging, 'after', 'I want to order a pizza');
    expect(replies(other)).toEqual(['What size would you like? We have small, medium and large.']);
    expect(other.nlp.botver).toEqual({ environment: 'staging', version: 'v1', commit: v1 });

    // ... the one in progress stays on v2.
    const sized = await say(url, tokens.staging, 'promo', 'large please');
    expect(replies(sized)).toEqual(['V2 wants a topping.']);
    expect(sized.nlp.botver).toEqual({ environment: 'staging', version: 'v2', commit: v2 });
    expect((await state(url, tokens.staging, 'promo')).body.results).toMatchObject({
      version: 'v2',
      commit: v2,
      skill: 'order-pizza',
    });
    const [entry] = await dialogLog(url);
    expect(entry).toMatchObject({
      environment: 'staging',
      version: 'v2',
      commit: v2,
      status: 200,
      method: 'POST',
      intent: expect.any(String),
      skill: 'order-pizza',
    });

    const done = await say(url, tokens.staging, 'promo', 'pepperoni');
    expect(replies(done)).toEqual([
      'One large pepperoni pizza coming up from v2! It will be with you in about 30 minutes.',
    ]);
    expect((await state(url, tokens.staging, 'promo')).status).toBe(404);
    expect((await dialogLog(url))[0]).toMatchObject({
      environment: 'staging',
      version: 'v2',
      commit: v2,
      skill: 'order-pizza',
    });

    // The conversation ended (an `end` action): the next message starts on what staging serves now.
    const again = await say(url, tokens.staging, 'promo', 'I want to order a pizza');
    expect(replies(again)).toEqual(['What size would you like? We have small, medium and large.']);
    expect(again.nlp.botver).toEqual({ environment: 'staging', version: 'v1', commit: v1 });
    expect((await state(url, tokens.staging, 'promo')).body.results).toMatchObject({ version: 'v1', commit: v1 });
    expect((await dialogLog(url, '&version=v2')).length).toBe(3);
    expect((await dialogLog(url, '&environment=staging&version=v1')).length).toBe(2);
  });

  it('logs each dialog request with its intent, confidence and skill', async () => {
    const { dir, tokens, url } = await example();
    const v1 = git(dir, 'rev-parse', 'refs/heads/v1');
    const hello = await say(url, tokens.production, 'logged', 'hi there');
    const jazz = await say(url, tokens.production, 'logged', 'play some jazz music');
    const order = await say(url, tokens.v1, 'logged', 'I want to order a pizza');
    expect(jazz.nlp.intents).toEqual([]);

    const entries = await dialogLog(url);
    expect(entries).toHaveLength(3);
    const [third, second, first] = entries;
    expect(first).toMatchObject({
      environment: 'production',
      version: 'v1',
      commit: v1,
      method: 'POST',
      status: 200,
      intent: 'greetings',
      confidence: hello.nlp.intents[0].confidence,
      skill: 'greetings',
    });
    expect(typeof first.confidence).toBe('number');
    expect(second).toMatchObject({ environment: 'production', version: 'v1', intent: null, skill: 'fallback' });
    expect(second).not.toHaveProperty('confidence');
    expect(third).toMatchObject({
      environment: null,
      version: 'v1',
      commit: v1,
      intent: 'order-pizza',
      confidence: order.nlp.intents[0].confidence,
      skill: 'order-pizza',
    });
    // The message text is not logged unless text logging is on.
    for (const e of entries) expect(e).not.toHaveProperty('text');
    // Filters by environment and intent work on dialog entries too.
    expect((await dialogLog(url, '&environment=production')).map((e) => e.skill)).toEqual(['fallback', 'greetings']);
    expect((await dialogLog(url, '&intent=order-pizza')).map((e) => e.skill)).toEqual(['order-pizza']);
    // A refused request is logged without a skill.
    expect((await post(url, tokens.production, { message: { type: 'text', content: 'hi' } })).status).toBe(400);
    const [refused] = await dialogLog(url);
    expect(refused).toMatchObject({ status: 400 });
    expect(refused.skill ?? null).toBeNull();
  });
});

describe('runTurn: regressions', () => {
  it('an alias named like an Object member (constructor, toString) is asked for like any other', () => {
    const skill: Skill = {
      slug: 'greet',
      triggers: [{ intent: 'hi' }],
      requirements: [{ entity: 'name', alias: 'constructor', ask: 'Your name?' }],
      actions: [{ reply: 'Hi {{memory.constructor.value}}' }],
    };
    expect(texts(runTurn([skill], emptyState(), nlp('hi')))).toEqual(['Your name?']);
    const memoryTrigger: Skill = { slug: 'm', triggers: [{ memory: 'toString' }], actions: [{ reply: 'fired' }] };
    expect(runTurn([memoryTrigger], emptyState(), nlp(null)).skill).toBeNull();
  });

  it('null in memory (sent by a client) is an empty requirement, not a filled one', () => {
    const state = { ...emptyState(), memory: { size: null } };
    expect(texts(runTurn([ORDER], state, nlp('order', { 'pizza-topping': [ent('ham')] })))).toEqual(['What size?']);
  });

  it('a skill taking over is removed from the stack, so it is not resumed a second time', () => {
    const a: Skill = {
      slug: 'a',
      triggers: [{ intent: 'a' }],
      requirements: [{ entity: 'order', alias: 'order', ask: 'Order number?' }],
      actions: [{ reply: 'Order {{memory.order.value}}' }, { unset: ['order'] }],
    };
    const b: Skill = {
      slug: 'b',
      triggers: [{ intent: 'b' }],
      requirements: [{ entity: 'street', alias: 'street', ask: 'Street?' }],
      actions: [{ reply: 'To {{memory.street.value}}' }],
    };
    const turns = converse(
      [a, b],
      [nlp('a'), nlp('b'), nlp('a'), nlp(null, { order: [ent('AB1234')] }), nlp(null, { street: [ent('Main St')] })],
    );
    expect(turns[2]!.state.skill_stack).toEqual(['b']);
    expect(texts(turns[3]!)).toEqual(['Order AB1234', 'Street?']);
    expect(texts(turns[4]!)).toEqual(['To Main St']);
    expect(turns[4]!.state).toMatchObject({ skill: null, skill_stack: [] });
  });

  it('equals never matches a missing or null key, even "undefined" or "null"', () => {
    const skills: Skill[] = [
      { slug: 'u', triggers: [{ memory: 'x', equals: 'undefined' }], actions: [{ reply: 'u' }] },
      { slug: 'n', triggers: [{ memory: 'y', equals: 'null' }], actions: [{ reply: 'n' }] },
    ];
    expect(runTurn(skills, { ...emptyState(), memory: { y: null } }, nlp(null)).skill).toBeNull();
  });
});

describe('runTurn: a resumed skill with nothing left to ask', () => {
  it('runs its actions', () => {
    const order: Skill = {
      slug: 'order',
      triggers: [{ intent: 'order' }],
      requirements: [
        { entity: 'size', alias: 'size', ask: 'Size?' },
        { entity: 'time', alias: 'time', ask: 'When?' },
      ],
      actions: [{ reply: 'A {{memory.size.value}} pizza, {{memory.time}}' }],
    };
    const rush: Skill = {
      slug: 'rush',
      triggers: [{ intent: 'rush' }],
      actions: [{ set: { time: 'once' } }, { reply: 'As soon as possible, then.' }],
    };
    const turns = converse([order, rush], [nlp('order', { size: [ent('large')] }), nlp('rush')]);
    expect(texts(turns[0]!)).toEqual(['When?']);
    expect(texts(turns[1]!)).toEqual(['As soon as possible, then.', 'A large pizza, once']);
    expect(turns[1]!.state).toMatchObject({ skill: null, skill_stack: [] });
  });
});

describe('conversations over POST /build/v1/dialog', () => {
  const say = (url: string, token: string, body: unknown) =>
    fetch(`${url}/build/v1/dialog`, {
      method: 'POST',
      headers: { Authorization: `Token ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('are stored with the time of their latest message, not their first (the idle TTL counts from it)', async () => {
    const saved: Conversation[] = [];
    const store = new (class extends MemoryConversationStore {
      override async set(key: string, c: Conversation) {
        saved.push(structuredClone(c));
        return super.set(key, c);
      }
    })();
    const { dir, tokens } = shared();
    const { url } = await serve(dir, { conversations: store });
    for (const text of ['I want to order a pizza', 'large please']) {
      const message = { message: { type: 'text', content: text }, conversation_id: 'ttl' };
      expect((await say(url, tokens.production, message)).status).toBe(200);
      // The clock moves on past the first message's time before the second is sent.
      while (Date.now() <= saved[0]!.updatedAt) await new Promise((r) => setImmediate(r));
    }
    expect(saved).toHaveLength(2);
    expect(saved[1]!.updatedAt).toBeGreaterThan(saved[0]!.updatedAt);
  });

  it('answers messages of one conversation one after another: two at once lose no turn', async () => {
    const { dir, tokens } = shared();
    const { url } = await serve(dir);
    const message = (content: string) =>
      say(url, tokens.production, { message: { type: 'text', content }, conversation_id: 'together' });
    const answers = await Promise.all([message('I want to order a pizza'), message('large please')]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    const state = (await (
      await fetch(`${url}/build/v1/users/u/bots/b/versions/v1/builder/conversation_states/together`, {
        headers: { Authorization: `Token ${tokens.production}` },
      })
    ).json()) as any;
    expect(state.results.skill_occurences).toEqual({ 'order-pizza': 2 });
    expect(state.results.memory.size).toMatchObject({ value: 'large' });
  });

  it('refuses client memory over 64 KB with 413, keeping nothing', async () => {
    const { dir, tokens } = shared();
    const { url } = await serve(dir);
    const res = await say(url, tokens.production, {
      message: { type: 'text', content: 'hi' },
      conversation_id: 'big',
      memory: { blob: 'x'.repeat(70_000) },
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error.code).toBe('MEMORY_TOO_LARGE');
    const state = await fetch(`${url}/build/v1/users/u/bots/b/versions/v1/builder/conversation_states/big`, {
      headers: { Authorization: `Token ${tokens.production}` },
    });
    expect(state.status).toBe(404);
  });
});
