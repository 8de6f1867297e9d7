// health-patterns and error-patterns are counted with GNU `grep -E` on each instance: POSIX
// extended regular expressions plus GNU's own escapes. Syntax from Perl/JavaScript regexes does not
// fail there, it quietly matches something else (`\d` is a literal `d`, `a+?` is `(a+)?` and
// matches every line, `[\d]` is a backslash or a `d`), so a pattern written that way would make a
// health pattern never match, or an error pattern never fire. Those are refused here, each with its
// POSIX spelling. The one copy of this check: inputs.ts (before any AWS call) and scripts.ts (the
// last gate before a shell) both call it.
//
// What GNU grep -E does support, and so is allowed (GNU grep manual, "Regular Expressions":
// "The Backslash Character and Special Expressions", "Back-references and Subexpressions"):
// \w \W \s \S \b \B \< \> \` \' and back-references \1–\9, and a backslash before any punctuation
// to match it literally.

/** Perl/JavaScript escapes that GNU grep -E does not have, with what to write instead. */
const PERL_ESCAPES: Record<string, string> = {
  d: '[0-9] (or [[:digit:]])',
  D: '[^0-9]',
  h: '[[:blank:]]',
  H: '[^[:blank:]]',
  v: '[[:space:]]',
  A: '^',
  Z: '$',
  z: '$',
  G: '^',
  t: '[[:blank:]] (a tab cannot be typed into the input)',
  n: 'nothing: the journal is matched one line at a time',
  r: 'nothing: the journal is matched one line at a time',
  f: '[[:space:]]',
  e: 'nothing: journal lines have their control characters removed',
  x: 'the character itself',
  u: 'the character itself',
  p: 'a POSIX class such as [[:alpha:]], [[:upper:]] or [[:punct:]]',
  P: 'a negated POSIX class such as [^[:alpha:]]',
  Q: 'a backslash before each special character',
  E: 'a backslash before each special character',
  K: 'nothing: grep -E matches whole lines, drop the \\K',
  R: '[[:space:]]',
  X: '.',
  N: '[^[:space:]]',
  k: 'a numbered back-reference such as \\1',
  g: 'a numbered back-reference such as \\1',
};

/** Class escapes that mean nothing inside a POSIX bracket expression (the backslash is literal there). */
const IN_BRACKET: Record<string, string> = {
  d: '[0-9] or [[:digit:]] inside the brackets ([[:digit:]_] for example)',
  D: 'a separate [^0-9]',
  w: '[:alnum:]_ inside the brackets ([[:alnum:]_.-] for example)',
  W: 'a separate [^[:alnum:]_]',
  s: '[:space:] inside the brackets ([[:space:],] for example)',
  S: 'a separate [^[:space:]]',
  t: '[:blank:] inside the brackets',
  n: 'nothing: the journal is matched one line at a time',
};

/**
 * Why a pattern would not work under GNU grep -E (Perl-only syntax, with the POSIX spelling), or
 * undefined when it is fine as far as this can tell (grep itself is the final judge: the watch
 * script reports a pattern it rejects).
 */
export function ereProblem(pattern: string): string | undefined {
  let i = 0;
  let afterQuantifier = false;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) return 'ends with a lone backslash; write \\\\ for a literal one';
      const instead = PERL_ESCAPES[next];
      if (instead !== undefined) {
        return `uses \\${next}, which GNU grep -E does not have (it is Perl syntax); write ${instead}`;
      }
      i += 2;
      afterQuantifier = false;
      continue;
    }
    if (c === '[') {
      const end = bracketEnd(pattern, i);
      if (end < 0) return 'has a [ without its closing ]';
      const body = pattern.slice(i + 1, end);
      const m = /\\([dDwWsStn])/.exec(body);
      if (m) {
        return `uses \\${m[1]} inside [...], where GNU grep -E reads a backslash and a "${m[1]}"; write ${IN_BRACKET[m[1]]}`;
      }
      i = end + 1;
      afterQuantifier = false;
      continue;
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const rest = pattern.slice(i + 2);
      if (/^(?:=|!|<=|<!)/.test(rest)) {
        return 'uses a lookaround ((?=, (?!, (?<=, (?<!), which POSIX regular expressions do not have; match the line with a plain pattern, and use a separate error pattern for what must not appear';
      }
      if (rest.startsWith(':')) return 'uses a non-capturing group (?:...); write a plain group (...)';
      if (/^(?:<[A-Za-z]|P<|')/.test(rest)) return 'uses a named group; write a plain group (...)';
      return 'uses (?...) syntax (flags or extensions) that POSIX regular expressions do not have; write the cases out, e.g. [Ee][Rr][Rr][Oo][Rr]';
    }
    if (c === '*' || c === '+' || c === '?') {
      if (afterQuantifier) return lazyOrPossessive(pattern, i);
      afterQuantifier = true;
      i += 1;
      continue;
    }
    if (c === '{') {
      const m = /^\{[0-9]*(?:,[0-9]*)?\}/.exec(pattern.slice(i));
      if (m && m[0] !== '{}') {
        if (afterQuantifier) return lazyOrPossessive(pattern, i);
        afterQuantifier = true;
        i += m[0].length;
        continue;
      }
    }
    afterQuantifier = false;
    i += 1;
  }
  return undefined;
}

function lazyOrPossessive(pattern: string, i: number): string {
  const q = pattern[i];
  const kind =
    q === '?' ? 'a lazy quantifier' : q === '+' ? 'a possessive quantifier' : 'two quantifiers in a row';
  return `uses ${kind} (…${pattern.slice(Math.max(0, i - 1), i + 1)}), which POSIX regular expressions do not have: grep -E reads it as a repeat of a repeat (a+? matches every line); write the quantifier alone (a lazy and a greedy match find the same lines)`;
}

/** Index of the ] that closes the bracket expression opened at `open`, or -1. */
function bracketEnd(p: string, open: number): number {
  let i = open + 1;
  if (p[i] === '^') i += 1;
  if (p[i] === ']') i += 1; // a ] first in the list is a literal
  while (i < p.length) {
    if (p[i] === '[' && (p[i + 1] === ':' || p[i + 1] === '.' || p[i + 1] === '=')) {
      const close = p.indexOf(`${p[i + 1]}]`, i + 2);
      if (close < 0) return -1;
      i = close + 2;
      continue;
    }
    if (p[i] === ']') return i;
    i += 1;
  }
  return -1;
}
