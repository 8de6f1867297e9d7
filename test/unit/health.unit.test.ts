// The canary's judgement from evidence: per poll, fail-fast, and the final GO / NO-GO / inconclusive.
import {
  canaryVerdict,
  failFastReason,
  judgeCanary,
  judgePoll,
  MAX_UNREADABLE_POLLS,
  type PollObservation,
} from '../../src/logic/health.js';
import { parseWatchOutput } from '../../src/remote/results.js';
import { ScriptExit } from '../../src/remote/scripts.js';

const patterns = {
  health: ['Received [0-9]+ messages?', 'Successfully processed', 'Deleted message'],
  errors: ['Traceback', 'ERROR', 'CRITICAL'],
};

function poll(stdout: string, over: Partial<PollObservation> = {}): PollObservation {
  return {
    at: '2026-11-29T00:01:00.000Z',
    commandId: 'cmd-1',
    status: 'Success',
    statusDetails: 'Success',
    responseCode: 0,
    stderr: '',
    report: parseWatchOutput(stdout, patterns.health.length, patterns.errors.length),
    ...over,
  };
}

const lines = (
  health: number[],
  errors: number[],
  extra: string[] = ['EWD service=active', 'EWD restarts=0'],
) =>
  [
    ...health.map((n, i) => `EWD health.${i}=${n}`),
    ...errors.map((n, i) => `EWD error.${i}=${n}`),
    ...extra,
  ].join('\n');

function judge(
  polls: PollObservation[],
  extra: { metricSum?: number; stoppedEarly?: string } = {},
  p = patterns,
) {
  const judgements = polls.map((o) => judgePoll(o, p));
  return judgeCanary({ patterns: p, polls, judgements, metricName: 'MessageDeleteFailed', ...extra });
}

describe('judgePoll', () => {
  it('a healthy poll has no failures', () => {
    expect(judgePoll(poll(lines([1, 1, 1], [0, 0, 0])), patterns)).toEqual({ failures: [] });
  });

  it.each([
    ['Traceback', [1, 0, 0]],
    ['ERROR', [0, 2, 0]],
    ['CRITICAL', [0, 0, 5]],
  ])('names the error pattern %s with its count', (name, errors) => {
    const obs = poll(lines([1, 1, 1], errors), {
      status: 'Failed',
      statusDetails: 'Failed',
      responseCode: ScriptExit.ErrorPattern,
    });
    const j = judgePoll(obs, patterns);
    expect(j.failures).toHaveLength(1);
    expect(j.failures[0]).toMatch(new RegExp(`^error pattern "${name}" appeared \\d+ times?$`));
  });

  it('reads the verdict from the exit code when there is no output', () => {
    const failed = (code: number) =>
      poll('', { status: 'Failed', statusDetails: 'Failed', responseCode: code });
    expect(judgePoll(failed(ScriptExit.ErrorPattern), patterns).failures).toEqual([
      'an error pattern appeared in the journal (no output to say which)',
    ]);
    expect(judgePoll(failed(ScriptExit.Inactive), patterns).failures).toEqual(['the service is not active']);
    expect(judgePoll(failed(ScriptExit.Restarted), patterns).failures).toEqual([
      'the service restarted on its own (crash loop)',
    ]);
    expect(judgePoll(poll(''), patterns)).toEqual({ failures: [] });
  });

  it('an inactive service and a crash loop are failures', () => {
    const inactive = poll(lines([0, 0, 0], [0, 0, 0], ['EWD service=failed', 'EWD restarts=0']), {
      status: 'Failed',
      responseCode: ScriptExit.Inactive,
    });
    expect(judgePoll(inactive, patterns).failures).toEqual(['the service is failed']);
    const looping = poll(lines([1, 1, 1], [0, 0, 0], ['EWD service=active', 'EWD restarts=4']), {
      status: 'Failed',
      responseCode: ScriptExit.Restarted,
    });
    expect(judgePoll(looping, patterns).failures).toEqual([
      'the service restarted 4 times on its own (crash loop)',
    ]);
    expect(judgePoll(looping, patterns, 4).failures).toEqual([
      'the service restarted on its own (crash loop)',
    ]);
  });

  it('a pattern the instance grep rejects is a failure that names it', () => {
    const obs = poll('EWD error.1=invalid\nEWD service=active', {
      status: 'Failed',
      responseCode: ScriptExit.BadPattern,
    });
    expect(judgePoll(obs, patterns).failures).toEqual([
      'error pattern "ERROR" was rejected by grep -E on the instance',
    ]);
  });

  it.each([
    ['TimedOut', 'Delivery Timed Out', -1, 'SSM TimedOut (Delivery Timed Out)'],
    ['Failed', 'Undeliverable', -1, 'SSM Failed (Undeliverable)'],
    ['Cancelled', 'Cancelled', -1, 'SSM Cancelled'],
    ['Failed', 'Failed', 1, 'SSM Failed, exit code 1: date: invalid'],
  ])('an SSM %s (%s) is unreadable, not a verdict', (status, statusDetails, responseCode, text) => {
    const j = judgePoll(
      poll('', { status, statusDetails, responseCode, stderr: 'date: invalid\n' }),
      patterns,
    );
    expect(j.failures).toEqual([]);
    expect(j.unreadable).toContain(text);
  });
});

