import {
  CancelInstanceRefreshCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  RollbackInstanceRefreshCommand,
  StartInstanceRefreshCommand,
  UpdateAutoScalingGroupCommand,
  type StartInstanceRefreshCommandInput,
  type UpdateAutoScalingGroupCommandInput,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  ModifyLaunchTemplateCommand,
  type Filter,
  type InstanceStateName,
} from '@aws-sdk/client-ec2';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import {
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  type SendCommandCommandInput,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { TAG_BACKUP_PATH, TAG_DEPLOYMENT_ID } from '../../src/constants.js';
import { findInstancesTaggedFor } from '../../src/aws/ec2.js';
import { groupVersionDecision, recordedGroupVersion } from '../../src/logic/rollback-plan.js';
import { rollback } from '../../src/modes/rollback.js';
import {
  backupPathFor,
  newRecord,
  serializeRecord,
  type DeploymentRecord,
  type InstanceEntry,
  type RecordExtra,
} from '../../src/record.js';
import { ScriptExit } from '../../src/remote/scripts.js';
import { awsError, TEST_GITHUB, testContext, type RawInputs } from '../support/context.js';
import { ec2Instance, matchesFilters } from '../support/aws-stubs.js';
import { canaryInstalled, launchTemplateChange, refreshChange } from '../support/records.js';

const DEP = 'dep-20261129t000000z-4242-1';
const BACKUP = backupPathFor('/opt/file-processor', 'worker.py', DEP);
const QUEUE_URL = 'https://sqs.ap-northeast-1.amazonaws.com/123456789012/file-processing-queue-production';
const A = 'i-0000000000000000a';
const B = 'i-0000000000000000b';
const C = 'i-0000000000000000c';
const D = 'i-0000000000000000d';
const E = 'i-0000000000000000e';

/** One worker as the fake fleet sees it: its EC2 state and tags, and what is on its disk. */
interface FakeInstance {
  state: string;
  tags: Record<string, string>;
  /** which worker file is in place */
  file: 'new' | 'old';
  backup: boolean;
  /** the restored copy comes out different from the backup (a disk problem) */
  corrupt?: boolean;
  /** its SSM agent is lost: running, but SSM cannot deliver (Delivery Timed Out) */
  agentLost?: boolean;
}

interface Invocation {
  code: number;
  stdout: string;
  details: string;
}

/**
 * A fake AWS behind aws-sdk-client-mock: EC2 pages through its instances, SSM runs the restore
 * against each instance's disk, SQS keeps the visibility timeout, Auto Scaling one refresh.
 */
class FakeWorld {
  instances = new Map<string, FakeInstance>();
  visibilityTimeout = 900;
  ltDefault = 4;
  refreshStatus = 'InProgress';
  refreshIrreversible = false;
  /** RollbackInstanceRefresh refused for want of permission (the refresh goes on). */
  refreshRollbackDenied = false;
  groupIds: string[] = [];
  /** The launch template the group names, when it names one. */
  groupTemplate?: { version: string; mixed?: boolean; overrides?: { InstanceType: string }[] };
  /** The launch template version each member reports (API_Instance LaunchTemplate.Version). */
  memberVersions = new Map<string, string>();
  /**
   * Rollback and cancel are asynchronous: the status read right after the call is
   * RollbackInProgress / Cancelling, the next one RollbackSuccessful / Cancelled (DescribeInstanceRefreshes).
   */
  settles = true;
  /** Statuses, in order, of a refresh rollback starts (the refresh back to the previous version). */
  backStatuses = ['Pending', 'InProgress', 'Successful'];
  backReads = 0;
  startRefreshes: StartInstanceRefreshCommandInput[] = [];
  /** UpdateAutoScalingGroup refused (AccessDenied), or accepted without taking effect */
  groupUpdate: 'ok' | 'denied' | 'ignored' = 'ok';
  /** every AWS change, in order, to check what rollback undoes first */
  changes: string[] = [];
  commands = new Map<string, { ids: string[]; results: Map<string, Invocation> }>();
  scripts: string[] = [];
  /** SetQueueAttributes that does not take (read back still differs) */
  sticky = false;
  /** reads of the old value left after SetQueueAttributes (SQS propagates changes within 60 s) */
  propagationReads = 0;
  staleValue?: number;
  /** the queue's tags (ListQueueTags) */
  queueTags: Record<string, string> = {};
  /** DescribeInstances page size (small, so paging is exercised) */
  pageSize = 2;

  add(id: string, init: Partial<FakeInstance> = {}, tagged = true): void {
    this.instances.set(id, {
      state: 'running',
      file: 'new',
      backup: true,
      tags: tagged ? { Name: 'cis-file-processor', [TAG_DEPLOYMENT_ID]: DEP, [TAG_BACKUP_PATH]: BACKUP } : {},
      ...init,
    });
  }

  restore(id: string, script = ''): Invocation {
    const i = this.instances.get(id);
    if (!i || i.state !== 'running')
      return { code: -1, stdout: '', details: i ? 'Undeliverable' : 'Undeliverable' };
    // A running instance whose agent is gone: the invocation ends DeliveryTimedOut with status
    // details "Delivery Timed Out" (API_CommandInvocation StatusDetails).
    if (i.agentLost) return { code: -1, stdout: '', details: 'Delivery Timed Out' };
    // As the restore script decides it (run for real in scripts-bash.unit.test.ts): without a
    // backup, a file that is not the artifact was never changed.
    const artifactKnown = /artifact_sha='[0-9a-f]{64}'/.test(script);
    if (!i.backup && artifactKnown && i.file === 'old') {
      return { code: ScriptExit.Untouched, stdout: 'EWD restore=untouched\n', details: 'Failed' };
    }
    if (!i.backup && artifactKnown) {
      return {
        code: ScriptExit.BackupMissing,
        stdout: `EWD restore=missing\nEWD error=backup missing: /opt/file-processor/worker.py is the artifact but ${BACKUP} is not on this instance\n`,
        details: 'Failed',
      };
    }
    if (!i.backup) {
      return {
        code: ScriptExit.BackupMissing,
        stdout: `EWD restore=missing\nEWD error=backup missing: ${BACKUP} is not on this instance\n`,
        details: 'Failed',
      };
    }
    if (i.corrupt) {
      return {
        code: ScriptExit.BackupFailed,
        stdout: `EWD error=/opt/file-processor/worker.py differs from ${BACKUP} after the restore <script>|\n`,
        details: 'Failed',
      };
    }
    if (i.file === 'old')
      return { code: 0, stdout: 'EWD restore=already\nEWD service=active\n', details: 'Success' };
    i.file = 'old';
    return { code: 0, stdout: 'EWD restore=restored\nEWD service=active\n', details: 'Success' };
  }

  /** The instances DescribeInstances would list for these filters, as EC2 applies them. */
  describe(filters: Filter[]) {
    return [...this.instances.entries()]
      .map(([id, i]) =>
        ec2Instance(id, i.state as InstanceStateName, {
          Tags: Object.entries(i.tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      )
      .filter((i) => matchesFilters(i, filters));
  }
}

function baseRecord(instances: Record<string, InstanceEntry>): DeploymentRecord {
  const r = newRecord({
    deploymentId: DEP,
    now: new Date('2026-11-28T23:00:00Z'),
    region: 'ap-northeast-1',
    github: TEST_GITHUB,
    serviceName: 'file-processor',
    workerDir: '/opt/file-processor',
    targetFile: 'worker.py',
  });
  r.instances = instances;
  r.commands = ['cmd-install-0', 'cmd-install-1'];
  r.queue = {
    url: QUEUE_URL,
    name: 'file-processing-queue-production',
    arn: 'arn:aws:sqs:ap-northeast-1:123456789012:file-processing-queue-production',
    visibilityTimeout: 300,
  };
  r.settings.visibilityTimeout = { before: 300, after: 900, at: '2026-11-28T23:30:00Z' };
  r.phases.push({ mode: 'canary', startedAt: 'a', endedAt: 'b', verdict: 'go', reason: 'healthy' });
  r.phases.push({
    mode: 'rollout',
    startedAt: 'c',
    endedAt: 'd',
    verdict: 'pass',
    reason: 'all batches healthy',
  });
  return r;
}

const FULL: Record<string, InstanceEntry> = {
  [A]: canaryInstalled(),
  [B]: { p: 'r', b: 1, s: 'installed', c: 1 },
  // sent: the install went out and its result was never written; it may have replaced the file
  [C]: { p: 'r', b: 1, s: 'sent', c: 1 },
};

function setup(world: FakeWorld, raw: RawInputs) {
  const t = testContext({ mode: 'rollback', 'ssm-check': 'false', ...raw });
  const ec2 = mockClient(t.ctx.clients.ec2);
  const ssm = mockClient(t.ctx.clients.ssm);
  const sqs = mockClient(t.ctx.clients.sqs);
  const asg = mockClient(t.ctx.clients.autoscaling);

  // Two instances a page, one reservation per instance: every page and reservation must be read.
  ec2.on(DescribeInstancesCommand).callsFake((input: { Filters?: Filter[]; NextToken?: string }) => {
    const all = world.describe(input.Filters ?? []);
    const start = Number(input.NextToken ?? '0');
    const page = all.slice(start, start + world.pageSize);
    return {
      Reservations: page.map((i) => ({ Instances: [i] })),
      NextToken: start + world.pageSize < all.length ? String(start + world.pageSize) : undefined,
    };
  });
  ec2.on(DescribeLaunchTemplatesCommand).callsFake(() => ({
    LaunchTemplates: [
      {
        LaunchTemplateId: 'lt-0123456789abcdef0',
        LaunchTemplateName: 'cis-file-processor-lt',
        DefaultVersionNumber: world.ltDefault,
        LatestVersionNumber: 4,
      },
    ],
  }));
  ec2.on(ModifyLaunchTemplateCommand).callsFake((input: { DefaultVersion?: string }) => {
    world.ltDefault = Number(input.DefaultVersion);
    return {};
  });

  let n = 0;
  ssm.on(SendCommandCommand).callsFake((input: SendCommandCommandInput) => {
    const id = `cmd-rollback-${n++}`;
    world.changes.push('restore sent');
    const ids = input.InstanceIds ?? [];
    const script = input.Parameters?.commands?.[0] ?? '';
    world.scripts.push(script);
    world.commands.set(id, { ids, results: new Map(ids.map((i) => [i, world.restore(i, script)])) });
    return { Command: { CommandId: id } };
  });
  ssm.on(ListCommandsCommand).callsFake((input: { CommandId: string }) => {
    const c = world.commands.get(input.CommandId);
    const errors = [...(c?.results.values() ?? [])].filter((r) => r.code !== 0).length;
    return {
      Commands: [
        {
          CommandId: input.CommandId,
          Status: errors > 0 ? 'Failed' : 'Success',
          TargetCount: c?.ids.length,
          CompletedCount: c?.ids.length,
          ErrorCount: errors,
          DeliveryTimedOutCount: 0,
        },
      ],
    };
  });
  ssm.on(ListCommandInvocationsCommand).callsFake((input: { CommandId: string }) => {
    const c = world.commands.get(input.CommandId);
    return {
      CommandInvocations: [...(c?.results.entries() ?? [])].map(([id, r]) => ({
        InstanceId: id,
        Status: r.code === 0 ? 'Success' : 'Failed',
        StatusDetails: r.details,
        CommandPlugins: [{ ResponseCode: r.code, Output: r.stdout }],
      })),
    };
  });

  sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: QUEUE_URL });
  sqs.on(GetQueueAttributesCommand).callsFake(() => {
    let shown = world.visibilityTimeout;
    if (world.propagationReads > 0 && world.staleValue !== undefined) {
      world.propagationReads--;
      shown = world.staleValue;
    }
    return {
      Attributes: {
        QueueArn: 'arn:aws:sqs:ap-northeast-1:123456789012:file-processing-queue-production',
        VisibilityTimeout: String(shown),
        ApproximateNumberOfMessages: '10',
      },
    };
  });
  sqs.on(SetQueueAttributesCommand).callsFake((input: { Attributes?: Record<string, string> }) => {
    world.staleValue = world.visibilityTimeout;
    if (!world.sticky) world.visibilityTimeout = Number(input.Attributes?.VisibilityTimeout);
    return {};
  });
  // ListQueueTags answers {"Tags": {key: value}} (API_ListQueueTags).
  sqs.on(ListQueueTagsCommand).callsFake(() => ({ Tags: { ...world.queueTags } }));

  asg.on(DescribeAutoScalingGroupsCommand).callsFake(() => {
    const gt = world.groupTemplate;
    const spec = gt && {
      LaunchTemplateId: 'lt-0123456789abcdef0',
      LaunchTemplateName: 'cis-file-processor-lt',
      Version: gt.version,
    };
    return {
      AutoScalingGroups: [
        {
          AutoScalingGroupName: 'cis-workers',
          DesiredCapacity: world.groupIds.length,
          Instances: world.groupIds.map((InstanceId) => ({
            InstanceId,
            LaunchTemplate: world.memberVersions.has(InstanceId)
              ? {
                  LaunchTemplateId: 'lt-0123456789abcdef0',
                  LaunchTemplateName: 'cis-file-processor-lt',
                  Version: world.memberVersions.get(InstanceId),
                }
              : undefined,
          })),
          LaunchTemplate: gt && !gt.mixed ? spec : undefined,
          MixedInstancesPolicy: gt?.mixed
            ? {
                LaunchTemplate: { LaunchTemplateSpecification: spec, Overrides: gt.overrides },
                InstancesDistribution: { OnDemandBaseCapacity: 1 },
              }
            : undefined,
        },
      ],
    };
  });
  asg.on(UpdateAutoScalingGroupCommand).callsFake((input: UpdateAutoScalingGroupCommandInput) => {
    if (world.groupUpdate === 'denied')
      throw awsError('AccessDenied', 403, 'User is not authorized to perform this operation');
    const version =
      input.LaunchTemplate?.Version ??
      input.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification?.Version;
    world.changes.push(`group version ${version}`);
    if (world.groupUpdate === 'ok' && world.groupTemplate && version) world.groupTemplate.version = version;
    return {};
  });
  asg.on(DescribeInstanceRefreshesCommand).callsFake((input: { InstanceRefreshIds?: string[] }) => {
    if (input.InstanceRefreshIds?.[0] === 'refresh-back-1') {
      const Status = world.backStatuses[Math.min(world.backReads++, world.backStatuses.length - 1)];
      return { InstanceRefreshes: [{ InstanceRefreshId: 'refresh-back-1', Status }] };
    }
    const Status = world.refreshStatus;
    if (world.settles && Status === 'RollbackInProgress') world.refreshStatus = 'RollbackSuccessful';
    if (world.settles && Status === 'Cancelling') world.refreshStatus = 'Cancelled';
    return {
      InstanceRefreshes: [{ InstanceRefreshId: 'refresh-1', Status, PercentageComplete: 40 }],
    };
  });
  asg.on(StartInstanceRefreshCommand).callsFake((input: StartInstanceRefreshCommandInput) => {
    world.startRefreshes.push(input);
    world.changes.push('refresh back started');
    return { InstanceRefreshId: 'refresh-back-1' };
  });
  asg.on(RollbackInstanceRefreshCommand).callsFake(() => {
    if (world.refreshIrreversible)
      throw awsError('IrreversibleInstanceRefreshFault', 400, 'no desired configuration');
    if (world.refreshRollbackDenied)
      throw awsError('AccessDenied', 403, 'User is not authorized to perform this operation');
    world.refreshStatus = 'RollbackInProgress';
    return { InstanceRefreshId: 'refresh-1' };
  });
  asg.on(CancelInstanceRefreshCommand).callsFake(() => {
    world.refreshStatus = 'Cancelling';
    return { InstanceRefreshId: 'refresh-1' };
  });
  return { ...t, ec2, ssm, sqs, asg };
}

/** The record as the last write published it (the `record` output). */
function parseRecordOutput(report: { outputs: Record<string, string | undefined> }): DeploymentRecord {
  return JSON.parse(report.outputs.record ?? '{}') as DeploymentRecord;
}

function withRecord(record: DeploymentRecord, extra: RawInputs = {}): RawInputs {
  return { record: JSON.stringify(record), ...extra };
}

function fleetOf(...ids: string[]): FakeWorld {
  const w = new FakeWorld();
  for (const id of ids) w.add(id);
  return w;
}

describe('rollback mode', () => {
  it('restores every instance of a full record from its exact backup and puts the visibility timeout back', async () => {
    const world = fleetOf(A, B, C);
    world.add(D, {}, false); // not part of this deployment: never touched
    const { ctx, ssm, sqs } = setup(world, withRecord(baseRecord(FULL)));
    const out = await rollback(ctx);

    expect(out.verdict).toBe('pass');
    expect(out.failure).toBeUndefined();
    const sent = ssm.commandCalls(SendCommandCommand);
    expect(sent).toHaveLength(1);
    expect(sent[0].args[0].input.InstanceIds).toEqual([A, B, C]);
    // One instance's failure must not stop SSM from running the others.
    expect(sent[0].args[0].input.MaxErrors).toBe('100%');
    expect(world.scripts[0]).toContain(`backup='${BACKUP}'`);
    expect(world.scripts[0]).not.toMatch(/backup\.\*/);
    for (const id of [A, B, C]) {
      expect(world.instances.get(id)?.file).toBe('old');
      expect(out.record.instances[id]).toMatchObject({ rb: 'restored' });
    }
    expect(world.instances.get(D)?.file).toBe('new');
    expect(world.visibilityTimeout).toBe(300);
    expect(sqs.commandCalls(SetQueueAttributesCommand)[0].args[0].input).toEqual({
      QueueUrl: QUEUE_URL,
      Attributes: { VisibilityTimeout: '300' },
    });
    expect(out.summary).toContain('**Rollback Required: YES**');
    expect(out.summary).toContain('3 restored, 0 already at the backup, 0 failed, 0 gone');
    expect(out.summary).toMatch(/queue visibility timeout \(s\) \| 300 \| 900 \| 300 \| restored/);
    expect(out.record.phases.at(-1)).toMatchObject({ mode: 'rollback', verdict: 'pass' });
    expect((out.record.extra.rollbackCommands as string[]).length).toBe(1);
    // Install history stays as it was.
    expect(out.record.instances[C].s).toBe('sent');
    // Rollback ran last, so its after notification is the one to send: rolled back, with figures.
    const after = out.outputs?.['notification-after'] ?? '';
    expect(after).toContain('- Rollback: yes');
    expect(after).toContain('Servers returned to their previous state: 3');
    expect(after).not.toContain('- Rollback: no');
    expect(out.summary).toContain('**After the work**');
  });

  it('adds the instances a partial record lacks from their deployment tags', async () => {
    const world = fleetOf(A, B, C, E);
    const partial = baseRecord({ [A]: canaryInstalled() });
    const { ctx, ssm } = setup(world, withRecord(partial));
    const out = await rollback(ctx);

    expect(out.verdict).toBe('pass');
    expect(ssm.commandCalls(SendCommandCommand)[0].args[0].input.InstanceIds).toEqual([A, B, C, E]);
    for (const id of [B, C, E]) {
      expect(out.record.instances[id]).toMatchObject({ p: 'r', b: -1, s: 'sent', c: -1, rb: 'restored' });
    }
    expect(out.summary).toContain('missing from the record');
    expect(out.record.warnings.join(' ')).toMatch(/3 instance\(s\) are tagged/);
  });

  it('without a record, rolls back the deployment its tags name, and leaves the queue alone', async () => {
    const world = fleetOf(A, B);
    world.add(C, { state: 'stopped' });
    world.add(D, { state: 'terminated' });
    world.instances.get(B)!.tags[TAG_BACKUP_PATH] = '/opt/file-processor/worker.py.backup.*';
    const { ctx, ssm, sqs } = setup(world, { 'deployment-id': DEP });
    const out = await rollback(ctx);

    expect(ssm.commandCalls(SendCommandCommand)[0].args[0].input.InstanceIds).toEqual([A]);
    expect(world.instances.get(A)?.file).toBe('old');
    expect(world.instances.get(B)?.file).toBe('new');
    expect(out.record.deploymentId).toBe(DEP);
    expect(out.record.instances[A].rb).toBe('restored');
    // A glob in a tag is refused, and a stopped instance still holds the new file: both fail.
    expect(out.record.instances[B]).toMatchObject({ rb: 'failed' });
    expect(out.record.instances[C]).toMatchObject({ rb: 'failed' });
    // Terminated instances are not found by the tag search (any state but terminated).
    expect(out.record.instances[D]).toBeUndefined();
    expect(out.verdict).toBe('fail');
    expect(out.failure).toMatch(/2 instance\(s\) could not be restored/);
    expect(sqs.commandCalls(SetQueueAttributesCommand)).toHaveLength(0);
    expect(out.summary).toMatch(/not known without a record/);
  });

  it('needs a deployment id when there is no record, and fails when nothing carries its tag', async () => {
    const world = fleetOf(A);
    await expect(rollback(setup(world, {}).ctx)).rejects.toThrow(/'deployment-id' is required/);
    const out = await rollback(setup(world, { 'deployment-id': 'dep-unknown-1' }).ctx);
    expect(out.verdict).toBe('fail');
    expect(out.failure).toMatch(/no instance is tagged .*dep-unknown-1/);
  });

  it('fails clearly for the instance whose backup is missing and still restores the others', async () => {
    const world = fleetOf(A, B, C);
    world.instances.get(B)!.backup = false;
    const { ctx } = setup(world, withRecord(baseRecord(FULL)));
    const out = await rollback(ctx);

    expect(out.verdict).toBe('fail');
    expect(world.instances.get(A)?.file).toBe('old');
    expect(world.instances.get(C)?.file).toBe('old');
    expect(out.record.instances[A].rb).toBe('restored');
    expect(out.record.instances[C].rb).toBe('restored');
    expect(out.record.instances[B].rb).toBe('failed');
    expect(out.record.instances[B].re).toMatch(/^backup \/opt\/file-processor\/worker\.py\.backup\.dep-/);
    expect(out.failure).toContain(`${B} (backup ${BACKUP} is missing on the instance`);
    // The settings are restored even though an instance failed.
    expect(world.visibilityTimeout).toBe(300);
  });

  it('fails an instance whose restored file does not match its backup, escaping what it printed', async () => {
    const world = fleetOf(A, B, C);
    world.instances.get(C)!.corrupt = true;
    const { ctx } = setup(world, withRecord(baseRecord(FULL)));
    const out = await rollback(ctx);

    expect(out.verdict).toBe('fail');
    expect(out.record.instances[C]).toMatchObject({ rb: 'failed' });
    expect(out.record.instances[C].re).toMatch(/differs from/);
    expect(out.record.instances[A].rb).toBe('restored');
    expect(out.summary).toContain('&lt;script&gt;&#124;');
    expect(out.summary).not.toContain('<script>');
    // Failures lead the table.
    const rows = out.summary.split('\n').filter((l) => l.startsWith('| i-'));
    expect(rows[0]).toContain(C);
  });

  it('is idempotent: a second run finds every instance and setting already restored and passes', async () => {
    const world = fleetOf(A, B, C);
    const first = await rollback(setup(world, withRecord(baseRecord(FULL))).ctx);
    expect(first.verdict).toBe('pass');
    const { ctx, sqs } = setup(world, withRecord(first.record));
    const second = await rollback(ctx);

    expect(second.verdict).toBe('pass');
    for (const id of [A, B, C]) expect(second.record.instances[id].rb).toBe('already');
    expect(second.summary).toContain('0 restored, 3 already at the backup, 0 failed, 0 gone');
    expect(sqs.commandCalls(SetQueueAttributesCommand)).toHaveLength(0);
    expect(second.summary).toMatch(/queue visibility timeout \(s\) \| 300 \| 900 \| 300 \| already/);
  });

  it('reverts an asg rollout: launch template default, refresh rolled back by Auto Scaling, only the canary restored over SSM', async () => {
    const world = fleetOf(A);
    world.add(D, {}, false); // launched by the refresh from the image with the fix
    world.add(E, { backup: false, file: 'old' }, false); // launched from the previous image
    world.groupIds = [D, E];
    const rec = baseRecord({ [A]: canaryInstalled() });
    rec.settings.launchTemplate = launchTemplateChange();
    rec.settings.refresh = refreshChange('InProgress');
    const { ctx, ec2, asg, ssm } = setup(world, withRecord(rec));
    const out = await rollback(ctx);

    expect(out.verdict).toBe('pass');
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)[0].args[0].input).toEqual({
      LaunchTemplateId: 'lt-0123456789abcdef0',
      DefaultVersion: '3',
    });
    expect(world.ltDefault).toBe(3);
    expect(asg.commandCalls(RollbackInstanceRefreshCommand)).toHaveLength(1);
    expect(asg.commandCalls(CancelInstanceRefreshCommand)).toHaveLength(0);
    // Auto Scaling's rollback replaces what the refresh launched (API_RollbackInstanceRefresh):
    // those instances are never sent a restore, which would race their termination.
    const sent = ssm.commandCalls(SendCommandCommand).flatMap((c) => c.args[0].input.InstanceIds ?? []);
    expect(sent).toEqual([A]);
    expect(world.instances.get(D)?.file).toBe('new');
    expect(out.record.instances[D]).toBeUndefined();
    expect(out.record.instances[E]).toBeUndefined();
    // Followed until it ended RollbackSuccessful: nothing left for a refresh back.
    expect(asg.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
    expect(out.summary).toMatch(
      /launch template cis-file-processor-lt default version \| 3 \| 4 \| 3 \| restored/,
    );
    expect(out.summary).toMatch(
      /instance refresh refresh-1 of cis-workers .* RollbackSuccessful .* rolled back/,
    );
  });

  it('cancels the running refresh of a $Default group without asking AWS to roll it back, restores the canary, then refreshes the group back on the restored default', async () => {
    const world = fleetOf(A);
    world.add(D, {}, false); // launched by the refresh, runs the fix
    world.groupIds = [A, D];
    const rec = baseRecord({ [A]: canaryInstalled() });
    rec.settings.launchTemplate = launchTemplateChange({
      sourceVersion: 3,
      groupVersion: '$Default',
      mixed: false,
      movedDefault: true,
    });
    rec.settings.refresh = refreshChange('InProgress', { desired: 'none' });
    const { ctx, asg, ssm, report } = setup(world, withRecord(rec));
    const out = await rollback(ctx);

    expect(out.failure).toBeUndefined();
    // AWS refuses RollbackInstanceRefresh for a refresh without a desired configuration or a group
    // on $Default (API_RollbackInstanceRefresh): it is not asked, the refresh is cancelled.
    expect(asg.commandCalls(RollbackInstanceRefreshCommand)).toHaveLength(0);
    expect(asg.commandCalls(CancelInstanceRefreshCommand)).toHaveLength(1);
    expect(world.ltDefault).toBe(3);
    const sent = ssm.commandCalls(SendCommandCommand).flatMap((c) => c.args[0].input.InstanceIds ?? []);
    expect(sent).toEqual([A]);
    // The canary is restored before the refresh back starts (no restore to an instance being replaced).
    expect(world.changes).toEqual(['restore sent', 'refresh back started']);
    // A plain refresh: the group follows $Default, which is version 3 again.
    expect(world.startRefreshes).toEqual([
      {
        AutoScalingGroupName: 'cis-workers',
        Strategy: 'Rolling',
        Preferences: { MinHealthyPercentage: 90 },
        DesiredConfiguration: undefined,
      },
    ]);
    expect(out.summary).toMatch(/instance refresh refresh-1 of cis-workers .* Cancelled .* cancelled/);
    expect(out.summary).toMatch(
      /instances of cis-workers on version 4 \| version \$Default \| version 4 \| refresh refresh-back-1 Successful \| restored/,
    );
    expect(parseRecordOutput(report).settings.revertRefresh).toMatchObject({
      id: 'refresh-back-1',
      asgName: 'cis-workers',
    });
  });

  it('sends no restore to a group member while a refresh that could not be stopped may be replacing it', async () => {
    const world = fleetOf(A, B);
    world.groupIds = [A];
    world.refreshRollbackDenied = true;
    const rec = baseRecord({
      [A]: canaryInstalled(),
      [B]: { p: 'r', b: 1, s: 'installed', c: 1 }, // in place, outside the group
    });
    rec.settings.refresh = {
      id: 'refresh-1',
      asgName: 'cis-workers',
      status: 'InProgress',
      desired: 'launch-template',
    };
    const { ctx, ssm, asg } = setup(world, withRecord(rec));
    const out = await rollback(ctx);

    expect(out.verdict).toBe('fail');
    expect(asg.commandCalls(CancelInstanceRefreshCommand)).toHaveLength(0);
    const sent = ssm.commandCalls(SendCommandCommand).flatMap((c) => c.args[0].input.InstanceIds ?? []);
    expect(sent).toEqual([B]);
    expect(world.instances.get(A)?.file).toBe('new');
    expect(out.record.instances[A].rb).toBe('failed');
    expect(out.failure).toContain(
      `${A} (not sent: instance refresh refresh-1 may still be replacing the instances of cis-workers; run rollback again once it ends)`,
    );
    expect(out.failure).toContain(
      'instance refresh refresh-1 of cis-workers could not be restored: autoscaling:RollbackInstanceRefresh failed',
    );
  });

  it('undoes the refresh a killed rollout was starting (intent only: no id), without describing an empty id', async () => {
    const world = fleetOf(A);
    const rec = baseRecord({ [A]: canaryInstalled() });
    rec.settings.refresh = { id: '', asgName: 'cis-workers', status: 'Starting' };
    const { ctx, asg } = setup(world, withRecord(rec));
    const out = await rollback(ctx);
    expect(out.verdict).toBe('pass');
    // The running refresh is found by listing the group's refreshes (no ids, newest first): an
    // empty id is never sent to DescribeInstanceRefreshes.
    const asked = asg.commandCalls(DescribeInstanceRefreshesCommand).map((c) => c.args[0].input);
    expect(asked[0]).toEqual({ AutoScalingGroupName: 'cis-workers', MaxRecords: 1 });
    for (const input of asked) expect(input.InstanceRefreshIds ?? []).not.toContain('');
    expect(asg.commandCalls(RollbackInstanceRefreshCommand)).toHaveLength(1);
    expect(out.summary).toMatch(/instance refresh \S+ of cis-workers .* rolled back/);
  });

  it('leaves the group alone when a killed rollout only intended a refresh and none is running', async () => {
    const world = fleetOf(A);
    world.refreshStatus = 'Successful';
    const rec = baseRecord({ [A]: canaryInstalled() });
    rec.settings.refresh = { id: '', asgName: 'cis-workers', status: 'Starting' };
    const { ctx, asg } = setup(world, withRecord(rec));
    const out = await rollback(ctx);
    expect(out.verdict).toBe('pass');
    expect(asg.commandCalls(RollbackInstanceRefreshCommand)).toHaveLength(0);
    expect(asg.commandCalls(CancelInstanceRefreshCommand)).toHaveLength(0);
    expect(out.summary).toMatch(/instance refresh \(being started\) of cis-workers .*already/);
  });

  it('cancels a refresh AWS cannot roll back, and leaves an ended one alone', async () => {
    const world = fleetOf(A);
    world.refreshIrreversible = true;
    const rec = baseRecord({ [A]: canaryInstalled() });
    rec.settings.refresh = refreshChange('InProgress');
    const first = setup(world, withRecord(rec));
    const out = await rollback(first.ctx);
    expect(out.verdict).toBe('pass');
    expect(first.asg.commandCalls(CancelInstanceRefreshCommand)).toHaveLength(1);
    expect(out.summary).toMatch(/\| cancelled \|/);

    world.refreshStatus = 'Successful';
    const again = setup(world, withRecord(rec));
    const second = await rollback(again.ctx);
    expect(again.asg.commandCalls(RollbackInstanceRefreshCommand)).toHaveLength(0);
    expect(again.asg.commandCalls(CancelInstanceRefreshCommand)).toHaveLength(0);
    expect(second.verdict).toBe('pass');
  });

  it('fails when the visibility timeout does not read back as restored', async () => {
    const world = fleetOf(A, B, C);
    world.sticky = true;
    const out = await rollback(setup(world, withRecord(baseRecord(FULL))).ctx);
    expect(out.verdict).toBe('fail');
    expect(out.failure).toMatch(
      /queue visibility timeout \(s\) could not be restored: set to 300, but reads back 900/,
    );
  });

  it('waits for the restored visibility timeout to propagate instead of failing a correct restore', async () => {
    // SetQueueAttributes: "the change can take up to 60 seconds ... to propagate": reads right
    // after the call may still show 900.
    const world = fleetOf(A, B, C);
    world.propagationReads = 3;
    const { ctx, runtime } = setup(world, withRecord(baseRecord(FULL)));
    const out = await rollback(ctx);
    expect(out.verdict).toBe('pass');
    expect(world.visibilityTimeout).toBe(300);
    expect(out.summary).toMatch(/queue visibility timeout \(s\) \| 300 \| 900 \| 300 \| restored/);
    expect(runtime.clock.sleeps.filter((ms) => ms === 10_000)).toHaveLength(3);
  });

  it('bounds the read-back wait: a value that never takes fails after about a minute', async () => {
    const world = fleetOf(A, B, C);
    world.sticky = true;
    const { ctx, runtime } = setup(world, withRecord(baseRecord(FULL)));
    const out = await rollback(ctx);
    expect(out.verdict).toBe('fail');
    expect(runtime.clock.sleeps.filter((ms) => ms === 10_000)).toHaveLength(6);
  });

  it('restores the preflight baseline from a record holding only the intent (killed right after SetQueueAttributes)', async () => {
    const world = fleetOf(A, B, C);
    const rec = baseRecord(FULL);
    rec.settings.visibilityTimeout = { before: 300, after: 900, at: 'x', s: 'intended' };
    const out = await rollback(setup(world, withRecord(rec)).ctx);
    expect(out.verdict).toBe('pass');
    expect(world.visibilityTimeout).toBe(300);
  });

  it("restores the baseline from the canary's record when the queue carries this deployment's intent tag", async () => {
    const world = fleetOf(A);
    world.queueTags['emergency-deploy:visibility-timeout'] = `${DEP} before=300 after=900 intended`;
    const rec = baseRecord({ [A]: canaryInstalled() });
    delete rec.settings.visibilityTimeout;
    rec.phases = rec.phases.filter((p) => p.mode === 'canary');
    const { ctx, sqs } = setup(world, withRecord(rec));
    const out = await rollback(ctx);
    expect(out.verdict).toBe('pass');
    expect(world.visibilityTimeout).toBe(300);
    expect(sqs.commandCalls(SetQueueAttributesCommand)[0].args[0].input.Attributes).toEqual({
      VisibilityTimeout: '300',
    });
  });

  it('restores the baseline with no record at all, from the intent tag on the named queue', async () => {
    const world = fleetOf(A);
    world.queueTags['emergency-deploy:visibility-timeout'] = `${DEP} before=300 after=900 done`;
    const { ctx } = setup(world, { 'deployment-id': DEP, 'queue-name': 'file-processing-queue-production' });
    const out = await rollback(ctx);
    expect(out.verdict).toBe('pass');
    expect(world.visibilityTimeout).toBe(300);
  });

  it('leaves the queue alone when its tag names another deployment or is not one of ours', async () => {
    for (const tag of ['dep-other-deployment-1 before=30 after=900 done', `${DEP} before=300; rm -rf /`]) {
      const world = fleetOf(A);
      world.queueTags['emergency-deploy:visibility-timeout'] = tag;
      const { ctx, sqs } = setup(world, {
        'deployment-id': DEP,
        'queue-name': 'file-processing-queue-production',
      });
      const out = await rollback(ctx);
      expect(out.verdict).toBe('pass');
      expect(sqs.commandCalls(SetQueueAttributesCommand)).toHaveLength(0);
      expect(world.visibilityTimeout).toBe(900);
    }
  });

  it('passes and names the instances a killed rollout tagged but never sent the install (untouched)', async () => {
    // Killed after CreateTags and the record write, before SendCommand: B and C carry the tags and
    // are `sent` in the record, but have no backup and still the original file.
    const world = fleetOf(A, B, C);
    world.instances.get(B)!.backup = false;
    world.instances.get(B)!.file = 'old';
    world.instances.get(C)!.backup = false;
    world.instances.get(C)!.file = 'old';
    const rec = baseRecord({
      [A]: canaryInstalled(),
      [B]: { p: 'r', b: 1, s: 'sent', c: -1 },
      [C]: { p: 'r', b: 1, s: 'sent', c: -1 },
    });
    rec.artifact = {
      s3Uri: 's3://cis-deploy-artifacts/emergency-deploy/worker.py',
      sha256: 'b'.repeat(64),
      uploaded: false,
    };
    const out = await rollback(setup(world, withRecord(rec)).ctx);
    expect(out.failure).toBeUndefined();
    expect(out.verdict).toBe('pass');
    expect(world.scripts[0]).toContain(`artifact_sha='${'b'.repeat(64)}'`);
    expect(out.record.instances[A].rb).toBe('restored');
    expect(out.record.instances[B].rb).toBe('untouched');
    expect(out.record.instances[C].rb).toBe('untouched');
    expect(out.record.phases.at(-1)?.reason).toContain(`2 never changed by this deployment (${B}, ${C})`);
    expect(out.summary).toContain(B);
  });

  it('fails an instance whose file is the artifact but has no backup, and says so', async () => {
    const world = fleetOf(A, B);
    world.instances.get(B)!.backup = false;
    const rec = baseRecord({
      [A]: canaryInstalled(),
      [B]: { p: 'r', b: 1, s: 'installed', c: 1 },
    });
    rec.artifact = {
      s3Uri: 's3://cis-deploy-artifacts/emergency-deploy/worker.py',
      sha256: 'b'.repeat(64),
      uploaded: false,
    };
    const out = await rollback(setup(world, withRecord(rec)).ctx);
    expect(out.verdict).toBe('fail');
    expect(out.failure).toContain(
      `${B} (backup ${BACKUP} is missing on the instance, and its file is the artifact`,
    );
    expect(out.record.instances[A].rb).toBe('restored');
  });

  it('from the deployment id alone, uses the artifact checksum the tags carry to tell untouched instances', async () => {
    const world = fleetOf(A, B);
    for (const i of world.instances.values()) i.tags['emergency-deploy:artifact-sha256'] = 'c'.repeat(64);
    world.instances.get(B)!.backup = false;
    world.instances.get(B)!.file = 'old';
    world.queueTags['emergency-deploy:visibility-timeout'] = `${DEP} before=300 after=900 intended`;
    const { ctx } = setup(world, { 'deployment-id': DEP, 'queue-name': 'file-processing-queue-production' });
    const out = await rollback(ctx);
    expect(out.failure).toBeUndefined();
    expect(world.scripts[0]).toContain(`artifact_sha='${'c'.repeat(64)}'`);
    expect(out.record.instances[A].rb).toBe('restored');
    expect(out.record.instances[B].rb).toBe('untouched');
    expect(world.visibilityTimeout).toBe(300);
  });

  it('does not trust artifact tags that disagree or are malformed', async () => {
    const world = fleetOf(A, B);
    world.instances.get(A)!.tags['emergency-deploy:artifact-sha256'] = 'c'.repeat(64);
    world.instances.get(B)!.tags['emergency-deploy:artifact-sha256'] = "d'; reboot; '";
    const { ctx } = setup(world, { 'deployment-id': DEP });
    await rollback(ctx);
    expect(world.scripts[0]).toContain(`artifact_sha=''`);
  });

  it('dry run lists what would be restored and sends nothing that changes anything', async () => {
    const world = fleetOf(A, B, C);
    const rec = baseRecord(FULL);
    rec.settings.launchTemplate = launchTemplateChange();
    rec.settings.refresh = refreshChange('InProgress');
    const { ctx, ssm, sqs, ec2, asg } = setup(world, withRecord(rec, { 'dry-run': 'true' }));
    const out = await rollback(ctx);

    expect(out.verdict).toBe('pass');
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
    expect(sqs.commandCalls(SetQueueAttributesCommand)).toHaveLength(0);
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)).toHaveLength(0);
    expect(asg.commandCalls(RollbackInstanceRefreshCommand)).toHaveLength(0);
    expect(asg.commandCalls(CancelInstanceRefreshCommand)).toHaveLength(0);
    expect(world.instances.get(A)?.file).toBe('new');
    expect(out.summary).toContain('Rollback plan (dry run)');
    expect(out.summary).toContain('3 would be restored');
    expect(out.summary).toMatch(/would restore/);
    expect(out.summary).toMatch(/would undo/);
    for (const id of [A, B, C]) expect(out.record.instances[id].rb).toBeUndefined();
  });

  it('runs on a record whose canary was NO-GO, reports a terminated canary as gone, not failed', async () => {
    const world = fleetOf(B);
    world.add(A, { state: 'terminated' });
    const rec = baseRecord({ [A]: canaryInstalled() });
    rec.canary = {
      instanceId: A,
      verdict: 'no-go',
      reason: 'Traceback in the journal',
      startedAt: 'a',
      evidence: { errors: [{ pattern: 'Traceback (most recent call last): <b>boom</b>', count: 3 }] },
    };
    rec.phases = [{ mode: 'canary', startedAt: 'a', endedAt: 'b', verdict: 'no-go', reason: 'Traceback' }];
    rec.settings = {};
    const { ctx, ssm } = setup(world, withRecord(rec));
    const out = await rollback(ctx);

    expect(out.verdict).toBe('pass');
    expect(out.summary).toContain(`canary ${A} was NO-GO: Traceback in the journal`);
    expect(out.summary).toContain('Canary NO-GO evidence');
    expect(out.summary).not.toContain('<b>boom</b>');
    expect(out.record.instances[A].rb).toBeUndefined();
    expect(out.record.instances[A].re).toBe('gone: terminated');
    // B carries the deployment's tag though the record lacks it (the rollout died before writing).
    expect(ssm.commandCalls(SendCommandCommand)[0].args[0].input.InstanceIds).toEqual([B]);
    expect(out.summary).toMatch(/not changed by this deployment/);
  });

  it('names an instance neither the install nor the restore reached (agent lost) as not touched, not failed', async () => {
    const world = fleetOf(A);
    world.add(B, { file: 'old', backup: false, agentLost: true });
    const rec = baseRecord({
      [A]: FULL[A],
      [B]: { p: 'r', b: 1, s: 'failed', c: 0, e: 'install: Delivery Timed Out' },
    });
    const { ctx } = setup(world, withRecord(rec));
    const out = await rollback(ctx);
    expect(out.verdict).toBe('pass');
    expect(out.record.instances[A].rb).toBe('restored');
    expect(out.record.instances[B].rb).toBe('untouched');
    expect(out.summary).toMatch(
      /the install never reached it \(install: Delivery Timed Out\) and the restore could not either/,
    );
  });

  it('still fails an instance the install may have reached when the restore cannot reach it', async () => {
    const world = fleetOf(A);
    world.add(B, { agentLost: true });
    const { ctx } = setup(world, withRecord(baseRecord({ [A]: FULL[A], [B]: FULL[B] })));
    const out = await rollback(ctx);
    expect(out.verdict).toBe('fail');
    expect(out.record.instances[B].rb).toBe('failed');
  });

  it('reports an instance terminated while the restore was sent as gone', async () => {
    const world = new FakeWorld();
    // Untagged (an older deployment's record): their states come from a lookup by instance id.
    world.add(A, {}, false);
    world.add(B, {}, false);
    const { ctx, ec2 } = setup(world, withRecord(baseRecord({ [A]: FULL[A], [B]: FULL[B] })));
    // B goes away between the plan and the command.
    let planned = false;
    ec2.on(DescribeInstancesCommand).callsFake((input: { Filters?: Filter[] }) => {
      const res = { Reservations: world.describe(input.Filters ?? []).map((i) => ({ Instances: [i] })) };
      if (!planned && input.Filters?.some((f) => f.Name === 'instance-id')) {
        planned = true;
        world.instances.get(B)!.state = 'terminated';
      }
      return res;
    });
    const out = await rollback(ctx);
    expect(out.verdict).toBe('pass');
    expect(out.record.instances[B].re).toBe('gone: terminated');
    expect(out.record.instances[A].rb).toBe('restored');
  });
});

