// Builds the browser console (console/) into dist/console/, served by the resolver at /console/:
//   app.js     console/src/main.tsx and its imports (preact, uPlot), one minified ES module
//   app.css    console/style.css after uPlot's stylesheet, minified
//   index.html copied as is (it only links the two files: the page's CSP allows nothing inline)
//   manifest.json  the files with their sizes and gzip sizes (read by the bench)
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

// Sizes as served: the resolver sends each file gzipped with zlib's default level.
const files = ['index.html', 'app.js', 'app.css'].map((name) => {
  const body = readFileSync(`${outdir}${name}`);
  return { name, bytes: body.length, gzip: gzipSync(body).length };
});
const total = files.reduce((sum, f) => sum + f.gzip, 0);
writeFileSync(`${outdir}manifest.json`, `${JSON.stringify({ files, gzipTotal: total }, null, 2)}\n`);
console.log(`console: ${files.map((f) => `${f.name} ${(f.gzip / 1024).toFixed(1)} KB gz`).join(', ')}`);
