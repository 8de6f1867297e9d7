// Faults injected at every AWS call site and into every mode that changes something. Each `fault`
// below is one injected fault; RELIABILITY.md states how many there are (checked at the end).
//
// 1. Every api.call site in src/aws/ (the table is checked against the source): throttling and a
//    5xx are retried within the bound and then succeed; throttling that never ends gives up at the
//    bound, naming the operation; an error retrying cannot fix (AccessDenied) fails at once, naming
//    the operation.
// 2. SSM's terminal statuses (Failed, Execution/Delivery Timed Out, Undeliverable, Cancelled,
//    Terminated) in the canary install, a rollout batch, the fleet fan-out and a rollback restore.
// 3. An instance terminated mid-rollout; image creation and instance refresh refused by AWS;
//    tagging and the queue refused mid-rollout; a rollback cut short and run again.
// Cases already proven elsewhere are listed in RELIABILITY.md, not repeated here.
import { PublishCommand } from '@aws-sdk/client-sns';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import {
  CancelMessageMoveTaskCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  ListQueueTagsCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  StartMessageMoveTaskCommand,
  TagQueueCommand,
} from '@aws-sdk/client-sqs';
import { DescribeRuleCommand, ListRuleNamesByTargetCommand } from '@aws-sdk/client-eventbridge';
import { ListSubscriptionsByTopicCommand } from '@aws-sdk/client-sns';
import { describeRule, listRuleNamesByTarget } from '../../src/aws/eventbridge.js';
import { listTopicSubscriptions, publishToTopic } from '../../src/aws/sns.js';
import {
  GetBucketNotificationConfigurationCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import {
  CreateImageCommand,
  CreateLaunchTemplateVersionCommand,
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeSnapshotsCommand,
  ModifyLaunchTemplateCommand,
  type Filter,
} from '@aws-sdk/client-ec2';
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  type SendCommandCommandInput,
} from '@aws-sdk/client-ssm';
import { GetMetricDataCommand, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import {
  CancelInstanceRefreshCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  RollbackInstanceRefreshCommand,
  StartInstanceRefreshCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import type { AwsClients } from '../../src/aws/clients.js';
import {
  cancelInstanceRefresh,
  describeGroup,
  describeGroupMembers,
  describeInstanceRefresh,
  findRunningRefresh,
  rollbackInstanceRefresh,
  setGroupLaunchTemplateVersion,
  startInstanceRefresh,
} from '../../src/aws/autoscaling.js';
import { getMetricSeries, listMetricDimensions } from '../../src/aws/cloudwatch.js';
import {
  createImage,
  createLaunchTemplateVersion,
  describeFleetNow,
  describeImage,
  describeLaunchTemplate,
  describeRunningInstances,
  findInstancesTaggedFor,
  findOwnImageByName,
  setDefaultLaunchTemplateVersion,
  tagInstances,
  waitForImage,
} from '../../src/aws/ec2.js';
import { getBucketNotifications, headObject, putArtifact } from '../../src/aws/s3.js';
import {
  cancelMoveTask,
  getQueueState,
  getQueueUrl,
  getRedriveAllowPolicy,
  listMoveTasks,
  listQueueTags,
  peekMessages,
  setVisibilityTimeout,
  startMoveTask,
  tagQueue,
} from '../../src/aws/sqs.js';
import {
  cancelCommand,
  getAgentStatus,
  getCommandSummary,
  listInvocations,
  pollCommands,
  readInvocation,
  sendShellCommand,
  waitForInvocation,
} from '../../src/aws/ssm.js';
import { runOnFleet } from '../../src/remote/fan-out.js';
import { getIdentity } from '../../src/aws/sts.js';
import { TAG_BACKUP_PATH, TAG_DEPLOYMENT_ID } from '../../src/constants.js';
import type { ModeContext } from '../../src/context.js';
import { canary } from '../../src/modes/canary.js';
import { rollback } from '../../src/modes/rollback.js';
import { rollout } from '../../src/modes/rollout.js';
import { backupPathFor, type DeploymentRecord } from '../../src/record.js';
import { awsError, testContext, type RawInputs, runbookRecord } from '../support/context.js';
import { documentedCount } from '../support/reliability-doc.js';
import { SourceOps } from '../support/source-ops.js';
import { type FleetOptions, ssmFleet, SUCCESS } from '../support/ssm-fleet.js';

/** Every injected fault, by name: registered as a test, and counted for RELIABILITY.md. */
const FAULTS: string[] = [];
function fault(name: string, fn: () => Promise<void>): void {
  FAULTS.push(name);
  it(name, fn);
}

const DEP = 'dep-20261129t000000z-4242-1';
const QUEUE = 'file-processing-queue-production';
const QUEUE_URL = `https://sqs.ap-northeast-1.amazonaws.com/123456789012/${QUEUE}`;
const BACKUP = backupPathFor('/opt/file-processor', 'worker.py', DEP);
const SHA = 'a'.repeat(64);
const ARTIFACT = 's3://cis-deploy-artifacts/emergency-deploy/worker.py';
const id = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;
const I1 = id(1);
const OPTS = { comment: 'faults', timeoutSeconds: 60 };
// testContext's retry bound: 4 attempts.
const ATTEMPTS = 4;

// ---------------------------------------------------------------------------------------------
// 1. every call site

type ClientName = keyof AwsClients;
interface Site {
  /** the gateway function driven */
  fn: string;
  file: string;
  op: string;
  /**
   * Set when the function reaches a call site another entry already drives (several gateway
   * functions share one paged read): the fault still goes through this function, the site is
   * counted once.
   */
  shares?: string;
  client: ClientName;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  command: new (input: any) => any;
  ok: Record<string, unknown>;
  call: (ctx: ModeContext) => Promise<unknown>;
}
const apiOf = (ctx: ModeContext) => [ctx.api, ctx.clients] as const;

const SITES: Site[] = [
  {
    fn: 'publishToTopic',
    file: 'src/aws/sns.ts',
    op: 'sns:Publish',
    client: 'sns',
    command: PublishCommand,
    // https://docs.aws.amazon.com/sns/latest/api/API_Publish.html: the response carries MessageId.
    ok: { MessageId: '5e3f0c2a-0000-4000-8000-000000000001' },
    call: (ctx) =>
      publishToTopic(...apiOf(ctx), 'arn:aws:sns:ap-northeast-1:123456789012:notices', 'subject', 'message'),
  },
  {
    fn: 'getIdentity',
    file: 'src/aws/sts.ts',
    op: 'sts:GetCallerIdentity',
    client: 'sts',
    command: GetCallerIdentityCommand,
    ok: { Account: '123456789012', Arn: 'arn:aws:sts::123456789012:assumed-role/deploy/gha' },
    call: (ctx) => getIdentity(...apiOf(ctx)),
  },
  {
    fn: 'getQueueUrl',
    file: 'src/aws/sqs.ts',
    op: 'sqs:GetQueueUrl',
    client: 'sqs',
    command: GetQueueUrlCommand,
    ok: { QueueUrl: QUEUE_URL },
    call: (ctx) => getQueueUrl(...apiOf(ctx), QUEUE),
  },
  {
    fn: 'getQueueState',
    file: 'src/aws/sqs.ts',
    op: 'sqs:GetQueueAttributes',
    client: 'sqs',
    command: GetQueueAttributesCommand,
    ok: { Attributes: { ApproximateNumberOfMessages: '5', VisibilityTimeout: '300' } },
    call: (ctx) => getQueueState(...apiOf(ctx), QUEUE_URL),
  },
  {
    fn: 'setVisibilityTimeout',
    file: 'src/aws/sqs.ts',
    op: 'sqs:SetQueueAttributes',
    client: 'sqs',
    command: SetQueueAttributesCommand,
    ok: {},
    call: (ctx) => setVisibilityTimeout(...apiOf(ctx), QUEUE_URL, 900),
  },
  {
    fn: 'peekMessages (the redrive review)',
    file: 'src/aws/sqs.ts',
    op: 'sqs:ReceiveMessage',
    client: 'sqs',
    command: ReceiveMessageCommand,
    ok: { Messages: [] },
    call: (ctx) =>
      peekMessages(...apiOf(ctx), QUEUE_URL, {
        max: 10,
        visibilityTimeoutSeconds: 30,
        waitTimeSeconds: 1,
        firstReceivedAt: false,
        bodies: true,
      }),
  },
  {
    fn: 'getRedriveAllowPolicy',
    file: 'src/aws/sqs.ts',
    op: 'sqs:GetQueueAttributes',
    client: 'sqs',
    command: GetQueueAttributesCommand,
    ok: { Attributes: {} },
    call: (ctx) => getRedriveAllowPolicy(...apiOf(ctx), QUEUE_URL),
  },
  {
    fn: 'startMoveTask',
    file: 'src/aws/sqs.ts',
    op: 'sqs:StartMessageMoveTask',
    client: 'sqs',
    command: StartMessageMoveTaskCommand,
    ok: { TaskHandle: 'handle-1' },
    call: (ctx) =>
      startMoveTask(
        ...apiOf(ctx),
        'arn:aws:sqs:ap-northeast-1:123456789012:dlq',
        'arn:aws:sqs:ap-northeast-1:123456789012:q',
        50,
      ),
  },
  {
    fn: 'listMoveTasks',
    file: 'src/aws/sqs.ts',
    op: 'sqs:ListMessageMoveTasks',
    client: 'sqs',
    command: ListMessageMoveTasksCommand,
    ok: { Results: [] },
    call: (ctx) => listMoveTasks(...apiOf(ctx), 'arn:aws:sqs:ap-northeast-1:123456789012:dlq'),
  },
  {
    fn: 'cancelMoveTask',
    file: 'src/aws/sqs.ts',
    op: 'sqs:CancelMessageMoveTask',
    client: 'sqs',
    command: CancelMessageMoveTaskCommand,
    ok: { ApproximateNumberOfMessagesMoved: 3 },
    call: (ctx) => cancelMoveTask(...apiOf(ctx), 'handle-1'),
  },
  {
    fn: 'listQueueTags',
    file: 'src/aws/sqs.ts',
    op: 'sqs:ListQueueTags',
    client: 'sqs',
    command: ListQueueTagsCommand,
    // API_ListQueueTags: {"Tags": {"key": "value"}}
    ok: { Tags: { 'emergency-deploy:visibility-timeout': `${DEP} before=300 after=900 done` } },
    call: (ctx) => listQueueTags(...apiOf(ctx), QUEUE_URL),
  },
  {
    fn: 'tagQueue',
    file: 'src/aws/sqs.ts',
    op: 'sqs:TagQueue',
    client: 'sqs',
    command: TagQueueCommand,
    // API_TagQueue: an empty body on success
    ok: {},
    call: (ctx) => tagQueue(...apiOf(ctx), QUEUE_URL, { k: 'v' }),
  },
  {
    fn: 'getBucketNotifications',
    file: 'src/aws/s3.ts',
    op: 's3:GetBucketNotification',
    client: 's3',
    command: GetBucketNotificationConfigurationCommand,
    ok: { QueueConfigurations: [] },
    call: (ctx) => getBucketNotifications(...apiOf(ctx), 'cis-filesearch-storage-production'),
  },
  {
    fn: 'listTopicSubscriptions',
    file: 'src/aws/sns.ts',
    op: 'sns:ListSubscriptionsByTopic',
    client: 'sns',
    command: ListSubscriptionsByTopicCommand,
    ok: { Subscriptions: [] },
    call: (ctx) => listTopicSubscriptions(...apiOf(ctx), 'arn:aws:sns:ap-northeast-1:123456789012:uploads'),
  },
  {
    fn: 'listRuleNamesByTarget',
    file: 'src/aws/eventbridge.ts',
    op: 'events:ListRuleNamesByTarget',
    client: 'events',
    command: ListRuleNamesByTargetCommand,
    ok: { RuleNames: [] },
    call: (ctx) => listRuleNamesByTarget(...apiOf(ctx), `arn:aws:sqs:ap-northeast-1:123456789012:${QUEUE}`),
  },
  {
    fn: 'describeRule',
    file: 'src/aws/eventbridge.ts',
    op: 'events:DescribeRule',
    client: 'events',
    command: DescribeRuleCommand,
    ok: { Name: 'uploads-to-workers', State: 'ENABLED' },
    call: (ctx) => describeRule(...apiOf(ctx), 'uploads-to-workers'),
  },
  {
    fn: 'putArtifact',
    file: 'src/aws/s3.ts',
    op: 's3:PutObject',
    client: 's3',
    command: PutObjectCommand,
    ok: {},
    call: (ctx) => putArtifact(...apiOf(ctx), 'cis-deploy-artifacts', 'k', Buffer.from('x'), SHA),
  },
  {
    fn: 'headObject',
    file: 'src/aws/s3.ts',
    op: 's3:GetObject',
    client: 's3',
    command: HeadObjectCommand,
    ok: { ContentLength: 10 },
    call: (ctx) => headObject(...apiOf(ctx), 'cis-deploy-artifacts', 'k'),
  },
  {
    fn: 'describeRunningInstances',
    file: 'src/aws/ec2.ts',
    op: 'ec2:DescribeInstances',
    client: 'ec2',
    command: DescribeInstancesCommand,
    ok: { Reservations: [{ Instances: [{ InstanceId: I1, State: { Name: 'running' } }] }] },
    call: (ctx) => describeRunningInstances(...apiOf(ctx), [{ Name: 'tag:Name', Values: ['x'] }]),
  },
  {
    fn: 'tagInstances',
    file: 'src/aws/ec2.ts',
    op: 'ec2:CreateTags',
    client: 'ec2',
    command: CreateTagsCommand,
    ok: {},
    call: (ctx) => tagInstances(...apiOf(ctx), [I1], { [TAG_DEPLOYMENT_ID]: DEP }),
  },
  {
    fn: 'peekMessages (verify, the DLQ)',
    file: 'src/aws/sqs.ts',
    op: 'sqs:ReceiveMessage',
    shares: 'peekMessages (the redrive review)',
    client: 'sqs',
    command: ReceiveMessageCommand,
    ok: { Messages: [] },
    call: (ctx) => peekMessages(...apiOf(ctx), QUEUE_URL, { max: 10, visibilityTimeoutSeconds: 10 }),
  },
  {
    fn: 'listMetricDimensions (verify)',
    file: 'src/aws/cloudwatch.ts',
    op: 'cloudwatch:ListMetrics',
    client: 'cloudwatch',
    command: ListMetricsCommand,
    ok: { Metrics: [] },
    call: (ctx) => listMetricDimensions(...apiOf(ctx), 'CISFileSearch/Worker', 'MessageDeleteFailed'),
  },
  {
    fn: 'describeFleetNow (verify)',
    file: 'src/aws/ec2.ts',
    shares: 'describeRunningInstances',
    op: 'ec2:DescribeInstances',
    client: 'ec2',
    command: DescribeInstancesCommand,
    ok: { Reservations: [{ Instances: [{ InstanceId: I1, State: { Name: 'running' } }] }] },
    call: (ctx) => describeFleetNow(...apiOf(ctx), [{ Name: 'tag:Name', Values: ['x'] }]),
  },
  {
    fn: 'describeGroupMembers (verify)',
    file: 'src/aws/autoscaling.ts',
    op: 'autoscaling:DescribeAutoScalingGroups',
    client: 'autoscaling',
    command: DescribeAutoScalingGroupsCommand,
    ok: { AutoScalingGroups: [] },
    call: (ctx) => describeGroupMembers(...apiOf(ctx), 'cis-file-processor-asg'),
  },
  {
    fn: 'findInstancesTaggedFor (rollback)',
    file: 'src/aws/ec2.ts',
    shares: 'describeRunningInstances',
    op: 'ec2:DescribeInstances',
    client: 'ec2',
    command: DescribeInstancesCommand,
    ok: { Reservations: [] },
    call: (ctx) => findInstancesTaggedFor(...apiOf(ctx), DEP),
  },
  {
    fn: 'getAgentStatus',
    file: 'src/aws/ssm.ts',
    op: 'ssm:DescribeInstanceInformation',
    client: 'ssm',
    command: DescribeInstanceInformationCommand,
    ok: { InstanceInformationList: [{ InstanceId: I1, PingStatus: 'Online' }] },
    call: (ctx) => getAgentStatus(...apiOf(ctx), [I1]),
  },
  {
    fn: 'sendShellCommand',
    file: 'src/aws/ssm.ts',
    op: 'ssm:SendCommand',
    client: 'ssm',
    command: SendCommandCommand,
    ok: { Command: { CommandId: 'cmd-1' } },
    call: (ctx) => sendShellCommand(...apiOf(ctx), [I1], 'true', OPTS),
  },
  {
    fn: 'waitForInvocation',
    file: 'src/aws/ssm.ts',
    op: 'ssm:GetCommandInvocation',
    client: 'ssm',
    command: GetCommandInvocationCommand,
    ok: { Status: 'Success', StatusDetails: 'Success', ResponseCode: 0 },
    call: (ctx) => waitForInvocation(...apiOf(ctx), ctx.runtime, 'cmd-1', I1, OPTS),
  },
  {
    fn: 'getCommandSummary',
    file: 'src/aws/ssm.ts',
    op: 'ssm:ListCommands',
    client: 'ssm',
    command: ListCommandsCommand,
    ok: { Commands: [{ CommandId: 'cmd-1', Status: 'Success' }] },
    call: (ctx) => getCommandSummary(...apiOf(ctx), 'cmd-1'),
  },
  {
    fn: 'pollCommands',
    file: 'src/aws/ssm.ts',
    op: 'ssm:ListCommands',
    client: 'ssm',
    command: ListCommandsCommand,
    // One page of the commands InvokedAfter the fan-out began (API_ListCommands, Filters).
    ok: { Commands: [{ CommandId: 'cmd-1', Status: 'InProgress' }] },
    call: (ctx) => pollCommands(...apiOf(ctx), ['cmd-1'], new Date('2026-11-29T00:00:00Z'), 0),
  },
  {
    fn: 'readInvocation',
    file: 'src/aws/ssm.ts',
    op: 'ssm:GetCommandInvocation',
    client: 'ssm',
    command: GetCommandInvocationCommand,
    ok: { Status: 'Failed', StatusDetails: 'Failed', ResponseCode: 1, StandardErrorContent: 'x' },
    call: (ctx) => readInvocation(...apiOf(ctx), 'cmd-1', I1),
  },
  {
    fn: 'listInvocations',
    file: 'src/aws/ssm.ts',
    op: 'ssm:ListCommandInvocations',
    client: 'ssm',
    command: ListCommandInvocationsCommand,
    ok: { CommandInvocations: [] },
    call: (ctx) => listInvocations(...apiOf(ctx), 'cmd-1', true),
  },
  {
    fn: 'cancelCommand',
    file: 'src/aws/ssm.ts',
    op: 'ssm:CancelCommand',
    client: 'ssm',
    command: CancelCommandCommand,
    ok: {},
    call: (ctx) => cancelCommand(...apiOf(ctx), 'cmd-1'),
  },
  {
    fn: 'getMetricSeries',
    file: 'src/aws/cloudwatch.ts',
    op: 'cloudwatch:GetMetricData',
    client: 'cloudwatch',
    command: GetMetricDataCommand,
    ok: { MetricDataResults: [] },
    call: (ctx) =>
      getMetricSeries(
        ...apiOf(ctx),
        [
          {
            id: 'm',
            namespace: 'CISFileSearch/Worker',
            metricName: 'MessageDeleteFailed',
            stat: 'Sum',
            periodSeconds: 60,
          },
        ],
        new Date(0),
        new Date(60_000),
      ),
  },
  {
    fn: 'describeGroup',
    file: 'src/aws/autoscaling.ts',
    op: 'autoscaling:DescribeAutoScalingGroups',
    client: 'autoscaling',
    command: DescribeAutoScalingGroupsCommand,
    ok: { AutoScalingGroups: [{ AutoScalingGroupName: 'asg', Instances: [] }] },
    call: (ctx) => describeGroup(...apiOf(ctx), 'asg'),
  },
  {
    fn: 'startInstanceRefresh',
    file: 'src/aws/autoscaling.ts',
    op: 'autoscaling:StartInstanceRefresh',
    client: 'autoscaling',
    command: StartInstanceRefreshCommand,
    ok: { InstanceRefreshId: 'r-1' },
    call: (ctx) =>
      startInstanceRefresh(...apiOf(ctx), {
        asgName: 'asg',
        minHealthyPercentage: 90,
        checkpointPercentages: [],
        checkpointDelaySeconds: 0,
        autoRollback: false,
      }),
  },
  {
    fn: 'describeInstanceRefresh',
    file: 'src/aws/autoscaling.ts',
    op: 'autoscaling:DescribeInstanceRefreshes',
    client: 'autoscaling',
    command: DescribeInstanceRefreshesCommand,
    ok: { InstanceRefreshes: [{ InstanceRefreshId: 'r-1', Status: 'InProgress' }] },
    call: (ctx) => describeInstanceRefresh(...apiOf(ctx), 'asg', 'r-1'),
  },
  {
    fn: 'findRunningRefresh',
    file: 'src/aws/autoscaling.ts',
    op: 'autoscaling:DescribeInstanceRefreshes',
    client: 'autoscaling',
    command: DescribeInstanceRefreshesCommand,
    // API_DescribeInstanceRefreshes without ids: the group's refreshes, newest first.
    ok: { InstanceRefreshes: [{ InstanceRefreshId: 'r-2', Status: 'InProgress' }] },
    call: (ctx) => findRunningRefresh(...apiOf(ctx), 'asg'),
  },
  {
    fn: 'cancelInstanceRefresh',
    file: 'src/aws/autoscaling.ts',
    op: 'autoscaling:CancelInstanceRefresh',
    client: 'autoscaling',
    command: CancelInstanceRefreshCommand,
    ok: { InstanceRefreshId: 'r-1' },
    call: (ctx) => cancelInstanceRefresh(...apiOf(ctx), 'asg'),
  },
  {
    fn: 'rollbackInstanceRefresh',
    file: 'src/aws/autoscaling.ts',
    op: 'autoscaling:RollbackInstanceRefresh',
    client: 'autoscaling',
    command: RollbackInstanceRefreshCommand,
    ok: { InstanceRefreshId: 'r-1' },
    call: (ctx) => rollbackInstanceRefresh(...apiOf(ctx), 'asg'),
  },
  {
    fn: 'setGroupLaunchTemplateVersion',
    file: 'src/aws/autoscaling.ts',
    op: 'autoscaling:UpdateAutoScalingGroup',
    client: 'autoscaling',
    command: UpdateAutoScalingGroupCommand,
    ok: {},
    call: (ctx) => setGroupLaunchTemplateVersion(...apiOf(ctx), 'asg', { id: 'lt-1', version: '3' }),
  },
  {
    fn: 'createImage',
    file: 'src/aws/ec2.ts',
    op: 'ec2:CreateImage',
    client: 'ec2',
    command: CreateImageCommand,
    ok: { ImageId: 'ami-0fix' },
    call: (ctx) =>
      createImage(...apiOf(ctx), { instanceId: I1, name: 'img', description: 'd', noReboot: true, tags: {} }),
  },
  {
    fn: 'findOwnImageByName',
    file: 'src/aws/ec2.ts',
    op: 'ec2:DescribeImages',
    client: 'ec2',
    command: DescribeImagesCommand,
    ok: { Images: [{ ImageId: 'ami-0fix', Name: 'img', State: 'available' }] },
    call: (ctx) => findOwnImageByName(...apiOf(ctx), 'img'),
  },
  {
    fn: 'describeImage',
    file: 'src/aws/ec2.ts',
    op: 'ec2:DescribeImages',
    client: 'ec2',
    command: DescribeImagesCommand,
    ok: { Images: [{ ImageId: 'ami-0fix', State: 'available' }] },
    call: (ctx) => describeImage(...apiOf(ctx), 'ami-0fix'),
  },
  {
    fn: 'describeLaunchTemplate',
    file: 'src/aws/ec2.ts',
    op: 'ec2:DescribeLaunchTemplates',
    client: 'ec2',
    command: DescribeLaunchTemplatesCommand,
    ok: {
      LaunchTemplates: [{ LaunchTemplateId: 'lt-1', LaunchTemplateName: 'lt', DefaultVersionNumber: 1 }],
    },
    call: (ctx) => describeLaunchTemplate(...apiOf(ctx), 'lt'),
  },
  {
    fn: 'createLaunchTemplateVersion',
    file: 'src/aws/ec2.ts',
    op: 'ec2:CreateLaunchTemplateVersion',
    client: 'ec2',
    command: CreateLaunchTemplateVersionCommand,
    ok: { LaunchTemplateVersion: { VersionNumber: 2 } },
    call: (ctx) =>
      createLaunchTemplateVersion(...apiOf(ctx), {
        templateId: 'lt-1',
        sourceVersion: 1,
        imageId: 'ami-0fix',
        description: 'd',
        clientToken: 't',
      }),
  },
  {
    fn: 'setDefaultLaunchTemplateVersion',
    file: 'src/aws/ec2.ts',
    op: 'ec2:ModifyLaunchTemplate',
    client: 'ec2',
    command: ModifyLaunchTemplateCommand,
    ok: {},
    call: (ctx) => setDefaultLaunchTemplateVersion(...apiOf(ctx), 'lt-1', 2),
  },
];

function siteContext(site: Site) {
  const t = testContext({ mode: 'preflight', 'queue-name': QUEUE });
  const stub = mockClient(t.ctx.clients[site.client] as never);
  return { ...t, stub };
}

describe('every AWS call site', () => {
  it('the table names every api.call site in src/aws, and no other', () => {
    const inSource = new SourceOps('src')
      .scan()
      .flatMap((s) => s.apiOps.map((op) => `${s.file} ${op}`))
      .sort();
    // DescribeSnapshots is driven through waitForImage below (its progress read is private).
    const driven = [
      ...SITES.filter((s) => !s.shares).map((s) => `${s.file} ${s.op}`),
      'src/aws/ec2.ts ec2:DescribeSnapshots',
    ].sort();
    expect(driven).toEqual(inSource);
    // A shared site is named by the entry it shares with, in the same file and for the same operation.
    for (const s of SITES.filter((x) => x.shares)) {
      const owner = SITES.find((x) => x.fn === s.shares && !x.shares);
      expect({ fn: s.fn, site: owner && `${owner.file} ${owner.op}` }).toEqual({
        fn: s.fn,
        site: `${s.file} ${s.op}`,
      });
    }
  });

  describe.each(SITES.map((s) => [`${s.op} (${s.fn})`, s] as const))('%s', (_, site) => {
    fault(`${site.op} via ${site.fn}: throttled, then a 503, then success`, async () => {
      const { ctx, stub, runtime } = siteContext(site);
      stub
        .on(site.command)
        .rejectsOnce(awsError('ThrottlingException', 400, 'Rate exceeded'))
        .rejectsOnce(awsError('ServiceUnavailable', 503, 'Service Unavailable'))
        .resolves(site.ok);
      await site.call(ctx);
      expect(ctx.api.calls.get(site.op)).toBe(3);
      // Two retry waits on the fake clock, jittered and capped (no real wait).
      const retryWaits = runtime.clock.sleeps.filter((ms) => ms < 1000);
      expect(retryWaits).toEqual([75, 150]);
    });

    fault(`${site.op} via ${site.fn}: throttled without end, gives up at the bound`, async () => {
      const { ctx, stub } = siteContext(site);
      stub.on(site.command).rejects(awsError('ThrottlingException', 400, 'Rate exceeded'));
      await expect(site.call(ctx)).rejects.toThrow(`${site.op} failed`);
      expect(ctx.api.calls.get(site.op)).toBe(ATTEMPTS);
    });

    fault(`${site.op} via ${site.fn}: access denied, fails at once naming the operation`, async () => {
      const { ctx, stub, runtime } = siteContext(site);
      stub.on(site.command).rejects(awsError('AccessDeniedException', 403, 'not authorized to perform this'));
      await expect(site.call(ctx)).rejects.toThrow(
        new RegExp(`^${site.op} failed: not authorized to perform this$`),
      );
      expect(ctx.api.calls.get(site.op)).toBe(1);
      expect(runtime.clock.sleeps.filter((ms) => ms < 1000)).toEqual([]);
    });
  });

  describe('ec2:DescribeSnapshots (the image wait’s progress read)', () => {
    function imageWait(snapshots: 'flaky' | 'denied') {
      const t = testContext({ mode: 'preflight', 'queue-name': QUEUE });
      const ec2 = mockClient(t.ctx.clients.ec2);
      ec2
        .on(DescribeImagesCommand)
        .resolvesOnce({
          Images: [
            {
              ImageId: 'ami-0fix',
              State: 'pending',
              BlockDeviceMappings: [{ Ebs: { SnapshotId: 'snap-1' } }],
            },
          ],
        })
        .resolves({ Images: [{ ImageId: 'ami-0fix', State: 'available' }] });
      if (snapshots === 'flaky') {
        ec2
          .on(DescribeSnapshotsCommand)
          .rejectsOnce(awsError('RequestLimitExceeded', 503))
          .rejectsOnce(awsError('InternalError', 500))
          .resolves({ Snapshots: [{ Progress: '40%' }] });
      } else {
        ec2.on(DescribeSnapshotsCommand).rejects(awsError('UnauthorizedOperation', 403));
      }
      const progress: (number | undefined)[] = [];
      const wait = waitForImage(t.ctx.api, t.ctx.clients, t.runtime, 'ami-0fix', {
        pollMs: 15_000,
        maxWaitMs: 60_000,
        onProgress: (_s, percent) => progress.push(percent),
      });
      return { ...t, wait, progress };
    }

    fault('ec2:DescribeSnapshots via waitForImage: throttled, then a 500, then success', async () => {
      const { wait, progress, api } = imageWait('flaky');
      expect((await wait).outcome).toBe('available');
      expect(progress).toEqual([40]);
      expect(api.calls.get('ec2:DescribeSnapshots')).toBe(3);
    });

    fault('ec2:DescribeSnapshots via waitForImage: denied, read once, and the wait goes on', async () => {
      // Progress is a nicety: not being allowed to read it must not end the wait for the image.
      const { wait, progress, api } = imageWait('denied');
      expect((await wait).outcome).toBe('available');
      expect(progress).toEqual([undefined]);
      expect(api.calls.get('ec2:DescribeSnapshots')).toBe(1);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// 2. SSM's terminal statuses

interface SsmFault {
  status: 'Failed' | 'TimedOut' | 'Cancelled';
  details: string;
  code: number;
}
const SSM_FAULTS: SsmFault[] = [
  { status: 'Failed', details: 'Failed', code: 1 },
  { status: 'TimedOut', details: 'Execution Timed Out', code: -1 },
  { status: 'TimedOut', details: 'Delivery Timed Out', code: -1 },
  { status: 'Failed', details: 'Undeliverable', code: -1 },
  { status: 'Cancelled', details: 'Cancelled', code: -1 },
  { status: 'Failed', details: 'Terminated', code: -1 },
];
const ssmCases = SSM_FAULTS.map((f) => [f.details, f] as const);

function record(fleet: string[], edit: (r: DeploymentRecord) => void = () => undefined): DeploymentRecord {
  const r = runbookRecord(DEP);
  r.fleet = { filters: ['tag:Name=cis-file-processor'], instanceIds: fleet, discoveredAt: r.createdAt };
  r.queue = {
    url: QUEUE_URL,
    name: QUEUE,
    arn: `arn:aws:sqs:ap-northeast-1:123456789012:${QUEUE}`,
    visibilityTimeout: 300,
  };
  edit(r);
  return r;
}

function goRecord(fleet: string[]): DeploymentRecord {
  return record(fleet, (r) => {
    r.artifact = { s3Uri: ARTIFACT, sha256: SHA, uploaded: false };
    r.canary = { instanceId: fleet[0], verdict: 'go', reason: 'healthy', startedAt: r.createdAt };
    r.commands.push('cmd-canary');
    r.instances[fleet[0]] = { p: 'c', b: 0, s: 'installed', c: 0 };
  });
}

const published = (report: { outputs: Record<string, string | undefined> }) =>
  JSON.parse(report.outputs.record ?? '{}') as DeploymentRecord;

/**
 * A fleet behind SSM fan-out: each command's per-instance result comes from `resultOf`, and the
 * command's ListCommands status follows from them, as SSM reports it.
 */
function fanOutSsm(
  ssm: ReturnType<typeof mockClient>,
  resultOf: (instanceId: string, script: string) => SsmFault | 'ok',
) {
  const commands = new Map<string, { ids: string[]; script: string }>();
  ssm.on(SendCommandCommand).callsFake((input: SendCommandCommandInput) => {
    const commandId = `cmd-${commands.size + 1}`;
    commands.set(commandId, { ids: input.InstanceIds ?? [], script: input.Parameters?.commands?.[0] ?? '' });
    return { Command: { CommandId: commandId } };
  });
  const results = (commandId: string) => {
    const c = commands.get(commandId) ?? { ids: [], script: '' };
    return c.ids.map((i) => [i, resultOf(i, c.script)] as const);
  };
  ssm.on(ListCommandsCommand).callsFake((input: { CommandId: string }) => {
    const bad = results(input.CommandId).filter(([, r]) => r !== 'ok').length;
    return {
      Commands: [{ CommandId: input.CommandId, Status: bad ? 'Failed' : 'Success', ErrorCount: bad }],
    };
  });
  ssm.on(ListCommandInvocationsCommand).callsFake((input: { CommandId: string }) => ({
    CommandInvocations: results(input.CommandId).map(([i, r]) =>
      r === 'ok'
        ? {
            InstanceId: i,
            Status: 'Success',
            StatusDetails: 'Success',
            CommandPlugins: [{ ResponseCode: 0, Output: '' }],
          }
        : {
            InstanceId: i,
            Status: r.status,
            StatusDetails: r.details,
            CommandPlugins: [{ ResponseCode: r.code, Output: '' }],
          },
    ),
  }));
  ssm.on(CancelCommandCommand).resolves({});
  return commands;
}

describe('SSM terminal statuses', () => {
  describe.each(ssmCases)('%s', (details, f) => {
    fault(
      `fan-out: ${details} on one of three instances is that instance's result, the others succeed`,
      async () => {
        const { ctx } = testContext({ mode: 'rollout', record: JSON.stringify(goRecord([I1])) });
        const ssm = mockClient(ctx.clients.ssm);
        fanOutSsm(ssm, (i) => (i === id(2) ? f : 'ok'));
        const out = await runOnFleet(ctx.api, ctx.clients, ctx.runtime, [id(1), id(2), id(3)], 'true', OPTS);
        expect(out.results.get(id(2))).toMatchObject({
          status: f.status,
          statusDetails: details,
          responseCode: f.code,
        });
        expect(out.results.get(id(1))?.status).toBe('Success');
        expect(out.results.get(id(3))?.status).toBe('Success');
        expect(out.cancelled).toBe(false);
      },
    );

    fault(`canary: install ends ${details}: NO-GO naming it, no watch, the record says failed`, async () => {
      const t = testContext({
        mode: 'canary',
        record: JSON.stringify(record([I1, id(2)])),
        artifact: ARTIFACT,
        'artifact-sha256': SHA,
        'ssm-check': 'false',
      });
      const ec2 = mockClient(t.ctx.clients.ec2);
      const s3 = mockClient(t.ctx.clients.s3);
      const ssm = mockClient(t.ctx.clients.ssm);
      ec2.on(DescribeInstancesCommand).resolves({
        Reservations: [
          { Instances: [I1, id(2)].map((i) => ({ InstanceId: i, State: { Name: 'running' } })) },
        ],
      });
      ec2.on(CreateTagsCommand).resolves({});
      s3.on(HeadObjectCommand).resolves({ ContentLength: 100 });
      ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-install' } });
      ssm.on(GetCommandInvocationCommand).resolves({
        Status: f.status,
        StatusDetails: details,
        ResponseCode: f.code,
        StandardErrorContent: '',
      });
      ssm.on(CancelCommandCommand).resolves({});
      const outcome = await canary(t.ctx);
      expect(outcome.verdict).toBe('no-go');
      expect(outcome.failure).toContain(`Canary NO-GO on ${I1}`);
      expect(outcome.failure).toContain(details);
      expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(1);
      const r = published(t.report);
      expect(r.instances[I1]).toMatchObject({ p: 'c', s: 'failed', c: 0 });
      expect(r.instances[I1].e).toContain(details);
      expect(r.commands).toEqual(['cmd-install']);
      expect(r.canary?.verdict).toBe('no-go');
    });

    fault(
      `rollout: ${details} in batch 1 halts it at max-errors 0; no further batch; the record true`,
      async () => {
        const fleet = [id(1), id(2), id(3), id(4)];
        const t = testContext({
          mode: 'rollout',
          record: JSON.stringify(goRecord(fleet)),
          'batch-size': '1',
          'pause-seconds': '0',
          'ssm-check': 'false',
        });
        const ec2 = mockClient(t.ctx.clients.ec2);
        const ssm = mockClient(t.ctx.clients.ssm);
        ec2.on(DescribeInstancesCommand).resolves({
          Reservations: [{ Instances: fleet.map((i) => ({ InstanceId: i, State: { Name: 'running' } })) }],
        });
        ec2.on(CreateTagsCommand).resolves({});
        fanOutSsm(ssm, (i) => (i === id(2) ? f : 'ok'));
        const outcome = await rollout(t.ctx);
        expect(outcome.verdict).toBe('fail');
        expect(outcome.failure).toMatch(
          /Rollout halted after batch 1 of 3: 1 instance\(s\) failed, more than max-errors 0; 2 batch\(es\) not started/,
        );
        // One install, to the first batch only; tags only on it.
        expect(ssm.commandCalls(SendCommandCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([
          [id(2)],
        ]);
        expect(ec2.commandCalls(CreateTagsCommand).map((c) => c.args[0].input.Resources)).toEqual([[id(2)]]);
        const r = published(t.report);
        expect(r.instances[id(2)]).toMatchObject({ p: 'r', b: 1, s: 'failed' });
        expect(r.instances[id(2)].e).toContain(details);
        expect(r.instances[id(3)]).toBeUndefined();
        expect(r.instances[id(4)]).toBeUndefined();
        expect(r.phases.at(-1)).toMatchObject({ mode: 'rollout', verdict: 'fail' });
      },
    );

    fault(`rollback: restore ends ${details} on one instance: it fails, the other is restored`, async () => {
      const fleet = [id(1), id(2)];
      const rec = record(fleet, (r) => {
        r.instances[id(1)] = { p: 'c', b: 0, s: 'installed', c: -1 };
        r.instances[id(2)] = { p: 'r', b: 1, s: 'installed', c: -1 };
      });
      const t = testContext({ mode: 'rollback', record: JSON.stringify(rec) });
      const ec2 = mockClient(t.ctx.clients.ec2);
      const ssm = mockClient(t.ctx.clients.ssm);
      // Still running when asked again: an undelivered restore is a failure, not "gone".
      ec2.on(DescribeInstancesCommand).callsFake((input: { Filters: Filter[] }) => {
        const byId = input.Filters.find((x) => x.Name === 'instance-id')?.Values ?? fleet;
        return {
          Reservations: [
            {
              Instances: byId.map((i) => ({
                InstanceId: i,
                State: { Name: 'running' },
                Tags: [
                  { Key: TAG_DEPLOYMENT_ID, Value: DEP },
                  { Key: TAG_BACKUP_PATH, Value: BACKUP },
                ],
              })),
            },
          ],
        };
      });
      fanOutSsm(ssm, (i) => (i === id(2) ? f : 'ok'));
      const outcome = await rollback(t.ctx);
      expect(outcome.verdict).toBe('fail');
      expect(outcome.failure).toContain(`1 instance(s) could not be restored: ${id(2)} (${details}`);
      const r = published(t.report);
      expect(r.instances[id(1)].rb).toBe('restored');
      expect(r.instances[id(2)].rb).toBe('failed');
      expect(r.instances[id(2)].re).toContain(details);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// 3. the fleet, the image, the refresh, the queue, and rollback twice

describe('faults in the middle of a deployment', () => {
  function rolloutWorld(fleet: string[], raw: RawInputs, resultOf: (i: string) => SsmFault | 'ok') {
    const t = testContext({
      mode: 'rollout',
      record: JSON.stringify(goRecord(fleet)),
      'batch-size': '1',
      'pause-seconds': '0',
      'ssm-check': 'false',
      ...raw,
    });
    const ec2 = mockClient(t.ctx.clients.ec2);
    const ssm = mockClient(t.ctx.clients.ssm);
    const sqs = mockClient(t.ctx.clients.sqs);
    sqs.on(ListQueueTagsCommand).resolves({ Tags: {} });
    sqs.on(TagQueueCommand).resolves({});
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: fleet.map((i) => ({ InstanceId: i, State: { Name: 'running' } })) }],
    });
    ec2.on(CreateTagsCommand).resolves({});
    fanOutSsm(ssm, resultOf);
    return { ...t, ec2, ssm, sqs };
  }

  fault(
    'an instance terminated mid-rollout: recorded failed as Terminated; with max-errors 1 the rest still get the fix',
    async () => {
      const fleet = [id(1), id(2), id(3), id(4)];
      const { ctx, report, ssm } = rolloutWorld(fleet, { 'max-errors': '1' }, (i) =>
        i === id(3) ? { status: 'Failed', details: 'Terminated', code: -1 } : 'ok',
      );
      const outcome = await rollout(ctx);
      expect(outcome.verdict).toBe('pass');
      expect(
        ssm
          .commandCalls(SendCommandCommand)
          .filter((c) => !String(c.args[0].input.Comment).includes('health'))
          .map((c) => c.args[0].input.InstanceIds),
      ).toEqual([[id(2)], [id(3)], [id(4)]]);
      const r = published(report);
      expect(r.instances[id(2)].s).toBe('installed');
      expect(r.instances[id(3)]).toMatchObject({ s: 'failed' });
      expect(r.instances[id(3)].e).toContain('Terminated');
      expect(r.instances[id(4)].s).toBe('installed');
    },
  );

  fault(
    'tagging refused mid-rollout: nothing is installed on the untagged batch; the record has no entry for it',
    async () => {
      const fleet = [id(1), id(2), id(3)];
      const { ctx, report, ssm, ec2 } = rolloutWorld(fleet, {}, () => 'ok');
      ec2
        .on(CreateTagsCommand)
        .resolvesOnce({})
        .rejects(awsError('UnauthorizedOperation', 403, 'You are not authorized to perform this operation.'));
      const outcome = await rollout(ctx);
      expect(outcome.verdict).toBe('fail');
      expect(outcome.failure).toBe(
        'Rollout failed: ec2:CreateTags failed: You are not authorized to perform this operation.',
      );
      const installs = ssm
        .commandCalls(SendCommandCommand)
        .filter((c) => !String(c.args[0].input.Comment).includes('health'));
      expect(installs.map((c) => c.args[0].input.InstanceIds)).toEqual([[id(2)]]);
      const r = published(report);
      expect(r.instances[id(2)].s).toBe('installed');
      expect(r.instances[id(3)]).toBeUndefined();
    },
  );

  fault(
    'the queue refuses the visibility timeout after the fleet has the fix: failure names it; the record keeps every install',
    async () => {
      const fleet = [id(1), id(2)];
      const { ctx, report, sqs } = rolloutWorld(fleet, { 'visibility-timeout': '900' }, () => 'ok');
      sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { VisibilityTimeout: '300' } });
      sqs
        .on(SetQueueAttributesCommand)
        .rejects(awsError('AccessDenied', 403, 'Access to the resource is denied.'));
      const outcome = await rollout(ctx);
      expect(outcome.verdict).toBe('fail');
      expect(outcome.failure).toBe(
        'Rollout failed: sqs:SetQueueAttributes failed: Access to the resource is denied.',
      );
      const r = published(report);
      expect(r.instances[id(2)].s).toBe('installed');
      // The intent was recorded before the call (the call may have taken effect although its answer
      // was lost); rollback restores the baseline, which here finds it already in place.
      expect(r.settings.visibilityTimeout).toMatchObject({ before: 300, after: 900, s: 'intended' });
      expect(sqs.commandCalls(TagQueueCommand)[0].args[0].input.Tags).toEqual({
        'emergency-deploy:visibility-timeout': `${r.deploymentId} before=300 after=900 intended`,
      });
    },
  );

  fault(
    'the queue refuses the intent tag: SetQueueAttributes is never called, and the record already holds the intent',
    async () => {
      const fleet = [id(1), id(2)];
      const { ctx, report, sqs } = rolloutWorld(fleet, { 'visibility-timeout': '900' }, () => 'ok');
      sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { VisibilityTimeout: '300' } });
      sqs.on(TagQueueCommand).rejects(awsError('AccessDenied', 403, 'Access to the resource is denied.'));
      const outcome = await rollout(ctx);
      expect(outcome.verdict).toBe('fail');
      expect(outcome.failure).toBe('Rollout failed: sqs:TagQueue failed: Access to the resource is denied.');
      expect(sqs.commandCalls(SetQueueAttributesCommand)).toHaveLength(0);
      expect(published(report).settings.visibilityTimeout).toMatchObject({ before: 300, s: 'intended' });
    },
  );

  function asgWorld(
    overrides: (m: { ec2: ReturnType<typeof mockClient>; asg: ReturnType<typeof mockClient> }) => void,
  ) {
    const fleet = [id(1), id(2)];
    const t = testContext({
      mode: 'rollout',
      record: JSON.stringify(goRecord(fleet)),
      strategy: 'asg',
      'asg-name': 'cis-file-processor-asg',
      'launch-template-name': 'cis-file-processor-lt',
      'poll-seconds': '30',
    });
    const ec2 = mockClient(t.ctx.clients.ec2);
    const asg = mockClient(t.ctx.clients.autoscaling);
    mockClient(t.ctx.clients.ssm);
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: fleet.map((i) => ({ InstanceId: i, State: { Name: 'running' } })) }],
    });
    ec2.on(DescribeLaunchTemplatesCommand).resolves({
      LaunchTemplates: [
        {
          LaunchTemplateId: 'lt-0123456789abcdef0',
          LaunchTemplateName: 'cis-file-processor-lt',
          DefaultVersionNumber: 3,
          LatestVersionNumber: 3,
        },
      ],
    });
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-0fix', State: 'available' }] });
    ec2.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({ Images: [] });
    ec2.on(CreateImageCommand).resolves({ ImageId: 'ami-0fix' });
    ec2.on(CreateLaunchTemplateVersionCommand).resolves({ LaunchTemplateVersion: { VersionNumber: 4 } });
    ec2.on(ModifyLaunchTemplateCommand).resolves({});
    // Only the fields the gateway reads (the SDK type lists every field of a real group).
    asg.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        {
          AutoScalingGroupName: 'cis-file-processor-asg',
          Instances: fleet.map((InstanceId) => ({ InstanceId })),
          LaunchTemplate: {
            LaunchTemplateId: 'lt-0123456789abcdef0',
            LaunchTemplateName: 'cis-file-processor-lt',
            Version: '$Default',
          },
        },
      ],
    } as never);
    overrides({ ec2, asg });
    return { ...t, ec2, asg };
  }

  fault(
    'image creation refused by EC2: fails naming it; the launch template and the group untouched',
    async () => {
      const { ctx, report, ec2, asg } = asgWorld(({ ec2 }) =>
        ec2
          .on(CreateImageCommand)
          .rejects(awsError('InvalidInstanceID.NotFound', 400, `The instance ID '${I1}' does not exist`)),
      );
      const outcome = await rollout(ctx);
      expect(outcome.verdict).toBe('fail');
      expect(outcome.failure).toContain('ec2:CreateImage failed');
      expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)).toHaveLength(0);
      expect(ec2.commandCalls(ModifyLaunchTemplateCommand)).toHaveLength(0);
      expect(asg.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
      const r = published(report);
      expect(r.settings.launchTemplate).toBeUndefined();
      expect(r.settings.refresh).toBeUndefined();
    },
  );

  fault(
    'instance refresh refused by Auto Scaling after the default moved: fails naming it; the record lets rollback restore the default',
    async () => {
      const { ctx, report, asg } = asgWorld(({ asg }) =>
        asg
          .on(StartInstanceRefreshCommand)
          .rejects(awsError('ValidationError', 400, 'An Auto Scaling group has instances in Standby')),
      );
      const outcome = await rollout(ctx);
      expect(outcome.verdict).toBe('fail');
      expect(outcome.failure).toContain(
        'autoscaling:StartInstanceRefresh failed: An Auto Scaling group has instances in Standby',
      );
      expect(asg.commandCalls(StartInstanceRefreshCommand)).toHaveLength(1);
      const r = published(report);
      expect(r.settings.launchTemplate).toEqual({
        id: 'lt-0123456789abcdef0',
        name: 'cis-file-processor-lt',
        previousDefault: 3,
        newVersion: 4,
        sourceVersion: 3,
        groupVersion: '$Default',
        mixed: false,
        movedDefault: true,
      });
      expect(r.settings.refresh).toBeUndefined();
    },
  );

  fault('instance refresh throttled while followed: retried, followed to Successful', async () => {
    const { ctx, asg } = asgWorld(({ asg }) => {
      asg.on(StartInstanceRefreshCommand).resolves({ InstanceRefreshId: 'refresh-1' });
      asg
        .on(DescribeInstanceRefreshesCommand)
        .rejectsOnce(awsError('Throttling', 400))
        .resolvesOnce({
          InstanceRefreshes: [
            { InstanceRefreshId: 'refresh-1', Status: 'InProgress', PercentageComplete: 50 },
          ],
        })
        .rejectsOnce(awsError('InternalFailure', 500))
        .resolves({
          InstanceRefreshes: [
            { InstanceRefreshId: 'refresh-1', Status: 'Successful', PercentageComplete: 100 },
          ],
        });
    });
    const outcome = await rollout(ctx);
    expect(outcome.failure).toBeUndefined();
    expect(outcome.verdict).toBe('pass');
    expect(asg.commandCalls(DescribeInstanceRefreshesCommand)).toHaveLength(4);
  });

  fault(
    'default move refused by EC2 for a $Default group: fails naming it; the record already says the default may have moved',
    async () => {
      const { ctx, report, asg } = asgWorld(({ ec2 }) =>
        ec2
          .on(ModifyLaunchTemplateCommand)
          .rejects(
            awsError('UnauthorizedOperation', 403, 'You are not authorized to perform this operation'),
          ),
      );
      const outcome = await rollout(ctx);
      expect(outcome.verdict).toBe('fail');
      expect(outcome.failure).toContain('ec2:ModifyLaunchTemplate failed');
      expect(asg.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
      // Written before the call: a rollback checks the default whether or not the call landed.
      expect(published(report).settings.launchTemplate?.movedDefault).toBe(true);
    },
  );

  /**
   * Rollback of a pinned group (version 2) whose refresh to version 4 succeeded: the group is back
   * on 2 already, one member still runs version 4, so a refresh back is needed.
   */
  function asgRollbackWorld(edit: (m: { asg: ReturnType<typeof mockClient> }) => void) {
    const rec = record([], (r) => {
      r.settings.launchTemplate = {
        id: 'lt-0123456789abcdef0',
        name: 'cis-file-processor-lt',
        previousDefault: 3,
        newVersion: 4,
        sourceVersion: 2,
        groupVersion: '2',
        mixed: false,
        movedDefault: false,
      };
      r.settings.refresh = {
        id: 'refresh-1',
        asgName: 'cis-file-processor-asg',
        status: 'InProgress',
        desired: 'launch-template',
      };
      r.extra.rolloutAsg = { groupVersion: '2' };
    });
    const t = testContext({ mode: 'rollback', record: JSON.stringify(rec) });
    const ec2 = mockClient(t.ctx.clients.ec2);
    const asg = mockClient(t.ctx.clients.autoscaling);
    mockClient(t.ctx.clients.ssm);
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    // DescribeAutoScalingGroups: each member's launch template version (API_Instance).
    asg.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        {
          AutoScalingGroupName: 'cis-file-processor-asg',
          Instances: [
            {
              InstanceId: id(9),
              LaunchTemplate: { LaunchTemplateId: 'lt-0123456789abcdef0', Version: '4' },
            },
          ],
          LaunchTemplate: { LaunchTemplateId: 'lt-0123456789abcdef0', Version: '2' },
        },
      ],
    } as never);
    edit({ asg });
    return { ...t, ec2, asg };
  }

  fault(
    'refresh back refused by Auto Scaling (another refresh in progress): rollback fails naming it and saying to run again',
    async () => {
      const { ctx, asg } = asgRollbackWorld(({ asg }) => {
        asg.on(DescribeInstanceRefreshesCommand).resolves({
          InstanceRefreshes: [
            { InstanceRefreshId: 'refresh-1', Status: 'Successful', PercentageComplete: 100 },
          ],
        });
        asg
          .on(StartInstanceRefreshCommand)
          .rejects(
            awsError('InstanceRefreshInProgressFault', 400, 'An Instance Refresh is already in progress'),
          );
      });
      const outcome = await rollback(ctx);
      expect(outcome.verdict).toBe('fail');
      expect(asg.commandCalls(StartInstanceRefreshCommand)).toHaveLength(1);
      expect(outcome.failure).toContain(
        'instances of cis-file-processor-asg on version 4 could not be restored: an instance refresh is already in progress on Auto Scaling group cis-file-processor-asg; run rollback again once it ends',
      );
    },
  );

  fault(
    "Auto Scaling's own rollback of the refresh ends RollbackFailed: rollback fails naming it and refreshes the group back itself",
    async () => {
      const { ctx, asg } = asgRollbackWorld(({ asg }) => {
        asg
          .on(DescribeInstanceRefreshesCommand, { InstanceRefreshIds: ['refresh-1'] })
          .resolvesOnce({ InstanceRefreshes: [{ InstanceRefreshId: 'refresh-1', Status: 'InProgress' }] })
          .resolves({
            InstanceRefreshes: [
              { InstanceRefreshId: 'refresh-1', Status: 'RollbackFailed', StatusReason: 'launch failed' },
            ],
          });
        asg.on(RollbackInstanceRefreshCommand).resolves({ InstanceRefreshId: 'refresh-1' });
        asg.on(StartInstanceRefreshCommand).resolves({ InstanceRefreshId: 'refresh-2' });
        asg
          .on(DescribeInstanceRefreshesCommand, { InstanceRefreshIds: ['refresh-2'] })
          .resolves({ InstanceRefreshes: [{ InstanceRefreshId: 'refresh-2', Status: 'Successful' }] });
      });
      const outcome = await rollback(ctx);
      expect(outcome.verdict).toBe('fail');
      expect(outcome.failure).toContain(
        'instance refresh refresh-1 of cis-file-processor-asg could not be restored: RollbackFailed: launch failed',
      );
      expect(asg.commandCalls(StartInstanceRefreshCommand)[0].args[0].input).toMatchObject({
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: 'lt-0123456789abcdef0', Version: '2' } },
        Preferences: { SkipMatching: true },
      });
      expect(outcome.summary).toMatch(/instances of cis-file-processor-asg on version 4 .* restored/);
    },
  );

  fault(
    'rollback cut short (one instance unreachable), run again: the second run restores it and reports the rest already done',
    async () => {
      const fleet = [id(1), id(2), id(3)];
      const files = new Map(fleet.map((i) => [i, 'fix']));
      let reachable = (i: string) => i !== id(3);
      const rec = record(fleet, (r) => {
        r.instances[id(1)] = { p: 'c', b: 0, s: 'installed', c: -1 };
        r.instances[id(2)] = { p: 'r', b: 1, s: 'installed', c: -1 };
        r.instances[id(3)] = { p: 'r', b: 2, s: 'sent', c: -1 };
      });
      const runOnce = async (raw: string, laterMs: number) => {
        const t = testContext({ mode: 'rollback', record: raw });
        t.runtime.clock.advance(laterMs);
        const ec2 = mockClient(t.ctx.clients.ec2);
        const ssm = mockClient(t.ctx.clients.ssm);
        ec2.on(DescribeInstancesCommand).callsFake((input: { Filters: Filter[] }) => {
          const byId = input.Filters.find((x) => x.Name === 'instance-id')?.Values ?? fleet;
          return {
            Reservations: [
              {
                Instances: byId.map((i) => ({
                  InstanceId: i,
                  State: { Name: 'running' },
                  Tags: [
                    { Key: TAG_DEPLOYMENT_ID, Value: DEP },
                    { Key: TAG_BACKUP_PATH, Value: BACKUP },
                  ],
                })),
              },
            ],
          };
        });
        // The restore script's own report: restored the first time, already at the backup after.
        const commands = new Map<string, string[]>();
        ssm.on(SendCommandCommand).callsFake((input: SendCommandCommandInput) => {
          const commandId = `cmd-${commands.size + 1}`;
          commands.set(commandId, input.InstanceIds ?? []);
          return { Command: { CommandId: commandId } };
        });
        const outputs = new Map<string, { ok: boolean; out: string }>();
        const resultFor = (commandId: string, i: string) => {
          const key = `${commandId} ${i}`;
          if (!outputs.has(key)) {
            if (!reachable(i)) outputs.set(key, { ok: false, out: '' });
            else {
              outputs.set(key, {
                ok: true,
                out: files.get(i) === 'backup' ? 'EWD restore=already\n' : 'EWD restore=restored\n',
              });
              files.set(i, 'backup');
            }
          }
          return outputs.get(key) as { ok: boolean; out: string };
        };
        ssm.on(ListCommandsCommand).callsFake((input: { CommandId: string }) => {
          const bad = (commands.get(input.CommandId) ?? []).filter(
            (i) => !resultFor(input.CommandId, i).ok,
          ).length;
          return {
            Commands: [{ CommandId: input.CommandId, Status: bad ? 'Failed' : 'Success', ErrorCount: bad }],
          };
        });
        ssm.on(ListCommandInvocationsCommand).callsFake((input: { CommandId: string }) => ({
          CommandInvocations: (commands.get(input.CommandId) ?? []).map((i) => {
            const r = resultFor(input.CommandId, i);
            return r.ok
              ? {
                  InstanceId: i,
                  Status: 'Success',
                  StatusDetails: 'Success',
                  CommandPlugins: [{ ResponseCode: 0, Output: r.out }],
                }
              : {
                  InstanceId: i,
                  Status: 'Failed',
                  StatusDetails: 'Undeliverable',
                  CommandPlugins: [{ ResponseCode: -1, Output: '' }],
                };
          }),
        }));
        const outcome = await rollback(t.ctx);
        return { outcome, record: t.report.outputs.record ?? '' };
      };

      const first = await runOnce(JSON.stringify(rec), 0);
      expect(first.outcome.verdict).toBe('fail');
      expect(first.outcome.failure).toContain(`${id(3)} (Undeliverable`);
      expect(files.get(id(3))).toBe('fix');

      // The agent comes back; the rollback is run again with the record the first run wrote.
      reachable = () => true;
      const second = await runOnce(first.record, 3_600_000);
      expect(second.outcome.verdict).toBe('pass');
      const r = JSON.parse(second.record) as DeploymentRecord;
      expect(r.instances[id(1)].rb).toBe('already');
      expect(r.instances[id(2)].rb).toBe('already');
      expect(r.instances[id(3)].rb).toBe('restored');
      expect(r.instances[id(3)].re).toBeUndefined();
      expect([...files.values()]).toEqual(['backup', 'backup', 'backup']);
      expect(r.phases.filter((p) => p.mode === 'rollback').map((p) => p.verdict)).toEqual(['fail', 'pass']);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// 4. SendCommand and invocation results as the SSM API reference describes them (issue 12):
//    test/support/ssm-fleet.ts is shaped by API_SendCommand (one unreachable id refuses the whole
//    call with InvalidInstanceId), API_ListCommands / API_Command (Undeliverable and Terminated
//    invocations count in neither ErrorCount nor MaxErrors: the command still ends Success),
//    API_ListCommandInvocations (Output cut at 2,500 characters, stdout then stderr) and
//    API_DescribeInstanceInformation. moto accepts any instance id and reports every invocation
//    Success, so none of this can be shown on the emulator.

describe('SendCommand and invocation results', () => {
  const fleetOf = (n: number) => Array.from({ length: n }, (_, k) => id(k + 1));
  function world(fleet: string[], raw: RawInputs, f: Omit<FleetOptions, 'clients' | 'clock'> = {}) {
    const t = testContext({
      mode: 'rollout',
      record: JSON.stringify(goRecord(fleet)),
      'pause-seconds': '0',
      'ssm-check': 'false',
      'visibility-timeout': '',
      ...raw,
    });
    const states = f.states ?? new Map<string, string>();
    const pings = f.pings ?? new Map<string, string>();
    const w = ssmFleet({ clients: t.ctx.clients, clock: t.runtime.clock, fleet, ...f, states, pings });
    w.ec2.on(CreateTagsCommand).resolves({});
    return { ...t, ...w, states, pings };
  }
  const installs = (ssm: ReturnType<typeof mockClient>) =>
    ssm
      .commandCalls(SendCommandCommand)
      .filter((c) => !String(c.args[0].input.Comment).includes('health'))
      .map((c) => c.args[0].input.InstanceIds as string[]);

  fault(
    'rollout: InvalidInstanceId for a terminated, an agent-lost and an unregistered id: the rest of the batch is sent, the gone one reported, the unreachable ones failed',
    async () => {
      const fleet = fleetOf(121);
      const [gone, lost, unregistered] = [fleet[5], fleet[60], fleet[110]];
      const { ctx, report, ssm, ec2, states, pings, commands } = world(fleet, {
        'batch-size': '120',
        'max-errors': '2',
      });
      // They change between discovery and the send (tagging is the last step before it).
      ec2.on(CreateTagsCommand).callsFake(() => {
        states.set(gone, 'terminated');
        pings.set(lost, 'ConnectionLost');
        pings.set(unregistered, 'absent');
        return {};
      });
      const outcome = await rollout(ctx);
      expect(outcome.verdict).toBe('pass');
      const sent = installs(ssm);
      // Each refused chunk once, then the chunk without its unreachable id: 3 + 3 sends.
      expect(sent.map((ids) => ids.length)).toEqual([50, 49, 50, 49, 20, 19]);
      // The accepted commands never name the three.
      const accepted = [...commands.values()].flatMap((c) => c.ids);
      for (const bad of [gone, lost, unregistered]) expect(accepted).not.toContain(bad);
      const r = published(report);
      expect(Object.values(r.instances).filter((e) => e.s === 'installed')).toHaveLength(118);
      expect(r.instances[gone]).toMatchObject({ s: 'cancelled', c: -1 });
      expect(r.instances[gone].e).toMatch(/^gone: not sent: instance is terminated/);
      expect(r.instances[lost]).toMatchObject({ s: 'failed', c: -1 });
      expect(r.instances[lost].e).toContain('SSM agent is ConnectionLost');
      expect(r.instances[unregistered].e).toContain('SSM agent is not registered');
    },
  );

  fault(
    'rollout: a command ends Success with one Undeliverable (terminated mid-install) and one Terminated invocation: neither is recorded installed',
    async () => {
      const fleet = fleetOf(4);
      const { ctx, report, states, commands } = world(
        fleet,
        { 'batch-size': '3', 'max-errors': '1' },
        { answer: (i) => (i === id(3) ? { status: 'Failed', details: 'Terminated', code: -1 } : SUCCESS) },
      );
      let terminated = false;
      ctx.runtime.sleep = ((orig) => async (ms: number) => {
        // Scale-in terminates id(2) while the install runs.
        if (!terminated && commands.size > 0) {
          states.set(id(2), 'terminated');
          terminated = true;
        }
        return orig(ms);
      })(ctx.runtime.sleep);
      const outcome = await rollout(ctx);
      const r = published(report);
      expect(r.instances[id(4)].s).toBe('installed');
      expect(r.instances[id(2)]).toMatchObject({ s: 'cancelled' });
      expect(r.instances[id(2)].e).toMatch(/gone: Undeliverable; instance is terminated/);
      expect(r.instances[id(3)]).toMatchObject({ s: 'failed' });
      expect(r.instances[id(3)].e).toContain('Terminated');
      expect(outcome.verdict).toBe('pass');
    },
  );

  fault(
    'rollout: ListCommands throttled for two whole poll rounds: the batch is followed to its end, not aborted',
    async () => {
      const fleet = fleetOf(101);
      // testContext's api tries 4 times: calls 1-8 are two rounds throttled throughout.
      const { ctx, runtime, ssm } = world(
        fleet,
        { 'batch-size': '100' },
        { throttleListCommands: new Set([1, 2, 3, 4, 5, 6, 7, 8]) },
      );
      const outcome = await rollout(ctx);
      expect(outcome.verdict).toBe('pass');
      expect(ssm.commandCalls(CancelCommandCommand)).toHaveLength(0);
      // A throttled round waits at least 10 s before the next, then 20 s.
      expect(runtime.clock.sleeps.filter((ms) => ms >= 10_000).slice(0, 2)).toEqual([10_000, 20_000]);
    },
  );

  fault(
    'rollout: SendCommand denied on the second chunk: the first chunk is followed to its end, the rest not sent, the rollout halts',
    async () => {
      const fleet = fleetOf(101);
      const { ctx, report, ssm } = world(fleet, { 'batch-size': '100', 'max-errors': '100' });
      let n = 0;
      ssm.on(SendCommandCommand).callsFake((input: SendCommandCommandInput) => {
        n++;
        if (n === 2)
          throw awsError('AccessDeniedException', 400, 'not authorized to perform ssm:SendCommand');
        return {
          Command: { CommandId: `cmd-denied-${n}`, Status: 'Pending', InstanceIds: input.InstanceIds },
        };
      });
      ssm.on(ListCommandsCommand).resolves({ Commands: [{ CommandId: 'cmd-denied-1', Status: 'Success' }] });
      ssm.on(ListCommandInvocationsCommand).callsFake((input: { CommandId: string }) => ({
        CommandInvocations:
          input.CommandId === 'cmd-denied-1'
            ? fleet.slice(1, 51).map((InstanceId) => ({
                InstanceId,
                Status: 'Success',
                StatusDetails: 'Success',
                CommandPlugins: [{ ResponseCode: 0, Output: '' }],
              }))
            : [],
      }));
      const outcome = await rollout(ctx);
      expect(outcome.verdict).toBe('fail');
      expect(outcome.failure).toMatch(
        /Rollout halted in batch 1 of 1: SendCommand failed \(.*not authorized/,
      );
      expect(ssm.commandCalls(ListCommandInvocationsCommand)[0].args[0].input.CommandId).toBe('cmd-denied-1');
      const r = published(report);
      expect(r.instances[fleet[1]].s).toBe('installed');
      expect(r.instances[fleet[60]]).toMatchObject({ s: 'cancelled', c: -1 });
      expect(r.instances[fleet[60]].e).toContain('not sent');
    },
  );

  fault(
    "rollout: install output cut at 2,500 characters: the failure keeps stderr's first line (Read-only file system)",
    async () => {
      const fleet = fleetOf(2);
      const { ctx, report } = world(
        fleet,
        { 'batch-size': '1' },
        {
          answer: () => ({
            status: 'Failed',
            details: 'Failed',
            code: 1,
            stdout: `EWD sha256_before=${'b'.repeat(64)}\n${'EWD journal=noise\n'.repeat(200)}`,
            stderr: `cp: cannot create regular file '/opt/file-processor/.worker.py.backup-partial.x': Read-only file system\n${'more\n'.repeat(400)}`,
          }),
        },
      );
      await rollout(ctx);
      const r = published(report);
      expect(r.instances[id(2)].s).toBe('failed');
      expect(r.instances[id(2)].e).toContain('Read-only file system');
    },
  );

  function rollbackWorld(fleet: string[], f: Omit<FleetOptions, 'clients' | 'clock'> = {}) {
    const rec = record(fleet, (r) => {
      for (const [k, i] of fleet.entries())
        r.instances[i] = { p: k === 0 ? 'c' : 'r', b: k, s: 'installed', c: -1 };
      r.settings.visibilityTimeout = { before: 300, after: 900, at: r.createdAt };
    });
    const t = testContext({ mode: 'rollback', record: JSON.stringify(rec) });
    const states = f.states ?? new Map<string, string>();
    const w = ssmFleet({
      clients: t.ctx.clients,
      clock: t.runtime.clock,
      fleet,
      tags: [
        { Key: TAG_DEPLOYMENT_ID, Value: DEP },
        { Key: TAG_BACKUP_PATH, Value: BACKUP },
      ],
      ...f,
      states,
    });
    const sqs = mockClient(t.ctx.clients.sqs);
    let vt = 900;
    sqs.on(GetQueueAttributesCommand).callsFake(() => ({ Attributes: { VisibilityTimeout: String(vt) } }));
    sqs.on(SetQueueAttributesCommand).callsFake((input: { Attributes: { VisibilityTimeout: string } }) => {
      vt = Number(input.Attributes.VisibilityTimeout);
      return {};
    });
    return { ...t, ...w, sqs, states, vt: () => vt };
  }

  fault(
    "rollback: SendCommand denied: every instance failed, and the queue's visibility timeout is still restored",
    async () => {
      const fleet = fleetOf(3);
      const { ctx, report, ssm, vt } = rollbackWorld(fleet);
      ssm
        .on(SendCommandCommand)
        .rejects(awsError('AccessDeniedException', 400, 'not authorized to perform ssm:SendCommand'));
      const outcome = await rollback(ctx);
      expect(outcome.verdict).toBe('fail');
      expect(outcome.failure).toContain('3 instance(s) could not be restored');
      expect(vt()).toBe(300);
      const r = published(report);
      expect(r.instances[id(2)]).toMatchObject({ rb: 'failed' });
      expect(r.instances[id(2)].re).toContain('restore not sent');
    },
  );

  fault(
    'rollback: InvalidInstanceId for an instance terminated since planning: it is gone, the others restored',
    async () => {
      const fleet = fleetOf(3);
      const { ctx, report, ssm, states, vt } = rollbackWorld(fleet);
      // Terminated after the plan read its state, before the restore is sent: SSM refuses the call.
      let first = true;
      ssm.on(SendCommandCommand).callsFake((input: SendCommandCommandInput) => {
        if (first) {
          first = false;
          states.set(id(2), 'terminated');
          throw awsError('InvalidInstanceId', 400, 'Instances not in a valid state for account');
        }
        return { Command: { CommandId: 'cmd-restore', Status: 'Pending', InstanceIds: input.InstanceIds } };
      });
      ssm.on(ListCommandsCommand).resolves({ Commands: [{ CommandId: 'cmd-restore', Status: 'Success' }] });
      ssm.on(ListCommandInvocationsCommand).resolves({
        CommandInvocations: [id(1), id(3)].map((InstanceId) => ({
          InstanceId,
          Status: 'Success',
          StatusDetails: 'Success',
          CommandPlugins: [{ ResponseCode: 0, Output: 'EWD restore=restored\n' }],
        })),
      });
      const outcome = await rollback(ctx);
      expect(outcome.verdict).toBe('pass');
      expect(ssm.commandCalls(SendCommandCommand).at(-1)?.args[0].input.InstanceIds).toEqual([id(1), id(3)]);
      const r = published(report);
      expect(r.instances[id(1)].rb).toBe('restored');
      expect(r.instances[id(3)].rb).toBe('restored');
      expect(r.instances[id(2)].re).toMatch(/^gone: terminated/);
      expect(vt()).toBe(300);
    },
  );

  fault(
    'canary: InvalidInstanceId (agent lost since it was picked): NO-GO naming why, nothing sent',
    async () => {
      const t = testContext({
        mode: 'canary',
        record: JSON.stringify(record([I1, id(2)])),
        artifact: ARTIFACT,
        'artifact-sha256': SHA,
        'ssm-check': 'false',
      });
      const pings = new Map<string, string>();
      const w = ssmFleet({ clients: t.ctx.clients, clock: t.runtime.clock, fleet: [I1, id(2)], pings });
      w.ec2.on(CreateTagsCommand).callsFake(() => {
        pings.set(I1, 'ConnectionLost');
        return {};
      });
      mockClient(t.ctx.clients.s3).on(HeadObjectCommand).resolves({ ContentLength: 100 });
      const outcome = await canary(t.ctx);
      expect(outcome.verdict).toBe('no-go');
      expect(outcome.failure).toContain(`${I1}: SSM agent is ConnectionLost`);
      expect(w.commands.size).toBe(0);
    },
  );
});

describe('the count', () => {
  it('RELIABILITY.md states how many faults are injected', () => {
    expect(FAULTS.length).toBeGreaterThan(100);
    expect(documentedCount('Faults injected')).toBe(FAULTS.length);
  });
});
