// Preflight's session check: the planned canary and rollout against the sessions their jobs get.
// AssumeRoleWithWebIdentity's DurationSeconds is capped by the role's MaxSessionDuration (1 h by
// default): https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html
import {
  BATCH_MIN_SECONDS,
  CANARY_SETUP_SECONDS,
  plannedCanarySeconds,
  plannedRolloutSeconds,
  sessionWarnings,
  type SessionPlan,
} from '../../src/logic/session.js';
import { parseInputs } from '../../src/inputs.js';
import { preflight } from '../../src/modes/preflight.js';
import { reader, testContext, type RawInputs } from '../support/context.js';
import { GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { stubRunningFleet } from '../support/aws-stubs.js';

const plan = (p: Partial<SessionPlan> = {}): SessionPlan => ({
  canaryMinutes: 5,
  strategy: 'ssm',
  batchSize: { kind: 'count', value: 1 },
  pauseSeconds: 120,
  fleetSize: 5,
  ...p,
});
const sessions = (canary?: number, rollout?: number) => ({
  canary,
  rollout,
  canarySource: 'canary-session-seconds',
  rolloutSource: 'rollout-session-seconds',
});

describe('planned durations', () => {
  it('the canary: its watch plus the set-up', () => {
    expect(plannedCanarySeconds(plan({ canaryMinutes: 180 }))).toBe(180 * 60 + CANARY_SETUP_SECONDS);
  });

  it('the in-place rollout: one batch per batch-size of the fleet without the canary, pauses between', () => {
    // 4 instances after the canary, one at a time: 4 batches, 3 pauses.
    expect(plannedRolloutSeconds(plan())).toBe(4 * BATCH_MIN_SECONDS + 3 * 120);
    expect(plannedRolloutSeconds(plan({ batchSize: { kind: 'percent', value: 50 } }))).toBe(
      2 * BATCH_MIN_SECONDS + 120,
    );
    expect(plannedRolloutSeconds(plan({ fleetSize: 1 }))).toBe(0);
    // An instance refresh's length is AWS's: not estimated.
    expect(plannedRolloutSeconds(plan({ strategy: 'asg' }))).toBeUndefined();
  });
});

describe('sessionWarnings', () => {
  it('says nothing when the sessions outlast the plan, or are not given', () => {
    expect(sessionWarnings(plan(), sessions(12600, 21600))).toEqual([]);
    expect(sessionWarnings(plan({ canaryMinutes: 180, fleetSize: 5000 }), sessions())).toEqual([]);
  });

  it('warns when a 180-minute canary meets the default 1-hour session', () => {
    const [w, ...rest] = sessionWarnings(plan({ canaryMinutes: 180 }), sessions(3600, 21600));
    expect(rest).toEqual([]);
    expect(w).toContain('canary-minutes 180');
    expect(w).toContain('canary-session-seconds');
    expect(w).toContain('ends after 60 min');
    expect(w).toContain('MaxSessionDuration');
  });

  it('warns when 200 one-at-a-time batches with 2-minute pauses outlast a 6-hour session', () => {
    const warnings = sessionWarnings(plan({ fleetSize: 201 }), sessions(12600, 21600));
    expect(warnings).toHaveLength(1);
    // 200 batches of at least 60 s and 199 pauses of 120 s: 35,880 s, 598 min.
    expect(warnings[0]).toContain('rollout of 200 instance(s) is planned to take at least 598 min');
    expect(warnings[0]).toContain('rollout-session-seconds');
  });
});

describe('canary-session-seconds / rollout-session-seconds inputs', () => {
  const base: RawInputs = { mode: 'preflight', region: 'ap-northeast-1', 'queue-name': 'q' };
  const parse = (raw: RawInputs) => parseInputs(reader({ ...base, ...raw }));

  it('are whole seconds from 900 to 43200 (STS), empty meaning not checked', () => {
    const ok = parse({ 'canary-session-seconds': '12600' });
    expect(ok.canarySessionSeconds).toBe(12600);
    expect(ok.rolloutSessionSeconds).toBeUndefined();
    expect(() => parse({ 'rollout-session-seconds': '60' })).toThrow(/rollout-session-seconds.*900 to 43200/);
    expect(() => parse({ 'canary-session-seconds': '1h' })).toThrow(/canary-session-seconds/);
  });
});

describe('preflight with the sessions of the later jobs', () => {
  const QUEUE_URL = 'https://sqs.ap-northeast-1.amazonaws.com/123456789012/q';
  function run(raw: RawInputs) {
    const t = testContext({ mode: 'preflight', 'queue-name': 'q', 'ssm-check': 'false', ...raw });
    // Response shapes as the API references give them: GetCallerIdentity, GetQueueUrl,
    // GetQueueAttributes (string attribute values), DescribeInstances (Reservations[].Instances[]).
    mockClient(t.ctx.clients.sts)
      .on(GetCallerIdentityCommand)
      .resolves({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:role/deployer' });
    // GetMetricData (API_GetMetricData): no data points for the hour before.
    mockClient(t.ctx.clients.cloudwatch).on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    const sqs = mockClient(t.ctx.clients.sqs);
    sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: QUEUE_URL });
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: {
        QueueArn: 'arn:aws:sqs:ap-northeast-1:123456789012:q',
        ApproximateNumberOfMessages: '10',
        ApproximateNumberOfMessagesNotVisible: '0',
        ApproximateNumberOfMessagesDelayed: '0',
        VisibilityTimeout: '300',
      },
    });
    const ids = Array.from({ length: 201 }, (_, i) => `i-${String(i).padStart(17, '0')}`);
    stubRunningFleet(mockClient(t.ctx.clients.ec2), ids, { Tags: [] });
    return { ...t, out: preflight(t.ctx) };
  }

  it('warns, without failing, when the rollout of 201 instances outlasts its 6-hour session', async () => {
    const { report, out } = run({ 'canary-session-seconds': '12600', 'rollout-session-seconds': '21600' });
    const result = await out;
    expect(result.verdict).toBe('pass');
    expect(report.warnings.join('\n')).toContain(
      'rollout of 200 instance(s) is planned to take at least 598 min',
    );
    expect(result.record.warnings.join('\n')).toContain('rollout-session-seconds');
  });

  it('says nothing when the sessions are not given', async () => {
    const { report, out } = run({});
    await out;
    expect(report.warnings.join('\n')).not.toContain('session');
  });
});
