import { isMap, isScalar, isSeq, parseDocument, stringify, type Node } from 'yaml';
import type { YamlPath } from './file.js';

// Edits YAML text in place, touching only the lines of the value that changes, so hand-written
// formatting, comments and spacing elsewhere survive byte for byte. The yaml library's own
// Document#toString re-renders the whole file (it normalises spacing and flow maps), which
// would turn a one-line promotion into a noisy pull request. Returns null for the shapes this
// does not handle (flow collections, emptying a collection): callers then fall back to a
// whole-document render.

const render = { lineWidth: 0 } as const;

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

function lineEnd(text: string, offset: number): number {
  if (offset > 0 && text[offset - 1] === '\n') return offset;
  const nl = text.indexOf('\n', offset);
  return nl === -1 ? text.length : nl + 1;
}

function column(text: string, offset: number): number {
  return offset - lineStart(text, offset);
}

function indentLines(block: string, indent: number): string {
  const pad = ' '.repeat(indent);
  const body = block.endsWith('\n') ? block : `${block}\n`;
  return body
    .split('\n')
    .map((line, i, all) => (i === all.length - 1 || line === '' ? line : pad + line))
    .join('\n');
}

function isPlain(value: unknown): boolean {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

function splice(text: string, start: number, end: number, insert: string): string {
  return text.slice(0, start) + insert + text.slice(end);
}

/**
 * Sets `path` to `value` (undefined removes it) in `text`; null when it cannot edit in place.
 * A new key is added after the key `after` when given, else at the end of its map.
 */
export function editYamlText(text: string, path: YamlPath, value: unknown, after?: string): string | null {
  if (path.length === 0) return null;
  const doc = parseDocument(text);
  if (doc.errors.length) return null;
  const parentPath = path.slice(0, -1);
  const key = path[path.length - 1]!;
  const parent = parentPath.length ? doc.getIn(parentPath, true) : doc.contents;

  if (isMap(parent)) {
    const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
    const keyNode = pair?.key as Node | undefined;
    const valueNode = pair?.value as Node | null | undefined;
    if (pair && keyNode?.range) {
      if (value !== undefined && isPlain(value) && isScalar(valueNode) && valueNode.range) {
        return splice(text, valueNode.range[0], valueNode.range[1], stringify(value, render).trimEnd());
      }
      // Whole-line edits below only make sense in block style.
      if (parent.flow) return null;
      const start = lineStart(text, keyNode.range[0]);
      const end = lineEnd(text, (valueNode?.range ?? keyNode.range)[2]);
      if (value === undefined) {
        if (parent.items.length === 1) return null;
        return splice(text, start, end, '');
      }
      const indent = column(text, keyNode.range[0]);
      return splice(text, start, end, indentLines(stringify({ [key]: value }, render), indent));
    }
    if (value === undefined) return text;
    if (parent.flow) return null;
    // A new key goes after its sibling `after` when there is one (commit: after version:).
    const last =
      parent.items.find((p) => after !== undefined && (isScalar(p.key) ? p.key.value : p.key) === after) ??
      parent.items[parent.items.length - 1];
    const lastKey = last?.key as Node | undefined;
    const firstKey = parent.items[0]?.key as Node | undefined;
    if (!last || !lastKey?.range || !firstKey?.range) return null;
    const at = lineEnd(text, ((last.value as Node | null)?.range ?? lastKey.range)[2]);
    const prefix = at > 0 && text[at - 1] !== '\n' ? '\n' : '';
    return splice(
      text,
      at,
      at,
      prefix + indentLines(stringify({ [key]: value }, render), column(text, firstKey.range[0])),
    );
  }

  if (isSeq(parent) && typeof key === 'number') {
    if (parent.flow || !parent.range) return null;
    const items = parent.items as Node[];
    const indent = column(text, parent.range[0]);
    if (value === undefined) {
      const item = items[key];
      if (!item?.range) return text;
      if (items.length === 1) return null;
      return splice(text, lineStart(text, item.range[0]), lineEnd(text, item.range[2]), '');
    }
    if (key === items.length) {
      const last = items[items.length - 1];
      if (!last?.range) return null;
      const at = lineEnd(text, last.range[2]);
      return splice(text, at, at, indentLines(stringify([value], render), indent));
    }
    const item = items[key];
    if (!item?.range) return null;
    if (isPlain(value) && isScalar(item))
      return splice(text, item.range[0], item.range[1], stringify(value, render).trimEnd());
    return splice(
      text,
      lineStart(text, item.range[0]),
      lineEnd(text, item.range[2]),
      indentLines(stringify([value], render), indent),
    );
  }
  return null;
}
