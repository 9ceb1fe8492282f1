import { Router, type Request } from 'express';
import type { Monitoring } from '../monitoring/index.js';
import { requireAdmin, notReady } from '../auth.js';
import { methodNotAllowed } from '../http-errors.js';
import { parseLogQuery } from '../monitoring/request-log.js';
import { UsageError } from '../../errors.js';
import type { Snapshot, SnapshotSource } from '../snapshot.js';

// Admin routes (BOTVER_ADMIN_TOKEN): the current snapshot, the request log feed and usage.

export function adminRoutes(live: SnapshotSource, monitoring: Monitoring, adminToken: string | undefined): Router {
  const router = Router();
  const admin = requireAdmin(adminToken);
  const current = (): Snapshot => {
    const snapshot = live.state.snapshot;
    if (!snapshot) throw notReady('the resolver has no valid manifest to serve yet; see /readyz');
    return snapshot;
  };

  router
    .route('/v1/environments')
    .get(admin, (_req, res) => {
      const s = current();
      res.json({
        bot: s.bot,
        manifestCommit: s.manifestCommit,
        environments: [...s.environments.values()].map((e) => ({
          name: e.name,
          description: e.description,
          version: e.version,
          commit: e.content?.commit ?? null,
          pinned: e.pinned !== null,
          status: e.status,
          channels: e.channels.map((c) => ({ name: c.name, type: c.type })),
        })),
      });
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
        })),
      });
    })
    .all(methodNotAllowed('GET'));

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
