import { Router } from 'express';
import { extname } from 'node:path';
import { resolveToken, servedOf, matchesEtag, type Served } from '../served.js';
import { HttpError, methodNotAllowed } from '../http-errors.js';
import type { SnapshotSource } from '../snapshot.js';

// The routes a bot calls with its version or environment token: the resolved bundle and the
// raw files of the version it points at.

export function contentRoutes(live: SnapshotSource): Router {
  const router = Router();
  const auth = resolveToken(live);

  router
    .route('/v1/resolve')
    .get(auth, (req, res) => {
      // The plain GET is answered by fast-resolve.ts before Express; this answers the rest (HEAD).
      const served = servedOf(res);
      const headers = resolveHeaders(served);
      res.set(headers);
      if (matchesEtag(req.headers['if-none-match'], headers.ETag)) return void res.status(304).end();
      const body = resolveBody(served);
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.setHeader('Content-Length', body.length);
      res.end(req.method === 'HEAD' ? undefined : body);
    })
    .all(methodNotAllowed('GET'));

  router
    .route('/v1/files/*path')
    .get(auth, async (req, res) => {
      const served = servedOf(res);
      const path = filePath((req.params as { path: string[] }).path);
      const file = await live.readFile(served.content.commit, path);
      if (!file)
        throw new HttpError(
          'NOT_FOUND',
          `version ${served.version} at ${served.content.commit.slice(0, 12)} has no file ${path}`,
        );
      const etag = `"${file.oid}"`;
      res.set({
        ETag: etag,
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
        'X-Botver-Commit': served.content.commit,
      });
      if (matchesEtag(req.headers['if-none-match'], etag)) return void res.status(304).end();
      res.type(contentType(path)).send(Buffer.from(file.bytes));
    })
    .all(methodNotAllowed('GET'));

  return router;
}

/**
 * The headers of a /v1/resolve answer, 304s included. The ETag is the commit (docs/openapi.yaml):
 * the bundle is the commit's content. What else the body says — which version and environment,
 * from which manifest commit — can change while the commit stays (a promotion between two
 * versions at one commit, another environment's promotion), so it is repeated in headers that a
 * 304 carries too, and a client revalidating keeps them current without a download.
 */
export function resolveHeaders(served: Served): { ETag: string } & Record<string, string> {
  return {
    ETag: `"${served.content.commit}"`,
    'Cache-Control': 'no-cache',
    'X-Botver-Version': served.version,
    ...(served.environment !== null && { 'X-Botver-Environment': served.environment }),
    'X-Botver-Manifest-Commit': served.snapshot.manifestCommit,
  };
}

/** The /v1/resolve body, built once per snapshot and token owner. */
export function resolveBody(served: Served): Buffer {
  const key = `${served.owner.kind}:${served.owner.name}`;
  let body = served.snapshot.bodies.get(key);
  if (!body) {
    const head = JSON.stringify({
      bot: served.snapshot.bot,
      environment: served.environment,
      version: served.version,
      commit: served.content.commit,
      manifestCommit: served.snapshot.manifestCommit,
    });
    body = Buffer.from(`${head.slice(0, -1)},"bundle":${served.content.bundleJson}}`);
    served.snapshot.bodies.set(key, body);
  }
  return body;
}

/** A path inside the version's tree; ".", ".." and empty segments are refused, not resolved. */
function filePath(segments: string[]): string {
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..' || /[\\/\0]/.test(s) || /[\x00-\x1f\x7f]/.test(s)) {
      throw new HttpError(
        'BAD_PATH',
        'a file path is relative to the version\'s root, without ".", ".." or empty segments',
      );
    }
  }
  return segments.join('/');
}

const TYPES: Record<string, string> = {
  '.yaml': 'text/yaml; charset=utf-8',
  '.yml': 'text/yaml; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

function contentType(path: string): string {
  return TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}
