import { Router, type Request, type RequestHandler } from 'express';
import { requireAdmin } from '../auth.js';
import { HttpError, methodNotAllowed } from '../http-errors.js';
import { jsonBody } from '../json-body.js';
import type { Admission } from '../admission.js';
import { UsageError } from '../../errors.js';
import { assertValidName } from '../../model/names.js';
import type { BotRepo } from '../../ops/bot-repo.js';
import { createEnvironment, deleteEnvironment, promote, setEnvironment } from '../../ops/environments.js';
import { rollbackEnvironment } from '../../ops/history.js';
import { addChannel, removeChannel, rotateToken } from '../../ops/credentials.js';
import { testVersion, type TestReport } from '../../ops/test-version.js';
import { AUTHOR_HEADER, adminRepo, operatorOf, type AdminRepository, type TestResults } from '../admin-repository.js';

// Admin routes (BOTVER_ADMIN_TOKEN), the actions the console takes: each calls the same
// library function as its CLI command, so it makes the same commit with the same message, with
// the operator (X-Botver-Author) as its author, and answers what the command's --json prints
// plus the commit made. New tokens and channel secrets are in the answer once and nowhere else.
// A resolver that follows a Git host answers every action with REMOTE_REPOSITORY and the CLI
// commands that make that change in a clone (admin-repository.ts says why). Tests train their
// model in a worker, one run at a time, so that the bots' requests keep being answered.

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

