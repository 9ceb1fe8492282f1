import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { GitRepo } from '../src/git/repo.js';
import { loadVersionContent } from '../src/content/version-content.js';
import { startResolver } from '../src/resolver/server.js';
import { MODEL_FORMAT, NluModel, trainModel, type Analysis } from '../src/nlu/engine.js';
import { ROOT, exampleBotRepo, git, ok } from './helpers.js';
import {
  ADMIN_TOKEN,
  auth,
  captureLogger,
  commitTo,
  eventually,
  exampleWithTokens,
  getJson,
  nativeCommit,
  serve,
  sleep,
} from './resolver-helpers.js';

// The NLU per version: the engine (NLP.js) on the example bot's training data, POST /v2/request
// in the hosted platform's format on a real resolver over a real repository, the per-commit
// model cache (memory and <gitdir>/botver/models), training in the background while the
// previous model keeps answering, and what the request log and usage counts keep of it.

const EXAMPLE = join(ROOT, 'examples', 'awesome-bot');
const admin = auth(ADMIN_TOKEN, 'Bearer');

interface SmokeUtterance {
  text: string;
  intent: string | null;
  entities?: Record<string, string>;
}

/** The example's intent files: slug -> description. */
function exampleDescriptions(): Map<string, string | null> {
  const dir = join(EXAMPLE, 'training', 'intents');
  return new Map(
    readdirSync(dir).map((f) => {
      const doc = parse(readFileSync(join(dir, f), 'utf8')) as { slug: string; description?: string };
      return [doc.slug, doc.description ?? null] as const;
    }),
  );
}

/** A model trained in-process on one commit of a version, as the resolver's worker would. */
async function modelOf(dir: string, ref: string): Promise<NluModel> {
  const repo = await GitRepo.open(dir);
  const content = await loadVersionContent(repo, git(dir, 'rev-parse', `refs/heads/${ref}`));
  expect(content.ok, JSON.stringify(content.problems)).toBe(true);
  return NluModel.load(await trainModel({ bundle: content.bundle!, language: 'en' }));
}

const entitiesOf = (a: Analysis, entity: string) => a.entities.filter((e) => e.entity === entity);
const scalarsOf = (a: Analysis, entity: string) => entitiesOf(a, entity).map((e) => e.scalar);

