import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parse } from 'yaml';
import Ajv2020Module from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type {
  Action,
  ChannelEntry,
  ChannelType,
  ConversationStep,
  EndAction,
  Entity,
  EntityTrigger,
  EntityValue,
  EnvironmentEntry,
  FallbackSkill,
  Intent,
  IntentTrigger,
  Manifest,
  ManifestLimits,
  MemoryTrigger,
  Message,
  MessageType,
  RegexEntity,
  ReplyAction,
  Requirement,
  ScriptedConversation,
  SetAction,
  Skill,
  TestFile,
  Trigger,
  TriggeredSkill,
  UnsetAction,
  UtteranceTest,
  ValueListEntity,
  VersionEntry,
} from '../src/content/types.js';

// ajv is CommonJS: under NodeNext the default import is module.exports, and the class is
// its `default` property (module.exports.default === module.exports at run time).
const Ajv2020 = Ajv2020Module.default;

const root = fileURLToPath(new URL('..', import.meta.url));
const schemaDir = join(root, 'schemas');
const exampleDir = join(root, 'examples', 'awesome-bot');

type SchemaName = 'environments' | 'intent' | 'entity' | 'skill' | 'test';
const schemaNames: SchemaName[] = ['environments', 'intent', 'entity', 'skill', 'test'];

// A loose view of a schema document: enough to walk it, not a full JSON Schema type.
interface SchemaNode {
  [keyword: string]: unknown;
  properties?: Record<string, SchemaNode | boolean>;
  required?: string[];
  $defs?: Record<string, SchemaNode>;
}

const schemas = Object.fromEntries(
  schemaNames.map((name) => [
    name,
    JSON.parse(readFileSync(join(schemaDir, `${name}.schema.json`), 'utf8')) as SchemaNode,
  ]),
) as Record<SchemaName, SchemaNode>;

// One ajv instance per schema keeps each compilation independent of the others' $ids.
function compile(name: SchemaName): ValidateFunction {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  return ajv.compile(schemas[name]);
}
const validators = Object.fromEntries(schemaNames.map((n) => [n, compile(n)])) as Record<SchemaName, ValidateFunction>;

function errorsOf(name: SchemaName, data: unknown): ErrorObject[] {
  const validate = validators[name];
  return validate(data) ? [] : [...(validate.errors ?? [])];
}

function expectValid(name: SchemaName, data: unknown): void {
  const errors = errorsOf(name, data);
  expect(errors, JSON.stringify(errors, null, 2)).toEqual([]);
}

