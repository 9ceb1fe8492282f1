import { Router, type Request } from 'express';
import { expressBodyRoute, type BodyAnswer, type BodyRouteHandler } from '../body-route.js';
import { channelOwner } from '../auth.js';
import type { NluProvider } from '../../nlu/nlu-service.js';
import type { ConversationStore, Conversation } from '../../dialog/store.js';
import { emptyState, runTurn, type DialogState, type NlpResults } from '../../dialog/engine.js';
import { memoryProblem } from '../../dialog/limits.js';
import type { SnapshotSource } from '../snapshot.js';
import { clientOf, resolveToken, servedOf, type Served } from '../served.js';
import { HttpError, methodNotAllowed } from '../http-errors.js';
import { jsonBody } from '../json-body.js';
import type { Admission } from '../admission.js';
import { MAX_TEXT, noModel, platformResults } from './nlp.js';

// POST /build/v1/dialog and the conversation states: the hosted platform's builder API,
// answered by the skills of the version the token resolves to. A conversation keeps the
// version and commit it started on until it ends, even if its environment is promoted
// meanwhile: a user never meets half of one version and half of another.

const MAX_ID = 256;
/** A conversation's memory (client-sent and stored) is bounded in bytes and depth: src/dialog/limits.ts. */
export { MAX_MEMORY_BYTES, MAX_MEMORY_DEPTH } from '../../dialog/limits.js';

/**
 * One message of a conversation (POST /build/v1/dialog, a channel's webhook), after the token
 * and the parse: answered with the skills of the commit the conversation is on. `client` (the
 * token's or the channel's) prefixes the conversation's key. One handler serves both paths
 * (Express and fast-body.ts): it orders the messages of each conversation.
 */
export function dialogMessage(
  live: SnapshotSource,
  nlu: NluProvider,
  store: ConversationStore,
  admission: Admission,
): BodyRouteHandler {
  // Messages of one conversation are answered one after another (in this process): two at once
  // would both start from the same state and one turn would be lost.
  const queues = new Map<string, Promise<unknown>>();
  const inTurn = <T>(key: string, run: () => Promise<T>): Promise<T> => {
    const before = queues.get(key) ?? Promise.resolve();
    const mine = before.catch(() => {}).then(run);
    queues.set(key, mine);
    void mine.catch(() => {}).then(() => queues.get(key) === mine && queues.delete(key));
    return mine;
  };

  return async (current, keyPrefix, rawBody, res) => {
    // After the parse's turn (json-body.ts), the work is cut into more turns (check, analyse and
    // run the skills, store, answer; each a few hundred microseconds with a 64 KB memory), so
    // what another client waits for is one slice of turns, never a whole message (admission.ts).
    const nextTurn = () => admission.turn(keyPrefix, { admitted: true, res });
    await nextTurn();
    const body = dialogBody(rawBody);
    const key = `${keyPrefix}:${body.conversationId}`;
    return inTurn(key, async () => {
      const answer = async (locked: ConversationStore | undefined) => {
        await nextTurn();
        return turnOf(locked ?? store, current, key, body, nextTurn);
      };
      // A shared store (Redis) also orders the messages other processes answer.
      return store.withLock ? store.withLock(key, answer) : answer(store);
    });
  };

  async function turnOf(
    conversations: ConversationStore,
    current: Served,
    key: string,
    body: DialogBody,
    nextTurn: () => Promise<void>,
  ): Promise<BodyAnswer> {
    // A stored state that breaks the limits (written by another resolver with other limits, or
    // by hand into a shared store) is dropped: the conversation starts over rather than failing
    // every later message until it expires.
    const stored = await conversations.get(key);
    const previous = stored && usableState(stored) ? stored : undefined;

    // The commit answering: the conversation's own, else what the token serves now (or, while
    // its model trains, the commit of the model that answers meanwhile).
    let commit = previous?.commit;
    let version = previous?.version ?? current.version;
    if (!commit) {
      const choice = await nlu.choose(`${current.owner.kind}:${current.owner.name}`, current.content, current.version);
      if (!choice) throw noModel(nlu, current);
      commit = choice.commit;
      version = choice.version;
    }
    const content = commit === current.content.commit ? current.content : await live.content(commit);
    if (!content.bundle)
      throw new HttpError(
        'VERSION_UNAVAILABLE',
        `commit ${commit.slice(0, 12)} of this conversation no longer validates`,
      );
    const model = await nlu.modelFor(commit, () => ({ bundle: content.bundle!, language: current.snapshot.language }));
    const served: Served = { ...current, version, content };

    const language = body.language ?? previous?.language ?? current.snapshot.language;
    const analysis = body.text
      ? await model.analyse(body.text, language)
      : { language, intents: [], entities: [], sentiment: 0 };
    const nlp = platformResults(served, commit, body.text, analysis);
    const state = previous ?? { ...emptyState() };
    const merged = { ...state, memory: { ...state.memory, ...body.memory } };
    const turn = runTurn(content.bundle.skills, merged, nlp as unknown as NlpResults);
    // Checking and storing the new state, then answering, each serialize the memory: a turn each.
    await nextTurn();

    const conversation: Conversation = {
      ...turn.state,
      id: body.conversationId,
      language: analysis.language,
      version,
      commit,
      updatedAt: Date.now(),
    };
    // Client memory was checked on arrival; the skill's `set` actions can still grow it.
    const problem = memoryProblem(conversation.memory, "the conversation's memory would be");
    if (problem) throw new HttpError(problem[0], `${problem[1]}; nothing was stored`);
    if (turn.ended) await conversations.delete(key);
    else await conversations.set(key, conversation);
    await nextTurn();

    const top = nlp.intents[0];
    const attribution = {
      environment: current.environment,
      version,
      commit,
      intent: top?.slug ?? null,
      ...(top && { confidence: top.confidence }),
      skill: turn.skill,
      text: body.text,
    };
    const answer = {
      results: {
        messages: turn.messages,
        conversation: {
          id: body.conversationId,
          language: conversation.language,
          memory: conversation.memory,
          skill: turn.skill,
          skill_stack: conversation.skill_stack,
          skill_occurences: conversation.skill_occurences,
        },
        nlp,
      },
      message: 'Dialog rendered with success',
    };
    return { body: answer, attribution };
  }
}

