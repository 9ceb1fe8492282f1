import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MODEL_FORMAT } from '../src/nlu/engine.js';
import { git } from './helpers.js';
import {
  ADMIN_TOKEN,
  auth,
  captureLogger,
  commitTo,
  eventually,
  getJson,
  serve,
  sharedExampleWithTokens,
} from './resolver-helpers.js';

// No model state can stick: a model cache file that cannot be read or written is logged once,
// the model is trained in memory and /readyz names the file (relative to the git directory);
// a training that runs out of time or memory fails visibly (/readyz, MODEL_FAILED) and the
// next commit is trained again, in a fresh worker.

const example = sharedExampleWithTokens();
const admin = auth(ADMIN_TOKEN, 'Bearer');
const modelFile = (commit: string) => `botver/models/${commit}.v${MODEL_FORMAT}.json`;

async function ask(url: string, token: string, text = 'hello') {
  const res = await fetch(`${url}/v2/request`, {
    method: 'POST',
    headers: { ...auth(token), 'Content-Type': 'application/json' },
    body: JSON.stringify({ text }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
/** One expression of 250,000 two-letter words (750 KB, within the content limits): its tokens alone fill 24 MB of heap. */
const longExpression = {
  'training/intents/long.yaml': `slug: long\nexpressions:\n  - "${Array.from(
    { length: 250_000 },
    (_, i) => LETTERS[i % 26]! + LETTERS[Math.floor(i / 26) % 26]!,
  ).join(' ')}"\n`,
};
/** 150 intents of 200 distinct words each: estimated at 150 intents × 390,000 features × 4 bytes (234 MB), outside the heap. */
const wideVocabulary = Object.fromEntries(
  Array.from({ length: 150 }, (_, i) => {
    const lines = Array.from({ length: 20 }, (_, j) =>
      Array.from({ length: 10 }, (_, k) => `w${i}x${j}y${k}`).join(' '),
    );
    return [`training/intents/wide-${i}.yaml`, `slug: wide-${i}\nexpressions:\n  - ${lines.join('\n  - ')}\n`];
  }),
);
const removing = (files: Record<string, string>) => Object.fromEntries(Object.keys(files).map((path) => [path, null]));

describe('a model cache file that cannot be used', () => {
  it('a folder at the model path: logged once, trained in memory, /readyz names it, answers 200, also after a restart', async () => {
    const { dir, tokens } = example();
    const gitdir = join(dir, '.git');
    const v1 = git(dir, 'rev-parse', 'refs/heads/v1');
    rmSync(join(gitdir, 'botver', 'models'), { recursive: true, force: true });
    mkdirSync(join(gitdir, modelFile(v1), 'in-the-way'), { recursive: true });

    for (const round of [1, 2]) {
      const log = captureLogger('info');
      const { url, close } = await serve(dir, { logger: log.logger });
      for (let i = 0; i < 3; i++) {
        const answer = await ask(url, tokens.production);
        expect(answer.status, `round ${round}: ${JSON.stringify(answer.body)}`).toBe(200);
        expect(answer.body.results.intents[0].slug).toBe('greetings');
      }
      expect((await ask(url, tokens.v1)).status).toBe(200);
      const warned = log.lines().filter((l) => l.file === modelFile(v1));
      expect(warned.map((l) => [l.msg, l.error])).toEqual([
        ['cached NLU model unreadable; training again', 'it is not a regular file'],
      ]);
      const ready = await getJson(`${url}/readyz`, admin);
      expect(ready.status).toBe(200); // the model answers: a warning, not unready
      const problems = ready.body.problems.filter((p: any) => p.scope === 'model');
      // v2 was made from v1: the same commit, the same model file.
      expect(problems.map((p: any) => p.name).sort()).toEqual([
        'environment:production',
        'environment:staging',
        'version:v1',
        'version:v2',
      ]);
      expect(problems[0].errors[0]).toMatchObject({ file: modelFile(v1), severity: 'warning' });
      expect(problems[0].errors[0].message).toMatch(/cannot be read \(it is not a regular file\)/);
      expect(JSON.stringify(ready.body)).not.toContain(dir); // never the absolute path
      await close();
    }
    expect(existsSync(join(gitdir, modelFile(v1), 'in-the-way'))).toBe(true); // not ours to remove
  });

  it('a file where the models folder should be (nothing can be written) and a file that does not parse', async () => {
    const { dir, tokens } = example();
    const gitdir = join(dir, '.git');
    const v1 = git(dir, 'rev-parse', 'refs/heads/v1');
    // A model file that does not parse: replaced by a good one, logged once.
    mkdirSync(join(gitdir, 'botver', 'models'), { recursive: true });
    writeFileSync(join(gitdir, modelFile(v1)), '{"not": "a model"');
    const log = captureLogger('info');
    let resolver = await serve(dir, { logger: log.logger });
    await eventually('v1 answered from a model trained again', async () => {
      const answer = await ask(resolver.url, tokens.v1);
      return answer.status === 200 ? answer : undefined;
    });
    await resolver.nlu.idle();
    expect(log.lines().filter((l) => l.file === modelFile(v1))).toHaveLength(1);
    expect((await getJson(`${resolver.url}/readyz`, admin)).body.problems).toEqual([]); // the file was replaced
    await resolver.close();

    // The models folder replaced by a file: nothing can be read or written there.
    rmSync(join(gitdir, 'botver', 'models'), { recursive: true });
    writeFileSync(join(gitdir, 'botver', 'models'), 'not a folder');
    const log2 = captureLogger('info');
    resolver = await serve(dir, { logger: log2.logger });
    expect((await ask(resolver.url, tokens.v1)).status).toBe(200);
    expect((await ask(resolver.url, tokens.v1)).status).toBe(200);
    expect(log2.lines().filter((l) => l.file === modelFile(v1))).toHaveLength(1);
    const ready = await getJson(`${resolver.url}/readyz`, admin);
    expect(ready.status).toBe(200);
    const v1Problem = ready.body.problems.find((p: any) => p.name === 'version:v1');
    expect(v1Problem.errors[0].file).toBe(modelFile(v1));
    expect(v1Problem.errors[0].message).toMatch(/ENOTDIR/);
    expect(JSON.stringify(ready.body)).not.toContain(dir);
  });
});

describe('a training that runs out of time or memory', () => {
  it('past the time limit: the failure is on /readyz and MODEL_FAILED, and a new commit is trained again', async () => {
    const { dir, tokens } = example();
    rmSync(join(dir, '.git', 'botver', 'models'), { recursive: true, force: true });
    // No training finishes within 1 ms (a worker takes longer than that to start).
    const log = captureLogger('info');
    const { url, nlu } = await serve(dir, { trainingTimeoutMs: 1, logger: log.logger });
    const v1 = git(dir, 'rev-parse', 'refs/heads/v1');
    const ready = await getJson(`${url}/readyz`, admin);
    expect(ready.status).toBe(503);
    const failed = ready.body.problems.find((p: any) => p.name === 'version:v1');
    expect(failed).toMatchObject({ scope: 'model', commit: v1, serving: null });
    expect(failed.errors[0].message).toMatch(/longer than 1 ms \(the training time limit\)/);
    const answer = await ask(url, tokens.v1);
    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('MODEL_FAILED');
    expect(log.lines().some((l) => l.level >= 50 && l.commit === v1)).toBe(true);

    // A new commit is a new attempt (it fails the same way here): nothing stays "training".
    const next = await commitTo(dir, 'v1', { 'README.md': 'a new commit\n' });
    const { value } = await eventually('the new commit tried and failed', async () => {
      const r = await getJson(`${url}/readyz`, admin);
      return r.body.problems.find((p: any) => p.name === 'version:v1' && p.commit === next);
    });
    expect(value.errors[0].message).toMatch(/training time limit/);
    await nlu.idle();
    expect(nlu.training()).toEqual([]);
  });

  it('past the memory limit: it fails cleanly, the server and other versions keep answering, and a new commit trains', async () => {
    const { dir, tokens } = example();
    rmSync(join(dir, '.git', 'botver', 'models'), { recursive: true, force: true });
    // The example bot trains within 24 MB of heap; a 250,000-word expression does not.
    await commitTo(dir, 'v2', longExpression);
    const { url, nlu } = await serve(dir, { trainingMemoryMb: 24 });
    const ready = await getJson(`${url}/readyz`, admin);
    expect(ready.status).toBe(503);
    const failed = ready.body.problems.find((p: any) => p.name === 'version:v2');
    expect(failed.errors[0].message).toMatch(/more than 24 MB of memory \(the training memory limit\)/);
    expect((await ask(url, tokens.v2)).body.error.code).toBe('MODEL_FAILED');
    expect((await getJson(`${url}/healthz`)).status).toBe(200);
    expect((await ask(url, tokens.production)).status).toBe(200);

    // A classifier too large for the limit (its arrays live outside the heap) is refused before training.
    const wide = await commitTo(dir, 'v2', { ...removing(longExpression), ...wideVocabulary });
    const { value: refused } = await eventually('the wide version refused', async () => {
      const r = await getJson(`${url}/readyz`, admin);
      return r.body.problems.find((p: any) => p.name === 'version:v2' && p.commit === wide);
    });
    expect(refused.errors[0].message).toMatch(/about \d+ MB for the classifier alone .* limit of 24 MB/);

    // Back to a normal version: the new commit trains in a fresh worker and answers.
    const fixed = await commitTo(dir, 'v2', removing(wideVocabulary));
    const { value } = await eventually('v2 answered from its new commit', async () => {
      const answer = await ask(url, tokens.v2);
      return answer.status === 200 && answer.body.results.botver.commit === fixed ? answer : undefined;
    });
    expect(value.body.results.intents[0].slug).toBe('greetings');
    await nlu.idle();
    expect((await getJson(`${url}/readyz`, admin)).status).toBe(200);
  });
});
