import { LRUCache } from 'lru-cache';
import type { DialogState } from './engine.js';

// Where conversations live between messages. The default keeps them in memory, bounded in
// count AND in bytes, and forgets one after `idleMs` without a message; a shared store (Redis,
// a database) can implement the same three methods for several resolvers behind a load balancer.
//
// The memory store keeps each conversation as its JSON text, not as objects: a string costs
// what its characters cost (one byte each, two when it holds a character beyond Latin-1),
// whereas parsed objects cost many times their JSON (`[[],[],…]` is ~3 bytes of JSON per array
// and ~30 bytes of heap). So the byte budget is what the heap really holds, whatever clients send.

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
  /** Bytes held: the stored JSON text and keys, plus a fixed cost per entry. */
  bytes: number;
  maxBytes: number;
  /** Conversations dropped to stay within the budget or the count (not idle ones, not deleted ones). */
  evictions: number;
}

interface Entry {
  json: string;
  updatedAt: number;
}

/** Heap bytes of a string: V8 stores it one byte a character, or two when any is beyond Latin-1. */
const stringBytes = (s: string): number => (/[^\x00-\xff]/.test(s) ? 2 * s.length : s.length);

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
      sizeCalculation: (entry, key) => stringBytes(entry.json) + stringBytes(key) + ENTRY_OVERHEAD_BYTES,
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
    return JSON.parse(entry.json) as Conversation;
  }

  /**
   * Saves a conversation (as JSON: later changes to the object are not seen). One larger than the
   * whole budget is not kept, and the key's older state is dropped with it (lru-cache's rule); the
   * resolver bounds a conversation (64 KB of memory) far below any sensible budget.
   */
  async set(key: string, conversation: Conversation): Promise<void> {
    this.cache.set(key, { json: JSON.stringify(conversation), updatedAt: conversation.updatedAt });
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
