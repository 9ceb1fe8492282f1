// Bundles the CLI into one file (dist/bin/botver.mjs). Node then reads and compiles one
// module instead of resolving ~150 files and lexing CommonJS packages for ESM imports, which
// takes a promotion from ~240 ms to ~150 ms of wall time (README, "Performance").
// The library (dist/index.js) stays unbundled for `import ... from 'botver'`.
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('../dist/cli/main.js', import.meta.url).pathname],
  outfile: new URL('../dist/bin/botver.mjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  // Bundled CommonJS packages call require(); give them one.
  banner: { js: "import { createRequire as __botverRequire } from 'node:module'; const require = __botverRequire(import.meta.url);" },
});
