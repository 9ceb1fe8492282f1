// Bundles the CLI (dist/bin/botver.mjs). Node then reads and compiles a few modules instead of
// resolving ~150 files and lexing CommonJS packages for ESM imports, which takes a promotion
// from ~240 ms to ~150 ms of wall time (README, "Performance"). `botver serve` and its server
// libraries (express, pino, prom-client) are split into chunks loaded only by `serve`, so the
// other commands do not pay for them. The library (dist/index.js) stays unbundled.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

const outdir = new URL('../dist/bin/', import.meta.url).pathname;
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { botver: new URL('../dist/cli/main.js', import.meta.url).pathname },
  outdir,
  outExtension: { '.js': '.mjs' },
  // Chunks sit beside the entry: code that finds files by import.meta.url sees the same folder.
  chunkNames: '[name]-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  // Bundled CommonJS packages call require(); give them one.
  banner: {
    js: "import { createRequire as __botverRequire } from 'node:module'; const require = __botverRequire(import.meta.url);",
  },
});