export function dialogRoutes(
  live: SnapshotSource,
  store: ConversationStore,
  admission: Admission,
  converse: BodyRouteHandler,
): Router {
  const router = Router();
  const auth = resolveToken(live);
  const keyOf = (served: Served, id: string) => `${served.owner.kind}:${served.owner.name}:${id}`;
  // A connected channel is authenticated by its secret, then resolved as its environment's token.
  const channelAuth = resolveToken(live, (snapshot, req) =>
    channelOwner(snapshot, String(req.params.name), req.headers.authorization),
  );

  router
    .route('/build/v1/dialog')
    .post(auth, ...jsonBody(admission, clientOf), expressBodyRoute(converse, clientOf))
    .all(methodNotAllowed('POST'));

  // A connected channel posts its users' messages here with the channel's secret; they are
  // answered by the dialog of the version the channel's environment serves now. A channel is a
  // client of its own for fairness and conversation keys, apart from its environment's token.
  const channelClient = (req: Request) => `channel:${String(req.params.name)}`;
  router
    .route('/v1/channels/:name/webhook')
    .post(channelAuth, ...jsonBody(admission, channelClient), expressBodyRoute(converse, channelClient))
    .all(methodNotAllowed('POST'));

  // The path of the sapcai SDK, and the older one of the recastai SDK (no version in it).
  for (const path of [
    '/build/v1/users/:user/bots/:bot/versions/:version/builder/conversation_states/:id',
    '/build/v1/users/:user/bots/:bot/builders/v1/conversation_states/:id',
  ]) {
    router
      .route(path)
      .get(auth, async (req, res) => {
        const served = servedOf(res);
        const id = String(req.params.id);
        const c = await store.get(keyOf(served, id));
        // A state that breaks the limits is one the next message drops (see turnOf): not shown.
        if (!c || !usableState(c)) throw new HttpError('NOT_FOUND', `no conversation "${id.slice(0, MAX_ID)}"`);
        res.json({
          results: {
            id: c.id,
            language: c.language,
            memory: c.memory,
            skill: c.skill,
            skill_stack: c.skill_stack,
            skill_occurences: c.skill_occurences,
            version: c.version,
            commit: c.commit,
          },
          message: 'Conversation state rendered with success',
        });
      })
      .delete(auth, async (req, res) => {
        const served = servedOf(res);
        const id = String(req.params.id);
        if (!(await store.delete(keyOf(served, id))))
          throw new HttpError('NOT_FOUND', `no conversation "${id.slice(0, MAX_ID)}"`);
        res.json({ results: null, message: 'Conversation state reset with success' });
      })
      .all(methodNotAllowed('GET', 'DELETE'));
  }

  return router;
}

interface DialogBody {
  text: string;
  conversationId: string;
  memory: Record<string, unknown>;
  language?: string;
}

function dialogBody(raw: unknown): DialogBody {
  const b = (raw ?? {}) as Record<string, unknown>;
  const message = b.message as { type?: unknown; content?: unknown } | undefined;
  if (!message || typeof message !== 'object' || typeof message.type !== 'string')
    throw new HttpError('BAD_REQUEST', 'the body needs "message": {"type": "text", "content": "…"}');
  const id = b.conversation_id;
  if ((typeof id !== 'string' && typeof id !== 'number') || String(id).length === 0 || String(id).length > MAX_ID) {
    throw new HttpError('BAD_REQUEST', `the body needs "conversation_id", a string of 1 to ${MAX_ID} characters`);
  }
  if (b.memory !== undefined && (typeof b.memory !== 'object' || b.memory === null || Array.isArray(b.memory)))
    throw new HttpError('BAD_REQUEST', '"memory" must be an object');
  // Depth first, without recursion, before anything stringifies, stores or processes it.
  const problem = b.memory === undefined ? null : memoryProblem(b.memory, '"memory"');
  if (problem) throw new HttpError(problem[0], problem[1]);
  if (
    b.language !== undefined &&
    b.language !== null &&
    (typeof b.language !== 'string' || !/^[a-z]{2}$/.test(b.language))
  )
    throw new HttpError('BAD_REQUEST', '"language" is a two-letter ISO 639-1 code');
  const text = message.type === 'text' && typeof message.content === 'string' ? message.content : '';
  if (text.length > MAX_TEXT) throw new HttpError('BAD_REQUEST', `the message is longer than ${MAX_TEXT} characters`);
  return {
    text,
    conversationId: String(id),
    memory: (b.memory as Record<string, unknown>) ?? {},
    language: (b.language as string | null) ?? undefined,
  };
}

/** Whether a state from the store has the shape and keeps the limits the engine relies on. */
function usableState(c: DialogState): boolean {
  const plainObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  return (
    plainObject(c.memory) &&
    memoryProblem(c.memory, 'memory') === null &&
    (c.skill === null || typeof c.skill === 'string') &&
    Array.isArray(c.skill_stack) &&
    c.skill_stack.every((s) => typeof s === 'string') &&
    plainObject(c.skill_occurences) &&
    Object.values(c.skill_occurences).every((n) => typeof n === 'number')
  );
}