/**
 * A record of an asg rollout on a group that pinned version 2 of the template (whose default was 3):
 * the refresh to version 4 succeeded, which leaves the group naming version 4.
 */
function pinnedRecord(groupVersion = '2'): DeploymentRecord {
  const rec = baseRecord({ [A]: canaryInstalled() });
  rec.settings.launchTemplate = launchTemplateChange();
  rec.settings.refresh = refreshChange('Successful');
  rec.extra.rolloutAsg = { groupVersion };
  return rec;
}

function pinnedWorld(groupVersion = '4'): FakeWorld {
  const world = fleetOf(A);
  world.refreshStatus = 'Successful';
  world.groupTemplate = { version: groupVersion };
  return world;
}

/**
 * pinnedWorld whose group has one member, `id`, not tagged by the deployment (launched by a
 * refresh), set up by `init` and reporting launch template `version` (undefined: none).
 */
function pinnedGroupOf(
  groupVersion: string,
  id: string,
  version?: string,
  init: Partial<FakeInstance> = {},
): FakeWorld {
  const world = pinnedWorld(groupVersion);
  world.groupIds = [id];
  world.add(id, init, false);
  if (version !== undefined) world.memberVersions.set(id, version);
  return world;
}

const GROUP_ROW = 'Auto Scaling group cis-workers launch template version';

