// Built-in entities that NLP.js's default extractors get wrong or print to stdout (its number
// recognizer logs every match with console.log, and reads "ORD-1234" as -1234): numbers,
// ordinals and percentages are recognised here. email, url, phone and ip come from NLP.js.

export interface BuiltinMatch {
  entity: 'number' | 'ordinal' | 'percentage';
  raw: string;
  scalar: number;
  start: number;
}

const UNITS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
const ORDINAL_WORDS = ['', 'first', 'second', 'third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth', 'ninth', 'tenth', 'eleventh', 'twelfth'];

const WORD_VALUES = new Map<string, number>([...UNITS.map((w, i) => [w, i] as const), ...TENS.flatMap((w, i) => (w ? [[w, i * 10] as const] : [])), ['dozen', 12], ['a dozen', 12]]);
const WORDS = [...WORD_VALUES.keys()].sort((a, b) => b.length - a.length).join('|');

const PERCENTAGE = /(?<![\w.-])(-?\d+(?:[.,]\d+)?)\s?(?:%|percent\b|per cent\b)/giu;
const ORDINAL = new RegExp(`(?<![\\w.-])(?:(\\d+)(?:st|nd|rd|th)\\b|\\b(${ORDINAL_WORDS.filter(Boolean).join('|')})\\b)`, 'giu');
// A number not glued to letters, dashes or dots on either side ("ORD-1234", "v2", "555-123",
// "192.168.1.10", "2024-05-01" are not numbers); "1,000" is a thousand, "1,5" one and a half.
const DIGITS = /(?<![\w.,-])(-?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?))(?![\w%]|[.,-]\d|\s?(?:percent|per cent)\b)/giu;
const WORD_NUMBER = new RegExp(`\\b(?:(${TENS.filter(Boolean).join('|')})[- ](${UNITS.slice(1, 10).join('|')})|(${WORDS}))\\b`, 'giu');

export function recogniseBuiltins(text: string): BuiltinMatch[] {
  const out: BuiltinMatch[] = [];
  const taken: [number, number][] = [];
  const free = (start: number, end: number) => taken.every(([s, e]) => end <= s || start >= e);
  const add = (entity: BuiltinMatch['entity'], m: RegExpExecArray, scalar: number) => {
    const end = m.index + m[0].length;
    if (!free(m.index, end) || !Number.isFinite(scalar)) return;
    taken.push([m.index, end]);
    out.push({ entity, raw: m[0], scalar, start: m.index });
  };
  for (const m of text.matchAll(PERCENTAGE)) add('percentage', m, parseFloat(m[1]!.replace(',', '.')));
  for (const m of text.matchAll(ORDINAL)) add('ordinal', m, m[1] ? Number(m[1]) : ORDINAL_WORDS.indexOf(m[2]!.toLowerCase()));
  for (const m of text.matchAll(DIGITS)) add('number', m, parseNumber(m[1]!));
  for (const m of text.matchAll(WORD_NUMBER)) {
    const scalar = m[3] ? WORD_VALUES.get(m[3].toLowerCase())! : WORD_VALUES.get(m[1]!.toLowerCase())! + WORD_VALUES.get(m[2]!.toLowerCase())!;
    add('number', m, scalar);
  }
  return out.sort((a, b) => a.start - b.start);
}

/** "1,000.5" -> 1000.5; "1,5" -> 1.5 (a comma not followed by exactly three digits is decimal). */
function parseNumber(raw: string): number {
  return parseFloat(/,\d{3}(?:\D|$)/.test(raw) ? raw.replace(/,/g, '') : raw.replace(',', '.'));
}
