import { containerBootstrap } from '@nlpjs/core';
import { Nlp } from '@nlpjs/nlp';
import { LangEn } from '@nlpjs/lang-en-min';
import { LangFr } from '@nlpjs/lang-fr';
import { LangEs } from '@nlpjs/lang-es';
import { LangDe } from '@nlpjs/lang-de';
import { LangIt } from '@nlpjs/lang-it';
import { LangPt } from '@nlpjs/lang-pt';
import { LangNl } from '@nlpjs/lang-nl';
import type { BundleData } from '../content/version-content.js';
import { recogniseBuiltins } from './builtins.js';
import { RegexEntities, type RegexRule } from './regex-runner.js';
import { ValueListMatcher, type ValueList } from './value-lists.js';

// Intent classification for one version with NLP.js (offline, no autoSave/autoLoad): trained
// from the version's training/ files, exported as JSON (what the model cache stores), imported
// to answer. Entities are botver's own, stored beside the classifier: value lists with synonyms
// (value-lists.ts: ignoring case, small typos unless `fuzzy: false`), regexes, and the
// built-ins (builtins.ts). NLP.js's entity extraction ran twice per message, cost most of a
// request's time, looped forever on an empty regex match and printed numbers to stdout.
// Regex entities run on RE2 (content/regex.ts), searched inline or in a worker (regex-runner.ts), so
// `(a+)+$` cannot hold the event loop as JavaScript's backtracking RegExp did (46 s on 30 characters).

/** Bumped when what a model holds changes: older cached models are then retrained. */
export const MODEL_FORMAT = 3;

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
}

export interface TrainingInput {
  bundle: BundleData;
  /** The bot's language (the manifest's), for intents that name none. */
  language: string;
}

/** Languages with an NLP.js tokenizer and stemmer here; others are processed as English. */
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

async function createNlp(locales: Iterable<string>) {
  const container = await containerBootstrap();
  container.use(Nlp);
  for (const locale of new Set(locales)) container.use(LANGUAGES[locale]);
  // NLP.js logs every training epoch to stdout unless told not to.
  container.registerConfiguration('nlu-??', { ...container.getConfiguration('nlu-??'), log: false }, true);
  const nlp = container.get('nlp');
  nlp.settings.autoSave = false;
  nlp.settings.autoLoad = false;
  nlp.settings.calculateSentiment = true;
  nlp.settings.threshold = 0; // the threshold is the manifest's, applied by the caller
  nlp.forceNER = false; // entities are ours
  return nlp;
}

/** Trains a model for a version's content; returns it as JSON (NLP.js export plus our entity settings). */
export async function trainModel({ bundle, language }: TrainingInput): Promise<string> {
  const locales = new Set<string>([localeOf(language), ...bundle.intents.map((i) => localeOf(i.language ?? language))]);
  const nlp = await createNlp(locales);
  nlp.addLanguage([...locales]);
  for (const intent of bundle.intents) {
    for (const expression of intent.expressions)
      nlp.addDocument(localeOf(intent.language ?? language), expression, intent.slug);
  }
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
  await nlp.train();
  return JSON.stringify({ format: MODEL_FORMAT, locales: [...locales], lists, regexes, nlp: nlp.export(true) });
}

export class NluModel {
  private constructor(
    // biome-ignore lint/suspicious/noExplicitAny: NLP.js ships no types; this field is its boundary
    private readonly nlp: any,
    private readonly locales: string[],
    private readonly lists: ValueListMatcher,
    private readonly regexes: RegexEntities,
  ) {}

  static async load(json: string): Promise<NluModel> {
    const data = JSON.parse(json) as {
      format: number;
      locales: string[];
      lists: ValueList[];
      regexes: RegexRule[];
      nlp: string;
    };
    if (data.format !== MODEL_FORMAT) throw new Error(`model format ${data.format}, expected ${MODEL_FORMAT}`);
    const nlp = await createNlp(data.locales);
    nlp.import(data.nlp);
    return new NluModel(nlp, data.locales, new ValueListMatcher(data.lists), new RegexEntities(data.regexes));
  }

  async analyse(text: string, language?: string): Promise<Analysis> {
    const locale = language && this.locales.includes(language) ? language : this.locales[0]!;
    const out = await this.nlp.process(locale, text);
    const intents = ((out.classifications ?? []) as { intent: string; score: number }[])
      .filter((c) => c.intent !== 'None' && c.score > 0)
      .map((c) => ({ slug: c.intent, confidence: round(c.score) }))
      .sort((a, b) => b.confidence - a.confidence);
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
    return { language: out.locale ?? locale, intents, entities, sentiment: out.sentiment?.score ?? 0 };
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
