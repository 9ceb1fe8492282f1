import { AsyncLocalStorage } from 'node:async_hooks';
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

/** A lock this process holds, and what was read with it. */
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
  /** Conversations whose lock this process holds (one message at a time each, see withLock). */
  private readonly held = new Map<string, Held>();
  /** The conversation whose lock the running code holds: only its own reads and writes use it. */
  private readonly inLock = new AsyncLocalStorage<string>();

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisStoreOptions,
  ) {}

  /** The lock held for `key` by the code running now (not by another request of this process). */
  private mine(key: string): Held | undefined {
    return this.inLock.getStore() === key ? this.held.get(key) : undefined;
  }

  async get(key: string): Promise<Conversation | undefined> {
    const held = this.mine(key);
    let json: string | null;
    if (held && held.prefetched !== undefined) {
      json = held.prefetched;
      held.prefetched = undefined;
    } else json = await this.call(() => this.redis.get(this.key('conv', key)));
    return json === null ? undefined : (JSON.parse(json) as Conversation);
  }

  async set(key: string, conversation: Conversation): Promise<void> {
    const json = JSON.stringify(conversation);
    const held = this.mine(key);
    // Under the lock: the state is written and the lock released in one round trip, before the
    // message is answered (a replica killed after answering has stored what it answered).
    if (held) await this.commit(held, 'set', json);
    else await this.call(() => this.redis.set(this.key('conv', key), json, 'PX', this.options.idleMs));
  }

  async delete(key: string): Promise<boolean> {
    const held = this.mine(key);
    if (held) {
      await this.commit(held, 'del', '');
      return true;
    }
    return (await this.call(() => this.redis.del(this.key('conv', key)))) > 0;
  }

  /** Writes (or deletes) the state and releases the lock, only while the lock is still ours. */
  private async commit(held: Held, op: 'set' | 'del' | 'keep', json: string): Promise<void> {
    if (held.committed) throw new Error('a conversation was stored twice under one lock');
    held.committed = true;
    const done = await this.call(() =>
      this.redis.eval(COMMIT, 2, held.lock, held.conv, held.token, op, json, this.options.idleMs),
    );
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
  async withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    const lock = this.key('lock', key);
    const conv = this.key('conv', key);
    const token = randomBytes(16).toString('hex');
    const giveUpAt = Date.now() + this.options.lockWaitMs;
    for (let wait = 5; ; wait = Math.min(100, wait * 2)) {
      // The lock and the state in one round trip; the state is used only if the lock was had.
      const replies = await this.call(() =>
        this.redis.pipeline().set(lock, token, 'PX', this.options.leaseMs, 'NX').get(conv).exec(),
      );
      const [[lockError, taken] = [], [readError, json] = []] = replies ?? [];
      if (lockError || readError) throw this.unavailable((lockError ?? readError) as Error);
      if (taken === 'OK') {
        this.held.set(key, { lock, conv, token, prefetched: json as string | null, committed: false });
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
    const held = this.held.get(key)!;
    // A long message (a model still training) keeps its lease alive instead of losing the lock.
    const renew = setInterval(
      () => held.committed || void this.redis.pexpire(lock, this.options.leaseMs).catch(() => undefined),
      this.options.leaseMs / 3,
    );
    try {
      return await this.inLock.run(key, work);
    } finally {
      clearInterval(renew);
      if (this.held.get(key) === held) this.held.delete(key);
      // Nothing stored (a refused message): just release. Redis away now: the lease ends by itself.
      if (!held.committed) await this.commit(held, 'keep', '').catch(() => undefined);
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
