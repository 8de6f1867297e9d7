import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeRuleCommand, ListRuleNamesByTargetCommand } from '@aws-sdk/client-eventbridge';
import { GetBucketNotificationConfigurationCommand } from '@aws-sdk/client-s3';
import { ListSubscriptionsByTopicCommand } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { DescribeInstanceInformationCommand } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { preflight } from '../../src/modes/preflight.js';
import { awsError, testContext, type RawInputs } from '../support/context.js';
import { instancesAnswer, workerInstance } from '../support/aws-stubs.js';

const QUEUE_URL = 'https://sqs.ap-northeast-1.amazonaws.com/123456789012/file-processing-queue-production';
const QUEUE_ARN = 'arn:aws:sqs:ap-northeast-1:123456789012:file-processing-queue-production';
const DLQ_ARN = 'arn:aws:sqs:ap-northeast-1:123456789012:cis-worker-failures';
const DLQ_URL = 'https://sqs.ap-northeast-1.amazonaws.com/123456789012/cis-worker-failures';

function setup(raw: RawInputs = {}, opts: { redrive?: boolean } = {}) {
  const t = testContext({ mode: 'preflight', 'queue-name': 'file-processing-queue-production', ...raw });
  const sts = mockClient(t.ctx.clients.sts);
  const sqs = mockClient(t.ctx.clients.sqs);
  const ec2 = mockClient(t.ctx.clients.ec2);
  const ssm = mockClient(t.ctx.clients.ssm);
  const s3 = mockClient(t.ctx.clients.s3);
  // No subscriptions and no rules unless a test says otherwise (and never a real request).
  const sns = mockClient(t.ctx.clients.sns);
  const events = mockClient(t.ctx.clients.events);
  // The hour before (API_GetMetricData: MetricDataResults with Id, Timestamps, Values): the broken
  // fleet deleted nothing, and the oldest message is an hour old.
  const cloudwatch = mockClient(t.ctx.clients.cloudwatch);
  cloudwatch.on(GetMetricDataCommand).resolves({
    MetricDataResults: [
      { Id: 'deleted', StatusCode: 'Complete', Timestamps: [new Date('2026-11-29T04:00:00Z')], Values: [0] },
      {
        Id: 'oldest',
        StatusCode: 'Complete',
        Timestamps: [new Date('2026-11-29T04:00:00Z')],
        Values: [3600],
      },
    ],
  });
  sns.on(ListSubscriptionsByTopicCommand).resolves({ Subscriptions: [] });
  events.on(ListRuleNamesByTargetCommand).resolves({ RuleNames: [] });
  sts
    .on(GetCallerIdentityCommand)
    .resolves({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:role/deployer' });
  sqs
    .on(GetQueueUrlCommand, { QueueName: 'file-processing-queue-production' })
    .resolves({ QueueUrl: QUEUE_URL });
  sqs
    .on(GetQueueUrlCommand, { QueueName: 'cis-worker-failures', QueueOwnerAWSAccountId: '123456789012' })
    .resolves({ QueueUrl: DLQ_URL });
  sqs.on(GetQueueAttributesCommand, { QueueUrl: QUEUE_URL }).resolves({
    Attributes: {
      QueueArn: QUEUE_ARN,
      ApproximateNumberOfMessages: '1200',
      ApproximateNumberOfMessagesNotVisible: '85',
      ApproximateNumberOfMessagesDelayed: '3',
      VisibilityTimeout: '300',
      ...(opts.redrive === false
        ? {}
        : { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: DLQ_ARN, maxReceiveCount: 5 }) }),
    },
  });
  sqs.on(GetQueueAttributesCommand, { QueueUrl: DLQ_URL }).resolves({
    Attributes: { QueueArn: DLQ_ARN, ApproximateNumberOfMessages: '42', VisibilityTimeout: '30' },
  });
  ec2
    .on(DescribeInstancesCommand)
    .resolves(
      instancesAnswer([workerInstance('i-0000000000000000b'), workerInstance('i-0000000000000000a')]),
    );
  ssm.on(DescribeInstanceInformationCommand).callsFake((input: { Filters: { Values: string[] }[] }) => ({
    InstanceInformationList: input.Filters[0].Values.map((id) => ({ InstanceId: id, PingStatus: 'Online' })),
  }));
  return { ...t, sts, sqs, ec2, ssm, s3, sns, events, cloudwatch };
}

