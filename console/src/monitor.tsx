import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { get, withQuery } from './api';
import { BarList, LineChart, type Series } from './charts';
import { useData } from './data';
import { clock, count, ms, percent, plural, short } from './format';
import { Page } from './page';
import type { LogAnswer, LogEntry, UsageAnswer, UsageDay } from './types';
import { Empty, ErrorText, Loading, TableBox } from './ui';

// Monitor: the live request feed (polled every 2 s, newest first) and per-day charts of usage,
// both narrowed by the same filters. Usage is re-read every 30 s, and soon after the feed shows
// new requests (at most every 5 s), so that the charts keep up with the feed.

const POLL_MS = 2000;
const USAGE_MS = 30_000;
const USAGE_AFTER_FEED_MS = 5000;
const KEEP = 500;

interface Filters {
  environment: string;
  version: string;
  intent: string;
  status: string;
  /** datetime-local text, in the operator's time zone. */
  since: string;
}

/** The log has no entry id: these fields together tell two entries apart. */
const keyOf = (e: LogEntry) =>
  `${e.time}|${e.method}|${e.route}|${e.status}|${e.latencyMs}|${e.environment}|${e.version}|${e.intent ?? ''}`;

/** The Intent filter's word for "answers with no intent" (the log's `intent: null`). */
const NO_INTENT = 'none';

const filtered = (f: Filters) => Boolean(f.environment || f.version || f.intent || f.status || f.since);

/** Said when a list is empty: whether anything could show without the filters. */
const emptyText = (f: Filters) => (filtered(f) ? 'No requests match these filters.' : 'No requests yet.');

