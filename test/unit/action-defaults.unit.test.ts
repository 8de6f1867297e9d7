// action.yml's defaults and the parser's fallbacks are written in two places (the runner passes
// action.yml's default; tests and the record tool call the parser with ''). This ties them: parsing
// every input at its action.yml default gives the same Inputs as parsing it unset.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseInputs } from '../../src/inputs.js';
import type { InputName } from '../../src/constants.js';

const action = parse(readFileSync('action.yml', 'utf8')) as {
  inputs: Record<string, { default?: string; required?: boolean }>;
};

// Inputs whose empty value means something other than the default, on purpose.
const EMPTY_MEANS_OTHER: Record<string, string> = {
  // '' (or 'none') leaves the queue's visibility timeout alone; the runner passes 900 otherwise.
  'visibility-timeout': 'empty leaves the queue setting alone',
};

const base: Record<string, string> = { mode: 'preflight', region: 'ap-northeast-1', 'queue-name': 'q' };

function parseWith(values: Record<string, string>) {
  return parseInputs(
    (name: InputName) => values[name] ?? '',
    {},
    () => '',
  );
}

const withDefaults = Object.entries(action.inputs).filter(([, spec]) => spec.default !== undefined);

describe('action.yml defaults match the parser', () => {
  it('declares defaults for the inputs the parser has fallbacks for', () => {
    expect(withDefaults.length).toBeGreaterThan(20);
  });

  it.each(withDefaults.filter(([name]) => !(name in EMPTY_MEANS_OTHER)))(
    '%s: its action.yml default parses as the parser’s own fallback',
    (name, spec) => {
      expect(parseWith({ ...base, [name]: String(spec.default) })).toEqual(parseWith(base));
    },
  );

  it('the inputs whose empty value is meaningful are still defaulted in action.yml', () => {
    for (const name of Object.keys(EMPTY_MEANS_OTHER)) expect(action.inputs[name]?.default).toBeDefined();
    expect(parseWith({ ...base, 'visibility-timeout': '900' }).visibilityTimeout).toBe(900);
    expect(parseWith(base).visibilityTimeout).toBeUndefined();
  });
});
