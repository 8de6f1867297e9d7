import { GetMetricDataCommand, ListMetricsCommand, type MetricDataResult } from '@aws-sdk/client-cloudwatch';
import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, type InstanceStateName } from '@aws-sdk/client-ec2';
import {
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import { ListCommandInvocationsCommand, ListCommandsCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { verify } from '../../src/modes/verify.js';
import { newRecord, type DeploymentRecord, type VerifyRecordEntry } from '../../src/record.js';
import { awsError, TEST_GITHUB, testContext, type RawInputs } from '../support/context.js';
import { asgGroup, asgInstance, ec2Instance, instancesAnswer } from '../support/aws-stubs.js';
import { canaryInstalled } from '../support/records.js';

const QUEUE_URL = 'https://sqs.ap-northeast-1.amazonaws.com/123456789012/file-processing-queue-production';
const QUEUE_ARN = 'arn:aws:sqs:ap-northeast-1:123456789012:file-processing-queue-production';
const DLQ_URL = 'https://sqs.ap-northeast-1.amazonaws.com/123456789012/cis-worker-failures';
const DLQ_ARN = 'arn:aws:sqs:ap-northeast-1:123456789012:cis-worker-failures';
const FLEET = ['i-0000000000000000a', 'i-0000000000000000b', 'i-0000000000000000c'];
const START = Date.parse('2026-11-29T00:00:00Z');

function baseRecord(): DeploymentRecord {
  const r = newRecord({
    deploymentId: 'dep-20261128t230000z-4242-1',
    now: new Date(START - 3600_000),
    region: 'ap-northeast-1',
    github: TEST_GITHUB,
    serviceName: 'file-processor',
    workerDir: '/opt/file-processor',
    targetFile: 'worker.py',
  });
  r.queue = {
    url: QUEUE_URL,
    name: 'file-processing-queue-production',
    arn: QUEUE_ARN,
    visibilityTimeout: 900,
    dlqUrl: DLQ_URL,
    dlqName: 'cis-worker-failures',
    dlqArn: DLQ_ARN,
    maxReceiveCount: 3,
  };
  r.fleet = {
    filters: ['tag:Name=cis-file-processor'],
    instanceIds: FLEET.slice(0, 2),
    discoveredAt: r.createdAt,
  };
  // The canary and the rollout installed the fix on all three; the third instance is known only
  // through the rollout's entry (it joined after preflight and the rollout reconciled it).
  r.canary = {
    instanceId: FLEET[0],
    verdict: 'go',
    reason: 'healthy',
    startedAt: new Date(START - 3000_000).toISOString(),
  };
  r.instances = {
    [FLEET[0]]: canaryInstalled(),
    [FLEET[1]]: { p: 'r', b: 1, s: 'installed', c: 1 },
    [FLEET[2]]: { p: 'r', b: 1, s: 'installed', c: 1 },
  };
  r.commands = ['cmd-canary', 'cmd-rollout'];
  r.metrics.before = {
    at: r.createdAt,
    visible: 1200,
    inFlight: 40,
    delayed: 0,
    dlqVisible: 2,
    instances: 3,
  };
  return r;
}

interface World {
  /** Queue visible messages, one value a minute of the window (the last one holds). */
  visible: number[];
  inFlight?: number[];
  dlq?: number[];
  /** CloudWatch results; undefined: no data at all (the emulator's case). */
  metrics?: {
    deleteFailed?: number[];
    /** Per dimension combination ("InstanceId=i-…"), when the worker publishes with dimensions. */
    deleteFailedBy?: Record<string, number[]>;
    received?: number[];
    deleted?: number[];
    sent?: number[];
    oldest?: number[];
  };
  /** The worker metric's dimension combinations ListMetrics returns (default: one, without dimensions). */
  metricDimensions?: { Name: string; Value: string }[][];
  /** DLQ messages ReceiveMessage returns: SentTimestamp in ms. */
  dlqMessages?: { id: string; sentAt: number }[];
  states?: Record<string, InstanceStateName>;
  /** Instances matching the filters besides FLEET (untagged unless `tag` says otherwise). */
  extra?: { id: string; tag?: string; imageId?: string }[];
}

const DEPLOYMENT_ID = 'dep-20261128t230000z-4242-1';
const OLD_IMAGE = 'ami-0000000000000old0';

function atMinute(values: number[], minute: number): number {
  return values[Math.min(values.length - 1, minute)];
}

function setup(world: World, raw: RawInputs = {}, record: DeploymentRecord | null = baseRecord()) {
  const t = testContext({
    mode: 'verify',
    'check-services': 'false',
    ...(record ? { record: JSON.stringify(record) } : {}),
    ...raw,
  });
  const sqs = mockClient(t.ctx.clients.sqs);
  const ec2 = mockClient(t.ctx.clients.ec2);
  const cw = mockClient(t.ctx.clients.cloudwatch);
  const ssm = mockClient(t.ctx.clients.ssm);
  const asg = mockClient(t.ctx.clients.autoscaling);
  const opened = t.runtime.clock.now().getTime();
  const minute = () => Math.round((t.runtime.clock.now().getTime() - opened) / 60_000);
  sqs
    .on(GetQueueUrlCommand, { QueueName: 'file-processing-queue-production' })
    .resolves({ QueueUrl: QUEUE_URL });
  sqs.on(GetQueueUrlCommand, { QueueName: 'cis-worker-failures' }).resolves({ QueueUrl: DLQ_URL });
  sqs.on(GetQueueAttributesCommand, { QueueUrl: QUEUE_URL }).callsFake(() => ({
    Attributes: {
      QueueArn: QUEUE_ARN,
      ApproximateNumberOfMessages: String(atMinute(world.visible, minute())),
      ApproximateNumberOfMessagesNotVisible: String(atMinute(world.inFlight ?? [0], minute())),
      ApproximateNumberOfMessagesDelayed: '0',
      VisibilityTimeout: '900',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: DLQ_ARN, maxReceiveCount: 3 }),
    },
  }));
  sqs.on(GetQueueAttributesCommand, { QueueUrl: DLQ_URL }).callsFake(() => ({
    Attributes: {
      QueueArn: DLQ_ARN,
      ApproximateNumberOfMessages: String(atMinute(world.dlq ?? [2], minute())),
      ApproximateNumberOfMessagesNotVisible: '0',
      ApproximateNumberOfMessagesDelayed: '0',
    },
  }));
  // DescribeInstances honours its filters (API_DescribeInstances: instance-state-name, tag:KEY):
  // verify re-discovers the fleet with the deployment's filters plus instance-state-name=running.
  // ReceiveMessage (API_ReceiveMessage): Attributes carry the requested system attributes as strings.
  sqs
    .on(ReceiveMessageCommand, { QueueUrl: DLQ_URL })
    .callsFake((input: { MaxNumberOfMessages?: number }) => ({
      Messages: (world.dlqMessages ?? []).slice(0, input.MaxNumberOfMessages ?? 1).map((m) => ({
        MessageId: m.id,
        ReceiptHandle: `rh-${m.id}`,
        Body: '{}',
        Attributes: { SentTimestamp: String(m.sentAt), ApproximateReceiveCount: '4' },
      })),
    }));
  ec2.on(DescribeInstancesCommand).callsFake((input: { Filters?: { Name: string; Values: string[] }[] }) => {
    const all = [
      ...FLEET.map((id) => ({ id, tag: DEPLOYMENT_ID as string | undefined, imageId: OLD_IMAGE })),
      ...(world.extra ?? []).map((x) => ({ imageId: OLD_IMAGE, ...x })),
    ];
    const state = input.Filters?.find((f) => f.Name === 'instance-state-name');
    const matching = all.filter((i) => !state || state.Values.includes(world.states?.[i.id] ?? 'running'));
    return instancesAnswer(
      matching.map((i) =>
        ec2Instance(i.id, world.states?.[i.id] ?? 'running', {
          ImageId: i.imageId,
          Tags: [
            { Key: 'Name', Value: 'cis-file-processor' },
            ...(i.tag ? [{ Key: 'emergency-deploy:deployment-id', Value: i.tag }] : []),
          ],
        }),
      ),
    );
  });
  // ListMetrics (API_ListMetrics): each dimension combination the worker publishes is one entry.
  cw.on(ListMetricsCommand).resolves({
    Metrics: (world.metricDimensions ?? [[]]).map((dims) => ({
      Namespace: 'CISFileSearch/Worker',
      MetricName: 'MessageDeleteFailed',
      Dimensions: dims,
    })),
  });
  // GetMetricData (API_GetMetricData): one MetricDataResult per query Id, Timestamps and Values
  // paired, oldest first with ScanBy TimestampAscending.
  cw.on(GetMetricDataCommand).callsFake(
    (input: {
      StartTime: Date;
      MetricDataQueries: {
        Id: string;
        MetricStat: { Metric: { MetricName: string; Dimensions?: { Name: string; Value: string }[] } };
      }[];
    }) => {
      const m = world.metrics;
      if (!m) return { MetricDataResults: [] };
      const result = (id: string, values: number[] | undefined): MetricDataResult => ({
        Id: id,
        Timestamps: (values ?? []).map((_, i) => new Date(new Date(input.StartTime).getTime() + i * 60_000)),
        Values: values ?? [],
        StatusCode: 'Complete',
      });
      const byName: Record<string, number[] | undefined> = {
        NumberOfMessagesReceived: m.received,
        NumberOfMessagesDeleted: m.deleted,
        NumberOfMessagesSent: m.sent,
        ApproximateAgeOfOldestMessage: m.oldest,
      };
      return {
        MetricDataResults: input.MetricDataQueries.map((q) => {
          const metric = q.MetricStat.Metric;
          if (metric.MetricName !== 'MessageDeleteFailed') return result(q.Id, byName[metric.MetricName]);
          const key = (metric.Dimensions ?? []).map((d) => `${d.Name}=${d.Value}`).join(',');
          return result(q.Id, m.deleteFailedBy ? m.deleteFailedBy[key] : m.deleteFailed);
        }),
      };
    },
  );
  ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-status' } });
  ssm.on(ListCommandsCommand).resolves({
    Commands: [
      { CommandId: 'cmd-status', Status: 'Success', TargetCount: 3, CompletedCount: 3, ErrorCount: 0 },
    ],
  });
  // A command's Success does not mean every instance succeeded (API_Command StatusDetails): the
  // fan-out reads each instance's own status once the command ends.
  ssm.on(ListCommandInvocationsCommand).resolves({
    CommandInvocations: FLEET.map((InstanceId) => ({
      InstanceId,
      Status: 'Success',
      StatusDetails: 'Success',
      CommandPlugins: [{ ResponseCode: 0, Output: 'EWD service=active\n' }],
    })),
  });
  return { ...t, sqs, ec2, cw, ssm, asg };
}

