#!/usr/bin/env node
// `npm start`: serves the bundled example bot. Builds examples/awesome-bot into ./example-repo
// once (scripts/example.js), then runs the resolver on it (PORT, default 8080; BOTVER_HOST,
// default 127.0.0.1) and prints its tokens with ready-to-paste curl commands. The admin token
// is $BOTVER_ADMIN_TOKEN, or a random one made for this run. Ctrl-C (or SIGTERM) stops it.
import { randomBytes } from 'node:crypto';
import { DIR, TOKENS, ensureExampleRepo } from './example.js';
import { startResolver } from '../dist/index.js';

const tokens = await ensureExampleRepo();
const adminToken = process.env.BOTVER_ADMIN_TOKEN || `demo-admin-${randomBytes(12).toString('base64url')}`;
const resolver = await startResolver({
  repo: DIR,
  port: process.env.PORT ? Number(process.env.PORT) : 8080,
  host: process.env.BOTVER_HOST || '127.0.0.1',
  adminToken,
});

await resolver.nlu.idle(); // the example's NLU models: trained once, then loaded from the repository's cache
const url = resolver.url;
const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
const lines = ['', `The example bot is served at ${url} from ${DIR}.`, ''];
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

const stop = () => void resolver.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
