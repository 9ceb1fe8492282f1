import {
  Composer,
  CST,
  type Document,
  isAlias,
  isCollection,
  isPair,
  isScalar,
  Lexer,
  type LineCounter,
  type Node,
  Parser,
} from 'yaml';

// The shape limits of one YAML file, enforced while it is parsed: nesting is measured on the
// lexer's tokens, before the composer (which recurses once per level, and on a few thousand
// levels of "[" exhausts the process) sees them; aliases are measured on the composed document,
// before its value is built, because each alias of a list holding aliases multiplies what every
// consumer (schema check, JSON answer, training) walks — the "billion laughs" attack.
// The numbers come from src/content/limits.ts; the defaults below are only for callers (tools,
// tests) that parse without a manifest.

export interface YamlLimits {
  /** Alias references after expansion. */
  maxAliases: number;
  /** Nesting of collections, aliases expanded. */
  maxDepth: number;
  /** Characters of scalars after expansion of aliases. */
  maxExpandedChars: number;
}

export const DEFAULT_YAML_LIMITS: Readonly<YamlLimits> = Object.freeze({
  maxAliases: 100,
  maxDepth: 64,
  maxExpandedChars: 1024 * 1024,
});

/** A limit the text breaks, at `offset` of it. */
export class YamlLimitError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

const NODE_START = new Set([
  'scalar',
  'single-quoted-scalar',
  'double-quoted-scalar',
  'block-scalar-header',
  'seq-item-ind',
  'explicit-key-ind',
  'flow-seq-start',
  'flow-map-start',
  'anchor',
  'tag',
  'alias',
]);

/**
 * The lexer's tokens, passed on to the parser, stopping with a YamlLimitError where the nesting
 * goes past `maxDepth`. Block nesting is counted as Python counts indentation (a stack of the
 * columns where nodes start on the lines so far), flow nesting by its brackets: a level or two
 * more than the collections strictly nest, never fewer.
 */
function* limitedTokens(text: string, parser: Parser, maxDepth: number): Generator<CST.Token> {
  let offset = 0;
  let lineStart = 0;
  let flow = 0;
  const columns: number[] = [];
  let scalarText = false;
  for (const lexeme of new Lexer().lex(text)) {
    if (scalarText) {
      scalarText = false;
    } else {
      const type = CST.tokenType(lexeme);
      if (type && NODE_START.has(type) && flow === 0) {
        const column = offset - lineStart;
        while (columns.length && columns[columns.length - 1]! > column) columns.pop();
        if (!columns.length || columns[columns.length - 1]! < column) columns.push(column);
      }
      if (type === 'flow-seq-start' || type === 'flow-map-start') flow++;
      else if ((type === 'flow-seq-end' || type === 'flow-map-end') && flow > 0) flow--;
      else if (type === 'newline') lineStart = offset + lexeme.length;
      if (columns.length + flow > maxDepth)
        throw new YamlLimitError(offset, `YAML nested more than ${maxDepth} levels deep`);
      if (type === 'scalar') scalarText = true;
      // Markers the lexer adds without source text.
      if (type === 'scalar' || type === 'doc-mode' || type === 'flow-error-end') {
        yield* parser.next(lexeme);
        continue;
      }
    }
    yield* parser.next(lexeme);
    offset += lexeme.length;
  }
  yield* parser.end();
}

/** parseDocument's own pipeline (lexer, parser, composer), with the nesting limit in between. */
export function composeLimited(text: string, lineCounter: LineCounter, limits: YamlLimits): Document.Parsed {
  const parser = new Parser(lineCounter.addNewLine);
  lineCounter.addNewLine(0); // what Parser.parse does first; we feed its next() ourselves
  const composer = new Composer({ uniqueKeys: true, keepSourceTokens: false });
  let doc: Document.Parsed | null = null;
  for (const next of composer.compose(limitedTokens(text, parser, limits.maxDepth), true, text.length)) {
    if (!doc) doc = next;
    else {
      // As parseDocument says it: one document per file.
      throw new YamlLimitError(next.range[0], 'Source contains multiple documents; a file holds one YAML document');
    }
  }
  return doc!;
}

interface Weight {
  aliases: number;
  depth: number;
  chars: number;
}

/**
 * Checks what the document's aliases expand to, in document order: the first alias at which
 * the expanded alias count, depth or size goes past its limit is reported. Each node is
 * weighed once (memoized), so a bomb costs as little to measure as it is long to write.
 */
export function checkAliases(doc: Document.Parsed, limits: YamlLimits): void {
  const memo = new Map<Node, Weight>();
  const inProgress = new Set<Node>();
  const weigh = (node: unknown): Weight => {
    if (isScalar(node)) {
      const range = node.range;
      return { aliases: 0, depth: 0, chars: range ? range[1] - range[0] : String(node.value).length };
    }
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (!target) return { aliases: 1, depth: 0, chars: 0 };
      if (inProgress.has(target))
        throw new YamlLimitError(node.range?.[0] ?? 0, `alias *${node.source} refers to a node that contains it`);
      const w = weigh(target);
      return { aliases: 1 + w.aliases, depth: w.depth, chars: w.chars };
    }
    if (isPair(node)) {
      const k = weigh(node.key);
      const v = weigh(node.value);
      return { aliases: k.aliases + v.aliases, depth: Math.max(k.depth, v.depth), chars: k.chars + v.chars };
    }
    if (!isCollection(node)) return { aliases: 0, depth: 0, chars: 0 };
    const known = memo.get(node);
    if (known) return known;
    inProgress.add(node);
    const total: Weight = { aliases: 0, depth: 0, chars: 0 };
    for (const item of node.items) {
      const w = weigh(item);
      total.aliases += w.aliases;
      total.depth = Math.max(total.depth, w.depth);
      total.chars += w.chars;
    }
    total.depth += 1;
    inProgress.delete(node);
    memo.set(node, total);
    return total;
  };

  // Walk the document as written, adding up what each alias met on the way expands to.
  const running: Weight = { aliases: 0, depth: 0, chars: 0 };
  const walk = (node: unknown, depth: number): void => {
    if (isPair(node)) {
      walk(node.key, depth);
      walk(node.value, depth);
    } else if (isCollection(node)) {
      for (const item of node.items) walk(item, depth + 1);
    } else if (isScalar(node)) {
      running.chars += weigh(node).chars;
    } else if (isAlias(node)) {
      const w = weigh(node);
      running.aliases += w.aliases;
      running.chars += w.chars;
      const at = node.range?.[0] ?? 0;
      if (running.aliases > limits.maxAliases)
        throw new YamlLimitError(
          at,
          `more than ${limits.maxAliases} YAML aliases (counted as expanded: *${node.source} alone stands for ${w.aliases})`,
        );
      if (depth + w.depth > limits.maxDepth)
        throw new YamlLimitError(at, `alias *${node.source} nests the file more than ${limits.maxDepth} levels deep`);
      if (running.chars > limits.maxExpandedChars)
        throw new YamlLimitError(
          at,
          `aliases expand this file past ${limits.maxExpandedChars} characters (*${node.source} alone stands for ${w.chars})`,
        );
    }
  };
  walk(doc.contents, 0);
}
