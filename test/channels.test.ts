import { describe, expect, it } from 'vitest';
import { openBotRepo } from '../src/ops/bot-repo.js';
import { addChannel } from '../src/ops/credentials.js';
import { commitFiles } from '../src/ops/content-commit.js';
import { exampleBotRepo, git, ok } from './helpers.js';
import { ADMIN_TOKEN, eventually, serve } from './resolver-helpers.js';

// POST /v1/channels/:name/webhook: a connected channel's messages, answered by the dialog of
// the version its environment serves, authenticated by the channel's secret.

const post = (url: string, name: string, secret: string | null, body: unknown) =>
  fetch(`${url}/v1/channels/${name}/webhook`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(secret !== null && { Authorization: `Token ${secret}` }) },
    body: JSON.stringify(body),
  });
const say = (text: string, id = 'c1') => ({ message: { type: 'text', content: text }, conversation_id: id });

describe('channel webhooks', () => {
  it("answers with the dialog of the channel's environment, follows a promotion for new conversations, refuses bad secrets alike", async () => {
    const dir = await exampleBotRepo();
    const repo = await openBotRepo({ repo: dir });
    const { secret } = await addChannel(repo, 'production', 'web-chat');
    await commitFiles(
      repo,
      'v2',
      {
        'skills/greetings.yaml':
          'slug: greetings\ntriggers:\n  - intent: greetings\nactions:\n  - reply: Hi from v2!\n',
      },
      'v2 greets differently',
    );
    const { url } = await serve(dir);

    const first = await post(url, 'web-chat', secret, say('hello there'));
    expect(first.status).toBe(200);
    const body = (await first.json()) as any;
    expect(body.results.messages).toEqual([
      {
        type: 'text',
        content:
          "Hello! I'm Awesome Bot. I can take your pizza order, show you the menu or tell you our opening hours.",
      },
    ]);
    expect(body.results.conversation).toMatchObject({ id: 'c1', skill: 'greetings' });
    expect(body.results.nlp.botver).toEqual({
      environment: 'production',
      version: 'v1',
      commit: git(dir, 'rev-parse', 'v1'),
    });

    // The same 401 for a wrong secret, another channel's name, no secret, an environment token.
    const unauthorized = [
      await post(url, 'web-chat', `${secret}x`, say('hi')),
      await post(url, 'nope', secret, say('hi')),
      await post(url, 'web-chat', null, say('hi')),
    ];
    const bodies = await Promise.all(unauthorized.map(async (r) => [r.status, await r.text()]));
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    expect(bodies[0]![0]).toBe(401);
    expect((await post(url, 'web-chat', secret, { message: 'hi' })).status).toBe(400);

    // Production promoted to v2: a new conversation is answered by v2.
    await ok(dir, 'env', 'set', 'production', 'v2');
    await eventually(
      'v2 answers new conversations',
      async () => {
        const r = (await (await post(url, 'web-chat', secret, say('hello there', `c-${Date.now()}`))).json()) as any;
        return r.results?.messages?.[0]?.content === 'Hi from v2!' ? true : undefined;
      },
      10_000,
    );

    // The log has the route pattern and the environment, never the secret.
    const logs = (await (
      await fetch(`${url}/v1/logs?limit=1000`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })
    ).json()) as any;
    const entry = logs.entries.find((e: any) => e.status === 200 && e.route === '/v1/channels/:name/webhook');
    expect(entry).toMatchObject({ environment: 'production', skill: 'greetings', intent: 'greetings' });
    expect(JSON.stringify(logs)).not.toContain(secret);
  });
});
