#!/usr/bin/env node
// Checks that the imports of src/**/*.ts follow the layer table below: a module imports only
// from its own rank or lower ones, so engines never learn about the programs built on them.
// Plain Node and no dependencies: it reads every import, `import type`, `export … from`,
// dynamic `import('…')` and `require('…')` of the tree (comments and string contents ignored
// where they matter), and the few other rules of the code layout: isomorphic-git and git/refs.ts
// only inside src/git/, process.env only at the edges, printing only in the CLI and the
// resolver, no BotverError built by hand outside errors.ts. It prints one line per broken rule.
// Exit code 0: the tree follows the rules; 1: it does not.
//
//   node scripts/check-layers.js [ROOT]      check ROOT/src (default: this repository)
//   node scripts/check-layers.js --table     print the table, as the README shows it
//
// test/layers.test.ts runs it on the real tree and on small trees that break each rule.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The layers, lowest first. `paths` are relative to the root: a folder ends with "/".
 * A module may import from its own rank and below (`maxImport` lowers that bound).
 * @type {{ rank: number; paths: string[]; note: string; maxImport?: number }[]}
 */
export const LAYERS = [
  { rank: 0, paths: ['src/errors.ts', 'src/model/'], note: 'errors, names, tokens: no I/O' },
  { rank: 1, paths: ['src/yaml/', 'src/validation/'], note: 'YAML with positions, JSON Schema checks' },
  { rank: 2, paths: ['src/git/'], note: 'the one Git boundary (isomorphic-git, ref locking)' },
  { rank: 3, paths: ['src/content/', 'src/manifest/'], note: 'formats and rules; content loading' },
  { rank: 4, paths: ['src/nlu/', 'src/dialog/'], note: 'engines: know neither use cases nor servers' },
  { rank: 5, paths: ['src/ops/'], note: 'use cases: every policy' },
  { rank: 6, paths: ['src/resolver/'], note: 'the HTTP server' },
  { rank: 6, paths: ['src/client/'], note: 'the client for bots: ranks 0-3 only', maxImport: 3 },
  { rank: 7, paths: ['src/cli/'], note: 'flags and environment variables to library calls' },
];

/** Re-exports only: it may point anywhere, nothing may import it. */
export const INDEX = 'src/index.ts';
/** Only modules under this folder import isomorphic-git or git/refs.ts. */
const GIT_DIR = 'src/git/';
const GIT_REFS = 'src/git/refs.ts';
/** The only places that read process.env: the CLI, and the resolver's option resolution. */
export const ENV_READERS = ['src/cli/', 'src/resolver/options.ts'];
/** The only places that may print (console, process.stdout/stderr): the CLI and the resolver's logging. */
export const PRINTERS = ['src/cli/', 'src/resolver/'];
/** The only module that builds a BotverError from a code by hand: every failure has its own class there. */
const ERRORS = 'src/errors.ts';

/** @param {string} file root-relative, "/"-separated */
function layerOf(file) {
  return LAYERS.find((l) => l.paths.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p)));
}

const under = (/** @type {string} */ file, /** @type {string[]} */ places) =>
  places.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p));

/**
 * The source with comments blanked (`code`) and, in `bare`, string and template contents
 * blanked too; both keep every offset, so line numbers stay right.
 * @param {string} text
 */
export function scan(text) {
  let code = '';
  let bare = '';
  let i = 0;
  const blank = (/** @type {string} */ s) => s.replace(/[^\n]/g, ' ');
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? text.length : end;
      code += blank(text.slice(i, stop));
      bare += blank(text.slice(i, stop));
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      code += blank(text.slice(i, stop));
      bare += blank(text.slice(i, stop));
      i = stop;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      const literal = text.slice(i, j + 1);
      code += literal;
      bare += c + blank(literal.slice(1, -1)) + (literal.length > 1 ? c : '');
      i = j + 1;
    } else {
      code += c;
      bare += c;
      i++;
    }
  }
  return { code, bare };
}

/**
 * Every module specifier a file names: static imports and re-exports (type-only ones too),
 * side-effect imports, dynamic import() and import() types (also as a template literal without
 * substitutions), and require('…') / createRequire(…)('…').
 * @param {string} code the source with comments blanked
 * @returns {{ specifier: string; line: number }[]}
 */
