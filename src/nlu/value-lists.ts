import type { EntityMatch } from './engine.js';

// Value-list entities (docs/formats.md: a value and its synonyms), matched by botver rather than by
// NLP.js, whose matcher computes an edit distance between every synonym and every span of words,
// twice per message (most of /v2/request's time). Here: exact matches through an index of first
// words, longest first; then, for `fuzzy` entities only, the words no exact match took are
// compared with synonyms of similar length (similarity = 1 - edit distance / length >= 0.8).
// Fuzzy candidates are indexed by word count and length, and each distinct span of a message is
// compared once: a message of 2,000 characters against thousands of values compared every
// word with every synonym (1,000 values: 0.5 s per message, bench/nlu-worst-case.js). What is
// left grows with words x similar synonyms, so a message's fuzzy comparisons are limited to
// FUZZY_BUDGET (cells of edit-distance tables, a few milliseconds): past it, the message's
// remaining words get exact matches only. Counted, not timed: the same message always gets the
// same entities.

export interface ValueList {
  entity: string;
  fuzzy: boolean;
  values: { value: string; synonyms: string[] }[];
}

interface Phrase {
  entity: string;
  value: string;
  words: string[];
  text: string;
  fuzzy: boolean;
  /** Position among the fuzzy phrases: between equally good candidates, the first wins. */
  order: number;
}

/** Most typos a span and a phrase of these lengths may differ by (0: only an exact match, found before). */
const allowedTypos = (a: number, b: number) => Math.floor(Math.max(a, b) * (1 - FUZZY_THRESHOLD) + 1e-9);

interface Token {
  word: string;
  start: number;
  end: number;
}

export const FUZZY_THRESHOLD = 0.8;
/** Edit-distance cells (span length x synonym length, each comparison) a message may cost. */
export const FUZZY_BUDGET = 1_000_000;
const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu;

const tokenize = (text: string): Token[] =>
  [...text.matchAll(WORD)].map((m) => ({ word: m[0].toLowerCase(), start: m.index, end: m.index + m[0].length }));

export class ValueListMatcher {
  private readonly byFirstWord = new Map<string, Phrase[]>();
  /** Fuzzy phrases by word count, then by text length. */
  private readonly fuzzyIndex = new Map<number, Map<number, Phrase[]>>();
  private fuzzyCount = 0;

  constructor(lists: readonly ValueList[]) {
    for (const list of lists) {
      for (const { value, synonyms } of list.values) {
        for (const text of new Set([value, ...synonyms])) {
          const words = tokenize(text).map((t) => t.word);
          if (!words.length) continue;
          const joined = words.join(' ');
          const phrase = { entity: list.entity, value, words, text: joined, fuzzy: list.fuzzy, order: this.fuzzyCount };
          const bucket = this.byFirstWord.get(words[0]!) ?? [];
          bucket.push(phrase);
          this.byFirstWord.set(words[0]!, bucket);
          if (list.fuzzy) {
            this.fuzzyCount++;
            const byLength = this.fuzzyIndex.get(words.length) ?? new Map<number, Phrase[]>();
            this.fuzzyIndex.set(words.length, byLength);
            byLength.set(joined.length, [...(byLength.get(joined.length) ?? []), phrase]);
          }
        }
      }
    }
    for (const bucket of this.byFirstWord.values()) bucket.sort((a, b) => b.words.length - a.words.length);
  }

  match(text: string): EntityMatch[] {
    const tokens = tokenize(text);
    const taken = new Array<boolean>(tokens.length).fill(false);
    const out: (EntityMatch & { at: number })[] = [];
    const take = (i: number, n: number, phrase: Phrase, confidence: number) => {
      for (let k = i; k < i + n; k++) taken[k] = true;
      out.push({
        entity: phrase.entity,
        value: phrase.value,
        raw: text.slice(tokens[i]!.start, tokens[i + n - 1]!.end),
        confidence,
        at: i,
      });
    };
    for (let i = 0; i < tokens.length; i++) {
      if (taken[i]) continue;
      const phrase = this.byFirstWord
        .get(tokens[i]!.word)
        ?.find((p) => p.words.every((w, k) => tokens[i + k]?.word === w && !taken[i + k]));
      if (phrase) take(i, phrase.words.length, phrase, 1);
    }
    if (this.fuzzyCount) {
      // The best phrase of each word count for each distinct span text, computed once per message.
      const bestFor = new Map<string, { phrase: Phrase; similarity: number } | null>();
      const budget = { left: FUZZY_BUDGET };
      for (let i = 0; i < tokens.length && budget.left > 0; i++) {
        if (taken[i]) continue;
        let best: { phrase: Phrase; n: number; similarity: number } | null = null;
        for (const [n, byLength] of this.fuzzyIndex) {
          if (i + n > tokens.length) continue;
          let span: string | null = tokens[i]!.word;
          for (let k = i + 1; k < i + n && span !== null; k++) span = taken[k] ? null : `${span} ${tokens[k]!.word}`;
          if (span === null) continue;
          const key = `${n} ${span}`;
          let found = bestFor.get(key);
          if (found === undefined) bestFor.set(key, (found = bestPhrase(span, byLength, budget)));
          if (
            found &&
            (!best ||
              found.similarity > best.similarity ||
              (found.similarity === best.similarity &&
                (n > best.n || (n === best.n && found.phrase.order < best.phrase.order))))
          )
            best = { ...found, n };
        }
        if (best) take(i, best.n, best.phrase, Math.round(best.similarity * 1000) / 1000);
      }
    }
    return out.sort((a, b) => a.at - b.at).map(({ at: _at, ...m }) => m);
  }
}

/** The most similar phrase to `span` among those of one word count (by length), the first of equals; null if none is close enough. */
function bestPhrase(
  span: string,
  byLength: Map<number, Phrase[]>,
  budget: { left: number },
): { phrase: Phrase; similarity: number } | null {
  let best: { phrase: Phrase; similarity: number } | null = null;
  // Lengths a phrase may have: |span - phrase| <= allowedTypos, so within a fifth of the longer one.
  const from = span.length - allowedTypos(span.length, 0);
  const to = Math.floor(span.length / FUZZY_THRESHOLD) + 1;
  for (let length = from; length <= to; length++) {
    const allowed = allowedTypos(span.length, length);
    if (allowed === 0 || Math.abs(span.length - length) > allowed) continue;
    for (const phrase of byLength.get(length) ?? []) {
      if (budget.left <= 0) return best;
      budget.left -= 1 + span.length * length;
      const distance = editDistance(span, phrase.text, allowed);
      if (distance > allowed) continue;
      const similarity = 1 - distance / Math.max(span.length, length);
      if (!best || similarity > best.similarity || (similarity === best.similarity && phrase.order < best.phrase.order))
        best = { phrase, similarity };
    }
  }
  return best;
}

/** Levenshtein distance, two reused rows; stops early (returning more than `max`) once every path costs more than `max`. */
let rowA = new Int32Array(64);
let rowB = new Int32Array(64);
function editDistance(a: string, b: string, max: number): number {
  if (rowA.length <= b.length) {
    rowA = new Int32Array(b.length + 1);
    rowB = new Int32Array(b.length + 1);
  }
  let previous = rowA;
  let current = rowB;
  for (let j = 0; j <= b.length; j++) previous[j] = j;
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    let rowMin = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const cost = previous[j - 1]! + (ca === b.charCodeAt(j - 1) ? 0 : 1);
      const v = Math.min(previous[j]! + 1, current[j - 1]! + 1, cost);
      current[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    [previous, current] = [current, previous];
  }
  return previous[b.length]!;
}
