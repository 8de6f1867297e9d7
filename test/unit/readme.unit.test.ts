// The README is the user's reference: it must list every input and output action.yml declares,
// with its default, and show the test command CI runs.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const readme = readFileSync('README.md', 'utf8');
const action = parse(readFileSync('action.yml', 'utf8')) as {
  inputs: Record<string, { description: string; default?: string }>;
  outputs: Record<string, { description: string }>;
};

describe('README', () => {
  it.each(Object.entries(action.inputs))('documents input %s with its default', (name, spec) => {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
    expect(row).toBeDefined();
    if (spec.default) expect(row).toContain(`\`${spec.default}\``);
    expect(row?.split('|')[3]?.trim().length).toBeGreaterThan(10);
  });

  it.each(Object.entries(action.outputs))('documents output %s', (name) => {
    const outputs = readme.slice(readme.indexOf('## Outputs'));
    const row = outputs.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
    expect(row?.split('|')[2]?.trim().length).toBeGreaterThan(5);
  });

  it('shows the test command .ci/run runs', () => {
    expect(readme).toContain('npm ci\nnpm test');
    expect(readFileSync('.ci/run', 'utf8')).toContain('npm test');
  });
});
