import { Router, type Request, type RequestHandler } from 'express';
import { requireAdmin } from '../auth.js';
import { HttpError, methodNotAllowed } from '../http-errors.js';
import { jsonBody } from '../json-body.js';
import type { Admission } from '../admission.js';
import { UsageError } from '../../errors.js';
import type { BotRepo } from '../../ops/bot-repo.js';
import { createEnvironment, deleteEnvironment, promote, setEnvironment } from '../../ops/environments.js';
import { rollbackEnvironment } from '../../ops/history.js';
import { addChannel, removeChannel, rotateToken } from '../../ops/credentials.js';
import { testVersion, type TestReport } from '../../ops/test-version.js';
import {
  AUTHOR_HEADER,
  openAdminRepo,
  operatorOf,
  type AdminRepository,
  type TestResults,
} from '../admin-repository.js';

// Admin routes (BOTVER_ADMIN_TOKEN), the actions the console takes: each calls the same
// library function as its CLI command, so it makes the same commit with the same message, with
// the operator (X-Botver-Author) as its author, and answers what the command's --json prints
// plus the commit made. New tokens and channel secrets are in the answer once and nowhere else.
// A resolver that follows a Git host answers every action with REMOTE_REPOSITORY and the CLI
// commands that make that change in a clone (admin-repository.ts says why).

export interface ActionDeps {
  adminToken: string | undefined;
  repository?: AdminRepository;
  tests: TestResults;
  /** Bodies are read in the admin's turn, within the body budget, as every route's. */
  admission: Admission;
  /** Called after a commit, so that the answer's next read already sees it. */
  refresh?: () => Promise<void>;
}

/** What an action answers besides its own result: the control-branch commit it made (null: nothing changed). */
interface Made {
  commit: { id: string; message: string; author: string } | null;
}