describe('preflight', () => {
  it('measures the Before column’s processing rate and oldest age over the hour before', async () => {
    const { ctx, cloudwatch } = setup();
    const out = await preflight(ctx);
    // A rate of 0 is a measurement (the broken fleet deletes nothing), never "not measured".
    expect(out.record.metrics.before).toMatchObject({ filesPerHour: 0, oldestAgeSeconds: 3600 });
    const call = cloudwatch.commandCalls(GetMetricDataCommand)[0].args[0].input;
    expect(call.EndTime!.getTime() - call.StartTime!.getTime()).toBe(3_600_000);
    expect(call.MetricDataQueries?.map((q) => q.MetricStat?.Metric?.MetricName)).toEqual([
      'NumberOfMessagesDeleted',
      'ApproximateAgeOfOldestMessage',
    ]);
  });

  it('goes on without the Before rate when CloudWatch cannot be read', async () => {
    const { ctx, cloudwatch, report } = setup();
    cloudwatch
      .on(GetMetricDataCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));
    const out = await preflight(ctx);
    expect(out.verdict).toBe('pass');
    expect(out.record.metrics.before?.filesPerHour).toBeUndefined();
    expect(report.lines.join('\n')).toMatch(/CloudWatch could not be read .*not authorized/);
  });

  it('passes and records identity, baseline, DLQ from the redrive policy, and the fleet', async () => {
    const { ctx, report, api } = setup();
    const out = await preflight(ctx);
    expect(out.verdict).toBe('pass');
    expect(out.failure).toBeUndefined();
    expect(out.record.identity).toEqual({
      account: '123456789012',
      arn: 'arn:aws:iam::123456789012:role/deployer',
    });
    expect(out.record.queue).toMatchObject({
      name: 'file-processing-queue-production',
      dlqName: 'cis-worker-failures',
      dlqUrl: DLQ_URL,
      maxReceiveCount: 5,
      visibilityTimeout: 300,
    });
    expect(out.record.metrics.before).toMatchObject({
      visible: 1200,
      inFlight: 85,
      delayed: 3,
      dlqVisible: 42,
      instances: 2,
    });
    expect(out.record.fleet?.instanceIds).toEqual(['i-0000000000000000a', 'i-0000000000000000b']);
    expect(out.outputs).toMatchObject({ 'queue-depth': '1200', 'dlq-depth': '42', 'instance-count': '2' });
    expect(out.record.github.actor).toBe('sre-on-call');
    expect(report.outputs.record).toBeDefined();
    expect(out.summary).toContain('| Queue messages (visible) | 1200 |');
    expect(api.calls.get('ssm:DescribeInstanceInformation')).toBe(1);
    // The client notice before the work, with the real fleet size and backlog.
    expect(out.outputs?.['notification-before']).toContain('all 2 file-processing servers');
    expect(out.outputs?.['notification-before']).toContain('1,200');
    expect(out.summary).toContain('Client notifications');
  });

  it('writes no client notice when preflight fails', async () => {
    const { ctx, ec2 } = setup();
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] }); // no instance matches
    const out = await preflight(ctx);
    expect(out.outputs?.['notification-before']).toBeUndefined();
  });

  it('reads every reservation and every page of DescribeInstances', async () => {
    const { ctx, ec2 } = setup({ 'ssm-check': 'false' });
    ec2.on(DescribeInstancesCommand).callsFake((input: { NextToken?: string }) => {
      if (!input.NextToken) {
        return {
          Reservations: [
            { Instances: [workerInstance('i-00000000000000001')] },
            { Instances: [workerInstance('i-00000000000000002')] },
          ],
          NextToken: 'p2',
        };
      }
      if (input.NextToken === 'p2')
        return {
          Reservations: [
            {
              Instances: [
                workerInstance('i-00000000000000003'),
                workerInstance('i-00000000000000009', 'stopped'),
              ],
            },
          ],
          NextToken: 'p3',
        };
      return { Reservations: [{ Instances: [workerInstance('i-00000000000000000')] }] };
    });
    const out = await preflight(ctx);
    expect(out.record.fleet?.instanceIds).toEqual([
      'i-00000000000000000',
      'i-00000000000000001',
      'i-00000000000000002',
      'i-00000000000000003',
    ]);
    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(3);
    expect(ec2).toHaveReceivedNthCommandWith(2, DescribeInstancesCommand, { NextToken: 'p2' });
    const filters = ec2.commandCalls(DescribeInstancesCommand)[0].args[0].input.Filters;
    expect(filters).toContainEqual({ Name: 'instance-state-name', Values: ['running'] });
    expect(filters).toContainEqual({ Name: 'tag:Name', Values: ['cis-file-processor'] });
  });

  it('checks SSM agents in chunks of 50 over several pages, and fails listing offline ones', async () => {
    const { ctx, ec2, ssm } = setup();
    const ids = Array.from({ length: 120 }, (_, i) => `i-${String(i).padStart(17, '0')}`);
    ec2.on(DescribeInstancesCommand).resolves(instancesAnswer(ids.map((id) => workerInstance(id))));
    ssm
      .on(DescribeInstanceInformationCommand)
      .callsFake((input: { Filters: { Values: string[] }[]; NextToken?: string }) => {
        const values = input.Filters[0].Values;
        const half = input.NextToken ? values.slice(25) : values.slice(0, 25);
        return {
          InstanceInformationList: half
            .filter((id) => id !== ids[7])
            .map((id) => ({ InstanceId: id, PingStatus: id === ids[60] ? 'ConnectionLost' : 'Online' })),
          NextToken: input.NextToken ? undefined : 'more',
        };
      });
    const out = await preflight(ctx);
    expect(ssm.commandCalls(DescribeInstanceInformationCommand)).toHaveLength(6);
    expect(out.verdict).toBe('fail');
    expect(out.failure).toContain('2 instance(s) are not Online in SSM');
    expect(out.failure).toContain(`${ids[7]} (not registered)`);
    expect(out.failure).toContain(`${ids[60]} (ConnectionLost)`);
  });

  it('fails with no running instance', async () => {
    const { ctx, ec2, ssm } = setup();
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] }); // no instance matches
    const out = await preflight(ctx);
    expect(out.verdict).toBe('fail');
    expect(out.failure).toMatch(/no running instance matches the filters tag:Name=cis-file-processor/);
    expect(ssm.calls()).toHaveLength(0);
  });

  it('fails on a missing queue, naming it', async () => {
    const { ctx, sqs } = setup();
    sqs
      .on(GetQueueUrlCommand, { QueueName: 'file-processing-queue-production' })
      .rejects(awsError('QueueDoesNotExist'));
    await expect(preflight(ctx)).rejects.toThrow(/SQS queue file-processing-queue-production does not exist/);
  });

  it('reports a queue without a DLQ as a warning in the record', async () => {
    const { ctx, report } = setup({}, { redrive: false });
    const out = await preflight(ctx);
    expect(out.verdict).toBe('pass');
    expect(out.record.queue?.dlqUrl).toBeUndefined();
    expect(out.outputs?.['dlq-depth']).toBe('');
    expect(report.warnings.join()).toMatch(/has no redrive policy/);
    expect(out.record.warnings.join()).toMatch(/no dead-letter queue/);
  });

  it('uses dlq-name when given instead of the redrive policy', async () => {
    const { ctx, sqs } = setup({ 'dlq-name': 'cis-worker-failures' });
    sqs.on(GetQueueUrlCommand, { QueueName: 'cis-worker-failures' }).resolves({ QueueUrl: DLQ_URL });
    const out = await preflight(ctx);
    expect(out.record.queue?.dlqName).toBe('cis-worker-failures');
  });

  it('retries throttling and then succeeds', async () => {
    const { ctx, sts, runtime } = setup();
    sts
      .on(GetCallerIdentityCommand)
      .rejectsOnce(awsError('Throttling', 400))
      .rejectsOnce(awsError('ThrottlingException', 400))
      .resolves({ Account: '1', Arn: 'a' });
    const out = await preflight(ctx);
    expect(out.verdict).toBe('pass');
    expect(sts).toHaveReceivedCommandTimes(GetCallerIdentityCommand, 3);
    expect(runtime.clock.sleeps.length).toBe(2);
  });

  it('fails on duplicate bucket notifications, listing ids and why', async () => {
    const { ctx, s3 } = setup({ bucket: 'cis-filesearch-storage-production' });
    s3.on(GetBucketNotificationConfigurationCommand).resolves({
      QueueConfigurations: [
        {
          Id: 'all-uploads',
          QueueArn: QUEUE_ARN,
          Events: ['s3:ObjectCreated:*'],
          Filter: {
            Key: {
              FilterRules: [
                { Name: 'Prefix' as 'prefix', Value: 'uploads/' } /* S3 answers with either case */,
              ],
            },
          },
        },
        {
          Id: 'pdf-puts',
          QueueArn: QUEUE_ARN,
          Events: ['s3:ObjectCreated:Put'],
          Filter: { Key: { FilterRules: [{ Name: 'Suffix' as 'suffix', Value: '.pdf' }] } },
        },
      ],
      TopicConfigurations: [
        {
          Id: 'audit',
          TopicArn: 'arn:aws:sns:ap-northeast-1:123456789012:audit',
          Events: ['s3:ObjectRemoved:*'],
        },
      ],
    });
    const out = await preflight(ctx);
    expect(out.verdict).toBe('fail');
    expect(out.failure).toContain('all-uploads and pdf-puts');
    expect(out.failure).toContain("prefix 'uploads/' vs suffix '.pdf'");
    expect(out.summary).toContain('audit');
    expect(out.summary).toContain('arn:aws:sns:ap-northeast-1:123456789012:audit');
  });

  it('passes with non-overlapping notifications and warns when none target the queue', async () => {
    const { ctx, s3, report } = setup({ bucket: 'cis-filesearch-storage-production' });
    s3.on(GetBucketNotificationConfigurationCommand).resolves({
      QueueConfigurations: [
        {
          Id: 'pdf',
          QueueArn: 'arn:aws:sqs:ap-northeast-1:123456789012:other',
          Events: ['s3:ObjectCreated:*'],
          Filter: { Key: { FilterRules: [{ Name: 'suffix', Value: '.pdf' }] } },
        },
        {
          Id: 'docx',
          QueueArn: 'arn:aws:sqs:ap-northeast-1:123456789012:other',
          Events: ['s3:ObjectCreated:*'],
          Filter: { Key: { FilterRules: [{ Name: 'suffix', Value: '.docx' }] } },
        },
      ],
    });
    const out = await preflight(ctx);
    expect(out.verdict).toBe('pass');
    expect(report.warnings.join()).toMatch(
      /no notification configuration that targets file-processing-queue-production/,
    );
  });

  it('escapes instance-sourced values in the summary', async () => {
    const { ctx, ec2 } = setup({ 'ssm-check': 'false' });
    ec2.on(DescribeInstancesCommand).resolves(
      instancesAnswer([
        {
          ...workerInstance('i-0000000000000000a'),
          Tags: [{ Key: 'Name', Value: '<img src=x onerror=alert(1)>|' }],
        },
      ]),
    );
    const out = await preflight(ctx);
    expect(out.summary).not.toContain('<img');
    expect(out.summary).toContain('&lt;img src=x onerror=alert(1)&gt;&#124;');
  });
});

