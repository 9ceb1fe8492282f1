import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Conversation, ConversationStore } from '../dialog/store.js';
import { HttpError } from './http-errors.js';

// Conversations in Redis (or Valkey), shared by every replica behind a load balancer: any replica
// continues any conversation, with the version and commit it started on. Each conversation is
// one key holding its JSON, expiring after the idle time (a Redis TTL, renewed by each message).
// Messages of one conversation are answered one at a time across the fleet: a lock with a lease
// (SET NX PX, released only by its holder: the pattern of Rasa's ConcurrentRedisLockStore and of
// Redis's own documentation), taken before the state is read and released after it is stored.
// Redis unreachable: the dialog answers 503 STATE_UNAVAILABLE (nothing else needs Redis); the
// client reconnects by itself and conversations resume where Redis kept them.

export interface RedisStoreOptions {
  /** Keys are `<prefix>conv:<key>` and `<prefix>lock:<key>`. */
  prefix: string;
  /** A conversation is forgotten after this long without a message. */
  idleMs: number;
  /** How long one message may hold its conversation's lock before another replica may take it. */
  leaseMs: number;
  /** How long a message waits for its conversation's lock before it is refused. */
  lockWaitMs: number;
}

// Deletes the lock only if it still holds our token: a lease that expired and was taken by
// another replica is not released by us.
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export class RedisConversationStore implements ConversationStore {
  constructor(
    private readonly redis: Redis,
    private readonly options: RedisStoreOptions,
  ) {}

  async get(key: string): Promise<Conversation | undefined> {
    const json = await this.call(() => this.redis.get(this.key('conv', key)));
    return json === null ? undefined : (JSON.parse(json) as Conversation);
  }

  async set(key: string, conversation: Conversation): Promise<void> {
    await this.call(() =>
      this.redis.set(this.key('conv', key), JSON.stringify(conversation), 'PX', this.options.idleMs),
    );
  }

  async delete(key: string): Promise<boolean> {
    return (await this.call(() => this.redis.del(this.key('conv', key)))) > 0;
  }

  /**
   * Runs `work` holding the fleet-wide lock of conversation `key`. Waits for it up to
   * lockWaitMs (polling with a short backoff), then refuses with 503 CONVERSATION_BUSY.
   */
  async withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    const lock = this.key('lock', key);
    const token = randomBytes(16).toString('hex');
    const giveUpAt = Date.now() + this.options.lockWaitMs;
    for (let wait = 5; ; wait = Math.min(100, wait * 2)) {
      const taken = await this.call(() => this.redis.set(lock, token, 'PX', this.options.leaseMs, 'NX'));
      if (taken === 'OK') break;
      if (Date.now() + wait > giveUpAt)
        throw new HttpError(
          'CONVERSATION_BUSY',
          `another message of this conversation has been answered for over ${this.options.lockWaitMs} ms; try again`,
          { 'Retry-After': '1' },
        );
      await new Promise((r) => setTimeout(r, wait));
    }
    try {
      return await work();
    } finally {
      await this.redis.eval(RELEASE, 1, lock, token).catch(() => undefined); // expires by itself otherwise
    }
  }

  private key(kind: 'conv' | 'lock', key: string): string {
    return `${this.options.prefix}${kind}:${key}`;
  }

  /** A Redis command; any failure of Redis itself is 503 STATE_UNAVAILABLE, never a 500. */
  private async call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (err) {
      throw new HttpError(
        'STATE_UNAVAILABLE',
        `the conversation store (Redis) is unavailable: ${(err as Error).message}; try again shortly`,
        { 'Retry-After': '2' },
      );
    }
  }
}
