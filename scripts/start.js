#!/usr/bin/env node
// `npm start`: serves the bundled example bot. Builds examples/awesome-bot into ./example-repo
// once (scripts/example.js), then runs the resolver on it (PORT, default 8080; BOTVER_HOST,
// default 127.0.0.1) and prints its tokens with ready-to-paste curl commands. The admin token
// is $BOTVER_ADMIN_TOKEN, or a random one made for this run. Ctrl-C (or SIGTERM) stops it.
// The npm script runs this file with `exec` after building, so the resolver IS the process npm
// starts: npm forwards SIGTERM/SIGINT to it, and a process manager stopping `npm start` stops the
// server (nothing is left running, reparented).
import { randomBytes } from 'node:crypto';
import { DIR, TOKENS, ensureExampleRepo } from './example.js';
import { startResolver } from '../dist/index.js';

const port = process.env.PORT ? Number(process.env.PORT) : 8080;
const host = process.env.BOTVER_HOST || '127.0.0.1';
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT=${process.env.PORT} is not a port number`);

const tokens = await ensureExampleRepo();
const adminToken = process.env.BOTVER_ADMIN_TOKEN || `demo-admin-${randomBytes(12).toString('base64url')}`;
let resolver;
try {
  resolver = await startResolver({ repo: DIR, port, host, adminToken });
} catch (err) {
  // One line, as `botver serve` prints, not a stack trace; the usual cause is another server.
  const code = /** @type {NodeJS.ErrnoException | undefined} */ (err)?.code;
  if (code === 'EADDRINUSE')
    fail(
      `port ${port} on ${host} is already in use: stop what uses it, or pick another with PORT=${port + 1} npm start`,
    );
  if (code === 'EACCES') fail(`port ${port} on ${host} needs privileges: pick another with PORT=8080 npm start`);
  fail(err instanceof Error ? err.message : String(err));
}

await resolver.nlu.idle(); // the example's NLU models: trained once, then loaded from the repository's cache
const url = resolver.url;
const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
const lines = [
  '',
  `The example bot is served at ${url} from ${DIR}.`,
  '',
  `Console: ${url}/console/ (sign in with the admin token below, your name and e-mail)`,
  '',
];
if (tokens) {
  lines.push(`Tokens (also in ${TOKENS}):`);
  for (const [name, token] of Object.entries(tokens.environments))
    lines.push(`  environment ${name.padEnd(10)} ${token}`);
  for (const [name, token] of Object.entries(tokens.versions)) lines.push(`  version     ${name.padEnd(10)} ${token}`);
  lines.push(`  admin                  ${adminToken}`, '');
  const prod = tokens.environments.production;
  const staging = tokens.environments.staging;
  lines.push(
    'Try:',
    `  curl -s ${url}/v1/resolve -H ${q(`Authorization: Token ${prod}`)}`,
    `  curl -s ${url}/v1/resolve -H ${q(`Authorization: Bearer ${staging}`)}`,
    `  curl -s ${url}/v1/files/training/intents/greetings.yaml -H ${q(`Authorization: Token ${staging}`)}`,
    `  curl -s ${url}/v2/request -H ${q(`Authorization: Token ${prod}`)} -H 'Content-Type: application/json' -d '{"text": "can I get a big pizza with mushrooms?"}'`,
    `  curl -s ${url}/build/v1/dialog -H ${q(`Authorization: Token ${prod}`)} -H 'Content-Type: application/json' -d '{"message": {"type": "text", "content": "I want a large pepperoni pizza"}, "conversation_id": "demo"}'`,
    `  curl -s ${url}/readyz`,
    `  curl -s ${url}/v1/environments -H ${q(`Authorization: Bearer ${adminToken}`)}`,
    `  curl -s ${q(`${url}/v1/logs?environment=production&limit=5`)} -H ${q(`Authorization: Bearer ${adminToken}`)}`,
    `  curl -s ${url}/metrics`,
    '',
    'Promote staging to production in another terminal, and production serves v2 within a second:',
    `  node bin/botver.js --repo ${DIR} promote staging production`,
    `  node bin/botver.js --repo ${DIR} rollback production`,
  );
} else {
  lines.push(`The tokens file ${TOKENS} is missing: delete ${DIR} and run npm start again for new tokens.`);
}
lines.push('', 'Ctrl-C stops the resolver. `npm run tour` shows the CLI on the same repository.', '');
process.stdout.write(`${lines.join('\n')}\n`);

/** Prints one line on stderr and exits 1 (the live snapshot's watchers would keep the process up). */
function fail(message) {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(1);
}

const stop = () => void resolver.close().then(() => process.exit(0));
process.on('SIGINT', stop); // on, not once: a second signal during the close must not kill it half-way
process.on('SIGTERM', stop);
