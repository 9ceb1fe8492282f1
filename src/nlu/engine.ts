import { containerBootstrap } from '@nlpjs/core';
import { LangEn } from '@nlpjs/lang-en-min';
import { LangFr } from '@nlpjs/lang-fr';
import { LangEs } from '@nlpjs/lang-es';
import { LangDe } from '@nlpjs/lang-de';
import { LangIt } from '@nlpjs/lang-it';
import { LangPt } from '@nlpjs/lang-pt';
import { LangNl } from '@nlpjs/lang-nl';
import { SentimentAnalyzer } from '@nlpjs/sentiment';
import type { BundleData } from '../content/version-content.js';
import { OUT_OF_SCOPE } from '../content/types.js';
import { recogniseBuiltins } from './builtins.js';
import { LinearModel, trainLinear, type LinearModelData } from './linear-model.js';
import { RegexEntities, type RegexRule } from './regex-runner.js';
import { ValueListMatcher, type ValueList } from './value-lists.js';

// The NLU of one version: intents classified by botver's linear model (linear-model.ts: word
// and character n-grams, one-vs-rest SVMs, calibrated confidences), trained from the version's
// training/ files and exported as JSON (what the model cache stores). Entities are botver's
// own, stored beside the classifier: value lists with synonyms (value-lists.ts: ignoring case,
// small typos unless `fuzzy: false`), regexes, and the built-ins (builtins.ts). Sentiment is
// NLP.js's (its per-language word lists). Until format 4, intents were NLP.js's neural
// classifier: minutes to train a large bot, and 0.58 on Banking77 where this model has 0.91.
// Regex entities run on RE2 (content/regex.ts), searched inline or in a worker (regex-runner.ts), so
// `(a+)+$` cannot hold the event loop as JavaScript's backtracking RegExp did (46 s on 30 characters).

/** Bumped when what a model holds changes: older cached models are then retrained. */
export const MODEL_FORMAT = 4;

export { OUT_OF_SCOPE } from '../content/types.js';

/** Intents listed in an analysis: the best one, and the next ones as far as this confidence. */
const LISTED_CONFIDENCE = 0.01;
const LISTED_INTENTS = 10;

export interface EntityMatch {
  /** The entity slug (or built-in name). */
  entity: string;
  /** The value list's value, or the matched text for a regex or built-in. */
  value: string;
  raw: string;
  confidence: number;
  /** Numbers, ordinals, percentages. */
  scalar?: number;
}

export interface Analysis {
  language: string;
  /** The intents the classifier scored above 0, best first (confidence 0..1). */
  intents: { slug: string; confidence: number }[];
  entities: EntityMatch[];
  /** NLP.js's sentiment score (AFINN-based; 0 is neutral). */
  sentiment: number;
  /** When the bot's out-of-scope examples won (and so no intent is listed): their confidence. */
  outOfScope?: number;
}

export interface TrainingInput {
  bundle: BundleData;
  /** The bot's language (the manifest's), for intents that name none. */
  language: string;
}

/** Languages with NLP.js's stemmer and sentiment here; others are processed as English. */
const LANGUAGES: Record<string, unknown> = {
  en: LangEn,
  fr: LangFr,
  es: LangEs,
  de: LangDe,
  it: LangIt,
  pt: LangPt,
  nl: LangNl,
};
const localeOf = (language: string) => (Object.hasOwn(LANGUAGES, language) ? language : 'en');

/** One sentiment analyzer for the process, with every language (it holds only word lists). */
let sentiment: Promise<{ process(input: { locale: string; text: string }): Promise<SentimentResult> }> | null = null;
interface SentimentResult {
  sentiment?: { score?: number };
}
function sentimentAnalyzer() {
  sentiment ??= (async () => {
    const container = await containerBootstrap();
    for (const lang of Object.values(LANGUAGES)) container.use(lang);
    return new SentimentAnalyzer({ container });
  })().catch((err) => {
    sentiment = null; // the next message tries again
    throw err;
  });
  return sentiment;
}

interface ModelJson {
  format: number;
  locales: string[];
  lists: ValueList[];
  regexes: RegexRule[];
  classifier: LinearModelData;
}

