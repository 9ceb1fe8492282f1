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
import { benchArgs, listenAsBareServer } from './measure.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { NluModel } = await import(join(root, 'dist', 'nlu', 'engine.js'));
const model = await NluModel.load(readFileSync(/** @type {string} */ (benchArgs().opt('--model')), 'utf8'));

listenAsBareServer(
  createServer((req, res) => {
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
  }),
);
