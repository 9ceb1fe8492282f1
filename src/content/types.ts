// Shapes of the files botver reads: the manifest on the control branch (DESIGN §2) and the
// content of a version branch (DESIGN §3).
//
// The JSON Schemas in schemas/*.schema.json are the source of truth: they validate the YAML
// and their descriptions are the user documentation. These types mirror them one to one so
// that code can consume what a schema has already accepted; test/schemas.test.ts fails to
// compile or to pass when the two drift apart. Only types live here, so importing this file
// costs nothing at run time.
//
// Where the schema says "exactly one of" (entity kinds, trigger kinds, action kinds), the
// variants carry `?: never` for the others' keys: TypeScript then rejects a value mixing two
// kinds just as the schema does, and `'regex' in entity` narrows.

// ---------------------------------------------------------------------------------------
// Scalars. Plain aliases, not brands: values come straight out of YAML already validated,
// and a brand would force a cast at every read for no extra safety.

/** `^[a-z0-9][a-z0-9._-]{0,62}$`: names become branch names and URL segments. */
export type Name = string;
/** Same pattern as Name; slugs are referenced across files, so they must stay portable. */
export type Slug = string;
/** `^[a-zA-Z_][a-zA-Z0-9_]*$`, so that `{{memory.<key>.value}}` can reach it. */
export type MemoryKey = string;
/** 64 lower-case hex digits. Only digests are stored, never tokens or secrets. */
export type Sha256Hex = string;
/** A full 40-hex-digit commit id; abbreviations would be ambiguous across branches. */
export type CommitSha = string;
/** ISO 639 code, `^[a-z]{2,3}$`. */
export type LanguageCode = string;

// ---------------------------------------------------------------------------------------
// The manifest: environments.yaml on the control branch (schemas/environments.schema.json).

export interface Manifest {
  /** Lets a future incompatible format be refused rather than misread. */
  apiVersion: 'botver/v1';
  bot: string;
  /** Absent means 'en'. */
  language?: LanguageCode;
  /** Absent means 5, the limit of the platform this models. */
  maxVersions?: number;
  /** Absent means 0.5. Below it the NLU reports no intent and the fallback skill answers. */
  nluThreshold?: number;
  /** Absent keys keep their defaults (src/content/limits.ts, docs/formats.md#limits). */
  limits?: ManifestLimits;
  /** Keyed by version name, which is also the branch name. */
  versions: Record<Name, VersionEntry>;
  /** Keyed by environment name. */
  environments: Record<Name, EnvironmentEntry>;
}

/** What a version's content may hold; each a positive integer. */
export interface ManifestLimits {
  maxFileBytes?: number;
  maxVersionBytes?: number;
  maxFiles?: number;
  maxExpressions?: number;
  maxAliases?: number;
  maxDepth?: number;
  maxTreeDepth?: number;
}

export interface VersionEntry {
  description?: string;
  /** Informational only: versions are independent copies once created. */
  createdFrom?: Name;
  tokenSha256: Sha256Hex;
}

export interface EnvironmentEntry {
  version: Name;
  /** A pin; absent means follow the version branch's head. */
  commit?: CommitSha;
  tokenSha256: Sha256Hex;
  description?: string;
  /** Channels hang off the environment so a promotion never reconnects them. */
  channels?: ChannelEntry[];
}

export interface ChannelEntry {
  name: Name;
  type: ChannelType;
  secretSha256: Sha256Hex;
}

/** A union of one for now, so adding a kind later is a type-checked change everywhere. */
export type ChannelType = 'webhook';

// ---------------------------------------------------------------------------------------
// Training data: training/intents/<slug>.yaml and training/entities/<slug>.yaml.

/**
 * The reserved intent of out-of-scope examples: messages the bot must not take for any intent.
 * It is trained like an intent and never answered as one (docs/formats.md).
 */
export const OUT_OF_SCOPE = 'out-of-scope';

export interface Intent {
  slug: Slug;
  description?: string;
  /** Absent means the manifest's language. */
  language?: LanguageCode;
  /** At least one; each has a non-blank character. */
  expressions: string[];
}

interface EntityBase {
  slug: Slug;
  description?: string;
  /** Absent means true. Meaningless for regex entities, which match literally. */
  fuzzy?: boolean;
}

export interface ValueListEntity extends EntityBase {
  /** At least one. */
  values: EntityValue[];
  regex?: never;
  flags?: never;
}

export interface RegexEntity extends EntityBase {
  /** Searched for inside a message, so normally not anchored. */
  regex: string;
  /** Subset of `imsu`; `g` and `y` are left out because the matcher controls iteration. */
  flags?: string;
  values?: never;
}

