import type { Checkpoint } from '../../src/inputs.js';
import {
  backlog,
  downsample,
  judge,
  judgeDeleteFailures,
  judgeDepthTrend,
  judgeDlqStable,
  judgeDlqNew,
  judgeLag,
  judgeUploads,
  judgeNoLoop,
  judgeServices,
  judgeWindow,
  judgeWorkers,
  ratePerHour,
  slope,
  type JudgeInput,
  type Sample,
  type Thresholds,
} from '../../src/logic/trend.js';

const T0 = Date.parse('2026-11-29T00:00:00Z');

/** One sample a minute: queue backlog as visible (in flight and delayed 0), DLQ alongside. */
function samples(queue: number[], dlq?: number[]): Sample[] {
  return queue.map((visible, i) => ({
    at: new Date(T0 + i * 60_000).toISOString(),
    visible,
    inFlight: 0,
    delayed: 0,
    dlq: dlq ? dlq[i] : 0,
    running: 3,
  }));
}

const RUNBOOK: Thresholds = {
  drainedThreshold: 10,
  dlqTolerance: 0,
  minDepthReductionPercent: 50,
  minFilesPerHour: 50,
  maxDepth24h: 10,
  maxLagSeconds: 300,
  maxReceiveRatio: 3,
};

function input(over: Partial<JudgeInput> = {}): JudgeInput {
  const s = over.samples ?? samples([500, 400, 300, 200, 100, 50]);
  return {
    checkpoint: '10m',
    samples: s,
    plannedSamples: s.length,
    cancelled: false,
    metrics: { deleteFailed: 0, received: 600, deleted: 590, filesPerHour: 3540, oldestAgeSeconds: 40 },
    metricLabel: 'CISFileSearch/Worker/MessageDeleteFailed',
    serviceName: 'file-processor',
    fleet: {
      read: {
        running: ['i-a', 'i-b', 'i-c'],
        runsFix: ['i-a', 'i-b', 'i-c'],
        newcomers: [],
        notFixed: [],
        gone: [],
        transitioning: [],
        noInstall: false,
      },
    },
    services: { checked: 3, inactive: [], unknown: [] },
    baseline: {
      at: new Date(T0 - 3600_000).toISOString(),
      visible: 480,
      inFlight: 20,
      delayed: 0,
      dlqVisible: 0,
      instances: 3,
    },
    hasDlq: true,
    thresholds: RUNBOOK,
    ...over,
  };
}

function status(j: ReturnType<typeof judge>, id: string) {
  const c = j.criteria.find((x) => x.id === id);
  if (!c) throw new Error(`no criterion ${id} in ${j.criteria.map((x) => x.id).join(', ')}`);
  return c;
}

describe('helpers', () => {
  it('counts the backlog as visible + in flight + delayed, and only when all three were read', () => {
    expect(backlog({ visible: 5, inFlight: 7, delayed: 1 })).toBe(13);
    expect(backlog({ visible: 5, inFlight: undefined, delayed: 0 })).toBeUndefined();
    expect(backlog(undefined)).toBeUndefined();
  });

  it('fits a least-squares slope', () => {
    expect(
      slope([
        { x: 0, y: 10 },
        { x: 1, y: 8 },
        { x: 2, y: 6 },
      ]),
    ).toBeCloseTo(-2);
    expect(slope([{ x: 0, y: 1 }])).toBeUndefined();
    expect(
      slope([
        { x: 1, y: 1 },
        { x: 1, y: 2 },
      ]),
    ).toBeUndefined();
  });

  it('computes files per hour over the periods CloudWatch reported, and nothing from no data', () => {
    // 3 one-minute periods reported, 30 deletions: 600 an hour (missing minutes are not zeros).
    expect(ratePerHour([{ value: 10 }, { value: 10 }, { value: 10 }], 60)).toBe(600);
    expect(ratePerHour([], 60)).toBeUndefined();
  });

  it('downsamples evenly, keeping the first and the last', () => {
    const items = Array.from({ length: 1000 }, (_, i) => i);
    const kept = downsample(items, 120);
    expect(kept).toHaveLength(120);
    expect(kept[0]).toBe(0);
    expect(kept[119]).toBe(999);
    expect(downsample([1, 2, 3], 10)).toEqual([1, 2, 3]);
    expect(downsample([1, 2, 3], 1)).toEqual([3]);
  });
});

