import { StemmerEn } from '@nlpjs/lang-en-min';
import { StemmerFr } from '@nlpjs/lang-fr';
import { StemmerEs } from '@nlpjs/lang-es';
import { StemmerDe } from '@nlpjs/lang-de';
import { StemmerIt } from '@nlpjs/lang-it';
import { StemmerPt } from '@nlpjs/lang-pt';
import { StemmerNl } from '@nlpjs/lang-nl';

// What the intent classifier sees of a text: its words' stems (so "booked" and "booking" are
// one feature), pairs of consecutive stems (word order: "card lost" is not "lost card"), and
// the character n-grams of its words (3 and 4 characters, with the word's boundaries: typos,
// unseen word forms and compounds still share most of them, the point of "subword semantic
// hashing", Shridhar et al. 2019). Texts are lowercased and stripped of accents first.

const STEMMERS: Record<string, new () => { stem(word: string): string }> = {
  en: StemmerEn,
  fr: StemmerFr,
  es: StemmerEs,
  de: StemmerDe,
  it: StemmerIt,
  pt: StemmerPt,
  nl: StemmerNl,
};

const GRAM_SIZES = [3, 4];
/** Distinct words whose features are remembered per language (the words of a bot, and more). */
const WORD_CACHE = 50_000;
/** Longer words are not remembered: one is thousands of n-grams, and no bot's word is that long. */
const CACHED_WORD_LENGTH = 40;

/**
 * Lowercase, words of letters and digits separated by one space, and no accents on Latin,
 * Greek and Cyrillic letters ("réservé" is "reserve"). Other scripts keep their combining
 * marks: a Devanagari or Thai vowel sign is part of the word, not an accent.
 */
export function normalize(text: string): string {
  return text
    .normalize('NFKD')
    .toLowerCase()
    .replace(/(?<=[\p{sc=Latin}\p{sc=Greek}\p{sc=Cyrillic}])\p{M}+/gu, '')
    .replace(/[^\p{L}\p{M}\p{N}]+/gu, ' ')
    .trim();
}

/** Features of texts in one language; remembers each word's, as words repeat across texts. */
export class Featurizer {
  private readonly Stemmer: (new () => { stem(word: string): string }) | null;
  private stemmer: { stem(word: string): string } | null;
  /** word -> [its stem's feature, its n-grams' features...] */
  private readonly words = new Map<string, string[]>();

  /** `language`: one of STEMMERS' (the engine maps the others to English before this). */
  constructor(language: string) {
    this.Stemmer = Object.hasOwn(STEMMERS, language) ? STEMMERS[language]! : null;
    this.stemmer = this.Stemmer ? new this.Stemmer() : null;
  }

  /** The features of `text` with their counts. */
  features(text: string): Map<string, number> {
    const counts = new Map<string, number>();
    const add = (feature: string) => counts.set(feature, (counts.get(feature) ?? 0) + 1);
    let previous: string | null = null;
    for (const word of normalize(text).split(' ')) {
      if (word === '') continue;
      const own = this.wordFeatures(word);
      for (const feature of own) add(feature);
      const stem = own[0]!;
      if (previous !== null) add(`b${previous} ${stem.slice(1)}`);
      previous = stem.slice(1);
    }
    return counts;
  }

  private wordFeatures(word: string): string[] {
    let own = this.words.get(word);
    if (own) return own;
    own = [`w${this.stem(word)}`];
    const padded = ` ${word} `;
    for (const n of GRAM_SIZES) for (let i = 0; i + n <= padded.length; i++) own.push(`c${padded.slice(i, i + n)}`);
    if (word.length > CACHED_WORD_LENGTH) return own;
    if (this.words.size >= WORD_CACHE) {
      this.words.clear();
      // NLP.js's stemmers remember every word they stem: a new one forgets them too.
      this.stemmer = this.Stemmer ? new this.Stemmer() : null;
    }
    this.words.set(word, own);
    return own;
  }

  private stem(word: string): string {
    if (!this.stemmer || /\d/.test(word)) return word;
    try {
      return this.stemmer.stem(word) || word;
    } catch {
      return word; // a stemmer's failure on an odd word costs only its stem
    }
  }
}
