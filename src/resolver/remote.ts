import type { Logger } from 'pino';
import type { GitMirror } from '../git/mirror.js';
import type { ReadyzProblem } from './routes/health.js';
import { CoalescedRun } from './coalesced-run.js';

// `botver serve --remote URL`: keeps the local mirror of the remote up to date. It fetches on
// start, every interval (with jitter, so replicas started together do not fetch in step), and at
// once when a push webhook arrives; webhooks arriving while a fetch runs make one more fetch
// after it, not one each. A failing fetch changes nothing that is served: the last snapshot stays,
// the fetch is retried with backoff (1 s, doubling, up to the interval), and the failure shows on
// /readyz (a warning while a snapshot is served) and in the botver_fetch_* metrics.

export interface FetchStatus {
  /** When the last fetch succeeded (ms since the epoch), or null. */
  lastSuccess: number | null;
  /** The last fetch's error, or null when it succeeded. */
  lastError: string | null;
  /** Fetches that failed in a row. */
  failuresInARow: number;
  /** Counts since start. */
  fetches: { ok: number; failed: number };
  /** Durations of the fetches since the last read (for the histogram). */
  durations: number[];
}

export interface RemoteFollowerOptions {
  mirror: GitMirror;
  /** The URL, as shown to admins (never credentials: the mirror refuses URLs with them). */
  url: string;
  intervalMs: number;
  logger: Logger;
  /** Called after a fetch that moved a ref: the snapshot is rebuilt from the mirror. */
  onChange: () => Promise<void>;
  /** Called when a push webhook arrives: tell the other replicas, which fetch at the same time (Redis pub/sub). */
  onWebhook?: () => void;
}

const FIRST_RETRY_MS = 1_000;

export class RemoteFollower {
  readonly status: FetchStatus = {
    lastSuccess: null,
    lastError: null,
    failuresInARow: 0,
    fetches: { ok: 0, failed: 0 },
    durations: [],
  };
  private readonly fetches = new CoalescedRun(
    () => this.fetchOnce(),
    () => this.stopped,
    () => this.scheduleNext(),
  );
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly options: RemoteFollowerOptions) {}

  /** Fetches once (whatever the outcome), then keeps following. */
  async start(): Promise<void> {
    await this.fetchNow();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /**
   * The remote changed: fetch now, or once more after the fetch under way. `webhook`: the Git
   * host said so, and the other replicas are told at once, so that they all fetch together
   * rather than one after another; `peer`: another replica was told (nothing is passed on).
   */
  trigger(source: 'webhook' | 'peer' = 'webhook'): void {
    if (this.stopped) return;
    if (source === 'webhook') this.options.onWebhook?.();
    void this.fetchNow();
  }

  /** Resolves when no fetch is running or pending (for tests and shutdown). */
  idle(): Promise<void> {
    return this.fetches.idle();
  }

  /** A fetch now, or once more after the one under way; the next is scheduled after them. */
  private fetchNow(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    return this.fetches.run();
  }

  private async fetchOnce(): Promise<void> {
    const { mirror, logger, url } = this.options;
    const started = performance.now();
    // The duration observed is the fetch's own (git fetch and the refs read around it), not the snapshot read after it.
    let fetchMs: number | null = null;
    try {
      const { changed, ms } = await mirror.fetch();
      fetchMs = ms;
      const recovered = this.status.failuresInARow > 0;
      this.status.lastSuccess = Date.now();
      this.status.lastError = null;
      this.status.failuresInARow = 0;
      this.status.fetches.ok++;
      if (recovered) logger.info({ remote: url }, 'fetching from the remote works again');
      if (changed) {
        logger.debug({ remote: url }, 'fetched new commits');
        await this.options.onChange();
      }
    } catch (err) {
      const message = (err as Error).message;
      this.status.failuresInARow++;
      this.status.fetches.failed++;
      // Logged when it starts failing and when the reason changes, not on every retry.
      if (message !== this.status.lastError)
        logger.warn(
          { remote: url, error: message },
          'cannot fetch from the remote; the current snapshot stays in service',
        );
      this.status.lastError = message;
    } finally {
      this.status.durations.push((fetchMs ?? performance.now() - started) / 1000);
      if (this.status.durations.length > 1000) this.status.durations.shift();
    }
  }

  private scheduleNext(): void {
    if (this.stopped) return;
    const { intervalMs } = this.options;
    const failures = this.status.failuresInARow;
    const base = failures > 0 ? Math.min(intervalMs, FIRST_RETRY_MS * 2 ** (failures - 1)) : intervalMs;
    // ±20 %: replicas drift apart instead of fetching together.
    const delay = base * (0.8 + 0.4 * Math.random());
    this.timer = setTimeout(() => void this.fetchNow(), delay);
    this.timer.unref();
  }
}

/** The last fetch's failure as a /readyz problem (its message for admins; the URL, never credentials), or null. */
export function fetchProblem(follower: RemoteFollower, url: string): ReadyzProblem | null {
  const { lastError, lastSuccess, failuresInARow } = follower.status;
  if (!lastError) return null;
  const since = lastSuccess ? `; last fetched ${new Date(lastSuccess).toISOString()}` : '; nothing fetched yet';
  return {
    scope: 'fetch',
    name: url,
    commit: null,
    serving: null,
    errors: [
      {
        file: url,
        line: 1,
        column: 1,
        message: `cannot fetch from the remote (${failuresInARow} attempt${failuresInARow === 1 ? '' : 's'} in a row): ${lastError}${since}`,
        severity: lastSuccess ? 'warning' : 'error',
      },
    ],
  };
}
