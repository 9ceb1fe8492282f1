import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ContentCache, type BundleData, type VersionContent } from '../src/content/version-content.js';
import { MODEL_FORMAT, type TrainingInput } from '../src/nlu/engine.js';
import { ModelStore, type StoreLog } from '../src/nlu/model-store.js';
import { tempDir } from './helpers.js';

// The caches behind the resolver, on their own: the model store (one entry per commit, waited
// for by awaiting its training, never by polling) and the content cache (least recently used
// evicted past its capacity, a failed load not kept).

const bundle: BundleData = {
  intents: [
    { slug: 'greet', expressions: ['hello', 'hi there', 'good morning'] },
    { slug: 'bye', expressions: ['goodbye', 'see you later', 'bye now'] },
  ],
  entities: [],
  skills: [],
  tests: [],
};
const input = (): TrainingInput => ({ bundle, language: 'en' });
const commit = (n: number) => String(n).padStart(40, 'a');

function recordingLog() {
  const lines: { level: string; message: string; fields: object }[] = [];
  const log: StoreLog = {
    info: (fields, message) => lines.push({ level: 'info', message, fields }),
    warn: (fields, message) => lines.push({ level: 'warn', message, fields }),
    error: (fields, message) => lines.push({ level: 'error', message, fields }),
  };
  return { log, lines };
}

describe('ModelStore', () => {
  it('trains a commit once for callers asking together, stores it on disk, and says it is trained', async () => {
    const gitdir = tempDir();
    const { log, lines } = recordingLog();
    const store = new ModelStore({ gitdir, logger: log, inline: true });
    try {
      const [a, b] = await Promise.all([store.get(commit(1), input), store.get(commit(1), input)]);
      expect(a).toBe(b);
      expect((await a.analyse('hello')).intents[0]?.slug).toBe('greet');
      expect(lines.filter((l) => l.message.startsWith('trained the NLU model'))).toHaveLength(1);
      expect(store.has(commit(1))).toBe(true);
      expect(store.training).toEqual([]);
      expect(existsSync(join(gitdir, 'botver', 'models', `${commit(1)}.v${MODEL_FORMAT}.json`))).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('idle() resolves once every training started has ended, trainings started meanwhile included', async () => {
    const store = new ModelStore({ gitdir: tempDir(), logger: recordingLog().log, inline: true });
    try {
      store.ensure(commit(1), input);
      store.ensure(commit(2), input);
      expect(store.training.sort()).toEqual([commit(1), commit(2)]);
      const idle = store.idle();
      store.ensure(commit(3), input);
      await idle;
      expect(store.training).toEqual([]);
      expect([commit(1), commit(2), commit(3)].map((c) => store.has(c))).toEqual([true, true, true]);
    } finally {
      await store.close();
    }
  });

  it('keeps a failed training as a failure: get() rejects with it, failure() names it, idle() ends', async () => {
    const { log, lines } = recordingLog();
    const store = new ModelStore({ gitdir: tempDir(), logger: log, inline: true });
    try {
      const broken = (): TrainingInput => {
        throw new Error('no training data');
      };
      await expect(store.get(commit(4), broken)).rejects.toThrow('no training data');
      await store.idle();
      expect(store.failure(commit(4))).toBe('no training data');
      expect(store.has(commit(4))).toBe(false);
      expect(lines.map((l) => [l.level, l.message])).toEqual([
        ['error', `training the NLU model of ${commit(4).slice(0, 12)} failed`],
      ]);
      // Asked again, it is not retrained: the failure stands for that commit.
      await expect(store.get(commit(4), input)).rejects.toThrow('no training data');
    } finally {
      await store.close();
    }
  });

  it('a model from the disk cache is trained by nobody: a second store loads it', async () => {
    const gitdir = tempDir();
    const first = new ModelStore({ gitdir, logger: recordingLog().log, inline: true });
    await first.get(commit(5), input);
    await first.close();
    const { log, lines } = recordingLog();
    const second = new ModelStore({ gitdir, logger: log, inline: true });
    try {
      second.ensure(commit(5), () => {
        throw new Error('must not train');
      });
      expect(second.has(commit(5))).toBe(true);
      expect((await second.load(commit(5))).constructor.name).toBe('NluModel');
      expect(lines).toEqual([]);
    } finally {
      await second.close();
    }
  });
});

describe('ContentCache', () => {
  const contentOf = (c: string): VersionContent => ({ commit: c, problems: [], ok: true, bundle, bundleJson: '{}' });

  it('keeps at most `capacity` commits, dropping the least recently used; touch() keeps served ones', async () => {
    const loads: string[] = [];
    const cache = new ContentCache(async (c) => {
      loads.push(c);
      return contentOf(c);
    }, 2);
    await cache.get('a');
    await cache.get('b');
    cache.touch(['a']); // a is served: b is now the least recently used
    await cache.get('c');
    expect(cache.size).toBe(2);
    await cache.get('a');
    await cache.get('b'); // evicted: loaded again
    expect(loads).toEqual(['a', 'b', 'c', 'b']);
  });

  it('shares one load between callers and does not keep a failed one', async () => {
    let calls = 0;
    const cache = new ContentCache(async (c) => {
      calls++;
      if (calls === 1) throw new Error('object missing mid-push');
      return contentOf(c);
    });
    const [x, y] = [cache.get('a'), cache.get('a')];
    expect(x).toBe(y);
    await expect(x).rejects.toThrow('object missing mid-push');
    expect((await cache.get('a')).commit).toBe('a');
    expect(calls).toBe(2);
  });
});