describe('queue depth (10 min)', () => {
  it('passes a draining queue, with its figures', () => {
    const c = judgeDepthTrend(samples([500, 420, 300, 260, 150]), 10);
    expect(c.status).toBe('pass');
    expect(c.detail).toMatch(/decreasing: 500 → 150 messages over 4 min/);
  });

  it('passes a queue stable at zero (drained), and one at the approximate-count threshold', () => {
    expect(judgeDepthTrend(samples([0, 0, 0, 0]), 10)).toMatchObject({ status: 'pass' });
    expect(judgeDepthTrend(samples([0, 0, 0, 0]), 10).detail).toMatch(/^drained: 0 messages/);
    expect(judgeDepthTrend(samples([12, 8, 11, 10]), 10).status).toBe('pass');
    expect(judgeDepthTrend(samples([12, 8, 11, 11]), 10).status).toBe('fail');
  });

  it('fails a growing queue, and a flat one above the threshold', () => {
    const growing = judgeDepthTrend(samples([100, 130, 170, 240]), 10);
    expect(growing.status).toBe('fail');
    expect(growing.detail).toMatch(/^growing: 100 → 240/);
    expect(judgeDepthTrend(samples([300, 300, 300]), 10)).toMatchObject({ status: 'fail' });
  });

  it('counts in-flight messages: the original bug empties "visible" into "in flight"', () => {
    const bug = samples([400, 200, 0]).map((s, i) => ({ ...s, inFlight: [0, 200, 400][i] }));
    expect(judgeDepthTrend(bug, 10).status).toBe('fail');
  });

  it('does not judge a trend from one sample, or from none', () => {
    expect(judgeDepthTrend(samples([300]), 10).status).toBe('not-judged');
    expect(judgeDepthTrend([{ at: new Date(T0).toISOString() }], 10).status).toBe('not-judged');
  });
});

describe('DLQ stable', () => {
  it('fails when the DLQ grows during the window', () => {
    const c = judgeDlqStable(samples([0, 0, 0], [0, 2, 5]), 0, 0, true);
    expect(c.status).toBe('fail');
    expect(c.detail).toContain('0 → 5 over the window (+5; +3 in its second half)');
  });

  it('reports growth since the preflight baseline but passes a flat window: that growth came from the old workers', () => {
    const c = judgeDlqStable(samples([0, 0, 0], [7, 7, 7]), 2, 0, true);
    expect(c.status).toBe('pass');
    expect(c.detail).toContain(
      'baseline 2 (+5); +5 before the window, while the old workers still ran: review those messages',
    );
  });

  it('fails on growth within the window whatever the baseline', () => {
    const c = judgeDlqStable(samples([0, 0, 0], [7, 8, 9]), 9, 0, true);
    expect(c.status).toBe('fail');
    expect(c.detail).toContain('7 → 9 over the window (+2; +1 in its second half)');
  });

  it('passes a tail early in the window that stops: messages already past maxReceiveCount', () => {
    const c = judgeDlqStable(samples([0, 0, 0, 0, 0], [0, 3, 5, 5, 5]), 0, 0, true);
    expect(c.status).toBe('pass');
    expect(c.detail).toContain('0 → 5 over the window (+5; +0 in its second half)');
  });

  it('allows growth up to the tolerance, and a shrinking DLQ', () => {
    expect(judgeDlqStable(samples([0, 0, 0], [1, 2, 3]), 1, 2, true).status).toBe('pass');
    expect(judgeDlqStable(samples([0, 0, 0], [1, 2, 5]), 1, 2, true).status).toBe('fail');
    expect(judgeDlqStable(samples([0, 0, 0], [9, 4, 0]), 9, 0, true).status).toBe('pass');
  });

  it('is not judged without a DLQ or without DLQ readings', () => {
    expect(judgeDlqStable(samples([0, 0]), 0, 0, false).status).toBe('not-judged');
    const unread = samples([0, 0]).map((s) => ({ ...s, dlq: undefined }));
    expect(judgeDlqStable(unread, 0, 0, true).status).toBe('not-judged');
  });
});

