import {
  batchSizeFor,
  estimateSecondsLeft,
  overErrorBudget,
  planBatches,
  progressLine,
  remainingErrorBudget,
  selectForRollout,
  ssmMaxConcurrency,
  ssmMaxErrors,
} from '../../src/logic/batches.js';
import { fitInstanceErrors } from '../../src/record.js';
import { formatSecondsShort } from '../../src/summary/time.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `i-${String(i).padStart(8, '0')}`);

describe('batchSizeFor', () => {
  it('takes a count as given', () => {
    expect(batchSizeFor({ kind: 'count', value: 1 }, 5)).toBe(1);
    expect(batchSizeFor({ kind: 'count', value: 3 }, 5)).toBe(3);
    expect(batchSizeFor({ kind: 'count', value: 50 }, 5)).toBe(50);
  });

  it('takes a percent of the fleet, rounded up', () => {
    expect(batchSizeFor({ kind: 'percent', value: 25 }, 5)).toBe(2); // 1.25 → 2
    expect(batchSizeFor({ kind: 'percent', value: 20 }, 5)).toBe(1); // exactly 1
    expect(batchSizeFor({ kind: 'percent', value: 50 }, 7)).toBe(4); // 3.5 → 4
    expect(batchSizeFor({ kind: 'percent', value: 100 }, 7)).toBe(7);
    expect(batchSizeFor({ kind: 'percent', value: 29 }, 100)).toBe(29); // no floating-point 29.000000004 → 30
  });

  it('is never less than 1, for one instance or an empty fleet', () => {
    expect(batchSizeFor({ kind: 'percent', value: 1 }, 1)).toBe(1);
    expect(batchSizeFor({ kind: 'percent', value: 10 }, 0)).toBe(1);
    expect(batchSizeFor({ kind: 'percent', value: 33 }, 3)).toBe(1); // 0.99 → 1
  });

  it('scales to 5,000 instances', () => {
    expect(batchSizeFor({ kind: 'percent', value: 10 }, 5000)).toBe(500);
    expect(batchSizeFor({ kind: 'percent', value: 7 }, 5000)).toBe(350);
    expect(batchSizeFor({ kind: 'percent', value: 1 }, 4999)).toBe(50); // 49.99 → 50
  });
});

