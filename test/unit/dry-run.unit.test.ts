// dry-run in every mode (and both rollout strategies), run through src/main.ts `run()` against a
// fake world on every AWS client: the call log of every mock holds only reads (Describe*, Get*,
// List*, Head*), the mode still walks its whole path (it reads what a real run would), and every
// read is one iam/policy.json grants to that mode.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODES, TAG_BACKUP_PATH, TAG_DEPLOYMENT_ID, type Mode } from '../../src/constants.js';
import { backupPathFor, type DeploymentRecord } from '../../src/record.js';
import { type RawInputs, runbookRecord } from '../support/context.js';
import { mainHarness, type ClientName } from '../support/main-harness.js';
import { documentedCount } from '../support/reliability-doc.js';
import { iamActionOf } from '../support/source-ops.js';
import { canaryInstalled } from '../support/records.js';
import { ec2Instance, instancesAnswer } from '../support/aws-stubs.js';

const DEP = 'dep-20261129t000000z-4242-1';
const QUEUE = 'file-processing-queue-production';
const ACCOUNT = '123456789012';
const QUEUE_URL = `https://sqs.ap-northeast-1.amazonaws.com/${ACCOUNT}/${QUEUE}`;
const DLQ_URL = `https://sqs.ap-northeast-1.amazonaws.com/${ACCOUNT}/cis-worker-failures`;
const FLEET = ['i-0000000000000000a', 'i-0000000000000000b', 'i-0000000000000000c', 'i-0000000000000000d'];
const SHA = 'c'.repeat(64);
const ARTIFACT = 's3://cis-deploy-artifacts/emergency-deploy/worker.py';
const LT_ID = 'lt-0123456789abcdef0';
const LT_NAME = 'cis-file-processor-lt';
const ASG = 'cis-file-processor-asg';

/** A read: the only kind of call a dry run may send. */
export const READ_ONLY = /^(Describe|Get|List|Head)/;

const PACKAGE_OF: Record<ClientName, string> = {
  sts: '@aws-sdk/client-sts',
  sqs: '@aws-sdk/client-sqs',
  s3: '@aws-sdk/client-s3',
  ec2: '@aws-sdk/client-ec2',
  ssm: '@aws-sdk/client-ssm',
  cloudwatch: '@aws-sdk/client-cloudwatch',
  autoscaling: '@aws-sdk/client-auto-scaling',
  sns: '@aws-sdk/client-sns',
  events: '@aws-sdk/client-eventbridge',
};

const policy = JSON.parse(readFileSync('iam/policy.json', 'utf8')) as {
  Statement: { Sid: string; Action: string | string[] }[];
};
function grantedTo(mode: Mode): Set<string> {
  const prefix = mode[0].toUpperCase() + mode.slice(1);
  return new Set(
    policy.Statement.filter((s) => s.Sid.startsWith(prefix)).flatMap((s) =>
      Array.isArray(s.Action) ? s.Action : [s.Action],
    ),
  );
}

/** The record a deployment has after its rollout: every kind of change rollback would undo. */
function deployedRecord(): DeploymentRecord {
  const r = runbookRecord(DEP);
  r.fleet = { filters: ['tag:Name=cis-file-processor'], instanceIds: FLEET, discoveredAt: r.createdAt };
  r.queue = {
    url: QUEUE_URL,
    name: QUEUE,
    arn: `arn:aws:sqs:ap-northeast-1:${ACCOUNT}:${QUEUE}`,
    visibilityTimeout: 300,
    dlqUrl: DLQ_URL,
  };
  r.metrics.before = { at: r.createdAt, visible: 100, inFlight: 10, delayed: 0, dlqVisible: 0, instances: 4 };
  r.artifact = { s3Uri: ARTIFACT, sha256: SHA, uploaded: false };
  r.canary = { instanceId: FLEET[0], verdict: 'go', reason: 'healthy', startedAt: r.createdAt };
  r.commands.push('cmd-canary', 'cmd-batch-1');
  r.instances[FLEET[0]] = canaryInstalled();
  r.instances[FLEET[1]] = { p: 'r', b: 1, s: 'installed', c: 1 };
  r.settings.visibilityTimeout = { before: 300, after: 900, at: r.createdAt };
  r.settings.launchTemplate = { id: LT_ID, name: LT_NAME, previousDefault: 3, newVersion: 4 };
  r.settings.refresh = { id: 'refresh-1', asgName: ASG, status: 'InProgress' };
  return r;
}