const HEALTHY_METRICS = {
  deleteFailed: [0, 0, 0, 0, 0, 0, 0, 0],
  received: [130, 125, 120, 118, 110, 105, 100, 90],
  deleted: [128, 125, 119, 118, 110, 104, 100, 90],
  oldest: [900, 700, 500, 400, 260, 120, 60, 30],
};
const DRAINING = [1200, 1050, 900, 760, 620, 480, 350, 220, 120, 40, 8];

function entry(record: DeploymentRecord, checkpoint = '10m'): VerifyRecordEntry {
  return (record.extra.verify as Record<string, VerifyRecordEntry>)[checkpoint];
}

function criterion(record: DeploymentRecord, id: string, checkpoint = '10m') {
  return entry(record, checkpoint).criteria.find((c) => c.id === id);
}

describe('verify (10 min checkpoint)', () => {
  it('passes a draining queue, samples on the clock, and records the column, samples and judgement', async () => {
    const { ctx, runtime, report, cw } = setup({ visible: DRAINING, metrics: HEALTHY_METRICS });
    const out = await verify(ctx);
    expect(out.verdict).toBe('pass');
    expect(out.failure).toBeUndefined();
    // 10 minutes every 60 s: 11 samples, 10 sleeps of one interval each.
    expect(runtime.clock.sleeps).toEqual(Array(10).fill(60_000));
    const e = entry(out.record);
    expect(e.planned).toBe(11);
    expect(e.taken).toBe(11);
    expect(e.samples.t).toEqual([0, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600]);
    expect(e.samples.v).toEqual(DRAINING);
    expect(e.samples.r).toEqual(Array(11).fill(3));
    expect(e.verdict).toBe('pass');
    expect(criterion(out.record, 'depth-trend')).toMatchObject({
      s: 'pass',
      d: expect.stringMatching(/^drained: 8 messages/),
    });
    expect(criterion(out.record, 'no-loop')).toMatchObject({ s: 'pass' });
    expect(criterion(out.record, 'workers')).toMatchObject({
      s: 'pass',
      d: '3 of 3 running instances run the fix',
    });
    expect(out.record.metrics['10m']).toEqual({
      at: '2026-11-29T00:10:00.000Z',
      visible: 8,
      inFlight: 0,
      delayed: 0,
      dlqVisible: 2,
      instances: 3,
      // 894 deleted over 8 reported minutes.
      filesPerHour: 6705,
      oldestAgeSeconds: 30,
      deleteFailed: 0,
    });
    expect(out.record.metrics.before?.visible).toBe(1200);
    expect(out.record.phases.at(-1)).toMatchObject({ mode: 'verify', verdict: 'pass' });
    expect(out.outputs).toMatchObject({ 'queue-depth': '8', 'dlq-depth': '2' });
    expect(JSON.parse(report.outputs.record ?? '{}').metrics['10m'].visible).toBe(8);
    // One GetMetricData call for the five metrics, over the window rounded out to whole minutes.
    expect(cw.commandCalls(GetMetricDataCommand)).toHaveLength(1);
    const q = cw.commandCalls(GetMetricDataCommand)[0].args[0].input;
    expect(q.StartTime).toEqual(new Date('2026-11-29T00:00:00Z'));
    expect(q.EndTime).toEqual(new Date('2026-11-29T00:10:00Z'));
    const stats = q.MetricDataQueries?.map((m) => [
      m.MetricStat?.Metric?.Namespace,
      m.MetricStat?.Metric?.MetricName,
      m.MetricStat?.Stat,
      m.MetricStat?.Metric?.Dimensions,
    ]);
    expect(stats).toEqual([
      ['CISFileSearch/Worker', 'MessageDeleteFailed', 'Sum', []],
      [
        'AWS/SQS',
        'NumberOfMessagesDeleted',
        'Sum',
        [{ Name: 'QueueName', Value: 'file-processing-queue-production' }],
      ],
      [
        'AWS/SQS',
        'NumberOfMessagesReceived',
        'Sum',
        [{ Name: 'QueueName', Value: 'file-processing-queue-production' }],
      ],
      [
        'AWS/SQS',
        'NumberOfMessagesSent',
        'Sum',
        [{ Name: 'QueueName', Value: 'file-processing-queue-production' }],
      ],
      [
        'AWS/SQS',
        'ApproximateAgeOfOldestMessage',
        'Maximum',
        [{ Name: 'QueueName', Value: 'file-processing-queue-production' }],
      ],
    ]);
    expect(out.summary).toContain('Verify (10m checkpoint) passed');
    expect(out.summary).toContain(
      '| SQS messages (visible) | 1,200 | 8 | not yet measured | not yet measured |',
    );
    expect(out.summary).toContain('xychart-beta');
    // The client notice after the work, from the figures just judged.
    expect(out.outputs?.['notification-after']).toContain(
      'Files waiting to be processed: 1,200 files → 8 files',
    );
    expect(out.outputs?.['notification-after']).toMatch(/作業完了10分後/);
    expect(out.summary).toContain('Client notifications');
  });

  it('passes a queue stable at zero', async () => {
    const { ctx } = setup({
      visible: [0],
      dlq: [2],
      metrics: { ...HEALTHY_METRICS, received: [0], deleted: [0] },
    });
    const out = await verify(ctx);
    expect(out.verdict).toBe('pass');
    expect(criterion(out.record, 'depth-trend')?.d).toMatch(/^drained: 0 messages/);
  });

  it('fails a growing queue, and says so in the failure', async () => {
    const { ctx } = setup({
      visible: [300, 340, 390, 450, 520, 600, 690, 790, 900, 1020, 1150],
      metrics: HEALTHY_METRICS,
    });
    const out = await verify(ctx);
    expect(out.verdict).toBe('fail');
    expect(out.failure).toMatch(
      /^Verify \(10m checkpoint\) failed: Queue depth decreasing \(or drained\): growing: 300 → 1,150/,
    );
    expect(out.record.phases.at(-1)).toMatchObject({ mode: 'verify', verdict: 'fail' });
    expect(out.summary).toContain('FAILED');
  });

  it('fails the original bug: visible falls only because messages sit in flight', async () => {
    const { ctx } = setup({ visible: [1200, 600, 0], inFlight: [40, 640, 1240] });
    const out = await verify(ctx);
    expect(out.verdict).toBe('fail');
    expect(criterion(out.record, 'depth-trend')?.s).toBe('fail');
  });

  it('fails when the DLQ grows', async () => {
    const { ctx } = setup({
      visible: DRAINING,
      dlq: [2, 2, 3, 3, 4, 5, 5, 6, 7, 7, 8],
      metrics: HEALTHY_METRICS,
    });
    const out = await verify(ctx);
    expect(out.verdict).toBe('fail');
    expect(criterion(out.record, 'dlq-stable')).toMatchObject({
      s: 'fail',
      d: '2 → 8 over the window (+6; +3 in its second half); baseline 2 (+6); tolerance 0',
    });
  });

  it('tolerates DLQ growth within dlq-tolerance', async () => {
    const { ctx } = setup(
      { visible: DRAINING, dlq: [2, 3, 4], metrics: HEALTHY_METRICS },
      { 'dlq-tolerance': '2' },
    );
    expect((await verify(ctx)).verdict).toBe('pass');
  });

  it('fails a loop: messages received far more often than deleted', async () => {
    const { ctx } = setup({
      visible: DRAINING,
      metrics: { ...HEALTHY_METRICS, received: [400, 420, 410, 405], deleted: [10, 12, 9, 11] },
    });
    const out = await verify(ctx);
    expect(out.verdict).toBe('fail');
    expect(criterion(out.record, 'no-loop')).toMatchObject({
      s: 'fail',
      d: expect.stringMatching(
        /^received 1,635, deleted 42: ratio 38.9 \(limit 3\); CloudWatch data through /,
      ),
    });
  });

  it('honours max-receive-ratio', async () => {
    const metrics = { ...HEALTHY_METRICS, received: [400, 420, 410, 405], deleted: [10, 12, 9, 11] };
    const { ctx } = setup({ visible: DRAINING, metrics }, { 'max-receive-ratio': '50' });
    expect((await verify(ctx)).verdict).toBe('pass');
  });

  it('fails a non-zero MessageDeleteFailed sum', async () => {
    const { ctx } = setup({ visible: DRAINING, metrics: { ...HEALTHY_METRICS, deleteFailed: [0, 0, 3, 1] } });
    const out = await verify(ctx);
    expect(out.verdict).toBe('fail');
    expect(criterion(out.record, 'delete-failures')).toMatchObject({
      s: 'fail',
      d: 'CISFileSearch/Worker/MessageDeleteFailed sum 4 (must be 0), summed over the dimension set (no dimensions)',
    });
    expect(out.record.metrics['10m']?.deleteFailed).toBe(4);
  });

  it('reports missing metrics as missing: not judged, not zero, not a failure', async () => {
    const { ctx } = setup({ visible: DRAINING });
    const out = await verify(ctx);
    expect(out.verdict).toBe('pass');
    expect(criterion(out.record, 'no-loop')?.s).toBe('not-judged');
    expect(criterion(out.record, 'delete-failures')?.s).toBe('not-judged');
    const snapshot = out.record.metrics['10m'];
    expect(snapshot).not.toHaveProperty('filesPerHour');
    expect(snapshot).not.toHaveProperty('deleteFailed');
    expect(JSON.parse(JSON.stringify(out.record)).metrics['10m'].filesPerHour).toBeUndefined();
    expect(out.summary).toContain('(not judged)');
    expect(out.summary).toContain(
      '| Processing rate (files/hour) | not measured | not measured | not yet measured | not yet measured |',
    );
  });

  it('treats a CloudWatch error as missing data, with a warning', async () => {
    const { ctx, cw, report } = setup({ visible: DRAINING });
    cw.on(GetMetricDataCommand).rejects(
      awsError('AccessDenied', 403, 'not authorized to perform cloudwatch:GetMetricData'),
    );
    const out = await verify(ctx);
    expect(out.verdict).toBe('pass');
    expect(criterion(out.record, 'no-loop')?.s).toBe('not-judged');
    expect(report.warnings.join('\n')).toMatch(/could not read CloudWatch.*not authorized/);
  });

  // Issue 12: an instance that left the fleet (scale-in, health replacement, a refresh) used to fail
  // "All workers running" and roll a good fix back; it is reported, not failed.
  it('reports a recorded worker that left the fleet, and judges the fleet that is there', async () => {
    const { ctx } = setup({
      visible: DRAINING,
      metrics: HEALTHY_METRICS,
      states: { [FLEET[2]]: 'terminated' },
    });
    const out = await verify(ctx);
    expect(out.verdict).toBe('pass');
    expect(criterion(out.record, 'workers')).toMatchObject({
      s: 'pass',
      d: `2 of 2 running instances run the fix; gone since preflight (scale-in or replacement, not a failure): ${FLEET[2]}`,
    });
    expect(out.record.metrics['10m']?.instances).toBe(2);
  });

  it('fails a newcomer that does not run the fix, naming it with the advice', async () => {
    const newcomer = 'i-0000000000000000d';
    const { ctx } = setup({ visible: DRAINING, metrics: HEALTHY_METRICS, extra: [{ id: newcomer }] });
    const out = await verify(ctx);
    expect(out.verdict).toBe('fail');
    const c = criterion(out.record, 'workers');
    expect(c?.s).toBe('fail');
    expect(c?.d).toContain('3 of 4 running instances run the fix');
    expect(c?.d).toContain(`joined since the rollout without the fix: ${newcomer}`);
    expect(c?.d).toContain(
      'run the rollout again (it deploys to the newcomers) or roll out with strategy asg',
    );
    expect(out.failure).toContain(newcomer);
  });

  it('fails an instance whose install failed, with why', async () => {
    const record = baseRecord();
    record.instances[FLEET[1]] = { p: 'r', b: 1, s: 'failed', c: 1, e: 'install: Failed' };
    const { ctx } = setup({ visible: DRAINING, metrics: HEALTHY_METRICS }, {}, record);
    const out = await verify(ctx);
    expect(criterion(out.record, 'workers')).toMatchObject({
      s: 'fail',
      d: expect.stringContaining(`not running the fix: ${FLEET[1]} (install failed)`),
    });
  });

  it('passes a fleet an instance refresh replaced: the new instances run the baked image', async () => {
    const record = baseRecord();
    record.settings.image = { id: 'ami-0fix0000000000000', sourceInstanceId: FLEET[0], state: 'available' };
    record.settings.launchTemplate = {
      id: 'lt-0abc',
      name: 'cis-file-processor-lt',
      previousDefault: 3,
      newVersion: 4,
    };
    record.settings.refresh = { id: 'refresh-1', asgName: 'cis-file-processor-asg', status: 'Successful' };
    const fresh = ['i-0000000000000001a', 'i-0000000000000001b', 'i-0000000000000001c'];
    const pending = 'i-0000000000000001d';
    const { ctx, asg } = setup(
      {
        visible: DRAINING,
        metrics: HEALTHY_METRICS,
        states: Object.fromEntries(FLEET.map((id) => [id, 'terminated' as const])),
        extra: [
          { id: fresh[0], imageId: 'ami-0fix0000000000000' },
          { id: fresh[1], imageId: 'ami-0fix0000000000000' },
          // Launched from the new template version (its image may be resolved another way).
          { id: fresh[2], imageId: 'ami-0other00000000000' },
          { id: pending },
        ],
      },
      {},
      record,
    );
    // DescribeAutoScalingGroups Instances[] (API_Instance): LifecycleState, LaunchTemplate.Version.
    asg.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        asgGroup('cis-file-processor-asg', {
          CreatedTime: new Date(START - 86_400_000),
          Instances: [
            ...fresh.map((id) =>
              asgInstance(id, 'InService', { LaunchTemplate: { LaunchTemplateId: 'lt-0abc', Version: '4' } }),
            ),
            asgInstance(pending, 'Pending', {
              LaunchTemplate: { LaunchTemplateId: 'lt-0abc', Version: '3' },
            }),
          ],
        }),
      ],
    });
    const out = await verify(ctx);
    const c = criterion(out.record, 'workers');
    expect(c?.s).toBe('pass');
    expect(c?.d).toContain('3 of 3 running instances run the fix');
    expect(c?.d).toContain(
      `gone since preflight (scale-in or replacement, not a failure): ${FLEET.join(', ')}`,
    );
    expect(c?.d).toContain(`entering or leaving cis-file-processor-asg (not judged): ${pending}`);
    expect(asg.commandCalls(DescribeAutoScalingGroupsCommand)[0].args[0].input).toEqual({
      AutoScalingGroupNames: ['cis-file-processor-asg'],
    });
  });

  it('keeps sampling when one read fails, warning once and leaving that figure unread', async () => {
    const { ctx, sqs, report } = setup({ visible: DRAINING, metrics: HEALTHY_METRICS });
    let calls = 0;
    sqs.on(GetQueueAttributesCommand, { QueueUrl: DLQ_URL }).callsFake(() => {
      calls++;
      // The resolve and the first sample succeed; the next two samples fail (not retryable).
      if (calls === 3 || calls === 4) throw awsError('AccessDenied', 403);
      return { Attributes: { QueueArn: DLQ_ARN, ApproximateNumberOfMessages: '2' } };
    });
    const out = await verify(ctx);
    expect(entry(out.record).samples.l).toEqual([2, null, null, 2, 2, 2, 2, 2, 2, 2, 2]);
    expect(report.warnings.filter((w) => w.includes('could not read DLQ'))).toHaveLength(1);
    expect(out.verdict).toBe('pass');
  });

  it('fails a cancelled window and starts no new work', async () => {
    const { ctx, runtime, ssm, cw } = setup(
      { visible: DRAINING, metrics: HEALTHY_METRICS },
      { 'check-services': 'true' },
    );
    const sleep = runtime.sleep;
    let slept = 0;
    ctx.runtime = {
      ...runtime,
      sleep: async (ms) => {
        await sleep(ms);
        if (++slept === 3) runtime.cancel();
      },
    };
    const out = await verify(ctx);
    expect(out.verdict).toBe('fail');
    expect(entry(out.record).taken).toBe(3);
    expect(criterion(out.record, 'window')).toMatchObject({
      s: 'fail',
      d: expect.stringContaining('cancelled after 3 of 11'),
    });
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
    expect(cw.commandCalls(GetMetricDataCommand)).toHaveLength(0);
  });

  it('keeps the record compact: at most 120 samples per checkpoint', async () => {
    const { ctx } = setup({ visible: [0] }, { 'verify-minutes': '600', 'sample-seconds': '60' });
    const out = await verify(ctx);
    const e = entry(out.record);
    expect(e.taken).toBe(601);
    expect(e.samples.t).toHaveLength(120);
    expect(e.samples.t[0]).toBe(0);
    expect(e.samples.t[119]).toBe(36_000);
    expect(Buffer.byteLength(JSON.stringify(out.record.extra))).toBeLessThan(8_000);
  });
});

