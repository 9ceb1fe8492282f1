#!/usr/bin/env node
// The baseline of bench/resolver.bench.js: a bare Express app with one route that sends
// fixed bytes with fixed headers (those of one real /v1/resolve answer), and nothing else —
// no token check, no snapshot, no request log, no metrics. Whatever the resolver does on
// top of this is its own cost.
//
// Usage: node bench/bare-server.js --port P --host H --body FILE --headers JSON [--path /v1/resolve]
// Prints "bare server listening on http://H:P" once it listens; SIGTERM/SIGINT close it.

import { readFileSync } from 'node:fs';
import express from 'express';

const argv = process.argv.slice(2);
const opt = (f, fallback) => {
  const i = argv.indexOf(f);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
};
const port = Number(opt('--port', '0'));
const host = opt('--host', '127.0.0.1');
const path = opt('--path', '/v1/resolve');
const body = readFileSync(opt('--body'));
const headers = JSON.parse(opt('--headers', '{}'));

const app = express();
// Same framework settings as the resolver's app (src/resolver/app.ts): no X-Powered-By, no
// generated ETag (the headers carry the resolver's own).
app.disable('x-powered-by');
app.set('etag', false);
app.get(path, (_req, res) => {
  res.set(headers).send(body);
});

const server = app.listen(port, host, () => {
  const a = /** @type {import('node:net').AddressInfo} */ (server.address());
  process.stdout.write(`bare server listening on http://${a.address}:${a.port}\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
