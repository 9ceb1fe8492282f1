import { LRUCache } from 'lru-cache';
import type { Problem } from '../errors.js';
import type { SchemaKind } from '../validation/schemas.js';
import type { ContentFile } from './bundle.js';
import { limitsKey, type ContentLimits } from './limits.js';

// Content files parsed and checked against their schema, kept by what decides the result: the
// blob (its id is its content), the schema it is checked against, its path (problems name it,
// and the slug rule reads it) and the limits it was checked under. A commit that changes one
// file of a version then parses one file; the cross-file rules still run on the whole version.
// It lives where parsing happens (the content worker, load-worker.ts), bounded in bytes.

/** One file as loadBundle keeps it: the parsed file and its own problems (syntax, limits, schema). */
export interface ParsedFile {
  file: ContentFile<unknown>;
  problems: Problem[];
}

/**
 * Heap per byte of YAML text, measured on the benchmark bot's files: the document with its
 * positions ~4.7 ×, the plain value ~0.8 ×. Used to bound the cache by what it really holds.
 */
export const HEAP_PER_TEXT_BYTE = 6;
/** Default bound of the cache: about 10 MB of YAML, every version of a large bot several times over. */
export const DEFAULT_PARSED_CACHE_BYTES = 64 * 1024 * 1024;

export class ParsedFileCache {
  private readonly entries: LRUCache<string, ParsedFile>;
  /** Files answered from the cache / parsed, since the cache was made. */
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes = DEFAULT_PARSED_CACHE_BYTES) {
    this.entries = new LRUCache({
      maxSize: maxBytes,
      // A file larger than the whole budget is simply not kept.
      maxEntrySize: maxBytes,
      sizeCalculation: (p) => Math.max(1, (p.file.yaml.text.length + 64) * HEAP_PER_TEXT_BYTE),
    });
  }

  get size(): number {
    return this.entries.size;
  }

  /** Estimated bytes held. */
  get bytes(): number {
    return this.entries.calculatedSize;
  }

  /**
   * The file from the cache, or `parse()`d and kept. Entries are shared between the bundles of
   * every commit holding the file: callers copy the problems list and never change the file.
   * A parse that throws (an unreadable object) is not kept.
   */
  async get(
    kind: SchemaKind,
    path: string,
    oid: string,
    limits: ContentLimits,
    parse: () => Promise<ParsedFile>,
  ): Promise<ParsedFile> {
    const key = `${kind}\u0000${oid}\u0000${path}\u0000${limitsKey(limits)}`;
    const cached = this.entries.get(key);
    if (cached) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const parsed = await parse();
    this.entries.set(key, parsed);
    return parsed;
  }
}