describe('planBatches', () => {
  it('splits in order, the last batch holding the rest', () => {
    expect(planBatches(['a', 'b', 'c', 'd', 'e'], 2)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('plans one batch of one for a single instance, and none for none', () => {
    expect(planBatches(['i-1'], 1)).toEqual([['i-1']]);
    expect(planBatches(['i-1'], 10)).toEqual([['i-1']]);
    expect(planBatches([], 3)).toEqual([]);
  });

  it('covers 5,000 instances exactly once', () => {
    const fleet = ids(5000);
    const batches = planBatches(fleet, batchSizeFor({ kind: 'percent', value: 7 }, 5000));
    expect(batches).toHaveLength(15); // 14 × 350 + 100
    expect(batches[14]).toHaveLength(100);
    expect(batches.flat()).toEqual(fleet);
    expect(planBatches(fleet, 1)).toHaveLength(5000);
  });

  it('refuses a size below 1', () => {
    expect(() => planBatches(['a'], 0)).toThrow(/at least 1/);
  });
});

describe('error budget', () => {
  it('tolerates max-errors failures and halts on one more', () => {
    expect(overErrorBudget(0, 0)).toBe(false);
    expect(overErrorBudget(0, 1)).toBe(true);
    expect(overErrorBudget(2, 2)).toBe(false);
    expect(overErrorBudget(2, 3)).toBe(true);
  });

  it('hands SSM the budget that is left, never negative', () => {
    expect(remainingErrorBudget(3, 1)).toBe(2);
    expect(remainingErrorBudget(3, 5)).toBe(0);
    expect(ssmMaxErrors(3, 1)).toBe('2');
    expect(ssmMaxErrors(0, 0)).toBe('0');
    expect(ssmMaxConcurrency(120)).toBe('120');
  });
});

describe('progress', () => {
  it('has no estimate before the first batch is done', () => {
    expect(
      estimateSecondsLeft({ batchesDone: 0, batchesTotal: 4, elapsedMs: 0, pauseSeconds: 60 }),
    ).toBeUndefined();
  });

  it('extrapolates working time per batch and adds the pauses still ahead', () => {
    // 2 of 5 done in 2×30 s of work plus 2 pauses of 60 s: 3 batches × 30 s + 2 pauses × 60 s.
    expect(
      estimateSecondsLeft({ batchesDone: 2, batchesTotal: 5, elapsedMs: 180_000, pauseSeconds: 60 }),
    ).toBe(210);
    // The last batch has no pause after it.
    expect(
      estimateSecondsLeft({ batchesDone: 4, batchesTotal: 5, elapsedMs: 4 * 90_000, pauseSeconds: 60 }),
    ).toBe(30);
    expect(estimateSecondsLeft({ batchesDone: 5, batchesTotal: 5, elapsedMs: 1, pauseSeconds: 60 })).toBe(0);
  });

  it('formats durations and progress lines', () => {
    expect(formatSecondsShort(12)).toBe('12s');
    expect(formatSecondsShort(250)).toBe('4m 10s');
    expect(formatSecondsShort(3725)).toBe('1h 2m');
    expect(progressLine({ batch: 3, batches: 10, done: 6, total: 20, failed: 1, secondsLeft: 250 })).toBe(
      'batch 3 of 10: 6/20 instances done, 1 failed, about 4m 10s left',
    );
    expect(progressLine({ batch: 1, batches: 2, done: 0, total: 4, failed: 0 })).toContain(
      'time left not yet known',
    );
  });
});

describe('selectForRollout', () => {
  it('never deploys the canary twice and skips what an earlier run installed', () => {
    const s = selectForRollout(
      ['i-a', 'i-b', 'i-c', 'i-d', 'i-e'],
      {
        'i-a': { p: 'c', s: 'installed' },
        'i-b': { p: 'r', s: 'installed' },
        'i-c': { p: 'r', s: 'failed' },
        'i-d': { p: 'r', s: 'sent' },
      },
      'i-a',
    );
    expect(s.canary).toEqual(['i-a']);
    expect(s.alreadyInstalled).toEqual(['i-b']);
    // A failed or interrupted instance is tried again; a new one is included.
    expect(s.toDeploy).toEqual(['i-c', 'i-d', 'i-e']);
  });

  it('treats an installed canary-phase entry as the canary even without the canary id', () => {
    const s = selectForRollout(['i-a', 'i-b'], { 'i-b': { p: 'c', s: 'installed' } }, undefined);
    expect(s.canary).toEqual(['i-b']);
    expect(s.toDeploy).toEqual(['i-a']);
  });
});

describe('fitInstanceErrors', () => {
  const record = () => ({
    instances: {
      'i-a': { e: 'x'.repeat(100) },
      'i-b': { e: 'short' },
      'i-c': {},
    } as Record<string, { e?: string }>,
  });
  const size = (r: object) => () => JSON.stringify(r).length;

  it('leaves a record that fits alone', () => {
    const r = record();
    expect(fitInstanceErrors(r, size(r), 10_000)).toBe('fits');
    expect(r.instances['i-a'].e).toHaveLength(100);
  });

  it('cuts long error texts first, then drops them if that is not enough', () => {
    const r = record();
    expect(fitInstanceErrors(r, size(r), 100)).toBe('shortened');
    expect(r.instances['i-a'].e).toBe(`${'x'.repeat(39)}…`);
    expect(r.instances['i-b'].e).toBe('short');
    const tight = record();
    expect(fitInstanceErrors(tight, size(tight), 20)).toBe('dropped');
    expect(Object.values(tight.instances).some((e) => e.e !== undefined)).toBe(false);
  });
});
