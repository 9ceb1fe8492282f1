import { Router } from 'express';
import { expressBodyRoute, type BodyRouteHandler } from '../body-route.js';
import type { NluProvider } from '../../nlu/nlu-service.js';
import type { Analysis } from '../../nlu/engine.js';
import { DEFAULT_NLU_THRESHOLD, platformNlp } from '../../nlu/platform-results.js';
import type { SnapshotSource } from '../snapshot.js';
import { clientOf, resolveToken, type Served } from '../served.js';
import { HttpError, methodNotAllowed } from '../http-errors.js';
import { jsonBody } from '../json-body.js';
import type { Admission } from '../admission.js';

// POST /v2/request: the hosted platform's NLP endpoint, answered in its format from the NLU
// model of the version the token resolves to, plus a `botver` key saying which environment,
// version and commit answered.

/** The platform's limit was lower still; analysis runs on the event loop, so long texts are refused. */
export const MAX_TEXT = 2_000;

/** POST /v2/request, after the token and the parse (by Express, or by fast-body.ts before it). */
export function nlpRequest(live: SnapshotSource, nlu: NluProvider, admission: Admission): BodyRouteHandler {
  return async (served, client, body, res) => {
    // The analysis takes a turn of its own after the parse's (admission.ts).
    await admission.turn(client, { admitted: true, res });
    const { text, language } = requestBody(body);
    const choice = await nlu.choose(client, served.content, served.version);
    if (!choice) throw noModel(nlu, served);
    const analysis = await choice.model.analyse(text, language);
    // While the served commit's model trains, the previous one answers, and says so (with
    // the intent descriptions of its own commit).
    const content = choice.commit === served.content.commit ? served.content : await live.content(choice.commit);
    const results = platformResults(
      { ...served, version: choice.version, content: content.bundle ? content : served.content },
      choice.commit,
      text,
      analysis,
    );
    const top = results.intents[0];
    return {
      body: { results, message: 'Requests rendered with success' },
      attribution: {
        environment: served.environment,
        version: choice.version,
        commit: choice.commit,
        intent: top?.slug ?? null,
        ...(top && { confidence: top.confidence }),
        text,
      },
    };
  };
}

export function nlpRoutes(live: SnapshotSource, admission: Admission, request: BodyRouteHandler): Router {
  const router = Router();
  router
    .route('/v2/request')
    .post(resolveToken(live), ...jsonBody(admission, clientOf), expressBodyRoute(request, clientOf))
    .all(methodNotAllowed('POST'));
  return router;
}

/** Why no model answers the served commit: it failed to train (MODEL_FAILED), or it is training. */
export function noModel(nlu: NluProvider, served: Served): HttpError {
  if (nlu.failure(served.content.commit))
    return new HttpError(
      'MODEL_FAILED',
      `the NLU model of version ${served.version} at ${served.content.commit.slice(0, 12)} could not be trained; see the resolver's log`,
    );
  return new HttpError(
    'MODEL_TRAINING',
    `the NLU model of version ${served.version} is being trained; try again shortly`,
    {
      'Retry-After': '2',
    },
  );
}

function requestBody(body: unknown): { text: string; language?: string } {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b.text !== 'string' || !b.text.trim())
    throw new HttpError('BAD_REQUEST', 'the body needs "text", a non-empty string');
  if (b.text.length > MAX_TEXT) throw new HttpError('BAD_REQUEST', `"text" is longer than ${MAX_TEXT} characters`);
  if (
    b.language !== undefined &&
    b.language !== null &&
    (typeof b.language !== 'string' || !/^[a-z]{2}$/.test(b.language))
  ) {
    throw new HttpError('BAD_REQUEST', '"language" is a two-letter ISO 639-1 code');
  }
  return { text: b.text, language: (b.language as string | null) ?? undefined };
}

/** The `results` of the platform's /request answer. */
export function platformResults(served: Served, commit: string, text: string, analysis: Analysis) {
  return platformNlp({
    text,
    analysis,
    threshold: served.snapshot.manifest.data.nluThreshold ?? DEFAULT_NLU_THRESHOLD,
    intents: served.content.bundle!.intents,
    botver: { environment: served.environment, version: served.version, commit },
  });
}
