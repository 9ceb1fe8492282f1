import type { ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import type { Attribution } from './monitoring/index.js';
import { servedOf, type Served } from './served.js';

// The routes that take a JSON body and compute (POST /v2/request, /build/v1/dialog) are written
// once, as a BodyRouteHandler, and answered by two paths: the Express route (every case) and the
// plain request listener of fast-body.ts (the plain case, before Express).

/** What a body route answers: its JSON, and what the request log records of it. */
export interface BodyAnswer {
  body: unknown;
  attribution: Attribution;
}

/** Answers a parsed body for the token's `served` version (`client`: for the turns). Both paths call it. */
export type BodyRouteHandler = (
  served: Served,
  client: string,
  body: unknown,
  res: ServerResponse,
) => Promise<BodyAnswer>;

/** A body route on Express: the token, the body (json-body.ts), then `handle`. */
export function expressBodyRoute(handle: BodyRouteHandler, client: (req: Request, res: Response) => string) {
  return async (req: Request, res: Response) => {
    const answer = await handle(servedOf(res), client(req, res), req.body, res);
    Object.assign(res.locals, answer.attribution);
    res.json(answer.body);
  };
}
