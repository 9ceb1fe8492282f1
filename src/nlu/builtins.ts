// The built-in entities (docs/formats.md: number, ordinal, percentage, email, url, phone, ip),
// recognised here rather than by NLP.js's default extractors, which print every number to
// stdout, read "ORD-1234" as -1234 and run on every message twice. Earlier kinds take their
// text first: a phone number's digits are not also numbers.
// Every pattern must stay linear on a 2,000-character message (bench/nlu-worst-case.js tries
// them on repeated fragments): a match may only start where the previous character could not
// continue it (the lookbehinds), and what follows a start is either bounded or unambiguous.

export interface BuiltinMatch {
  entity: 'email' | 'url' | 'ip' | 'phone' | 'number' | 'ordinal' | 'percentage';
  raw: string;
  /** For number, ordinal and percentage. */
  scalar?: number;
  start: number;
}

// `%` is in the lookbehind as in the local part: without it, "1%1%1%…" restarted at every digit (quadratic).
const EMAIL = /(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])/gu;
const URL = /\b(?:https?:\/\/|www\.)[^\s<>"']+[^\s<>"'.,;:!?)\]]/giu;
const IP = /(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w.])/gu;
// 7 to 15 digits in groups, optionally with a +country code and an (area) code.
const PHONE = /(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){1,4}(?![\w%])/gu;

const UNITS = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
const ORDINAL_WORDS = [
  '',
  'first',
  'second',
  'third',
  'fourth',
  'fifth',
  'sixth',
  'seventh',
  'eighth',
  'ninth',
  'tenth',
  'eleventh',
  'twelfth',
];

const WORD_VALUES = new Map<string, number>([
  ...UNITS.map((w, i) => [w, i] as const),
  ...TENS.flatMap((w, i) => (w ? [[w, i * 10] as const] : [])),
  ['dozen', 12],
  ['a dozen', 12],
]);
const WORDS = [...WORD_VALUES.keys()].sort((a, b) => b.length - a.length).join('|');

const PERCENTAGE = /(?<![\w.-])(-?\d+(?:[.,]\d+)?)\s?(?:%|percent\b|per cent\b)/giu;
const ORDINAL = new RegExp(
  `(?<![\\w.-])(?:(\\d+)(?:st|nd|rd|th)\\b|\\b(${ORDINAL_WORDS.filter(Boolean).join('|')})\\b)`,
  'giu',
);
// A number not glued to letters, dashes or dots on either side ("ORD-1234", "v2", "555-123",
// "192.168.1.10", "2024-05-01" are not numbers); "1,000" is a thousand, "1,5" one and a half.
const DIGITS =
  /(?<![\w.,-])(-?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?))(?![\w%]|[.,-]\d|\s?(?:percent|per cent)\b)/giu;
const WORD_NUMBER = new RegExp(
  `\\b(?:(${TENS.filter(Boolean).join('|')})[- ](${UNITS.slice(1, 10).join('|')})|(${WORDS}))\\b`,
  'giu',
);

export function recogniseBuiltins(text: string): BuiltinMatch[] {
  const out: BuiltinMatch[] = [];
  // Characters already taken, one flag each: checking a match costs its length, not the number
  // of earlier matches (a list of ranges made "1 1 1 …" quadratic: 1,000 numbers, 35 ms).
  const taken = new Uint8Array(text.length);
  const free = (start: number, end: number) => {
    for (let i = start; i < end; i++) if (taken[i]) return false;
    return true;
  };
  const add = (entity: BuiltinMatch['entity'], m: RegExpExecArray, scalar?: number) => {
    const end = m.index + m[0].length;
    if (!free(m.index, end) || (scalar !== undefined && !Number.isFinite(scalar))) return;
    taken.fill(1, m.index, end);
    out.push({ entity, raw: m[0], ...(scalar !== undefined && { scalar }), start: m.index });
  };
  for (const m of text.matchAll(EMAIL)) add('email', m);
  for (const m of text.matchAll(URL)) add('url', m);
  for (const m of text.matchAll(IP)) add('ip', m);
  for (const m of text.matchAll(PHONE)) {
    const digits = m[0].replace(/\D/g, '').length;
    if (digits >= 7 && digits <= 15 && /[\s.()+-]/.test(m[0])) add('phone', m);
  }
  for (const m of text.matchAll(PERCENTAGE)) add('percentage', m, parseFloat(m[1]!.replace(',', '.')));
  for (const m of text.matchAll(ORDINAL))
    add('ordinal', m, m[1] ? Number(m[1]) : ORDINAL_WORDS.indexOf(m[2]!.toLowerCase()));
  for (const m of text.matchAll(DIGITS)) add('number', m, parseNumber(m[1]!));
  for (const m of text.matchAll(WORD_NUMBER)) {
    const scalar = m[3]
      ? WORD_VALUES.get(m[3].toLowerCase())!
      : WORD_VALUES.get(m[1]!.toLowerCase())! + WORD_VALUES.get(m[2]!.toLowerCase())!;
    add('number', m, scalar);
  }
  return out.sort((a, b) => a.start - b.start);
}

/** "1,000.5" -> 1000.5; "1,5" -> 1.5 (a comma not followed by exactly three digits is decimal). */
function parseNumber(raw: string): number {
  return parseFloat(/,\d{3}(?:\D|$)/.test(raw) ? raw.replace(/,/g, '') : raw.replace(',', '.'));
}
