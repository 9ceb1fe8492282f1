import { Router } from 'express';
import { randomUUID } from 'node:crypto';
import type { LiveSnapshot } from '../live-snapshot.js';
import type { NluService } from '../../nlu/nlu-service.js';
import { nlpResults, type Analysis } from '../../nlu/engine.js';
import { resolveToken, servedOf, type Served } from '../served.js';
import { HttpError, methodNotAllowed } from '../http-errors.js';

// POST /v2/request: the hosted platform's NLP endpoint, answered in its format from the NLU
// model of the version the token resolves to, plus a `botver` key saying which environment,
// version and commit answered.

export const DEFAULT_NLU_THRESHOLD = 0.5;
/** The platform's API version, as its answers carried it (SDKs do not read it). */
const PLATFORM_VERSION = '2.12.0';
/** The platform's limit was lower still; analysis runs on the event loop, so long texts are refused. */
export const MAX_TEXT = 2_000;

export function nlpRoutes(live: LiveSnapshot, nlu: NluService): Router {
  const router = Router();
  router
    .route('/v2/request')
    .post(resolveToken(live), async (req, res) => {
      const { text, language } = requestBody(req.body);
      const served = servedOf(res);
      const choice = await nlu.modelFor(`${served.owner.kind}:${served.owner.name}`, served.content, served.version);
      const failed = choice ? null : nlu.store.failure(served.content.commit);
      if (failed) throw new HttpError(503, 'MODEL_FAILED', `the NLU model of version ${served.version} at ${served.content.commit.slice(0, 12)} could not be trained; see the resolver's log`);
      if (!choice) throw new HttpError(503, 'MODEL_TRAINING', `the NLU model of version ${served.version} is being trained; try again shortly`, { 'Retry-After': '2' });
      const analysis = await choice.model.analyse(text, language);
      // While the served commit's model trains, the previous one answers, and says so.
      const results = platformResults({ ...served, version: choice.version }, choice.commit, text, analysis);
      res.locals.version = choice.version;
      res.locals.commit = choice.commit;
      res.locals.intent = results.intents[0]?.slug ?? null;
      if (results.intents[0]) res.locals.confidence = results.intents[0].confidence;
      res.locals.text = text;
      res.json({ results, message: 'Requests rendered with success' });
    })
    .all(methodNotAllowed('POST'));
  return router;
}

function requestBody(body: unknown): { text: string; language?: string } {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b.text !== 'string' || !b.text.trim()) throw new HttpError(400, 'BAD_REQUEST', 'the body needs "text", a non-empty string');
  if (b.text.length > MAX_TEXT) throw new HttpError(400, 'BAD_REQUEST', `"text" is longer than ${MAX_TEXT} characters`);
  if (b.language !== undefined && b.language !== null && (typeof b.language !== 'string' || !/^[a-z]{2}$/.test(b.language))) {
    throw new HttpError(400, 'BAD_REQUEST', '"language" is a two-letter ISO 639-1 code');
  }
  return { text: b.text, language: (b.language as string | null) ?? undefined };
}

/** The `results` of the platform's /request answer. */
export function platformResults(served: Served, commit: string, text: string, analysis: Analysis) {
  const threshold = served.snapshot.manifest.data.nluThreshold ?? DEFAULT_NLU_THRESHOLD;
  const descriptions = new Map(served.content.bundle!.intents.map((i) => [i.slug, i.description ?? null]));
  const { intents, entities } = nlpResults(analysis, threshold);
  return {
    uuid: randomUUID(),
    source: text,
    intents: intents.map((i) => ({ slug: i.slug, confidence: i.confidence, description: descriptions.get(i.slug) ?? null })),
    entities,
    act: actOf(text),
    type: null,
    sentiment: sentimentOf(analysis.sentiment),
    language: analysis.language,
    processing_language: analysis.language,
    version: PLATFORM_VERSION,
    timestamp: new Date().toISOString(),
    status: 200,
    botver: { environment: served.environment, version: served.version, commit },
  };
}

/** The platform's speech act: a question (wh- or yes/no), a command, or an assertion. */
function actOf(text: string): 'wh-query' | 'yn-query' | 'command' | 'assert' {
  const t = text.trim().toLowerCase();
  if (/^(what|when|where|who|whom|which|whose|why|how)\b/.test(t)) return 'wh-query';
  if (/^(is|are|am|was|were|do|does|did|can|could|will|would|shall|should|may|might|have|has|had)\b/.test(t)) return 'yn-query';
  if (t.endsWith('?')) return 'wh-query';
  if (/^(please\b|show|give|tell|send|book|order|cancel|stop|start|find|get|let|help|open|close|add|remove)\b/.test(t)) return 'command';
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
