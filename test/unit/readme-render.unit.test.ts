// The README rendered as GitHub renders Markdown (GFM tables): a paragraph written directly under a
// table (no blank line) becomes one more table row, its text in the first cell. Every table row
// here must be a real row, and the paragraphs under the tables must be paragraphs.
import { readFileSync } from 'node:fs';
import { lexer, marked, type Tokens } from 'marked';
import { parse } from 'yaml';

const readme = readFileSync('README.md', 'utf8');

/** Rows with text in the first cell only: a paragraph swallowed by the table above it. */
function swallowed(markdown: string): string[] {
  const tables = lexer(markdown, { gfm: true }).filter((t): t is Tokens.Table => t.type === 'table');
  return tables.flatMap((table) =>
    table.header.length < 2
      ? []
      : table.rows
          .filter((row) => row[0].text !== '' && row.slice(1).every((c) => c.text.trim() === ''))
          .map((row) => row[0].text),
  );
}

describe('README.md rendered', () => {
  it('has no paragraph swallowed into a table', () => {
    expect(swallowed(readme)).toEqual([]);
  });

  it('renders the paragraphs under the Inputs and Outputs tables as paragraphs', () => {
    const html = marked.parse(readme, { gfm: true, async: false });
    expect(html).toMatch(/<p>Duration ranges: <code>canary-minutes<\/code>/);
    expect(html).toMatch(/<p>The <code>record<\/code> output is versioned JSON/);
  });

  it('would catch a paragraph written directly under a table (the check can fail)', () => {
    const broken = readme.replace('\n\nDuration ranges:', '\nDuration ranges:');
    expect(broken).not.toBe(readme);
    expect(swallowed(broken)).toEqual(expect.arrayContaining([expect.stringMatching(/^Duration ranges:/)]));
  });
});

describe('the Node.js versions', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
    engines: { node: string };
    devDependencies: Record<string, string>;
  };
  const action = parse(readFileSync('action.yml', 'utf8')) as { runs: { using: string } };

  it('agree: the action runs on node24 (engines and @types/node say so), the README says what the tests run on', () => {
    expect(action.runs.using).toBe('node24');
    expect(pkg.devDependencies['@types/node']).toMatch(/^24\./);
    // engines is the action's runtime, not the test machine's (issue #14).
    expect(pkg.engines.node).toBe('>=24');
    const prerequisites = readme.slice(readme.indexOf('## Prerequisites'), readme.indexOf('## Rehearse it'));
    expect(prerequisites).toContain('Node.js 24 (`runs: using: node24`)');
    expect(prerequisites).toContain('`engines` (`>=24`) and `@types/node` (24)');
    // The README's minimum for the tests is one they do run on: this test is running on it or later.
    const testsMin = /run on Node\.js (\d+) or later/.exec(prerequisites.replace(/\s+/g, ' '))?.[1];
    expect(testsMin).toBeDefined();
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(Number(testsMin));
    // The workflows set up the same Node.js the action runs on.
    for (const f of ['ci.yml', 'emergency-deploy.yml'])
      for (const m of readFileSync(`.github/workflows/${f}`, 'utf8').matchAll(/node-version: (\S+)/g))
        expect({ f, version: m[1] }).toEqual({ f, version: '24' });
  });

  it('puts the prerequisites before the first command, with install forms that work on Debian/Ubuntu', () => {
    const at = readme.indexOf('## Prerequisites');
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(readme.indexOf('```sh'));
    const prerequisites = readme.slice(at, readme.indexOf('## Rehearse it'));
    expect(prerequisites).toContain('python3 -m venv .venv');
    expect(prerequisites).toContain('pipx install');
    // The pins are requirements-test.txt's.
    const req = readFileSync('requirements-test.txt', 'utf8');
    for (const pin of req.match(/^[a-z[\]]+==[\d.]+$/gm) ?? [])
      expect({
        pin,
        shown: prerequisites.includes(pin) || prerequisites.includes('requirements-test.txt'),
      }).toEqual({
        pin,
        shown: true,
      });
    expect(prerequisites).not.toContain('REHEARSAL_TIME');
  });
});

describe('the README’s examples', () => {
  const uses = [...readme.matchAll(/^\s*(?:- )?uses: (\S+)(.*)$/gm)].map((m) => ({
    ref: m[1],
    comment: m[2],
  }));
  const ours = uses.filter((u) => u.ref.startsWith('your-org/emergency-worker-deploy'));

  it('pin the action to a release (major tag, full version, or full commit SHA with its version)', () => {
    expect(ours.length).toBeGreaterThanOrEqual(2);
    expect(uses.filter((u) => u.ref === './' || u.ref.startsWith('./'))).toEqual([]);
    for (const u of ours) expect(u.ref).toMatch(/@(v\d+(\.\d+\.\d+)?|[0-9a-f]{40})$/);
    const bySha = ours.filter((u) => /@[0-9a-f]{40}$/.test(u.ref));
    expect(bySha.length).toBeGreaterThan(0);
    for (const u of bySha) expect(u.comment).toMatch(/# v\d+\.\d+\.\d+$/);
  });
});

describe('action.yml for a marketplace listing', () => {
  const action = parse(readFileSync('action.yml', 'utf8')) as {
    name: string;
    description: string;
    author: string;
    branding: { icon: string; color: string };
  };

  it('has a name, a one-line description, an author and branding GitHub accepts', () => {
    expect(action.name).toBe('Emergency worker deploy');
    expect(action.description).not.toContain('\n');
    expect(action.description.length).toBeGreaterThan(20);
    expect(action.author).toMatch(/\S/);
    // https://docs.github.com/en/actions/reference/workflows-and-actions/metadata-syntax#branding
    expect(['white', 'black', 'yellow', 'blue', 'green', 'orange', 'red', 'purple', 'gray-dark']).toContain(
      action.branding.color,
    );
    expect(action.branding.icon).toMatch(/^[a-z0-9-]+$/);
  });
});
