import { Document, isMap, isScalar, isSeq, LineCounter, type Node } from 'yaml';
import type { Problem } from '../errors.js';
import { checkAliases, composeLimited, DEFAULT_YAML_LIMITS, YamlLimitError, type YamlLimits } from './shape.js';

// A YAML file parsed with its source positions kept, so every problem — syntax, schema or
// rule — can be reported as file:line:column, and so edits keep comments and key order.
// Parsing never throws: a text past a shape limit (shape.ts) or one the parser cannot handle
// is a problem of this file, at its line.

export type YamlPath = readonly (string | number)[];
export { DEFAULT_YAML_LIMITS, type YamlLimits };

export interface YamlFile {
  file: string;
  /** The source text, exactly as read or written. */
  text: string;
  doc: Document;
  lineCounter: LineCounter;
  /** The plain JS value; undefined when the YAML did not parse. */
  data: unknown;
  /** Syntax errors (and warnings) of the YAML itself. */
  problems: Problem[];
}

export function parseYamlFile(file: string, text: string, limits: YamlLimits = DEFAULT_YAML_LIMITS): YamlFile {
  const lineCounter = new LineCounter();
  const problems: Problem[] = [];
  const at = (offset: number, message: string): Problem => {
    const pos = lineCounter.linePos(Math.min(offset, text.length));
    return { file, line: pos.line, column: pos.col, message: `YAML: ${message.split('\n')[0]}`, severity: 'error' };
  };
  let doc: Document;
  try {
    doc = composeLimited(text, lineCounter, limits);
  } catch (err) {
    problems.push(err instanceof YamlLimitError ? at(err.offset, err.message) : at(0, describe(err)));
    return { file, text, doc: new Document(null), lineCounter, data: undefined, problems };
  }
  for (const [severity, list] of [
    ['error', doc.errors],
    ['warning', doc.warnings],
  ] as const) {
    for (const e of list) problems.push({ ...at(e.pos[0], e.message), severity });
  }
  let data: unknown;
  if (!doc.errors.length) {
    try {
      checkAliases(doc as Document.Parsed, limits);
      // Aliases were just bounded (checkAliases); the parser's own count would refuse less clearly.
      data = doc.toJS({ maxAliasCount: -1 });
    } catch (err) {
      problems.push(err instanceof YamlLimitError ? at(err.offset, err.message) : at(0, describe(err)));
    }
  }
  return { file, text, doc, lineCounter, data, problems };
}

function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return err instanceof RangeError ? `the file is too deeply nested to parse (${message})` : message;
}

/**
 * Where `path` is in the file: the key of its last segment when it exists (so "unknown key"
 * and "bad value" point at the line a reader looks for), otherwise the closest ancestor.
 */
export function positionOf(yaml: YamlFile, path: YamlPath): { line: number; column: number } {
  let node: unknown = yaml.doc.contents;
  let offset = (node as Node | null)?.range?.[0] ?? 0;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === segment);
      if (!pair) break;
      offset = (pair.key as Node | null)?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  const pos = yaml.lineCounter.linePos(offset);
  return { line: pos.line, column: pos.col };
}

export function problemAt(
  yaml: YamlFile,
  path: YamlPath,
  message: string,
  severity: Problem['severity'] = 'error',
): Problem {
  return { file: yaml.file, ...positionOf(yaml, path), message, severity };
}

/** "environments.staging.version", "expressions[3]" — how a YAML path reads in a message. */
export function describePath(path: YamlPath): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}
