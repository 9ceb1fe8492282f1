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
// Two round trips a message: taking the lock and reading the state go in one pipeline; the new
// state is written and the lock released by one script before the message is answered, and only
// while the lock is still ours (a message that outlived its lease does not overwrite the next
// one's state: it is answered 503 CONVERSATION_BUSY instead).
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

// KEYS: lock, conversation. ARGV: token, what to do with the conversation (set, del, keep), its
// JSON, its TTL in ms. Nothing happens unless the lock still holds our token.
const COMMIT = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'set' then redis.call('set', KEYS[2], ARGV[3], 'PX', ARGV[4])
elseif ARGV[2] == 'del' then redis.call('del', KEYS[2]) end
redis.call('del', KEYS[1])
return 1`;

// KEYS: lock. ARGV: token, lease in ms. The lease is renewed only while the lock holds our token.
const RENEW = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('pexpire', KEYS[1], ARGV[2])`;

/** A lock held by one message, and what was read with it. */
interface Held {
  lock: string;
  conv: string;
  token: string;
  /** The state read with the lock (undefined once handed out: a second read asks Redis). */
  prefetched: string | null | undefined;
  /** The new state was written and the lock released with it. */
  committed: boolean;
}

export class RedisConversationStore implements ConversationStore {
  /** What this process's lock tokens start with, and how many it has taken. */
  private readonly owner = randomBytes(12).toString('hex');
  private locks = 0;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisStoreOptions,
  ) {
    // EVALSHA, falling back to EVAL once per connection: the script is not sent with each message.
    redis.defineCommand('botverCommit', { numberOfKeys: 2, lua: COMMIT });
    redis.defineCommand('botverRenew', { numberOfKeys: 1, lua: RENEW });
  }

  async get(key: string): Promise<Conversation | undefined> {
    const json = await this.call(() => this.redis.get(this.key('conv', key)));
    return json === null ? undefined : (JSON.parse(json) as Conversation);
  }

  async set(key: string, conversation: Conversation): Promise<void> {
    const json = JSON.stringify(conversation);
    await this.call(() => this.redis.set(this.key('conv', key), json, 'PX', this.options.idleMs));
  }

  async delete(key: string): Promise<boolean> {
    return (await this.call(() => this.redis.del(this.key('conv', key)))) > 0;
  }

  /**
   * The store a message holding `held` works with: the conversation's first read is what was
   * fetched with the lock, and its write (or deletion) releases the lock in the same round trip,
   * before the message is answered (a replica killed after answering has stored what it
   * answered). Other keys go to Redis as usual.
   */
  private lockedView(key: string, held: Held): ConversationStore {
    return {
      get: async (k) => {
        if (k !== key || held.prefetched === undefined) return this.get(k);
        const json = held.prefetched;
        held.prefetched = undefined;
        return json === null ? undefined : (JSON.parse(json) as Conversation);
      },
      set: async (k, conversation) =>
        k === key ? this.commit(held, 'set', JSON.stringify(conversation)) : this.set(k, conversation),
      delete: async (k) => {
        if (k !== key) return this.delete(k);
        await this.commit(held, 'del', '');
        return true;
      },
    };
  }

  /** Writes (or deletes) the state and releases the lock, only while the lock is still ours. */
  private async commit(held: Held, op: 'set' | 'del' | 'keep', json: string): Promise<void> {
    if (held.committed) throw new Error('a conversation was stored twice under one lock');
    held.committed = true;
    const done = await this.call(() => this.commitScript(held.lock, held.conv, held.token, op, json));
    if (done !== 1 && op !== 'keep')
      throw new HttpError(
        'CONVERSATION_BUSY',
        `this message took longer than its conversation's lock lease (${this.options.leaseMs} ms); its state was not stored, try again`,
        { 'Retry-After': '1' },
      );
  }

  /**
   * Runs `work` holding the fleet-wide lock of conversation `key`. Waits for it up to
   * lockWaitMs (polling with a short backoff), then refuses with 503 CONVERSATION_BUSY.
   */
  async withLock<T>(key: string, work: (locked: ConversationStore) => Promise<T>): Promise<T> {
    const lock = this.key('lock', key);
    const conv = this.key('conv', key);
    // Unique across the fleet (a random prefix per process), cheaper than random bytes per message.
    const token = `${this.owner}:${++this.locks}`;
    let held: Held | undefined;
    const giveUpAt = Date.now() + this.options.lockWaitMs;
    for (let wait = 5; ; wait = Math.min(100, wait * 2)) {
      // The lock and the state in one round trip (sent in the same tick, they are pipelined); the
      // state is used only if the lock was had.
      const [locked, read] = await Promise.allSettled([
        this.redis.set(lock, token, 'PX', this.options.leaseMs, 'NX'),
        this.redis.get(conv),
      ]);
      if (locked.status === 'rejected') throw this.unavailable(locked.reason as Error);
      const taken = locked.value;
      if (read.status === 'rejected') {
        // Not left locked for a whole lease by a read that failed.
        if (taken === 'OK') void this.release(lock, conv, token);
        throw this.unavailable(read.reason as Error);
      }
      const json = read.value;
      if (taken === 'OK') {
        held = { lock, conv, token, prefetched: json as string | null, committed: false };
        break;
      }
      if (Date.now() + wait > giveUpAt)
        throw new HttpError(
          'CONVERSATION_BUSY',
          `another message of this conversation has been answered for over ${this.options.lockWaitMs} ms; try again`,
          { 'Retry-After': '1' },
        );
      await new Promise((r) => setTimeout(r, wait));
    }
    const mine = held!;
    // A long message (a model still training) keeps its lease alive instead of losing the lock.
    const renew = setInterval(
      () => mine.committed || void this.scripts.botverRenew(lock, token, this.options.leaseMs).catch(() => undefined),
      this.options.leaseMs / 3,
    );
    try {
      return await work(this.lockedView(key, mine));
    } finally {
      clearInterval(renew);
      // Nothing stored (a refused message): just release. Redis away now: the lease ends by itself.
      if (!mine.committed) await this.commit(mine, 'keep', '').catch(() => undefined);
    }
  }

  /** Releases a lock taken with `token` (if it is still ours), storing nothing; never throws. */
  private async release(lock: string, conv: string, token: string): Promise<void> {
    await this.commitScript(lock, conv, token, 'keep', '').catch(() => undefined);
  }

  /** The COMMIT script (EVALSHA, see the constructor): 1 when done, 0 when the lock was not ours. */
  private commitScript(lock: string, conv: string, token: string, op: string, json: string): Promise<number> {
    return this.scripts.botverCommit(lock, conv, token, op, json, this.options.idleMs);
  }

  /** The client with the scripts defined in the constructor. */
  private get scripts() {
    return this.redis as Redis & {
      botverCommit(...args: (string | number)[]): Promise<number>;
      botverRenew(...args: (string | number)[]): Promise<number>;
    };
  }

  private key(kind: 'conv' | 'lock', key: string): string {
    return `${this.options.prefix}${kind}:${key}`;
  }

  /** A Redis command; any failure of Redis itself is 503 STATE_UNAVAILABLE, never a 500. */
  private async call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (err) {
      throw this.unavailable(err as Error);
    }
  }

  private unavailable(err: Error): HttpError {
    return new HttpError(
      'STATE_UNAVAILABLE',
      `the conversation store (Redis) is unavailable: ${err.message}; try again shortly`,
      { 'Retry-After': '2' },
    );
  }
}
