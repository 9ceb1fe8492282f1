// Structured JSON logs (one JSON object a line) through pino. Tokens and secrets never reach
// the output, by three layers:
//   1. pino's `redact` paths: the known places (req.headers.authorization, headers.authorization,
//      authorization, token, secret, x-hub-signature*) at the top level and up to two levels
//      down;
//   2. a deep scrub of every logged object and child logger's bindings (plain objects and
//      arrays, 8 levels deep): any key that names a credential (…token, …secret, password,
//      authorization, cookie, *signature*, apiKey) is replaced by "[Redacted]", whatever its
//      case or separators (adminToken, X-Hub-Signature-256);
//   3. text: botver's own credentials (bvt_…, bvs_…) anywhere, and "Bearer …", "Token …" and
//      "Basic …" credentials, in messages, string values and errors' message and stack.
// Objects that are not plain (an Express `req`, class instances) are logged as pino would; log
// picked fields (method, route, status), never a whole request.
// Logging the message text of users is the caller's decision (an explicit option), not ours.

import { pino, type Logger } from 'pino';

export const REDACTED = '[Redacted]';

const SENSITIVE_KEYS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'token',
  'secret',
  'password',
  'x-hub-signature',
  'x-hub-signature-256',
];

const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'req.headers["x-hub-signature"]',
  'req.headers["x-hub-signature-256"]',
  'res.headers["set-cookie"]',
  ...SENSITIVE_KEYS.flatMap((key) => {
    const k = /^[a-z]+$/.test(key) ? key : `["${key}"]`;
    const dot = k.startsWith('[') ? '' : '.';
    return [k, `*${dot}${k}`, `*.*${dot}${k}`, `headers${dot}${k}`];
  }),
];

export interface LoggerOptions {
  /** pino level: fatal, error, warn, info (default), debug, trace, silent. */
  level?: string;
  /** A stream, or a file descriptor (1 = stdout, 2 = stderr). Default stdout. */
  destination?: NodeJS.WritableStream | number;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const config = {
    level: options.level ?? 'info',
    base: { name: 'botver' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    formatters: {
      log: (object: Record<string, unknown>) => scrub(object, 0) as Record<string, unknown>,
    },
    serializers: {
      // The (formatted) message: credentials quoted in it are replaced.
      msg: (msg: unknown) => (typeof msg === 'string' ? scrubText(msg) : msg),
      // An error's message, stack and own fields can quote a header: scrubbed like any object.
      err: (err: unknown) => scrub(plain(pino.stdSerializers.err(err as Error)), 0),
    },
  };
  const destination = options.destination;
  const logger =
    destination === undefined
      ? pino(config)
      : typeof destination === 'number'
        ? pino(config, pino.destination({ dest: destination, sync: true }))
        : pino(config, destination);
  // pino applies neither `formatters.log` nor a custom `formatters.bindings` to a child's
  // bindings: scrub them here. Children are created from their parent's prototype, so this
  // own property covers grandchildren too.
  const child = logger.child;
  Object.defineProperty(logger, 'child', {
    configurable: true,
    writable: true,
    value(this: Logger, bindings: Record<string, unknown>, childOptions?: object) {
      return child.call(this, scrub(bindings, 0) as Record<string, unknown>, childOptions);
    },
  });
  return logger;
}

/** Whether a key names a credential: compared lower-case, with "-" and "_" removed. */
export function isSensitiveKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_]/g, '');
  return (
    k === 'authorization' ||
    k === 'proxyauthorization' ||
    k === 'cookie' ||
    k === 'setcookie' ||
    k.endsWith('token') ||
    k.endsWith('tokens') ||
    k.endsWith('secret') ||
    k.endsWith('secrets') ||
    k.endsWith('password') ||
    k.includes('signature') ||
    k === 'apikey'
  );
}

/** botver's own tokens and channel secrets (src/model/tokens.ts): `bvt_…`, `bvs_…`. */
const BOTVER_CREDENTIAL = /\bbv[ts]_[A-Za-z0-9_-]{8,}/g;
/** An HTTP credential after its scheme: "Bearer x", "Token x", "Basic x" (any case). */
const SCHEME_CREDENTIAL = /\b(Bearer|Token|Basic)(\s+)(?!(?:Bearer|Token|Basic)\b)([A-Za-z0-9._~+/=-]+)/gi;

/**
 * Credentials in free text replaced: botver tokens anywhere, and what follows an HTTP scheme
 * when it looks like a credential (a digit or a symbol, mixed case, or 24 characters and
 * more), so that prose such as "token expired" is left alone.
 */
export function scrubText(text: string): string {
  return text
    .replace(BOTVER_CREDENTIAL, REDACTED)
    .replace(SCHEME_CREDENTIAL, (match: string, scheme: string, space: string, credential: string) =>
      looksLikeCredential(credential) ? `${scheme}${space}${REDACTED}` : match,
    );
}

function looksLikeCredential(word: string): boolean {
  if (word === REDACTED.slice(1, -1)) return false;
  return /[0-9._~+/=-]/.test(word) || /[a-z][A-Z]/.test(word) || word.length >= 24;
}

const MAX_DEPTH = 8;

/** A serialized error (its prototype is pino's) as a plain object, causes included. */
function plain(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return typeof value === 'object' && value !== null ? { ...value } : value;
  }
}

/** A copy with sensitive keys redacted; the caller's objects are not changed. */
function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1));
  const proto = Object.getPrototypeOf(value);
  // Errors, Dates, Buffers… keep their own serializers; headers may be prototype-less.
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = isSensitiveKey(key) ? REDACTED : scrub(item, depth + 1);
  }
  return out;
}
