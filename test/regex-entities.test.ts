import { describe, expect, it } from 'vitest';
import { compileEntityRegex, entityRegexProblem } from '../src/content/regex.js';
import { INLINE_STEPS, RegexEntities } from '../src/nlu/regex-runner.js';
import { botver, botverProcess } from './helpers.js';
import { auth, commitTo, serve, sharedExampleWithTokens } from './resolver-helpers.js';

// Entity regexes that cannot run away (issue #9, break 2): a ReDoS-shaped pattern meeting a
// hostile message used to hold the event loop for 46 s (JavaScript's backtracking RegExp);
// now RE2 runs it (src/content/regex.ts), long searches go to a worker (src/nlu/regex-runner.ts),
// and `botver validate` refuses what RE2 cannot run, at its file and line.

const example = sharedExampleWithTokens();

/** `(a+)+$` is the pattern; `(?:a{1,30})+b|a` makes every search read to the end of the text. */
const RUNAWAY = {
  'training/entities/run-away.yaml': "slug: run-away\nregex: '(a+)+$'\n",
  'training/entities/spread.yaml': "slug: spread\nregex: '(?:a{1,30})+b|a'\n",
};
const HOSTILE = `${'a'.repeat(30)}!`; // 46 s before
const LONG = 'a'.repeat(2000); // the /v2/request cap: the spread pattern's searches go to the worker

/** fetch, aborted by the client after a few seconds: `answered` false means it never came. */
async function timed(url: string, init: RequestInit = {}) {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(8000) });
    return { answered: true, status: res.status, body: (await res.json()) as any };
  } catch (err) {
    return { answered: false, error: String(err) };
  }
}

describe('regex entities on a live resolver', () => {
  it('a ReDoS-shaped regex and a hostile message: the request is answered, and /healthz meanwhile', async () => {
    const { dir, tokens } = example();
    await commitTo(dir, 'v1', RUNAWAY, 'run-away regexes');
    const { url } = await serve(dir);
    const request = (text: string) =>
      timed(`${url}/v2/request`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...auth(tokens.production) },
        body: JSON.stringify({ text }),
      });
    const [hostile, long, health, again] = await Promise.all([
      request(HOSTILE),
      request(LONG),
      timed(`${url}/healthz`),
      request(LONG),
    ]);
    expect(hostile).toMatchObject({ answered: true, status: 200 });
    expect(health).toMatchObject({ answered: true, status: 200, body: { status: 'ok' } });
    expect(long).toMatchObject({ answered: true, status: 200 });
    // `(a+)+$` does not match "aaa…!"; on 2,000 a's the spread pattern finds a's, the same ones every time.
    expect(hostile.body.results.entities['run-away']).toBeUndefined();
    const spread = long.body.results.entities.spread as { value: string }[];
    expect(spread.length).toBeGreaterThan(0);
    expect(new Set(spread.map((e) => e.value))).toEqual(new Set(['a']));
    expect(again.body.results.entities).toEqual(long.body.results.entities);
  });
});

describe('botver test with a run-away regex', () => {
  it('finishes (the process exits) with the utterance checked', async () => {
    const { dir } = example();
    await commitTo(dir, 'v1', {
      ...RUNAWAY,
      'tests/run-away.yaml': `utterances:\n  - text: '${HOSTILE}'\n    intent: null\n  - text: '${LONG}'\n    intent: null\n    entities:\n      spread: a\n`,
    });
    const r = await botverProcess(dir, ['test', 'v1']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/run-away\.yaml/);
    expect(r.code).toBe(0);
  });
});

