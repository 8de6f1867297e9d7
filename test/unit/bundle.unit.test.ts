// The dist is part of the product: it stays small enough to start fast, and carries nothing that
// exists only for tests (fakes live in test/support/).
import { readFileSync, statSync } from 'node:fs';

const BUNDLE = 'dist/index.js';

describe('dist/index.js', () => {
  it('is at most 3 MB', () => {
    expect(statSync(BUNDLE).size).toBeLessThanOrEqual(3_000_000);
  });

  it('bundles no test fake', () => {
    const text = readFileSync(BUNDLE, 'utf8');
    for (const name of ['FakeClock', 'MemoryReporter', 'fakeRuntime']) expect(text).not.toContain(name);
  });
});
