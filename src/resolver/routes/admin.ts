import { Router, type Request } from 'express';
import type { Monitoring } from '../monitoring/index.js';
import { requireAdmin, notReady } from '../auth.js';
import { methodNotAllowed } from '../http-errors.js';
import { parseLogQuery } from '../monitoring/request-log.js';
import { formatProblem, UsageError } from '../../errors.js';
import type { ServedEnvironment, Snapshot, SnapshotSource } from '../snapshot.js';
import type { NluProvider } from '../../nlu/nlu-service.js';
import { diffContent } from '../../ops/diff.js';
import { environmentHistory } from '../../ops/history.js';
import { adminRepo, type AdminRepository, type TestResults } from '../admin-repository.js';

// Admin routes (BOTVER_ADMIN_TOKEN), the reads: the server, the current snapshot's environments
// and versions, diffs and history, the request log feed and usage. The actions are in
// admin-actions.ts.

export interface AdminDeps {
  live: SnapshotSource;
  monitoring: Monitoring;
  adminToken: string | undefined;
  /** Without it (an app built for a test without a repository), /v1/diff and history answer 503. */
  repository?: AdminRepository;
  nlu?: NluProvider;
  tests: TestResults;
}

/** How far back `requestsLastHour` looks. */
const HOUR_MS = 3_600_000;

