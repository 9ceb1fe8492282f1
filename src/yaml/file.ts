import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { Problem } from '../errors.js';

// A YAML file parsed with its source positions kept, so every problem — syntax, schema or
// rule — can be reported as file:line:column, and so edits keep comments and key order.

export type YamlPath = readonly (string | number)[];

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

export function parseYamlFile(file: string, text: string): YamlFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, keepSourceTokens: false });
  const problems: Problem[] = [];
  for (const [severity, list] of [
    ['error', doc.errors],
    ['warning', doc.warnings],
  ] as const) {
    for (const e of list) {
      const pos = lineCounter.linePos(e.pos[0]);
      problems.push({ file, line: pos.line, column: pos.col, message: `YAML: ${e.message.split('\n')[0]}`, severity });
    }
  }
  const data = doc.errors.length ? undefined : doc.toJS({ maxAliasCount: 100 });
  return { file, text, doc, lineCounter, data, problems };
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
