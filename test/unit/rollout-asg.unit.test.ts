import {
  CancelInstanceRefreshCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  StartInstanceRefreshCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateImageCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeImagesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeSnapshotsCommand,
  ModifyLaunchTemplateCommand,
} from '@aws-sdk/client-ec2';
import {
  GetQueueAttributesCommand,
  ListQueueTagsCommand,
  SetQueueAttributesCommand,
  TagQueueCommand,
} from '@aws-sdk/client-sqs';
import { SendCommandCommand } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import type { MixedInstancesPolicy } from '@aws-sdk/client-auto-scaling';
import { recordedGroupVersion } from '../../src/logic/rollback-plan.js';
import { rollout } from '../../src/modes/rollout.js';
import { parseRecord, type DeploymentRecord } from '../../src/record.js';
import { testContext, type RawInputs } from '../support/context.js';
import { asgGroup, asgInstance, stubRunningFleet } from '../support/aws-stubs.js';
import { afterCanaryRecord } from '../support/records.js';

const DEPLOYMENT = 'dep-20261129t000000z-4242-1';
const CANARY = 'i-0000000000000000a';
const FLEET = [CANARY, 'i-0000000000000000b', 'i-0000000000000000c'];
const LT_ID = 'lt-0123456789abcdef0';
const LT_NAME = 'cis-file-processor-lt';
const ASG = 'cis-file-processor-asg';
const IMAGE = 'ami-0fix0000000000001';
const REFRESH = '08b91cf7-8fa6-48af-b6a6-d227f40f1b9b';

function canaryRecord(): DeploymentRecord {
  return afterCanaryRecord({
    deploymentId: DEPLOYMENT,
    fleet: FLEET,
    canary: CANARY,
    reason: 'healthy',
    sha256: 'b'.repeat(64),
    queueArn: 'arn',
  });
}

interface AsgWorld {
  groupVersion: string;
  /** The group names its template inside this mixed instances policy instead of directly. */
  mixedInstancesPolicy?: MixedInstancesPolicy;
  imageStates: string[];
  refreshStates: {
    Status: string;
    PercentageComplete?: number;
    InstancesToUpdate?: number;
    StatusReason?: string;
  }[];
  onRefreshRead?: () => void;
}

