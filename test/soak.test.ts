import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startResolver } from '../src/resolver/server.js';
import { createLogger } from '../src/resolver/monitoring/logger.js';
import { openBotRepo } from '../src/ops/bot-repo.js';
import { commitFiles } from '../src/ops/content-commit.js';
import { createVersion } from '../src/ops/versions.js';
import { createEnvironment } from '../src/ops/environments.js';
import { git, newBotRepo, ROOT, TEST_ENV } from './helpers.js';

// Soak: while client loops send /v1/resolve requests at full speed, another process
// (test/soak-promoter.mjs, on the built library: `npm run build` first) promotes `staging`
// back and forth every 100 ms, re-pins `canary`, and commits onto v2 every ~500 ms.
// Claims: no request fails, none gets a status other than 200, and every answer is
// self-consistent: the manifest commit it names links its environment to its version (and pin),
// its commit is one the version's branch had as head (or the pin), its bundle is that commit's
// content, and a client never sees time go backwards (an older manifest or head after a newer).
// BOTVER_SOAK_MS sets the soak's length (default 12 s, then on until the minimum counts are seen).

const SOAK_MS = Number(process.env.BOTVER_SOAK_MS || 12_000);
const CLIENT_LOOPS = 4;
const PROMOTER = join(ROOT, 'test', 'soak-promoter.mjs');

interface Answer {
  loop: number;
  token: string;
  status: number;
  etag: string | null;
  environment?: string | null;
  version?: string;
  commit?: string;
  manifestCommit?: string;
  /** The expression of the intent `soak`: what v2's commits carry (undefined when absent). */
  marker?: string;
}

interface Manifest {
  versions: Record<string, unknown>;
  environments: Record<string, { version: string; commit?: string }>;
}

