// Patterns are counted by GNU grep -E on the instances. What GNU grep supports is its manual's
// "Regular Expressions" chapter (https://www.gnu.org/software/grep/manual/grep.html#Regular-Expressions:
// "The Backslash Character and Special Expressions" lists \< \> \b \B \w \W \s \S \` \'; "Back-references
// and Subexpressions" lists \1–\9); anything else after a backslash is not a class there. The checks
// below run the machine's real GNU grep to show what each refused spelling would do on an instance.
import { spawnSync } from 'node:child_process';
import { parsePatterns } from '../../src/inputs.js';
import { ereProblem } from '../../src/remote/ere.js';
import { buildWatchScript } from '../../src/remote/scripts.js';

const LINES = ['Received 12 messages', 'processed d', 'ERROR boom', 'a b', 'aaa', 'x\\d'];
/** How many of LINES GNU grep -E counts for the pattern. */
function grepCount(pattern: string): number {
  const r = spawnSync('grep', ['-E', '-c', '-e', pattern], {
    input: `${LINES.join('\n')}\n`,
    encoding: 'utf8',
  });
  return Number(r.stdout.trim());
}

describe('POSIX ERE check for GNU grep -E', () => {
  it.each([
    ['Received \\d+ messages', /\\d.*write \[0-9\]/],
    ['\\D', /\\D.*\[\^0-9\]/],
    ['ERROR\\Z', /\\Z.*write \$/],
    ['\\p{Lu}', /POSIX class/],
    ['\\x41', /the character itself/],
    ['(?=ERROR)', /lookaround/],
    ['ERROR(?!: retrying)', /lookaround/],
    ['(?<=x)y', /lookaround/],
    ['(?<!x)y', /lookaround/],
    ['(?:ERROR|CRITICAL)', /non-capturing group.*\(\.\.\.\)/],
    ['(?i)error', /\(\?\.\.\.\).*\[Ee\]\[Rr\]/],
    ['(?<name>x)', /named group/],
    ['Received.+?messages', /lazy quantifier/],
    ['a*?', /lazy quantifier/],
    ['a??', /lazy quantifier/],
    ['a{1,3}?', /lazy quantifier/],
    ['(ab)+?', /lazy quantifier/],
    ['a++', /possessive quantifier/],
    ['[\\d]+ messages', /inside \[\.\.\.\].*\[0-9\] or \[\[:digit:\]\]/],
    ['[\\w.-]+', /inside \[\.\.\.\].*\[:alnum:\]_/],
    ['[^\\s]', /inside \[\.\.\.\]/],
    ['ERROR\\', /lone backslash/],
    ['[abc', /without its closing \]/],
  ])('refuses %j with the POSIX spelling', (pattern, message) => {
    expect(ereProblem(pattern)).toMatch(message);
  });

  it.each([
    'Received [0-9]+ messages?',
    'Successfully processed',
    'Traceback',
    '\\berror\\b',
    '\\w+ \\s*\\S',
    '\\<ERROR\\>',
    '(a)\\1',
    '[[:digit:]]{2,}',
    '[]a]',
    '[^]a]',
    '[[:alpha:]_-]+',
    'a{2}',
    'x{',
    '\\$\\(touch',
    '\\.\\*\\?',
    '(a+)?',
    '^ERROR|CRITICAL$',
    '[\\]',
  ])('accepts %j (POSIX ERE, or a GNU extension that works)', (pattern) => {
    expect(ereProblem(pattern)).toBeUndefined();
  });

  it('what GNU grep -E makes of the refused spellings: they run, and mean something else', () => {
    // \d is a literal d, not a digit: "Received \d+ messages" never matches "Received 12 messages".
    expect(grepCount('Received \\d+ messages')).toBe(0);
    expect(grepCount('Received [0-9]+ messages')).toBe(1);
    // [\d] is a backslash or a d, never a digit: "[\d]2" misses the 12.
    expect(grepCount('[\\d]2')).toBe(0);
    expect(grepCount('[0-9]2')).toBe(1);
    expect(grepCount('^x[\\d]d$')).toBe(1);
    // a+? is (a+)?: it matches every line.
    expect(grepCount('a+?')).toBe(LINES.length);
    // The GNU extensions that are accepted do work.
    expect(grepCount('\\bERROR\\b')).toBe(1);
    expect(grepCount('^\\w+\\s\\w+$')).toBe(3);
  });

  it('names the input, in the inputs and again at the script gate', () => {
    expect(() => parsePatterns('health-patterns', 'Received \\d+ messages', [])).toThrow(
      /^Input 'health-patterns' pattern "Received \\\\d\+ messages" uses \\d, which GNU grep -E does not have \(it is Perl syntax\); write \[0-9\]/,
    );
    expect(() => parsePatterns('error-patterns', 'ERROR(?!: retrying)', [])).toThrow(
      /^Input 'error-patterns' pattern .* lookaround/,
    );
    // GNU extensions that work are not refused any more (they were, although grep -E has them).
    expect(parsePatterns('error-patterns', '\\bERROR\\b\n\\s+Traceback', [])).toEqual([
      '\\bERROR\\b',
      '\\s+Traceback',
    ]);
    expect(() =>
      buildWatchScript({
        serviceName: 's',
        sinceEpochSeconds: 1,
        healthPatterns: ['x.*?y'],
        errorPatterns: [],
      }),
    ).toThrow(/^Input 'health-patterns' pattern "x\.\*\?y" uses a lazy quantifier/);
  });
});
