import express, { type Request, type RequestHandler, type Response } from 'express';
import iconv from 'iconv-lite';
import { HttpError } from './http-errors.js';
import type { Admission } from './admission.js';

// Request bodies: JSON only, read only by the routes that take one, after their token is
// checked, and parsed in their client's turn (admission.ts). Parsing is the costliest thing a
// client can make the server do per byte (a 256 KB body of `[[],[],…]` is ~90,000 arrays, tens
// of milliseconds), so a body is parsed only if it holds at most MAX_BODY_VALUES values, and
// never in one go for every connection whose body has arrived, ahead of everyone else. The
// answers are express.json's: an empty body is {}, a body is an object or an array, UTF
// charsets only (415 otherwise), gzip/deflate/br bodies inflated.

/**
 * The largest request body. A dialog message's 64 KB of memory fits with room to spare even sent
 * with every character escaped (`\u00e9` is six bytes for two); more would only be parsing cost.
 */
export const BODY_LIMIT = 256 * 1024;

/**
 * JSON values a body may hold (objects, arrays and scalars together). Parsing costs about 0.2 µs
 * a value, so this bounds a body's turn to ~2 ms; a bot's message with a rich memory holds a
 * few hundred.
 */
export const MAX_BODY_VALUES = 10_000;

/** The types read as JSON. */
export const JSON_TYPES = ['application/json', 'application/*+json'];

/**
 * The middleware of a route that takes a JSON body, after its authentication: refuses a body
 * not declared as JSON, reserves its bytes in the body budget, reads it, and parses it in the
 * turn of `client(req, res)` (the token or channel the request speaks for).
 */
export function jsonBody(admission: Admission, client: (req: Request, res: Response) => string): RequestHandler[] {
  return [
    jsonMediaType,
    admission.bodies(BODY_LIMIT),
    express.raw({ limit: BODY_LIMIT, type: JSON_TYPES }),
    (req, res, next) => {
      admission.turn(client(req, res), { res }).then(() => {
        let body: unknown;
        try {
          body = parseJson(req.body, req.headers['content-type']);
        } catch (err) {
          return next(err);
        }
        req.body = body;
        next();
      }, next);
    },
  ];
}

/**
 * 415 UNSUPPORTED_MEDIA_TYPE for a body that is not declared as JSON, rather than 400: it may
 * well be valid JSON; what the resolver does not accept is the media type it was declared as
 * (RFC 9110 §15.5.16), as for an unsupported charset (UNSUPPORTED_ENCODING).
 */
const jsonMediaType: RequestHandler = (req, _res, next) => {
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (!hasBody || req.is(JSON_TYPES)) return next();
  const sent = req.headers['content-type'];
  next(
    new HttpError(
      'UNSUPPORTED_MEDIA_TYPE',
      `the body must be JSON, sent with the header "Content-Type: application/json" (this one came ${
        sent ? `as "${sent.slice(0, 100)}"` : 'without a Content-Type'
      })`,
    ),
  );
};

/** What express.json makes of a body read as bytes: {} when there is none, else an object or an array. */
export function parseJson(raw: unknown, contentType: string | undefined): unknown {
  if (!Buffer.isBuffer(raw) || raw.length === 0) return {};
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1]?.toLowerCase() ?? 'utf-8';
  if (!charset.startsWith('utf-') || !iconv.encodingExists(charset))
    throw new HttpError('UNSUPPORTED_ENCODING', `unsupported charset "${charset.toUpperCase().slice(0, 40)}"`);
  // In UTF-8 the values are counted on the bytes (no byte of a multi-byte character is a quote,
  // a backslash or punctuation), so a refused body never becomes a string.
  const utf8 = charset === 'utf-8';
  if (utf8 && moreValuesThan(raw, MAX_BODY_VALUES)) throw tooManyValues();
  const text = iconv.decode(raw, charset); // a byte order mark is dropped
  if (!utf8 && moreValuesThan(text, MAX_BODY_VALUES)) throw tooManyValues();
  if (text.length === 0) return {};
  // Strict, as express.json: a body is an object or an array.
  if (!/^[ \t\n\r]*[[{]/.test(text)) throw new HttpError('MALFORMED_JSON', 'the body is not valid JSON');
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError('MALFORMED_JSON', 'the body is not valid JSON');
  }
}

const tooManyValues = () =>
  new HttpError('PAYLOAD_TOO_LARGE', `the body holds more than ${MAX_BODY_VALUES.toLocaleString('en')} JSON values`);

/**
 * Whether JSON text (as a string, or UTF-8 bytes) holds more than `max` values, counted before
 * parsing: the root, plus for each container one value more than its commas unless it is empty
 * (outside strings; a backslash escapes the next character). Exact for valid JSON; what is not
 * valid fails to parse anyway. Linear, and it stops at the bound.
 */
export function moreValuesThan(text: string | Buffer, max: number): boolean {
  const bytes = typeof text !== 'string';
  const at = bytes ? (i: number) => text[i]! : (i: number) => text.charCodeAt(i);
  // Inside a string only its end matters: found with indexOf (native), not a loop in JavaScript.
  const next = bytes
    ? (code: number, from: number) => text.indexOf(code, from)
    : (code: number, from: number) => text.indexOf(String.fromCharCode(code), from);
  let count = 1;
  let opened = false; // just after [ or {: whether the container is empty is not known yet
  // The next backslash, once looked for (-2: not known yet, -1: there is none after this point).
  let backslash = -2;
  for (let i = 0; i < text.length; i++) {
    const c = at(i);
    if (c === 0x22) {
      // A string: its closing quote is the first one not escaped.
      if (opened && ++count > max) return true;
      opened = false;
      for (let from = i + 1; ; ) {
        const quote = next(0x22, from);
        if (quote === -1) return false; // unterminated: JSON.parse refuses it
        if (backslash !== -1 && backslash < from) backslash = next(0x5c, from);
        if (backslash === -1 || backslash > quote) {
          i = quote;
          break;
        }
        from = backslash + 2; // the escaped character is skipped
        backslash = -2;
      }
      continue;
    }
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    if (opened && c !== 0x5d && c !== 0x7d && ++count > max) return true;
    opened = c === 0x5b || c === 0x7b;
    if (c === 0x2c && ++count > max) return true;
  }
  return false;
}
