import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SnapshotSource } from './snapshot.js';
import { recordWhenFinished, type Monitoring } from './monitoring/index.js';
import { tokenOwner } from './auth.js';
import { resolveBody, resolveHeaders } from './routes/content.js';
import { matchesEtag, targetOf } from './served.js';

// GET /v1/resolve is what every bot calls, often on every conversation: it is answered here,
// from a plain request listener, before Express. Express costs ~100 µs of CPU per request
// (it re-prototypes req and res, which slows Node's own http code, and walks its layers); this
// path costs about a third of that (README, "Performance"). It takes only the plain case — a
// GET without a body, with a valid token whose version has something to serve — and leaves
// every other request, errors included, to the Express app, which answers the same route the
// same way. Same snapshot rule, same headers, same request log entry.

export function fastResolve(
  live: SnapshotSource,
  monitoring: Monitoring,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'GET' || !(req.url === '/v1/resolve' || req.url?.startsWith('/v1/resolve?'))) return false;
    if (
      req.headers['transfer-encoding'] !== undefined ||
      (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0')
    )
      return false;
    const snapshot = live.state.snapshot;
    if (!snapshot) return false;
    const owner = tokenOwner(snapshot, req.headers.authorization);
    if (!owner) return false;
    const { environment, version, content } = targetOf(snapshot, owner);
    if (!content) return false;

    const served = { snapshot, owner, environment, version, content };
    const attribution = { environment, version, commit: content.commit };
    recordWhenFinished(
      monitoring,
      req,
      res,
      () => '/v1/resolve',
      () => attribution,
    );
    const headers = resolveHeaders(served);
    for (const name in headers) res.setHeader(name, headers[name]!);
    if (matchesEtag(req.headers['if-none-match'], headers.ETag)) {
      res.statusCode = 304;
      res.end();
      return true;
    }
    const body = resolveBody(served);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', body.length);
    res.end(body);
    return true;
  };
}
