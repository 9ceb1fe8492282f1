import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/resolver/monitoring/logger.js';
import { largeIntents } from './content-fixtures.js';
import { git } from './helpers.js';
import {
  auth,
  commitTo,
  eventually,
  getJson,
  serve,
  sharedExampleWithTokens,
  waitForCommit,
} from './resolver-helpers.js';

// Issue #9, break 4: a large version pushed to another branch stalled production, because a
// commit's content was read and parsed on the server's event loop (and re-parsed whole for
// every commit). Content is now loaded in a worker thread, with parsed files cached by blob.
// These tests look at the order of events, never at durations: a load is bracketed by the
// resolver's own "loading content" / "loaded content" log lines (written on the event loop),
// and a request answered between the two proves the loop was free while the content loaded.

const example = sharedExampleWithTokens();

/** The content files of a commit (what a load reads). */
const contentFiles = (dir: string, commit: string) =>
  git(dir, 'ls-tree', '-r', '--name-only', commit)
    .split('\n')
    .filter((f) => /^(training|skills|tests)\//.test(f));

interface LogLine {
  msg: string;
  commit?: string;
  files?: number;
  parsed?: number;
}

/** The resolver's log at debug level, each line parsed as it is written (synchronously, on the event loop). */
function logEvents() {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'debug', destination }) };
}

describe('content loads off the event loop', () => {
  it('while a 5 MB version loads on v2, production /v1/resolve and /healthz keep being answered', {
    timeout: 90_000,
  }, async () => {
    const large = largeIntents(5);
    expect(Object.values(large).join('').length).toBeGreaterThan(4_500_000);
    const { dir, tokens } = example();
    const log = logEvents();
    const { url } = await serve(dir, { logger: log.logger });
    const v1 = git(dir, 'rev-parse', 'v1');

    // A client asking production and /healthz in turn, one request at a time, noting for each
    // answer how many log lines had been written when it arrived.
    const answers: { what: string; status: number | string; commit?: string; at: number }[] = [];
    let stop = false;
    const ask = async (what: string, path: string, headers: Record<string, string> = {}) => {
      try {
        const r = await getJson(`${url}${path}`, headers);
        answers.push({ what, status: r.status, commit: r.body?.commit, at: log.lines.length });
      } catch (err) {
        answers.push({ what, status: String(err), at: log.lines.length });
      }
    };
    const client = (async () => {
      while (!stop) {
        await ask('resolve', '/v1/resolve', auth(tokens.production));
        await ask('healthz', '/healthz');
      }
    })();

    let big = '';
    try {
      big = await commitTo(dir, 'v2', large);
      // Generous: the load and the client share a loaded machine; how long it took is not the point.
      await eventually(
        'the large version served on v2',
        async () => ((await getJson(`${url}/v1/resolve`, auth(tokens.v2))).body.commit === big ? true : undefined),
        60_000,
      );
    } finally {
      stop = true;
      await client;
    }

    const loading = log.lines.findIndex((l) => l.msg === 'loading content' && l.commit === big);
    const loaded = log.lines.findIndex((l) => l.msg === 'loaded content' && l.commit === big);
    expect(loading).toBeGreaterThanOrEqual(0);
    expect(loaded).toBeGreaterThan(loading);
    // Every answer is a 200 with production's own commit, before, during and after the load.
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(answers.filter((a) => a.what === 'resolve' && a.commit !== v1)).toEqual([]);
    // Answered while the content loaded: after the "loading" line, before the "loaded" one.
    // A load on the event loop can let a request through only while an object is being read
    // (inflated off the loop): a few answers per file read at most. A load off the loop leaves
    // the loop free all along, so answers keep coming while the ~5 MB are parsed.
    const files = contentFiles(dir, big).length;
    const during = answers.filter((a) => a.at > loading && a.at <= loaded);
    expect(during.filter((a) => a.what === 'resolve').length).toBeGreaterThan(2 * files);
    expect(during.filter((a) => a.what === 'healthz').length).toBeGreaterThan(2 * files);
  });

  it('a commit that changes one file re-parses that file only', async () => {
    const { dir, tokens } = example();
    const log = logEvents();
    const { url } = await serve(dir, { logger: log.logger });
    const files = contentFiles(dir, 'v2');
    const changed = await commitTo(dir, 'v2', {
      'training/intents/greetings.yaml': git(dir, 'show', 'v2:training/intents/greetings.yaml').replace(
        'expressions:\n',
        'expressions:\n  - well hello there\n',
      ),
    });
    await waitForCommit(url, tokens.v2, changed);
    const loaded = log.lines.find((l) => l.msg === 'loaded content' && l.commit === changed);
    expect(loaded).toMatchObject({ files: files.length, parsed: 1 });
  });
});
