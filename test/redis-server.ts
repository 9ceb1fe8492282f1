import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A real redis-server for tests (the Debian package; .ci/run installs it when missing), on a
// free port on 127.0.0.1: started by the test that needs it, stopped after, and able to be
// stopped and started again on the same port (Redis going away and coming back). By default it
// keeps nothing across a restart; `persistent` gives it an append-only file fsynced on every
// write (`appendfsync always`), as a production Redis that must not lose an acknowledged write.

export interface TestRedis {
  url: string;
  port: number;
  /** Stops the server (SIGKILL: gone at once, as when its machine dies) and waits for its exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port: empty, or with what it had acknowledged when `persistent`. */
  start(): Promise<void>;
  /** Stops it and deletes its files. */
  remove(): Promise<void>;
}

/** A TCP port free right now on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startRedis(options: { persistent?: boolean } = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = options.persistent ? mkdtempSync(join(tmpdir(), 'botver-redis-')) : null;
  const persistence = dir ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir] : ['--appendonly', 'no'];
  let child: ChildProcess | null = null;
  const start = async () => {
    const p = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--loglevel', 'warning'],
      { stdio: 'ignore' },
    );
    child = p;
    const failed = new Promise<never>((_resolve, reject) => {
      p.once('error', reject);
      p.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it listened`)));
    });
    await Promise.race([waitForPort(port), failed]);
    failed.catch(() => undefined); // its exit later (stop) is not a failure
  };
  const stop = async () => {
    const p = child;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    async remove() {
      await stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once something accepts connections on the port (bounded by count, not time asserted). */
async function waitForPort(port: number): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 500; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`redis-server did not listen on ${port}`);
}