function setup(raw: RawInputs = {}, world: Partial<AsgWorld> = {}, record = canaryRecord()) {
  const w: AsgWorld = {
    // Pinned to 2 while the template's default is 3 and its latest 4: the three differ, so a test
    // tells which one the new version was made from.
    groupVersion: '2',
    imageStates: ['pending', 'pending', 'available'],
    refreshStates: [
      { Status: 'Pending', PercentageComplete: 0, InstancesToUpdate: 3 },
      { Status: 'InProgress', PercentageComplete: 40, InstancesToUpdate: 2 },
      { Status: 'Successful', PercentageComplete: 100, InstancesToUpdate: 0 },
    ],
    ...world,
  };
  const t = testContext({
    mode: 'rollout',
    strategy: 'asg',
    'asg-name': ASG,
    'launch-template-name': LT_NAME,
    record: JSON.stringify(record),
    'visibility-timeout': '900',
    'poll-seconds': '30',
    ...raw,
  });
  const ec2 = mockClient(t.ctx.clients.ec2);
  const asg = mockClient(t.ctx.clients.autoscaling);
  const sqs = mockClient(t.ctx.clients.sqs);
  const ssm = mockClient(t.ctx.clients.ssm);
  stubRunningFleet(ec2, FLEET);
  ec2.on(CreateImageCommand).resolves({ ImageId: IMAGE });
  let imageReads = 0;
  ec2.on(DescribeImagesCommand).callsFake((input) => {
    if (input.Filters) return { Images: [] }; // no image of this name yet
    const state = w.imageStates[Math.min(imageReads++, w.imageStates.length - 1)];
    return {
      Images: [
        {
          ImageId: IMAGE,
          State: state,
          StateReason:
            state === 'failed'
              ? { Code: 'Client.InternalError', Message: 'snapshot creation failed' }
              : undefined,
          BlockDeviceMappings: [{ Ebs: { SnapshotId: 'snap-1' } }],
        },
      ],
    };
  });
  ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: 'snap-1', Progress: '57%' }] });
  // DescribeLaunchTemplates (API_LaunchTemplate): DefaultVersionNumber and LatestVersionNumber.
  let defaultVersion = 3;
  ec2.on(DescribeLaunchTemplatesCommand).callsFake(() => ({
    LaunchTemplates: [
      {
        LaunchTemplateId: LT_ID,
        LaunchTemplateName: LT_NAME,
        DefaultVersionNumber: defaultVersion,
        LatestVersionNumber: 4,
      },
    ],
  }));
  ec2.on(CreateLaunchTemplateVersionCommand).resolves({ LaunchTemplateVersion: { VersionNumber: 5 } });
  ec2.on(ModifyLaunchTemplateCommand).callsFake((input) => {
    defaultVersion = Number(input.DefaultVersion);
    return {};
  });
  // DescribeAutoScalingGroups (API_AutoScalingGroup): a group names either LaunchTemplate or a
  // MixedInstancesPolicy whose LaunchTemplate.LaunchTemplateSpecification names the template.
  asg.on(DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [
      asgGroup(ASG, {
        LaunchTemplate: w.mixedInstancesPolicy
          ? undefined
          : { LaunchTemplateId: LT_ID, LaunchTemplateName: LT_NAME, Version: w.groupVersion },
        MixedInstancesPolicy: w.mixedInstancesPolicy,
        Instances: FLEET.map((id) => asgInstance(id)),
      }),
    ],
  });
  asg.on(StartInstanceRefreshCommand).resolves({ InstanceRefreshId: REFRESH });
  let refreshReads = 0;
  asg.on(DescribeInstanceRefreshesCommand).callsFake(() => {
    w.onRefreshRead?.();
    const s = w.refreshStates[Math.min(refreshReads++, w.refreshStates.length - 1)];
    return { InstanceRefreshes: [{ InstanceRefreshId: REFRESH, AutoScalingGroupName: ASG, ...s }] };
  });
  asg.on(CancelInstanceRefreshCommand).resolves({ InstanceRefreshId: REFRESH });
  let visibility = 300;
  sqs
    .on(GetQueueAttributesCommand)
    .callsFake(() => ({ Attributes: { QueueArn: 'arn', VisibilityTimeout: String(visibility) } }));
  sqs.on(SetQueueAttributesCommand).callsFake((input) => {
    visibility = Number(input.Attributes.VisibilityTimeout);
    return {};
  });
  // The visibility-timeout intent tag (API_ListQueueTags, API_TagQueue).
  sqs.on(ListQueueTagsCommand).resolves({ Tags: {} });
  sqs.on(TagQueueCommand).resolves({});
  return { ...t, ec2, asg, sqs, ssm, world: w };
}