describe('verify: the service check', () => {
  it('asks every running worker at once, in one command, and passes when all are active', async () => {
    const { ctx, ssm } = setup({ visible: DRAINING, metrics: HEALTHY_METRICS }, { 'check-services': 'true' });
    const out = await verify(ctx);
    expect(out.verdict).toBe('pass');
    const sent = ssm.commandCalls(SendCommandCommand);
    expect(sent).toHaveLength(1);
    expect(sent[0].args[0].input.InstanceIds).toEqual(FLEET);
    expect(sent[0].args[0].input.Parameters?.commands?.[0]).toContain("svc='file-processor'");
    expect(criterion(out.record, 'services')).toMatchObject({ s: 'pass', d: 'active on 3 of 3' });
  });

  it('fails when the service is inactive on a worker; a worker that did not answer is not judged', async () => {
    const { ctx, ssm } = setup({ visible: DRAINING, metrics: HEALTHY_METRICS }, { 'check-services': 'true' });
    ssm.on(ListCommandsCommand).resolves({
      Commands: [
        { CommandId: 'cmd-status', Status: 'Failed', TargetCount: 3, CompletedCount: 3, ErrorCount: 1 },
      ],
    });
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        {
          InstanceId: FLEET[0],
          Status: 'Success',
          CommandPlugins: [{ ResponseCode: 0, Output: 'EWD service=active\n' }],
        },
        {
          InstanceId: FLEET[1],
          Status: 'Failed',
          CommandPlugins: [{ ResponseCode: 11, Output: 'EWD service=failed\n' }],
        },
      ],
    });
    const out = await verify(ctx);
    expect(out.verdict).toBe('fail');
    expect(criterion(out.record, 'services')).toMatchObject({
      s: 'fail',
      d: `inactive on 1 of 3: ${FLEET[1]} (failed)`,
    });
  });

  it('checks only the workers still running', async () => {
    const { ctx, ssm } = setup(
      { visible: DRAINING, metrics: HEALTHY_METRICS, states: { [FLEET[0]]: 'terminated' } },
      { 'check-services': 'true' },
    );
    await verify(ctx);
    expect(ssm.commandCalls(SendCommandCommand)[0].args[0].input.InstanceIds).toEqual(FLEET.slice(1));
  });

  it('sends no SSM command in dry-run, and says verify changes nothing', async () => {
    const { ctx, ssm, report } = setup(
      { visible: DRAINING, metrics: HEALTHY_METRICS },
      { 'check-services': 'true', 'dry-run': 'true' },
    );
    const out = await verify(ctx);
    expect(out.verdict).toBe('pass');
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
    expect(criterion(out.record, 'services')).toMatchObject({
      s: 'not-judged',
      d: 'not checked: dry-run sends no SSM command',
    });
    expect(report.lines.join('\n')).toContain('changes nothing');
    expect(out.summary).toContain('changes nothing');
    expect(out.record.phases.at(-1)).toMatchObject({ mode: 'verify', dryRun: true });
  });
});

