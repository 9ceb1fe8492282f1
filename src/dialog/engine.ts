import type { Action, Reply, Skill, Trigger } from '../content/types.js';
import { cloneData } from './limits.js';
import { renderDeep, renderTemplate } from './templates.js';

// The skills engine (docs/formats.md, skills), as the hosted platform's builder ran it. One message in:
//   1. the skill: a message carrying an entity the skill in progress still needs stays with
//      it; else another skill whose intent trigger matches takes over (the one in progress
//      waits on the skill stack); else the skill in progress continues; else the
//      first skill with a matching trigger (intent, then entity, then memory) starts;
//      otherwise the fallback skill answers;
//   2. its requirements are filled, in order, from the message's entities (into memory under
//      their alias); the first one still missing is asked for, and the skill stays in progress;
//   3. with every requirement filled, its actions run in order: reply, set, unset, end. Then
//      the skill on top of the stack (if any) resumes by asking for what it still misses (or,
//      when nothing is missing any more, by running its actions).
// `end` clears memory and the skill stack: the conversation is over.

export interface NlpEntity {
  value: string;
  raw: string;
  confidence: number;
  scalar?: number;
}

/** What the NLU said of the message (the /v2/request `results`, as far as the engine reads it). */
export interface NlpResults {
  intents: { slug: string; confidence: number }[];
  entities: Record<string, NlpEntity[]>;
  [key: string]: unknown;
}

export interface DialogState {
  memory: Record<string, unknown>;
  /** The skill in progress (waiting for a requirement), or null. */
  skill: string | null;
  /** Skills interrupted by another, most recent last. */
  skill_stack: string[];
  /** How many messages each skill has answered in this conversation. */
  skill_occurences: Record<string, number>;
}

export interface OutMessage {
  type: string;
  content: unknown;
}

export interface Turn {
  state: DialogState;
  messages: OutMessage[];
  /** The skill that answered (null when there is none, not even a fallback). */
  skill: string | null;
  /** True when an `end` action ran. */
  ended: boolean;
}

/** The message's occurrences of an entity (own keys only: "constructor" is an entity like any other). */
const found = (nlp: NlpResults, entity: string): NlpEntity[] =>
  Object.hasOwn(nlp.entities, entity) ? nlp.entities[entity]! : [];

/** A memory key holds something: an own property (not `constructor` or `toString` of every object) that is not null. */
const filled = (memory: Record<string, unknown>, key: string) =>
  Object.hasOwn(memory, key) && memory[key] !== undefined && memory[key] !== null;

export const emptyState = (): DialogState => ({ memory: {}, skill: null, skill_stack: [], skill_occurences: {} });

