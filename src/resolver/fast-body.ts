import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { SnapshotSource } from './snapshot.js';
import { recordWhenFinished, type Attribution, type Monitoring } from './monitoring/index.js';
import { tokenOwner } from './auth.js';
import { targetOf, type Served } from './served.js';
import { bodiesOverBudget, type Admission } from './admission.js';
import { BODY_LIMIT, parseJson } from './json-body.js';
import { errorAnswer, sendError, sendJson } from './http-errors.js';
import type { BodyRouteHandler } from './body-route.js';

// POST /v2/request and /build/v1/dialog carry a bot's traffic, and Express costs each of them
// what it costs GET /v1/resolve (fast-resolve.ts): re-prototyped req and res, its layers, and
// a stream reader for the body. Here the plain case — an exact path, a valid token whose
// version has something to serve, a body of declared length (at most BODY_LIMIT) declared as
// JSON in UTF-8, not compressed — is answered from a plain request listener, by the same
// handler as the Express route (body-route.ts), with the same turns (admission.ts), limits,
// answers, errors and request-log entry. Every other request goes to Express, which answers
// it as before; a test compares the two paths answer by answer.

/** The handler of each exact path. */
export type FastBodyRoutes = Record<string, BodyRouteHandler>;

/** JSON, UTF-8 or no charset said: the plain case (anything else is Express's json-body.ts). */
const PLAIN_JSON = /^application\/json(?:[ \t]*;[ \t]*charset="?utf-8"?)?[ \t]*$/i;

export function fastBodyRoutes(
  deps: { live: SnapshotSource; monitoring: Monitoring; logger: Logger; admission: Admission },
  routes: FastBodyRoutes,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { live, monitoring, logger, admission } = deps;
  const handlers = new Map(Object.entries(routes));
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const route = req.url ?? '';
    const handle = handlers.get(route);
    if (!handle) return false;
    const { headers } = req;
    const length = headers['content-length'];
    if (length === undefined || headers['transfer-encoding'] !== undefined || headers['content-encoding'] !== undefined)
      return false;
    const bytes = Number(length);
    if (!(bytes > 0 && bytes <= BODY_LIMIT)) return false;
    const type = headers['content-type'];
    if (type === undefined || !PLAIN_JSON.test(type)) return false;
    const snapshot = live.state.snapshot;
    if (!snapshot) return false;
    const owner = tokenOwner(snapshot, headers.authorization);
    if (!owner) return false;
    const { environment, version, content } = targetOf(snapshot, owner);
    if (!content) return false;

    const served: Served = { snapshot, owner, environment, version, content };
    const client = `${owner.kind}:${owner.name}`;
    let attribution: Attribution = { environment, version, commit: content.commit };
    recordWhenFinished(
      monitoring,
      req,
      res,
      () => route,
      () => attribution,
    );
    if (!admission.reserve(req, res, BODY_LIMIT)) {
      sendError(res, bodiesOverBudget());
      return true;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void answer(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
    const answer = async (raw: Buffer) => {
      try {
        // Parsed in the client's turn, as json-body.ts does.
        await admission.turn(client, { res });
        const answered = await handle(served, client, parseJson(raw, type), res);
        attribution = answered.attribution;
        sendJson(res, 200, answered.body);
      } catch (err) {
        const error = errorAnswer(err, logger, 'POST', route);
        if (error) sendError(res, error);
      }
    };
    return true;
  };
}
