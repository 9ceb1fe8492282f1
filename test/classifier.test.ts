import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { MODEL_FORMAT, NluModel, OUT_OF_SCOPE, nlpResults, trainModel } from '../src/nlu/engine.js';
import { normalize } from '../src/nlu/features.js';
import { starterContent } from '../src/ops/starter-content.js';
import { openBotRepo } from '../src/ops/bot-repo.js';
import { commitFiles } from '../src/ops/content-commit.js';
import { ROOT, botver, exampleBotRepo, git } from './helpers.js';
import { auth, captureLogger, exampleWithTokens, serve } from './resolver-helpers.js';

// The intent classifier (linear-model.ts, features.ts) on a small synthetic bot: typos, word
// forms it never saw, messages that belong to no intent, the threshold, a bot in two
// languages, out-of-scope examples, and a model cached in the format before it.

const intent = (slug: string, expressions: string[], language?: string) => ({
  slug,
  expressions,
  ...(language && { language }),
});

const TRAVEL = [
  intent('book-flight', [
    'book a flight to london',
    'I want to fly to paris tomorrow',
    'reserve a plane ticket',
    'can you book me a flight',
    'get me on a flight to berlin',
    'I need a plane ticket to rome',
  ]),
  intent('cancel-booking', [
    'cancel my reservation',
    'I want to cancel the trip',
    'please cancel my booking',
    'call off my flight reservation',
    'cancel it',
    'drop my hotel booking',
  ]),
  intent('baggage', [
    'how many bags can I bring',
    'what is the luggage allowance',
    'can I take a suitcase on board',
    'is my backpack too big for the cabin',
    'extra baggage fees',
    'how heavy can my luggage be',
  ]),
  intent('greet', ['hello', 'hi there', 'good morning', 'hey', 'hello how are you', 'good evening']),
];

async function model(intents = TRAVEL, language = 'en') {
  return NluModel.load(await trainModel({ bundle: { intents, entities: [], skills: [], tests: [] }, language }));
}

const top = async (m: NluModel, text: string, language?: string) => (await m.analyse(text, language)).intents[0];

