#!/usr/bin/env node
// The baseline of bench/resolver.bench.js: a bare Express app with one route that sends
// fixed bytes with fixed headers (those of one real /v1/resolve answer), and nothing else —
// no token check, no snapshot, no request log, no metrics. Whatever the resolver does on
// top of this is its own cost.
//
// Usage: node bench/bare-server.js --port P --host H --body FILE --headers JSON [--path /v1/resolve]
// Prints "bare server listening on http://H:P" once it listens; SIGTERM/SIGINT close it.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import express from 'express';
import { benchArgs, listenAsBareServer } from './measure.js';

const { opt } = benchArgs();
const path = opt('--path') ?? '/v1/resolve';
const body = readFileSync(/** @type {string} */ (opt('--body')));
const headers = JSON.parse(opt('--headers') ?? '{}');

const app = express();
// Same framework settings as the resolver's app (src/resolver/app.ts): no X-Powered-By, no
// generated ETag (the headers carry the resolver's own).
app.disable('x-powered-by');
app.set('etag', false);
app.get(path, (_req, res) => {
  res.set(headers).send(body);
});

listenAsBareServer(createServer(app));
