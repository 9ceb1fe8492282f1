#!/usr/bin/env node
// The property tables of docs/formats.md, generated from schemas/*.schema.json so that the
// reference cannot drift from what `botver validate` enforces. The prose around the tables is
// written by hand; each table sits between `<!-- BEGIN GENERATED <file> -->` and
// `<!-- END GENERATED <file> -->` markers and is rewritten in place.
//   node scripts/gen-format-docs.js           rewrite the tables
//   node scripts/gen-format-docs.js --check   exit 1 if they are stale (test/docs.test.ts runs it)
// A last argument other than --check names another copy of the document to work on.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DOC = join(ROOT, 'docs', 'formats.md');
export const SCHEMAS = [
  'environments.schema.json',
  'intent.schema.json',
  'entity.schema.json',
  'skill.schema.json',
  'test.schema.json',
];

/** docs/formats.md with every generated table brought up to date (markers kept). */
export function render(doc = readFileSync(DOC, 'utf8')) {
  let out = doc;
  for (const file of SCHEMAS) {
    const begin = `<!-- BEGIN GENERATED ${file} -->`;
    const end = `<!-- END GENERATED ${file} -->`;
    const from = out.indexOf(begin);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new Error(`${DOC} lacks the markers for ${file}`);
    const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', file), 'utf8'));
    out = `${out.slice(0, from + begin.length)}\n${table(schema)}\n${out.slice(to)}`;
  }
  return out;
}

/** One Markdown table: a row per property, nested objects and list items flattened by path. */
export function table(schema) {
  const rows = [];
  walk(schema, schema, '', rows, 0);
  const lines = ['| property | type | required | default | meaning |', '| --- | --- | --- | --- | --- |'];
  for (const r of rows) lines.push(`| ${[r.path, r.type, r.required, r.default, r.meaning].map(cell).join(' | ')} |`);
  return lines.join('\n');
}

/** A table cell: pipes escaped, and `<` outside code spans too, or Markdown takes `<alias>` for HTML. */
const cell = (text) =>
  String(text)
    .replace(/\n/g, ' ')
    .split('`')
    .map((part, i) => (i % 2 === 0 ? part.replace(/</g, '&lt;') : part))
    .join('`')
    .replace(/\|/g, '\\|');
const code = (text) => `\`${text}\``;

function resolve(root, node) {
  let n = node;
  for (let i = 0; n?.$ref && i < 10; i++) {
    const { $ref, ...rest } = n;
    const target = $ref
      .replace(/^#\//, '')
      .split('/')
      .reduce((o, k) => o?.[k], root);
    if (!target) throw new Error(`unresolved $ref ${$ref}`);
    n = { ...target, ...rest }; // the referring node's description and default win
  }
  return n;
}

/** The type column: JSON types with the constraints a user must know. */
function typeOf(root, node) {
  const n = resolve(root, node);
  const alternatives = n.oneOf ?? n.anyOf;
  if (alternatives && !n.type) return alternatives.map((a) => typeOf(root, a)).join(' or ');
  if ('const' in n) return `${code(JSON.stringify(n.const))} (always)`;
  if (n.enum) return `one of ${n.enum.map((e) => code(e)).join(', ')}`;
  const limits = [];
  if (n.pattern === '\\S') limits.push('not blank');
  else if (n.pattern) limits.push(`pattern ${code(n.pattern)}`);
  if (n.minLength !== undefined) limits.push(`at least ${n.minLength} character${n.minLength === 1 ? '' : 's'}`);
  if (n.minimum !== undefined) limits.push(`≥ ${n.minimum}`);
  if (n.maximum !== undefined) limits.push(`≤ ${n.maximum}`);
  if (n.minItems !== undefined) limits.push(`at least ${n.minItems} item${n.minItems === 1 ? '' : 's'}`);
  if (n.minProperties !== undefined && n.minProperties > 1) limits.push(`at least ${n.minProperties} keys`);
  let type;
  if (n.type === 'array')
    type = `list of ${typeOf(root, n.items ?? {}).replace(/^(object|string|number|integer|boolean)\b/, '$1s')}`;
  else if (n.type === 'object' && !n.properties && n.additionalProperties && n.additionalProperties !== true)
    type = `map of ${code(keyName(n))} to ${typeOf(root, n.additionalProperties)}`;
  else if (n.type) type = Array.isArray(n.type) ? n.type.join(' or ') : n.type;
  else type = 'any';
  if (!limits.length) return type;
  // "list of strings (not blank)" and "at least 1 item" share one pair of parentheses.
  return type.endsWith(')') ? `${type.slice(0, -1)}; ${limits.join(', ')})` : `${type} (${limits.join(', ')})`;
}

/** What the keys of a map are called in paths: the $defs name of its propertyNames. */
function keyName(node) {
  const ref = node.propertyNames?.$ref;
  return ref ? `<${ref.split('/').pop()}>` : '<key>'; // in code spans, see cell()
}

function walk(root, node, prefix, rows, depth) {
  if (depth > 6) return;
  const n = resolve(root, node);
  const required = new Set(n.required ?? []);
  for (const [name, raw] of Object.entries(n.properties ?? {})) {
    const p = resolve(root, raw);
    const path = `${prefix}${name}`;
    rows.push({
      path: code(path),
      type: typeOf(root, raw),
      required: required.has(name) ? 'yes' : 'no',
      default: 'default' in p ? code(JSON.stringify(p.default)) : '',
      meaning: p.description ?? '',
    });
    children(root, p, path, rows, depth);
  }
}

/** Rows for what a property holds: an object's keys, a list's items, a map's values. */
function children(root, p, path, rows, depth) {
  if (p.properties) walk(root, p, `${path}.`, rows, depth + 1);
  const items = p.type === 'array' && p.items ? resolve(root, p.items) : null;
  if (items?.properties) walk(root, items, `${path}[].`, rows, depth + 1);
  const values =
    p.additionalProperties && p.additionalProperties !== true ? resolve(root, p.additionalProperties) : null;
  if (values?.properties) walk(root, values, `${path}.${keyName(p)}.`, rows, depth + 1);
  for (const alternative of p.oneOf ?? p.anyOf ?? []) {
    const a = resolve(root, alternative);
    if (a.properties && a.type === 'object') walk(root, a, `${path}.`, rows, depth + 1);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv.slice(2).find((a) => a !== '--check') ?? DOC;
  const current = readFileSync(file, 'utf8');
  const fresh = render(current);
  if (process.argv.includes('--check')) {
    if (fresh !== current) {
      process.stderr.write(`${file} is stale: run node scripts/gen-format-docs.js\n`);
      process.exit(1);
    }
  } else if (fresh !== current) {
    writeFileSync(file, fresh);
    process.stdout.write(`${file} updated\n`);
  }
}
