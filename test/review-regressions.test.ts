import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryConversationStore, type Conversation } from '../src/dialog/store.js';
import { MODEL_FORMAT } from '../src/nlu/engine.js';
import { openBotRepo } from '../src/ops/bot-repo.js';
import { commitFiles } from '../src/ops/content-commit.js';
import { botver, exampleBotRepo, git, ok } from './helpers.js';
import { exampleWithTokens, serve } from './resolver-helpers.js';

// Faults found by review of the NLU and dialog code, each pinned by a test.

const dialog = (url: string, token: string, body: unknown) =>
  fetch(`${url}/build/v1/dialog`, {
    method: 'POST',
    headers: { Authorization: `Token ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('conversations', () => {
  it('are stored with the time of their latest message, not their first (the idle TTL counts from it)', async () => {
    const saved: Conversation[] = [];
    const store = new (class extends MemoryConversationStore {
      override async set(key: string, c: Conversation) {
        saved.push(structuredClone(c));
        return super.set(key, c);
      }
    })();
    const { dir, tokens } = await exampleWithTokens();
    const { url } = await serve(dir, { conversations: store });
    for (const text of ['I want to order a pizza', 'large please']) {
      expect(
        (await dialog(url, tokens.production, { message: { type: 'text', content: text }, conversation_id: 'ttl' }))
          .status,
      ).toBe(200);
      await new Promise((r) => setTimeout(r, 30));
    }
    expect(saved).toHaveLength(2);
    expect(saved[1]!.updatedAt).toBeGreaterThan(saved[0]!.updatedAt);
  });

  it('answers messages of one conversation one after another: two at once lose no turn', async () => {
    const { dir, tokens } = await exampleWithTokens();
    const { url } = await serve(dir);
    const say = (content: string) =>
      dialog(url, tokens.production, { message: { type: 'text', content }, conversation_id: 'together' });
    const answers = await Promise.all([say('I want to order a pizza'), say('large please')]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    const state = (await (
      await fetch(`${url}/build/v1/users/u/bots/b/versions/v1/builder/conversation_states/together`, {
        headers: { Authorization: `Token ${tokens.production}` },
      })
    ).json()) as any;
    expect(state.results.skill_occurences).toEqual({ 'order-pizza': 2 });
    expect(state.results.memory.size).toMatchObject({ value: 'large' });
  });

  it('refuses client memory over 64 KB with 413, keeping nothing', async () => {
    const { dir, tokens } = await exampleWithTokens();
    const { url } = await serve(dir);
    const res = await dialog(url, tokens.production, {
      message: { type: 'text', content: 'hi' },
      conversation_id: 'big',
      memory: { blob: 'x'.repeat(70_000) },
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error.code).toBe('MEMORY_TOO_LARGE');
    const state = await fetch(`${url}/build/v1/users/u/bots/b/versions/v1/builder/conversation_states/big`, {
      headers: { Authorization: `Token ${tokens.production}` },
    });
    expect(state.status).toBe(404);
  });
});

describe('botver test and promote', () => {
  it('renders {{nlp.…}} templates as the resolver does', async () => {
    const dir = await exampleBotRepo();
    await commitFiles(
      await openBotRepo({ repo: dir }),
      'v2',
      {
        'skills/greetings.yaml':
          'slug: greetings\ntriggers:\n  - intent: greetings\nactions:\n  - reply: "You said {{nlp.source}} ({{nlp.intents.0.description}}, {{nlp.act}})"\n',
        'tests/echo.yaml':
          'conversations:\n  - name: echo\n    steps:\n      - say: hello\n        expect: ["You said hello (The user says hello, assert)"]\n',
      },
      'an echoing greeting',
    );
    const r = await botver(dir, 'test', 'v2');
    expect(r.stdout).toContain('pass  tests/echo.yaml: conversation "echo", step 1 "hello"');
  });

  it('trains again over a corrupt cached model instead of failing', async () => {
    const dir = await exampleBotRepo();
    await ok(dir, 'test', 'v1');
    writeFileSync(
      join(dir, '.git', 'botver', 'models', `${git(dir, 'rev-parse', 'v1')}.v${MODEL_FORMAT}.json`),
      '{"format": 3, "nlp": ',
    );
    const r = await botver(dir, 'test', 'v1');
    expect([r.code, r.stderr]).toEqual([0, '']);
  });

  it('checks its arguments before running the tests', async () => {
    const dir = await exampleBotRepo();
    const r = await botver(dir, 'promote', 'staging', 'nowhere');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('botver: environment "nowhere" does not exist\n');
  });
});

describe('names every JavaScript object has', () => {
  it('are refused as slugs and memory keys', async () => {
    const dir = await exampleBotRepo();
    await commitFiles(
      await openBotRepo({ repo: dir }),
      'v2',
      {
        'training/entities/constructor.yaml': 'slug: constructor\nvalues:\n  - value: mason\n',
        'skills/proto.yaml':
          'slug: proto\ntriggers:\n  - intent: greetings\nrequirements:\n  - entity: number\n    alias: __proto__\n    ask: How many?\nactions:\n  - reply: ok\n',
      },
      'reserved names',
    );
    const r = await botver(dir, 'validate', 'v2');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/training\/entities\/constructor\.yaml:1:\d+ slug "constructor" is reserved/);
    expect(r.stdout).toMatch(/skills\/proto\.yaml:\d+:\d+ alias "__proto__" is reserved/);
  });
});

describe('history across a manifest that does not parse', () => {
  it('skips the broken commit: the change shows once, at the commit that made it readable again', async () => {
    const { nativeCommit } = await import('./resolver-helpers.js');
    const { manifestAt } = await import('./helpers.js');
    const dir = await exampleBotRepo();
    const good = git(dir, 'rev-parse', 'main');
    const text = manifestAt(dir);
    // A hand edit that breaks the YAML, then a fix that also relinks staging to v1.
    const broken = nativeCommit(dir, { 'environments.yaml': `${text}  : [oops\n` }, [good], 'broken by hand');
    const fixed = nativeCommit(
      dir,
      { 'environments.yaml': text.replace(/(staging:\n\s+version:) v2/, '$1 v1') },
      [broken],
      'fix, and staging on v1',
    );
    git(dir, 'reset', '-q', '--hard', fixed); // main is checked out: move it with its work tree
    const history = await ok(dir, 'history', 'staging', '--json');
    expect(history.map((c: any) => [c.commit, c.from?.version ?? null, c.to?.version ?? null])).toEqual([
      [fixed, 'v2', 'v1'],
      [expect.any(String), null, 'v2'],
    ]);
    // Rolling back undoes the fix's relink, not a phantom deletion.
    await ok(dir, 'rollback', 'staging');
    expect(manifestAt(dir)).toMatch(/staging:\n\s+version: v2\n/);
  });
});

describe('version create', () => {
  it('writes the new branch reflog entry as git branch does', async () => {
    const { dir } = await (await import('./helpers.js')).newBotRepo();
    await ok(dir, 'version', 'create', 'v2', '--from', 'v1');
    expect(git(dir, 'reflog', 'show', '--format=%gs', 'v2')).toBe('branch: Created from v1');
  });
});

describe('--json', () => {
  it('prints a usage error as one JSON document too', async () => {
    const { dir } = await (await import('./helpers.js')).newBotRepo();
    const r = await botver(dir, '--json', 'env', 'set', 'production');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({
      error: { code: 'USAGE', message: expect.stringContaining("missing required argument 'version'") },
    });
  });
});

describe('init on an empty bare repository made by git', () => {
  it('points HEAD at the control branch, so that a clone checks out the manifest', async () => {
    const { tempDir } = await import('./helpers.js');
    const bare = tempDir();
    git(bare, '-c', 'init.defaultBranch=master', 'init', '-q', '--bare');
    await ok(bare, 'init', '--bot', 'b');
    expect(git(bare, 'symbolic-ref', 'HEAD')).toBe('refs/heads/main');
    const clone = join(tempDir(), 'clone');
    git(bare, 'clone', '-q', bare, clone);
    expect(git(clone, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('main');
    expect(git(clone, 'ls-files')).toBe('environments.yaml');
  });
});

describe('commitFiles', () => {
  it('refuses a file where a folder is, a folder where a file is, and both in one change, changing nothing', async () => {
    const { newBotRepo, refsSnapshot } = await import('./helpers.js');
    const { dir } = await newBotRepo();
    const repo = await openBotRepo({ repo: dir });
    const before = refsSnapshot(dir);
    await expect(commitFiles(repo, 'v1', { skills: 'not a folder' }, 'x')).rejects.toThrow(
      'cannot commit "skills" on v1: it is a folder there',
    );
    await expect(commitFiles(repo, 'v1', { 'skills/greetings.yaml/inner.yaml': 'x' }, 'x')).rejects.toThrow(
      '"skills/greetings.yaml" is a file there',
    );
    await expect(commitFiles(repo, 'v1', { 'a/b': 'x', 'a/b/c': 'y' }, 'x')).rejects.toThrow(
      'cannot commit both "a/b" and "a/b/c"',
    );
    expect(refsSnapshot(dir)).toBe(before);
    // Replacing a file by a folder in one change (deleting the file) is fine.
    await commitFiles(repo, 'v1', { 'skills/greetings.yaml': null, 'skills/greetings.yaml.d/x.yaml': 'y' }, 'ok');
  });
});

describe('a branch checked out in another work tree', () => {
  it('is not moved under it: the command is refused, changing nothing', async () => {
    const { newBotRepo, refsSnapshot, tempDir } = await import('./helpers.js');
    const { dir } = await newBotRepo();
    git(dir, 'checkout', '-q', '--detach'); // the main work tree leaves main...
    const linked = join(tempDir(), 'linked');
    git(dir, 'worktree', 'add', '-q', linked, 'main'); // ...which a linked work tree checks out
    const before = refsSnapshot(dir);
    const r = await botver(dir, 'env', 'create', 'staging', '--version', 'v1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`branch main is checked out in the work tree ${linked}`);
    expect(refsSnapshot(dir)).toBe(before);
    expect(git(linked, 'status', '--porcelain')).toBe('');
  });
});

describe('version create after an interrupted one', () => {
  it("adopts an undeclared branch at exactly the source's head, and still refuses any other", async () => {
    const { newBotRepo } = await import('./helpers.js');
    const { dir } = await newBotRepo();
    git(dir, 'branch', 'v2', 'v1'); // what a create killed between its two ref updates leaves
    const created = await ok(dir, 'version', 'create', 'v2', '--from', 'v1', '--json');
    expect(created).toMatchObject({ name: 'v2', from: 'v1', commit: git(dir, 'rev-parse', 'v1') });
    expect(git(dir, 'show', 'main:environments.yaml')).toMatch(/\n {2}v2:\n/);

    git(dir, 'branch', 'v3', 'main'); // a branch of its own: not a leftover
    const refused = await botver(dir, 'version', 'create', 'v3', '--from', 'v1');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('refs/heads/v3 exists but is not a version');
  });
});
