import { DEFAULT_LIMITS } from '../src/content/limits.js';

// Content for the tests of content loading (content-loading.test.ts, content-loader.test.ts).

/**
 * A large version within the default limits (DEFAULT_LIMITS): `count` intent files just under
 * the size a file may have, together just under the expressions a version may have (~5 MB).
 */
export function largeIntents(count: number): Record<string, string> {
  const words = ['book', 'cancel', 'pizza', 'flight', 'order', 'please', 'tomorrow', 'table', 'for', 'two'];
  // Room is left for the example bot's own expressions.
  const perFile = Math.floor((DEFAULT_LIMITS.maxExpressions - 1_000) / count);
  const width = Math.floor((DEFAULT_LIMITS.maxFileBytes * 0.95) / perFile) - 6;
  const files: Record<string, string> = {};
  for (let f = 0; f < count; f++) {
    const parts = [`slug: large-${f}\nexpressions:\n`];
    for (let i = 0; i < perFile; i++) {
      let text = `${words[i % 10]} ${words[(i >> 3) % 10]} ${words[(i >> 6) % 10]} ${f} ${i}`;
      while (text.length < width) text += ` ${words[(text.length * 7 + i) % 10]}`;
      parts.push(`  - ${text}\n`);
    }
    files[`training/intents/large-${f}.yaml`] = parts.join('');
  }
  return files;
}
