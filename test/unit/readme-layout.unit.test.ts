// The README's Layout section is how a newcomer finds a runbook step's code: it must name every
// source file there is, and no file that is not there, so it cannot drift from the tree.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const readme = readFileSync('README.md', 'utf8');
const start = readme.indexOf('## Layout');
const end = readme.indexOf('\n## ', start + 1);
const layout = readme.slice(start, end === -1 ? undefined : end);
const named = new Set([...layout.matchAll(/`(src\/[^`]+\.ts)`/g)].map((m) => m[1]));
const tracked = execFileSync('git', ['ls-files', 'src'], { encoding: 'utf8' })
  .split('\n')
  .filter((f) => f.endsWith('.ts'));

describe('README Layout', () => {
  it('is a section of its own', () => {
    expect(start).toBeGreaterThan(0);
    expect(named.size).toBeGreaterThan(40);
  });

  it('names every source file', () => {
    expect(tracked.filter((f) => !named.has(f))).toEqual([]);
  });

  it('names only files that exist', () => {
    expect([...named].filter((f) => !existsSync(f))).toEqual([]);
  });
});