/** POST /v2/request; the parsed answer. */
async function nlp(
  url: string,
  token: string | null,
  body: unknown,
  scheme = 'Token',
): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${url}/v2/request`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token === null ? {} : auth(token, scheme)) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/** Sets (or adds) `nluThreshold` in environments.yaml with a native git commit on main (plumbing + CAS update-ref). */
function setThreshold(dir: string, value: string): string {
  const old = git(dir, 'rev-parse', 'refs/heads/main');
  const manifest = git(dir, 'show', `${old}:environments.yaml`);
  const lines = manifest.split('\n').filter((l) => !l.startsWith('nluThreshold:'));
  const at = lines.findIndex((l) => l.startsWith('maxVersions:'));
  expect(at).toBeGreaterThan(0);
  lines.splice(at + 1, 0, `nluThreshold: ${value}`);
  const files: Record<string, string> = {};
  for (const path of git(dir, 'ls-tree', '-r', '--name-only', old).split('\n'))
    files[path] = `${git(dir, 'show', `${old}:${path}`)}\n`;
  files['environments.yaml'] = `${lines.join('\n')}\n`;
  const commit = nativeCommit(dir, files, [old], `nluThreshold: ${value}`);
  git(dir, 'update-ref', 'refs/heads/main', commit, old);
  return commit;
}

/** Log lines saying a model was trained, as the 12-character commit prefixes they name. */
const trainedCommits = (lines: Record<string, any>[]) =>
  lines
    .filter((l) => typeof l.msg === 'string' && l.msg.startsWith('trained the NLU model of '))
    .map((l) => l.msg.slice('trained the NLU model of '.length) as string);

const RESULT_KEYS = [
  'act',
  'botver',
  'entities',
  'intents',
  'language',
  'processing_language',
  'sentiment',
  'source',
  'status',
  'timestamp',
  'type',
  'uuid',
  'version',
];

describe('NLU engine on the example bot', () => {
  it('recognises every utterance of tests/smoke.yaml: its intent first and its entities; nonsense gets no intent', async () => {
    const dir = await exampleBotRepo();
    const model = await modelOf(dir, 'v1');
    const smoke = parse(readFileSync(join(EXAMPLE, 'tests', 'smoke.yaml'), 'utf8')) as { utterances: SmokeUtterance[] };
    expect(smoke.utterances.length).toBeGreaterThan(5);
    expect(smoke.utterances.some((u) => u.entities)).toBe(true);
    for (const u of smoke.utterances) {
      const a = await model.analyse(u.text);
      // Best first, confidences in 0..1.
      const confidences = a.intents.map((i) => i.confidence);
      expect(confidences).toEqual([...confidences].sort((x, y) => y - x));
      expect(
        confidences.every((c) => c >= 0 && c <= 1),
        JSON.stringify(a.intents),
      ).toBe(true);
      if (u.intent === null) {
        expect(
          a.intents.filter((i) => i.confidence >= 0.5),
          u.text,
        ).toEqual([]);
      } else {
        expect(a.intents[0]?.slug, `${u.text}: ${JSON.stringify(a.intents.slice(0, 3))}`).toBe(u.intent);
        expect(a.intents[0]!.confidence, u.text).toBeGreaterThanOrEqual(0.5);
      }
      for (const [entity, value] of Object.entries(u.entities ?? {})) {
        expect(
          entitiesOf(a, entity).map((e) => e.value),
          `${u.text}: ${JSON.stringify(a.entities)}`,
        ).toContain(value);
      }
    }

    for (const text of ['florp zindle quaxon bramble', 'xyzzy plugh frobozz gnusto']) {
      const a = await model.analyse(text);
      expect(
        a.intents.filter((i) => i.confidence >= 0.5),
        text,
      ).toEqual([]);
      expect(a.entities, text).toEqual([]);
    }
  });

  it('matches synonyms ignoring case and with a one-letter typo; a regex entity matches as written', async () => {
    const dir = await exampleBotRepo();
    const model = await modelOf(dir, 'v1');

    // Case: value and synonym in capitals, exact match (confidence 1), raw as typed.
    const caps = await model.analyse('a LARGE pizza with Funghi please');
    expect(entitiesOf(caps, 'pizza-size')).toEqual([
      { entity: 'pizza-size', value: 'large', raw: 'LARGE', confidence: 1 },
    ]);
    expect(entitiesOf(caps, 'pizza-topping')).toEqual([
      { entity: 'pizza-topping', value: 'mushroom', raw: 'Funghi', confidence: 1 },
    ]);

    // One letter missing, one letter wrong, one letter too many: the canonical value, with a confidence below 1.
    for (const [text, entity, value, raw] of [
      ['a big pizza with peperoni', 'pizza-topping', 'pepperoni', 'peperoni'],
      ['I want a pizza with mushroms', 'pizza-topping', 'mushroom', 'mushroms'],
      ['a lerge pizza with ham', 'pizza-size', 'large', 'lerge'],
      ['a BIG pizza with pineapplee', 'pizza-topping', 'pineapple', 'pineapplee'],
      ['one Vegetarion pizza', 'pizza-topping', 'vegetarian', 'Vegetarion'],
    ] as const) {
      const found = entitiesOf(await model.analyse(text), entity);
      expect(found, text).toHaveLength(1);
      expect(found[0], text).toMatchObject({ value, raw });
      expect(found[0]!.confidence, text).toBeGreaterThanOrEqual(0.8);
      expect(found[0]!.confidence, text).toBeLessThan(1);
    }
    // Too far from any synonym: nothing.
    expect(entitiesOf(await model.analyse('a pizza with pinapl'), 'pizza-topping')).toEqual([]);

    // Regex entity (order-number: '#?[A-Z]{2}\d{4}', no flags): matched text as value; case matters.
    const order = await model.analyse('where is order #CD5678 and EF9012');
    expect(entitiesOf(order, 'order-number').map((e) => [e.value, e.raw, e.confidence])).toEqual([
      ['#CD5678', '#CD5678', 1],
      ['EF9012', 'EF9012', 1],
    ]);
    expect(entitiesOf(await model.analyse('where is order cd5678'), 'order-number')).toEqual([]);
  });

  it('refuses typos for an entity with fuzzy: false but still ignores case', async () => {
    const dir = await exampleBotRepo();
    await commitTo(dir, 'v2', {
      'training/entities/drink.yaml':
        'slug: drink\nfuzzy: false\nvalues:\n  - value: lemonade\n    synonyms: [lemon soda]\n  - value: cola\n    synonyms: [coke]\n',
      'training/entities/dessert.yaml': 'slug: dessert\nvalues:\n  - value: tiramisu\n    synonyms: [panna cotta]\n',
    });
    const model = await modelOf(dir, 'v2');
    // The same kind of typo (one letter missing): the fuzzy entity takes it, the exact one does not.
    const typo = await model.analyse('a lemonad and a tiramsu');
    expect(entitiesOf(typo, 'drink')).toEqual([]);
    expect(entitiesOf(typo, 'dessert').map((e) => [e.value, e.raw])).toEqual([['tiramisu', 'tiramsu']]);
    expect(entitiesOf(await model.analyse('one coek please'), 'drink')).toEqual([]);
    expect(entitiesOf(await model.analyse('a lemon sodaa'), 'drink')).toEqual([]);
    // Exact words in any case still match, synonyms included.
    const exact = await model.analyse('a LEMONADE, a Coke and a Lemon Soda');
    expect(entitiesOf(exact, 'drink').map((e) => [e.value, e.raw, e.confidence])).toEqual([
      ['lemonade', 'LEMONADE', 1],
      ['cola', 'Coke', 1],
      ['lemonade', 'Lemon Soda', 1],
    ]);
  });

  it('built-ins: numbers in digits and words, ordinals, percentages, email; "ORD-1234" and "v2" are not numbers', async () => {
    const dir = await exampleBotRepo();
    const model = await modelOf(dir, 'v1');

    const numbers = await model.analyse('two pizzas, forty-two drinks, 3 cokes, twenty one napkins and 12.5 euros');
    expect(entitiesOf(numbers, 'number').map((e) => [e.raw, e.scalar, e.value])).toEqual([
      ['two', 2, '2'],
      ['forty-two', 42, '42'],
      ['3', 3, '3'],
      ['twenty one', 21, '21'],
      ['12.5', 12.5, '12.5'],
    ]);

    const ordinals = await model.analyse('the 2nd pizza and the third pizza, not the 21st');
    expect(entitiesOf(ordinals, 'ordinal').map((e) => [e.raw, e.scalar])).toEqual([
      ['2nd', 2],
      ['third', 3],
      ['21st', 21],
    ]);
    expect(scalarsOf(ordinals, 'number')).toEqual([]); // "2nd" is an ordinal, not the number 2

    const percentages = await model.analyse('50% off or 12.5 percent off');
    expect(entitiesOf(percentages, 'percentage').map((e) => [e.raw, e.scalar])).toEqual([
      ['50%', 50],
      ['12.5 percent', 12.5],
    ]);
    expect(scalarsOf(percentages, 'number')).toEqual([]);

    const codes = await model.analyse('order ORD-1234 with app v2');
    expect(entitiesOf(codes, 'number')).toEqual([]);
    expect(entitiesOf(codes, 'ordinal')).toEqual([]);

    const email = await model.analyse('mail me at john.doe@example.com');
    expect(entitiesOf(email, 'email').map((e) => [e.value, e.raw])).toEqual([
      ['john.doe@example.com', 'john.doe@example.com'],
    ]);
    expect(entitiesOf(email, 'number')).toEqual([]);
  });
});

describe('POST /v2/request', () => {
  it("answers in the platform's format for environment and version tokens, with the commit and the intents' descriptions", async () => {
    const { dir, tokens } = await exampleWithTokens();
    const { url } = await serve(dir);
    const v1 = git(dir, 'rev-parse', 'refs/heads/v1');
    const v2 = git(dir, 'rev-parse', 'refs/heads/v2');
    const descriptions = exampleDescriptions();

    const text = 'can I get a big pizza with mushrooms';
    const r = await nlp(url, tokens.production, { text });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys(r.body).sort()).toEqual(['message', 'results']);
    expect(r.body.message).toBe('Requests rendered with success');
    const res = r.body.results;
    expect(Object.keys(res).sort()).toEqual(RESULT_KEYS);
    expect(res.botver).toEqual({ environment: 'production', version: 'v1', commit: v1 });
    expect(res.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(res).toMatchObject({ source: text, type: null, status: 200, language: 'en', processing_language: 'en' });
    expect(Math.abs(Date.parse(res.timestamp) - Date.now())).toBeLessThan(60_000);
    expect(res.intents[0]).toEqual({
      slug: 'order-pizza',
      confidence: expect.any(Number),
      description: descriptions.get('order-pizza'),
    });
    for (const i of res.intents) expect(i.confidence).toBeGreaterThanOrEqual(0.5); // the default threshold
    expect(res.entities).toEqual({
      'pizza-size': [{ value: 'large', raw: 'big', confidence: 1 }],
      'pizza-topping': [{ value: 'mushroom', raw: 'mushrooms', confidence: 1 }],
    });
    expect(['wh-query', 'yn-query', 'command', 'assert']).toContain(res.act);
    expect(['vpositive', 'positive', 'neutral', 'negative', 'vnegative']).toContain(res.sentiment);

    // A version token (Bearer): no environment; another version's commit.
    const byVersion = await nlp(url, tokens.v2, { text: 'I want 2 pizzas', language: 'en' }, 'Bearer');
    expect(byVersion.status).toBe(200);
    expect(byVersion.body.results.botver).toEqual({ environment: null, version: 'v2', commit: v2 });
    expect(byVersion.body.results.entities.number).toEqual([{ value: '2', raw: '2', confidence: 0.99, scalar: 2 }]);
    expect(byVersion.body.results.intents[0].slug).toBe('order-pizza');
    // A language the model has no data for is processed in the bot's; null is no language.
    for (const language of ['fr', null]) {
      const other = await nlp(url, tokens.staging, { text: 'hello there', language });
      expect(other.status).toBe(200);
      expect(other.body.results).toMatchObject({
        language: 'en',
        processing_language: 'en',
        botver: { environment: 'staging', version: 'v2', commit: v2 },
      });
      expect(other.body.results.intents.map((i: any) => i.slug)).toEqual(['greetings']);
    }
    // Nonsense: no intent, no entity.
    const nonsense = await nlp(url, tokens.v1, { text: 'florp zindle quaxon bramble' });
    expect(nonsense.status).toBe(200);
    expect(nonsense.body.results).toMatchObject({
      intents: [],
      entities: {},
      botver: { environment: null, version: 'v1', commit: v1 },
    });
  });

  it("applies the manifest's nluThreshold: 0 lists every scored intent best first, 0.99 drops the unsure ones, 1.01 is refused", async () => {
    const { dir, tokens } = await exampleWithTokens();
    const { url } = await serve(dir);
    const descriptions = exampleDescriptions();
    const unsure = 'what do you serve'; // ask-menu, clearly but not fully sure
    const sure = 'hello there';

    const before = await nlp(url, tokens.production, { text: unsure });
    expect(before.body.results.intents.map((i: any) => i.slug)).toEqual(['ask-menu']);
    const confidence = before.body.results.intents[0].confidence as number;
    expect(confidence).toBeGreaterThanOrEqual(0.5);
    expect(confidence).toBeLessThan(0.99);

    const zero = setThreshold(dir, '0');
    const all = await eventually('threshold 0 served', async () => {
      const r = await nlp(url, tokens.production, { text: unsure });
      return r.body.results.intents.length > 1 ? r : undefined;
    });
    const intents = all.value.body.results.intents as {
      slug: string;
      confidence: number;
      description: string | null;
    }[];
    // The intents the classifier gave a confidence of at least 0.01, best first, each with its file's description.
    expect(intents.length).toBeGreaterThanOrEqual(2);
    expect(new Set(intents.map((i) => i.slug)).size).toBe(intents.length);
    expect(intents.map((i) => i.confidence)).toEqual(intents.map((i) => i.confidence).sort((a, b) => b - a));
    expect(intents[0]).toEqual({ slug: 'ask-menu', confidence, description: descriptions.get('ask-menu') });
    for (const i of intents) expect(i.description, i.slug).toBe(descriptions.get(i.slug));
    const loaded = await getJson(`${url}/v1/environments`, admin);
    expect(loaded.body.manifestCommit).toBe(zero);

    setThreshold(dir, '0.99');
    await eventually('threshold 0.99 served', async () => {
      const r = await nlp(url, tokens.production, { text: unsure });
      return r.status === 200 && r.body.results.intents.length === 0 ? r : undefined;
    });
    const sureIntents = (await nlp(url, tokens.v1, { text: sure })).body.results.intents;
    expect(sureIntents.map((i: any) => i.slug)).toEqual(['greetings']);
    expect(sureIntents[0].confidence).toBeGreaterThanOrEqual(0.99);
    // The entities do not depend on the threshold.
    const entities = await nlp(url, tokens.production, { text: 'what toppings, mushroom or ham?' });
    expect(Object.keys(entities.body.results.entities)).toEqual(['pizza-topping']);

    // Above 1 is invalid (the schema's maximum): not served; the last good manifest (0.99) stays.
    const bad = setThreshold(dir, '1.01');
    const { value: readyz } = await eventually('invalid manifest reported', async () => {
      const r = await getJson(`${url}/readyz`, admin); // the details are for the admin token
      return r.status === 503 && r.body.problems.length > 0 ? r : undefined;
    });
    expect(JSON.stringify(readyz.body.problems)).toContain('nluThreshold');
    expect(JSON.stringify(readyz.body.problems)).toContain('environments.yaml');
    expect(readyz.body.problems[0]).toMatchObject({ commit: bad });
    const still = await nlp(url, tokens.production, { text: unsure });
    expect(still.status).toBe(200);
    expect(still.body.results.intents).toEqual([]);
    expect((await nlp(url, tokens.production, { text: sure })).body.results.intents.map((i: any) => i.slug)).toEqual([
      'greetings',
    ]);
  });

  it('401 as on every route, 400 for a bad body or language, 405 for other methods', async () => {
    const { dir, tokens } = await exampleWithTokens();
    const { url } = await serve(dir);
    const unauthorized = await getJson(`${url}/v1/resolve`);
    expect(unauthorized.status).toBe(401);

    for (const token of [null, 'not-a-token', ADMIN_TOKEN]) {
      const r = await nlp(url, token, { text: 'hello' });
      expect(r.status, String(token)).toBe(401);
      expect(r.body).toEqual(unauthorized.body);
      expect(r.headers.get('www-authenticate')).toBe(unauthorized.headers.get('www-authenticate'));
    }
    // Authentication comes first: a bad body with a bad token is a 401.
    expect((await nlp(url, 'not-a-token', {})).status).toBe(401);

    for (const body of [
      {},
      { text: '' },
      { text: '   \n\t' },
      { text: 42 },
      { text: ['hello'] },
      { text: null },
      { text: 'hello', language: 'english' },
      { text: 'hello', language: 5 },
      { text: 'hello', language: 'EN' },
      { text: 'x'.repeat(2_001) },
      [],
    ]) {
      const r = await nlp(url, tokens.production, body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(r.body.error.code).toBe('BAD_REQUEST');
      expect(typeof r.body.error.message).toBe('string');
    }
    for (const raw of ['{"text": "hello"', 'null', '"hello"']) {
      const malformed = await nlp(url, tokens.production, raw);
      expect(malformed, raw).toMatchObject({ status: 400, body: { error: { code: 'MALFORMED_JSON' } } });
    }

    for (const method of ['GET', 'PUT', 'DELETE']) {
      const res = await fetch(`${url}/v2/request`, { method, headers: auth(tokens.production) });
      expect(res.status, method).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect(((await res.json()) as any).error.code).toBe('METHOD_NOT_ALLOWED');
    }
    // Still answering after all that.
    expect((await nlp(url, tokens.production, { text: 'hello' })).status).toBe(200);
  });
});

describe('NLU models cached per commit', () => {
  it('a restart loads the model from <gitdir>/botver/models without training; returning to an old commit does not retrain', async () => {
    const { dir, tokens } = await exampleWithTokens();
    const v1 = git(dir, 'rev-parse', 'refs/heads/v1');
    expect(git(dir, 'rev-parse', 'refs/heads/v2')).toBe(v1); // v2 is a copy: one model serves both
    const gitdir = join(dir, '.git');
    const file = join(gitdir, 'botver', 'models', `${v1}.v${MODEL_FORMAT}.json`);
    expect(existsSync(file)).toBe(false);

    // First start: the model trains; /v2/request waits for it (503 MODEL_TRAINING) rather than guess.
    const first = captureLogger('info');
    const one = await startResolver({
      repo: dir,
      port: 0,
      host: '127.0.0.1',
      adminToken: ADMIN_TOKEN,
      logger: first.logger,
      shutdownGraceMs: 2000,
    });
    const texts = ['can I get a big pizza with mushrooms', 'are you open now?', 'ok bye now', 'florp zindle'];
    let answers: any[];
    try {
      const early = await nlp(one.url, tokens.production, { text: 'hello' });
      if (early.status === 503) {
        // Only while nothing is ready (not asserted otherwise: it may already be trained).
        expect(early.body.error.code).toBe('MODEL_TRAINING');
        expect(early.headers.get('retry-after')).toBe('2');
      } else expect(early.status).toBe(200);
      await one.nlu.idle();
      const readyz = await getJson(`${one.url}/readyz`);
      expect(readyz.status).toBe(200);
      expect(readyz.body.status).toBeUndefined();
      answers = await Promise.all(texts.map((text) => nlp(one.url, tokens.production, { text })));
      for (const a of answers) expect(a.status).toBe(200);
    } finally {
      await one.close();
    }
    expect(trainedCommits(first.lines())).toEqual([v1.slice(0, 12)]);
    expect(existsSync(file)).toBe(true);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ format: MODEL_FORMAT });
    expect(readdirSync(join(gitdir, 'botver', 'models'))).toEqual([`${v1}.v${MODEL_FORMAT}.json`]);

    // Second start on the same repository: from disk, no training, the same answers.
    const second = captureLogger('info');
    const two = await serve(dir, { logger: second.logger });
    expect(trainedCommits(second.lines())).toEqual([]);
    for (const [i, text] of texts.entries()) {
      const again = await nlp(two.url, tokens.production, { text });
      expect(again.status).toBe(200);
      expect(again.body.results.intents, text).toEqual(answers[i].body.results.intents);
      expect(again.body.results.entities, text).toEqual(answers[i].body.results.entities);
      expect(again.body.results.botver).toEqual(answers[i].body.results.botver);
    }

    // v1 moves on: its new head is trained (once, for both the version and production).
    const head = await commitTo(dir, 'v1', {
      'training/intents/ask-delivery-area.yaml':
        'slug: ask-delivery-area\ndescription: Where we deliver\nexpressions:\n  - do you deliver to my street?\n  - what is your delivery area\n  - do you deliver to the suburbs\n  - how far do you deliver\n',
    });
    await eventually(
      'new head answers',
      async () => {
        const r = await nlp(two.url, tokens.production, { text: 'do you deliver to my area?' });
        return r.status === 200 && r.body.results.botver.commit === head ? r : undefined;
      },
      10_000,
    );
    expect(trainedCommits(second.lines())).toEqual([head.slice(0, 12)]);
    expect(existsSync(join(gitdir, 'botver', 'models', `${head}.v${MODEL_FORMAT}.json`))).toBe(true);

    // production goes back to the old commit: answered by the old model at once, nothing retrained.
    await ok(dir, 'env', 'set', 'production', 'v1', '--commit', v1);
    const back = await eventually('production back on the old commit', async () => {
      const r = await nlp(two.url, tokens.production, { text: texts[0] });
      return r.status === 200 && r.body.results.botver.commit === v1 ? r : undefined;
    });
    expect(back.value.body.results.intents).toEqual(answers[0].body.results.intents);
    expect((await nlp(two.url, tokens.v1, { text: texts[0] })).body.results.botver.commit).toBe(head);
    await two.nlu.idle();
    expect(trainedCommits(second.lines())).toEqual([head.slice(0, 12)]);
    await two.close();

    // A cached model that does not parse is trained again (and rewritten), not served, not fatal.
    // Models load on first use: the first request finds it broken and gets 503 while it retrains.
    const headFile = join(gitdir, 'botver', 'models', `${head}.v${MODEL_FORMAT}.json`);
    writeFileSync(headFile, '{"format": 1, "nlp": ');
    const third = captureLogger('info');
    const three = await serve(dir, { logger: third.logger });
    const retrying = await nlp(three.url, tokens.v1, { text: 'do you deliver to my area?' });
    expect([retrying.status, retrying.body.error?.code]).toEqual([503, 'MODEL_TRAINING']);
    await three.nlu.idle();
    expect(
      third
        .lines()
        .filter((l) => l.msg === 'cached NLU model unreadable; training again')
        .map((l) => l.commit),
    ).toEqual([head]);
    expect(trainedCommits(third.lines())).toEqual([head.slice(0, 12)]);
    expect(JSON.parse(readFileSync(headFile, 'utf8'))).toMatchObject({ format: MODEL_FORMAT });
    const fromHead = await nlp(three.url, tokens.v1, { text: 'do you deliver to my area?' });
    expect(fromHead.body.results).toMatchObject({ botver: { commit: head }, intents: [{ slug: 'ask-delivery-area' }] });
    const fromOld = await nlp(three.url, tokens.production, { text: texts[0] });
    expect(fromOld.body.results.botver.commit).toBe(v1);
    expect(fromOld.body.results.intents).toEqual(answers[0].body.results.intents);
  });
});

describe('training in the background', () => {
  it('keeps answering from the previous commit while the new one trains, then answers from the new one', async () => {
    const { dir, tokens } = await exampleWithTokens();
    const log = captureLogger('info');
    const { url } = await serve(dir, { logger: log.logger });
    const old = git(dir, 'rev-parse', 'refs/heads/v1');
    const text = 'I would like to reserve a table for tonight';
    const before = await nlp(url, tokens.production, { text });
    expect(before.body.results.botver.commit).toBe(old);
    expect(before.body.results.intents.map((i: any) => i.slug)).not.toContain('book-table');

    // A big new intent (2,000 expressions) so that training takes a while.
    const words = [
      'table',
      'seat',
      'dinner',
      'tonight',
      'friday',
      'people',
      'window',
      'terrace',
      'evening',
      'lunch',
      'party',
      'birthday',
      'quiet',
      'corner',
      'outside',
      'inside',
      'booth',
      'brunch',
      'group',
      'date',
    ];
    const expressions = Array.from(
      { length: 2000 },
      (_, i) =>
        `  - please reserve a ${words[i % 20]} for ${words[(i * 7 + 3) % 20]} ${words[(i * 13 + 5) % 20]} r${i}`,
    );
    const head = await commitTo(dir, 'v1', {
      'training/intents/book-table.yaml': `slug: book-table\ndescription: The user books a table\nexpressions:\n  - reserve a table for tonight\n  - I would like to book a table\n${expressions.join('\n')}\n`,
    });

    const commits: string[] = [];
    const readyzSeen: any[] = [];
    let newAnswer: any;
    // Until the new model answers; if it never does, the test's own timeout ends the loop.
    while (!newAnswer) {
      const [r, readyz, resolve] = await Promise.all([
        nlp(url, tokens.production, { text }),
        getJson(`${url}/readyz`, admin), // the training details are for the admin token
        getJson(`${url}/v1/resolve`, auth(tokens.v1)),
      ]);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(readyz.status, JSON.stringify(readyz.body)).toBe(200); // every version and environment has a model to answer with
      expect(resolve.status).toBe(200);
      const commit = r.body.results.botver.commit as string;
      expect([old, head]).toContain(commit);
      commits.push(commit);
      if (readyz.body.status === 'training') readyzSeen.push(readyz.body);
      if (commit === old) {
        expect(r.body.results.intents.map((i: any) => i.slug)).not.toContain('book-table');
      } else {
        newAnswer = r.body.results;
      }
      if (!newAnswer) await sleep(10);
    }
    expect(commits.at(-1)).toBe(head);
    // Once the new model answers, the old one never does again.
    for (let i = 0; i < 5; i++) {
      const r = await nlp(url, tokens.production, { text });
      expect(r.status).toBe(200);
      expect(r.body.results.botver.commit).toBe(head);
    }
    expect(newAnswer.botver).toEqual({ environment: 'production', version: 'v1', commit: head });
    expect(newAnswer.intents[0]).toMatchObject({ slug: 'book-table', description: 'The user books a table' });
    // /readyz, when it caught the training: still ready, naming the commit being trained, nobody without a model.
    for (const body of readyzSeen) {
      expect(body).toMatchObject({ ready: true, status: 'training', waitingForModel: [] });
      expect(body.training).toContain(head);
    }
    await eventually(
      'readyz back to plain ready',
      async () => {
        const r = await getJson(`${url}/readyz`);
        return r.status === 200 && r.body.status === undefined ? r : undefined;
      },
      10_000,
    );
    expect(trainedCommits(log.lines())).toEqual([old.slice(0, 12), head.slice(0, 12)]);
    // The old intents still work on the new model.
    const hello = await nlp(url, tokens.production, { text: 'hello there' });
    expect(hello.body.results.intents.map((i: any) => i.slug)).toEqual(['greetings']);
  });
});

describe('monitoring of /v2/request', () => {
  async function traffic(url: string, tokens: { production: string; v2: string }) {
    for (const [token, text] of [
      [tokens.production, 'hello there'],
      [tokens.production, 'good morning, bot'],
      [tokens.v2, 'hello there'],
      [tokens.production, 'I would like to order a pizza'],
      [tokens.production, 'florp zindle quaxon bramble'],
    ] as const) {
      expect((await nlp(url, token, { text })).status).toBe(200);
    }
    expect((await nlp(url, tokens.production, { text: '' })).status).toBe(400);
  }

  async function feed(url: string, query: string): Promise<any[]> {
    const r = await getJson(`${url}/v1/logs${query}`, admin);
    expect(r.status).toBe(200);
    return r.body.entries;
  }

  it('log entries carry the intent and its confidence, not the text; ?intent= filters; usage counts by intent', async () => {
    const { dir, tokens } = await exampleWithTokens();
    const { url } = await serve(dir);
    const v1 = git(dir, 'rev-parse', 'refs/heads/v1');
    await traffic(url, tokens);

    const all = await eventually('six entries', async () => {
      const entries = await feed(url, '?limit=1000');
      return entries.filter((e) => e.route === '/v2/request').length === 6 ? entries : undefined;
    });
    const requests = all.value.filter((e) => e.route === '/v2/request');
    for (const e of requests) {
      expect(e).not.toHaveProperty('text');
      expect(JSON.stringify(e)).not.toContain('hello');
      expect(e.method).toBe('POST');
    }
    const greetings = await feed(url, '?intent=greetings');
    expect(greetings).toHaveLength(3);
    for (const e of greetings) {
      expect(e).toMatchObject({ route: '/v2/request', status: 200, intent: 'greetings', commit: v1 });
      expect(e.confidence).toBeGreaterThanOrEqual(0.5);
      expect(e.confidence).toBeLessThanOrEqual(1);
    }
    expect(greetings.map((e) => [e.environment, e.version])).toEqual([
      [null, 'v2'],
      ['production', 'v1'],
      ['production', 'v1'],
    ]);
    expect(await feed(url, '?intent=greetings&environment=production')).toHaveLength(2);
    expect(await feed(url, '?intent=greetings&version=v2')).toHaveLength(1);
    const pizza = await feed(url, '?intent=order-pizza');
    expect(pizza).toHaveLength(1);
    expect(pizza[0]).toMatchObject({ intent: 'order-pizza', environment: 'production' });
    // Nonsense: an entry with no intent (and no confidence); a refused body: no intent at all.
    const nonsense = requests.filter((e) => e.intent === null);
    expect(nonsense).toHaveLength(1);
    expect(nonsense[0]).not.toHaveProperty('confidence');
    expect(requests.filter((e) => e.status === 400)).toHaveLength(1);
    expect(await feed(url, '?intent=ask-menu')).toEqual([]);

    // Summed over the days (one, unless the test runs across midnight UTC).
    const usage = async (query = '') => {
      const r = await getJson(`${url}/v1/usage${query}`, admin);
      expect(r.status).toBe(200);
      const byIntent: Record<string, number> = {};
      let count = 0;
      for (const day of r.body.days) {
        for (const [intent, n] of Object.entries(day.byIntent as Record<string, number>))
          byIntent[intent] = (byIntent[intent] ?? 0) + n;
        count += day.byRoute['/v2/request'] ?? 0;
      }
      return { byIntent, requests: count };
    };
    expect(await usage()).toEqual({ byIntent: { greetings: 3, 'order-pizza': 1 }, requests: 6 });
    expect(await usage('?environment=production')).toEqual({
      byIntent: { greetings: 2, 'order-pizza': 1 },
      requests: 5,
    });
    expect(await usage('?version=v2')).toEqual({ byIntent: { greetings: 1 }, requests: 1 });
  });

  it('with logText: true the entries keep the text', async () => {
    const { dir, tokens } = await exampleWithTokens();
    const { url } = await serve(dir, { logText: true });
    await traffic(url, tokens);
    const { value: greetings } = await eventually('three greetings', async () => {
      const entries = await feed(url, '?intent=greetings');
      return entries.length === 3 ? entries : undefined;
    });
    expect(greetings.map((e) => e.text)).toEqual(['hello there', 'good morning, bot', 'hello there']);
    const pizza = await feed(url, '?intent=order-pizza');
    expect(pizza.map((e) => [e.text, e.intent])).toEqual([['I would like to order a pizza', 'order-pizza']]);
  });
});

describe('regressions', () => {
  it('reads thousands separators and leaves numbers inside phone numbers, addresses and dates alone', async () => {
    const { recogniseBuiltins } = await import('../src/nlu/builtins.js');
    const numbers = (text: string) =>
      recogniseBuiltins(text)
        .filter((b) => b.entity === 'number')
        .map((b) => b.scalar);
    expect(numbers('I need 1,000 pizzas')).toEqual([1000]);
    expect(numbers('1,5 litres and 2.25 kg')).toEqual([1.5, 2.25]);
    for (const text of ['call 555-123-4567', 'ping 192.168.1.10', 'version 1.2.3', 'on 2024-05-01'])
      expect([text, numbers(text)]).toEqual([text, []]);
  });

  it('refuses a regex entity that matches the empty text (it would be found everywhere)', async () => {
    const dir = await exampleBotRepo();
    const { openBotRepo } = await import('../src/ops/bot-repo.js');
    const { commitFiles } = await import('../src/ops/content-commit.js');
    await commitFiles(
      await openBotRepo({ repo: dir }),
      'v2',
      { 'training/entities/code.yaml': 'slug: code\nregex: "[0-9]*"\n' },
      'an empty-matching regex',
    );
    const { botver } = await import('./helpers.js');
    const r = await botver(dir, 'validate', 'v2');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/v2:training\/entities\/code\.yaml:2:\d+ the regular expression matches the empty text/);
  });
});

describe('languages', () => {
  it('trains and answers in the bot language with its stemmer (French here)', async () => {
    const bundle = {
      intents: [
        { slug: 'salutations', expressions: ['bonjour', 'salut', 'bonsoir à vous', 'bonjour tout le monde'] },
        {
          slug: 'commande',
          expressions: [
            'je voudrais commander une pizza',
            'une pizza s il vous plaît',
            'je veux commander',
            'commander des pizzas',
          ],
        },
      ],
      entities: [],
      skills: [],
      tests: [],
    };
    const model = await NluModel.load(await trainModel({ bundle, language: 'fr' }));
    expect((await model.analyse('Bonjour', 'fr')).intents[0]?.slug).toBe('salutations');
    const order = await model.analyse('je voudrais commander deux pizzas', 'fr');
    expect(order.language).toBe('fr');
    expect(order.intents[0]?.slug).toBe('commande');
    // An unknown language is answered with the bot's.
    expect((await model.analyse('salut', 'xx')).language).toBe('fr');
  });
});
