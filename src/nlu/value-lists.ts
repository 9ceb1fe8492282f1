import type { EntityMatch } from './engine.js';

// Value-list entities (docs/formats.md: a value and its synonyms), matched by botver rather than by
// NLP.js, whose matcher computes an edit distance between every synonym and every span of words,
// twice per message (most of /v2/request's time). Here: exact matches through an index of first
// words, longest first; then, for `fuzzy` entities only, the words no exact match took are
// compared with synonyms of similar length (similarity = 1 - edit distance / length >= 0.8).

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
}

interface Token {
  word: string;
  start: number;
  end: number;
}

export const FUZZY_THRESHOLD = 0.8;
const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu;

const tokenize = (text: string): Token[] =>
  [...text.matchAll(WORD)].map((m) => ({ word: m[0].toLowerCase(), start: m.index, end: m.index + m[0].length }));

export class ValueListMatcher {
  private readonly byFirstWord = new Map<string, Phrase[]>();
  private readonly fuzzyPhrases: Phrase[] = [];

  constructor(lists: readonly ValueList[]) {
    for (const list of lists) {
      for (const { value, synonyms } of list.values) {
        for (const text of new Set([value, ...synonyms])) {
          const words = tokenize(text).map((t) => t.word);
          if (!words.length) continue;
          const phrase = { entity: list.entity, value, words, text: words.join(' '), fuzzy: list.fuzzy };
          const bucket = this.byFirstWord.get(words[0]!) ?? [];
          bucket.push(phrase);
          this.byFirstWord.set(words[0]!, bucket);
          if (list.fuzzy) this.fuzzyPhrases.push(phrase);
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
    if (this.fuzzyPhrases.length) {
      for (let i = 0; i < tokens.length; i++) {
        if (taken[i]) continue;
        // The spans starting here, one per phrase length, built once.
        const spans: (string | null)[] = [];
        const spanOf = (n: number): string | null => {
          if (spans[n] !== undefined) return spans[n]!;
          let span: string | null = null;
          if (i + n <= tokens.length) {
            span = tokens[i]!.word;
            for (let k = i + 1; k < i + n && span !== null; k++) span = taken[k] ? null : `${span} ${tokens[k]!.word}`;
          }
          return (spans[n] = span);
        };
        let best: { phrase: Phrase; n: number; similarity: number } | null = null;
        for (const phrase of this.fuzzyPhrases) {
          const n = phrase.words.length;
          const span = spanOf(n);
          if (span === null) continue;
          const longest = Math.max(span.length, phrase.text.length);
          const allowed = Math.floor(longest * (1 - FUZZY_THRESHOLD) + 1e-9);
          if (Math.abs(span.length - phrase.text.length) > allowed) continue;
          const distance = editDistance(span, phrase.text, allowed);
          if (distance > allowed) continue;
          const similarity = 1 - distance / longest;
          if (!best || similarity > best.similarity || (similarity === best.similarity && n > best.n))
            best = { phrase, n, similarity };
        }
        if (best) take(i, best.n, best.phrase, Math.round(best.similarity * 1000) / 1000);
      }
    }
    return out.sort((a, b) => a.at - b.at).map(({ at: _at, ...m }) => m);
  }
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