/** The preflight record a canary starts from. */
function preflightRecord(): DeploymentRecord {
  const r = deployedRecord();
  delete r.artifact;
  delete r.canary;
  r.commands = [];
  r.instances = {};
  r.settings = {};
  return r;
}

/** After a pinned group's successful refresh: the group named version 2, the refresh left it on 4. */
function pinnedGroupRecord(): DeploymentRecord {
  const r = deployedRecord();
  r.settings.refresh = { id: 'refresh-1', asgName: ASG, status: 'Successful' };
  r.extra.rolloutAsg = { groupVersion: '2' };
  return r;
}

/**
 * Answers every read the modes make; anything else (a change) answers {} so it shows in the log.
 * `groupVersion` is the launch template version the group names.
 */
function fakeWorld(h: ReturnType<typeof mainHarness>, groupVersion = '$Default') {
  const m = h.mocks;
  let reads = 0;
  for (const stub of Object.values(m)) stub.onAnyCommand().resolves({});
  m.sts.onAnyCommand().resolves({ Account: ACCOUNT, Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/deploy/gha` });
  m.sqs
    .onAnyCommand()
    .callsFake((input: { QueueName?: string; QueueUrl?: string; AttributeNames?: string[] }) => {
      if (input.QueueName) return { QueueUrl: input.QueueName === QUEUE ? QUEUE_URL : DLQ_URL };
      if (input.AttributeNames) {
        const isDlq = input.QueueUrl === DLQ_URL;
        return {
          Attributes: {
            QueueArn: `arn:aws:sqs:ap-northeast-1:${ACCOUNT}:${isDlq ? 'cis-worker-failures' : QUEUE}`,
            // The queue drains as it is read: verify judges a working fix.
            ApproximateNumberOfMessages: isDlq ? '0' : String(Math.max(0, 40 - 15 * reads++)),
            ApproximateNumberOfMessagesNotVisible: '2',
            ApproximateNumberOfMessagesDelayed: '0',
            VisibilityTimeout: '900',
            ...(isDlq
              ? {}
              : {
                  RedrivePolicy: JSON.stringify({
                    deadLetterTargetArn: `arn:aws:sqs:ap-northeast-1:${ACCOUNT}:cis-worker-failures`,
                    maxReceiveCount: 3,
                  }),
                }),
          },
        };
      }
      return {};
    });
  m.s3
    .onAnyCommand()
    .callsFake((input: { Key?: string; Body?: unknown }) =>
      input.Key && input.Body === undefined ? { ContentLength: 100, Metadata: { sha256: SHA } } : {},
    );
  // Tagged by the deployment, as the install leaves each instance.
  const instance = (id: string) =>
    ec2Instance(id, 'running', {
      Tags: [
        { Key: 'Name', Value: 'cis-file-processor' },
        { Key: TAG_DEPLOYMENT_ID, Value: DEP },
        { Key: TAG_BACKUP_PATH, Value: backupPathFor('/opt/file-processor', 'worker.py', DEP) },
      ],
    });
  m.ec2
    .onAnyCommand()
    .callsFake(
      (input: {
        Filters?: unknown;
        LaunchTemplateNames?: string[];
        Owners?: string[];
        ImageIds?: string[];
      }) => {
        if (input.LaunchTemplateNames) {
          return {
            LaunchTemplates: [
              {
                LaunchTemplateId: LT_ID,
                LaunchTemplateName: LT_NAME,
                DefaultVersionNumber: 4,
                LatestVersionNumber: 4,
              },
            ],
          };
        }
        if (input.Owners || input.ImageIds) return { Images: [] };
        if (input.Filters) return instancesAnswer(FLEET.map(instance));
        return {};
      },
    );
  m.ssm.onAnyCommand().callsFake((input: { Filters?: { Values: string[] }[] }) =>
    input.Filters
      ? {
          InstanceInformationList: input.Filters[0].Values.map((id) => ({
            InstanceId: id,
            PingStatus: 'Online',
          })),
        }
      : {},
  );
  m.autoscaling
    .onAnyCommand()
    .callsFake((input: { AutoScalingGroupNames?: string[]; InstanceRefreshIds?: string[] }) => {
      if (input.AutoScalingGroupNames) {
        return {
          AutoScalingGroups: [
            {
              AutoScalingGroupName: ASG,
              DesiredCapacity: 4,
              Instances: FLEET.map((InstanceId) => ({ InstanceId })),
              LaunchTemplate: { LaunchTemplateId: LT_ID, LaunchTemplateName: LT_NAME, Version: groupVersion },
            },
          ],
        };
      }
      if (input.InstanceRefreshIds) {
        return {
          InstanceRefreshes: [
            { InstanceRefreshId: input.InstanceRefreshIds[0], Status: 'InProgress', PercentageComplete: 50 },
          ],
        };
      }
      return {};
    });
  m.cloudwatch.onAnyCommand().resolves({ MetricDataResults: [] });
}

function workspaceWithWorker(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dry-run-ws-'));
  writeFileSync(join(dir, 'worker.py'), 'print("fixed")\n');
  return dir;
}

interface DryRunCase {
  name: string;
  mode: Mode;
  raw: RawInputs;
  env?: NodeJS.ProcessEnv;
  /** reads the path must make, proving it was walked and not cut short */
  reads: string[];
  /** the launch template version the Auto Scaling group names (default $Default) */
  groupVersion?: string;
  /** what the summary must say it would do */
  says?: string[];
}

const CASES: DryRunCase[] = [
  {
    name: 'preflight',
    mode: 'preflight',
    raw: { 'queue-name': QUEUE, bucket: 'cis-filesearch-storage-production' },
    reads: [
      'GetCallerIdentity',
      'GetQueueAttributes',
      'GetBucketNotificationConfiguration',
      'DescribeInstances',
      'DescribeInstanceInformation',
    ],
  },
  {
    name: 'canary, s3:// artifact',
    mode: 'canary',
    raw: { record: JSON.stringify(preflightRecord()), artifact: ARTIFACT, 'artifact-sha256': SHA },
    reads: ['DescribeInstances', 'DescribeInstanceInformation', 'HeadObject'],
  },
  {
    name: 'canary, workspace artifact (not uploaded)',
    mode: 'canary',
    raw: {
      record: JSON.stringify(preflightRecord()),
      artifact: 'worker.py',
      'artifact-bucket': 'cis-deploy-artifacts',
    },
    env: { GITHUB_WORKSPACE: workspaceWithWorker() },
    reads: ['DescribeInstances', 'DescribeInstanceInformation'],
  },
  {
    name: 'rollout, strategy ssm, with the visibility timeout',
    mode: 'rollout',
    raw: { record: JSON.stringify(deployedRecord()), 'batch-size': '1', 'visibility-timeout': '900' },
    reads: ['GetQueueAttributes', 'DescribeInstances', 'DescribeInstanceInformation'],
  },
  {
    name: 'rollout, strategy asg',
    mode: 'rollout',
    raw: {
      record: JSON.stringify({ ...deployedRecord(), settings: {} }),
      strategy: 'asg',
      'asg-name': ASG,
      'launch-template-name': LT_NAME,
      'visibility-timeout': '900',
    },
    reads: ['DescribeAutoScalingGroups', 'DescribeLaunchTemplates', 'GetQueueAttributes'],
  },
  {
    name: 'verify, with the service check on',
    mode: 'verify',
    raw: {
      // Verify judges every running instance on the fix: here the rollout has installed on all four.
      record: JSON.stringify(
        (() => {
          const r = deployedRecord();
          for (const id of FLEET.slice(2)) r.instances[id] = { p: 'r', b: 2, s: 'installed', c: 1 };
          return r;
        })(),
      ),
      'verify-minutes': '1',
      'sample-seconds': '30',
      'check-services': 'true',
    },
    reads: ['GetQueueAttributes', 'DescribeInstances', 'GetMetricData'],
  },
  {
    name: 'rollback from a record (instances, template, refresh, queue)',
    mode: 'rollback',
    raw: { record: JSON.stringify(deployedRecord()) },
    reads: [
      'DescribeInstances',
      'DescribeAutoScalingGroups',
      'DescribeLaunchTemplates',
      'DescribeInstanceRefreshes',
      'GetQueueAttributes',
    ],
  },
  {
    name: 'rollback of a group the refresh left pinned to the new launch template version',
    mode: 'rollback',
    raw: { record: JSON.stringify(pinnedGroupRecord()) },
    groupVersion: '4',
    reads: ['DescribeInstances', 'DescribeAutoScalingGroups', 'DescribeLaunchTemplates'],
    says: [`| Auto Scaling group ${ASG} launch template version | 2 | 4 | 4 | would restore |`],
  },
  {
    // The world's DLQ is empty, so the review reads its depth and receives nothing; the review's
    // ReceiveMessage (messages come back after a short visibility timeout) is shown in
    // test/unit/redrive.unit.test.ts and test/emulator/redrive.int.test.ts.
    name: 'redrive: review only',
    mode: 'redrive',
    raw: { record: JSON.stringify(deployedRecord()) },
    reads: ['GetQueueAttributes'],
  },
  {
    name: 'rollback from the deployment tags alone',
    mode: 'rollback',
    raw: { 'deployment-id': DEP },
    reads: ['DescribeInstances'],
  },
];

describe('dry-run sends no mutating call', () => {
  it('covers every mode, and RELIABILITY.md states how many dry runs are checked', () => {
    expect(new Set(CASES.map((c) => c.mode))).toEqual(new Set(MODES));
    expect(documentedCount('Dry runs checked (every mode, both strategies)')).toBe(CASES.length);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const h = mainHarness(
      { region: 'ap-northeast-1', mode: c.mode, 'dry-run': 'true', ...c.raw },
      { env: c.env },
    );
    fakeWorld(h, c.groupVersion);
    const outcome = await h.go();
    expect(h.failures).toEqual([]);
    expect(outcome?.verdict).toBe('pass');
    const calls = h.calls();
    const operations = calls.map((x) => x.operation);
    // Mutating = anything that is not a read, on any client.
    expect(calls.filter((x) => !READ_ONLY.test(x.operation))).toEqual([]);
    expect(operations).toEqual(expect.arrayContaining(c.reads));
    for (const line of c.says ?? []) expect(h.summaries.join('\n')).toContain(line);
    // Every read is granted to this mode by the policy.
    const granted = grantedTo(c.mode);
    const iam = [...new Set(calls.map((x) => iamActionOf(PACKAGE_OF[x.client], `${x.operation}Command`)))];
    expect(iam.filter((a) => !granted.has(a))).toEqual([]);
    expect(h.report.lines).toContain('dry-run: nothing will be changed');
    // The record says it was a dry run.
    const record = JSON.parse(h.report.outputs.record ?? '{}') as DeploymentRecord;
    expect(record.phases.find((p) => p.mode === c.mode)?.dryRun).toBe(true);
  });
});