/** A shell word: quoted unless it is plainly safe. */
const word = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export function adminActionRoutes({ adminToken, repository, tests, admission, refresh }: ActionDeps): Router {
  const router = Router();
  const admin = requireAdmin(adminToken);
  /** The token check, then the JSON body (an action with none gets {}). */
  const withBody = [admin, ...jsonBody(admission, () => 'admin')];

  /**
   * One action: `cli` is the botver command line that makes the same change (for a resolver
   * that follows a Git host), `run` the change itself on the repository opened with the
   * operator as author.
   */
  const action =
    (
      cli: (req: Request, body: Record<string, unknown>) => string,
      run: (repo: BotRepo, req: Request, body: Record<string, unknown>) => Promise<Record<string, unknown>>,
    ): RequestHandler =>
    async (req, res) => {
      const author = operatorOf(req.headers[AUTHOR_HEADER]);
      const body = objectBody(req.body);
      if (!repository)
        throw new HttpError('NOT_READY', 'this resolver has no repository to change', { 'Retry-After': '1' });
      if (repository.remoteUrl !== null) {
        const command = cli(req, body);
        throw new HttpError(
          'REMOTE_REPOSITORY',
          `this resolver follows ${repository.remoteUrl}: make the change in a clone and push it`,
          {},
          undefined,
          {
            commands: [
              `git clone ${word(repository.remoteUrl)} bot && cd bot`,
              `${command} --author ${word(author)} --push`,
            ],
          },
        );
      }
      const repo = await openAdminRepo(repository, author);
      const result = await run(repo, req, body);
      const id = typeof result.manifestCommit === 'string' ? result.manifestCommit : null;
      const made: Made = { commit: null };
      if (id) {
        const commit = await repo.git.readCommit(id);
        made.commit = {
          id,
          message: commit.message.trimEnd(),
          author: `${commit.author.name} <${commit.author.email}>`,
        };
        await refresh?.();
      }
      res.status(req.method === 'POST' && req.route?.path === '/v1/environments' ? 201 : 200).json({
        ...result,
        ...made,
      });
    };

  const name = (req: Request) => String(req.params.name);

  router.route('/v1/environments').post(
    ...withBody,
    action(
      (_req, b) =>
        `botver env create ${word(str(b, 'name'))} --version ${word(str(b, 'version'))}${b.pin === true ? ' --pin' : ''}`,
      async (repo, _req, b) => {
        // The pin as `pin`, as GET /v1/environments says it: `commit` is the commit made.
        const { commit: pin, ...created } = await createEnvironment(repo, str(b, 'name'), str(b, 'version'), {
          pin: bool(b, 'pin'),
          ...(typeof b.description === 'string' && { description: b.description }),
        });
        return { ...created, pin: pin ?? null };
      },
    ),
  );
  router
    .route('/v1/environments/:name')
    .delete(
      ...withBody,
      action(
        (req) => `botver env delete ${word(name(req))}`,
        (repo, req) => deleteEnvironment(repo, name(req)),
      ),
    )
    .all(methodNotAllowed('DELETE'));

  router
    .route('/v1/environments/:name/link')
    .put(
      ...withBody,
      action(
        (req, b) => `botver env set ${word(name(req))} ${word(str(b, 'version'))}${b.pin === true ? ' --pin' : ''}`,
        (repo, req, b) => setEnvironment(repo, name(req), str(b, 'version'), { pin: bool(b, 'pin') }),
      ),
    )
    .all(methodNotAllowed('PUT'));

  router
    .route('/v1/environments/:name/promote')
    .post(
      ...withBody,
      action(
        (req, b) =>
          `botver promote ${word(str(b, 'from'))} ${word(name(req))}${b.skipTests === true ? ' --skip-tests' : ''}`,
        async (repo, req, b) => {
          let tested: TestReport | null = null;
          const result = await promote(repo, str(b, 'from'), name(req), {
            skipTests: bool(b, 'skipTests'),
            onTested: (report) => {
              tested = report;
              tests.record(report);
            },
          });
          return { ...result, tests: tested };
        },
      ),
    )
    .all(methodNotAllowed('POST'));

  router
    .route('/v1/environments/:name/rollback')
    .post(
      ...withBody,
      action(
        (req) => `botver rollback ${word(name(req))}`,
        (repo, req) => rollbackEnvironment(repo, name(req)),
      ),
    )
    .all(methodNotAllowed('POST'));

  router
    .route('/v1/environments/:name/token')
    .post(
      ...withBody,
      action(
        (req) => `botver token rotate --environment ${word(name(req))}`,
        (repo, req) => rotateToken(repo, { environment: name(req) }),
      ),
    )
    .all(methodNotAllowed('POST'));

  router
    .route('/v1/environments/:name/channels')
    .post(
      ...withBody,
      action(
        (req, b) => `botver channel add ${word(str(b, 'name'))} --environment ${word(name(req))}`,
        (repo, req, b) => addChannel(repo, name(req), str(b, 'name'), typeof b.type === 'string' ? b.type : undefined),
      ),
    )
    .all(methodNotAllowed('POST'));

  router
    .route('/v1/channels/:name')
    .delete(
      ...withBody,
      action(
        (req) => `botver channel remove ${word(name(req))}`,
        (repo, req) => removeChannel(repo, name(req)),
      ),
    )
    .all(methodNotAllowed('DELETE'));

  // Runs a version's tests (as `botver test VERSION`) and remembers the result for /v1/versions.
  // Not a commit: no author needed, and allowed on a mirror too.
  router
    .route('/v1/versions/:name/test')
    .post(admin, async (req, res) => {
      if (!repository)
        throw new HttpError('NOT_READY', 'this resolver has no repository to test', { 'Retry-After': '1' });
      const repo = await openAdminRepo(repository);
      const version = name(req);
      const report = await testVersion(repo, version, await repo.versionHead(version));
      tests.record(report);
      res.json(report);
    })
    .all(methodNotAllowed('POST'));

  return router;
}

function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new UsageError('the body must be a JSON object');
  return body as Record<string, unknown>;
}

function str(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '') throw new UsageError(`"${field}" is required: a non-empty string`);
  return value;
}

function bool(body: Record<string, unknown>, field: string): boolean {
  const value = body[field];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new UsageError(`"${field}" must be true or false`);
  return value;
}
