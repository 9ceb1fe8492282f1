import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import express from 'express';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  AlreadyExistsError,
  BotverError,
  BranchCheckedOutError,
  CheckedOutElsewhereError,
  ConflictError,
  CorruptRefError,
  ERROR_TABLE,
  type ErrorCode,
  exitCodeOf,
  httpStatusOf,
  InvalidNameError,
  NotFoundError,
  PathConflictError,
  RefLockedError,
  RefMovedError,
  UsageError,
} from '../src/errors.js';
import { GitRepo } from '../src/git/repo.js';
import { errorHandler, HttpError, notFound } from '../src/resolver/http-errors.js';
import { botver, git, newBotRepo, ROOT } from './helpers.js';

// One table maps every error code to the CLI's exit code and the resolver's HTTP status
// (src/errors.ts). These tests hold the table to the codes the source really uses, and drive
// both ends: the CLI's exit code for a damaged repository, the resolver's answer for each kind.

/** Every .ts file under src/, as text. */
function sources(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) out.set(path.slice(ROOT.length + 1), readFileSync(path, 'utf8'));
    }
  };
  walk(join(ROOT, 'src'));
  return out;
}

describe('ERROR_TABLE', () => {
  it('has a row for every code the source raises or answers with', () => {
    const used = new Set<string>();
    for (const text of sources().values()) {
      // super('CODE', …) in errors.ts, new HttpError('CODE', …) and { code: 'CODE' } answers.
      for (const m of text.matchAll(/super\(\s*'([A-Z_]+)'/g)) used.add(m[1]!);
      for (const m of text.matchAll(/new HttpError\(\s*'([A-Z_]+)'/g)) used.add(m[1]!);
      for (const m of text.matchAll(/\bcode: '([A-Z_]+)'/g)) used.add(m[1]!);
      for (const m of text.matchAll(/\? '([A-Z_]{4,})' : '([A-Z_]{4,})'/g)) used.add(m[1]!).add(m[2]!);
    }
    // The client's own codes describe the network, not an answer of ours; ENOENT and kin are Node's.
    for (const clientOnly of ['UNREACHABLE', 'BAD_ANSWER']) used.delete(clientOnly);
    for (const code of used) if (/^E[A-Z]+$/.test(code)) used.delete(code);
    expect(used.size).toBeGreaterThan(20);
    const missing = [...used].filter((code) => !(code in ERROR_TABLE));
    expect(missing).toEqual([]);
  });

  it('gives every row an exit code of 1 or 2 and an HTTP error status', () => {
    for (const [code, row] of Object.entries(ERROR_TABLE)) {
      expect([1, 2], code).toContain(row.exit);
      expect(row.http, code).toBeGreaterThanOrEqual(400);
      expect(row.http, code).toBeLessThan(600);
    }
  });

  it('keeps the exit codes the CLI always had: 2 for a wrong command line, 1 for the rest', () => {
    const twos = Object.entries(ERROR_TABLE)
      .filter(([, row]) => row.exit === 2)
      .map(([code]) => code);
    expect(twos.sort()).toEqual(['INVALID_NAME', 'USAGE']);
  });
});

describe('exitCodeOf and httpStatusOf', () => {
  const cases: [BotverError, ErrorCode, number, number][] = [
    [new UsageError('bad flag'), 'USAGE', 2, 400],
    [new InvalidNameError('version', 'V!', 'no'), 'INVALID_NAME', 2, 400],
    [new NotFoundError('version', 'v9'), 'NOT_FOUND', 1, 404],
    [new AlreadyExistsError('version', 'v1'), 'ALREADY_EXISTS', 1, 409],
    [new ConflictError('kept moving'), 'CONFLICT', 1, 409],
    [new RefMovedError('refs/heads/main', 'a'.repeat(40), null), 'CONFLICT', 1, 409],
    [new PathConflictError('a/b', 'v1', 'it is a folder there'), 'CONFLICT', 1, 409],
    [new BranchCheckedOutError('v1', '/w'), 'CONFLICT', 1, 409],
    [new CheckedOutElsewhereError('v1', null), 'DIRTY_WORKTREE', 1, 409],
    [new CorruptRefError('refs/heads/main', 'garbage'), 'CORRUPT_REF', 1, 500],
    [new RefLockedError('/r/.git/index.lock'), 'REF_LOCKED', 1, 503],
  ];

  it.each(cases)('%s: code, exit code and status from the table', (err, code, exit, status) => {
    expect(err).toBeInstanceOf(BotverError);
    expect(err.code).toBe(code);
    expect(exitCodeOf(err)).toBe(exit);
    expect(httpStatusOf(err)).toBe(status);
    expect(err.name).toBe(err.constructor.name);
  });

  it('treats anything that is not a BotverError as unexpected: exit 1, status 500', () => {
    for (const err of [new Error('boom'), new TypeError('x'), 'a string', undefined, { code: 'USAGE' }]) {
      expect(exitCodeOf(err)).toBe(1);
      expect(httpStatusOf(err)).toBe(500);
    }
  });

  it('gives an HttpError its status from the table, or the 4xx Node already chose', () => {
    const ready = new HttpError('NOT_READY', 'loading', { 'Retry-After': '1' });
    expect(ready).toMatchObject({
      code: 'NOT_READY',
      status: 503,
      message: 'loading',
      headers: { 'Retry-After': '1' },
    });
    expect(new HttpError('MEMORY_TOO_LARGE', 'big')).toMatchObject({ status: 413, headers: {} });
    // A 4xx that Node chose (e.g. 431) keeps its status under the one wire code BAD_REQUEST.
    const passed = new HttpError('BAD_REQUEST', 'headers too large', {}, 431);
    expect(passed).toMatchObject({ code: 'BAD_REQUEST', status: 431 });
    expect(exitCodeOf(passed)).toBe(1);
  });
});

describe('a corrupt ref', () => {
  it('is CORRUPT_REF (not CONFLICT) for the Git boundary and for the CLI, which exits 1', async () => {
    const { dir } = await newBotRepo();
    writeFileSync(join(dir, '.git', 'refs', 'heads', 'main'), 'this is not an object id\n');

    const repo = await GitRepo.open(dir);
    const err = await repo.readRef('refs/heads/main').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptRefError);
    expect(err).toMatchObject({ code: 'CORRUPT_REF', data: { ref: 'refs/heads/main' } });
    expect(await repo.branchHead('main').catch((e: unknown) => e)).toBeInstanceOf(CorruptRefError);

    // Every command reads the manifest from the control branch first.
    const r = await botver(dir, '--json', 'env', 'list');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'CORRUPT_REF' });
    // Native git agrees the ref is broken.
    expect(() => git(dir, 'rev-parse', '--verify', '--quiet', 'refs/heads/main')).toThrow();
  });
});

