#!/usr/bin/env node
// Worst cases of the per-message NLU work on the longest message /v2/request accepts (2,000
// characters): how long one message can hold the event loop. Uses dist/ (npm run build first).
//
//   1. Entity regexes: ReDoS-shaped patterns on hostile messages, JavaScript's RegExp (what ran
//      before; catastrophic patterns on short messages only, they would not finish on long ones)
//      beside RE2 (src/content/regex.ts) on 2,000 characters; the largest program validate accepts.
//   2. Built-in entities: recogniseBuiltins on every message made by repeating a fragment of one
//      to three characters from a hostile alphabet (digits, letters, . , - @ % / : + ( ) space),
//      and some longer fragments; the worst ones listed.
//   3. Value lists: exact and fuzzy matching of a 2,000-character message against lists of
//      1,000 and 10,000 fuzzy values, with repeated and with all-distinct words.
//   4. The whole analysis (NLP.js classification, sentiment, entities) of a model trained from
//      40 intents x 25 expressions, on ordinary and hostile 2,000-character messages.
// Each figure is the worst of several runs after a warm-up (re2js's first calls run before V8
// has compiled it), in milliseconds of this thread's CPU time, so that other processes on the
// machine do not count. For regex entities, the time on the event loop (the synchronous part of
// a message's search) and the whole search, worker included. Not a test: times vary with the
// machine; the point is the order of magnitude (a few ms, not seconds).
//
// Usage: node bench/nlu-worst-case.js
import { MAX_REGEX_PROGRAM_SIZE } from '../dist/content/regex.js';
import { recogniseBuiltins } from '../dist/nlu/builtins.js';
import { NluModel, trainModel } from '../dist/nlu/engine.js';
import { RegexEntities } from '../dist/nlu/regex-runner.js';
import { ValueListMatcher } from '../dist/nlu/value-lists.js';

const LIMIT = 2000;
const fill = (unit, length = LIMIT) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length);

/** CPU time of this process in ms (the main thread's, when no worker runs). */
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/** Worst CPU time of `runs` calls after `warm` warm-up calls, in ms. */
function worst(fn, runs = 5, warm = 3) {
  for (let i = 0; i < warm; i++) fn();
  let max = 0;
  for (let i = 0; i < runs; i++) {
    const t = cpu();
    fn();
    max = Math.max(max, cpu() - t);
  }
  return max;
}
/** The same for an async call (the event loop is held for at most this long, and likely less). */
async function worstAsync(fn, runs = 3) {
  await fn();
  let max = 0;
  for (let i = 0; i < runs; i++) {
    const t = cpu();
    await fn();
    max = Math.max(max, cpu() - t);
  }
  return max;
}
/** A regex entity search: worst CPU time on the event loop (until the first await) and worst wall time in all. */
async function regexWorst(matcher, text, runs = 5) {
  for (let i = 0; i < 20; i++) await matcher.match(text);
  let sync = 0;
  let total = 0;
  let found = 0;
  for (let i = 0; i < runs; i++) {
    const c = cpu();
    const t = performance.now();
    const pending = matcher.match(text);
    sync = Math.max(sync, cpu() - c);
    found = (await pending).length;
    total = Math.max(total, performance.now() - t);
  }
  return `on the event loop ${ms(sync)}, in all ${ms(total)} (${found} matches)`;
}
const ms = (n) => `${n.toFixed(2)} ms`;

console.log('1. Entity regexes');
/** @type {[string, string, string][]} pattern, repeated unit, tail */
const HOSTILE = [
  ['(a+)+$', 'a', '!'],
  ['(a|a)*b', 'a', '!'],
  ['(a|aa)+$', 'a', '!'],
  ['(\\w+\\s?)+$', 'ab ', '!'],
  ['(.*a){12}', 'a', '!'],
  ['^(([a-z])+.)+[A-Z]([a-z])+$', 'aa', '!'],
];
for (const [pattern, unit, tail] of HOSTILE) {
  const short = fill(unit, 24) + tail;
  const js = new RegExp(pattern, 'g');
  const t = cpu();
  for (const _ of short.matchAll(js));
  const old = cpu() - t;
  const long = fill(unit, LIMIT - tail.length) + tail;
  const re2 = new RegexEntities([{ entity: 'x', regex: pattern, flags: '' }]);
  console.log(`  ${pattern.padEnd(28)} RegExp on ${short.length} chars: ${ms(old).padStart(12)}`);
  console.log(`  ${''.padEnd(28)} RE2 on ${long.length} chars: ${await regexWorst(re2, long)}`);
}
// Patterns close to the program-size limit, patterns matching at every position, and patterns
// whose every search reads to the end of the text (iteration over matches is then quadratic).
/** @type {[string, string][]} pattern, repeated unit */
const BIG = [
  ['[a-z]{998}', 'a'],
  ['(?:[a-z]\\d){499}', 'a1'],
  [`(?:${Array.from({ length: 150 }, (_, i) => `w${i}x`).join('|')})`, 'w1'],
  ['(?i)[a-z]{1,998}!', 'a'],
  ['a', 'a'],
  ['\\b\\w', 'a '],
  ['#?[A-Z]{2}\\d{4}', 'AB1234 '],
  ['a.*b|a', 'a'],
  ['(?:a{1,30})+b|a', 'a'],
];
for (const [pattern, unit] of BIG) {
  const re2 = new RegexEntities([{ entity: 'x', regex: pattern, flags: '' }]);
  console.log(`  ${pattern.slice(0, 30).padEnd(30)} on ${LIMIT} "${unit}…": ${await regexWorst(re2, fill(unit))}`);
}
console.log(`  (validate refuses programs over ${MAX_REGEX_PROGRAM_SIZE} instructions)`);

