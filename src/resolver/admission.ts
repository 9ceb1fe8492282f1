import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { ClientGoneError, HttpError } from './http-errors.js';

// Fairness between clients on the one event loop that answers them all. Two rules:
//
// 1. Turns. The routes that compute (NLU, dialog) do their work only when given a turn, the
//    waiting clients (a version, an environment, a channel) taking turns round-robin. Turns are
//    granted in SLICES: one after another (each right after the previous one's work up to its
//    next await) until SLICE_MS has passed, then the slice ends and Node polls its sockets before
//    the next. So a cheap request (/v1/resolve, /healthz, a file) waits for one slice at most,
//    whatever a flood of dialog messages on another token holds; one token's flood gets one
//    turn in every n of the n tokens waiting, not all of them; and short turns do not each pay
//    for an event-loop iteration.
// 2. Bodies. The bytes of request bodies being read or waiting for a turn are bounded in all
//    (the body limit alone bounds one request, not a thousand connections): a request whose
//    body would pass the budget is answered 503 OVERLOADED at once, before a byte of it is read.
//    So is a new request past its client's queue of waiting turns (a request already admitted
//    is never refused halfway: a dialog message stored and then refused would be applied twice
//    by the client's retry). Both say Retry-After.

/** How long turns may follow one another before the event loop polls its sockets again. */
export const SLICE_MS = 1;

/** Bytes of request bodies read or waiting at once, by default (docs/operations.md: memory bound). */
export const DEFAULT_BODY_BUDGET = 64 * 1024 * 1024;
/** Turns one client may have waiting before its new requests are refused. */
export const DEFAULT_MAX_WAITING = 256;

export interface AdmissionStats {
  /** Requests waiting for a turn, all clients together. */
  waiting: number;
  /** Body bytes reserved now (read or being read). */
  bodyBytes: number;
  bodyBudget: number;
  /** Requests refused with OVERLOADED since start, by reason. */
  refused: { bodies: number; turns: number };
}

export class Admission {
  /** Per client, the turns it waits for (oldest first); Map order is the round-robin order. */
  private readonly queues = new Map<string, (() => void)[]>();
  private waitingCount = 0;
  private scheduled = false;
  /** When the current slice started (performance.now()). */
  private sliceStart = 0;
  private reserved = 0;
  private readonly refused = { bodies: 0, turns: 0 };

  constructor(
    readonly bodyBudget = DEFAULT_BODY_BUDGET,
    readonly maxWaiting = DEFAULT_MAX_WAITING,
  ) {}

  /**
   * Resolves on a later event-loop iteration, when it is `client`'s turn. The caller's work up to
   * its next real wait (I/O, a worker) is that turn. A request's first turn (not `admitted`) is
   * refused with OVERLOADED when `client` already has maxWaiting turns waiting. With `res`, a
   * turn that comes after the client has gone (its connection closed) rejects with
   * ClientGoneError instead: the work of an answer nobody will read is not done.
   */
  turn(client: string, options: { admitted?: boolean; res?: ServerResponse } = {}): Promise<void> {
    let queue = this.queues.get(client);
    if (!options.admitted && queue && queue.length >= this.maxWaiting) {
      this.refused.turns++;
      return Promise.reject(overloaded(`${this.maxWaiting} requests of this token are already waiting`));
    }
    if (!queue) {
      queue = [];
      this.queues.set(client, queue);
    }
    const waiting = queue;
    const { res } = options;
    return new Promise<void>((resolve, reject) => {
      waiting.push(() => (res?.closed ? reject(new ClientGoneError()) : resolve()));
      this.waitingCount++;
      this.schedule();
    });
  }

  /**
   * Middleware before a route reads its body: reserves the body's declared length (the body
   * limit when it is chunked or compressed, as it may grow to that) until the answer is sent or
   * the connection closes, or answers OVERLOADED without reading it. A stalled body holds its
   * reservation until the server's request timeout closes its connection.
   */
  bodies(bodyLimit: number): RequestHandler {
    return (req, res, next) => {
      if (this.reserve(req, res, bodyLimit)) return next();
      next(bodiesOverBudget());
    };
  }

  /**
   * Reserves the bytes of `req`'s body (see bodies()) until `res` closes; false (and counted as
   * refused) when they would pass the budget. A request without a body reserves nothing.
   */
  reserve(req: IncomingMessage, res: ServerResponse, bodyLimit: number): boolean {
    const length = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (!chunked && (length === undefined || length === '0')) return true;
    const encoding = req.headers['content-encoding'];
    const inflated = encoding !== undefined && encoding.toLowerCase() !== 'identity';
    const bytes = chunked || inflated ? bodyLimit : Math.min(Number(length) || 0, bodyLimit);
    if (this.reserved + bytes > this.bodyBudget) {
      this.refused.bodies++;
      return false;
    }
    this.reserved += bytes;
    res.once('close', () => {
      this.reserved -= bytes;
    });
    return true;
  }

  stats(): AdmissionStats {
    return {
      waiting: this.waitingCount,
      bodyBytes: this.reserved,
      bodyBudget: this.bodyBudget,
      refused: { ...this.refused },
    };
  }

  private schedule(): void {
    if (this.scheduled || this.waitingCount === 0) return;
    this.scheduled = true;
    // An immediate queued from inside an immediate runs on the NEXT iteration, after its poll.
    setImmediate(this.startSlice);
  }

  private readonly startSlice = (): void => {
    this.sliceStart = performance.now();
    this.grant();
  };

  private readonly grant = (): void => {
    this.scheduled = false;
    const first = this.queues.entries().next();
    if (first.done) return;
    const [client, queue] = first.value;
    const resolve = queue.shift()!;
    this.waitingCount--;
    // To the back of the line, or out of it when nothing of it waits.
    this.queues.delete(client);
    if (queue.length > 0) this.queues.set(client, queue);
    resolve();
    if (this.waitingCount === 0) return;
    this.scheduled = true;
    // The next turn of this slice runs once the granted work reaches its next await: a microtask
    // queued now runs after the one that continues it. Past the slice's time, the loop polls first.
    queueMicrotask(() => {
      if (performance.now() - this.sliceStart < SLICE_MS) this.grant();
      else {
        this.scheduled = false;
        this.schedule();
      }
    });
  };
}

/** A body over the budget: not read, so the connection closes after the answer. */
export const bodiesOverBudget = () =>
  overloaded('the resolver holds its budget of request bodies', { Connection: 'close' });

const overloaded = (why: string, headers: Record<string, string> = {}) =>
  new HttpError('OVERLOADED', `the resolver is busy (${why}); try again shortly`, { 'Retry-After': '1', ...headers });
