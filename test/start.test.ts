import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectFsckClean, git, ROOT, TEST_ENV, tempDir } from './helpers.js';

// The README's first command: `npm start` (scripts/start.js) serves the example bot; `npm run
// tour` (scripts/tour.js) walks the CLI through it. `git` below is native git.

/**
 * Runs scripts/start.js (or, with `viaNpm`, the real `npm start` minus its prestart build, which
 * the suite has done) until it has printed its instructions; returns them and the process.
 */
async function start(env: NodeJS.ProcessEnv, viaNpm = false) {
  const child = viaNpm
    ? spawn('npm', ['start', '--ignore-scripts', '--silent'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, [join(ROOT, 'scripts', 'start.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!out.includes('Ctrl-C stops the resolver')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`npm start did not come up:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    out: () => out,
    exited,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

const curl = (line: string) => execFileSync('sh', ['-c', line.trim()], { encoding: 'utf8' });

describe('npm start (scripts/start.js)', () => {
  it('builds the example repository once, serves it, and prints tokens and curl commands that work', async () => {
    const dir = join(tempDir(), 'example-repo');
    const tokens = join(tempDir(), 'tokens.json');
    const env = {
      ...process.env,
      ...TEST_ENV,
      BOTVER_EXAMPLE_REPO: dir,
      BOTVER_EXAMPLE_TOKENS: tokens,
      PORT: '0',
      BOTVER_ADMIN_TOKEN: 'admin-for-test',
    };

    const first = await start(env);
    const saved = JSON.parse(readFileSync(tokens, 'utf8'));
    const text = first.out();
    for (const token of [...Object.values(saved.environments), ...Object.values(saved.versions)] as string[])
      expect(text).toContain(token);
    const commands = text.split('\n').filter((l) => l.trim().startsWith('curl '));
    expect(commands.length).toBeGreaterThanOrEqual(6);
    const prod = JSON.parse(
      curl(commands.find((l) => l.includes('/v1/resolve') && l.includes(saved.environments.production))!),
    );
    expect(prod).toMatchObject({
      bot: 'awesome-bot',
      environment: 'production',
      version: 'v1',
      commit: git(dir, 'rev-parse', 'v1'),
    });
    const staging = JSON.parse(
      curl(commands.find((l) => l.includes('/v1/resolve') && l.includes(saved.environments.staging))!),
    );
    expect(staging).toMatchObject({ environment: 'staging', version: 'v2', commit: git(dir, 'rev-parse', 'v2') });
    expect(curl(commands.find((l) => l.includes('/v1/files/'))!)).toContain('good day to you');
    const nlp = JSON.parse(curl(commands.find((l) => l.includes('/v2/request'))!));
    expect(nlp.results).toMatchObject({
      intents: [{ slug: 'order-pizza' }],
      entities: { 'pizza-size': [{ value: 'large' }], 'pizza-topping': [{ value: 'mushroom' }] },
    });
    const dialog = JSON.parse(curl(commands.find((l) => l.includes('/build/v1/dialog'))!));
    expect(dialog.results.messages[0].content).toBe(
      'One large pepperoni pizza coming up! It will be with you in about 30 minutes.',
    );
    expect(JSON.parse(curl(commands.find((l) => l.includes('/readyz'))!))).toMatchObject({ ready: true });
    expect(JSON.parse(curl(commands.find((l) => l.includes('/v1/environments'))!)).environments).toHaveLength(2);
    const logs = JSON.parse(curl(commands.find((l) => l.includes('/v1/logs'))!));
    expect(logs.entries[0]).toMatchObject({
      environment: 'production',
      route: '/build/v1/dialog',
      status: 200,
      intent: 'order-pizza',
      skill: 'order-pizza',
    });
    expect(logs.entries).toContainEqual(
      expect.objectContaining({ environment: 'production', route: '/v1/resolve', status: 200 }),
    );
    // The console it points at is served (the page itself is tested in a browser: console.test.ts).
    const consoleUrl = /^Console: (\S+) /m.exec(text)?.[1];
    expect(curl(`curl -s ${consoleUrl}`)).toContain('<title>');
    expect(curl(commands.find((l) => l.includes('/metrics'))!)).toContain(
      'botver_environment_info{environment="production",version="v1"',
    );
    // Tokens never enter the repository, nor the resolver's log.
    for (const token of [...Object.values(saved.environments), ...Object.values(saved.versions)] as string[]) {
      expect(spawnSync('git', ['grep', '-q', token, 'main', 'v1', 'v2'], { cwd: dir }).status).toBe(1); // 1: no match
      expect(
        first
          .out()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .join('\n'),
      ).not.toContain(token);
    }
    expect(await first.stop()).toBe(0);

    const second = await start(env);
    expect(second.out()).toContain(`Using the example bot repository in ${dir}`);
    expect(await second.stop()).toBe(0);
    expectFsckClean(dir);
  });
});

/** Listens on a free port of 127.0.0.1 and resolves with the server (close it to free the port). */
function occupyPort(port = 0): Promise<ReturnType<typeof createServer>> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** Runs scripts/start.js to its end; returns its exit code and what it wrote. */
function runToEnd(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'scripts', 'start.js')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('npm start as a process', () => {
  const exampleEnv = () => ({
    ...process.env,
    ...TEST_ENV,
    BOTVER_EXAMPLE_REPO: join(tempDir(), 'example-repo'),
    BOTVER_EXAMPLE_TOKENS: join(tempDir(), 'tokens.json'),
    BOTVER_ADMIN_TOKEN: 'admin-for-test',
  });

  it('on a busy port prints one clean line naming PORT and exits 1', async () => {
    const busy = await occupyPort();
    try {
      const { port } = busy.address() as { port: number };
      const { code, stderr } = await runToEnd({ ...exampleEnv(), PORT: String(port) });
      expect(code).toBe(1);
      expect(stderr.trimEnd().split('\n')).toEqual([
        expect.stringContaining(`port ${port} on 127.0.0.1 is already in use`),
      ]);
      expect(stderr).toContain('PORT=');
      expect(stderr).not.toMatch(/\n\s+at /);
    } finally {
      busy.close();
    }
  });

  it('is the server: SIGTERM to the process npm start made stops the resolver and frees its port', async () => {
    const running = await start({ ...exampleEnv(), PORT: '0' }, true);
    const url = /served at (http:\/\/[^ ]+?)\.? from/.exec(running.out())?.[1];
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const port = Number(new URL(url!).port);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    // npm forwards SIGTERM to its script; the script exec'ed the server, so nothing is left behind.
    expect(await running.stop()).toBe(0);
    const again = await occupyPort(port); // would fail with EADDRINUSE if a server still held it
    again.close();
  });
});

describe('npm run tour (scripts/tour.js)', () => {
  it('demonstrates the workflow on the example repository, and can run again', () => {
    const dir = join(tempDir(), 'example-repo');
    const tokens = join(tempDir(), 'tokens.json');
    const env = { ...process.env, ...TEST_ENV, BOTVER_EXAMPLE_REPO: dir, BOTVER_EXAMPLE_TOKENS: tokens };
    const run = () => execFileSync(process.execPath, [join(ROOT, 'scripts', 'tour.js')], { env, encoding: 'utf8' });
    const first = run();
    expect(first).toContain('0 errors, 0 warnings');
    expect(first).toMatch(/~ greetings\n\s+\+ good day to you\n\s+\+ hello again/);
    expect(first).toMatch(/Promoted production to v2@[0-9a-f]{7} from staging/);
    expect(first).toMatch(/Rolled production back to v1/);
    const saved = JSON.parse(readFileSync(tokens, 'utf8'));
    expect(Object.keys(saved.environments)).toEqual(['production', 'staging']);
    const second = run();
    expect(second).toContain(`Using the example bot repository in ${dir}`);
    expect(git(dir, 'show', 'main:environments.yaml')).toMatch(/production:\n\s+version: v1\n/);
    expectFsckClean(dir);
  });
});
