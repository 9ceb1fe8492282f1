import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { BotverError } from '../errors.js';

// Every error the resolver answers is JSON `{error: {code, message}}` (DESIGN.md §5), with
// the status that says what happened, and never a stack trace.

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** One body for a missing, malformed and unknown token: the answer tells an attacker nothing. */
export const unauthorized = () =>
  new HttpError(
    401,
    'UNAUTHORIZED',
    'a valid token is required: "Authorization: Token <token>" or "Authorization: Bearer <token>"',
    {
      'WWW-Authenticate': 'Bearer realm="botver"',
    },
  );

export function sendError(res: Response, err: HttpError): void {
  res
    .status(err.status)
    .set(err.headers)
    .set('Cache-Control', 'no-store')
    .json({ error: { code: err.code, message: err.message } });
}

export const notFound: RequestHandler = (req, _res, next) =>
  next(new HttpError(404, 'NOT_FOUND', `no route ${req.method} ${req.path.slice(0, 200)}`));

export const methodNotAllowed =
  (...allowed: string[]): RequestHandler =>
  (req, _res, next) =>
    next(
      new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed here; use ${allowed.join(' or ')}`, {
        Allow: allowed.join(', '),
      }),
    );

/** Maps body-parser, usage and unexpected errors onto JSON answers; logs only the unexpected. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    if (err instanceof HttpError) return sendError(res, err);
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large')
      return sendError(
        res,
        new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body is over the ${(err as { limit: number }).limit} byte limit`),
      );
    if (type === 'entity.parse.failed')
      return sendError(res, new HttpError(400, 'MALFORMED_JSON', 'the body is not valid JSON'));
    if (type === 'encoding.unsupported' || type === 'charset.unsupported')
      return sendError(res, new HttpError(415, 'UNSUPPORTED_ENCODING', (err as Error).message));
    // The router could not percent-decode a path parameter ("%zz", "%ff"): the client's path is wrong.
    if (err instanceof URIError && (err as { status?: number }).status === 400)
      return sendError(res, new HttpError(400, 'BAD_PATH', 'the path is not valid percent-encoding'));
    if (
      typeof (err as { status?: number }).status === 'number' &&
      (err as { status: number }).status < 500 &&
      (err as { expose?: boolean }).expose
    ) {
      return sendError(res, new HttpError((err as { status: number }).status, 'BAD_REQUEST', (err as Error).message));
    }
    if (err instanceof BotverError && (err.code === 'USAGE' || err.code === 'INVALID_NAME'))
      return sendError(res, new HttpError(400, 'BAD_REQUEST', err.message));
    logger.error({ err, method: req.method, route: routeOf(req) }, 'request failed');
    sendError(res, new HttpError(500, 'INTERNAL', 'the resolver failed to answer; the error is in its log'));
  };
}

/** The route pattern a request matched ("/v1/files/*path"), never the raw path: bounded and secret-free. */
export function routeOf(req: { baseUrl?: string; route?: { path?: unknown } }): string {
  const path = req.route?.path;
  return typeof path === 'string' ? `${req.baseUrl ?? ''}${path}` : 'unmatched';
}
