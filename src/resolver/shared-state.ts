import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { DEFAULT_IDLE_MS } from '../dialog/store.js';
import { RedisConversationStore } from './redis-store.js';
import { FleetLog } from './monitoring/fleet-log.js';
import type { ReadyzProblem } from './routes/health.js';

// What the replicas of one bot share through Redis (or Valkey), with `--redis URL`: the
// conversations and their locks (redis-store.ts), and with --remote the news that a push was
// fetched (pub/sub), so that one webhook updates the whole fleet. Redis going away costs only
// what needs it: the dialog answers 503 STATE_UNAVAILABLE, /readyz lists a warning, and the
// clients reconnect by themselves; /v1/resolve, /v1/files and /v2/request never touch Redis.

/** How long one message may hold its conversation's lock (a replica killed mid-message frees it then). */
export const LOCK_LEASE_MS = 10_000;
/** How long a message waits for the lock of its conversation: longer than a lease, so that a replica killed mid-message delays the next one, never fails it. */
export const LOCK_WAIT_MS = 12_000;

/** How long a Redis command may take before it fails (the dialog answers 503 STATE_UNAVAILABLE). */
export const COMMAND_TIMEOUT_MS = 2_000;

export interface SharedState {
  conversations: RedisConversationStore;
  /** The request log feed and usage of every replica. */
  fleet: FleetLog;
  /** Tells the other replicas a push was fetched. */
  announce(): void;
  /** Runs `fn` when another replica announces a push. */
  onAnnounce(fn: () => void): void;
  /** Redis unreachable, as a /readyz warning; null while connected. */
  problem(): ReadyzProblem | null;
  close(): Promise<void>;
}

export async function connectShared(
  url: string,
  prefix: string,
  logger: Logger,
  replicaName: string,
): Promise<SharedState> {
  const replica = randomBytes(8).toString('hex');
  const channel = `${prefix}pushed`;
  // No offline queue: while Redis is away a command fails at once (503), it is not held.
  const options = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2_000),
  };
  // Auto-pipelining: the commands of all the messages in one tick go out in one write (one
  // system call, one read for Redis) instead of one each. A Redis that is connected but does not
  // answer (paused, partitioned) fails a command after COMMAND_TIMEOUT_MS: 503, not a hang.
  const redis = new Redis(url, { ...options, enableAutoPipelining: true, commandTimeout: COMMAND_TIMEOUT_MS });
  // The subscriber waits for Redis as long as it takes, and subscribes whenever it (re)connects.
  const subscriber = new Redis(url, { ...options, enableOfflineQueue: true, maxRetriesPerRequest: null });
  let lastError: string | null = null;
  const where = redactUrl(url);
  for (const client of [redis, subscriber]) {
    client.on('error', (err: Error) => {
      if (err.message === lastError) return;
      lastError = err.message;
      logger.warn(
        { redis: where, error: err.message },
        'Redis is unavailable: the dialog answers 503 until it is back',
      );
    });
    client.on('ready', () => {
      if (client === redis && lastError !== null) logger.info({ redis: where }, 'Redis is available again');
      if (client === redis) lastError = null;
    });
  }
  // A replica starts whether or not Redis is there: it keeps trying in the background.
  await Promise.all([redis.connect().catch(() => undefined), subscriber.connect().catch(() => undefined)]);
  const listeners: (() => void)[] = [];
  subscriber.on('message', (_channel: string, from: string) => {
    if (from !== replica) for (const fn of listeners) fn();
  });
  const subscribe = () => void subscriber.subscribe(channel).catch(() => undefined);
  subscriber.on('ready', subscribe);
  if (subscriber.status === 'ready') subscribe();

  const fleet = new FleetLog(redis, prefix, replicaName);
  return {
    conversations: new RedisConversationStore(redis, {
      prefix,
      idleMs: DEFAULT_IDLE_MS,
      leaseMs: LOCK_LEASE_MS,
      lockWaitMs: LOCK_WAIT_MS,
    }),
    fleet,
    announce: () => void redis.publish(channel, replica).catch(() => undefined),
    onAnnounce: (fn) => void listeners.push(fn),
    problem: () =>
      redis.status === 'ready'
        ? null
        : {
            scope: 'redis',
            name: where,
            commit: null,
            serving: null,
            errors: [
              {
                file: where,
                line: 1,
                column: 1,
                message: `Redis is unavailable (${lastError ?? redis.status}): conversations cannot be read or stored, the dialog answers 503 STATE_UNAVAILABLE; everything else is served`,
                severity: 'warning',
              },
            ],
          },
    close: async () => {
      // The last entries of the feed (the server has answered its last request by now), and the
      // batches still being sent; bounded, as a Redis that does not answer must not hold the exit.
      if (redis.status === 'ready') {
        const deadline = new Promise((resolve) => setTimeout(resolve, COMMAND_TIMEOUT_MS).unref());
        await Promise.race([fleet.close(), deadline]);
      }
      redis.disconnect();
      subscriber.disconnect();
    },
  };
}

/** The URL without its password, for logs and /readyz. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.toString();
  } catch {
    return 'redis';
  }
}