/** Asserts the data is rejected and that some error has the given keyword (and fields). */
function expectInvalid(
  name: SchemaName,
  data: unknown,
  match: { keyword: string; instancePath?: string; params?: Record<string, unknown> },
): void {
  const errors = errorsOf(name, data);
  expect(errors.length, `${name} accepted ${JSON.stringify(data)}`).toBeGreaterThan(0);
  expect(errors).toContainEqual(expect.objectContaining(match));
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

const token = (c: string): string => c.repeat(64);

// The manifest from DESIGN §2, verbatim.
const designManifest = `
apiVersion: botver/v1
bot: awesome-bot
language: en              # default language of the bot
maxVersions: 5
versions:
  v1:
    description: First release
    tokenSha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
  v2:
    description: New pizza skill
    createdFrom: v1
    tokenSha256: 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752
environments:
  production:
    version: v1
    commit: 3c1b0e5f0d1e4a7f9f0a2f6b8c1d2e3f4a5b6c7d   # optional pin; absent = follow the branch head
    tokenSha256: fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13
    channels:
      - name: messenger-awesome-bot
        type: webhook
        secretSha256: a4e624d686e03ed2767c0abd85c14426b0b1157d2ce81d27bb4fe4f6f01d688a
  staging:
    version: v2
    tokenSha256: 2c624232cdd221771294dfbb310aca000a0df6ac8b66b696d90ef06fdefb64a3
`;

// ---------------------------------------------------------------------------------------
// Typed samples using every field. They must compile against the TS types AND validate
// against the schemas, which catches a field added to one side only.

const fullManifest: Required<Manifest> = {
  apiVersion: 'botver/v1',
  bot: 'awesome-bot',
  language: 'en',
  maxVersions: 5,
  nluThreshold: 0.6,
  limits: {
    maxFileBytes: 2_000_000,
    maxVersionBytes: 64_000_000,
    maxFiles: 20_000,
    maxExpressions: 80_000,
    maxAliases: 200,
    maxDepth: 32,
    maxTreeDepth: 4,
  } satisfies Required<ManifestLimits>,
  versions: {
    v1: { description: 'First', createdFrom: 'v0', tokenSha256: token('a') } satisfies Required<VersionEntry>,
  },
  environments: {
    production: {
      version: 'v1',
      commit: 'b'.repeat(40),
      tokenSha256: token('c'),
      description: 'Live traffic',
      channels: [{ name: 'web', type: 'webhook', secretSha256: token('d') } satisfies Required<ChannelEntry>],
    } satisfies Required<EnvironmentEntry>,
  },
};

const fullIntent: Required<Intent> = {
  slug: 'order-pizza',
  description: 'Order',
  language: 'en',
  expressions: ['I want a pizza'],
};

const fullValueEntity: ValueListEntity = {
  slug: 'pizza-size',
  description: 'Size',
  fuzzy: false,
  values: [{ value: 'large', synonyms: ['big'] } satisfies Required<EntityValue>],
};

const fullRegexEntity: RegexEntity = {
  slug: 'order-number',
  description: 'Order number',
  fuzzy: true,
  regex: '#?[A-Z]{2}\\d{4}',
  flags: 'iu',
};

const fullSkill: TriggeredSkill = {
  slug: 'order-pizza',
  description: 'Takes an order',
  fallback: false,
  triggers: [
    { intent: 'order-pizza' },
    { entity: 'pizza-size' },
    { memory: 'size', exists: true, equals: 'large' },
    { memory: 'count', equals: 2 },
  ],
  requirements: [
    { entity: 'pizza-size', alias: 'size', ask: 'What size?' },
    {
      entity: 'pizza-topping',
      alias: 'topping',
      ask: { type: 'quickReplies', content: { title: 'Topping?', buttons: [{ title: 'Ham', value: 'ham' }] } },
    },
  ],
  actions: [
    { reply: 'One {{memory.size.value}} pizza, intent {{nlp.intents.0.slug}}' },
    { reply: { type: 'picture', content: 'https://example.com/pizza.png' } },
    { set: { ordered: true, count: 1, note: 'x' } },
    { unset: ['size', 'topping'] },
    { end: true },
  ],
};

const fullFallback: FallbackSkill = {
  slug: 'fallback',
  fallback: true,
  actions: [{ reply: 'Sorry?' }],
};

const fullTestFile: TestFile = {
  description: 'All fields',
  language: 'en',
  utterances: [
    { text: 'a large pizza', intent: 'order-pizza', entities: { 'pizza-size': 'large' } },
    { text: 'sing', intent: null },
  ],
  conversations: [
    {
      name: 'orders',
      steps: [
        { say: 'hi', expect: ['Hello!'], expectSkill: 'greetings' },
        { say: '...', expect: [] },
      ],
    },
  ],
};

// The TS unions must refuse what the schemas refuse. These lines fail `tsc` if the
// `?: never` guards or the skill/test-file unions go missing.
// @ts-expect-error an action has exactly one kind
const twoKindAction: Action = { reply: 'x', end: true };
// @ts-expect-error a trigger has exactly one kind
const twoKindTrigger: Trigger = { intent: 'a', entity: 'b' };
// @ts-expect-error an entity is a value list or a regex, not both
const bothEntity: Entity = { slug: 'x', values: [{ value: 'a' }], regex: 'a' };
// @ts-expect-error a non-fallback skill needs triggers
const triggerless: Skill = { slug: 'x', actions: [{ end: true }] };
// @ts-expect-error a test file needs utterances or conversations
const emptyTests: TestFile = { description: 'nothing' };
// @ts-expect-error end is only ever true
const endFalse: EndAction = { end: false };
void [twoKindAction, twoKindTrigger, bothEntity, triggerless, emptyTests, endFalse];

// ---------------------------------------------------------------------------------------
// Keeping types and schemas in step: for each TS type, a key map that the compiler forces
// to list every key of the type, marked required or optional exactly as the type has it.
// The test then compares it with the schema object's `properties` and `required`.

type DefinedKeys<T> = {
  [K in keyof T]-?: [Exclude<T[K], undefined>] extends [never] ? never : K;
}[keyof T];
type RequiredKeys<T> = { [K in keyof T]-?: Record<never, never> extends Pick<T, K> ? never : K }[keyof T];
/** Keys that some member of a union really has (distributes over the union). */
type VariantKeys<T> = T extends unknown ? DefinedKeys<T> : never;
type KeySpec<T> = { [K in DefinedKeys<T>]: K extends RequiredKeys<T> ? 'required' : 'optional' };

function keySpec<T>(spec: KeySpec<T>): Record<string, 'required' | 'optional'> {
  return spec as Record<string, 'required' | 'optional'>;
}

interface ObjectView {
  properties: string[];
  required: string[];
}

function view(node: SchemaNode, extraRequired: string[] = [], excluded: string[] = []): ObjectView {
  return {
    properties: Object.keys(node.properties ?? {})
      .filter((k) => !excluded.includes(k))
      .sort(),
    required: [...new Set([...(node.required ?? []), ...extraRequired])].sort(),
  };
}

function specView(spec: Record<string, 'required' | 'optional'>): ObjectView {
  return {
    properties: Object.keys(spec).sort(),
    required: Object.keys(spec)
      .filter((k) => spec[k] === 'required')
      .sort(),
  };
}

function def(name: SchemaName, defName: string): SchemaNode {
  const node = schemas[name].$defs?.[defName];
  if (!node) throw new Error(`${name}.schema.json has no $defs/${defName}`);
  return node;
}

function requiredIn(node: unknown): string[] {
  return ((node as SchemaNode | undefined)?.required ?? []) as string[];
}

const env = schemas.environments;
const ent = schemas.entity;
const skl = schemas.skill;
const tst = schemas.test;
const entOneOf = ent.oneOf as SchemaNode[];
const tstAnyOf = tst.anyOf as SchemaNode[];
const trigger = def('skill', 'trigger');
const triggerOneOf = trigger.oneOf as SchemaNode[];
const action = def('skill', 'action');

function actionView(kind: string): ObjectView {
  const all = Object.keys(action.properties ?? {});
  // Only with exactly one key does each property stand for a whole variant.
  if (action.minProperties !== 1 || action.maxProperties !== 1) throw new Error('action must have exactly one key');
  return view(
    action,
    [kind],
    all.filter((k) => k !== kind),
  );
}

const pairs: Array<[string, Record<string, 'required' | 'optional'>, ObjectView]> = [
  [
    'Manifest',
    keySpec<Manifest>({
      apiVersion: 'required',
      bot: 'required',
      language: 'optional',
      maxVersions: 'optional',
      nluThreshold: 'optional',
      limits: 'optional',
      versions: 'required',
      environments: 'required',
    }),
    view(env),
  ],
  [
    'VersionEntry',
    keySpec<VersionEntry>({ description: 'optional', createdFrom: 'optional', tokenSha256: 'required' }),
    view(def('environments', 'versionEntry')),
  ],
  [
    'EnvironmentEntry',
    keySpec<EnvironmentEntry>({
      version: 'required',
      commit: 'optional',
      tokenSha256: 'required',
      description: 'optional',
      channels: 'optional',
    }),
    view(def('environments', 'environmentEntry')),
  ],
  [
    'ChannelEntry',
    keySpec<ChannelEntry>({ name: 'required', type: 'required', secretSha256: 'required' }),
    view(def('environments', 'channelEntry')),
  ],
  [
    'Intent',
    keySpec<Intent>({ slug: 'required', description: 'optional', language: 'optional', expressions: 'required' }),
    view(schemas.intent),
  ],
  [
    // The schema lists every entity key at the top and picks the kind in oneOf; each TS
    // variant is the top level minus the other kind's keys plus its own oneOf branch.
    'ValueListEntity',
    keySpec<ValueListEntity>({ slug: 'required', description: 'optional', fuzzy: 'optional', values: 'required' }),
    view(ent, requiredIn(entOneOf[0]), ['regex', 'flags']),
  ],
  [
    'RegexEntity',
    keySpec<RegexEntity>({
      slug: 'required',
      description: 'optional',
      fuzzy: 'optional',
      regex: 'required',
      flags: 'optional',
    }),
    view(ent, requiredIn(entOneOf[1]), ['values']),
  ],
  ['EntityValue', keySpec<EntityValue>({ value: 'required', synonyms: 'optional' }), view(def('entity', 'value'))],
  [
    // TriggeredSkill is the schema's `else` branch, FallbackSkill its `if` branch.
    'TriggeredSkill',
    keySpec<TriggeredSkill>({
      slug: 'required',
      description: 'optional',
      fallback: 'optional',
      triggers: 'required',
      requirements: 'optional',
      actions: 'required',
    }),
    view(skl, requiredIn(skl.else)),
  ],
  [
    'FallbackSkill',
    keySpec<FallbackSkill>({
      slug: 'required',
      description: 'optional',
      fallback: 'required',
      triggers: 'optional',
      requirements: 'optional',
      actions: 'required',
    }),
    view(skl, requiredIn(skl.if)),
  ],
  // A trigger is one schema object listing every kind's keys, the kind picked by oneOf;
  // each TS variant is that object minus the other kinds' keys plus its own branch.
  [
    'IntentTrigger',
    keySpec<IntentTrigger>({ intent: 'required' }),
    view(trigger, requiredIn(triggerOneOf[0]), ['entity', 'memory', 'exists', 'equals']),
  ],
  [
    'EntityTrigger',
    keySpec<EntityTrigger>({ entity: 'required' }),
    view(trigger, requiredIn(triggerOneOf[1]), ['intent', 'memory', 'exists', 'equals']),
  ],
  [
    'MemoryTrigger',
    keySpec<MemoryTrigger>({ memory: 'required', exists: 'optional', equals: 'optional' }),
    view(trigger, requiredIn(triggerOneOf[2]), ['intent', 'entity']),
  ],
  [
    'Requirement',
    keySpec<Requirement>({ entity: 'required', alias: 'required', ask: 'required' }),
    view(def('skill', 'requirement')),
  ],
  ['Message', keySpec<Message>({ type: 'required', content: 'required' }), view(def('skill', 'message'))],
  // An action is one schema object with exactly one key (maxProperties: 1); each TS
  // variant is that one key, required.
  ['ReplyAction', keySpec<ReplyAction>({ reply: 'required' }), actionView('reply')],
  ['SetAction', keySpec<SetAction>({ set: 'required' }), actionView('set')],
  ['UnsetAction', keySpec<UnsetAction>({ unset: 'required' }), actionView('unset')],
  ['EndAction', keySpec<EndAction>({ end: 'required' }), actionView('end')],
  [
    'TestFile (with utterances)',
    keySpec<Extract<TestFile, { utterances: unknown[] }>>({
      description: 'optional',
      language: 'optional',
      utterances: 'required',
      minIntentAccuracy: 'optional',
      conversations: 'optional',
    }),
    view(tst, requiredIn(tstAnyOf[0])),
  ],
  [
    'TestFile (with conversations)',
    keySpec<Extract<TestFile, { conversations: unknown[] }>>({
      description: 'optional',
      language: 'optional',
      utterances: 'optional',
      minIntentAccuracy: 'optional',
      conversations: 'required',
    }),
    view(tst, requiredIn(tstAnyOf[1])),
  ],
  [
    'UtteranceTest',
    keySpec<UtteranceTest>({ text: 'required', intent: 'required', entities: 'optional' }),
    view(def('test', 'utterance')),
  ],
  [
    'ScriptedConversation',
    keySpec<ScriptedConversation>({ name: 'required', steps: 'required' }),
    view(def('test', 'conversation')),
  ],
  [
    'ConversationStep',
    keySpec<ConversationStep>({ say: 'required', expect: 'required', expectSkill: 'optional' }),
    view(def('test', 'step')),
  ],
];

// Closed sets of literals: `satisfies Record<Union, true>` fails to compile if a member is
// missing or extra, and the test compares the keys with the schema's enum.
const messageTypes = {
  text: true,
  quickReplies: true,
  buttons: true,
  card: true,
  picture: true,
  list: true,
} satisfies Record<MessageType, true>;
const channelTypes = { webhook: true } satisfies Record<ChannelType, true>;
const apiVersion: Manifest['apiVersion'] = 'botver/v1';
// The per-variant checks above cannot see a kind added on one side only; these can.
const actionKeys = { reply: true, set: true, unset: true, end: true } satisfies Record<VariantKeys<Action>, true>;
const triggerKeys = { intent: true, entity: true, memory: true, exists: true, equals: true } satisfies Record<
  VariantKeys<Trigger>,
  true
>;

// ---------------------------------------------------------------------------------------

describe('schemas', () => {
  it.each(schemaNames)('%s compiles in strict mode and is identified', (name) => {
    expect(validators[name]).toBeTypeOf('function');
    expect(schemas[name].$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schemas[name].$id).toBe(`https://botver.dev/schemas/${name}.schema.json`);
  });

  // The descriptions are the user documentation, and unknown keys must be errors: walk every
  // object schema (root and $defs) and check both.
  it.each(schemaNames)('%s documents every property and closes every object', (name) => {
    const problems: string[] = [];
    const nodes: Array<[string, SchemaNode]> = [
      ['#', schemas[name]],
      ...Object.entries(schemas[name].$defs ?? {}).map(([k, v]): [string, SchemaNode] => [`#/$defs/${k}`, v]),
    ];
    for (const [path, node] of nodes) {
      if (typeof node.description !== 'string') problems.push(`${path} has no description`);
      if (node.type !== 'object') continue;
      const isMap = node.propertyNames !== undefined;
      if (!isMap && node.additionalProperties !== false) problems.push(`${path} allows unknown keys`);
      for (const [key, prop] of Object.entries(node.properties ?? {})) {
        if (typeof prop !== 'object' || typeof prop.description !== 'string') {
          problems.push(`${path}/properties/${key} has no description`);
        }
        // A map nested in a property must still close its values.
        if (typeof prop === 'object' && prop.propertyNames !== undefined && prop.additionalProperties === undefined) {
          problems.push(`${path}/properties/${key} accepts any value`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('types mirror schemas', () => {
  it.each(pairs)('%s has the same keys, required alike', (_name, spec, schemaView) => {
    expect(specView(spec)).toEqual(schemaView);
  });

  it('closed sets of literals and kinds match', () => {
    const enumOf = (node: SchemaNode, key: string): string[] =>
      [...(((node.properties?.[key] as SchemaNode | undefined)?.enum ?? []) as string[])].sort();
    expect(Object.keys(messageTypes).sort()).toEqual(enumOf(def('skill', 'message'), 'type'));
    expect(Object.keys(channelTypes).sort()).toEqual(enumOf(def('environments', 'channelEntry'), 'type'));
    expect((env.properties?.apiVersion as SchemaNode | undefined)?.const).toBe(apiVersion);
    expect(Object.keys(actionKeys).sort()).toEqual(Object.keys(action.properties ?? {}).sort());
    expect(Object.keys(triggerKeys).sort()).toEqual(Object.keys(trigger.properties ?? {}).sort());
  });

  it('typed samples using every field validate', () => {
    expectValid('environments', fullManifest);
    expectValid('intent', fullIntent);
    expectValid('entity', fullValueEntity);
    expectValid('entity', fullRegexEntity);
    expectValid('skill', fullSkill);
    expectValid('skill', fullFallback);
    expectValid('test', fullTestFile);
  });
});

// ---------------------------------------------------------------------------------------

const folderSchemas: Array<[string, SchemaName]> = [
  ['training/intents', 'intent'],
  ['training/entities', 'entity'],
  ['skills', 'skill'],
  ['tests', 'test'],
];

const exampleFiles: Array<[string, SchemaName]> = folderSchemas.flatMap(([folder, schema]) =>
  readdirSync(join(exampleDir, folder))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f): [string, SchemaName] => [`${folder}/${f}`, schema]),
);

function readExample(path: string): unknown {
  return parse(readFileSync(join(exampleDir, path), 'utf8'));
}

describe('examples/awesome-bot', () => {
  it('has the DESIGN §3 layout and nothing unexpected at the top', () => {
    const top = readdirSync(exampleDir).sort();
    expect(top).toEqual(['bot.yaml', 'skills', 'tests', 'training']);
    expect(readdirSync(join(exampleDir, 'training')).sort()).toEqual(['entities', 'intents']);
    expect(exampleFiles.filter(([, s]) => s === 'intent').length).toBeGreaterThanOrEqual(6);
  });

  it.each(exampleFiles)('%s validates against the %s schema', (path, schema) => {
    expectValid(schema, readExample(path));
  });

  it.each(exampleFiles.filter(([, s]) => s !== 'test'))('%s has a slug equal to its file name', (path) => {
    const data = readExample(path) as { slug: string };
    expect(`${data.slug}.yaml`).toBe(path.split('/').pop());
  });

  it('bot.yaml carries the import metadata', () => {
    const meta = readExample('bot.yaml') as Record<string, unknown>;
    expect(Object.keys(meta).sort()).toEqual(['bot', 'description', 'language']);
    expect(meta.bot).toBe('awesome-bot');
    expect(meta.language).toBe('en');
  });

  // Cheap cross-file sanity so the example stays coherent; the real rules live in code.
  it('references only intents, entities and skills that exist', () => {
    const slugs = (folder: string): Set<string> =>
      new Set(readdirSync(join(exampleDir, folder)).map((f) => f.replace(/\.yaml$/, '')));
    const intents = slugs('training/intents');
    const entities = slugs('training/entities');
    const skills = slugs('skills');
    const missing: string[] = [];
    for (const skillSlug of skills) {
      const skill = readExample(`skills/${skillSlug}.yaml`) as Skill;
      for (const t of skill.triggers ?? []) {
        if (t.intent !== undefined && !intents.has(t.intent)) missing.push(`${skillSlug}: intent ${t.intent}`);
        if (t.entity !== undefined && !entities.has(t.entity)) missing.push(`${skillSlug}: entity ${t.entity}`);
      }
      for (const r of skill.requirements ?? []) {
        if (!entities.has(r.entity)) missing.push(`${skillSlug}: entity ${r.entity}`);
      }
    }
    for (const f of readdirSync(join(exampleDir, 'tests'))) {
      const file = readExample(`tests/${f}`) as TestFile;
      for (const u of file.utterances ?? []) {
        if (u.intent !== null && !intents.has(u.intent)) missing.push(`${f}: intent ${u.intent}`);
        for (const e of Object.keys(u.entities ?? {})) if (!entities.has(e)) missing.push(`${f}: entity ${e}`);
      }
      for (const c of file.conversations ?? []) {
        for (const s of c.steps) {
          if (s.expectSkill !== undefined && !skills.has(s.expectSkill)) missing.push(`${f}: skill ${s.expectSkill}`);
        }
      }
    }
    expect(missing).toEqual([]);
    const fallbacks = [...skills].filter((s) => (readExample(`skills/${s}.yaml`) as Skill).fallback === true);
    expect(fallbacks).toEqual(['fallback']);
  });

  it('keeps expressions distinct between intents', () => {
    const seen = new Map<string, string>();
    const clashes: string[] = [];
    for (const [path, schema] of exampleFiles) {
      if (schema !== 'intent') continue;
      const intent = readExample(path) as Intent;
      expect(intent.expressions.length, path).toBeGreaterThanOrEqual(12);
      for (const e of intent.expressions) {
        const norm = e
          .toLowerCase()
          .replace(/[^a-z0-9 ]/g, '')
          .trim();
        const other = seen.get(norm);
        if (other !== undefined) clashes.push(`"${e}" in ${intent.slug} and ${other}`);
        seen.set(norm, intent.slug);
      }
    }
    expect(clashes).toEqual([]);
  });

  it('the regex entity compiles and matches an order number', () => {
    const entity = readExample('training/entities/order-number.yaml') as RegexEntity;
    const re = new RegExp(entity.regex, entity.flags ?? '');
    expect('where is AB1234?'.match(re)?.[0]).toBe('AB1234');
    expect('#CD5678'.match(re)?.[0]).toBe('#CD5678');
    expect(re.test('ab12')).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------

describe('environments schema', () => {
  const manifest = parse(designManifest) as Manifest;

  it('accepts the DESIGN §2 example and a minimal manifest', () => {
    expectValid('environments', manifest);
    expectValid('environments', {
      apiVersion: 'botver/v1',
      bot: 'b',
      versions: { v1: { tokenSha256: token('0') } },
      environments: { production: { version: 'v1', tokenSha256: token('1') } },
    });
  });

  it('rejects an unknown key at the top and inside entries', () => {
    expectInvalid(
      'environments',
      { ...clone(manifest), owner: 'me' },
      {
        keyword: 'additionalProperties',
        instancePath: '',
        params: { additionalProperty: 'owner' },
      },
    );
    const m = clone(manifest) as unknown as { versions: Record<string, Record<string, unknown>> };
    m.versions.v1!.token = 'plain-text';
    expectInvalid('environments', m, {
      keyword: 'additionalProperties',
      instancePath: '/versions/v1',
      params: { additionalProperty: 'token' },
    });
  });

  it('rejects a bad tokenSha256', () => {
    for (const bad of [token('A'), 'a'.repeat(63), 'a'.repeat(65), token('g'), '']) {
      const m = clone(manifest);
      m.environments.staging!.tokenSha256 = bad;
      expectInvalid('environments', m, { keyword: 'pattern', instancePath: '/environments/staging/tokenSha256' });
    }
    const m = clone(manifest);
    m.environments.production!.channels![0]!.secretSha256 = 'secret';
    expectInvalid('environments', m, {
      keyword: 'pattern',
      instancePath: '/environments/production/channels/0/secretSha256',
    });
  });

  it('rejects bad names as map keys and as references', () => {
    const m = clone(manifest);
    m.versions['V2 beta'] = { tokenSha256: token('e') };
    expectInvalid('environments', m, { keyword: 'pattern', instancePath: '/versions' });
    const n = clone(manifest);
    n.environments.staging!.version = '-v2';
    expectInvalid('environments', n, { keyword: 'pattern', instancePath: '/environments/staging/version' });
    const long = clone(manifest);
    long.versions['a'.repeat(64)] = { tokenSha256: token('e') };
    expectInvalid('environments', long, { keyword: 'pattern', instancePath: '/versions' });
  });

  it('rejects a wrong apiVersion, a short commit, an unknown channel type, missing keys', () => {
    expectInvalid('environments', { ...clone(manifest), apiVersion: 'botver/v2' }, { keyword: 'const' });
    const c = clone(manifest);
    c.environments.production!.commit = '3c1b0e5';
    expectInvalid('environments', c, { keyword: 'pattern', instancePath: '/environments/production/commit' });
    const t = clone(manifest) as unknown as { environments: { production: { channels: Array<{ type: string }> } } };
    t.environments.production.channels[0]!.type = 'slack';
    expectInvalid('environments', t, { keyword: 'enum' });
    const { environments: _dropped, ...noEnvs } = clone(manifest);
    expectInvalid('environments', noEnvs, { keyword: 'required', params: { missingProperty: 'environments' } });
    expectInvalid('environments', { ...clone(manifest), maxVersions: 0 }, { keyword: 'minimum' });
    expectInvalid('environments', { ...clone(manifest), nluThreshold: 1.5 }, { keyword: 'maximum' });
    expectInvalid('environments', { ...clone(manifest), language: 'English' }, { keyword: 'pattern' });
  });
});

describe('intent schema', () => {
  it('rejects an unknown key', () => {
    expectInvalid(
      'intent',
      { ...fullIntent, examples: ['hi'] },
      {
        keyword: 'additionalProperties',
        params: { additionalProperty: 'examples' },
      },
    );
  });

  it('rejects missing, empty or blank expressions', () => {
    expectInvalid('intent', { slug: 'greetings' }, { keyword: 'required', params: { missingProperty: 'expressions' } });
    expectInvalid('intent', { slug: 'greetings', expressions: [] }, { keyword: 'minItems' });
    expectInvalid(
      'intent',
      { slug: 'greetings', expressions: ['hi', '  '] },
      {
        keyword: 'pattern',
        instancePath: '/expressions/1',
      },
    );
    expectInvalid('intent', { slug: 'greetings', expressions: ['hi', 3] }, { keyword: 'type' });
  });

  it('rejects a bad slug', () => {
    for (const slug of ['Greetings', 'order pizza', '-greet', '', 'a'.repeat(64), 'greet/x']) {
      expectInvalid('intent', { slug, expressions: ['hi'] }, { keyword: 'pattern', instancePath: '/slug' });
    }
    expectValid('intent', { slug: 'a'.repeat(63), expressions: ['hi'] });
  });
});

describe('entity schema', () => {
  it('rejects both values and regex, and neither', () => {
    expectInvalid('entity', { slug: 'x', values: [{ value: 'a' }], regex: 'a' }, { keyword: 'oneOf' });
    expectInvalid('entity', { slug: 'x', description: 'nothing to match' }, { keyword: 'oneOf' });
  });

  it('rejects flags without regex, bad flags and an empty value list', () => {
    expectInvalid('entity', { slug: 'x', values: [{ value: 'a' }], flags: 'i' }, { keyword: 'dependentRequired' });
    expectInvalid('entity', { slug: 'x', regex: 'a', flags: 'g' }, { keyword: 'pattern', instancePath: '/flags' });
    expectInvalid('entity', { slug: 'x', values: [] }, { keyword: 'minItems' });
  });

  it('rejects unknown keys in values', () => {
    expectInvalid(
      'entity',
      { slug: 'x', values: [{ value: 'a', synonym: ['b'] }] },
      {
        keyword: 'additionalProperties',
        instancePath: '/values/0',
      },
    );
  });
});

describe('skill schema', () => {
  it('rejects an action with two kinds, and malformed actions', () => {
    const withActions = (actions: unknown[]): unknown => ({ ...clone(fullSkill), actions });
    const twoKinds = errorsOf('skill', withActions([{ reply: 'hi', end: true }]));
    // One clear error, not one per alternative.
    expect(twoKinds).toEqual([expect.objectContaining({ keyword: 'maxProperties', instancePath: '/actions/0' })]);
    expectInvalid('skill', withActions([{}]), { keyword: 'minProperties', instancePath: '/actions/0' });
    expectInvalid('skill', withActions([{ replay: 'hi' }]), {
      keyword: 'additionalProperties',
      params: { additionalProperty: 'replay' },
    });
    expectInvalid('skill', withActions([{ end: false }]), { keyword: 'const', instancePath: '/actions/0/end' });
    expectInvalid('skill', withActions([{ set: { 'bad-key': 1 } }]), { keyword: 'propertyNames' });
    expectInvalid('skill', withActions([{ set: {} }]), { keyword: 'minProperties' });
    expectInvalid('skill', withActions([{ set: { size: { value: 'large' } } }]), {
      keyword: 'anyOf',
      instancePath: '/actions/0/set/size',
    });
    expectInvalid('skill', withActions([{ unset: [] }]), { keyword: 'minItems' });
    expectInvalid('skill', withActions([]), { keyword: 'minItems' });
    expectInvalid('skill', withActions([{ reply: { type: 'video', content: 'x' } }]), { keyword: 'enum' });
    expectInvalid('skill', withActions([{ reply: { type: 'text' } }]), {
      keyword: 'required',
      params: { missingProperty: 'content' },
    });
  });

  it('rejects a trigger with two kinds', () => {
    const withTriggers = (triggers: unknown[]): unknown => ({ ...clone(fullSkill), triggers });
    expect(errorsOf('skill', withTriggers([{ intent: 'a', entity: 'b' }]))).toEqual([
      expect.objectContaining({ keyword: 'oneOf', instancePath: '/triggers/0' }),
    ]);
    expectInvalid('skill', withTriggers([{ intent: 'a', memory: 'b' }]), { keyword: 'oneOf' });
    expectInvalid('skill', withTriggers([{ intent: 'a', exists: true }]), {
      keyword: 'dependentRequired',
      params: expect.objectContaining({ missingProperty: 'memory' }),
    });
    expectInvalid('skill', withTriggers([{ memory: 'size', equals: null }]), { keyword: 'anyOf' });
    expectInvalid('skill', withTriggers([{}]), { keyword: 'oneOf' });
    expectInvalid('skill', withTriggers([{ intnet: 'a' }]), {
      keyword: 'additionalProperties',
      params: { additionalProperty: 'intnet' },
    });
  });

  it('requires triggers unless the skill is a fallback', () => {
    const { triggers: _t, ...noTriggers } = clone(fullSkill);
    expectInvalid('skill', noTriggers, { keyword: 'required', params: { missingProperty: 'triggers' } });
    expectInvalid('skill', { ...noTriggers, fallback: false }, { keyword: 'required' });
    expectValid('skill', { ...noTriggers, fallback: true });
    expectInvalid('skill', { ...clone(fullSkill), triggers: [] }, { keyword: 'minItems' });
  });

  it('rejects bad requirements', () => {
    const withReq = (r: unknown): unknown => ({ ...clone(fullSkill), requirements: [r] });
    expectInvalid('skill', withReq({ entity: 'pizza-size', alias: 'size' }), {
      keyword: 'required',
      params: { missingProperty: 'ask' },
    });
    expectInvalid('skill', withReq({ entity: 'pizza-size', alias: 'pizza-size', ask: 'Size?' }), {
      keyword: 'pattern',
      instancePath: '/requirements/0/alias',
    });
    expectInvalid('skill', withReq({ entity: 'pizza-size', alias: 'size', ask: '' }), { keyword: 'oneOf' });
  });

  it('rejects an unknown key and a bad slug', () => {
    expectInvalid(
      'skill',
      { ...clone(fullSkill), trigger: [{ intent: 'a' }] },
      {
        keyword: 'additionalProperties',
        params: { additionalProperty: 'trigger' },
      },
    );
    expectInvalid('skill', { ...clone(fullSkill), slug: 'Order_Pizza' }, { keyword: 'pattern', instancePath: '/slug' });
  });
});

describe('test schema', () => {
  it('needs utterances or conversations', () => {
    expectInvalid('test', { description: 'empty' }, { keyword: 'anyOf' });
    expectValid('test', { utterances: [{ text: 'hi', intent: 'greetings' }] });
    expectValid('test', { conversations: [{ name: 'c', steps: [{ say: 'hi', expect: ['Hello'] }] }] });
  });

  it('requires intent, allowing null, and rejects unknown keys', () => {
    expectInvalid(
      'test',
      { utterances: [{ text: 'hi' }] },
      {
        keyword: 'required',
        params: { missingProperty: 'intent' },
      },
    );
    expectInvalid('test', { utterances: [{ text: 'hi', intent: 'Greet Me' }] }, { keyword: 'anyOf' });
    expectInvalid(
      'test',
      { utterances: [{ text: 'hi', intent: null, entity: {} }] },
      {
        keyword: 'additionalProperties',
      },
    );
    expectInvalid(
      'test',
      { utterances: [{ text: 'hi', intent: null, entities: { size: 3 } }] },
      {
        keyword: 'type',
      },
    );
  });

  it('rejects malformed conversation steps', () => {
    expectInvalid('test', { conversations: [{ name: 'c', steps: [] }] }, { keyword: 'minItems' });
    expectInvalid(
      'test',
      { conversations: [{ name: 'c', steps: [{ say: 'hi', expect: 'Hello' }] }] },
      {
        keyword: 'type',
      },
    );
    expectInvalid(
      'test',
      { conversations: [{ name: 'c', steps: [{ say: 'hi' }] }] },
      {
        keyword: 'required',
        params: { missingProperty: 'expect' },
      },
    );
  });
});

it('every schema file is covered by this test', () => {
  const files = readdirSync(schemaDir)
    .filter((f) => f.endsWith('.schema.json'))
    .sort();
  expect(files).toEqual(schemaNames.map((n) => `${n}.schema.json`).sort());
  expect(existsSync(join(exampleDir, 'tests', 'smoke.yaml'))).toBe(true);
});