describe('resolver soak', () => {
  it(
    'serves self-consistent answers, never failing, while environments are promoted every 100 ms and v2 moves',
    async () => {
      // ---- a bot with two versions whose heads differ, and three environments
      const { dir, init } = await newBotRepo();
      const repo = await openBotRepo({ repo: dir });
      const v2 = await createVersion(repo, 'v2', 'v1', 'soak target');
      await commitFiles(
        repo,
        'v2',
        { 'training/intents/soak.yaml': 'slug: soak\nexpressions:\n  - soak round 0\n' },
        'soak round 0',
      );
      const staging = await createEnvironment(repo, 'staging', 'v2');
      const canary = await createEnvironment(repo, 'canary', 'v2', { pin: true });
      expect(git(dir, 'rev-parse', 'v1')).not.toBe(git(dir, 'rev-parse', 'v2'));

      const tokens = {
        staging: staging.token,
        canary: canary.token,
        production: init.environment.token,
        v1: init.version.token,
        v2: v2.token,
      };
      // Each loop cycles through these: staging (the one that flips) most often.
      const rotation: (keyof typeof tokens)[] = ['staging', 'staging', 'canary', 'v2', 'staging', 'production', 'v1'];

      const resolver = await startResolver({
        repo: dir,
        port: 0,
        host: '127.0.0.1',
        pollMs: 100,
        logger: createLogger({ level: 'silent' }),
      });
      const promoterOut: string[] = [];
      let promoterErr = '';
      let promoterExit: Promise<number | null> | null = null;
      let promoter: ReturnType<typeof spawn> | null = null;
      try {
        // ---- the promoter: another process
        const child = spawn(process.execPath, [PROMOTER, dir, '100'], {
          env: { ...process.env, ...TEST_ENV },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        promoter = child;
        // 'close', not 'exit': by then all of its output has been read
        promoterExit = new Promise((done) => child.once('close', (code) => done(code)));
        let buffered = '';
        const ready = new Promise<void>((done, fail) => {
          child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
            buffered += chunk;
            const lines = buffered.split('\n');
            buffered = lines.pop()!;
            for (const line of lines) {
              promoterOut.push(line);
              if (line.includes('"kind":"ready"')) done();
            }
          });
          child.once('exit', (code) =>
            fail(new Error(`the promoter exited (${code}) before it was ready: ${promoterErr}`)),
          );
        });
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => void (promoterErr += chunk));
        await ready;

        // ---- the clients: keep-alive fetch loops at full speed
        const answers: Answer[] = [];
        const failures: string[] = [];
        // Enough traffic and enough changes to mean something: the soak lasts SOAK_MS and then
        // goes on until these counts are reached (a loaded machine gets there later, the test's
        // own timeout bounds it), so that no count depends on how fast the machine is.
        const minRequests = Math.max(500, SOAK_MS / 10);
        const minPromotions = SOAK_MS / 100 / 4;
        const minV2Commits = SOAK_MS / 500 / 4;
        const count = (kind: string, extra = '') =>
          promoterOut.filter((l) => l.includes(`"kind":"${kind}"`) && l.includes(extra)).length;
        const enough = () =>
          answers.length > minRequests &&
          count('promote', '"environment":"staging"') > minPromotions &&
          count('commit') > minV2Commits;
        const deadline = performance.now() + SOAK_MS;
        const loop = async (n: number) => {
          for (let i = n; performance.now() < deadline || !enough(); i++) {
            const token = rotation[i % rotation.length]!;
            try {
              const res = await fetch(`${resolver.url}/v1/resolve`, {
                headers: { Authorization: `Bearer ${tokens[token]}` },
              });
              const answer: Answer = { loop: n, token, status: res.status, etag: res.headers.get('etag') };
              const text = await res.text();
              if (res.status === 200) {
                const body = JSON.parse(text);
                Object.assign(answer, {
                  environment: body.environment,
                  version: body.version,
                  commit: body.commit,
                  manifestCommit: body.manifestCommit,
                  marker: body.bundle.intents.find((intent: { slug: string }) => intent.slug === 'soak')
                    ?.expressions[0],
                });
              } else if (failures.length < 20) {
                failures.push(`${token}: HTTP ${res.status} ${text.slice(0, 300)}`);
              }
              answers.push(answer);
            } catch (err) {
              if (failures.length < 20)
                failures.push(
                  `${token}: ${(err as Error).message} ${String((err as { cause?: unknown }).cause ?? '')}`,
                );
              answers.push({ loop: n, token, status: 0, etag: null });
            }
          }
        };
        await Promise.all(Array.from({ length: CLIENT_LOOPS }, (_, n) => loop(n)));

        // ---- stop the promoter cleanly (it finishes the change in progress)
        child.kill('SIGTERM');
        const code = await promoterExit;
        expect({ code, stderr: promoterErr.trim() }, 'the promoter succeeded at every change').toEqual({
          code: 0,
          stderr: '',
        });
        const events = promoterOut.map(
          (line) =>
            JSON.parse(line) as { kind: string; environment?: string; manifestCommit?: string; commit?: string },
        );
        const promotions = events.filter((e) => e.kind === 'promote');
        const v2Commits = events.filter((e) => e.kind === 'commit');

        // ---- zero failures, zero non-200 statuses, and enough traffic to mean something
        expect(failures, 'no request failed').toEqual([]);
        const statuses = new Map<number, number>();
        for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        expect(Object.fromEntries(statuses), 'every answer is a 200').toEqual({ 200: answers.length });
        expect(answers.length, 'requests answered').toBeGreaterThan(minRequests);
        // the promoter really promoted and committed while the clients ran
        expect(promotions.filter((e) => e.environment === 'staging').length).toBeGreaterThan(minPromotions);
        expect(v2Commits.length).toBeGreaterThan(minV2Commits);

        // ---- what the repository went through, read with native git
        // every control-branch commit, oldest first: a manifest the resolver may serve
        const mainHistory = git(dir, 'rev-list', '--first-parent', '--reverse', 'main').split('\n');
        const mainOrder = new Map(mainHistory.map((c, i) => [c, i]));
        // every commit a version branch had as its head (each botver commit moves it by one)
        const headsOf = new Map<string, string[]>(
          ['v1', 'v2'].map((v) => [v, git(dir, 'rev-list', '--first-parent', '--reverse', v).split('\n')]),
        );
        const headOrder = new Map<string, Map<string, number>>(
          [...headsOf].map(([v, list]) => [v, new Map(list.map((c, i) => [c, i]))]),
        );
        expect(headsOf.get('v1')).toEqual([init.version.commit]); // v1 never moved
        expect(headsOf.get('v2')!.length).toBeGreaterThanOrEqual(v2Commits.length + 2);
        for (const e of v2Commits) expect(headOrder.get('v2')!.has(e.commit!)).toBe(true);

        const manifests = new Map<string, Manifest>();
        const manifestAt = (commit: string) => {
          let m = manifests.get(commit);
          if (!m) {
            m = parse(git(dir, 'show', `${commit}:environments.yaml`)) as Manifest;
            manifests.set(commit, m);
          }
          return m;
        };
        const markers = new Map<string, string | undefined>();
        const markerAt = (commit: string) => {
          if (!markers.has(commit)) {
            const files = git(dir, 'ls-tree', '--name-only', commit, 'training/intents/');
            const text = files.split('\n').includes('training/intents/soak.yaml')
              ? git(dir, 'show', `${commit}:training/intents/soak.yaml`)
              : null;
            markers.set(commit, text === null ? undefined : (parse(text) as { expressions: string[] }).expressions[0]);
          }
          return markers.get(commit);
        };

        // ---- every answer is self-consistent
        const inconsistent: string[] = [];
        const short = (c?: string | null) => c?.slice(0, 12);
        const bad = (a: Answer, why: string) =>
          inconsistent.length < 20 &&
          inconsistent.push(
            `loop ${a.loop}, ${a.token} token -> ${a.environment ?? '-'}/${a.version}@${short(a.commit)} (manifest ${short(a.manifestCommit)}, ${a.marker}): ${why}`,
          );
        const lastSeen = new Map<string, number>(); // per loop: manifest position, and each version's head position
        for (const a of answers) {
          const m = manifestAt(a.manifestCommit!);
          if (!mainOrder.has(a.manifestCommit!)) bad(a, 'manifestCommit was never the head of main');
          const isEnvironment = a.token !== 'v1' && a.token !== 'v2';
          if (isEnvironment) {
            const link = m.environments[a.token];
            if (a.environment !== a.token) bad(a, `environment ${a.environment} for the ${a.token} token`);
            if (!link || link.version !== a.version)
              bad(a, `${a.manifestCommit} links ${a.token} to ${link?.version}, not ${a.version}`);
            if (link?.commit && a.commit !== link.commit) bad(a, `the pin at ${a.manifestCommit} is ${link.commit}`);
            // served commit (the head, or the pin, which was a head when it was set)
            if (!headOrder.get(a.version!)?.has(a.commit!)) bad(a, `${a.commit} was never a head of ${a.version}`);
          } else {
            if (a.environment !== null || a.version !== a.token)
              bad(a, `a version token answered as ${a.environment}/${a.version}`);
            if (!(a.version! in m.versions)) bad(a, `${a.manifestCommit} has no version ${a.version}`);
            if (!headOrder.get(a.version!)?.has(a.commit!)) bad(a, `${a.commit} was never a head of ${a.version}`);
          }
          if (a.etag !== `"${a.commit}"`) bad(a, `ETag ${a.etag} does not name the commit`);
          if (markerAt(a.commit!) !== a.marker)
            bad(a, `the bundle has soak expression ${a.marker}, the commit ${markerAt(a.commit!)}`);
          // time never goes backwards for one client: no older manifest, no older head, after a newer one
          const pinned = isEnvironment && !!m.environments[a.token]?.commit;
          const positions: [string, number][] = [[`${a.loop}:main`, mainOrder.get(a.manifestCommit!)!]];
          if (!pinned) positions.push([`${a.loop}:${a.version}`, headOrder.get(a.version!)!.get(a.commit!)!]);
          for (const [key, at] of positions) {
            if (at < (lastSeen.get(key) ?? -1))
              bad(a, `${key.split(':')[1]} went back from #${lastSeen.get(key)} to #${at}`);
            lastSeen.set(key, Math.max(at, lastSeen.get(key) ?? -1));
          }
        }
        expect(inconsistent, 'every answer is self-consistent').toEqual([]);

        // ---- not vacuous: the flips and the moving head were actually served
        const stagingVersions = new Set(answers.filter((a) => a.token === 'staging').map((a) => a.version));
        expect([...stagingVersions].sort(), 'staging was served as both versions').toEqual(['v1', 'v2']);
        const canaryPins = new Set(
          answers.filter((a) => a.token === 'canary' && a.version === 'v2').map((a) => a.commit),
        );
        expect(
          answers.some((a) => a.token === 'canary' && a.version === 'v1'),
          'canary served unpinned v1',
        ).toBe(true);
        expect(canaryPins.size, 'canary served several pins of v2').toBeGreaterThan(1);
        const servedManifests = new Set(answers.map((a) => a.manifestCommit));
        expect(servedManifests.size, 'distinct manifests served').toBeGreaterThan(promotions.length / 4);
        const v2Heads = new Set(answers.filter((a) => a.token === 'v2').map((a) => a.commit));
        expect(v2Heads.size, 'distinct v2 heads served').toBeGreaterThan(v2Commits.length / 4);

        // ---- and once the promotions stop, the resolver catches up with the repository
        await resolver.live.refresh();
        const last = await fetch(`${resolver.url}/v1/resolve`, {
          headers: { Authorization: `Bearer ${tokens.staging}` },
        });
        const lastBody = (await last.json()) as { manifestCommit: string; version: string; commit: string };
        expect(lastBody.manifestCommit).toBe(git(dir, 'rev-parse', 'main'));
        expect(lastBody.commit).toBe(git(dir, 'rev-parse', lastBody.version));
      } finally {
        if (promoter && promoter.exitCode === null && promoter.signalCode === null) promoter.kill('SIGKILL');
        if (promoterExit) await promoterExit;
        await resolver.close();
      }
    },
    SOAK_MS + 40_000,
  );
});