describe('the intent classifier', () => {
  it('recognises messages with typos and word forms it never saw', async () => {
    const m = await model();
    expect((await top(m, 'bok a fligth to madrid'))?.slug).toBe('book-flight');
    expect((await top(m, 'helo thre'))?.slug).toBe('greet');
    expect((await top(m, 'cancelling the reservations'))?.slug).toBe('cancel-booking'); // unseen forms
    expect((await top(m, 'luggages allowed?'))?.slug).toBe('baggage');
    expect(normalize('Réservé, À PARIS!')).toBe('reserve a paris');
    // Accents go from Latin, Greek and Cyrillic letters only: other scripts' marks are letters' parts.
    expect(normalize('Ελληνικά ёлка')).toBe('ελληνικα елка');
    expect(normalize('हिन्दी किताब')).toBe('हिन्दी किताब'.normalize('NFKD'));
  });

  it('gives no intent above the threshold to a message that belongs to none, and lists the best ones below it', async () => {
    // The example bot's 8 intents of 4 to 16 expressions, without its out-of-scope examples.
    const dir = join(ROOT, 'examples', 'awesome-bot', 'training', 'intents');
    const example = await model(
      readdirSync(dir)
        .filter((f) => f !== `${OUT_OF_SCOPE}.yaml`)
        .map((f) => parse(readFileSync(join(dir, f), 'utf8'))),
    );
    for (const text of [
      'play some jazz music',
      'zorblat quimvex',
      'tell me a joke',
      'who won the football match',
      'can you help me with my taxes',
    ]) {
      const analysis = await example.analyse(text);
      expect(nlpResults(analysis, 0.5).intents, text).toEqual([]);
      expect(analysis.intents.length, text).toBeGreaterThan(0); // listed, below the threshold
    }
    // A question sharing its first words with an intent's ("what is your best pizza") is what
    // the bot's out-of-scope examples are for: with them, it has none, and says the examples won.
    const withExamples = await model(readdirSync(dir).map((f) => parse(readFileSync(join(dir, f), 'utf8'))));
    for (const text of ['what is the capital of peru', 'how is the weather in rome']) {
      const analysis = await withExamples.analyse(text);
      expect(analysis.intents, text).toEqual([]);
      expect(analysis.outOfScope, text).toBeGreaterThan(0.5);
    }
    expect((await top(withExamples, 'what is your cheapest pizza'))?.slug).toBe('ask-menu');
    // In scope: above it, best first; the threshold keeps only what reaches it.
    const m = await model();
    const sure = await m.analyse('please book a flight to lisbon');
    expect(sure.intents[0]).toMatchObject({ slug: 'book-flight' });
    expect(sure.intents[0]!.confidence).toBeGreaterThan(0.8);
    const confidences = sure.intents.map((i) => i.confidence);
    expect(confidences).toEqual([...confidences].sort((a, b) => b - a));
    expect(nlpResults(sure, 0.5).intents[0]?.slug).toBe('book-flight');
    expect(nlpResults(sure, 0.99).intents).toEqual([]);
    expect(nlpResults(sure, 0).intents).toEqual(sure.intents);
  });

  it('confidences mean the same for 4 intents and for 100: a training sentence is sure, unknown words are not', async () => {
    const many = [
      ...TRAVEL,
      ...Array.from({ length: 96 }, (_, i) =>
        intent(
          `topic-${i}`,
          [0, 1, 2, 3, 4].map((k) => `question ${k} about subject${i} and item${i} number ${k}`),
        ),
      ),
    ];
    for (const intents of [TRAVEL, many]) {
      const m = await model(intents);
      expect((await top(m, 'book a flight to london'))!.confidence).toBeGreaterThan(0.9);
      expect((await top(m, 'zorblat quimvex'))!.confidence).toBeLessThan(0.5);
      expect((await top(m, 'play some jazz music'))!.confidence).toBeLessThan(0.5);
    }
  });

  it('a bot of one intent (what `botver init` makes) does not give it to a message of unknown words', async () => {
    const starter = parse([...starterContent('bot')].find(([path]) => path.startsWith('training/intents/'))![1]);
    const m = await model([starter]);
    expect((await top(m, 'hello there'))!.confidence).toBeGreaterThan(0.5);
    for (const text of ['asdf', 'zorblat quimvex', '👍', '?'])
      expect(nlpResults(await m.analyse(text), 0.5).intents, text).toEqual([]);
  });

  it('refuses a damaged model, saying so', async () => {
    const json = JSON.parse(
      await trainModel({ bundle: { intents: TRAVEL, entities: [], skills: [], tests: [] }, language: 'en' }),
    );
    const damaged = async (change: (c: Record<string, unknown>) => void) => {
      const copy = structuredClone(json);
      change(copy.classifier);
      return NluModel.load(JSON.stringify(copy));
    };
    await expect(damaged((c) => (c.weights = 'AAA'))).rejects.toThrow(/the model is damaged: an array of floats/);
    await expect(damaged((c) => (c.weights = 'AAAAAA=='))).rejects.toThrow(/weights do not match its features/);
    await expect(damaged((c) => delete c.examples)).rejects.toThrow(/no count of examples/);
    await expect(damaged((c) => (c.features as string[]).push((c.features as string[])[0]!))).rejects.toThrow(
      /listed twice/,
    );
  });

  it('answers each language of a bilingual bot with its own stemmer', async () => {
    const m = await model([
      ...TRAVEL,
      intent('reserver-vol', ['je veux réserver un vol', 'réserver un billet d avion', 'un vol pour paris'], 'fr'),
      intent('annuler', ['annuler ma réservation', 'je veux annuler le voyage', 'annulez tout'], 'fr'),
    ]);
    const fr = await m.analyse('je voudrais annuler mes réservations', 'fr');
    expect(fr.language).toBe('fr');
    expect(fr.intents[0]?.slug).toBe('annuler');
    expect((await top(m, 'reservez un vol', 'fr'))?.slug).toBe('reserver-vol');
    expect((await top(m, 'cancel my reservation', 'en'))?.slug).toBe('cancel-booking');
  });

  it(`learns from out-of-scope examples (intent "${OUT_OF_SCOPE}") what to reject, and never answers it as an intent`, async () => {
    const text = 'what is the weather like in paris tomorrow';
    const without = await model();
    const bookFlight = (await top(without, text))!;
    expect(bookFlight.slug).toBe('book-flight'); // "paris", "tomorrow": the bot's own words
    const withExamples = await model([
      ...TRAVEL,
      intent(OUT_OF_SCOPE, [
        'what is the weather today',
        'will it rain in london',
        'weather forecast for the weekend',
        'is it sunny in rome',
        'tell me a joke',
        'who won the game last night',
      ]),
    ]);
    const analysis = await withExamples.analyse(text);
    expect(analysis.intents).toEqual([]);
    expect(analysis.intents.some((i) => i.slug === OUT_OF_SCOPE)).toBe(false);
    expect((await top(withExamples, 'book a flight to rome'))?.slug).toBe('book-flight');
    const listed = await withExamples.analyse('book a flight to rome');
    expect(listed.intents.map((i) => i.slug)).not.toContain(OUT_OF_SCOPE);
  });

  it(`validation refuses a skill triggered by "${OUT_OF_SCOPE}" and a test expecting it`, async () => {
    const dir = await exampleBotRepo();
    await commitFiles(
      await openBotRepo({ repo: dir }),
      'v2',
      {
        'training/intents/out-of-scope.yaml': 'slug: out-of-scope\nexpressions:\n  - tell me a joke\n',
        'skills/joke.yaml': 'slug: joke\ntriggers:\n  - intent: out-of-scope\nactions:\n  - reply: I know no jokes\n',
        'tests/oos.yaml': 'utterances:\n  - text: tell me a joke\n    intent: out-of-scope\n',
      },
      'out-of-scope misused',
    );
    const r = await botver(dir, 'validate', 'v2');
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toContain(
      'v2:skills/joke.yaml:3:5 skill "joke" triggers on intent "out-of-scope", which is never answered',
    );
    expect(r.stderr + r.stdout).toContain(
      'v2:tests/oos.yaml:3:5 a message out of scope gets no intent: expect "intent: null", not "out-of-scope"',
    );
  });

  it('a model cached in an older format is not loaded: the resolver trains the commit again', async () => {
    await expect(NluModel.load(JSON.stringify({ format: MODEL_FORMAT - 1, nlp: '{}' }))).rejects.toThrow(
      /model format 3, expected 4/,
    );
    const { dir, tokens } = await exampleWithTokens();
    const v1 = git(dir, 'rev-parse', 'refs/heads/v1');
    const models = join(dir, '.git', 'botver', 'models');
    mkdirSync(models, { recursive: true });
    // What format 3 held: NLP.js's export.
    writeFileSync(
      join(models, `${v1}.v3.json`),
      JSON.stringify({ format: 3, locales: ['en'], lists: [], regexes: [], nlp: '{}' }),
    );
    const log = captureLogger('info');
    const resolver = await serve(dir, { logger: log.logger });
    const answer = await fetch(`${resolver.url}/v2/request`, {
      method: 'POST',
      headers: { ...auth(tokens.production), 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'hello there' }),
    });
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as any).results.intents[0].slug).toBe('greetings');
    expect(log.lines().some((l) => /train/i.test(String(l.msg)))).toBe(true);
    expect(readdirSync(models)).toContain(`${v1}.v${MODEL_FORMAT}.json`);
  });
});
