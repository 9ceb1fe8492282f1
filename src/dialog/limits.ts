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

/** UTF-8 bytes of a value's JSON; only for a value deeperThan has passed (JSON.stringify recurses). */
export const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');

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
