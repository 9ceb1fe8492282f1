import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { exampleWithTokens, serve } from './resolver-helpers.js';
import { git } from './helpers.js';

// The hosted platform's official SDKs, unchanged, against botver: only their endpoint
// constants are pointed at the test server (as a bot would do with a hosts entry or a proxy).

const require = createRequire(import.meta.url);
const SDKS = [
  { name: 'sapcai', constants: require('sapcai/lib/apis/constants').default, Client: require('sapcai').default },
  { name: 'recastai', constants: require('recastai/lib/apis/constants').default, Client: require('recastai').default },
] as const;
const original = SDKS.map((s) => ({ ...s.constants }));
afterAll(() => {
  for (const [i, s] of SDKS.entries()) Object.assign(s.constants, original[i]);
});

function pointAt(constants: Record<string, string>, url: string) {
  constants.REQUEST_ENDPOINT = `${url}/v2/request`;
  constants.DIALOG_ENDPOINT = `${url}/build/v1`;
}

describe.each(SDKS)('the $name SDK', (sdk) => {
  it('analyseText and dialog answer correctly with an environment token and a version token', async () => {
    const { dir, tokens } = await exampleWithTokens();
    const { url } = await serve(dir);
    pointAt(sdk.constants, url);
    const v1 = git(dir, 'rev-parse', 'v1');

    for (const [token, environment, version] of [
      [tokens.production, 'production', 'v1'],
      [tokens.v2, null, 'v2'],
    ] as const) {
      const client = new sdk.Client(token, 'en');
      const res = await client.request.analyseText('can I get a big pizza with mushrooms');
      expect(res.intent()).toMatchObject({ slug: 'order-pizza' });
      expect(res.intent().confidence).toBeGreaterThan(0.5);
      expect(res.get('pizza-size')).toMatchObject({ value: 'large', raw: 'big' });
      expect(res.get('pizza-topping')).toMatchObject({ value: 'mushroom' });
      expect(res.isYnQuery()).toBe(true);
      expect(res.language).toBe('en');
      expect(res.source).toBe('can I get a big pizza with mushrooms');
      expect(res.raw.botver).toMatchObject({ environment, version });
      if (version === 'v1') expect(res.raw.botver.commit).toBe(v1);

      const id = `sdk-${sdk.name}-${version}`;
      const first = await client.build.dialog(
        { type: 'text', content: 'I want to order a pizza' },
        { conversationId: id },
      );
      expect(first.messages).toEqual([
        { type: 'text', content: 'What size would you like? We have small, medium and large.' },
      ]);
      expect(first.conversation).toMatchObject({ id, skill: 'order-pizza', language: 'en' });
      expect(first.nlp.intents[0].slug).toBe('order-pizza');
      const second = await client.build.dialog(
        { type: 'text', content: 'large please' },
        { conversationId: id },
        { vip: true },
      );
      expect(second.messages[0].content).toBe('Which topping would you like?');
      expect(second.conversation.memory).toMatchObject({ vip: true, size: { value: 'large' } });

      // sapcai's paths name the version; the older recastai SDK's do not.
      const at = sdk.name === 'sapcai' ? ['user', 'awesome-bot', version, id] : ['user', 'awesome-bot', id];
      const state = await client.build.getConversation(...at);
      expect(state.body.results).toMatchObject({ id, skill: 'order-pizza', version });
      await client.build.deleteConversation(...at);
      await expect(client.build.getConversation(...at)).rejects.toMatchObject({ status: 404 });
    }
  });
});