export function adminRoutes({ live, monitoring, adminToken, repository, nlu, tests }: AdminDeps): Router {
  const router = Router();
  const admin = requireAdmin(adminToken);
  const repo = () => {
    if (!repository) throw notReady('this resolver has no repository to read history and diffs from');
    return adminRepo(repository);
  };
  const current = (): Snapshot => {
    const snapshot = live.state.snapshot;
    if (!snapshot) throw notReady('the resolver has no valid manifest to serve yet; see /readyz');
    return snapshot;
  };

  // With --redis, the feed and usage of the whole fleet; while Redis is away, this replica's own,
  // and the answer says so (`scope`, `warning`).
  const { fleet } = monitoring;
  const fromFleet = async <T>(ask: (f: NonNullable<typeof fleet>) => Promise<T>, local: () => T) => {
    if (!fleet) return { ...local(), scope: 'replica' as const };
    try {
      return { ...(await ask(fleet)), scope: 'fleet' as const };
    } catch (err) {
      return {
        ...local(),
        scope: 'replica' as const,
        warning: `Redis is unavailable (${(err as Error).message}): this replica's own entries only`,
      };
    }
  };

  router
    .route('/v1/server')
    .get(admin, (_req, res) => {
      const s = live.state.snapshot;
      res.json({
        bot: s?.bot ?? null,
        manifestCommit: s?.manifestCommit ?? null,
        controlBranch: repository?.controlBranch ?? null,
        // Actions commit to a local repository; a mirror of a Git host is not botver's to write.
        writable: !!repository && repository.remoteUrl === null,
        remote: repository?.remoteUrl ?? null,
      });
    })
    .all(methodNotAllowed('GET'));

  /**
   * Each environment's status and why it does not serve its current commit, in words, from the
   * same sources as /readyz (the NLU's state read once per request).
   */
  const healthOf = () => {
    const training = new Set(nlu?.training() ?? []);
    const waiting = new Set(nlu?.waiting() ?? []);
    const failed = nlu?.failed() ?? [];
    return (e: ServedEnvironment): { status: string; problems: string[] } => {
      const mine = (scope: string, name: string) =>
        (scope === 'environment' && name === e.name) || (scope === 'version' && name === e.version);
      const problems = live.state.problems
        .filter((p) => mine(p.scope, p.name))
        .flatMap((p) => p.errors.map((err) => `${p.scope} ${p.name}: ${formatProblem(err)}`));
      for (const f of failed) {
        const [scope, name] = f.key.split(':') as [string, string];
        if (mine(scope, name))
          problems.push(`the NLU model of ${f.commit.slice(0, 7)} could not be trained: ${f.error}`);
      }
      const commit = e.content?.commit;
      const isTraining = (commit !== undefined && training.has(commit)) || waiting.has(`environment:${e.name}`);
      return { status: e.status === 'ok' && isTraining ? 'training' : e.status, problems };
    };
  };

  router
    .route('/v1/environments')
    .get(admin, async (_req, res) => {
      const s = current();
      // One pass over the feed (the fleet's with --redis) for every environment's last hour.
      const since = Date.now() - HOUR_MS;
      const hour = await fromFleet(
        (f) => f.countSince(since),
        () => monitoring.log.countSince(since),
      );
      const health = healthOf();
      const environments = [...s.environments.values()].map((e) => ({
        name: e.name,
        description: e.description,
        version: e.version,
        pin: e.pinned,
        commit: e.content?.commit ?? null,
        pinned: e.pinned !== null,
        ...health(e),
        channels: e.channels.map((c) => ({ name: c.name, type: c.type })),
        requestsLastHour: hour.counts.get(e.name) ?? 0,
        // The feed does not reach back an hour (it holds its capacity's newest entries): at least this many.
        requestsLastHourCapped: hour.partial,
        tests: tests.of(e.content?.commit ?? null),
      }));
      res.json({
        bot: s.bot,
        manifestCommit: s.manifestCommit,
        environments,
        scope: hour.scope,
        ...('warning' in hour && { warning: hour.warning }),
      });
    })
    .all(methodNotAllowed('GET', 'POST'));

  router
    .route('/v1/environments/:name/history')
    .get(admin, async (req, res) => {
      const limit = oneParam(req, 'limit');
      if (limit !== undefined && !/^[1-9]\d{0,3}$/.test(limit))
        throw new UsageError(`"limit" must be an integer from 1 to 9999, got "${limit.slice(0, 20)}"`);
      const name = String(req.params.name);
      const changes = await environmentHistory(repo(), name, { limit: limit ? Number(limit) : 50 });
      res.json({ environment: name, changes });
    })
    .all(methodNotAllowed('GET'));

  router
    .route('/v1/diff')
    .get(admin, async (req, res) => {
      const from = oneParam(req, 'from');
      const to = oneParam(req, 'to');
      if (!from || !to) throw new UsageError('"from" and "to" are required: two versions or environments');
      res.json(await diffContent(repo(), from, to));
    })
    .all(methodNotAllowed('GET'));

  router
    .route('/v1/versions')
    .get(admin, (_req, res) => {
      const s = current();
      res.json({
        bot: s.bot,
        manifestCommit: s.manifestCommit,
        versions: [...s.versions.values()].map((v) => ({
          name: v.name,
          description: v.description,
          createdFrom: v.createdFrom,
          head: v.head,
          commit: v.content?.commit ?? null,
          status: v.status,
          environments: [...s.environments.values()].filter((e) => e.version === v.name).map((e) => e.name),
          warnings: v.content?.problems.filter((p) => p.severity === 'warning').length ?? 0,
          tests: tests.of(v.head),
        })),
      });
    })
    .all(methodNotAllowed('GET'));

  router
    .route('/v1/logs')
    .get(admin, async (req, res) => {
      const query = parseLogQuery(req.query as Record<string, unknown>);
      res.json(
        await fromFleet(
          async (f) => ({ entries: await f.query(query) }),
          () => ({ entries: monitoring.log.query(query) }),
        ),
      );
    })
    .all(methodNotAllowed('GET'));

  router
    .route('/v1/usage')
    .get(admin, async (req, res) => {
      const environment = oneParam(req, 'environment');
      const version = oneParam(req, 'version');
      const counts = await fromFleet(
        (f) => f.usage({ environment, version }),
        () => monitoring.usage.query({ environment, version }),
      );
      res.json({ environment: environment ?? null, version: version ?? null, ...counts });
    })
    .all(methodNotAllowed('GET'));

  return router;
}

function oneParam(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new UsageError(`query parameter "${name}" must be given once`);
  return value;
}