describe('failFastReason', () => {
  it('stops at the first failure', () => {
    expect(failFastReason([{ failures: [] }, { failures: ['the service is failed'] }])).toBe(
      'the service is failed',
    );
    expect(failFastReason([{ failures: [] }])).toBeUndefined();
    expect(failFastReason([])).toBeUndefined();
  });

  it(`tolerates ${MAX_UNREADABLE_POLLS - 1} unreadable polls in a row, not ${MAX_UNREADABLE_POLLS}`, () => {
    const u = { failures: [], unreadable: 'SSM TimedOut' };
    expect(failFastReason([u, u, { failures: [] }, u, u])).toBeUndefined();
    expect(failFastReason([u, u, u])).toMatch(/could not be read 3 times in a row \(last: SSM TimedOut\)/);
  });
});

describe('judgeCanary', () => {
  it('GO: every health pattern seen, no error, active, not restarted', () => {
    const j = judge([poll(lines([0, 0, 0], [0, 0, 0])), poll(lines([3, 2, 2], [0, 0, 0]))]);
    expect(j.decision).toBe('go');
    expect(j.healthCounts).toEqual([3, 2, 2]);
    expect(j.errorCounts).toEqual([0, 0, 0]);
    expect(j.reasons[0]).toMatch(/every health pattern seen/);
  });

  it('NO-GO on any error pattern, even after healthy polls', () => {
    const j = judge([
      poll(lines([1, 1, 1], [0, 0, 0])),
      poll(lines([2, 2, 2], [0, 1, 0]), { status: 'Failed', responseCode: ScriptExit.ErrorPattern }),
    ]);
    expect(j.decision).toBe('no-go');
    expect(j.reasons).toEqual(['error pattern "ERROR" appeared 1 time']);
  });

  it('NO-GO on a crash loop and on an inactive service', () => {
    expect(
      judge([
        poll(lines([1, 1, 1], [0, 0, 0], ['EWD service=active', 'EWD restarts=2']), {
          status: 'Failed',
          responseCode: 12,
        }),
      ]).decision,
    ).toBe('no-go');
    expect(judge([poll('', { status: 'Failed', responseCode: ScriptExit.Inactive })]).reasons).toEqual([
      'the service is not active',
    ]);
  });

  it('inconclusive when the canary saw no work', () => {
    const j = judge([poll(lines([0, 0, 0], [0, 0, 0]))]);
    expect(j.decision).toBe('inconclusive');
    expect(j.reasons[0]).toMatch(/saw no work: none of the 3 health patterns appeared/);
  });

  it('inconclusive when the instance returned no output to count health patterns in', () => {
    const j = judge([poll('')]);
    expect(j.decision).toBe('inconclusive');
    expect(j.healthCounts).toEqual([undefined, undefined, undefined]);
    expect(j.reasons[0]).toMatch(/returned no output/);
  });

  it('NO-GO when some health patterns appeared and others never did (messages received, never deleted)', () => {
    const j = judge([poll(lines([4, 4, 0], [0, 0, 0]))]);
    expect(j.decision).toBe('no-go');
    expect(j.reasons[0]).toBe(
      'health pattern "Deleted message" never appeared while "Received [0-9]+ messages?", "Successfully processed" did',
    );
  });

  it('GO with no health patterns on the service state and errors alone (the emulator case)', () => {
    const none = { health: [], errors: patterns.errors };
    const j = judge([poll('')], {}, none);
    expect(j.decision).toBe('go');
    expect(j.reasons[0]).toMatch(/no health patterns/);
  });

  it('NO-GO on a non-zero metric sum; missing metric data does not decide', () => {
    const healthy = [poll(lines([1, 1, 1], [0, 0, 0]))];
    expect(judge(healthy, { metricSum: 3 }).reasons).toEqual([
      'MessageDeleteFailed summed to 3 for the canary (must stay 0)',
    ]);
    expect(judge(healthy, { metricSum: 0 }).decision).toBe('go');
    expect(judge(healthy, { metricSum: undefined }).decision).toBe('go');
  });

  it('NO-GO when the last poll could not be read, or the watch stopped early, or nothing was checked', () => {
    const unreadable = poll('', {
      status: 'TimedOut',
      statusDetails: 'Delivery Timed Out',
      responseCode: -1,
    });
    expect(judge([poll(lines([1, 1, 1], [0, 0, 0])), unreadable]).reasons[0]).toMatch(
      /could not be read at the end of the watch: SSM TimedOut \(Delivery Timed Out\)/,
    );
    expect(
      judge([poll(lines([1, 1, 1], [0, 0, 0]))], { stoppedEarly: 'the run was cancelled during the watch' })
        .reasons,
    ).toEqual(['the run was cancelled during the watch']);
    expect(judge([]).reasons).toEqual(['the canary was never checked']);
  });

  it('an unreadable poll in the middle does not spoil a GO', () => {
    const unreadable = poll('', {
      status: 'TimedOut',
      statusDetails: 'Delivery Timed Out',
      responseCode: -1,
    });
    expect(
      judge([poll(lines([1, 1, 1], [0, 0, 0])), unreadable, poll(lines([2, 2, 2], [0, 0, 0]))]).decision,
    ).toBe('go');
  });
});

describe('canaryVerdict', () => {
  it('inconclusive passes only when allowed', () => {
    expect(canaryVerdict('inconclusive', false)).toBe('no-go');
    expect(canaryVerdict('inconclusive', true)).toBe('go');
    expect(canaryVerdict('go', false)).toBe('go');
    expect(canaryVerdict('no-go', true)).toBe('no-go');
  });
});
