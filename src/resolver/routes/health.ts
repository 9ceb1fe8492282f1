import { Router } from 'express';
import type { SnapshotSource } from '../snapshot.js';
import type { Monitoring } from '../monitoring/index.js';
import { formatProblem, type Problem } from '../../errors.js';
import { methodNotAllowed } from '../http-errors.js';
import { adminCheck } from '../auth.js';
import type { NluProvider } from '../../nlu/nlu-service.js';

// Probes and metrics, without authentication. /healthz: the process answers. /readyz: 200
// when every version and environment serves its current commit, 503 otherwise — including
// while a last good commit is served in place of a broken one. A request log file that cannot
// be written is listed too, as a warning: it loses the log, not answers, so it does not make
// the resolver unready (taking every replica out of a load balancer because a disk is full
// would stop the bots).
//
// /readyz is public, so without the admin token it says only WHAT is not ready: each problem's
// scope, name and error count. The details (commits, files, lines, messages, the repository's
// and the log file's paths) are for the admin token (Authorization: Bearer <admin>). A name is
// public only for scopes whose names are the bot's own (a branch, a version, an environment, a
// model's key); any other scope (the repository, the request log: paths) is named by its scope.

const PUBLIC_NAMES = new Set(['manifest', 'version', 'environment', 'model']);

export interface ReadyzProblem {
  scope: string;
  name: string;
  commit: string | null;
  serving: string | null;
  errors: Problem[];
}

export function healthRoutes(
  live: SnapshotSource,
  monitoring: Monitoring,
  nlu?: NluProvider,
  adminToken?: string,
  /** What else may be wrong: with --remote the last fetch's failure, with --redis Redis away (null: nothing). */
  moreProblems: () => (ReadyzProblem | null)[] = () => [],
): Router {
  const { metrics, log } = monitoring;
  const isAdmin = adminCheck(adminToken);
  const router = Router();

  router
    .route('/healthz')
    .get((_req, res) => void res.set('Cache-Control', 'no-store').json({ status: 'ok' }))
    .all(methodNotAllowed('GET'));

  router
    .route('/readyz')
    .get((req, res) => {
      const { snapshot, problems } = live.state;
      // While a served commit's NLU model trains the previous one answers (status "training", still
      // ready); a version or environment with no model at all cannot answer /v2/request: not ready.
      const training = nlu?.training() ?? [];
      const waiting = nlu?.waiting() ?? [];
      // A model that failed to train is a problem like a commit that fails validation.
      const failed = (nlu?.failed() ?? []).map((f) => ({
        scope: 'model' as const,
        name: f.key,
        commit: f.commit,
        serving: f.serving,
        errors: [
          {
            file: 'training/',
            line: 1,
            column: 1,
            message: `the NLU model could not be trained: ${f.error}`,
            severity: 'error' as const,
          },
        ],
      }));
      const all: ReadyzProblem[] = [...problems, ...failed];
      // ?probe=serving (a load balancer's readiness): ready while there is a snapshot to serve, even
      // when a version is served from its last good commit; the full answer is for alerting.
      // A model not trained yet is not a reason either: the fleet fetches a new commit together,
      // and must not leave the load balancer together while it trains.
      const ready =
        req.query.probe === 'serving'
          ? snapshot !== null
          : snapshot !== null && all.length === 0 && waiting.length === 0;
      const logProblem = requestLogProblem(log);
      if (logProblem) all.push(logProblem);
      // A failing fetch loses freshness, not answers: a warning while a snapshot is served (one
      // Git host outage must not take every replica out of the load balancer); before the first
      // snapshot it is why there is nothing to serve. Redis away is a warning too: only the
      // dialog needs it.
      for (const problem of moreProblems()) if (problem) all.push(problem);
      all.push(...(nlu?.warnings?.() ?? [])); // model cache files that cannot be used: warnings, models answer from memory
      res.status(ready ? 200 : 503).set('Cache-Control', 'no-store');
      if (!isAdmin(req.headers.authorization)) {
        res.json({
          ready,
          ...(training.length > 0 && { status: 'training' }),
          problems: all.map((p) => ({
            scope: p.scope,
            name: PUBLIC_NAMES.has(p.scope) ? p.name : p.scope,
            errorCount: p.errors.length,
          })),
        });
        return;
      }
      res.json({
        ready,
        manifestCommit: snapshot?.manifestCommit ?? null,
        ...(training.length > 0 && { status: 'training', training, waitingForModel: waiting }),
        problems: all.map((p) => ({
          scope: p.scope,
          name: p.name,
          commit: p.commit,
          serving: p.serving,
          errors: p.errors.map((e) => ({
            file: e.file,
            line: e.line,
            column: e.column,
            message: e.message,
            ...(e.severity === 'warning' && { severity: e.severity }),
            text: formatProblem(e),
          })),
        })),
      });
    })
    .all(methodNotAllowed('GET'));

  router
    .route('/metrics')
    .get(async (_req, res) => {
      res.set('Content-Type', metrics.contentType).send(await metrics.render());
    })
    .all(methodNotAllowed('GET'));

  return router;
}

/** The request log file's failure as a /readyz problem (a warning), or null while every line is written. */
function requestLogProblem(log: Monitoring['log']): ReadyzProblem | null {
  if (log.file === undefined || (log.fileError === undefined && log.droppedLines === 0)) return null;
  const lost = `${log.droppedLines} line${log.droppedLines === 1 ? '' : 's'} not written`;
  const message = log.fileError
    ? `the request log file cannot be written (${log.fileError.message}); ${lost}, later ones are kept in memory only`
    : `the request log file does not keep up with requests; ${lost}`;
  return {
    scope: 'request-log',
    name: log.file,
    commit: null,
    serving: null,
    errors: [{ file: log.file, line: 1, column: 1, message, severity: 'warning' }],
  };
}