console.log('2. Built-in entities');
const alphabet = ['1', 'a', '.', ',', '-', '@', '%', ' ', '/', ':', '+', '(', ')', 'w', 'h'];
const fragments = [];
for (const a of alphabet) {
  fragments.push(a);
  for (const b of alphabet) {
    fragments.push(a + b);
    for (const c of alphabet) fragments.push(a + b + c);
  }
}
fragments.push('http://', 'www.', 'first ', 'twenty-one ', '1,000', '255.', '1st ', '1 per cent ', 'a dozen ', 'x@a.');
fragments.push('+1 (12) ', '11 ', '1.1.1.1 ', 'a@b.co ', 'https://x.y/', '12-34 ', '50% ');
const scanned = fragments.map((f) => {
  const text = fill(f);
  const t = performance.now();
  recogniseBuiltins(text);
  return { f, first: performance.now() - t };
});
scanned.sort((a, b) => b.first - a.first);
const confirmed = scanned
  .slice(0, 8)
  .map(({ f }) => ({ f, t: worst(() => recogniseBuiltins(fill(f)), 9) }))
  .sort((a, b) => b.t - a.t);
console.log(`  ${fragments.length} messages of ${LIMIT} characters; the slowest, re-measured:`);
for (const { f, t } of confirmed.slice(0, 5)) console.log(`  ${JSON.stringify(f).padEnd(16)} ${ms(t)}`);

console.log('3. Value lists');
const word = (i) => {
  let s = '';
  for (let n = i + 17576; n > 0; n = Math.floor(n / 26)) s += String.fromCharCode(97 + (n % 26));
  return s;
};
for (const size of [1000, 10000]) {
  const values = Array.from({ length: size }, (_, i) => ({
    value: word(i * 7),
    synonyms: [`${word(i * 7 + 1)} ${word(i)}`],
  }));
  const matcher = new ValueListMatcher([{ entity: 'thing', fuzzy: true, values }]);
  const repeated = fill(`${word(3)}x `);
  const distinct = fill(Array.from({ length: 400 }, (_, i) => `${word(i * 13 + 5)}q`).join(' '));
  console.log(
    `  ${size} values + ${size} two-word synonyms: repeated word ${ms(worst(() => matcher.match(repeated), 3))}, distinct words ${ms(worst(() => matcher.match(distinct), 3))}`,
  );
}

console.log('4. Whole analysis (NLP.js + entities)');
const intents = Array.from({ length: 40 }, (_, i) => ({
  slug: `intent-${i}`,
  expressions: Array.from({ length: 25 }, (_, j) => `please ${word(i * 31 + j)} the ${word(i)} for ${word(j + 500)}`),
}));
const bundle = {
  intents,
  entities: [
    { slug: 'code', regex: '(a+)+$' },
    { slug: 'size', values: [{ value: 'large', synonyms: ['big'] }, { value: 'small' }] },
  ],
  skills: [],
  tests: [],
};
const model = await NluModel.load(await trainModel({ bundle, language: 'en' }));
const messages = {
  ordinary: fill(`please ${word(3)} the ${word(1)} for a large pizza, 2 of them, call +1 555 123 4567. `),
  'a…!': `${fill('a', LIMIT - 1)}!`,
  '1 1 1': fill('1 '),
  'distinct words': fill(Array.from({ length: 400 }, (_, i) => word(i * 13 + 5)).join(' ')),
};
for (const [name, text] of Object.entries(messages))
  console.log(`  ${name.padEnd(16)} ${ms(await worstAsync(() => model.analyse(text)))}`);
