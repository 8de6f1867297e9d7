// The one phase wrapper every mode runs through: its record entry, the reason cap, the step groups.
import { Output } from '../../src/constants.js';
import { Phase, PHASE_REASON_MAX_CHARS, recordedReason } from '../../src/modes/phase.js';
import { parseRecord } from '../../src/record.js';
import { runbookRecord, testContext } from '../support/context.js';

function setUp() {
  const { ctx, report, runtime } = testContext({
    mode: 'verify',
    'queue-name': 'file-processing-queue-production',
    'instance-filters': 'tag:Role=file-processor',
  });
  return { ctx, report, runtime, record: runbookRecord('dep-20261129t000000z-4242-1') };
}

describe('Phase', () => {
  it('marks the start, then the end with verdict and reason, and publishes the record once ended', () => {
    const { ctx, report, runtime, record } = setUp();
    const phase = Phase.start(ctx, record, 'verify', { dryRun: false });
    expect(record.phases).toEqual([{ mode: 'verify', startedAt: '2026-11-29T00:00:00.000Z', dryRun: false }]);
    expect(report.outputs[Output.Record]).toBeUndefined();
    runtime.clock.advance(90_000);
    phase.end({ verdict: 'pass', reason: 'every judged criterion passed' });
    expect(record.phases).toEqual([
      {
        mode: 'verify',
        startedAt: '2026-11-29T00:00:00.000Z',
        endedAt: '2026-11-29T00:01:30.000Z',
        verdict: 'pass',
        reason: 'every judged criterion passed',
        dryRun: false,
      },
    ]);
    const published = parseRecord(report.outputs[Output.Record] ?? '', 'record');
    expect(published.phases[0].verdict).toBe('pass');
  });

  it('keeps an end time the phase gives (verify: when its window closed), and can leave publishing to main', () => {
    const { ctx, report, record } = setUp();
    const phase = Phase.start(ctx, record, 'canary', { dryRun: undefined });
    phase.end({ verdict: 'pass', reason: 'dry-run', endedAt: '2026-11-29T00:05:00.000Z', publish: false });
    expect(record.phases[0].endedAt).toBe('2026-11-29T00:05:00.000Z');
    // canary leaves dryRun out unless true, as records written so far do
    expect(JSON.stringify(record.phases[0])).not.toContain('dryRun');
    expect(report.outputWrites).toEqual([]);
  });

  it('cuts the recorded reason to one policy: 1,000 characters, rollout 500', () => {
    const long = 'x'.repeat(3000);
    expect(PHASE_REASON_MAX_CHARS).toBe(1000);
    for (const mode of ['preflight', 'canary', 'verify', 'rollback', 'redrive'] as const) {
      expect(recordedReason(mode, long)).toHaveLength(1000);
    }
    expect(recordedReason('rollout', long)).toHaveLength(500);
    expect(recordedReason('rollout', 'short')).toBe('short');

    const { ctx, record } = setUp();
    const phase = Phase.start(ctx, record, 'rollout', { publish: () => undefined });
    phase.end({ verdict: 'fail', reason: long });
    expect(record.phases[0].reason).toHaveLength(500);
  });

  it('writes the record through the phase’s own publisher when it has one, forced', () => {
    const { ctx, report, record } = setUp();
    const writes: boolean[] = [];
    const phase = Phase.start(ctx, record, 'rollout', { publish: (force) => writes.push(force) });
    phase.end({ verdict: 'pass', reason: 'every instance runs the fix' });
    expect(writes).toEqual([true]);
    expect(report.outputWrites).toEqual([]);
  });

  it('logs each step as a group; a step inside a step is a line of the outer group (groups do not nest)', async () => {
    const { ctx, report, record } = setUp();
    const phase = Phase.start(ctx, record, 'rollout');
    const got = await phase.step('Fleet', async () => {
      report.info('Fleet: 3 running instance(s)');
      return phase.step('SSM agents', async () => 42);
    });
    expect(got).toBe(42);
    expect(report.lines).toEqual([
      '::group::Fleet',
      'Fleet: 3 running instance(s)',
      'SSM agents',
      '::endgroup::',
    ]);
    // A step that throws still closes its group, and the next step is a group again.
    await expect(
      phase.step('Batch 1 of 1', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await phase.step('Queue visibility timeout', async () => undefined);
    expect(report.lines.slice(4)).toEqual([
      '::group::Batch 1 of 1',
      '::endgroup::',
      '::group::Queue visibility timeout',
      '::endgroup::',
    ]);
  });

  it('hands main.ts the outcome with its record', () => {
    const { ctx, record } = setUp();
    const phase = Phase.start(ctx, record, 'preflight');
    const outcome = phase.outcome({
      verdict: 'fail',
      summary: '## Preflight FAILED',
      failure: 'Preflight failed: x',
    });
    expect(outcome.record).toBe(record);
    expect(outcome).toMatchObject({
      verdict: 'fail',
      summary: '## Preflight FAILED',
      failure: 'Preflight failed: x',
    });
  });
});
