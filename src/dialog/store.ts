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
  private readonly map = new Map<string, Conversation>();

  constructor(
    readonly capacity = 100_000,
    readonly idleMs = 30 * 60_000,
  ) {}

  async get(key: string): Promise<Conversation | undefined> {
    const c = this.map.get(key);
    if (c && Date.now() - c.updatedAt > this.idleMs) {
      this.map.delete(key);
      return undefined;
    }
    return c;
  }

  async set(key: string, conversation: Conversation): Promise<void> {
    this.map.delete(key); // Map order = recency: the oldest go first
    this.map.set(key, conversation);
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
    // Idle ones are at the front: drop them as new ones come, not only when read again.
    const now = Date.now();
    for (const [oldest, c] of this.map) {
      if (now - c.updatedAt <= this.idleMs) break;
      this.map.delete(oldest);
    }
  }

  async delete(key: string): Promise<boolean> {
    return this.map.delete(key);
  }
}