export function importsOf(code) {
  const found = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'"`;]*?\bfrom\s*(['"])([^'"]+)\1/g,
    /\bimport\s*(['"])([^'"]+)\1/g,
    /(?<![.\w$])import\s*\(\s*(['"`])([^'"`$]+)\1\s*\)/g,
    /(?<![.\w$])require\s*\(\s*(['"`])([^'"`$]+)\1\s*\)/g,
    /\bcreateRequire\s*\([^)]*\)\s*\(\s*(['"`])([^'"`$]+)\1\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const m of code.matchAll(pattern)) {
      const index = m.index ?? 0;
      found.push({ specifier: /** @type {string} */ (m[2]), line: code.slice(0, index).split('\n').length });
    }
  }
  return found;
}

/**
 * The root-relative .ts file a relative specifier names ("../x.js" -> "src/x.ts"), or null.
 * @param {string} root
 * @param {string} from root-relative importing file
 * @param {string} specifier
 */
function target(root, from, specifier) {
  const base = posix.normalize(posix.join(posix.dirname(from), specifier));
  const stem = base.replace(/\.(js|ts|mjs)$/, '');
  for (const candidate of [`${stem}.ts`, `${stem}.d.ts`, `${stem}/index.ts`]) {
    try {
      if (statSync(join(root, candidate)).isFile()) return candidate;
    } catch {
      // not this one
    }
  }
  return null;
}

/** @param {string} dir */
function tsFiles(dir) {
  /** @type {string[]} */
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...tsFiles(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

const describe = (/** @type {string} */ file) => {
  const layer = layerOf(file);
  return layer ? `${file.split('/')[1]?.replace(/\.ts$/, '')} (rank ${layer.rank})` : file;
};

/**
 * Every broken rule under root/src, one message per import or read.
 * @param {string} root
 * @returns {string[]}
 */
export function checkLayers(root) {
  const problems = [];
  const files = tsFiles(join(root, 'src')).map((f) => relative(root, f).split(sep).join('/'));
  for (const file of files.sort()) {
    const { code, bare } = scan(readFileSync(join(root, file), 'utf8'));
    const layer = layerOf(file);
    if (!layer && file !== INDEX) {
      problems.push(`${file}: not in the layer table (scripts/check-layers.js): give it a layer`);
      continue;
    }
    if (file === INDEX && /^\s*(?:import\b|(?:export\s+)?(?:async\s+)?(?:function|class|const|let|var)\b)/m.test(code))
      problems.push(`${file}: declares or imports something; it only re-exports (export … from)`);
    for (const { specifier, line } of importsOf(code)) {
      const at = `${file}:${line}`;
      if (/^isomorphic-git(\/|$)/.test(specifier) && !file.startsWith(GIT_DIR))
        problems.push(`${at} imports isomorphic-git: only src/git/ talks to it (use GitRepo)`);
      if (!specifier.startsWith('.')) continue;
      const to = target(root, file, specifier);
      if (!to) continue; // not a source module (a JSON schema, a generated file): the compiler checks it
      if (to === INDEX) {
        problems.push(`${at} imports ${INDEX}: it is the package's entry point; import the module itself`);
        continue;
      }
      if (to === GIT_REFS && !file.startsWith(GIT_DIR))
        problems.push(`${at} imports ${GIT_REFS}: only src/git/ uses it (use GitRepo's methods)`);
      if (!layer) continue; // src/index.ts may re-export from anywhere
      const toLayer = layerOf(to);
      if (!toLayer) continue; // reported as a file without a layer
      const limit = layer.maxImport ?? layer.rank;
      if (toLayer.rank > limit)
        problems.push(
          `${at} imports ${to}: ${describe(file)} must not import ${describe(to)}` +
            (layer.maxImport !== undefined ? ` (it imports ranks 0-${layer.maxImport} only)` : ' (imports point down)'),
        );
    }
    // import(x), require(x) with a computed specifier: the check could not follow it.
    for (const m of bare.matchAll(/(?<![.\w$])(import|require)\s*\(\s*(?![\s'"`)])/g)) {
      if (
        m[1] === 'require' &&
        /\brequire\s*\(\s*fileURLToPath\(\s*new URL\(/.test(code.slice(m.index ?? 0, (m.index ?? 0) + 60))
      )
        continue; // a generated file next to this module (precompiled validators), not a source module
      const line = bare.slice(0, m.index ?? 0).split('\n').length;
      problems.push(`${file}:${line} ${m[1]}s a computed specifier: the layer check cannot follow it; name the module`);
    }
    if (!under(file, ENV_READERS)) {
      const envReads = [
        ...bare.matchAll(/\bprocess\s*\.\s*env\b/g),
        ...bare.matchAll(/\bprocess\s*\[/g), // process['env']
        ...bare.matchAll(/\}\s*=\s*process\b/g), // const { env } = process
        ...code.matchAll(/\bfrom\s*['"](?:node:)?process['"]/g), // import { env } from 'node:process'
      ];
      for (const m of envReads) {
        const line = bare.slice(0, m.index ?? 0).split('\n').length;
        problems.push(
          `${file}:${line} reads process.env: only src/cli/ and src/resolver/options.ts do; pass the value down`,
        );
      }
    }
    if (!under(file, PRINTERS)) {
      for (const m of bare.matchAll(/\bconsole\s*\.|\bprocess\s*\.\s*std(?:out|err)\b/g)) {
        const line = bare.slice(0, m.index ?? 0).split('\n').length;
        problems.push(`${file}:${line} prints: only src/cli/ and the resolver's logging do; return warnings as data`);
      }
    }
    if (file !== ERRORS) {
      for (const m of bare.matchAll(/\bnew\s+BotverError\s*\(/g)) {
        const line = bare.slice(0, m.index ?? 0).split('\n').length;
        problems.push(`${file}:${line} builds a BotverError by hand: give the failure its class in ${ERRORS}`);
      }
    }
  }
  return problems;
}

/** The table as text, for the README's code-layout section. */
export function layerTable() {
  const lines = LAYERS.map(
    (l) => `rank ${l.rank}: ${l.paths.map((p) => p.replace(/^src\//, '')).join(', ')}`.padEnd(40) + l.note,
  );
  return [
    ...lines,
    `${INDEX.replace(/^src\//, '')}: re-exports only; nothing imports it`,
    `isomorphic-git and git/refs.ts: only inside git/; process.env: only in ${ENV_READERS.map((p) => p.replace(/^src\//, '')).join(' and ')}`,
    'printing (console, process.stdout/stderr): only cli/ and resolver/; new BotverError(…): only in errors.ts',
  ].join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.includes('--table')) {
    console.log(layerTable());
  } else {
    const root = resolve(args[0] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
    const problems = checkLayers(root);
    for (const p of problems) console.error(p);
    if (problems.length) {
      console.error(
        `${problems.length} problem${problems.length === 1 ? '' : 's'}: the layer rules are broken (scripts/check-layers.js)`,
      );
      process.exitCode = 1;
    } else {
      console.log('layers: every import points down');
    }
  }
}
