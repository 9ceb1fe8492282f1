import { deeperThan } from './limits.js';

// Reply templates: `{{memory.size.value}}`, `{{nlp.intents.0.slug}}`. A path is looked up in
// plain data, segment by segment, own properties only; nothing is evaluated. A missing value
// renders as the empty string. Nothing here recurses without a bound: a value rendered whole
// (`{{memory}}`) is JSON only when it is shallow enough for JSON.stringify, and rich content is
// walked at most MAX_RENDER_DEPTH levels down.

const TEMPLATE = /\{\{\s*([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)\s*\}\}/g;
/** Levels of objects and arrays rendered: far more than any reply or memory value needs. */
export const MAX_RENDER_DEPTH = 64;

export function renderTemplate(text: string, scope: Record<string, unknown>): string {
  return text.replace(TEMPLATE, (_, path: string) => {
    let value: unknown = scope;
    for (const segment of path.split('.')) {
      if (value === null || typeof value !== 'object' || !Object.hasOwn(value, segment)) return '';
      value = (value as Record<string, unknown>)[segment];
    }
    if (value === null || value === undefined) return '';
    if (typeof value !== 'object') return String(value);
    // Too deep to stringify safely: rendered as missing, like any value that cannot be shown.
    return deeperThan(value, MAX_RENDER_DEPTH) ? '' : JSON.stringify(value);
  });
}

/**
 * Renders every string inside a rich message's content (buttons, cards, …). Below
 * MAX_RENDER_DEPTH levels the content is kept as written.
 */
export function renderDeep(value: unknown, scope: Record<string, unknown>, depth = 0): unknown {
  if (typeof value === 'string') return renderTemplate(value, scope);
  if (depth >= MAX_RENDER_DEPTH) return value;
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, scope, depth + 1));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, scope, depth + 1)]));
  return value;
}
