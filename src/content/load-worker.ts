import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { GitRepo } from '../git/repo.js';
import { ParsedFileCache } from './parsed-cache.js';
import { loadVersionContent } from './version-content.js';
import type { LoaderReply, LoaderRequest, LoaderWorkerData } from './content-loader.js';

// Loads commits' content off the resolver's event loop (content-loader.ts starts it): opens the
// repository itself, reads, parses and checks one commit per message, and answers with the
// problems and the bundle's JSON (a string: cheap to hand over, and what /v1/resolve serves).
// Parsed files stay in this thread's cache, so the next commit of a version parses only the
// files it changed.

const { location, cacheBytes, nice } = workerData as LoaderWorkerData;

// Loading yields the CPU to the server's own thread: on a machine with few cores, a large
// version being parsed would otherwise take CPU time from the requests being answered. Linux
// only (a thread's id is its /proc/thread-self); elsewhere the thread keeps the process's priority.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (nice > 0 && Number.isSafeInteger(tid) && tid > 0) setPriority(tid, nice);
} catch {
  // not Linux, or not allowed: same priority as the server
}
const parsed = new ParsedFileCache(cacheBytes);
let git = GitRepo.fromLocation(location);

parentPort!.on('message', async (message: LoaderRequest) => {
  if (message.type === 'renew') {
    // The packs were replaced (git gc): a fresh object cache lets the old ones go. Parsed
    // files stay valid: they are keyed by blob id.
    git = GitRepo.fromLocation(location);
    return;
  }
  const { id, commit, limits } = message;
  const [hits, misses] = [parsed.hits, parsed.misses];
  let reply: LoaderReply;
  try {
    const content = await loadVersionContent(git, commit, limits, { parsed });
    reply = {
      id,
      problems: content.problems,
      ok: content.ok,
      bundleJson: content.bundleJson,
      retry: content.unreadable === true,
      files: parsed.hits - hits + parsed.misses - misses,
      parsed: parsed.misses - misses,
    };
  } catch (err) {
    reply = { id, error: err instanceof Error ? err.message : String(err) };
  }
  parentPort!.postMessage(reply);
});
