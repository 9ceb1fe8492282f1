import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, TEST_ENV, git, ok, tempDir } from './helpers.js';
import { auth, eventually, getJson, metric, serve, sharedExampleWithTokens, ADMIN_TOKEN } from './resolver-helpers.js';
import { freePort, startRedis, type TestRedis } from './redis-server.js';
import { startGitHttpServer } from './git-http-server.js';
import { execFileSync, spawn } from 'node:child_process';

// Issue #10, part 3 (conversations): replicas sharing a real redis-server (started by the test
// on a free port). Any replica continues any conversation, with the version it started on; the
// messages of one conversation are answered one at a time across replicas; Redis going away
// costs only the dialog (503 STATE_UNAVAILABLE), and everything comes back when Redis does. With
// --remote, one webhook to one replica updates them all (pub/sub).

const example = sharedExampleWithTokens({ trained: true });
const redises: TestRedis[] = [];
afterEach(async () => {
  await Promise.all(redises.splice(0).map((r) => r.remove()));
});

async function redis(options: { persistent?: boolean } = {}) {
  const r = await startRedis(options);
  redises.push(r);
  return r;
}

async function say(url: string, token: string, id: string, text: string, memory?: Record<string, unknown>) {
  const res = await fetch(`${url}/build/v1/dialog`, {
    method: 'POST',
    headers: { ...auth(token), 'Content-Type': 'application/json' },
    body: JSON.stringify({ message: { type: 'text', content: text }, conversation_id: id, ...(memory && { memory }) }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const STATE = '/build/v1/users/u/bots/b/versions/v1/builder/conversation_states';

describe('replicas sharing Redis', () => {
  it('any replica continues any conversation, on the version it started on, across a promotion', async () => {
    const { dir, tokens } = example();
    const { url: redisUrl } = await redis();
    const a = await serve(dir, { redisUrl });
    const b = await serve(dir, { redisUrl });
    // staging serves v2; v2 gets a commit of its own so that a promotion changes what is served.
    const first = await say(a.url, tokens.staging, 'c1', 'hello there', { name: 'Ann' });
    expect(first.status).toBe(200);
    const startedOn = (await getJson(`${a.url}${STATE}/c1`, auth(tokens.staging))).body.results.commit;
    const second = await say(b.url, tokens.staging, 'c1', 'thank you');
    expect(second.status).toBe(200);
    expect(second.body.results.conversation.memory).toMatchObject({ name: 'Ann' });
    expect(second.body.results.conversation.skill_occurences).toMatchObject({ greetings: 1, thanks: 1 });

    // Promote: staging now serves v1 at a new commit; the conversation keeps its own.
    git(dir, 'switch', '--quiet', 'v1');
    git(dir, 'commit', '--quiet', '--allow-empty', '-m', 'a new commit of v1');
    git(dir, 'switch', '--quiet', 'main');
    await ok(dir, 'env', 'set', 'staging', 'v1');
    const v1 = git(dir, 'rev-parse', 'v1');
    await eventually('the promotion served by both', async () => {
      const [ra, rb] = await Promise.all([a, b].map((r) => getJson(`${r.url}/v1/resolve`, auth(tokens.staging))));
      return ra!.body.commit === v1 && rb!.body.commit === v1 ? true : undefined;
    });
    const third = await say(a.url, tokens.staging, 'c1', 'hello again');
    expect(third.status).toBe(200);
    expect(third.body.results.conversation.skill_occurences).toMatchObject({ greetings: 2, thanks: 1 });
    const state = await getJson(`${b.url}${STATE}/c1`, auth(tokens.staging));
    expect(state.body.results.commit).toBe(startedOn);
    expect(startedOn).not.toBe(v1);
  });

  it('messages of one conversation sent to two replicas at once are answered one after another: none is lost', async () => {
    const { dir, tokens } = example();
    const { url: redisUrl } = await redis();
    const a = await serve(dir, { redisUrl });
    const b = await serve(dir, { redisUrl });
    const sends = Array.from({ length: 12 }, (_, i) =>
      say(i % 2 ? a.url : b.url, tokens.production, 'race', 'hello there'),
    );
    const answers = await Promise.all(sends);
    expect(answers.map((r) => r.status)).toEqual(Array(12).fill(200));
    // Twelve greetings counted: each message started from the state the one before stored.
    const state = await getJson(`${a.url}${STATE}/race`, auth(tokens.production));
    expect(state.body.results.skill_occurences).toMatchObject({ greetings: 12 });
  });

  it('Redis stopped under load: resolve and NLU unaffected, the dialog 503 STATE_UNAVAILABLE, /readyz says so; Redis back: recovery, nothing acknowledged lost', async () => {
    const { dir, tokens } = example();
    // Persistent, as a production Redis: what it acknowledged survives its restart.
    const r = await redis({ persistent: true });
    const a = await serve(dir, { redisUrl: r.url });
    const kept = await say(a.url, tokens.production, 'kept', 'hello there', { name: 'Ann' });
    expect(kept.status).toBe(200);

    // Load: 6 clients, each sending resolve, NLU and a new conversation's message in turn,
    // from before Redis stops until after it is back. Every answer is kept, by phase.
    // An answer's phase is the one it was both sent and answered in ('between' otherwise).
    type Phase = 'up' | 'stopping' | 'down' | 'back' | 'between';
    let phase: Phase = 'up';
    let running = true;
    const seen: { phase: Phase; route: string; status: number; code?: string; id?: string }[] = [];
    let n = 0;
    const timed = async (route: string, send: () => Promise<{ status: number; code?: string; id?: string }>) => {
      const at = phase;
      const { status, code, id } = await send();
      seen.push({ phase: phase === at ? at : 'between', route, status, code, id });
    };
    const client = async () => {
      while (running) {
        await timed('resolve', async () => {
          const res = await fetch(`${a.url}/v1/resolve`, { headers: auth(tokens.production) });
          await res.arrayBuffer();
          return res;
        });
        await timed('request', async () => {
          const res = await fetch(`${a.url}/v2/request`, {
            method: 'POST',
            headers: { ...auth(tokens.production), 'Content-Type': 'application/json' },
            body: JSON.stringify({ text: 'what is on the menu?' }),
          });
          await res.arrayBuffer();
          return res;
        });
        // Every other message continues one conversation all clients share, across the outage.
        const id = n++ % 2 ? 'shared' : `load-${n}`;
        await timed('dialog', async () => {
          const answer = await say(a.url, tokens.production, id, 'hello there');
          return { status: answer.status, code: answer.body.error?.code, id };
        });
      }
    };
    const clients = Array.from({ length: 6 }, client);
    const answered = (p: Phase, route: string) => seen.filter((x) => x.phase === p && x.route === route);
    await eventually('load answered with Redis up', async () =>
      answered('up', 'dialog').length >= 12 ? true : undefined,
    );

    phase = 'stopping';
    await r.stop();
    phase = 'down';
    await eventually('dialog refused while Redis is away', async () =>
      answered('down', 'dialog').some((x) => x.status === 503) ? true : undefined,
    );
    const ready = await getJson(`${a.url}/readyz`, auth(ADMIN_TOKEN, 'Bearer'));
    expect(ready.status).toBe(200); // a warning: only the dialog needs Redis
    const problem = ready.body.problems.find((p: { scope: string }) => p.scope === 'redis');
    expect(problem.errors[0].message).toContain('STATE_UNAVAILABLE');
    await eventually('load answered with Redis away', async () =>
      answered('down', 'request').length >= 12 ? true : undefined,
    );

    await r.start();
    phase = 'back';
    await eventually('the dialog back under load', async () =>
      answered('back', 'dialog').filter((x) => x.status === 200).length >= 12 ? true : undefined,
    );
    running = false;
    await Promise.all(clients);

    // Resolve and NLU answered every request, whatever Redis did.
    for (const route of ['resolve', 'request'])
      expect(seen.filter((x) => x.route === route && x.status !== 200)).toEqual([]);
    // The dialog answered or said why: never a 500, never a hang.
    const dialog = seen.filter((x) => x.route === 'dialog');
    expect(dialog.filter((x) => x.status !== 200 && x.code !== 'STATE_UNAVAILABLE')).toEqual([]);
    expect(answered('up', 'dialog').every((x) => x.status === 200)).toBe(true);
    expect((await getJson(`${a.url}/readyz`)).body.problems).toEqual([]);
    // The conversation acknowledged before the outage goes on where it was.
    const after = await say(a.url, tokens.production, 'kept', 'hello again');
    expect(after.status).toBe(200);
    expect(after.body.results.conversation.memory).toMatchObject({ name: 'Ann' });
    expect(after.body.results.conversation.skill_occurences).toMatchObject({ greetings: 2 });
    // The shared conversation goes on too (a lock the outage left behind ends with its lease), and
    // every message answered 200 is counted in it: acknowledged, stored, kept across the restart.
    const shared = dialog.filter((x) => x.id === 'shared');
    const last = await say(a.url, tokens.production, 'shared', 'hello there');
    expect(last.status).toBe(200);
    const greetings = last.body.results.conversation.skill_occurences.greetings;
    expect(greetings).toBeGreaterThanOrEqual(shared.filter((x) => x.status === 200).length + 1);
    expect(greetings).toBeLessThanOrEqual(shared.length + 1);
  });

  it('the request log feed and usage answer for the whole fleet; with Redis away, for the replica, saying so', async () => {
    const { dir, tokens } = example();
    const r = await redis();
    const a = await serve(dir, { redisUrl: r.url, replicaName: 'replica-a' });
    const b = await serve(dir, { redisUrl: r.url, replicaName: 'replica-b' });
    for (const [replica, n] of [
      [a, 3],
      [b, 2],
    ] as const)
      for (let i = 0; i < n; i++)
        expect((await getJson(`${replica.url}/v1/resolve`, auth(tokens.production))).status).toBe(200);
    expect((await say(b.url, tokens.staging, 'feed', 'hello there')).status).toBe(200);
    const admin = auth(ADMIN_TOKEN, 'Bearer');
    const { value: feed } = await eventually('six entries in the fleet feed', async () => {
      const f = await getJson(`${a.url}/v1/logs?limit=50`, admin);
      return f.body.entries.length === 6 ? f.body : undefined;
    });
    expect(feed.scope).toBe('fleet');
    expect(feed.entries[0]).toMatchObject({ replica: 'replica-b', route: '/build/v1/dialog', intent: 'greetings' });
    const counts = (list: { replica: string }[], who: string) => list.filter((e) => e.replica === who).length;
    expect([counts(feed.entries, 'replica-a'), counts(feed.entries, 'replica-b')]).toEqual([3, 3]);
    // Filters work on the fleet's entries as on one replica's.
    const staging = await getJson(`${a.url}/v1/logs?environment=staging`, admin);
    expect(staging.body.entries.map((e: { replica: string }) => e.replica)).toEqual(['replica-b']);
    const usage = await getJson(`${b.url}/v1/usage?environment=production`, admin);
    expect(usage.body).toMatchObject({ scope: 'fleet', environment: 'production' });
    expect(usage.body.days[0]).toMatchObject({ total: 5, byRoute: { '/v1/resolve': 5 }, byStatus: { '200': 5 } });
    // Redis away: this replica's own, and the answer says so.
    await r.stop();
    const local = await getJson(`${a.url}/v1/logs`, admin);
    expect(local.status).toBe(200);
    expect(local.body.scope).toBe('replica');
    expect(local.body.warning).toMatch(/Redis is unavailable/);
    expect(local.body.entries).toHaveLength(3);
    // What the fleet's feed could not take meanwhile is counted, and kept in the replica's own log.
    expect((await getJson(`${a.url}/v1/resolve`, auth(tokens.production))).status).toBe(200);
    const { value: dropped } = await eventually('the entry counted as dropped', async () => {
      const n = metric(await (await fetch(`${a.url}/metrics`)).text(), 'botver_fleet_log_dropped_total');
      return n !== undefined && n > 0 ? n : undefined;
    });
    expect(dropped).toBe(1);
    expect((await getJson(`${a.url}/v1/logs`, admin)).body.entries).toHaveLength(4);
  });

  it('kill -9 of a replica mid-conversation: the conversation continues on another, with its memory and version', async () => {
    const { dir, tokens } = example();
    const { url: redisUrl } = await redis();
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'serve', '--repo', dir, '--port', String(port), '--redis', redisUrl], {
      env: { ...process.env, ...TEST_ENV, BOTVER_LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const doomed = `http://127.0.0.1:${port}`;
      await eventually(
        'the child replica ready',
        async () => ((await fetch(`${doomed}/readyz`).catch(() => null))?.status === 200 ? true : undefined),
        60_000,
      );
      const first = await say(doomed, tokens.staging, 'survivor', 'hello there', { name: 'Ann' });
      expect(first.status).toBe(200);
      child.kill('SIGKILL');
      await exited;
      const other = await serve(dir, { redisUrl });
      const next = await say(other.url, tokens.staging, 'survivor', 'thank you');
      expect(next.status).toBe(200);
      expect(next.body.results.conversation.memory).toMatchObject({ name: 'Ann' });
      expect(next.body.results.conversation.skill_occurences).toMatchObject({ greetings: 1, thanks: 1 });
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('with --remote, one webhook to one replica updates every replica', async () => {
    const { dir, tokens } = example();
    const { url: redisUrl } = await redis();
    const root = tempDir('botver-host-');
    git(root, 'clone', '--quiet', '--bare', dir, 'bot.git');
    const host = await startGitHttpServer(root);
    try {
      const secret = 'fleet-secret';
      const follow = () =>
        serve('.', {
          redisUrl,
          webhookSecret: secret,
          remote: { url: host.url('bot'), cacheDir: tempDir('botver-cache-'), fetchIntervalMs: 3_600_000 },
        });
      const replicas = [await follow(), await follow(), await follow()];
      // A push on the host: v2 moves.
      const work = join(tempDir('botver-dev-'), 'work');
      execFileSync('git', ['clone', '--quiet', join(root, 'bot.git'), work], { env: { ...process.env, ...TEST_ENV } });
      git(work, 'switch', '--quiet', 'v2');
      git(work, 'commit', '--quiet', '--allow-empty', '-m', 'pushed to the host');
      git(work, 'push', '--quiet', 'origin', 'v2');
      const pushed = git(work, 'rev-parse', 'HEAD');
      const body = '{"ref":"refs/heads/v2"}';
      const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
      const hook = await fetch(`${replicas[0]!.url}/v1/hooks/git`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': signature },
        body,
      });
      expect(hook.status).toBe(202);
      await eventually('every replica serves the push', async () => {
        const answers = await Promise.all(replicas.map((r) => getJson(`${r.url}/v1/resolve`, auth(tokens.staging))));
        return answers.every((a) => a.body.commit === pushed) ? true : undefined;
      });
    } finally {
      await host.close();
    }
  });
});
