// The limits of a conversation's memory, and the checks that enforce them WITHOUT recursion:
// JSON.parse builds arbitrarily deep values iteratively (a 1 MB body can nest 500,000 arrays),
// but JSON.stringify, structuredClone and any recursive walk overflow the stack a few thousand
// levels down. So a value's depth is measured first, with an explicit stack, and nothing else
// looks at a value until it is known to be shallow.

/** A conversation's memory, as JSON (UTF-8 bytes): what the client sends and what is stored. */
export const MAX_MEMORY_BYTES = 64 * 1024;
/**
 * How deeply a conversation's memory may nest (the memory object itself is level 1; an entity
 * stored under an alias, `{value, raw, confidence}`, is level 2). Real bots need a handful.
 */
export const MAX_MEMORY_DEPTH = 32;

/**
 * Whether `value` nests objects or arrays deeper than `limit` levels (a scalar is depth 0, `{}`
 * and `[]` depth 1). Iterative, and it stops at the first value past the limit, so it costs at
 * most the size of the value's first `limit` levels.
 */
export function deeperThan(value: unknown, limit: number): boolean {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (typeof top.value !== 'object' || top.value === null) continue;
    const depth = top.depth + 1;
    if (depth > limit) return true;
    const children = Array.isArray(top.value) ? top.value : Object.values(top.value);
    for (const child of children) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth });
    }
  }
  return false;
}

/**
 * UTF-8 bytes of `JSON.stringify(value)`, counted without building the text: a 64 KB memory is
 * checked on every message, and building its JSON only to measure it was most of a message's
 * garbage (and so of the collector's pauses). Iterative, like deeperThan. Anything that is not
 * plain data (a toJSON method, a class instance) is measured by stringifying that part.
 */
export function jsonBytes(value: unknown): number {
  let bytes = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    bytes += scalarBytes(v) ?? 0;
    if (typeof v !== 'object' || v === null) continue;
    if ((!isPlain(v) && !Array.isArray(v)) || typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      bytes += Buffer.byteLength(JSON.stringify(v) ?? 'null', 'utf8');
      continue;
    }
    if (Array.isArray(v)) {
      bytes += 2 + Math.max(0, v.length - 1); // [ ] and the commas
      // An array's holes, undefined, functions and symbols are written as null.
      for (let i = v.length - 1; i >= 0; i--) stack.push(omitted(v[i]) ? null : v[i]);
      continue;
    }
    // An object's undefined, function and symbol members are left out.
    const entries = Object.entries(v).filter(([, child]) => !omitted(child));
    bytes += 2 + Math.max(0, entries.length - 1);
    for (const [key, child] of entries) {
      bytes += stringBytes(key) + 1; // "key":
      stack.push(child);
    }
  }
  return bytes;
}

const omitted = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/** Bytes of a scalar's JSON; undefined for objects and arrays (0 for what is left out). */
function scalarBytes(v: unknown): number | undefined {
  if (v === null) return 4;
  switch (typeof v) {
    case 'string':
      return stringBytes(v);
    case 'number':
      return Number.isFinite(v) ? String(v).length : 4; // NaN and ±Infinity are written null
    case 'boolean':
      return v ? 4 : 5;
    case 'object':
      return undefined;
    default:
      return 0;
  }
}

// Characters JSON.stringify escapes (quote, backslash, controls) or writes as \uXXXX when alone (surrogates).
const SPECIAL = /["\\\u0000-\u001f\ud800-\udfff]/;

/** UTF-8 bytes of a string's JSON, quotes included: JSON.stringify's escapes, counted. */
function stringBytes(s: string): number {
  if (!SPECIAL.test(s)) return Buffer.byteLength(s, 'utf8') + 2;
  let bytes = 2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c || c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d) bytes += 2;
    else if (c < 0x20) bytes += 6;
    else if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4; // a surrogate pair: one character of four bytes
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff)
      bytes += 6; // a lone surrogate: \udXXX
    else bytes += 3;
  }
  return bytes;
}

/** Why a memory breaks the limits, as [code, message], or null when it keeps them. */
export function memoryProblem(memory: unknown, what: string): ['MEMORY_TOO_DEEP' | 'MEMORY_TOO_LARGE', string] | null {
  if (deeperThan(memory, MAX_MEMORY_DEPTH))
    return ['MEMORY_TOO_DEEP', `${what} nests deeper than ${MAX_MEMORY_DEPTH} levels of objects and arrays`];
  if (jsonBytes(memory) > MAX_MEMORY_BYTES)
    return ['MEMORY_TOO_LARGE', `${what} is over ${MAX_MEMORY_BYTES} bytes of JSON`];
  return null;
}

/**
 * A deep copy of plain JSON-like data (objects, arrays, scalars), made with an explicit stack:
 * any depth, no recursion. What is not plain data (a function, a class instance) is kept as is.
 */
export function cloneData<T>(value: T): T {
  const copyOf = (v: unknown): unknown =>
    Array.isArray(v) ? new Array<unknown>(v.length) : v !== null && typeof v === 'object' && isPlain(v) ? {} : v;
  const root = copyOf(value);
  const stack: [unknown, unknown][] = [[value, root]];
  while (stack.length > 0) {
    const [from, to] = stack.pop()!;
    if (from === to) continue; // a scalar, or something kept as is
    const entries: [string | number, unknown][] = Array.isArray(from)
      ? from.map((v, i) => [i, v])
      : Object.entries(from as Record<string, unknown>);
    for (const [key, child] of entries) {
      const copy = copyOf(child);
      // defineProperty, not assignment: a "__proto__" key of parsed JSON stays an own property.
      Object.defineProperty(to, key, { value: copy, enumerable: true, writable: true, configurable: true });
      if (copy !== child) stack.push([child, copy]);
    }
  }
  return root as T;
}

const isPlain = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};
