import { LRUCache } from 'lru-cache';
import type { DialogState } from './engine.js';

// Where conversations live between messages. The default keeps them in memory, bounded in
// count AND in bytes, and forgets one after `idleMs` without a message; a shared store (Redis,
// a database) can implement the same three methods for several resolvers behind a load balancer.
//
// The memory store keeps each conversation as its JSON in UTF-8 bytes (a Buffer), not as objects:
// parsed objects cost many times their JSON (`[[],[],…]` is ~3 bytes of JSON per array and ~30
// bytes of heap), so the byte budget is what the process really holds, whatever clients send.
// Buffers live outside the JS heap: hundreds of MB of conversations are never walked, copied or
// compacted by the garbage collector, whose pauses stay those of a small heap (isolation bench, c).

export interface Conversation extends DialogState {
  id: string;
  language: string;
  /** The version and commit the conversation started on: it keeps them until it ends. */
  version: string;
  commit: string;
  updatedAt: number;
}

export interface ConversationStore {
  get(key: string): Promise<Conversation | undefined>;
  set(key: string, conversation: Conversation): Promise<void>;
  delete(key: string): Promise<boolean>;
  /**
   * A store shared by several processes runs a message's work holding a lock on its conversation,
   * so that its messages are answered one at a time across all of them (within one process they
   * already are). `work` reads and writes the conversation through the store it is given (the
   * lock's own: it may answer the first read from what it fetched with the lock, and write the
   * state and release the lock together). Without it, the process's own ordering is all there is.
   */
  withLock?<T>(key: string, work: (locked: ConversationStore) => Promise<T>): Promise<T>;
}

export const DEFAULT_CONVERSATIONS = 100_000;
export const DEFAULT_IDLE_MS = 30 * 60_000;
/** Bytes of conversations held in memory by default (docs/operations.md: the resolver's memory bound). */
export const DEFAULT_CONVERSATION_BYTES = 256 * 1024 * 1024;
/** What one entry costs besides its text: the cache's node, the entry object, the key's header. */
const ENTRY_OVERHEAD_BYTES = 200;

/** What the memory store holds now (the resolver's /metrics reads it). */
export interface ConversationStoreStats {
  conversations: number;
  /** Bytes held: the stored JSON (UTF-8) and keys, plus a fixed cost per entry. */
  bytes: number;
  maxBytes: number;
  /** Conversations dropped to stay within the budget or the count (not idle ones, not deleted ones). */
  evictions: number;
}

interface Entry {
  json: Buffer;
  updatedAt: number;
}

export class MemoryConversationStore implements ConversationStore {
  /** Least recently saved first: a read does not make a conversation recent, a message does. */
  private readonly cache: LRUCache<string, Entry>;
  private evicted = 0;

  constructor(
    readonly capacity = DEFAULT_CONVERSATIONS,
    readonly idleMs = DEFAULT_IDLE_MS,
    readonly maxBytes = DEFAULT_CONVERSATION_BYTES,
  ) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1)
      throw new RangeError(`the conversation store's byte budget must be a positive integer, got ${maxBytes}`);
    this.cache = new LRUCache<string, Entry>({
      max: capacity,
      maxSize: maxBytes,
      // A key is at most a few hundred characters (its id is bounded): its heap cost counted at two bytes each.
      sizeCalculation: (entry, key) => entry.json.length + 2 * key.length + ENTRY_OVERHEAD_BYTES,
      dispose: (_entry, _key, reason) => {
        if (reason === 'evict') this.evicted++;
      },
    });
  }

  async get(key: string): Promise<Conversation | undefined> {
    const entry = this.cache.peek(key);
    if (!entry) return undefined;
    if (Date.now() - entry.updatedAt > this.idleMs) {
      this.cache.delete(key);
      return undefined;
    }
    // JSON.parse is iterative: no stored text can overflow the stack here.
    return JSON.parse(entry.json.toString('utf8')) as Conversation;
  }

  /**
   * Saves a conversation (as JSON: later changes to the object are not seen). One larger than the
   * whole budget is not kept, and the key's older state is dropped with it (lru-cache's rule); the
   * resolver bounds a conversation (64 KB of memory) far below any sensible budget.
   */
  async set(key: string, conversation: Conversation): Promise<void> {
    this.cache.set(key, { json: Buffer.from(JSON.stringify(conversation), 'utf8'), updatedAt: conversation.updatedAt });
    // Idle ones are the least recently saved: drop them as new ones come, not only when read again.
    const now = Date.now();
    const idle: string[] = [];
    for (const oldest of this.cache.rkeys()) {
      if (now - this.cache.peek(oldest)!.updatedAt <= this.idleMs) break;
      idle.push(oldest);
    }
    for (const oldest of idle) this.cache.delete(oldest);
  }

  async delete(key: string): Promise<boolean> {
    return this.cache.delete(key);
  }

  stats(): ConversationStoreStats {
    return {
      conversations: this.cache.size,
      bytes: this.cache.calculatedSize,
      maxBytes: this.maxBytes,
      evictions: this.evicted,
    };
  }
}
