import { RE2JS } from 're2js';

// Entity regexes (training/entities/*.yaml `regex`, `flags`) run on RE2 (re2js, a pure-JS port):
// one search takes time linear in the message, whatever the pattern (`(a+)+$` on "aaaa…!" took
// 46 s with JavaScript's backtracking RegExp). Finding every match is a search per match, so
// matchAll counts its work in steps and can stop and resume (nlu/regex-runner.ts spreads it
// between the event loop and a worker).
// This module is the only one that knows the engine: `botver validate` asks entityRegexProblem
// (content/rules.ts), the NLU compiles with compileEntityRegex (nlu/engine.ts).
// RE2 has no lookaround and no backreferences (they need backtracking); `\u` escapes are
// written `\x{…}`. Those are refused at validation with a hint rather than RE2's terse message.

/** Flags the entity schema allows (`^[imsu]*$`); `u` changes nothing: RE2 always matches code points. */
const FLAG_BITS: Record<string, number> = {
  i: RE2JS.CASE_INSENSITIVE,
  m: RE2JS.MULTILINE,
  s: RE2JS.DOTALL,
  u: 0,
};

/**
 * Largest compiled program accepted. One search costs up to program size x message length steps
 * and is never split: at this size, one search of a 2,000-character message (the /v2/request cap)
 * fits within the worker's share (nlu/regex-runner.ts). Real patterns are far below it
 * (`#?[A-Z]{2}\d{4}` is 10); a long alternation of words is better a value list.
 */
export const MAX_REGEX_PROGRAM_SIZE = 2000;

export interface EntityRegex {
  /** The compiled program's size: one search costs up to this many steps per character it reads. */
  readonly size: number;
  /**
   * Every non-empty, non-overlapping match from `from` on, left to right (as String.prototype.matchAll
   * with `g`, empty matches skipped). A search from position p is counted as size x (length - p + 1)
   * steps, its worst case: no search starts that would take `steps` past `maxSteps`; `resume` is then
   * where the search would have gone on (matchAll(text, resume) finds the rest), null when complete.
   */
  matchAll(text: string, from?: number, maxSteps?: number): { values: string[]; resume: number | null; steps: number };
}

/** What RE2 says of these is terse or misleading ("invalid named capture" for a lookbehind). */
const HINTS: [RegExp, string][] = [
  [/\(\?<?[=!]/, 'lookahead and lookbehind ((?=…), (?!…), (?<=…), (?<!…)) are not supported by the RE2 engine'],
  [/\\[1-9]|\\k</, 'backreferences (\\1, \\k<name>) are not supported by the RE2 engine'],
  [/[*+?}][+]/, 'possessive quantifiers (a++, a*+) are not supported by the RE2 engine'],
  [/\\u/, 'the RE2 engine has no \\u escapes: write a code point as \\x{263A}'],
];

function compile(source: string, flags: string): RE2JS {
  let bits = 0;
  for (const f of flags) {
    const bit = FLAG_BITS[f];
    if (bit === undefined) throw new Error(`unknown flag "${f}" (allowed: i, m, s, u)`);
    bits |= bit;
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(source, bits);
  } catch (err) {
    const message = (err as Error).message.replace(/^error parsing regexp: /, '');
    const hint = HINTS.find(([shape]) => shape.test(source))?.[1];
    throw new Error(hint ? `${hint} (${message})` : message);
  }
  if (re.programSize() > MAX_REGEX_PROGRAM_SIZE)
    throw new Error(
      `the pattern is too large (${re.programSize()} instructions compiled, at most ${MAX_REGEX_PROGRAM_SIZE}); split it or use a value list`,
    );
  return re;
}

/**
 * What `botver validate` says about an entity regex, or null when it is fine: a pattern RE2 cannot
 * run (with the reason), one too large, or one matching the empty text (it would be found everywhere).
 */
export function entityRegexProblem(source: string, flags = ''): string | null {
  let re: RE2JS;
  try {
    re = compile(source, flags);
  } catch (err) {
    return `invalid regular expression: ${(err as Error).message}`;
  }
  if (re.test('')) return 'the regular expression matches the empty text; it must match at least one character';
  return null;
}

/** An entity regex ready to match; throws on a pattern entityRegexProblem refuses as invalid. */
export function compileEntityRegex(source: string, flags = ''): EntityRegex {
  const re = compile(source, flags);
  const size = re.programSize();
  return {
    size,
    matchAll(text, from = 0, maxSteps = Number.POSITIVE_INFINITY) {
      const values: string[] = [];
      const m = re.matcher(text);
      let steps = 0;
      for (let at = from; at <= text.length; ) {
        const cost = size * (text.length - at + 1);
        if (steps + cost > maxSteps) return { values, resume: at, steps };
        steps += cost;
        if (!m.find(at)) break;
        const value = m.group() ?? '';
        if (value) values.push(value);
        // After an empty match, the next search starts one code point further (as matchAll does).
        const end = m.end();
        at = value ? end : end + ((text.codePointAt(end) ?? 0) > 0xffff ? 2 : 1);
      }
      return { values, resume: null, steps };
    },
  };
}