describe('loop and deletion failures (CloudWatch)', () => {
  it('fails a loop: received far above deleted', () => {
    const c = judgeNoLoop({ received: 900, deleted: 30 }, 3);
    expect(c.status).toBe('fail');
    expect(c.detail).toBe('received 900, deleted 30: ratio 30 (limit 3)');
    expect(judgeNoLoop({ received: 90, deleted: 0 }, 3).status).toBe('fail');
  });

  it('passes received close to deleted, and a window with nothing received', () => {
    expect(judgeNoLoop({ received: 100, deleted: 95 }, 3).status).toBe('pass');
    expect(judgeNoLoop({ received: 90, deleted: 30 }, 3).status).toBe('pass');
    expect(judgeNoLoop({ received: 0, deleted: 0 }, 3).status).toBe('pass');
  });

  it('does not judge a loop when either series is missing, naming it', () => {
    const c = judgeNoLoop({ received: 100 }, 3);
    expect(c.status).toBe('not-judged');
    expect(c.detail).toContain('NumberOfMessagesDeleted');
  });

  it('fails a non-zero MessageDeleteFailed sum, passes zero, and does not judge absence', () => {
    expect(judgeDeleteFailures({ deleteFailed: 4 }, 'NS/MessageDeleteFailed')).toMatchObject({
      status: 'fail',
      detail: 'NS/MessageDeleteFailed sum 4 (must be 0)',
    });
    expect(judgeDeleteFailures({ deleteFailed: 0 }, 'NS/M').status).toBe('pass');
    expect(judgeDeleteFailures({}, 'NS/M').status).toBe('not-judged');
  });
});

describe('fleet, services and the window', () => {
  it('judges the fleet as it is now: newcomers without the fix fail by id, the gone are reported', () => {
    const base = {
      running: ['i-a', 'i-b', 'i-n'],
      runsFix: ['i-a', 'i-b'],
      newcomers: ['i-n'],
      notFixed: [],
      gone: ['i-old'],
      transitioning: [],
      noInstall: false,
    };
    const c = judgeWorkers({ read: base });
    expect(c.status).toBe('fail');
    expect(c.detail).toBe(
      '2 of 3 running instances run the fix; joined since the rollout without the fix: i-n; run the rollout again (it deploys to the newcomers) or roll out with strategy asg; gone since preflight (scale-in or replacement, not a failure): i-old',
    );
    const healthy = judgeWorkers({ read: { ...base, running: ['i-a', 'i-b'], newcomers: [] } });
    expect(healthy.status).toBe('pass');
    expect(healthy.detail).toContain('gone since preflight');
    expect(judgeWorkers({ notRead: 'the fleet could not be read' }).status).toBe('not-judged');
    expect(judgeWorkers({ read: { ...base, running: [], runsFix: [], newcomers: [] } }).status).toBe('fail');
    // Verify before any install (a preflight record): only "running" can be judged.
    const early = judgeWorkers({ read: { ...base, runsFix: [], newcomers: [], noInstall: true } });
    expect(early.status).toBe('pass');
  });

  it('fails an inactive service; no answer or a skipped check is not judged', () => {
    expect(
      judgeServices({ checked: 3, inactive: ['i-1 (failed)'], unknown: [] }, 'file-processor').status,
    ).toBe('fail');
    expect(judgeServices({ checked: 3, inactive: [], unknown: ['i-2'] }, 'file-processor').status).toBe(
      'not-judged',
    );
    expect(judgeServices({ skipped: 'off', checked: 0, inactive: [], unknown: [] }, 'x').status).toBe(
      'not-judged',
    );
    expect(judgeServices({ checked: 3, inactive: [], unknown: [] }, 'x').status).toBe('pass');
  });

  it('fails a cancelled window and one where no queue sample could be read', () => {
    expect(judgeWindow(samples([1, 1]), 11, true).status).toBe('fail');
    expect(judgeWindow([{ at: new Date(T0).toISOString() }], 11, false).status).toBe('fail');
    expect(judgeWindow(samples([1, 1, 1]), 3, false)).toMatchObject({
      status: 'pass',
      detail: '3 of 3 samples, 2 min',
    });
  });
});

