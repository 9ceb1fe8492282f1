// Reply templates: `{{memory.size.value}}`, `{{nlp.intents.0.slug}}`. A path is looked up in
// plain data, segment by segment, own properties only; nothing is evaluated. A missing value
// renders as the empty string.

const TEMPLATE = /\{\{\s*([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)\s*\}\}/g;

export function renderTemplate(text: string, scope: Record<string, unknown>): string {
  return text.replace(TEMPLATE, (_, path: string) => {
    let value: unknown = scope;
    for (const segment of path.split('.')) {
      if (value === null || typeof value !== 'object' || !Object.hasOwn(value, segment)) return '';
      value = (value as Record<string, unknown>)[segment];
    }
    if (value === null || value === undefined) return '';
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  });
}

/** Renders every string inside a rich message's content (buttons, cards, …). */
export function renderDeep(value: unknown, scope: Record<string, unknown>): unknown {
  if (typeof value === 'string') return renderTemplate(value, scope);
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, scope));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, scope)]));
  return value;
}
