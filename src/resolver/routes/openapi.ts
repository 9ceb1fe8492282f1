import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Router } from 'express';
import { parse } from 'yaml';
import { methodNotAllowed } from '../http-errors.js';

// GET /openapi.json: the HTTP API as OpenAPI 3.1 — docs/openapi.yaml, the document shipped in
// the package, served as JSON. It is read and parsed once, on the first request, and the JSON
// kept as bytes: the document is the one users read, so the served one cannot drift from it
// (test/openapi.test.ts checks that it lists exactly the routes the app registers).

/**
 * docs/openapi.yaml, found from wherever this module runs: dist/resolver/routes/ (the library),
 * dist/bin/ (the bundled CLI), src/resolver/routes/ (tests) or an installed package — the first
 * folder above holding package.json is the package root, and "docs" is in its "files".
 */
export function openapiFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'docs', 'openapi.yaml');
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the package root holding docs/openapi.yaml');
    dir = up;
  }
}

let document: Buffer | null = null;

/** The document as JSON bytes, parsed from YAML on first use. */
function openapiJson(): Buffer {
  document ??= Buffer.from(JSON.stringify(parse(readFileSync(openapiFile(), 'utf8'))));
  return document;
}

export function openapiRoutes(): Router {
  const router = Router();
  router
    .route('/openapi.json')
    .get((_req, res) => {
      res.type('application/json').set('Cache-Control', 'no-cache').send(openapiJson());
    })
    .all(methodNotAllowed('GET'));
  return router;
}