// The duplicate paths real S3 can have (S3 refuses two overlapping configurations of one bucket,
// whatever their destinations, so these come from elsewhere). Mocks shaped as the references say:
// - GetBucketNotificationConfiguration: QueueConfigurations / TopicConfigurations, and an
//   EventBridgeConfiguration element (empty) when EventBridge delivery is on
//   (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketNotificationConfiguration.html);
// - SNS ListSubscriptionsByTopic: Subscriptions[] of SubscriptionArn, Owner, Protocol, Endpoint,
//   TopicArn, paged by NextToken (https://docs.aws.amazon.com/sns/latest/api/API_ListSubscriptionsByTopic.html);
// - EventBridge ListRuleNamesByTarget: RuleNames[], NextToken
//   (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_ListRuleNamesByTarget.html);
//   DescribeRule: Name, Arn, EventPattern (JSON text), State, EventBusName
//   (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DescribeRule.html);
// - SQS GetQueueAttributes Policy: the queue's access policy as JSON text
//   (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html).
describe('preflight: duplicate delivery paths into the queue', () => {
  const BUCKET = 'cis-filesearch-storage-production';
  const TOPIC = 'arn:aws:sns:ap-northeast-1:123456789012:uploads-fanout';
  const RULE_ARN = 'arn:aws:events:ap-northeast-1:123456789012:rule/uploads-to-workers';
  const DIRECT = {
    Id: 'uploads-to-queue',
    QueueArn: QUEUE_ARN,
    Events: ['s3:ObjectCreated:*' as const],
    Filter: { Key: { FilterRules: [{ Name: 'prefix' as const, Value: 'uploads/' }] } },
  };
  const s3Pattern = (over: Record<string, unknown> = {}) =>
    JSON.stringify({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: { bucket: { name: [BUCKET] } },
      ...over,
    });
  function rule(t: ReturnType<typeof setup>, pattern: string, state = 'ENABLED') {
    t.events
      .on(ListRuleNamesByTargetCommand, { TargetArn: QUEUE_ARN })
      .resolves({ RuleNames: ['uploads-to-workers'] });
    t.events.on(DescribeRuleCommand, { Name: 'uploads-to-workers' }).resolves({
      Name: 'uploads-to-workers',
      Arn: RULE_ARN,
      EventPattern: pattern,
      State: state as 'ENABLED',
      EventBusName: 'default',
    });
  }

  it('fails on EventBridge delivery with a rule that sends the bucket’s created objects to the queue beside a queue configuration', async () => {
    const t = setup({ bucket: BUCKET });
    t.s3.on(GetBucketNotificationConfigurationCommand).resolves({
      QueueConfigurations: [DIRECT],
      EventBridgeConfiguration: {},
    });
    rule(t, s3Pattern());
    const out = await preflight(t.ctx);
    expect(out.verdict).toBe('fail');
    expect(out.failure).toContain(
      "queue configuration uploads-to-queue and EventBridge rule uploads-to-workers both deliver s3:ObjectCreated:* to the queue; key filters overlap (prefix 'uploads/' vs every key)",
    );
    expect(t.events).toHaveReceivedCommandWith(ListRuleNamesByTargetCommand, { TargetArn: QUEUE_ARN });
    expect(out.summary).toContain('EventBridge rule uploads-to-workers');
  });

  it('a rule for another bucket, for deleted objects, for other keys, or disabled is no duplicate (the disabled one is listed)', async () => {
    const patterns: [string, string][] = [
      [s3Pattern({ detail: { bucket: { name: ['some-other-bucket'] } } }), 'ENABLED'],
      [s3Pattern({ 'detail-type': ['Object Deleted'] }), 'ENABLED'],
      [
        s3Pattern({ detail: { bucket: { name: [BUCKET] }, object: { key: [{ prefix: 'archive/' }] } } }),
        'ENABLED',
      ],
      [JSON.stringify({ source: ['aws.ec2'] }), 'ENABLED'],
      [s3Pattern(), 'DISABLED'],
    ];
    for (const [pattern, state] of patterns) {
      const t = setup({ bucket: BUCKET });
      t.s3.on(GetBucketNotificationConfigurationCommand).resolves({
        QueueConfigurations: [DIRECT],
        EventBridgeConfiguration: {},
      });
      rule(t, pattern, state);
      const out = await preflight(t.ctx);
      expect([pattern, out.verdict]).toEqual([pattern, 'pass']);
    }
  });

  it('without EventBridge delivery on the bucket, rules are not even read', async () => {
    const t = setup({ bucket: BUCKET });
    t.s3.on(GetBucketNotificationConfigurationCommand).resolves({ QueueConfigurations: [DIRECT] });
    rule(t, s3Pattern());
    expect((await preflight(t.ctx)).verdict).toBe('pass');
    expect(t.events).not.toHaveReceivedCommand(ListRuleNamesByTargetCommand);
  });

  it('fails when the queue subscribes to the bucket’s SNS topic and an EventBridge rule also sends the same events', async () => {
    const t = setup({ bucket: BUCKET });
    t.s3.on(GetBucketNotificationConfigurationCommand).resolves({
      TopicConfigurations: [{ Id: 'fanout', TopicArn: TOPIC, Events: ['s3:ObjectCreated:Put'] }],
      EventBridgeConfiguration: {},
    });
    // Two pages: the queue's subscription is on the second.
    t.sns
      .on(ListSubscriptionsByTopicCommand, { TopicArn: TOPIC, NextToken: undefined })
      .resolves({
        Subscriptions: [
          {
            SubscriptionArn: `${TOPIC}:1`,
            Owner: '123456789012',
            Protocol: 'email',
            Endpoint: 'ops@example.com',
            TopicArn: TOPIC,
          },
        ],
        NextToken: 'page-2',
      })
      .on(ListSubscriptionsByTopicCommand, { TopicArn: TOPIC, NextToken: 'page-2' })
      .resolves({
        Subscriptions: [
          {
            SubscriptionArn: `${TOPIC}:2`,
            Owner: '123456789012',
            Protocol: 'sqs',
            Endpoint: QUEUE_ARN,
            TopicArn: TOPIC,
          },
        ],
      });
    rule(t, s3Pattern({ 'detail-type': undefined }));
    const out = await preflight(t.ctx);
    expect(out.verdict).toBe('fail');
    expect(out.failure).toContain(
      `topic configuration fanout via SNS topic ${TOPIC} and EventBridge rule uploads-to-workers both deliver s3:ObjectCreated:Put to the queue`,
    );
    expect(t.ctx.api.calls.get('sns:ListSubscriptionsByTopic')).toBe(2);
  });

  it('a topic the queue does not subscribe to is no path; one whose subscriptions cannot be read is a warning', async () => {
    const t = setup({ bucket: BUCKET });
    t.s3.on(GetBucketNotificationConfigurationCommand).resolves({
      QueueConfigurations: [DIRECT],
      TopicConfigurations: [{ Id: 'audit', TopicArn: TOPIC, Events: ['s3:ObjectRemoved:*'] }],
    });
    t.sns.on(ListSubscriptionsByTopicCommand).rejects(awsError('AuthorizationError', 403, 'not authorized'));
    const out = await preflight(t.ctx);
    expect(out.verdict).toBe('pass');
    expect(t.report.warnings.join()).toMatch(
      /could not list the subscriptions of SNS topic .*uploads-fanout/,
    );
  });

  it('warns about another bucket the queue policy lets send to the queue (a replication target, say)', async () => {
    const t = setup({ bucket: BUCKET });
    t.s3.on(GetBucketNotificationConfigurationCommand).resolves({ QueueConfigurations: [DIRECT] });
    const policy = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 's3.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: QUEUE_ARN,
          Condition: {
            ArnLike: {
              'aws:SourceArn': [`arn:aws:s3:::${BUCKET}`, 'arn:aws:s3:::cis-filesearch-storage-dr'],
            },
            StringEquals: { 'aws:SourceAccount': '123456789012' },
          },
        },
      ],
    };
    t.sqs.on(GetQueueAttributesCommand, { QueueUrl: QUEUE_URL }).resolves({
      Attributes: {
        QueueArn: QUEUE_ARN,
        ApproximateNumberOfMessages: '0',
        VisibilityTimeout: '300',
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: DLQ_ARN, maxReceiveCount: 5 }),
        Policy: JSON.stringify(policy),
      },
    });
    const out = await preflight(t.ctx);
    expect(out.verdict).toBe('pass');
    expect(t.report.warnings.join()).toContain(
      `also lets arn:aws:s3:::cis-filesearch-storage-dr send to it: when ${BUCKET} replicates to that bucket`,
    );
    expect(t.report.warnings.join()).not.toContain(`arn:aws:s3:::${BUCKET} send`);
    expect(t.sqs).toHaveReceivedCommandWith(GetQueueAttributesCommand, {
      QueueUrl: QUEUE_URL,
      AttributeNames: expect.arrayContaining(['Policy']),
    });
  });
});