/** Trains a model for a version's content; returns it as JSON (the classifier plus our entity settings). */
export async function trainModel({ bundle, language }: TrainingInput): Promise<string> {
  const locales = new Set<string>([localeOf(language), ...bundle.intents.map((i) => localeOf(i.language ?? language))]);
  const classifier = trainLinear(
    bundle.intents.flatMap((intent) =>
      intent.expressions.map((text) => ({ text, language: localeOf(intent.language ?? language), label: intent.slug })),
    ),
  );
  const regexes: RegexRule[] = [];
  const lists: ValueList[] = [];
  for (const entity of bundle.entities) {
    if (entity.regex !== undefined)
      regexes.push({ entity: entity.slug, regex: entity.regex, flags: entity.flags ?? '' });
    else
      lists.push({
        entity: entity.slug,
        fuzzy: entity.fuzzy !== false,
        values: entity.values.map((v) => ({ value: v.value, synonyms: v.synonyms ?? [] })),
      });
  }
  const model: ModelJson = { format: MODEL_FORMAT, locales: [...locales], lists, regexes, classifier };
  return JSON.stringify(model);
}

export class NluModel {
  private constructor(
    private readonly classifier: LinearModel | null,
    private readonly locales: string[],
    private readonly lists: ValueListMatcher,
    private readonly regexes: RegexEntities,
  ) {}

  static async load(json: string): Promise<NluModel> {
    const data = JSON.parse(json) as ModelJson;
    if (data.format !== MODEL_FORMAT) throw new Error(`model format ${data.format}, expected ${MODEL_FORMAT}`);
    // A version without expressions has no classifier: it recognises no intent.
    const classifier = data.classifier.classes.length > 0 ? new LinearModel(data.classifier) : null;
    return new NluModel(classifier, data.locales, new ValueListMatcher(data.lists), new RegexEntities(data.regexes));
  }

  /** Bytes the classifier's weights and features hold (the memory report). */
  get classifierBytes(): number {
    return this.classifier?.bytes ?? 0;
  }

  async analyse(text: string, language?: string): Promise<Analysis> {
    const locale = language && this.locales.includes(language) ? language : this.locales[0]!;
    const entities: EntityMatch[] = this.lists.match(text);
    for (const { entity, value } of await this.regexes.match(text))
      entities.push({ entity, value, raw: value, confidence: 1 });
    for (const b of recogniseBuiltins(text))
      entities.push({
        entity: b.entity,
        value: b.scalar !== undefined ? String(b.scalar) : b.raw,
        raw: b.raw,
        confidence: 0.99,
        ...(b.scalar !== undefined && { scalar: b.scalar }),
      });
    const felt = await (await sentimentAnalyzer()).process({ locale, text });
    return { language: locale, ...this.intents(text, locale), entities, sentiment: felt.sentiment?.score ?? 0 };
  }

  /**
   * The best intents with their confidences. A message the out-of-scope examples claim, or
   * that no intent claims, lists none (the fallback answers it).
   */
  private intents(text: string, locale: string): Pick<Analysis, 'intents' | 'outOfScope'> {
    if (!this.classifier) return { intents: [] };
    const confidences = this.classifier.confidences(text, locale);
    const { classes } = this.classifier;
    const ranked = [...confidences.keys()].sort((a, b) => confidences[b]! - confidences[a]!);
    if (classes[ranked[0]!] === OUT_OF_SCOPE) return { intents: [], outOfScope: round(confidences[ranked[0]!]!) };
    return {
      intents: ranked
        .filter((c, i) => classes[c] !== OUT_OF_SCOPE && (i === 0 || confidences[c]! >= LISTED_CONFIDENCE))
        .slice(0, LISTED_INTENTS)
        .map((c) => ({ slug: classes[c]!, confidence: round(confidences[c]!) })),
    };
  }
}

/** The NLU's answer as the skills engine and the platform read it: intents at or above the threshold, entities by slug. */
export function nlpResults(analysis: Analysis, threshold: number) {
  // No prototype: an entity slugged "constructor" is just a key.
  const entities: Record<string, { value: string; raw: string; confidence: number; scalar?: number }[]> =
    Object.create(null);
  for (const e of analysis.entities) {
    (entities[e.entity] ??= []).push({
      value: e.value,
      raw: e.raw,
      confidence: e.confidence,
      ...(e.scalar !== undefined && { scalar: e.scalar }),
    });
  }
  return { intents: analysis.intents.filter((i) => i.confidence >= threshold), entities };
}

const round = (n: number) => Math.round(n * 1000) / 1000;
