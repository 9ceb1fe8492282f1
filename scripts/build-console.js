// Builds the browser console (console/) into dist/console/, served by the resolver at /console/:
//   app.js     console/src/main.tsx and its imports (preact, uPlot), one minified ES module
//   app.css    console/style.css after uPlot's stylesheet, minified
//   index.html copied as is (it only links the two files: the page's CSP allows nothing inline)
// No source maps: they would double what ships in the package.
import { build, transform } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';

const root = new URL('../', import.meta.url);
const path = (/** @type {string} */ p) => new URL(p, root).pathname;
const outdir = path('dist/console/');
const require = createRequire(import.meta.url);

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

await build({
  entryPoints: [path('console/src/main.tsx')],
  outfile: `${outdir}app.js`,
  bundle: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  minify: true,
  sourcemap: false,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: path('console/tsconfig.json'),
  legalComments: 'none',
  logLevel: 'warning',
});

const uplotCss = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
const ownCss = readFileSync(path('console/style.css'), 'utf8');
const css = await transform(`${uplotCss}\n${ownCss}`, { loader: 'css', minify: true, target: 'chrome100' });
writeFileSync(`${outdir}app.css`, css.code);

copyFileSync(path('console/index.html'), `${outdir}index.html`);

// Sizes as served (the resolver gzips with zlib's default level); bench/console.bench.js measures them over HTTP.
const files = ['index.html', 'app.js', 'app.css'].map((name) => ({
  name,
  gzip: gzipSync(readFileSync(`${outdir}${name}`)).length,
}));
console.log(`console: ${files.map((f) => `${f.name} ${(f.gzip / 1024).toFixed(1)} KB gz`).join(', ')}`);