describe('verify: later checkpoints', () => {
  function withTenMinutes(): DeploymentRecord {
    const r = baseRecord();
    r.metrics['10m'] = {
      at: '2026-11-29T00:10:00.000Z',
      visible: 700,
      inFlight: 20,
      delayed: 0,
      dlqVisible: 2,
      instances: 3,
    };
    r.extra.verify = { '10m': { verdict: 'pass' } };
    return r;
  }

  it('1 h: passes a halved backlog at a good rate, adding its column beside the earlier ones', async () => {
    const { ctx } = setup(
      {
        visible: [560, 540, 520],
        inFlight: [20],
        metrics: { deleted: [40, 42, 38], received: [41, 42, 40], deleteFailed: [0] },
      },
      { checkpoint: '1h' },
      withTenMinutes(),
    );
    const out = await verify(ctx);
    expect(out.verdict).toBe('pass');
    expect(criterion(out.record, 'depth-reduced', '1h')).toMatchObject({
      s: 'pass',
      d: '1,240 → 540 messages (−56.5%)',
    });
    expect(criterion(out.record, 'processing-rate', '1h')).toMatchObject({
      s: 'pass',
      d: '2,400 files/hour',
    });
    expect(Object.keys(out.record.metrics)).toEqual(['before', '10m', '1h']);
    expect(Object.keys(out.record.extra.verify as object)).toEqual(['10m', '1h']);
    expect(out.summary).toMatch(/\| SQS messages \(visible\) \| 1,200 \| 700 \| 520 \| not yet measured \|/);
  });

  it('1 h: fails a backlog reduced by less than min-depth-reduction-percent', async () => {
    const { ctx } = setup(
      { visible: [900, 880, 860], metrics: HEALTHY_METRICS },
      { checkpoint: '1h' },
      withTenMinutes(),
    );
    const out = await verify(ctx);
    expect(out.verdict).toBe('fail');
    expect(criterion(out.record, 'depth-reduced', '1h')?.s).toBe('fail');
  });

  it('1 h: fails processing at or under min-files-per-hour on a queue that is not drained', async () => {
    const { ctx } = setup(
      { visible: [500], metrics: { deleted: [0, 1, 0], received: [0, 1, 0], deleteFailed: [0] } },
      { checkpoint: '1h', 'min-files-per-hour': '50' },
      withTenMinutes(),
    );
    const out = await verify(ctx);
    expect(criterion(out.record, 'processing-rate', '1h')).toMatchObject({ s: 'fail', d: '20 files/hour' });
  });

  it('24 h: passes a small backlog, a reviewed and cleared DLQ and a short lag; fails a DLQ still holding messages', async () => {
    const reviewed = baseRecord();
    // The field mode redrive writes for this deployment (record.redrive.reviewedAt).
    reviewed.redrive = { reviewedAt: new Date(START - 600_000).toISOString(), sampled: 2 };
    const good = setup(
      {
        visible: [4],
        dlq: [0],
        metrics: { oldest: [120, 60], deleted: [10], received: [10], sent: [12], deleteFailed: [0] },
      },
      { checkpoint: '24h' },
      reviewed,
    );
    const pass = await verify(good.ctx);
    expect(pass.verdict).toBe('pass');
    expect(criterion(pass.record, 'lag', '24h')).toMatchObject({
      s: 'pass',
      d: expect.stringMatching(
        /^oldest message 60 s old \(ApproximateAgeOfOldestMessage skips messages received three or more times/,
      ),
    });
    expect(criterion(pass.record, 'dlq-empty', '24h')?.s).toBe('pass');
    expect(criterion(pass.record, 'uploads', '24h')).toMatchObject({
      s: 'pass',
      d: expect.stringMatching(/^12 message\(s\) sent to the queue in the window/),
    });
    expect(pass.record.metrics['24h']).toMatchObject({ visible: 4, dlqVisible: 0, oldestAgeSeconds: 60 });

    const bad = setup(
      { visible: [4], dlq: [3], metrics: { oldest: [600] } },
      { checkpoint: '24h', 'max-lag-seconds': '300' },
    );
    const fail = await verify(bad.ctx);
    expect(fail.verdict).toBe('fail');
    expect(criterion(fail.record, 'dlq-empty', '24h')).toMatchObject({
      s: 'fail',
      d: 'no DLQ review in the record for this deployment: run mode redrive',
    });
    expect(criterion(fail.record, 'lag', '24h')).toMatchObject({
      s: 'fail',
      d: expect.stringMatching(/^oldest message 600 s old/),
    });
  });
});

describe('verify without a record', () => {
  it('takes the queue from the inputs and the fleet from the filters, and warns there is no baseline', async () => {
    const { ctx, report } = setup(
      { visible: [100, 50, 0], metrics: HEALTHY_METRICS },
      { 'queue-name': 'file-processing-queue-production', 'verify-minutes': '2' },
      null,
    );
    const out = await verify(ctx);
    expect(out.verdict).toBe('pass');
    expect(out.record.queue?.dlqName).toBe('cis-worker-failures');
    expect(report.warnings.join('\n')).toContain('no baseline');
    expect(out.summary).toContain('match the filters now');
    expect(criterion(out.record, 'dlq-stable')?.d).toContain('no preflight baseline');
    expect(entry(out.record).samples.r).toEqual([3, 3, 3]);
  });
});

describe('verify: the DLQ read without deleting (issue 13)', () => {
  function rolledOut(): DeploymentRecord {
    const r = baseRecord();
    r.phases.push({
      mode: 'rollout',
      startedAt: new Date(START - 1200_000).toISOString(),
      endedAt: new Date(START - 600_000).toISOString(),
      verdict: 'pass',
    });
    return r;
  }

  it('fails messages first sent after the rollout ended that reached the DLQ, excusing the older tail', async () => {
    const { ctx, sqs } = setup(
      {
        visible: DRAINING,
        metrics: HEALTHY_METRICS,
        dlq: [2, 4],
        dlqMessages: [
          { id: 'm-old-1', sentAt: START - 3600_000 },
          { id: 'm-old-2', sentAt: START - 900_000 },
          { id: 'm-new-1', sentAt: START - 300_000 },
          { id: 'm-new-2', sentAt: START + 60_000 },
        ],
      },
      {},
      rolledOut(),
    );
    const out = await verify(ctx);
    expect(out.verdict).toBe('fail');
    expect(criterion(out.record, 'dlq-new')).toMatchObject({
      s: 'fail',
      d: "4 DLQ message(s) read: 2 first sent after the fleet ran the fix (the rollout ended, 2026-11-28T23:50:00.000Z); 2 sent before (the old workers' tail, excused); tolerance 0",
    });
    // Read, never deleted: a short visibility timeout and the timestamps asked for by name.
    const receive = sqs.commandCalls(ReceiveMessageCommand)[0].args[0].input;
    expect(receive).toMatchObject({ QueueUrl: DLQ_URL, VisibilityTimeout: 10, WaitTimeSeconds: 0 });
    expect(receive.MessageSystemAttributeNames).toEqual(
      expect.arrayContaining(['SentTimestamp', 'ApproximateReceiveCount']),
    );
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
    expect(sqs.commandCalls(DeleteMessageBatchCommand)).toHaveLength(0);
  });

  it('passes with dlq-tolerance covering the poison messages', async () => {
    const { ctx } = setup(
      {
        visible: DRAINING,
        metrics: HEALTHY_METRICS,
        dlqMessages: [{ id: 'm-poison', sentAt: START + 60_000 }],
      },
      { 'dlq-tolerance': '1' },
      rolledOut(),
    );
    const out = await verify(ctx);
    expect(criterion(out.record, 'dlq-new')?.s).toBe('pass');
    expect(out.verdict).toBe('pass');
  });

  it('reads nothing from the DLQ in dry-run', async () => {
    const { ctx, sqs } = setup({ visible: DRAINING, metrics: HEALTHY_METRICS }, { 'dry-run': 'true' });
    const out = await verify(ctx);
    expect(sqs.commandCalls(ReceiveMessageCommand)).toHaveLength(0);
    expect(criterion(out.record, 'dlq-new')?.s).toBe('not-judged');
  });
});

describe('verify: the worker metric as published (issue 13)', () => {
  const perInstance = FLEET.map((id) => [{ Name: 'InstanceId', Value: id }]);

  it('reads every dimension combination ListMetrics lists and sums them, showing the dimensions', async () => {
    const { ctx, cw } = setup({
      visible: DRAINING,
      metricDimensions: perInstance,
      metrics: {
        ...HEALTHY_METRICS,
        deleteFailedBy: { [`InstanceId=${FLEET[1]}`]: [0, 2, 1], [`InstanceId=${FLEET[0]}`]: [0] },
      },
    });
    const out = await verify(ctx);
    expect(out.verdict).toBe('fail');
    expect(criterion(out.record, 'delete-failures')).toMatchObject({
      s: 'fail',
      d: expect.stringContaining(
        'MessageDeleteFailed sum 3 (must be 0), summed over 3 dimension sets InstanceId=',
      ),
    });
    expect(cw.commandCalls(ListMetricsCommand)[0].args[0].input).toMatchObject({
      Namespace: 'CISFileSearch/Worker',
      MetricName: 'MessageDeleteFailed',
    });
    const queried = cw
      .commandCalls(GetMetricDataCommand)[0]
      .args[0].input.MetricDataQueries?.filter(
        (q) => q.MetricStat?.Metric?.MetricName === 'MessageDeleteFailed',
      )
      .map((q) => q.MetricStat?.Metric?.Dimensions);
    expect(queried).toEqual(perInstance);
    expect(entry(out.record).dimensionSets).toBe(3);
  });

  it('with metric-dimensions, sums only that combination; several sets without it are warned about', async () => {
    const dims = [...perInstance, [{ Name: 'AutoScalingGroupName', Value: 'cis-asg' }]];
    const pick = setup(
      {
        visible: DRAINING,
        metricDimensions: dims,
        metrics: { ...HEALTHY_METRICS, deleteFailedBy: { 'AutoScalingGroupName=cis-asg': [5] } },
      },
      { 'metric-dimensions': 'InstanceId' },
    );
    const picked = await verify(pick.ctx);
    expect(criterion(picked.record, 'delete-failures')?.s).toBe('not-judged');
    const all = setup({
      visible: DRAINING,
      metricDimensions: dims,
      metrics: { ...HEALTHY_METRICS, deleteFailedBy: { 'AutoScalingGroupName=cis-asg': [5] } },
    });
    const summed = await verify(all.ctx);
    expect(criterion(summed.record, 'delete-failures')?.s).toBe('fail');
    expect(all.report.warnings.join('\n')).toMatch(
      /published under 2 sets of dimension names \(AutoScalingGroupName; InstanceId\).*set 'metric-dimensions'/,
    );
  });

  it('warns on the step when the metric has no data at all', async () => {
    const { ctx, report } = setup({ visible: DRAINING, metricDimensions: [], metrics: HEALTHY_METRICS });
    const out = await verify(ctx);
    expect(criterion(out.record, 'delete-failures')?.s).toBe('not-judged');
    expect(report.warnings.join('\n')).toContain(
      'CISFileSearch/Worker/MessageDeleteFailed has no data for the window (0 dimension combination(s) listed)',
    );
    expect(out.record.warnings.join('\n')).toContain('MessageDeleteFailed has no data');
    expect(out.summary).toContain('MessageDeleteFailed has no data');
  });

  it('refuses a malformed metric-dimensions before any AWS call', async () => {
    expect(() => setup({ visible: DRAINING }, { 'metric-dimensions': 'InstanceId,$(id)' })).toThrow(
      /metric-dimensions/,
    );
  });
});
