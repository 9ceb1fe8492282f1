import { randomUUID } from 'node:crypto';
import type { Intent } from '../content/types.js';
import { nlpResults, type Analysis } from './engine.js';

// The NLP answer in the hosted platform's format (the `results` of /v2/request, the `nlp` of
// /build/v1/dialog), built the same way for the resolver and for `botver test`, so that reply
// templates reading `{{nlp.…}}` render alike in both.

export const DEFAULT_NLU_THRESHOLD = 0.5;
/** The platform's API version, as its answers carried it (SDKs do not read it). */
const PLATFORM_VERSION = '2.12.0';

/** The same from its parts: what `botver test` gives the skills engine too, so templates render alike. */
export function platformNlp(input: {
  text: string;
  analysis: Analysis;
  threshold: number;
  intents: readonly Intent[];
  botver: { environment: string | null; version: string; commit: string };
}) {
  const descriptions = new Map(input.intents.map((i) => [i.slug, i.description ?? null]));
  const { intents, entities } = nlpResults(input.analysis, input.threshold);
  return {
    uuid: randomUUID(),
    source: input.text,
    intents: intents.map((i) => ({
      slug: i.slug,
      confidence: i.confidence,
      description: descriptions.get(i.slug) ?? null,
    })),
    entities,
    act: actOf(input.text),
    type: null,
    sentiment: sentimentOf(input.analysis.sentiment),
    language: input.analysis.language,
    processing_language: input.analysis.language,
    version: PLATFORM_VERSION,
    timestamp: new Date().toISOString(),
    status: 200,
    botver: input.botver,
  };
}

/** The platform's speech act: a question (wh- or yes/no), a command, or an assertion. */
function actOf(text: string): 'wh-query' | 'yn-query' | 'command' | 'assert' {
  const t = text.trim().toLowerCase();
  if (/^(what|when|where|who|whom|which|whose|why|how)\b/.test(t)) return 'wh-query';
  if (/^(is|are|am|was|were|do|does|did|can|could|will|would|shall|should|may|might|have|has|had)\b/.test(t))
    return 'yn-query';
  if (t.endsWith('?')) return 'wh-query';
  if (/^(please\b|show|give|tell|send|book|order|cancel|stop|start|find|get|let|help|open|close|add|remove)\b/.test(t))
    return 'command';
  return 'assert';
}

/** The platform's five sentiment levels from NLP.js's score. */
function sentimentOf(score: number): 'vpositive' | 'positive' | 'neutral' | 'negative' | 'vnegative' {
  if (score >= 0.6) return 'vpositive';
  if (score > 0.1) return 'positive';
  if (score <= -0.6) return 'vnegative';
  if (score < -0.1) return 'negative';
  return 'neutral';
}