export function runTurn(skills: readonly Skill[], previous: DialogState, nlp: NlpResults): Turn {
  const { memory, skill: inProgress, skill_stack, skill_occurences } = previous;
  // Copied without recursion (cloneData): a stored state of any depth cannot overflow the stack.
  const state: DialogState = cloneData({ memory, skill: inProgress, skill_stack, skill_occurences });
  const bySlug = new Map(skills.map((s) => [s.slug, s]));
  const topIntent = nlp.intents[0]?.slug ?? null;
  const messages: OutMessage[] = [];
  const scope = () => ({ memory: state.memory, nlp });
  const reply = (r: Reply) =>
    messages.push(
      typeof r === 'string'
        ? { type: 'text', content: renderTemplate(r, scope()) }
        : { type: r.type, content: renderDeep(r.content, scope()) },
    );

  const active = state.skill ? (bySlug.get(state.skill) ?? null) : null;
  const matches = (skill: Skill, kind: 'intent' | 'entity' | 'memory') =>
    (skill.triggers ?? []).some((t) => triggerKind(t) === kind && triggerMatches(t, topIntent, nlp, state.memory));
  // A message that answers what the skill in progress asked for stays with it, whatever its intent.
  const answersActive =
    active?.requirements?.some((r) => !filled(state.memory, r.alias) && found(nlp, r.entity).length > 0) ?? false;
  const byIntent = answersActive
    ? undefined
    : (skills.find((s) => s !== active && !s.fallback && matches(s, 'intent')) ??
      skills.find((s) => s !== active && s.fallback && matches(s, 'intent')));
  let skill: Skill | undefined;
  if (byIntent) {
    // A skill taking over leaves the stack: it is running now, and must not be resumed later.
    state.skill_stack = state.skill_stack.filter((slug) => slug !== byIntent.slug);
    if (active) state.skill_stack.push(active.slug);
    skill = byIntent;
  } else if (active) {
    skill = active;
  } else {
    skill =
      skills.find((s) => matches(s, 'intent')) ??
      skills.find((s) => matches(s, 'entity')) ??
      skills.find((s) => matches(s, 'memory')) ??
      skills.find((s) => s.fallback);
  }
  if (!skill) {
    state.skill = null;
    return { state, messages, skill: null, ended: false };
  }
  state.skill_occurences[skill.slug] =
    (Object.hasOwn(state.skill_occurences, skill.slug) ? state.skill_occurences[skill.slug]! : 0) + 1;

  // Requirements, filled from this message's entities: each occurrence fills at most one.
  const used = new Map<string, number>();
  for (const req of skill.requirements ?? []) {
    if (filled(state.memory, req.alias)) continue;
    const occurrences = found(nlp, req.entity);
    const n = used.get(req.entity) ?? 0;
    if (n < occurrences.length) {
      state.memory[req.alias] = occurrences[n];
      used.set(req.entity, n + 1);
    }
  }
  const missing = (skill.requirements ?? []).find((r) => !filled(state.memory, r.alias));
  if (missing) {
    state.skill = skill.slug;
    reply(missing.ask);
    return { state, messages, skill: skill.slug, ended: false };
  }

  const ended = runActions(skill.actions, state, reply);
  if (ended) return { state: emptyState(), messages, skill: skill.slug, ended: true };
  // Done: the interrupted skill (if any) resumes by asking for what it still misses, or, when
  // the skill that interrupted it filled everything, by running its actions.
  state.skill = null;
  while (state.skill_stack.length) {
    const resumed = bySlug.get(state.skill_stack.pop()!);
    if (!resumed) continue;
    const next = resumed.requirements?.find((r) => !filled(state.memory, r.alias));
    if (next) {
      state.skill = resumed.slug;
      reply(next.ask);
      break;
    }
    if (runActions(resumed.actions, state, reply))
      return { state: emptyState(), messages, skill: skill.slug, ended: true };
  }
  return { state, messages, skill: skill.slug, ended: false };
}

function runActions(actions: readonly Action[], state: DialogState, reply: (r: Reply) => void): boolean {
  for (const action of actions) {
    if (action.reply !== undefined) reply(action.reply);
    else if (action.set !== undefined) Object.assign(state.memory, action.set);
    else if (action.unset !== undefined) for (const key of action.unset) delete state.memory[key];
    else if (action.end) return true;
  }
  return false;
}

const triggerKind = (t: Trigger): 'intent' | 'entity' | 'memory' =>
  t.intent !== undefined ? 'intent' : t.entity !== undefined ? 'entity' : 'memory';

function triggerMatches(
  t: Trigger,
  topIntent: string | null,
  nlp: NlpResults,
  memory: Record<string, unknown>,
): boolean {
  if (t.intent !== undefined) return t.intent === topIntent;
  if (t.entity !== undefined) return found(nlp, t.entity).length > 0;
  const present = filled(memory, t.memory);
  const value = present ? memory[t.memory] : undefined;
  if (t.exists !== undefined && present !== t.exists) return false;
  if (t.equals !== undefined) {
    const actual = value && typeof value === 'object' && 'value' in value ? (value as { value: unknown }).value : value;
    return present && (actual === t.equals || String(actual) === String(t.equals));
  }
  return t.exists !== undefined || present;
}