describe("the resolver's error handler", () => {
  async function serve(): Promise<{ url: string; logged: () => string[]; close: () => Promise<void> }> {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const app = express();
    app.get('/usage', () => {
      throw new UsageError('"limit" must be a positive integer');
    });
    app.get('/missing', () => {
      throw new NotFoundError('version', 'v9');
    });
    app.get('/corrupt', () => {
      throw new CorruptRefError('refs/heads/main', 'garbage');
    });
    app.get('/http', () => {
      throw new HttpError('VERSION_UNAVAILABLE', 'no good commit', { 'Retry-After': '5' });
    });
    app.get('/bug', () => {
      throw new TypeError('undefined is not a function');
    });
    app.use(notFound);
    app.use(errorHandler(pino({}, sink)));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      logged: () => lines,
      close: () => new Promise((r) => server.close(() => r())),
    };
  }

  it('answers each kind of failure with its status from the table; only 5xx ones are logged', async () => {
    const s = await serve();
    try {
      const get = async (path: string) => {
        const res = await fetch(`${s.url}${path}`);
        return {
          status: res.status,
          headers: res.headers,
          body: (await res.json()) as { error: Record<string, string> },
        };
      };
      const usage = await get('/usage');
      expect(usage.status).toBe(400);
      expect(usage.body.error).toEqual({ code: 'BAD_REQUEST', message: '"limit" must be a positive integer' });
      expect(usage.headers.get('cache-control')).toBe('no-store');

      const missing = await get('/missing');
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('NOT_FOUND');

      const http = await get('/http');
      expect(http.status).toBe(503);
      expect(http.body.error.code).toBe('VERSION_UNAVAILABLE');
      expect(http.headers.get('retry-after')).toBe('5');

      const route = await get('/nowhere');
      expect(route).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
      expect(s.logged()).toEqual([]);

      // The resolver's own failures: logged, answered without their text.
      for (const path of ['/corrupt', '/bug']) {
        const r = await get(path);
        expect(r.status, path).toBe(500);
        expect(r.body.error.code, path).toBe('INTERNAL');
        expect(r.body.error.message, path).not.toContain('garbage');
      }
      expect(s.logged()).toHaveLength(2);
    } finally {
      await s.close();
    }
  });
});
