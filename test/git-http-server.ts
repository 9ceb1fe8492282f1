import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// A real Git host for tests: native `git http-backend` (smart HTTP, as GitHub, GitLab and Gitea
// speak it) behind a small CGI bridge on 127.0.0.1, serving the bare repositories under `root`.
// Optional Basic authentication, a switch to make it answer 503 (the host is down), and a count
// of the fetches it served (to prove what did or did not reach it).

export interface GitHttpServer {
  /** http://127.0.0.1:PORT/<name>.git for a repository `<root>/<name>.git`. */
  url(name: string): string;
  /** Fetches served (each begins with one GET of info/refs?service=git-upload-pack), all repositories together. */
  readonly fetches: number;
  /** Every Authorization header received, for checking what a client sent. */
  readonly authorizations: string[];
  /** Answer every request 503 (down) or serve again. */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export async function startGitHttpServer(
  root: string,
  options: { username?: string; password?: string } = {},
): Promise<GitHttpServer> {
  let fetches = 0;
  let down = false;
  const authorizations: string[] = [];
  const expected =
    options.username !== undefined
      ? `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`
      : null;
  const gitExecPath = await new Promise<string>((resolve, reject) => {
    const p = spawn('git', ['--exec-path']);
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.on('error', reject);
    p.on('close', () => resolve(out.trim()));
  });

  const server: Server = createServer((req, res) => {
    if (req.headers.authorization) authorizations.push(req.headers.authorization);
    if (down) {
      res.writeHead(503, { 'Content-Type': 'text/plain' }).end('down for maintenance\n');
      return;
    }
    if (expected && req.headers.authorization !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"', 'Content-Type': 'text/plain' }).end('no\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.endsWith('/info/refs') && url.searchParams.get('service') === 'git-upload-pack') fetches++;
    const cgi = spawn(`${gitExecPath}/git-http-backend`, [], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        ...(req.headers['content-encoding'] && { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] }),
        ...(req.headers['git-protocol'] && { GIT_PROTOCOL: String(req.headers['git-protocol']) }),
        REMOTE_USER: options.username ?? '',
        REMOTE_ADDR: '127.0.0.1',
      },
    });
    req.pipe(cgi.stdin);
    // CGI output: headers, a blank line, the body.
    let head = Buffer.alloc(0);
    let started = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (started) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      started = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
        else res.setHeader(name, value);
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    cgi.on('close', () => res.end());
    cgi.on('error', () => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (name) => `http://127.0.0.1:${port}/${name}.git`,
    get fetches() {
      return fetches;
    },
    authorizations,
    setDown: (d) => {
      down = d;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
