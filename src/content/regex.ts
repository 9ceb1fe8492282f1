import { RE2JS } from 're2js';

// Entity regexes (training/entities/*.yaml `regex`, `flags`) run on RE2 (re2js, a pure-JS port):
// matching takes time linear in the message, whatever the pattern, so no pattern and message can
// hold the event loop (`(a+)+$` on "aaaa…!" took 46 s with JavaScript's backtracking RegExp).
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
 * Largest compiled program accepted. Matching costs up to program size × message length; at this
 * size a 2,000-character message (the /v2/request cap) is matched in a few milliseconds at worst
 * (bench/nlu-worst-case.js). Real entity patterns are far below it (`#?[A-Z]{2}\d{4}` is 10).
 */
export const MAX_REGEX_PROGRAM_SIZE = 2000;

export interface EntityRegex {
  /** Every non-empty, non-overlapping match, left to right (as String.prototype.matchAll with `g`, empty matches skipped). */
  matchAll(text: string): string[];
}

const HINTS: [RegExp, string][] = [
  [/\(\?<?[=!]/, 'lookahead and lookbehind ((?=…), (?!…), (?<=…), (?<!…)) are not supported'],
  [/\\[1-9]|\\k</, 'backreferences (\\1, \\k<name>) are not supported'],
  [/[*+?}][+]/, 'possessive quantifiers (a++, a*+) are not supported'],
  [/\\u/, 'write a code point as \\x{263A}, not \\u263A'],
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
    throw new Error(hint ? `${hint} by the RE2 engine (${message})` : message);
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
  return {
    matchAll(text) {
      const out: string[] = [];
      const m = re.matcher(text);
      // find() resumes after the previous match, and one code point further after an empty one.
      while (m.find()) {
        const value = m.group();
        if (value) out.push(value);
      }
      return out;
    },
  };
}
