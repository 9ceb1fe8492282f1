import { stringify } from 'yaml';

// What `botver init` puts on v1 so that a new bot answers something from the first minute:
// one intent, the skill it triggers and a fallback.

export function starterContent(bot: string): Map<string, string> {
  const yaml = (value: unknown) => stringify(value, { lineWidth: 0 });
  return new Map([
    [
      'training/intents/greetings.yaml',
      yaml({
        slug: 'greetings',
        description: 'The user says hello',
        expressions: [
          'Hello',
          'Hi',
          'hi there',
          'hey',
          'good morning',
          'good evening',
          'hello bot',
          'howdy',
          'greetings',
          'yo',
        ],
      }),
    ],
    [
      'skills/greetings.yaml',
      yaml({
        slug: 'greetings',
        triggers: [{ intent: 'greetings' }],
        actions: [{ reply: `Hello! I am ${bot}. How can I help?` }],
      }),
    ],
    [
      'skills/fallback.yaml',
      yaml({
        slug: 'fallback',
        fallback: true,
        actions: [{ reply: "Sorry, I didn't get that. Could you rephrase?" }],
      }),
    ],
  ]);
}