describe('rollout, strategy asg', () => {
  it('records the refresh as intended before StartInstanceRefresh is sent', async () => {
    const { ctx, asg, report } = setup();
    let atStart: DeploymentRecord | undefined;
    asg.on(StartInstanceRefreshCommand).callsFake(() => {
      atStart = JSON.parse(report.outputs.record as string) as DeploymentRecord;
      return { InstanceRefreshId: REFRESH };
    });
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('pass');
    expect(atStart?.settings.refresh).toEqual({ id: '', asgName: ASG, status: 'Starting' });
    expect(outcome.record.settings.refresh?.id).toBe(REFRESH);
  });

  it('images the canary, versions the template from the version the group pins, refreshes the group with it, then the queue', async () => {
    const { ctx, ec2, asg, sqs, ssm, report } = setup({
      'refresh-checkpoints': '50,100',
      'pause-seconds': '300',
    });
    const outcome = await rollout(ctx);
    expect(outcome.failure).toBeUndefined();
    expect(outcome.verdict).toBe('pass');

    expect(ec2.commandCalls(CreateImageCommand)[0].args[0].input).toMatchObject({
      InstanceId: CANARY,
      Name: `emergency-deploy-${DEPLOYMENT}`,
      NoReboot: true,
    });
    // From the version the group launches (2), not the default (3): CreateLaunchTemplateVersion's
    // SourceVersion makes the new version inherit that version's launch parameters
    // (API_CreateLaunchTemplateVersion), so only the image changes for this group.
    expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)[0].args[0].input).toMatchObject({
      LaunchTemplateId: LT_ID,
      SourceVersion: '2',
      LaunchTemplateData: { ImageId: IMAGE },
    });
    // The default is shared with other groups and launches: a pinned group never moves it.
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)).toHaveLength(0);
    // The group pins a version: the refresh names the new one as its desired configuration
    // (API_StartInstanceRefresh, API_DesiredConfiguration), and AWS allows auto-rollback.
    expect(asg.commandCalls(StartInstanceRefreshCommand)[0].args[0].input).toEqual({
      AutoScalingGroupName: ASG,
      Strategy: 'Rolling',
      Preferences: {
        MinHealthyPercentage: 90,
        CheckpointPercentages: [50, 100],
        CheckpointDelay: 300,
        SkipMatching: true,
        AutoRollback: true,
      },
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: LT_ID, Version: '5' } },
    });
    // Nothing in place: no SSM command at all.
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);

    const s = outcome.record.settings;
    expect(s.image).toEqual({ id: IMAGE, sourceInstanceId: CANARY, state: 'available' });
    expect(s.launchTemplate).toEqual({
      id: LT_ID,
      name: LT_NAME,
      previousDefault: 3,
      newVersion: 5,
      sourceVersion: 2,
      groupVersion: '2',
      mixed: false,
      movedDefault: false,
    });
    expect(s.refresh).toMatchObject({
      id: REFRESH,
      asgName: ASG,
      status: 'Successful',
      percentComplete: 100,
      desired: 'launch-template',
    });
    expect(s.visibilityTimeout).toMatchObject({ before: 300, after: 900 });
    expect(sqs.commandCalls(SetQueueAttributesCommand)).toHaveLength(1);

    expect(report.lines).toContain(`image ${IMAGE}: pending, snapshot 57%, 0s elapsed`);
    expect(report.lines).toContain(
      `instance refresh ${REFRESH}: InProgress, 40% complete, 2 instance(s) to update`,
    );
    expect(outcome.summary).toContain(IMAGE);
    expect(outcome.summary).toContain('| Made from version | 2 |');
    expect(outcome.summary).toContain('| New version | 5 |');
    expect(outcome.summary).toContain('| Default version | 3 (not changed) |');
  });

  it('records the version a pinned group named, in the shape rollback reads to point it back', async () => {
    const { ctx, report } = setup();
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('pass');
    const written = parseRecord(report.outputs.record ?? '');
    expect(written.extra.rolloutAsg).toEqual({ groupVersion: '2' });
    expect(recordedGroupVersion(written.extra)).toEqual({ kind: 'pinned', version: '2' });
  });

  it('refreshes a group that pins a version inside a mixed instances policy through a MixedInstancesPolicy desired configuration, keeping its overrides', async () => {
    // API_MixedInstancesPolicy / API_LaunchTemplateOverrides as DescribeAutoScalingGroups returns them.
    const policy: MixedInstancesPolicy = {
      LaunchTemplate: {
        LaunchTemplateSpecification: { LaunchTemplateId: LT_ID, LaunchTemplateName: LT_NAME, Version: '2' },
        Overrides: [
          { InstanceType: 'c6i.large', WeightedCapacity: '1' },
          { InstanceType: 'c6i.xlarge', WeightedCapacity: '2' },
        ],
      },
      InstancesDistribution: {
        OnDemandBaseCapacity: 1,
        OnDemandPercentageAboveBaseCapacity: 50,
        SpotAllocationStrategy: 'price-capacity-optimized',
      },
    };
    const { ctx, asg, ec2 } = setup({}, { mixedInstancesPolicy: policy });
    const outcome = await rollout(ctx);
    expect(outcome.failure).toBeUndefined();
    expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)[0].args[0].input.SourceVersion).toBe('2');
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)).toHaveLength(0);
    // DesiredConfiguration accepts a MixedInstancesPolicy (API_DesiredConfiguration). The whole
    // policy is sent: an omitted InstancesDistribution falls back to defaults (API_MixedInstancesPolicy).
    // LaunchTemplateSpecification names the id or the name, not both (API_LaunchTemplateSpecification).
    expect(asg.commandCalls(StartInstanceRefreshCommand)[0].args[0].input).toEqual({
      AutoScalingGroupName: ASG,
      Strategy: 'Rolling',
      Preferences: { MinHealthyPercentage: 90, SkipMatching: true, AutoRollback: true },
      DesiredConfiguration: {
        MixedInstancesPolicy: {
          LaunchTemplate: {
            LaunchTemplateSpecification: { LaunchTemplateId: LT_ID, Version: '5' },
            Overrides: policy.LaunchTemplate?.Overrides,
          },
          InstancesDistribution: policy.InstancesDistribution,
        },
      },
    });
    expect(outcome.record.settings.launchTemplate).toMatchObject({ mixed: true, movedDefault: false });
    expect(outcome.record.settings.refresh?.desired).toBe('mixed-instances-policy');
    expect(recordedGroupVersion(outcome.record.extra)).toEqual({ kind: 'pinned', version: '2' });
  });

  it('refuses a mixed instances policy whose overrides launch from their own template or image, before changing anything', async () => {
    const policy: MixedInstancesPolicy = {
      LaunchTemplate: {
        LaunchTemplateSpecification: { LaunchTemplateId: LT_ID, LaunchTemplateName: LT_NAME, Version: '2' },
        Overrides: [
          { InstanceType: 'c6i.large' },
          {
            InstanceType: 'c7g.large',
            LaunchTemplateSpecification: { LaunchTemplateName: 'arm-lt', Version: '7' },
          },
        ],
      },
    };
    const { ctx, asg, ec2 } = setup({}, { mixedInstancesPolicy: policy });
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('fail');
    expect(outcome.failure).toBe(
      `Rollout refused: the mixed instances policy of ${ASG} launches c7g.large from launch template arm-lt version 7, which a new version of ${LT_NAME} does not reach; roll out with strategy ssm`,
    );
    expect(ec2.commandCalls(CreateImageCommand)).toHaveLength(0);
    expect(asg.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
  });

  it('lets a group that follows $Default pick up the new default, without a desired configuration', async () => {
    const { ctx, asg, ec2 } = setup({ 'image-no-reboot': 'false' }, { groupVersion: '$Default' });
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('pass');
    // Made from what $Default resolves to (DefaultVersionNumber 3), then made the default.
    expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)[0].args[0].input.SourceVersion).toBe('3');
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)[0].args[0].input).toEqual({
      LaunchTemplateId: LT_ID,
      DefaultVersion: '5',
    });
    expect(outcome.record.settings.launchTemplate).toMatchObject({
      previousDefault: 3,
      sourceVersion: 3,
      groupVersion: '$Default',
      movedDefault: true,
    });
    expect(outcome.record.settings.refresh?.desired).toBe('none');
    expect(outcome.summary).toContain('| Default version | 3 → 5 |');
    const start = asg.commandCalls(StartInstanceRefreshCommand)[0].args[0].input;
    expect(start.DesiredConfiguration).toBeUndefined();
    expect(start.Preferences).toEqual({ MinHealthyPercentage: 90 });
    expect(outcome.summary).toContain('off (the group follows a moving version)');
  });

  it('makes the version for a $Latest group from LatestVersionNumber and leaves the default alone', async () => {
    const { ctx, asg, ec2 } = setup({}, { groupVersion: '$Latest' });
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('pass');
    expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)[0].args[0].input.SourceVersion).toBe('4');
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)).toHaveLength(0);
    // A refresh of a $Latest group cannot be rolled back by AWS (API_RollbackInstanceRefresh).
    expect(
      asg.commandCalls(StartInstanceRefreshCommand)[0].args[0].input.DesiredConfiguration,
    ).toBeUndefined();
    expect(outcome.record.settings.launchTemplate).toMatchObject({ sourceVersion: 4, movedDefault: false });
  });

  it('refuses refresh checkpoints that do not end at 100, naming the input, before any AWS call', () => {
    // API_RefreshPreferences: "To replace all instances in the Auto Scaling group, the last number
    // in the array must be 100"; otherwise the refresh ends Successful at its last checkpoint.
    expect(() => setup({ 'refresh-checkpoints': '20,50' })).toThrow(
      "Input 'refresh-checkpoints' must end at 100 (ends at 50)",
    );
    expect(() => setup({ 'refresh-checkpoints': '100' })).not.toThrow();
  });

  it('passes NoReboot false when asked', async () => {
    const { ctx, ec2 } = setup({ 'image-no-reboot': 'false' });
    await rollout(ctx);
    expect(ec2.commandCalls(CreateImageCommand)[0].args[0].input.NoReboot).toBe(false);
  });

  it('fails on a failed image and changes nothing else', async () => {
    const { ctx, ec2, asg, sqs, report } = setup({}, { imageStates: ['pending', 'failed'] });
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('fail');
    expect(outcome.failure).toBe(
      `Rollout failed: image ${IMAGE} is failed (snapshot creation failed); the launch template and the group were not changed`,
    );
    expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)).toHaveLength(0);
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)).toHaveLength(0);
    expect(asg.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
    expect(sqs.commandCalls(SetQueueAttributesCommand)).toHaveLength(0);
    expect(parseRecord(report.outputs.record ?? '').settings.image).toMatchObject({
      id: IMAGE,
      state: 'failed',
    });
  });

  it('fails when the refresh fails, saying what rollback undoes; the queue is untouched', async () => {
    const { ctx, sqs, report } = setup(
      {},
      {
        refreshStates: [
          { Status: 'InProgress', PercentageComplete: 30 },
          {
            Status: 'RollbackSuccessful',
            PercentageComplete: 30,
            StatusReason: 'instances failed health checks',
          },
        ],
      },
    );
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('fail');
    expect(outcome.failure).toContain(
      `instance refresh ${REFRESH} of ${ASG} ended RollbackSuccessful: instances failed health checks.`,
    );
    expect(outcome.failure).toContain('Auto Scaling already rolled the group back');
    expect(outcome.failure).toContain(
      'the launch template default was not changed; rollback puts the instances the refresh replaced back on version 2',
    );
    expect(sqs.commandCalls(SetQueueAttributesCommand)).toHaveLength(0);
    const written = parseRecord(report.outputs.record ?? '');
    expect(written.settings.refresh).toMatchObject({ id: REFRESH, status: 'RollbackSuccessful' });
    expect(written.settings.launchTemplate).toMatchObject({
      previousDefault: 3,
      newVersion: 5,
      movedDefault: false,
    });
    expect(written.phases.at(-1)).toMatchObject({ mode: 'rollout', verdict: 'fail' });
  });

  it('a plain Failed refresh is a failure too', async () => {
    const { ctx } = setup(
      {},
      { groupVersion: '$Default', refreshStates: [{ Status: 'Failed', StatusReason: 'launch failed' }] },
    );
    const outcome = await rollout(ctx);
    expect(outcome.failure).toMatch(
      /ended Failed: launch failed\. rollback will restore the launch template default to version 3$/,
    );
  });

  it('cancelled while the refresh runs: the refresh is cancelled, the record written', async () => {
    const { ctx, asg, runtime, report, world } = setup(
      {},
      { refreshStates: [{ Status: 'InProgress', PercentageComplete: 20 }] },
    );
    world.onRefreshRead = () => runtime.cancel();
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('fail');
    expect(outcome.failure).toMatch(/^Rollout cancelled: instance refresh .* was asked to stop at 20%/);
    expect(asg.commandCalls(CancelInstanceRefreshCommand)).toHaveLength(1);
    expect(parseRecord(report.outputs.record ?? '').settings.refresh?.status).toBe('Cancelling');
  });

  it('gives up following a refresh after a bounded wait, leaving it running', async () => {
    const { ctx, runtime } = setup({}, { refreshStates: [{ Status: 'InProgress', PercentageComplete: 50 }] });
    const outcome = await rollout(ctx);
    expect(outcome.failure).toMatch(/is still InProgress after 5h 0m \(left running\)/);
    expect(runtime.clock.sleeps.filter((ms) => ms === 30_000).length).toBe(600);
  });

  it('a rerun follows the refresh it started instead of making another image, version or refresh', async () => {
    const record = canaryRecord();
    record.settings.image = { id: IMAGE, sourceInstanceId: CANARY, state: 'available' };
    record.settings.launchTemplate = { id: LT_ID, name: LT_NAME, previousDefault: 3, newVersion: 5 };
    record.settings.refresh = { id: REFRESH, asgName: ASG, status: 'InProgress' };
    const { ctx, ec2, asg } = setup({}, { imageStates: ['available'] }, record);
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('pass');
    expect(ec2.commandCalls(CreateImageCommand)).toHaveLength(0);
    expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)).toHaveLength(0);
    expect(asg.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
    expect(outcome.record.settings.launchTemplate?.previousDefault).toBe(3);
  });

  it('a rerun keeps the group version saved by the first run, for rollback', async () => {
    const record = canaryRecord();
    record.settings.image = { id: IMAGE, sourceInstanceId: CANARY, state: 'available' };
    record.settings.launchTemplate = { id: LT_ID, name: LT_NAME, previousDefault: 3, newVersion: 5 };
    record.settings.refresh = { id: REFRESH, asgName: ASG, status: 'InProgress' };
    record.extra.rolloutAsg = { groupVersion: '1' };
    const { ctx } = setup({}, { imageStates: ['available'] }, record);
    const outcome = await rollout(ctx);
    expect(outcome.record.extra.rolloutAsg).toEqual({ groupVersion: '1' });
  });

  it('dry-run describes the steps and sends nothing that changes anything', async () => {
    const { ctx, ec2, asg, sqs, report } = setup({ 'dry-run': 'true' });
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('pass');
    expect(ec2.commandCalls(CreateImageCommand)).toHaveLength(0);
    expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)).toHaveLength(0);
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)).toHaveLength(0);
    expect(asg.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
    expect(sqs.commandCalls(SetQueueAttributesCommand)).toHaveLength(0);
    expect(
      report.lines.some(
        (l) =>
          l.startsWith('would create a version of launch template') &&
          l.includes(`from version 2 (the version ${ASG} pins)`),
      ),
    ).toBe(true);
    expect(outcome.summary).toContain('auto-rollback on');
  });

  it('refuses a group that does not use the named launch template', async () => {
    const { ctx, asg, ec2 } = setup({ 'launch-template-name': 'other-template' });
    ec2.on(DescribeLaunchTemplatesCommand).resolves({
      LaunchTemplates: [
        { LaunchTemplateId: 'lt-0other', LaunchTemplateName: 'other-template', DefaultVersionNumber: 1 },
      ],
    });
    const outcome = await rollout(ctx);
    expect(outcome.failure).toBe(
      `Rollout refused: Auto Scaling group ${ASG} uses launch template ${LT_NAME}, not other-template`,
    );
    expect(ec2.commandCalls(CreateImageCommand)).toHaveLength(0);
    expect(asg.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
  });
});