describe('judge: the checkpoints', () => {
  const ids = (c: Checkpoint) => judge(input({ checkpoint: c })).criteria.map((x) => x.id);

  it('judges each checkpoint on its own criteria', () => {
    expect(ids('10m')).toEqual([
      'window',
      'workers',
      'services',
      'depth-trend',
      'no-loop',
      'dlq-stable',
      'dlq-new',
      'delete-failures',
    ]);
    expect(ids('1h')).toEqual([
      'window',
      'workers',
      'services',
      'depth-reduced',
      'processing-rate',
      'no-loop',
      'dlq-stable',
      'dlq-new',
      'delete-failures',
    ]);
    expect(ids('24h')).toEqual([
      'window',
      'workers',
      'services',
      'depth-under',
      'dlq-empty',
      'lag',
      'uploads',
      'no-loop',
      'delete-failures',
    ]);
  });

  it('passes a healthy 10-minute window and fails on any one failed criterion', () => {
    expect(judge(input()).verdict).toBe('pass');
    expect(judge(input({ metrics: { ...input().metrics, deleteFailed: 1 } })).verdict).toBe('fail');
    expect(judge(input({ samples: samples([50, 80, 120]) })).verdict).toBe('fail');
    expect(judge(input({ samples: samples([50, 20, 5], [0, 0, 1]) })).verdict).toBe('fail');
  });

  it('reports missing CloudWatch metrics as not judged, and passes on the evidence there is', () => {
    const j = judge(input({ metrics: {} }));
    expect(status(j, 'no-loop').status).toBe('not-judged');
    expect(status(j, 'delete-failures').status).toBe('not-judged');
    expect(j.verdict).toBe('pass');
  });

  it('1 h: depth must fall by MORE than the percent from the baseline (of 500)', () => {
    const at = (last: number, pct = 50) =>
      status(
        judge(
          input({
            checkpoint: '1h',
            samples: samples([300, last]),
            thresholds: { ...RUNBOOK, minDepthReductionPercent: pct },
          }),
        ),
        'depth-reduced',
      );
    expect(at(250).status).toBe('fail');
    expect(at(249).status).toBe('pass');
    expect(at(249).detail).toBe('500 → 249 messages (−50.2%)');
    expect(at(150, 75).status).toBe('fail');
    expect(at(124, 75).status).toBe('pass');
    // Drained counts however small the baseline was.
    expect(at(3).status).toBe('pass');
    expect(
      status(
        judge(input({ checkpoint: '1h', baseline: undefined, samples: samples([300, 200]) })),
        'depth-reduced',
      ).status,
    ).toBe('not-judged');
  });

  it('1 h: processing rate above the minimum, unless the queue is drained', () => {
    const rate = (filesPerHour: number | undefined, last = 200, min = 50) =>
      status(
        judge(
          input({
            checkpoint: '1h',
            samples: samples([300, last]),
            metrics: { ...input().metrics, filesPerHour },
            thresholds: { ...RUNBOOK, minFilesPerHour: min },
          }),
        ),
        'processing-rate',
      ).status;
    expect(rate(50)).toBe('fail');
    expect(rate(51)).toBe('pass');
    expect(rate(150, 200, 200)).toBe('fail');
    expect(rate(12, 4)).toBe('pass');
    expect(rate(undefined)).toBe('not-judged');
  });

  it('1 h: a loop fails the checkpoint', () => {
    const j = judge(
      input({
        checkpoint: '1h',
        samples: samples([300, 100]),
        metrics: { received: 5000, deleted: 100, filesPerHour: 600 },
      }),
    );
    expect(status(j, 'no-loop').status).toBe('fail');
    expect(j.verdict).toBe('fail');
  });

  // Issue 16: "DLQ reviewed and cleared" needs a redrive review in the record and the DLQ at or under
  // drained-threshold (the old criterion demanded exactly 0 and never looked for a review).
  it('24 h: depth under the limit, DLQ reviewed and cleared, lag under the limit', () => {
    const review = { reviewedAt: '2026-11-29T20:00:00.000Z', sampled: 12 };
    const day = (
      q: number,
      d: number,
      lag: number | undefined,
      over: Partial<Thresholds> = {},
      redriveReview: typeof review | null = review,
    ) =>
      judge(
        input({
          checkpoint: '24h',
          samples: samples([q, q], [d, d]),
          metrics: { ...input().metrics, oldestAgeSeconds: lag },
          thresholds: { ...RUNBOOK, ...over },
          redriveReview: redriveReview ?? undefined,
        }),
      );
    expect(day(9, 0, 299).verdict).toBe('pass');
    expect(status(day(10, 0, 10), 'depth-under').status).toBe('fail');
    expect(status(day(10, 0, 10, { maxDepth24h: 11 }), 'depth-under').status).toBe('pass');
    expect(status(day(0, 2, 10), 'dlq-empty')).toMatchObject({
      status: 'pass',
      detail: 'reviewed 2026-11-29T20:00:00.000Z (12 sampled); 2 messages, at or under 10',
    });
    expect(status(day(0, 11, 10), 'dlq-empty')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('11 messages, over 10: redrive or review them'),
    });
    expect(status(day(0, 0, 10, {}, null), 'dlq-empty')).toMatchObject({
      status: 'fail',
      detail: 'no DLQ review in the record for this deployment: run mode redrive',
    });
    expect(status(day(0, 0, 300), 'lag').status).toBe('fail');
    expect(status(day(0, 0, 300, { maxLagSeconds: 600 }), 'lag').status).toBe('pass');
    expect(status(day(0, 0, undefined), 'lag').status).toBe('not-judged');
    expect(day(0, 0, undefined).verdict).toBe('pass');
  });
});

