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

/**
 * `(a+)+$` is the pattern; every search of `(?:a{1,30})+b|a` reads to the end of the text
 * (its matches on a long text may be cut by the worker's limits); `[a-z]{60}` on 2,000 letters is
 * past the event loop's share, so the worker finds its matches.
 */
const RUNAWAY = {
  'training/entities/run-away.yaml': "slug: run-away\nregex: '(a+)+$'\n",
  'training/entities/spread.yaml': "slug: spread\nregex: '(?:a{1,30})+b|a'\n",
  'training/entities/wide.yaml': "slug: wide\nregex: '[a-z]{60}'\n",
};
const HOSTILE = `${'a'.repeat(30)}!`; // 46 s before
const LONG = 'a'.repeat(2000); // the /v2/request cap

/** fetch, aborted by the client after 15 s (the old engine took 46 s): `answered` false means it never came. */
async function timed(url: string, init: RequestInit = {}) {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
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
    // `(a+)+$` does not match "aaa…!"; on 2,000 a's, [a-z]{60} matches 33 times, found in the worker.
    expect(hostile.body.results.entities['run-away']).toBeUndefined();
    expect(hostile.body.results.entities.spread).toHaveLength(30);
    const wide = long.body.results.entities.wide as { value: string }[];
    expect(wide.map((e) => e.value)).toEqual(Array(33).fill('a'.repeat(60)));
    expect(again.body.results.entities.wide).toEqual(wide);
  });
});

describe('botver test with a run-away regex', () => {
  it('finishes (the process exits) with the utterance checked', async () => {
    const { dir } = example();
    await commitTo(dir, 'v1', {
      ...RUNAWAY,
      'tests/run-away.yaml': `utterances:\n  - text: '${HOSTILE}'\n    intent: null\n  - text: '${LONG}'\n    intent: null\n    entities:\n      wide: ${'a'.repeat(60)}\n`,
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
    const rules = [{ entity: 'wide', regex: '[a-z]{60}', flags: '' }];
    const matcher = new RegexEntities(rules);
    // 130 letters: searched inline; 2,000: one search is worth more than INLINE_STEPS, so the worker searches.
    const inline = await matcher.match('a'.repeat(130));
    expect(inline).toEqual(Array(2).fill({ entity: 'wide', value: 'a'.repeat(60) }));
    expect(62 * 2001).toBeGreaterThan(INLINE_STEPS);
    expect(await matcher.match('a'.repeat(2000))).toEqual(Array(33).fill({ entity: 'wide', value: 'a'.repeat(60) }));
  });
});

describe('value lists: typo tolerance bounded per message', () => {
  it('past the fuzzy budget, the rest of a long message gets exact matches, the same every time', async () => {
    const { FUZZY_BUDGET, ValueListMatcher } = await import('../src/nlu/value-lists.js');
    const word = (i: number) => {
      let s = '';
      for (let n = i + 11_881_376; n > 0; n = Math.floor(n / 26)) s += String.fromCharCode(97 + (n % 26));
      return s; // six letters
    };
    const values = Array.from({ length: 1000 }, (_, i) => ({ value: word(i * 7), synonyms: [] }));
    const matcher = new ValueListMatcher([{ entity: 'thing', fuzzy: true, values }]);
    // 300 distinct words one letter off a value each, then a value as written.
    const typos = Array.from({ length: 300 }, (_, i) => `${word(i * 7).slice(0, 5)}q`);
    const text = `${typos.join(' ')} ${word(700)}`;
    expect(300 * 1000 * 36).toBeGreaterThan(FUZZY_BUDGET);
    const first = matcher.match(text);
    expect(first.at(-1)).toEqual({ entity: 'thing', value: word(700), raw: word(700), confidence: 1 });
    const fuzzy = first.filter((m) => m.confidence < 1);
    expect(fuzzy.length).toBeGreaterThan(0);
    expect(fuzzy.length).toBeLessThan(300);
    expect(matcher.match(text)).toEqual(first);
  });
});
