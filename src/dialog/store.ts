import { LRUCache } from 'lru-cache';
import type { DialogState } from './engine.js';

// Where conversations live between messages. The default keeps them in memory, bounded, and
// forgets one after `idleMs` without a message; a shared store (Redis, a database) can
// implement the same three methods for several resolvers behind a load balancer.

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

export class MemoryConversationStore implements ConversationStore {
  /** Least recently saved first: a read does not make a conversation recent, a message does. */
  private readonly cache: LRUCache<string, Conversation>;

  constructor(
    readonly capacity = 100_000,
    readonly idleMs = 30 * 60_000,
  ) {
    this.cache = new LRUCache({ max: capacity });
  }

  async get(key: string): Promise<Conversation | undefined> {
    const c = this.cache.peek(key);
    if (c && Date.now() - c.updatedAt > this.idleMs) {
      this.cache.delete(key);
      return undefined;
    }
    return c;
  }

  async set(key: string, conversation: Conversation): Promise<void> {
    this.cache.set(key, conversation);
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
}
