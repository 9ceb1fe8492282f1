#!/usr/bin/env node
// Peak memory and time of training one version's NLU model, by size (issue #9: the
// limits.maxExpressions default must bound training memory). Each configuration runs in its
// own process (`node bench/training-memory.js EXPRESSIONS INTENTS VOCABULARY`), which trains
// with dist/nlu/engine.js exactly as the training worker does and prints one JSON line: peak
// RSS (maxRSS of the process, Node's own ~40 MB included), heap after training, seconds.
// VOCABULARY is the number of distinct words expressions draw from (a real bot: a few
// thousand; a hostile one: about one new word per expression). The classifier holds about
// intents × distinct words weights, so memory follows vocabulary as much as expressions.
// Uses dist/ (npm run build first).
//
// Usage: node bench/training-memory.js            the table of the README / docs (several minutes)
//        node bench/training-memory.js 50000 500 3000   one configuration
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const [expressions = 0, intents = 1, vocabulary = 1] = process.argv.slice(2).map(Number);

if (expressions) {
  const { trainModel } = await import('../dist/nlu/engine.js');
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const word = (n) => `w${n.toString(36)}`;
  const perIntent = Math.ceil(expressions / intents);
  /** @type {import('../dist/content/version-content.js').BundleData} */
  const bundle = { intents: [], entities: [], skills: [], tests: [] };
  let made = 0;
  for (let i = 0; i < intents && made < expressions; i++) {
    /** @type {string[]} */
    const list = [];
    for (let j = 0; j < perIntent && made < expressions; j++, made++) {
      // Six to ten words, some shared by the intent (what makes it learnable), the rest drawn.
      const words = [word(i * 3), word(i * 3 + 1)];
      const n = 4 + Math.floor(random() * 5);
      for (let k = 0; k < n; k++) words.push(word(Math.floor(random() * vocabulary)));
      list.push(words.join(' '));
    }
    bundle.intents.push({ slug: `intent-${i}`, expressions: list });
  }
  const started = performance.now();
  await trainModel({ bundle, language: 'en' });
  const seconds = (performance.now() - started) / 1000;
  const peakMb = Math.round(process.resourceUsage().maxRSS / 1024);
  const heapMb = Math.round(process.memoryUsage().heapUsed / 1024 / 1024);
  console.log(
    JSON.stringify({ expressions, intents, vocabulary, peakMb, heapMb, seconds: Number(seconds.toFixed(1)) }),
  );
} else {
  const self = fileURLToPath(import.meta.url);
  const configurations = [
    [15_000, 150, 3_000], // the benchmark bot's size
    [50_000, 500, 3_000], // the default limits.maxExpressions, a real vocabulary
    [50_000, 500, 50_000], // the same with a word per expression in the vocabulary
  ];
  for (const [e, i, v] of configurations) {
    try {
      process.stdout.write(
        execFileSync(process.execPath, ['--max-old-space-size=4096', self, String(e), String(i), String(v)], {
          encoding: 'utf8',
          timeout: 30 * 60 * 1000,
        }),
      );
    } catch (err) {
      console.log(JSON.stringify({ expressions: e, intents: i, vocabulary: v, failed: String(err).slice(0, 200) }));
    }
  }
}
