import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { BotverError, ERROR_TABLE, type ErrorCode, httpStatusOf } from '../errors.js';

// Every error the resolver answers is JSON `{error: {code, message}}` (docs/openapi.yaml), with
// the status that says what happened, and never a stack trace.

/** An answer the resolver gives on purpose; its status comes from ERROR_TABLE. */
export class HttpError extends BotverError {
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    headers: Record<string, string> = {},
    /** Only for a 4xx that Node or body-parser already chose (see errorHandler). */
    status: number = ERROR_TABLE[code].http,
    /** More fields of the answer's `error` object (a refused promotion's test report, the commands to run). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(code, message);
    this.status = status;
    this.headers = headers;
  }
}

/** One body for a missing, malformed and unknown token: the answer tells an attacker nothing. */
export const unauthorized = () =>
  new HttpError(
    'UNAUTHORIZED',
    'a valid token is required: "Authorization: Token <token>" or "Authorization: Bearer <token>"',
    {
      'WWW-Authenticate': 'Bearer realm="botver"',
    },
  );

export function sendError(res: ServerResponse, err: HttpError): void {
  sendJson(
    res,
    err.status,
    { error: { ...err.details, code: err.code, message: err.message } },
    {
      ...err.headers,
      'Cache-Control': 'no-store',
    },
  );
}

/** A JSON answer written as Express's res.json writes it (same headers), from any request listener. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  for (const name in headers) res.setHeader(name, headers[name]!);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

export const notFound: RequestHandler = (req, _res, next) =>
  next(new HttpError('NOT_FOUND', `no route ${req.method} ${req.path.slice(0, 200)}`));

export const methodNotAllowed =
  (...allowed: string[]): RequestHandler =>
  (req, _res, next) =>
    next(
      new HttpError('METHOD_NOT_ALLOWED', `${req.method} is not allowed here; use ${allowed.join(' or ')}`, {
        Allow: allowed.join(', '),
      }),
    );

/** A turn that came after its client had gone (admission.ts): nothing to answer, nothing wrong. */
export class ClientGoneError extends Error {
  constructor() {
    super('the client closed its connection before its turn');
  }
}

/** Maps body-parser, usage and unexpected errors onto JSON answers; logs only the unexpected. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const answer = errorAnswer(err, logger, req.method, routeOf(req));
    if (answer) sendError(res, answer);
  };
}

/**
 * The answer to an error thrown while answering `method route`: an HttpError as it is, the
 * body parser's and the library's mapped onto their codes, anything else logged and answered
 * 500 INTERNAL without its details. null when there is nobody to answer (the client went away
 * before its turn: nothing went wrong).
 */
export function errorAnswer(err: unknown, logger: Logger, method: string | undefined, route: string): HttpError | null {
  if (err instanceof ClientGoneError) return null;
  if (err instanceof HttpError) return err;
  const type = (err as { type?: string }).type;
  if (type === 'entity.too.large')
    return new HttpError('PAYLOAD_TOO_LARGE', `the body is over the ${(err as { limit: number }).limit} byte limit`);
  if (type === 'entity.parse.failed') return new HttpError('MALFORMED_JSON', 'the body is not valid JSON');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported')
    return new HttpError('UNSUPPORTED_ENCODING', (err as Error).message);
  // The router could not percent-decode a path parameter ("%zz", "%ff"): the client's path is wrong.
  if (err instanceof URIError && (err as { status?: number }).status === 400)
    return new HttpError('BAD_PATH', 'the path is not valid percent-encoding');
  if (
    typeof (err as { status?: number }).status === 'number' &&
    (err as { status: number }).status < 500 &&
    (err as { expose?: boolean }).expose
  )
    return new HttpError('BAD_REQUEST', (err as Error).message, {}, (err as { status: number }).status);
  // A library failure that is the client's doing (a bad query parameter, an unknown name) is
  // answered with its status from ERROR_TABLE; one that is the resolver's is logged, below.
  // A ref another writer holds past the lock's wait: busy, not broken; try again.
  if (err instanceof BotverError && err.code === 'REF_LOCKED')
    return new HttpError('REF_LOCKED', err.message, { 'Retry-After': '1' });
  if (err instanceof BotverError && httpStatusOf(err) < 500) {
    // A refused promotion carries the report of the tests that refused it.
    const details = err.code === 'TESTS_FAILED' && err.data.report ? { report: err.data.report } : {};
    return new HttpError(wireCode(err.code), err.message, {}, httpStatusOf(err), details);
  }
  logger.error({ err, method, route }, 'request failed');
  return new HttpError('INTERNAL', 'the resolver failed to answer; the error is in its log');
}

/** The HTTP API has one code for a malformed request; the library's two usage codes map onto it. */
function wireCode(code: ErrorCode): ErrorCode {
  return code === 'USAGE' || code === 'INVALID_NAME' ? 'BAD_REQUEST' : code;
}

/** The route pattern a request matched ("/v1/files/*path"), never the raw path: bounded and secret-free. */
export function routeOf(req: { baseUrl?: string; route?: { path?: unknown } }): string {
  const path = req.route?.path;
  return typeof path === 'string' ? `${req.baseUrl ?? ''}${path}` : 'unmatched';
}