/** A shell word: bare when plainly safe (a letter or digit first: never taken for an option), else quoted. */
const word = (s: string) => (/^[A-Za-z0-9][\w@%+=:,./-]*$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The optional header naming the control-branch commit the operator's screen showed. */
const EXPECTED_HEADER = 'x-botver-manifest-commit';

type Body = Record<string, unknown>;

export function adminActionRoutes({ adminToken, repository, tests, admission, refresh }: ActionDeps): Router {
  const router = Router();
  const admin = requireAdmin(adminToken);
  /** The token check, then the JSON body (an action with none gets {}). */
  const withBody = [admin, ...jsonBody(admission, () => 'admin')];

  /**
   * One action. `cli` gives the arguments of the botver command that makes the same change, its
   * values already shell words (for
   * a resolver that follows a Git host), checking them as that command would; `run` makes the
   * change with the operator as author, refused (CONFLICT) when the control branch is no longer
   * where the operator's screen saw it (X-Botver-Manifest-Commit, when sent).
   */
  const action =
    (
      cli: (req: Request, body: Body) => string[],
      run: (repo: BotRepo, req: Request, body: Body) => Promise<Record<string, unknown>>,
      status = 200,
    ): RequestHandler =>
    async (req, res) => {
      // Answers that may carry a token or a secret are never stored by a cache.
      res.set('Cache-Control', 'no-store');
      const author = operatorOf(req.headers[AUTHOR_HEADER]);
      const body = objectBody(req.body);
      const args = cli(req, body); // checked here too: a bad name is refused before anything else
      if (!repository)
        throw new HttpError('NOT_READY', 'this resolver has no repository to change', { 'Retry-After': '1' });
      if (repository.remoteUrl !== null) {
        throw new HttpError(
          'REMOTE_REPOSITORY',
          `this resolver follows ${repository.remoteUrl}: make the change in a clone and push it`,
          {},
          undefined,
          {
            commands: [
              `git clone ${word(repository.remoteUrl)} bot && cd bot`,
              ['botver', ...args, '--author', word(author), '--push'].join(' '),
            ],
          },
        );
      }
      const expected = req.headers[EXPECTED_HEADER];
      if (expected !== undefined && (typeof expected !== 'string' || !/^[0-9a-f]{40}$/.test(expected)))
        throw new UsageError('the X-Botver-Manifest-Commit header must be a full commit id (40 hex digits)');
      const repo = adminRepo(repository, { author, ...(expected && { expectedControlCommit: expected }) });
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
      res.status(status).json({ ...result, ...made });
    };

  router.route('/v1/environments').post(
    ...withBody,
    action(
      (_req, b) => [
        'env',
        'create',
        env(str(b, 'name')),
        '--version',
        version(str(b, 'version')),
        ...(bool(b, 'pin') ? ['--pin'] : []),
        ...(description(b) !== undefined ? ['--description', word(description(b)!)] : []),
      ],
      async (repo, _req, b) => {
        // The pin as `pin`, as GET /v1/environments says it: `commit` is the commit made.
        const { commit: pin, ...created } = await createEnvironment(repo, str(b, 'name'), str(b, 'version'), {
          pin: bool(b, 'pin'),
          ...(description(b) !== undefined && { description: description(b) }),
        });
        return { ...created, pin: pin ?? null };
      },
      201,
    ),
  );

  router
    .route('/v1/environments/:name')
    .delete(
      ...withBody,
      action(
        (req) => ['env', 'delete', envOf(req)],
        (repo, req) => deleteEnvironment(repo, envOf(req)),
      ),
    )
    .all(methodNotAllowed('DELETE'));

  router
    .route('/v1/environments/:name/link')
    .put(
      ...withBody,
      action(
        (req, b) => ['env', 'set', envOf(req), version(str(b, 'version')), ...(bool(b, 'pin') ? ['--pin'] : [])],
        (repo, req, b) => setEnvironment(repo, envOf(req), str(b, 'version'), { pin: bool(b, 'pin') }),
      ),
    )
    .all(methodNotAllowed('PUT'));

  router
    .route('/v1/environments/:name/promote')
    .post(
      ...withBody,
      action(
        // FROM is an environment or a version: both follow the same naming rule.
        (req, b) => ['promote', env(str(b, 'from')), envOf(req), ...(bool(b, 'skipTests') ? ['--skip-tests'] : [])],
        (repo, req, b) =>
          tests.exclusive(async () => {
            let tested: TestReport | null = null;
            const result = await promote(repo, str(b, 'from'), envOf(req), {
              skipTests: bool(b, 'skipTests'),
              worker: true,
              onTested: (report) => {
                tested = report;
                tests.record(report);
              },
            });
            return { ...result, tests: tested };
          }),
      ),
    )
    .all(methodNotAllowed('POST'));

  router
    .route('/v1/environments/:name/rollback')
    .post(
      ...withBody,
      action(
        (req) => ['rollback', envOf(req)],
        (repo, req) => rollbackEnvironment(repo, envOf(req)),
      ),
    )
    .all(methodNotAllowed('POST'));

  router
    .route('/v1/environments/:name/token')
    .post(
      ...withBody,
      action(
        (req) => ['token', 'rotate', '--env', envOf(req)],
        (repo, req) => rotateToken(repo, { environment: envOf(req) }),
      ),
    )
    .all(methodNotAllowed('POST'));

  router
    .route('/v1/environments/:name/channels')
    .post(
      ...withBody,
      action(
        (req, b) => [
          'channel',
          'add',
          envOf(req),
          channel(str(b, 'name')),
          ...(typeof b.type === 'string' ? ['--type', word(b.type)] : []),
        ],
        (repo, req, b) => addChannel(repo, envOf(req), str(b, 'name'), typeof b.type === 'string' ? b.type : undefined),
      ),
    )
    .all(methodNotAllowed('POST'));

  router
    .route('/v1/channels/:name')
    .delete(
      ...withBody,
      action(
        (req) => ['channel', 'remove', channel(String(req.params.name))],
        (repo, req) => removeChannel(repo, String(req.params.name)),
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
      const name = version(String(req.params.name));
      const report = await tests.exclusive(async () => {
        const repo = adminRepo(repository);
        return testVersion(repo, name, await repo.versionHead(name), { worker: true });
      });
      tests.record(report);
      res.json(report);
    })
    .all(methodNotAllowed('POST'));

  return router;
}

/** Names of the path or the body, checked as the CLI checks them: no command is built from a bad one. */
const checked =
  (kind: 'environment' | 'version' | 'channel') =>
  (value: string): string => {
    assertValidName(kind, value);
    return value;
  };
const env = checked('environment');
const version = checked('version');
const channel = checked('channel');
const envOf = (req: Request) => env(String(req.params.name));

function objectBody(body: unknown): Body {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new UsageError('the body must be a JSON object');
  return body as Body;
}

function str(body: Body, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '') throw new UsageError(`"${field}" is required: a non-empty string`);
  return value;
}

function bool(body: Body, field: string): boolean {
  const value = body[field];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new UsageError(`"${field}" must be true or false`);
  return value;
}

function description(body: Body): string | undefined {
  const value = body.description;
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new UsageError('"description" must be a string');
  return value;
}
