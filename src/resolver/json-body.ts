import type { RequestHandler } from 'express';
import { HttpError } from './http-errors.js';

// Request bodies are JSON only. express.json() leaves a body of any other type unread, so a
// route would see no body at all and answer "the body needs text": a client that forgot the
// header would be told the wrong thing. The routes that read a body refuse one sent as
// anything else, and say which header to send.

/** The types parsed as JSON (express.json's `type` option). */
export const JSON_TYPES = ['application/json', 'application/*+json'];

/**
 * 415 UNSUPPORTED_MEDIA_TYPE for a body that is not declared as JSON. 415 rather than 400:
 * the body may well be valid JSON; what the resolver does not accept is the media type it was
 * declared as (RFC 9110 §15.5.16), as for an unsupported charset (UNSUPPORTED_ENCODING).
 */
export const jsonBody: RequestHandler = (req, _res, next) => {
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
