#!/usr/bin/env node
// The baseline of bench/nlu-scale.bench.js's /v2/request load: a bare node:http server that
// loads the same model file the resolver trained (its cache, <gitdir>/botver/models/) and
// answers POST /v2/request with the classifier's intents, and nothing else: no token check,
// no snapshot, no turns, no request log, no platform format. Whatever the resolver does on
// top of this is its own cost.
//
// Usage: node bench/bare-nlu-server.js --port P --host H --model FILE
// Prints "bare server listening on http://H:P" once it listens; SIGTERM/SIGINT close it.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const opt = (f, fallback) => {
  const i = argv.indexOf(f);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
};
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { NluModel } = await import(join(root, 'dist', 'nlu', 'engine.js'));
const model = await NluModel.load(readFileSync(opt('--model'), 'utf8'));

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const { text } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const analysis = await model.analyse(text);
    const body = JSON.stringify({ results: { intents: analysis.intents.filter((i) => i.confidence >= 0.5) } });
    res.writeHead(200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  });
});
server.listen(Number(opt('--port', '0')), opt('--host', '127.0.0.1'), () => {
  const a = /** @type {import('node:net').AddressInfo} */ (server.address());
  process.stdout.write(`bare server listening on http://${a.address}:${a.port}\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