describe('botver validate and RE2', () => {
  it('refuses lookbehind, lookahead and backreferences at their file and line, saying why', async () => {
    const { dir } = example();
    await commitTo(dir, 'v2', {
      'training/entities/after-hash.yaml': "# a comment\nslug: after-hash\nregex: '(?<=#)\\d+'\n",
      'training/entities/not-followed.yaml': "slug: not-followed\nregex: 'ab(?!c)'\n",
      'training/entities/twice.yaml': "slug: twice\nflags: i\nregex: '(\\w)\\1'\n",
    });
    const r = await botver(dir, 'validate', 'v2');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /v2:training\/entities\/after-hash\.yaml:3:\d+ invalid regular expression: lookahead and lookbehind .* are not supported by the RE2 engine/,
    );
    expect(r.stdout).toMatch(/v2:training\/entities\/not-followed\.yaml:2:\d+ invalid regular expression: lookahead/);
    expect(r.stdout).toMatch(/v2:training\/entities\/twice\.yaml:3:\d+ invalid regular expression: backreferences/);
  });

  it('says what is wrong with other patterns RE2 cannot run, and with empty-matching ones', () => {
    expect(entityRegexProblem('#?[A-Z]{2}\\d{4}')).toBeNull();
    expect(entityRegexProblem('\\u0041')).toMatch(/\\x\{263A\}/);
    expect(entityRegexProblem('a++')).toMatch(/possessive/);
    expect(entityRegexProblem('(a')).toMatch(/^invalid regular expression: missing closing \)/);
    expect(entityRegexProblem('a{1001}')).toMatch(/^invalid regular expression: invalid repeat count/);
    expect(entityRegexProblem('[a-z]{1000}x{1000}')).toMatch(/too large \(\d+ instructions compiled, at most 2000\)/);
    expect(entityRegexProblem('x*', 'i')).toMatch(/matches the empty text/);
  });
});

describe('matching as before', () => {
  // What JavaScript's matchAll with `g` found (empty matches skipped), for patterns both engines read alike.
  const CASES: [string, string, string][] = [
    ['#?[A-Z]{2}\\d{4}', '', 'orders AB1234, #CD5678 and ef9012'],
    ['[a-z]+', 'i', 'Hello WORLD, élan 42'],
    ['^\\w+$', 'm', 'one\ntwo words\nthree'],
    ['a.b', 's', 'a\nb a-b'],
    ['\\b', '', 'two words'],
    ['x*', '', 'axxbxc'],
    ['\\p{L}+', 'u', 'naïve café 😀 ok'],
    ['(?:ab|a)(?:c)?', '', 'abcabac'],
    ['.', 'u', 'a😀b'],
  ];
  it.each(CASES)('%s /%s on %j', (pattern, flags, text) => {
    const js = [...text.matchAll(new RegExp(pattern, `${flags}g`))].map((m) => m[0]).filter(Boolean);
    expect(compileEntityRegex(pattern, flags).matchAll(text).values).toEqual(js);
  });

  it('a search cut at a step budget and resumed finds the same matches', () => {
    const re = compileEntityRegex('a|b+');
    const text = 'xabbbxaab'.repeat(50);
    const whole = re.matchAll(text).values;
    // Each call affords two searches at most: the text is searched in many calls.
    const budget = 2 * re.size * (text.length + 1);
    const parts: string[] = [];
    let calls = 0;
    for (let from: number | null = 0; from !== null && calls < 1000; calls++) {
      const { values, resume } = re.matchAll(text, from, budget);
      parts.push(...values);
      from = resume;
    }
    expect(calls).toBeGreaterThan(10);
    expect(parts).toEqual(whole);
  });

  it('inline and in the worker, the same matches', async () => {
    const rules = [{ entity: 'spread', regex: '(?:a{1,30})+b|a', flags: '' }];
    const short = 'aa'; // inline
    const long = 'a'.repeat(2000); // past INLINE_STEPS: the worker
    expect(65 * long.length).toBeGreaterThan(INLINE_STEPS / 2);
    const matcher = new RegexEntities(rules);
    expect(await matcher.match(short)).toEqual([
      { entity: 'spread', value: 'a' },
      { entity: 'spread', value: 'a' },
    ]);
    const first = await matcher.match(long);
    expect(first.length).toBeGreaterThan(2);
    expect(await new RegexEntities(rules).match(long)).toEqual(first);
  });
});