function sinceIso(local: string): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export function MonitorPage() {
  const { environments, versions, bot, version: shown, setVersion } = useData();
  const [filters, setFilters] = useState<Filters>({
    environment: '',
    version: shown,
    intent: '',
    status: '',
    since: '',
  });
  // The header's version switcher and this filter are one choice.
  useEffect(() => setFilters((f) => (f.version === shown ? f : { ...f, version: shown })), [shown]);
  // Counts the feed's polls that brought new requests: the usage follows.
  const [arrivals, setArrivals] = useState(0);
  /** The intents the usage has seen, offered by the Intent filter. */
  const [intents, setIntents] = useState<string[]>([]);
  const set = (k: keyof Filters, v: string) => {
    if (k === 'version') setVersion(v);
    setFilters((f) => ({ ...f, [k]: v }));
  };

  return (
    <Page title="Monitor" bot={bot}>
      <form class="filters" aria-labelledby="filters-title" onSubmit={(e) => e.preventDefault()}>
        <h2 id="filters-title" class="visually-hidden">
          Filters
        </h2>
        <div class="field">
          <label for="f-env">Environment</label>
          <select id="f-env" value={filters.environment} onChange={(e) => set('environment', e.currentTarget.value)}>
            <option value="">Any environment</option>
            {environments?.map((e) => (
              <option key={e.name} value={e.name}>
                {e.name}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-version">Version</label>
          <select id="f-version" value={filters.version} onChange={(e) => set('version', e.currentTarget.value)}>
            <option value="">Any version</option>
            {versions?.map((v) => (
              <option key={v.name} value={v.name}>
                {v.name}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-intent">Intent</label>
          <input
            id="f-intent"
            list="f-intent-known"
            value={filters.intent}
            placeholder="any"
            aria-describedby="f-intent-help"
            onChange={(e) => set('intent', e.currentTarget.value.trim())}
          />
          <datalist id="f-intent-known">
            {intents.map((i) => (
              <option key={i} value={i} />
            ))}
            <option value={NO_INTENT}>answers with no intent</option>
          </datalist>
          <span id="f-intent-help" class="muted hint">
            “{NO_INTENT}”: answers with no intent
          </span>
        </div>
        <div class="field">
          <label for="f-status">Status</label>
          <select id="f-status" value={filters.status} onChange={(e) => set('status', e.currentTarget.value)}>
            <option value="">Any status</option>
            <option value="2xx">2xx (success)</option>
            <option value="4xx">4xx (refused)</option>
            <option value="5xx">5xx (failed)</option>
          </select>
        </div>
        <div class="field">
          <label for="f-since">Since</label>
          <input
            id="f-since"
            type="datetime-local"
            value={filters.since}
            onChange={(e) => set('since', e.currentTarget.value)}
          />
        </div>
      </form>
      <Feed filters={filters} onArrivals={() => setArrivals((n) => n + 1)} />
      <Usage filters={filters} arrivals={arrivals} onIntents={setIntents} />
    </Page>
  );
}

function Feed({ filters, onArrivals }: { filters: Filters; onArrivals: () => void }) {
  const [entries, setEntries] = useState<LogEntry[] | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [warning, setWarning] = useState<string | null>(null);
  const [paused, setPaused] = useState(false);
  const [updated, setUpdated] = useState<string | null>(null);
  const seen = useRef(new Set<string>());
  const newest = useRef<string | undefined>(undefined);
  /** The first answer of a feed is what the usage already counts; later ones are arrivals. */
  const polled = useRef(false);

  // New filters: a new feed.
  useEffect(() => {
    seen.current = new Set();
    newest.current = undefined;
    polled.current = false;
    setEntries(null);
  }, [filters]);

  useEffect(() => {
    if (paused) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      // A hidden tab does not poll; it catches up (since = newest seen) when shown again.
      if (document.hidden) {
        timer = setTimeout(poll, POLL_MS);
        return;
      }
      try {
        // `since` is inclusive: the newest entries come again and are dropped as seen.
        // The server matches `intent` exactly: "none" (no intent) is filtered here instead.
        const noIntent = filters.intent === NO_INTENT;
        const answer = await get<LogAnswer>(
          withQuery('/v1/logs', {
            environment: filters.environment,
            version: filters.version,
            intent: noIntent ? undefined : filters.intent,
            status: filters.status,
            since: newest.current ?? sinceIso(filters.since),
            limit: newest.current ? 1000 : 100,
          }),
        );
        if (!live) return;
        const unseen = (answer.entries ?? []).filter((e) => {
          const k = keyOf(e);
          if (seen.current.has(k)) return false;
          seen.current.add(k);
          return true;
        });
        for (const e of unseen) if (!newest.current || e.time > newest.current) newest.current = e.time;
        const fresh = noIntent ? unseen.filter((e) => e.intent === null) : unseen;
        if (fresh.length && polled.current) onArrivals();
        polled.current = true;
        setEntries((old) => {
          const all = [...fresh, ...(old ?? [])].sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
          return all.slice(0, KEEP);
        });
        setWarning(answer.warning ?? null);
        setError(null);
        setUpdated(new Date().toISOString());
      } catch (e) {
        if (live) setError(e as Error);
      }
      if (live) timer = setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [filters, paused]);

  return (
    <section aria-labelledby="feed-title">
      <div class="section-head">
        <h2 id="feed-title">Live requests</h2>
        <button type="button" class="secondary" aria-pressed={paused} onClick={() => setPaused((p) => !p)}>
          {paused ? 'Resume feed' : 'Pause feed'}
        </button>
        <span class="muted">
          {paused ? 'Paused.' : 'Updated every 2 seconds.'}
          {updated && ` Last update ${clock(updated)}.`}
        </span>
      </div>
      {warning && <p class="notice warn">{warning}</p>}
      <ErrorText error={error} />
      {!entries && !error && <Loading what="requests" />}
      {entries?.length === 0 && <Empty>{emptyText(filters)}</Empty>}
      {entries && entries.length > 0 && (
        <TableBox label="Request feed">
          <table class="feed">
            <caption class="visually-hidden">Requests, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Environment</th>
                <th scope="col">Version</th>
                <th scope="col">Commit</th>
                <th scope="col">Route</th>
                <th scope="col">Status</th>
                <th scope="col">Latency</th>
                <th scope="col">Intent</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={keyOf(e)}>
                  <td class="c-time">
                    <time dateTime={e.time}>{clock(e.time)}</time>
                  </td>
                  <td class="c-env">{e.environment ?? '—'}</td>
                  <td class="c-version">{e.version ?? '—'}</td>
                  <td class="c-commit">
                    <code>{short(e.commit)}</code>
                  </td>
                  <td class="c-route">
                    {e.method} {e.route}
                  </td>
                  <td class={`c-status${e.status >= 500 ? ' bad' : e.status >= 400 ? ' warn-text' : ''}`}>
                    {e.status}
                  </td>
                  <td class="c-latency num">{ms(e.latencyMs)}</td>
                  <td class="c-intent">
                    {e.intent ?? (e.intent === null ? <span class="muted">none</span> : '')}
                    {e.confidence != null && <span class="muted"> {percent(e.confidence)}</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableBox>
      )}
    </section>
  );
}

const statusMatches = (code: string, filter: string) => !filter || code === filter || code[0] === filter[0];

/** A day's requests as the filters count them (usage has no intent-by-status breakdown). */
function requestsOf(d: UsageDay, f: Filters): number {
  // Answers with no intent are the NLU's fallbacks (byIntent counts only detected intents).
  if (f.intent === NO_INTENT) return d.fallbacks ?? 0;
  if (f.intent) return d.byIntent?.[f.intent] ?? 0;
  if (f.status)
    return Object.entries(d.byStatus ?? {})
      .filter(([code]) => statusMatches(code, f.status))
      .reduce((sum, [, n]) => sum + n, 0);
  return d.total;
}

function Usage({
  filters,
  arrivals,
  onIntents,
}: {
  filters: Filters;
  arrivals: number;
  onIntents: (intents: string[]) => void;
}) {
  const [usage, setUsage] = useState<UsageAnswer | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const { environment, version } = filters;
  const reload = useRef(() => {});

  useEffect(() => {
    let live = true;
    let last = 0;
    let soon: ReturnType<typeof setTimeout> | undefined;
    setUsage(null);
    const load = () => {
      last = Date.now();
      clearTimeout(soon);
      soon = undefined;
      return get<UsageAnswer>(withQuery('/v1/usage', { environment, version })).then(
        (u) => {
          if (!live) return;
          setUsage(u);
          setError(null);
          onIntents([...new Set((u.days ?? []).flatMap((d) => Object.keys(d.byIntent ?? {})))].sort());
        },
        (e) => live && setError(e as Error),
      );
    };
    // New requests in the feed: read again, at most every 5 s (arrivals meanwhile wait for it).
    reload.current = () => {
      soon ??= setTimeout(load, Math.max(0, last + USAGE_AFTER_FEED_MS - Date.now()));
    };
    void load();
    const timer = setInterval(() => document.visibilityState === 'visible' && void load(), USAGE_MS);
    return () => {
      live = false;
      clearInterval(timer);
      clearTimeout(soon);
    };
  }, [environment, version]);
  useEffect(() => {
    if (arrivals) reload.current();
  }, [arrivals]);

  const charts = useMemo(() => {
    if (!usage) return null;
    const sinceDay = sinceIso(filters.since)?.slice(0, 10) ?? '';
    const days = [...(usage.days ?? [])].filter((d) => d.day >= sinceDay).sort((a, b) => (a.day < b.day ? -1 : 1));
    const labels = days.map((d) => d.day);

    // One line per environment (or version) when the server breaks the days down and the
    // filters leave more than one; otherwise the (filtered) total.
    let requests: Series[];
    const by =
      !filters.intent && !filters.status ? (!environment ? 'byEnvironment' : !version ? 'byVersion' : null) : null;
    const names = by ? [...new Set(days.flatMap((d) => Object.keys(d[by] ?? {})))].sort() : [];
    if (by && names.length > 0)
      requests = names.map((n) => ({
        // "": requests no token identified (refused, or public routes).
        label: n || (by === 'byEnvironment' ? 'no environment' : 'no version'),
        values: days.map((d) => d[by]?.[n] ?? 0),
      }));
    else requests = [{ label: 'Requests', values: days.map((d) => requestsOf(d, filters)) }];

    const intents = new Map<string, number>();
    for (const d of days)
      for (const [k, n] of Object.entries(d.byIntent ?? {})) intents.set(k, (intents.get(k) ?? 0) + n);
    const top = [...intents]
      .filter(([k]) => !filters.intent || (filters.intent !== NO_INTENT && k === filters.intent))
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([label, value]) => ({ label, value }));

    const hasNlu = days.some((d) => d.nlu !== undefined);
    const fallback = days.map((d) => (d.nlu ? (d.fallbacks ?? 0) / d.nlu : null));
    const hasLatency = days.some((d) => d.latency);
    const latency: Series[] = (['p50', 'p95', 'p99'] as const).map((p) => ({
      label: p,
      values: days.map((d) => d.latency?.[p] ?? null),
    }));
    const total = requests.reduce((s, r) => s + r.values.reduce<number>((a, v) => a + (v ?? 0), 0), 0);
    return { days, labels, requests, top, hasNlu, fallback, hasLatency, latency, total };
  }, [usage, filters]);

  const range = charts?.labels.length ? `from ${charts.labels[0]} to ${charts.labels[charts.labels.length - 1]}` : '';
  const last = <T,>(xs: T[]) => xs[xs.length - 1];
  return (
    <section aria-labelledby="usage-title">
      <h2 id="usage-title">Usage per day</h2>
      {usage?.warning && <p class="notice warn">{usage.warning}</p>}
      <ErrorText error={error} />
      {!usage && !error && <Loading what="usage" />}
      {charts && charts.days.length === 0 && <Empty>{emptyText(filters)}</Empty>}
      {charts && charts.days.length > 0 && (
        <div class="charts">
          <LineChart
            id="chart-requests"
            title="Requests per day"
            days={charts.labels}
            series={charts.requests}
            format={(n) => count(n)}
            summary={`${plural(charts.total, 'request')} ${range}${
              charts.requests.length > 1 ? `; lines: ${charts.requests.map((s) => s.label).join(', ')}` : ''
            }.${filters.intent && filters.status ? ' Of every status: usage per day does not break intents down by status.' : ''}`}
          />
          <BarList
            id="chart-intents"
            title="Top intents"
            items={charts.top}
            empty={filters.intent === NO_INTENT ? 'Answers with no intent: see the fallback rate.' : undefined}
            note={
              filters.status
                ? 'Counts requests of every status: usage per day does not break intents down by status.'
                : undefined
            }
          />
          {charts.hasNlu ? (
            <LineChart
              id="chart-fallback"
              title="Fallback rate per day"
              days={charts.labels}
              series={[{ label: 'Fallback rate', values: charts.fallback }]}
              format={(n) => percent(n)}
              summary={`Share of NLU answers with no intent, ${range}; latest ${percent(last(charts.fallback))}.`}
            />
          ) : (
            <section class="chart" aria-labelledby="chart-fallback-title">
              <h3 id="chart-fallback-title">Fallback rate per day</h3>
              <p class="empty">This server does not report NLU fallbacks yet.</p>
            </section>
          )}
          {charts.hasLatency ? (
            <LineChart
              id="chart-latency"
              title="Latency per day"
              days={charts.labels}
              series={charts.latency}
              format={(n) => ms(n)}
              summary={`p50, p95 and p99 latency ${range}; latest p95 ${ms(last(charts.latency[1]?.values ?? []))}.`}
            />
          ) : (
            <section class="chart" aria-labelledby="chart-latency-title">
              <h3 id="chart-latency-title">Latency per day</h3>
              <p class="empty">This server does not report latency percentiles yet.</p>
            </section>
          )}
        </div>
      )}
    </section>
  );
}