describe('rollback of a group the refresh left pinned to the new version', () => {
  it('points the group back at the version it named before the rollout, before any instance is restored', async () => {
    const world = pinnedWorld();
    const { ctx, asg } = setup(world, withRecord(pinnedRecord()));
    const out = await rollback(ctx);

    expect(out.verdict).toBe('pass');
    const updates = asg.commandCalls(UpdateAutoScalingGroupCommand);
    expect(updates).toHaveLength(1);
    // Only the launch template, by id and the recorded version: nothing else about the group changes.
    expect(updates[0].args[0].input).toEqual({
      AutoScalingGroupName: 'cis-workers',
      LaunchTemplate: { LaunchTemplateId: 'lt-0123456789abcdef0', Version: '2' },
    });
    expect(world.groupTemplate?.version).toBe('2');
    // No new instance launches with the fix while the running ones are being restored.
    expect(world.changes).toEqual(['group version 2', 'restore sent']);
    // Read back: a describe before the change and one after (besides the member listing).
    expect(asg.commandCalls(DescribeAutoScalingGroupsCommand).length).toBeGreaterThanOrEqual(3);
    expect(out.summary).toContain('Settings restored');
    expect(out.summary).toContain(`| ${GROUP_ROW} | 2 | 4 | 2 | restored |`);
    // The template default goes back too (the group does not follow it, but $Default users would).
    expect(world.ltDefault).toBe(3);
    const settings = (out.record.extra.rollback as { settings: unknown[] }).settings;
    expect(settings).toContainEqual({ setting: GROUP_ROW, action: 'restored', now: '2' });
  });

  it('a second run finds the group already restored and sends nothing', async () => {
    const world = pinnedWorld();
    const first = await rollback(setup(world, withRecord(pinnedRecord())).ctx);
    expect(first.verdict).toBe('pass');
    const { ctx, asg } = setup(world, withRecord(first.record));
    const second = await rollback(ctx);

    expect(second.verdict).toBe('pass');
    expect(asg.commandCalls(UpdateAutoScalingGroupCommand)).toHaveLength(0);
    expect(second.summary).toContain(`| ${GROUP_ROW} | 2 | 4 | 2 | already |`);
    const settings = (second.record.extra.rollback as { settings: unknown[] }).settings;
    expect(settings).toContainEqual({ setting: GROUP_ROW, action: 'already', now: '2' });
  });

  it('leaves a group that follows $Default alone: the template default brings it back', async () => {
    const world = pinnedWorld('$Default');
    const { ctx, asg } = setup(world, withRecord(pinnedRecord('$Default')));
    const out = await rollback(ctx);

    expect(out.verdict).toBe('pass');
    expect(asg.commandCalls(UpdateAutoScalingGroupCommand)).toHaveLength(0);
    expect(out.summary).not.toContain(GROUP_ROW);
    expect(world.ltDefault).toBe(3);
  });

  it('does nothing about the group when the rollout recorded no pinned version (ssm, or an older record)', async () => {
    const world = pinnedWorld();
    const rec = pinnedRecord();
    delete rec.extra.rolloutAsg;
    const { ctx, asg } = setup(world, withRecord(rec));
    const out = await rollback(ctx);
    expect(out.verdict).toBe('pass');
    expect(asg.commandCalls(UpdateAutoScalingGroupCommand)).toHaveLength(0);
    expect(out.summary).not.toContain(GROUP_ROW);
  });

  it('dry run lists the group version it would restore and sends nothing', async () => {
    const world = pinnedWorld();
    const { ctx, asg, ec2, ssm } = setup(world, withRecord(pinnedRecord(), { 'dry-run': 'true' }));
    const out = await rollback(ctx);

    expect(out.verdict).toBe('pass');
    expect(asg.commandCalls(UpdateAutoScalingGroupCommand)).toHaveLength(0);
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)).toHaveLength(0);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
    expect(world.groupTemplate?.version).toBe('4');
    expect(out.summary).toContain('Settings that would be restored');
    expect(out.summary).toContain(`| ${GROUP_ROW} | 2 | 4 | 4 | would restore |`);
  });

  it('fails the rollback, naming the group and the consequence, when UpdateAutoScalingGroup is refused; the instances are still restored', async () => {
    const world = pinnedWorld();
    world.add(B);
    world.groupUpdate = 'denied';
    const rec = pinnedRecord();
    rec.instances[B] = { p: 'r', b: -1, s: 'installed', c: 1 };
    const { ctx, asg } = setup(world, withRecord(rec));
    const out = await rollback(ctx);

    expect(out.verdict).toBe('fail');
    expect(asg.commandCalls(UpdateAutoScalingGroupCommand)).toHaveLength(1);
    expect(out.failure).toBe(
      `Rollback failed: ${GROUP_ROW} could not be restored: autoscaling:UpdateAutoScalingGroup failed: User is not authorized to perform this operation; new instances of cis-workers still launch from version 4, with the fix`,
    );
    for (const id of [A, B]) {
      expect(world.instances.get(id)?.file).toBe('old');
      expect(out.record.instances[id].rb).toBe('restored');
    }
    expect(world.visibilityTimeout).toBe(300);
    expect(world.ltDefault).toBe(3);
    expect(out.summary).toMatch(new RegExp(`\\| ${GROUP_ROW} \\| 2 \\| 4 \\| 4 \\| failed \\|`));
  });

  it('fails when the group does not read back the restored version', async () => {
    const world = pinnedWorld();
    world.groupUpdate = 'ignored';
    const out = await rollback(setup(world, withRecord(pinnedRecord())).ctx);
    expect(out.verdict).toBe('fail');
    expect(out.failure).toContain(`${GROUP_ROW} could not be restored: set to 2, but reads back 4`);
  });

  it('points a mixed instances policy back at its version, keeping overrides and distribution, and refreshes back only the members on the new version', async () => {
    const world = pinnedWorld();
    world.groupTemplate = { version: '4', mixed: true, overrides: [{ InstanceType: 'c6i.large' }] };
    world.add(D, {}, false);
    world.add(E, { backup: false, file: 'old' }, false);
    world.groupIds = [D, E];
    world.memberVersions.set(D, '4').set(E, '2');
    const rec = pinnedRecord();
    rec.settings.launchTemplate = {
      ...rec.settings.launchTemplate!,
      sourceVersion: 2,
      groupVersion: '2',
      mixed: true,
      movedDefault: false,
    };
    rec.settings.refresh = { ...rec.settings.refresh!, desired: 'mixed-instances-policy' };
    const { ctx, asg, ec2, ssm } = setup(world, withRecord(rec));
    const out = await rollback(ctx);

    expect(out.failure).toBeUndefined();
    // The rollout never moved the default: rollback leaves it too.
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)).toHaveLength(0);
    expect(asg.commandCalls(UpdateAutoScalingGroupCommand)[0].args[0].input).toEqual({
      AutoScalingGroupName: 'cis-workers',
      MixedInstancesPolicy: {
        LaunchTemplate: {
          LaunchTemplateSpecification: { LaunchTemplateId: 'lt-0123456789abcdef0', Version: '2' },
          Overrides: [{ InstanceType: 'c6i.large' }],
        },
        InstancesDistribution: { OnDemandBaseCapacity: 1 },
      },
    });
    expect(world.groupTemplate?.version).toBe('2');
    // A finished refresh cannot be rolled back (instance-refresh-rollback): a refresh back to
    // version 2, SkipMatching so E (already on 2) stays.
    expect(world.startRefreshes).toEqual([
      {
        AutoScalingGroupName: 'cis-workers',
        Strategy: 'Rolling',
        Preferences: { MinHealthyPercentage: 90, SkipMatching: true },
        DesiredConfiguration: {
          MixedInstancesPolicy: {
            LaunchTemplate: {
              LaunchTemplateSpecification: { LaunchTemplateId: 'lt-0123456789abcdef0', Version: '2' },
              Overrides: [{ InstanceType: 'c6i.large' }],
            },
            InstancesDistribution: { OnDemandBaseCapacity: 1 },
          },
        },
      },
    ]);
    const sent = ssm.commandCalls(SendCommandCommand).flatMap((c) => c.args[0].input.InstanceIds ?? []);
    expect(sent).toEqual([A]);
    expect(world.changes).toEqual(['group version 2', 'restore sent', 'refresh back started']);
    expect(out.summary).toContain('1 of 2 on version 4 when it started');
  });

  it('starts no refresh back when every member reports a version other than the deployment’s', async () => {
    const world = pinnedGroupOf('4', E, '2', { backup: false, file: 'old' });
    const { ctx, asg } = setup(world, withRecord(pinnedRecord()));
    const out = await rollback(ctx);
    expect(out.verdict).toBe('pass');
    expect(asg.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
    expect(out.summary).toContain('no member on version 4');
  });

  it('a rerun follows the refresh back an earlier run started instead of starting another', async () => {
    const world = pinnedGroupOf('2', D, '4');
    world.backStatuses = ['InProgress', 'Successful'];
    const rec = pinnedRecord();
    rec.settings.revertRefresh = { id: 'refresh-back-1', asgName: 'cis-workers', status: 'InProgress' };
    const { ctx, asg } = setup(world, withRecord(rec));
    const out = await rollback(ctx);
    expect(out.failure).toBeUndefined();
    expect(asg.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
    expect(out.summary).toMatch(/refresh refresh-back-1 Successful \| restored/);
  });

  it('fails, saying what to do, for a group on $Latest: rollback never deletes the version that is $Latest', async () => {
    const world = pinnedGroupOf('$Latest', D);
    const rec = pinnedRecord('$Latest');
    rec.settings.launchTemplate = {
      ...rec.settings.launchTemplate!,
      sourceVersion: 4,
      groupVersion: '$Latest',
      movedDefault: false,
    };
    const { ctx, asg } = setup(world, withRecord(rec));
    const out = await rollback(ctx);
    expect(out.verdict).toBe('fail');
    expect(asg.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
    expect(out.failure).toContain('the group follows $Latest, which is version 4 with the fix');
  });

  it('leaves a group someone moved to another version since, and says so without failing', async () => {
    // A member still on the deployment's version: a refresh back would move the group off 7.
    const world = pinnedGroupOf('7', D, '4');
    const { ctx, asg } = setup(world, withRecord(pinnedRecord()));
    const out = await rollback(ctx);
    expect(asg.commandCalls(UpdateAutoScalingGroupCommand)).toHaveLength(0);
    expect(out.verdict).toBe('pass');
    expect(out.summary).toContain(`| ${GROUP_ROW} | 2 | 4 | 7 | needs follow-up |`);
    expect(out.summary).toContain('neither 2 (before the rollout) nor 4');
    expect(asg.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
    expect(out.summary).toContain('changed since the rollout, so no refresh back was started');
  });

  it('refuses a record whose typed launch template change is forged, before any AWS call', () => {
    const forged = (edit: (lt: NonNullable<DeploymentRecord['settings']['launchTemplate']>) => void) => {
      const rec = pinnedRecord();
      edit(rec.settings.launchTemplate!);
      return () => testContext({ mode: 'rollback', record: JSON.stringify(rec) });
    };
    expect(forged((lt) => (lt.groupVersion = '2; $(reboot)'))).toThrow(/^Input 'record'/);
    expect(forged((lt) => (lt.sourceVersion = -1))).toThrow(/^Input 'record'/);
    expect(forged((lt) => (lt.movedDefault = 'yes' as unknown as boolean))).toThrow(/^Input 'record'/);
    expect(forged((lt) => (lt.groupVersion = '$Latest'))).not.toThrow();
  });

  it('refuses a malformed group version from the record without sending it', async () => {
    const world = pinnedWorld();
    const { ctx, asg } = setup(world, withRecord(pinnedRecord('2; $(reboot)')));
    const out = await rollback(ctx);
    expect(asg.commandCalls(UpdateAutoScalingGroupCommand)).toHaveLength(0);
    expect(out.verdict).toBe('fail');
    expect(out.failure).toContain('is not a version number');
    expect(world.instances.get(A)?.file).toBe('old');
  });
});

describe('recordedGroupVersion and groupVersionDecision', () => {
  // A record built in memory (parseRecord refuses these shapes in a record read from JSON).
  const untrusted = (extra: object) => extra as RecordExtra;
  const template = { id: 'lt-1', name: 'lt', newVersion: 4 };
  const plain = (version?: string) => ({ id: 'lt-1', name: 'lt', version, mixed: false });

  it('reads only a fixed version as pinned', () => {
    expect(recordedGroupVersion({})).toEqual({ kind: 'none' });
    expect(recordedGroupVersion({ rolloutAsg: { groupVersion: '$Default' } })).toEqual({ kind: 'none' });
    expect(recordedGroupVersion({ rolloutAsg: { groupVersion: '$Latest' } })).toEqual({ kind: 'none' });
    expect(recordedGroupVersion({ rolloutAsg: { groupVersion: '12' } })).toEqual({
      kind: 'pinned',
      version: '12',
    });
    for (const bad of ['0', '-1', '1.5', ' 3', 3, null, '9'.repeat(11)]) {
      expect(recordedGroupVersion(untrusted({ rolloutAsg: { groupVersion: bad } })).kind).toBe('malformed');
    }
    expect(recordedGroupVersion(untrusted({ rolloutAsg: 'x' })).kind).toBe('malformed');
  });

  it('restores only a group naming exactly the deployment’s version of its template', () => {
    const decide = (group: Parameters<typeof groupVersionDecision>[0]['group'], recorded = '2') =>
      groupVersionDecision({ recorded, template, group }).action;
    expect(decide(plain('4'))).toBe('restore');
    expect(decide({ name: 'lt', version: '4', mixed: false })).toBe('restore'); // matched by name
    expect(decide(plain('2'))).toBe('already');
    expect(decide(plain('7'))).toBe('leave');
    expect(decide(plain(undefined))).toBe('leave'); // $Default now
    expect(decide({ id: 'lt-other', name: 'other', version: '4', mixed: false })).toBe('leave');
    expect(decide(undefined)).toBe('leave');
    // A mixed instances policy is restored too (its overrides sent back as read).
    expect(decide({ ...plain('4'), mixed: true })).toBe('restore');
    expect(decide({ ...plain('2'), mixed: true })).toBe('already');
    // A record naming the deployment's own version as the one before: the earlier one is unknown.
    expect(decide(plain('4'), '4')).toBe('refuse');
    expect(decide(plain('2'), '4')).toBe('leave');
  });
});

describe('rollback of a 5,000-instance fleet', () => {
  it('fans out 50 per command and keeps the record under the job-output limit when every restore fails', async () => {
    const world = new FakeWorld();
    world.pageSize = 1000;
    const entries: Record<string, InstanceEntry> = {};
    for (let i = 0; i < 5000; i++) {
      const id = `i-${i.toString(16).padStart(17, '0')}`;
      world.add(id, { backup: false });
      entries[id] = { p: i === 0 ? 'c' : 'r', b: Math.ceil(i / 100), s: 'failed', c: 1, e: 'x'.repeat(60) };
    }
    const rec = baseRecord(entries);
    const { ctx, ssm } = setup(world, withRecord(rec));
    const out = await rollback(ctx);

    expect(out.verdict).toBe('fail');
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(100);
    expect(Object.values(out.record.instances).every((e) => e.rb === 'failed')).toBe(true);
    expect(Buffer.byteLength(serializeRecord(out.record))).toBeLessThan(1_000_000);
    expect(out.summary).toContain('4800 more rows are in the record');
    expect(Buffer.byteLength(out.summary)).toBeLessThan(1024 * 1024);
  });
});

describe('findInstancesTaggedFor', () => {
  it('reads every page and reservation, and every state but terminated', async () => {
    const world = fleetOf(A, B, C, D);
    world.add(E, { state: 'terminated' });
    world.instances.get(C)!.state = 'stopped';
    const { ctx, ec2 } = setup(world, { 'deployment-id': DEP });
    const found = await findInstancesTaggedFor(ctx.api, ctx.clients, DEP);
    expect(found.map((f) => [f.id, f.state, f.backupPath])).toEqual([
      [A, 'running', BACKUP],
      [B, 'running', BACKUP],
      [C, 'stopped', BACKUP],
      [D, 'running', BACKUP],
    ]);
    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(2);
    expect(ec2.commandCalls(DescribeInstancesCommand)[0].args[0].input.Filters).toEqual([
      { Name: `tag:${TAG_DEPLOYMENT_ID}`, Values: [DEP] },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'shutting-down', 'stopping', 'stopped'] },
    ]);
  });
});
