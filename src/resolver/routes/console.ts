import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Router } from 'express';
import { HttpError, methodNotAllowed } from '../http-errors.js';

// The console: static files built by `npm run build` (scripts/build-console.js) into
// dist/console/ and shipped in the package, served at /console/. They are read once at start
// and kept with their gzip form: a handful of small files. The page gets a strict
// Content-Security-Policy (nothing but its own files, no inline code, no framing): the admin
// token lives in the tab's session storage, so no script but ours may run beside it.

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

interface ConsoleFile {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

/**
 * Where the built console is: dist/console, seen from the CLI's bundle (dist/bin/) or from the
 * compiled library (dist/resolver/routes/); null when it was not built. Only a built folder
 * (with app.js) counts: from dist/bin/, "../../console/" is the console's source folder.
 */
export function consoleDir(): string | null {
  for (const up of ['../console/', '../../console/']) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(join(dir, 'index.html')) && existsSync(join(dir, 'app.js'))) return dir;
  }
  return null;
}

function loadFiles(dir: string): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(join(dir, name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    files.set(name, { type, body, gzip: gzipSync(body), etag });
  }
  return files;
}

export function consoleRoutes(dir: string | null = consoleDir()): Router {
  const router = Router();
  const files = dir ? loadFiles(dir) : new Map<string, ConsoleFile>();
  const allowGet = methodNotAllowed('GET');
  // By hand rather than by route patterns: Express's matching ignores a trailing slash, and
  // "/console" must redirect to "/console/" (the page's relative links) while "/console/" serves.
  router.use((req, res, next) => {
    const { path } = req;
    if (path !== '/' && path !== '/console' && !path.startsWith('/console/')) return next();
    res.locals.unrecorded = true; // the console's files are not bot traffic
    if (req.method !== 'GET' && req.method !== 'HEAD') return allowGet(req, res, next);
    // Relative (from "/" and from "/console" alike): behind a proxy that serves the resolver under
    // a path prefix, the prefix is kept.
    if (path === '/' || path === '/console') return void res.redirect(path === '/' ? 302 : 301, 'console/');
    const name = path === '/console/' ? 'index.html' : path.slice('/console/'.length);
    const file = files.get(name);
    if (!file) {
      if (!files.size)
        return next(new HttpError('NOT_FOUND', 'the console is not built: run "npm run build" in the botver package'));
      return next(new HttpError('NOT_FOUND', `no console file "${name.slice(0, 100)}"`));
    }
    res.set({
      'Content-Type': file.type,
      'Content-Security-Policy': CONSOLE_CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      // Small files that change with each release: always revalidated, answered 304 by their ETag.
      'Cache-Control': 'no-cache',
      ETag: file.etag,
      Vary: 'Accept-Encoding',
    });
    if (req.headers['if-none-match'] === file.etag) return void res.status(304).end();
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    if (gzip) res.set('Content-Encoding', 'gzip');
    res.end(gzip ? file.gzip : file.body);
  });
  return router;
}