/** Exactly one of a closed value list or a regex: both or neither is a schema error. */
export type Entity = ValueListEntity | RegexEntity;

export interface EntityValue {
  /** What the NLU reports, whichever synonym matched. */
  value: string;
  synonyms?: string[];
}

// ---------------------------------------------------------------------------------------
// Skills: skills/<slug>.yaml (schemas/skill.schema.json).

interface SkillBase {
  slug: Slug;
  description?: string;
  /** Asked in order; each filled one is stored in memory under its alias. */
  requirements?: Requirement[];
  /** At least one; run in order once every requirement is filled. */
  actions: Action[];
}

/** An ordinary skill: without a trigger nothing could ever start it. */
export interface TriggeredSkill extends SkillBase {
  fallback?: false;
  /** At least one; any one matching starts the skill. */
  triggers: Trigger[];
}

/** Answers when no other skill's trigger matches; triggers are optional. */
export interface FallbackSkill extends SkillBase {
  fallback: true;
  /** At least one when present. */
  triggers?: Trigger[];
}

/** The schema's if/else on `fallback`, as a union: `skill.fallback === true` narrows. */
export type Skill = TriggeredSkill | FallbackSkill;

/** What memory can hold besides entities filled by requirements. */
export type MemoryValue = string | number | boolean;

export interface IntentTrigger {
  intent: Slug;
  entity?: never;
  memory?: never;
  exists?: never;
  equals?: never;
}

export interface EntityTrigger {
  entity: Slug;
  intent?: never;
  memory?: never;
  exists?: never;
  equals?: never;
}

export interface MemoryTrigger {
  memory: MemoryKey;
  /** With neither exists nor equals the key must be set; with both, both must hold. */
  exists?: boolean;
  /** For an entity stored by a requirement, compared with its value. */
  equals?: MemoryValue;
  intent?: never;
  entity?: never;
}

/** Exactly one kind per item. */
export type Trigger = IntentTrigger | EntityTrigger | MemoryTrigger;

export interface Requirement {
  entity: Slug;
  /** The memory key, read back as `{{memory.<alias>.value}}`. */
  alias: MemoryKey;
  /** Repeated while the requirement is still missing. */
  ask: Reply;
}

/**
 * Plain text, which may contain templates such as `{{memory.size.value}}` or
 * `{{nlp.intents.0.slug}}`, or a rich message in the hosted platform's format.
 */
export type Reply = string | Message;

export type MessageType = 'text' | 'quickReplies' | 'buttons' | 'card' | 'picture' | 'list';

export interface Message {
  type: MessageType;
  /** Passed through to the channel, so its shape per type is the channel's concern. */
  content: unknown;
}

export interface ReplyAction {
  reply: Reply;
  set?: never;
  unset?: never;
  end?: never;
}

export interface SetAction {
  /** At least one key. */
  set: Record<MemoryKey, MemoryValue>;
  reply?: never;
  unset?: never;
  end?: never;
}

export interface UnsetAction {
  /** At least one key. */
  unset: MemoryKey[];
  reply?: never;
  set?: never;
  end?: never;
}

export interface EndAction {
  /** Only `true` is meaningful; the conversation ends and memory is cleared. */
  end: true;
  reply?: never;
  set?: never;
  unset?: never;
}

/** Exactly one kind per item. */
export type Action = ReplyAction | SetAction | UnsetAction | EndAction;

// ---------------------------------------------------------------------------------------
// Conversation tests: tests/<name>.yaml (schemas/test.schema.json).

interface TestFileBase {
  description?: string;
  /** Absent means the manifest's language. */
  language?: LanguageCode;
  /** The share of utterances that must get their intent (the file's utterances scored together); absent: all. */
  minIntentAccuracy?: number;
}

/** A test file with nothing to run would pass vacuously, so at least one list is required. */
export type TestFile =
  | (TestFileBase & { utterances: UtteranceTest[]; conversations?: ScriptedConversation[] })
  | (TestFileBase & { utterances?: UtteranceTest[]; conversations: ScriptedConversation[] });

export interface UtteranceTest {
  text: string;
  /** null asserts that no intent reaches the threshold (the fallback case). */
  intent: Slug | null;
  /**
   * Entity slug to expected value: the canonical value for a value-list entity, the matched
   * text for a regex entity. Unlisted entities are not checked, so tests stay focused.
   */
  entities?: Record<Slug, string>;
}

export interface ScriptedConversation {
  name: string;
  /** At least one; all sent in one conversation that starts from empty memory. */
  steps: ConversationStep[];
}

export interface ConversationStep {
  say: string;
  /** Exact texts after templates are filled, in order; [] asserts the bot stays silent. */
  expect: string[];
  expectSkill?: Slug;
}
