#!/usr/bin/env node
// Before `npm test`: the suite runs real parts, and three of them are Debian packages rather than
// npm ones: git (every test), redis-server (the replicas' shared state) and chromium (the console's
// tests, driven by playwright-core, which downloads no browser of its own). When one is missing and
// this runs as root with apt-get (CI's fresh machine, a container), it is installed; otherwise
// the test run stops here with the command that installs it, instead of failing test by test.
import { spawnSync } from 'node:child_process';

const PACKAGES = [
  { command: 'git', pkg: 'git' },
  { command: 'redis-server', pkg: 'redis-server' },
  { command: 'chromium', pkg: 'chromium' },
];

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
const missing = PACKAGES.filter((p) => !has(p.command));
if (missing.length === 0) process.exit(0);

const names = missing.map((p) => p.pkg).join(' ');
const root = typeof process.getuid === 'function' && process.getuid() === 0;
if (!root || !has('apt-get')) {
  console.error(
    `npm test needs ${names}: install it (on Debian or Ubuntu: sudo apt-get install -y ${names}), then run npm test again`,
  );
  process.exit(1);
}
console.error(`npm test: installing ${names} (apt-get) ...`);
const run = (args) =>
  spawnSync('apt-get', args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
if (run(['update', '-qq']).status !== 0 || run(['install', '-y', '-qq', ...missing.map((p) => p.pkg)]).status !== 0) {
  console.error(`npm test: apt-get could not install ${names}`);
  process.exit(1);
}