describe('issue 13: a queue drained into the DLQ is not a drained queue', () => {
  it('fails depth when the DLQ rose in the window by as much as the queue fell', () => {
    const j = judge(
      input({
        // The backlog passes maxReceiveCount early in the window and moves to the DLQ: the queue
        // reads drained, and the DLQ's growth is all in the first half.
        samples: samples([500, 200, 0, 0, 0], [0, 300, 500, 500, 500]),
        metrics: {},
      }),
    );
    expect(status(j, 'depth-trend')).toMatchObject({
      status: 'fail',
      detail:
        'the queue fell by 500 but the DLQ rose by 500 in the window: the messages were dead-lettered, not processed',
    });
    // The DLQ did not move in the window's second half: the "stable" check alone would pass it.
    expect(status(j, 'dlq-stable').status).toBe('pass');
    expect(j.verdict).toBe('fail');
  });

  it('passes a fall mostly processed, with the tail that reached the DLQ', () => {
    const j = judge(input({ samples: samples([100, 40, 0], [30, 34, 34]) }));
    expect(status(j, 'depth-trend').status).toBe('pass');
  });

  it('does not weigh the DLQ rise since preflight: the old workers dead-lettered uploads until the fix landed', () => {
    const j = judge(
      input({
        samples: samples([40, 20, 0], [700, 700, 700]),
        baseline: {
          at: new Date(T0 - 3600_000).toISOString(),
          visible: 480,
          inFlight: 20,
          delayed: 0,
          dlqVisible: 0,
        },
      }),
    );
    expect(status(j, 'depth-trend').status).toBe('pass');
  });

  it('fails DLQ messages first sent after the fix beyond dlq-tolerance, excusing the tail by count', () => {
    const peek = {
      fixedAt: '2026-11-29T00:00:00.000Z',
      fixedBy: 'the rollout ended',
      depth: 40,
      sampled: 40,
      afterFix: 3,
      beforeFix: 37,
    };
    const c = judgeDlqNew(peek, 0, true);
    expect(c).toMatchObject({
      status: 'fail',
      detail:
        "40 DLQ message(s) read: 3 first sent after the fleet ran the fix (the rollout ended, 2026-11-29T00:00:00.000Z); 37 sent before (the old workers' tail, excused); tolerance 0",
    });
    expect(judgeDlqNew(peek, 3, true).status).toBe('pass');
    expect(judgeDlqNew({ ...peek, afterFix: 0, beforeFix: 40 }, 0, true).status).toBe('pass');
    expect(
      judgeDlqNew({ ...peek, sampled: 0, afterFix: 0, beforeFix: 0, error: 'AccessDenied' }, 0, true).status,
    ).toBe('not-judged');
    expect(judgeDlqNew(undefined, 0, true).status).toBe('not-judged');
    expect(judgeDlqNew(peek, 0, false).status).toBe('not-judged');
  });

  it('fails received-but-never-deleted at every checkpoint, and says how old the data is', () => {
    const metrics = {
      received: 120,
      deleted: 0,
      dataThrough: '2026-11-29T00:07:00.000Z',
      windowEnd: '2026-11-29T00:10:00.000Z',
    };
    for (const checkpoint of ['10m', '1h', '24h'] as const) {
      const c = status(judge(input({ checkpoint, metrics })), 'no-loop');
      expect(c).toMatchObject({
        status: 'fail',
        detail:
          'received 120, deleted 0: messages are received and never deleted; CloudWatch data through 00:07 UTC (3 min before the window closed: SQS metrics arrive late)',
      });
    }
  });

  it('lag: says that the age skips messages received three times, and fails a looping queue on it', () => {
    const ok = judgeLag({ oldestAgeSeconds: 40, received: 100, deleted: 100 }, 300, 3);
    expect(ok.status).toBe('pass');
    expect(ok.detail).toContain('skips messages received three or more times');
    const loop = judgeLag({ oldestAgeSeconds: 40, received: 100, deleted: 0 }, 300, 3);
    expect(loop.status).toBe('fail');
    expect(loop.detail).toContain('the age hides them');
  });

  it('24 h: uploads working when messages were sent; not judged without the metric', () => {
    expect(judgeUploads({ sent: 42 }).status).toBe('pass');
    expect(judgeUploads({ sent: 0 }).status).toBe('fail');
    expect(judgeUploads({}).status).toBe('not-judged');
  });
});
