import { assertValidName } from '../model/names.js';
import { generateToken, sha256Hex, SECRET_PREFIX } from '../model/tokens.js';
import { AlreadyExistsError, NotFoundError, UsageError } from '../errors.js';
import type { BotRepo } from './bot-repo.js';

// Tokens and channel secrets: generated here, shown once by the caller, stored as SHA-256.

export type TokenOwner = { version: string } | { environment: string };

export async function rotateToken(repo: BotRepo, owner: TokenOwner) {
  const token = generateToken();
  const kind = 'version' in owner ? 'version' : 'environment';
  const name = 'version' in owner ? owner.version : owner.environment;
  const result = await repo.updateManifest(async (m) => {
    const exists = kind === 'version' ? m.version(name) : m.environment(name);
    if (!exists) throw new NotFoundError(kind, name);
    m.set([kind === 'version' ? 'versions' : 'environments', name, 'tokenSha256'], sha256Hex(token));
    return { message: `rotate the token of ${kind} ${name}`, result: { kind, name } };
  });
  return { ...result, token };
}

export const CHANNEL_TYPES = ['webhook'] as const;

export async function addChannel(repo: BotRepo, environment: string, name: string, type = 'webhook') {
  assertValidName('channel', name);
  if (!(CHANNEL_TYPES as readonly string[]).includes(type))
    throw new UsageError(`unknown channel type "${type}" (known: ${CHANNEL_TYPES.join(', ')})`);
  const secret = generateToken(SECRET_PREFIX);
  const result = await repo.updateManifest(async (m) => {
    const env = m.environment(environment);
    if (!env) throw new NotFoundError('environment', environment);
    const taken = m.findChannel(name);
    if (taken) throw new AlreadyExistsError('channel', name, `it is connected to environment ${taken.environment}`);
    const entry = { name, type, secretSha256: sha256Hex(secret) };
    const count = env.channels?.length ?? 0;
    m.set(['environments', environment, 'channels', ...(count ? [count] : [])], count ? entry : [entry]);
    return {
      message: `connect channel ${name} (${type}) to environment ${environment}`,
      result: { environment, name, type },
    };
  });
  return { ...result, secret };
}

export async function removeChannel(repo: BotRepo, name: string) {
  return repo.updateManifest(async (m) => {
    const found = m.findChannel(name);
    if (!found) throw new NotFoundError('channel', name);
    const count = m.environment(found.environment)!.channels!.length;
    // The last channel takes its `channels:` key with it rather than leaving `channels: []`.
    const path = ['environments', found.environment, 'channels', ...(count > 1 ? [found.index] : [])];
    m.set(path, undefined);
    return {
      message: `disconnect channel ${name} from environment ${found.environment}`,
      result: { environment: found.environment, name },
    };
  });
}
