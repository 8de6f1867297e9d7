// Strategy asg: an AMI of the canary (which runs the fix), a launch template version made from the
// one the group launches with only the image changed, the default moved only for a group that
// follows $Default, and an instance refresh that replaces the group. Every change is written to
// the record before it is made, so rollback can undo a job killed at any moment.
import { formatSecondsShort } from '../../summary/time.js';
import { Input, TAG_DEPLOYMENT_ID } from '../../constants.js';
import { warn } from '../../context.js';
import {
  cancelInstanceRefresh,
  describeGroup,
  describeInstanceRefresh,
  isTerminalRefresh,
  ownLaunchOverrides,
  RefreshAlreadyInProgress,
  startInstanceRefresh,
  waitForInstanceRefresh,
  type DesiredRefreshConfig,
  type GroupInfo,
  type RefreshState,
} from '../../aws/autoscaling.js';
import {
  createImage,
  createLaunchTemplateVersion,
  describeImage,
  describeLaunchTemplate,
  findOwnImageByName,
  setDefaultLaunchTemplateVersion,
  waitForImage,
  type LaunchTemplateInfo,
} from '../../aws/ec2.js';
import { DeploymentFailure, errorMessage, InputError } from '../../errors.js';
import type { DeploymentRecord } from '../../record.js';
import type { AsgReport } from '../../summary/rollout.js';
import type { RolloutRun, RolloutStrategy } from './strategy.js';

// Bounds on the asg waits. An AMI of a worker's root volume takes minutes; a refresh with
// checkpoints waits an hour at each by default, and a GitHub job ends at 6 hours.
const IMAGE_POLL_MS = 15_000;
const IMAGE_MAX_WAIT_MS = 60 * 60_000;
const REFRESH_MAX_WAIT_MS = 5 * 60 * 60_000;

type LaunchTemplateRecord = NonNullable<DeploymentRecord['settings']['launchTemplate']>;
type DesiredKind = 'none' | 'launch-template' | 'mixed-instances-policy';

/** The group and template as found, and what the rollout will do with them. */
interface GroupTarget {
  group: GroupInfo;
  template: LaunchTemplateInfo;
  groupTemplate: NonNullable<GroupInfo['launchTemplate']>;
  /** What an earlier run of this deployment made of this template. */
  known?: LaunchTemplateRecord;
  /** The group names a version number (not $Default or $Latest). */
  pinned: boolean;
  /** The version the new one is made from: the one the group launches. */
  sourceVersion: number;
  previousDefault: number;
  /** Why the new version is made from the one it is made from (for the log). */
  sourceWhy: string;
  desiredKind: DesiredKind;
  imageName: string;
}

export const throughAutoScaling: RolloutStrategy = {
  async deploy(run) {
    const { inputs } = run.ctx;
    const asgName = inputs.asgName;
    const templateName = inputs.launchTemplateName;
    if (!asgName) throw new InputError(Input.AsgName, 'is required with strategy asg');
    if (!templateName) throw new InputError(Input.LaunchTemplateName, 'is required with strategy asg');
    const asg: AsgReport = { asgName, templateName, autoRollback: false, movesDefault: false, plan: [] };
    run.facts.asg = asg;

    const target = await inspectGroup(run, asg);
    if (typeof target === 'string') return target;
    const canaryId = run.record.canary?.instanceId;
    if (inputs.dryRun) {
      planOnly(run, { asg, target, canaryId });
      return undefined;
    }
    if (!canaryId) return 'Rollout refused: the record has no canary instance to make the image from';

    // 1. The image of the canary. A rerun finds the image it made before, by name.
    const imageFailure = await run.phase.step(`Image of the canary ${canaryId}`, () =>
      bakeImage(run, { asg, canaryId, imageName: target.imageName }),
    );
    if (imageFailure) return imageFailure;
    const imageId = asg.imageId as string;

    // 2. and 3. A new launch template version, and the default moved to it where the group follows it.
    const lt = await run.phase.step(`Launch template ${templateName}`, async () => {
      const made = await makeVersion(run, { asg, target, canaryId, imageId });
      await moveDefault(run, { asg, target, lt: made });
      return made;
    });

    // 4. The instance refresh: started once, followed until it ends.
    return run.phase.step(`Instance refresh of ${asgName}`, () =>
      refreshGroup(run, { asg, target, lt, imageId }),
    );
  },
};

/** The group, its launch template and the versions involved; a string is why the rollout refuses. */
async function inspectGroup(run: RolloutRun, asg: AsgReport): Promise<GroupTarget | string> {
  const { ctx, record } = run;
  const { api, clients } = ctx;
  const { asgName, templateName } = asg;
  const group = await describeGroup(api, clients, asgName);
  if (!group) return `Rollout failed: Auto Scaling group ${asgName} does not exist`;
  const template = await describeLaunchTemplate(api, clients, templateName);
  const groupTemplate = group.launchTemplate;
  const usesTemplate =
    groupTemplate && (groupTemplate.id === template.id || groupTemplate.name === templateName);
  if (!groupTemplate || !usesTemplate) {
    const uses = groupTemplate
      ? `launch template ${groupTemplate.name ?? groupTemplate.id}`
      : group.launchConfigurationName
        ? `launch configuration ${group.launchConfigurationName}`
        : 'no launch template';
    return `Rollout refused: Auto Scaling group ${asgName} uses ${uses}, not ${templateName}`;
  }
  if (groupTemplate.mixed) {
    // An override with its own launch template or AMI launches from that, not from the version made
    // here: those instance types would come back without the fix (API_LaunchTemplateOverrides).
    const own = ownLaunchOverrides(group.mixedInstancesPolicy);
    if (own.length > 0) {
      return `Rollout refused: the mixed instances policy of ${asgName} launches ${own.map((o) => `${o.what} from ${o.launches}`).join(', ')}, which a new version of ${templateName} does not reach; roll out with strategy ssm`;
    }
  }
  // Kept from the first run: a rerun after a successful refresh finds a pinned group already on the
  // new version, and both the new version's source and rollback need the version it had before.
  const known =
    record.settings.launchTemplate?.id === template.id ? record.settings.launchTemplate : undefined;
  const firstGroupVersion = record.extra.rolloutAsg?.groupVersion;
  asg.groupVersion =
    firstGroupVersion !== undefined && known
      ? firstGroupVersion
      : (known?.groupVersion ?? groupTemplate.version ?? '$Default');
  const pinned = /^[0-9]+$/.test(asg.groupVersion);
  // The group launches what it names: a pinned number, or what $Default / $Latest resolve to. The
  // new version carries that version's user data, instance type and network settings with only
  // the image changed (CreateLaunchTemplateVersion SourceVersion: the new version inherits the
  // source's launch parameters).
  const sourceVersion =
    known?.sourceVersion ??
    (pinned
      ? Number(asg.groupVersion)
      : asg.groupVersion === '$Latest'
        ? template.latestVersion
        : template.defaultVersion);
  asg.sourceVersion = sourceVersion;
  // Only a group that follows $Default is moved by the default; the default is shared by every
  // other group and launch of the template, so it is left alone otherwise. A pinned group gets the
  // new version through the refresh's desired configuration; $Latest names the new version anyway.
  asg.movesDefault = asg.groupVersion === '$Default';
  // Auto Scaling rolls a refresh back only when it names a desired configuration and the group a
  // version number (API_RollbackInstanceRefresh, instance-refresh-rollback).
  asg.autoRollback = pinned;
  record.extra.rolloutAsg ??= { groupVersion: asg.groupVersion };
  if (asg.groupVersion === '$Latest') {
    warn(
      ctx,
      record,
      `group ${asgName} follows $Latest: a launch template version made after ours would be rolled out instead, and rollback cannot take $Latest back without deleting a version (it never does)`,
    );
  }
  const previousDefault = known ? known.previousDefault : template.defaultVersion;
  asg.previousDefault = previousDefault;
  const sourceWhy = pinned
    ? `the version ${asgName} pins`
    : asg.groupVersion === '$Latest'
      ? `$Latest, which ${asgName} follows`
      : `the current default version, which ${asgName} follows`;
  return {
    group,
    template,
    groupTemplate,
    known,
    pinned,
    sourceVersion,
    previousDefault,
    sourceWhy,
    desiredKind: !pinned ? 'none' : groupTemplate.mixed ? 'mixed-instances-policy' : 'launch-template',
    imageName: `emergency-deploy-${record.deploymentId}`,
  };
}

/** dry-run: the steps that would run, logged and kept for the summary. */
function planOnly(
  run: RolloutRun,
  opts: { asg: AsgReport; target: GroupTarget; canaryId: string | undefined },
): void {
  const { inputs, report } = run.ctx;
  const { asg, target, canaryId } = opts;
  const { template, group, desiredKind } = target;
  const { asgName, templateName } = asg;
  asg.plan = [
    `create image ${target.imageName} from the canary ${canaryId ?? '(none in the record)'} with NoReboot ${inputs.imageNoReboot}, and wait up to ${formatSecondsShort(IMAGE_MAX_WAIT_MS / 1000)} for it`,
    `create a version of launch template ${templateName} (${template.id}) from version ${asg.sourceVersion} (${target.sourceWhy}) with the new image`,
    asg.movesDefault
      ? `set the new version as the default of ${templateName} (rollback restores version ${target.previousDefault})`
      : `leave the default version ${template.defaultVersion} of ${templateName} as it is (other groups and launches use it)`,
    `start an instance refresh of ${asgName} (${group.instanceIds.length} instance(s), group uses version ${asg.groupVersion}): MinHealthyPercentage ${inputs.minHealthyPercentage}` +
      `${inputs.refreshCheckpoints.length ? `, checkpoints ${inputs.refreshCheckpoints.join(',')}% with ${inputs.pauseSeconds}s delay` : ''}` +
      `${desiredKind === 'none' ? '' : `, desired configuration: the new version${desiredKind === 'mixed-instances-policy' ? ' in the mixed instances policy, overrides kept' : ''}`}` +
      `, auto-rollback ${asg.autoRollback ? 'on' : 'not available (the group follows ' + asg.groupVersion + ')'}`,
    `follow it every ${inputs.pollSeconds}s for up to ${formatSecondsShort(REFRESH_MAX_WAIT_MS / 1000)}`,
  ];
  for (const step of asg.plan) report.info(`would ${step}`);
}

async function bakeImage(
  run: RolloutRun,
  opts: { asg: AsgReport; canaryId: string; imageName: string },
): Promise<string | undefined> {
  const { ctx, record, publisher } = run;
  const { inputs, report, api, clients, runtime } = ctx;
  const { asg, canaryId, imageName } = opts;
  const known = record.settings.image;
  let image =
    known && known.sourceInstanceId === canaryId ? await describeImage(api, clients, known.id) : undefined;
  if (!image || image.state === 'deregistered' || image.id === '')
    image = await findOwnImageByName(api, clients, imageName);
  if (image) {
    report.info(
      `image ${image.id} (${imageName}) was made by an earlier run of this deployment: ${image.state}`,
    );
  } else {
    const id = await createImage(api, clients, {
      instanceId: canaryId,
      name: imageName,
      description: `emergency-deploy ${record.deploymentId}: canary ${canaryId} with the fix`,
      noReboot: inputs.imageNoReboot,
      tags: { [TAG_DEPLOYMENT_ID]: record.deploymentId, Name: imageName },
    });
    image = { id, state: 'pending', snapshotIds: [] };
    report.info(`image ${id} requested from the canary ${canaryId} (NoReboot ${inputs.imageNoReboot})`);
  }
  asg.imageId = image.id;
  record.settings.image = { id: image.id, sourceInstanceId: canaryId, state: image.state };
  publisher.write(true);

  const waited = await waitForImage(api, clients, runtime, image.id, {
    pollMs: IMAGE_POLL_MS,
    maxWaitMs: IMAGE_MAX_WAIT_MS,
    onProgress: (s, percent, elapsedMs) =>
      report.info(
        `image ${s.id}: ${s.state}${percent !== undefined ? `, snapshot ${percent}%` : ''}, ${formatSecondsShort(elapsedMs / 1000)} elapsed`,
      ),
  });
  asg.imageState = waited.state.state;
  record.settings.image.state = waited.state.state;
  publisher.write(true);
  if (waited.outcome === 'available') {
    report.info(`image ${image.id} is available`);
    return undefined;
  }
  const untouched = 'the launch template and the group were not changed';
  if (waited.outcome === 'cancelled')
    return `Rollout cancelled while image ${image.id} was ${waited.state.state}; ${untouched}`;
  if (waited.outcome === 'timeout') {
    return `Rollout failed: image ${image.id} is still ${waited.state.state} after ${formatSecondsShort(IMAGE_MAX_WAIT_MS / 1000)}; ${untouched} (a rerun picks the image up)`;
  }
  return `Rollout failed: image ${image.id} is ${waited.state.state}${waited.state.reason ? ` (${waited.state.reason})` : ''}; ${untouched}`;
}

/** A new launch template version from the one the group launches, with only the image changed. */
async function makeVersion(
  run: RolloutRun,
  opts: { asg: AsgReport; target: GroupTarget; canaryId: string; imageId: string },
): Promise<LaunchTemplateRecord> {
  const { ctx, record, publisher } = run;
  const { asg, target, canaryId, imageId } = opts;
  const { template, known } = target;
  const { templateName } = asg;
  let newVersion: number;
  if (known && known.newVersion > 0) {
    newVersion = known.newVersion;
    ctx.report.info(
      `launch template ${templateName}: version ${newVersion} was made by an earlier run of this deployment`,
    );
  } else {
    newVersion = await createLaunchTemplateVersion(ctx.api, ctx.clients, {
      templateId: template.id,
      sourceVersion: target.sourceVersion,
      imageId,
      description: `emergency-deploy ${record.deploymentId}: image ${imageId} of canary ${canaryId}`,
      clientToken: `${record.deploymentId}-${imageId}`,
    });
    record.settings.launchTemplate = {
      id: template.id,
      name: templateName,
      previousDefault: target.previousDefault,
      newVersion,
      sourceVersion: target.sourceVersion,
      groupVersion: asg.groupVersion,
      mixed: target.groupTemplate.mixed,
      movedDefault: false,
    };
    publisher.write(true);
    ctx.report.info(
      `launch template ${templateName}: version ${newVersion} made from version ${asg.sourceVersion} (${target.sourceWhy}) with ${imageId}`,
    );
  }
  asg.newVersion = newVersion;
  return record.settings.launchTemplate as LaunchTemplateRecord;
}

/**
 * For a group that follows $Default only: the new version becomes the default, by number. Written
 * as intended before the call, so a rollout killed during it still has it undone.
 */
async function moveDefault(
  run: RolloutRun,
  opts: { asg: AsgReport; target: GroupTarget; lt: LaunchTemplateRecord },
): Promise<void> {
  const { ctx } = run;
  const { asg, target, lt } = opts;
  const { template } = target;
  const newVersion = asg.newVersion as number;
  if (asg.movesDefault && template.defaultVersion !== newVersion) {
    lt.movedDefault = true;
    run.publisher.write(true);
    await setDefaultLaunchTemplateVersion(ctx.api, ctx.clients, template.id, newVersion);
    ctx.report.info(
      `launch template ${asg.templateName}: default version ${template.defaultVersion} → ${newVersion}`,
    );
  } else if (!asg.movesDefault) {
    ctx.report.info(
      `launch template ${asg.templateName}: default version ${template.defaultVersion} left as it is; ${asg.asgName} gets version ${newVersion} through the refresh`,
    );
  }
}

/** The refresh's desired configuration: the new version, for a group that names a version number. */
function desiredConfig(target: GroupTarget, newVersion: number): DesiredRefreshConfig | undefined {
  const { desiredKind, template, group } = target;
  if (desiredKind === 'launch-template')
    return { kind: 'launch-template', launchTemplateId: template.id, version: String(newVersion) };
  if (desiredKind === 'mixed-instances-policy' && group.mixedInstancesPolicy) {
    return {
      kind: 'mixed-instances-policy',
      launchTemplateId: template.id,
      version: String(newVersion),
      policy: group.mixedInstancesPolicy,
    };
  }
  return undefined;
}

/** Starts (or resumes) the instance refresh and follows it, bounded, until it ends. */
async function refreshGroup(
  run: RolloutRun,
  opts: { asg: AsgReport; target: GroupTarget; lt: LaunchTemplateRecord; imageId: string },
): Promise<string | undefined> {
  const { ctx, record, publisher } = run;
  const { inputs, report, api, clients, runtime } = ctx;
  const { asg, target, lt, imageId } = opts;
  const { asgName } = asg;
  const desired = desiredConfig(target, asg.newVersion as number);
  const refresh = await startOrResumeRefresh(run, { asg, group: target.group, desired });
  let lastLine = '';
  const waited = await waitForInstanceRefresh(api, clients, runtime, asgName, refresh, {
    pollMs: inputs.pollSeconds * 1000,
    maxWaitMs: REFRESH_MAX_WAIT_MS,
    onProgress: (s) => {
      noteRefresh(record, asg, s);
      const line = `instance refresh ${s.id}: ${s.status}, ${s.percentComplete ?? 0}% complete, ${s.instancesToUpdate ?? '?'} instance(s) to update`;
      if (line !== lastLine) report.info(line);
      lastLine = line;
      publisher.write();
    },
  });
  noteRefresh(record, asg, waited.state);
  publisher.write(true);
  const restore = lt.movedDefault
    ? `rollback will restore the launch template default to version ${target.previousDefault}`
    : `the launch template default was not changed; rollback puts the instances the refresh replaced back on version ${asg.groupVersion}`;
  if (waited.outcome === 'cancelled') {
    await cancelInstanceRefresh(api, clients, asgName).catch((e) =>
      warn(ctx, record, `could not cancel the instance refresh: ${errorMessage(e)}`),
    );
    noteRefresh(record, asg, { ...waited.state, status: 'Cancelling' });
    return `Rollout cancelled: instance refresh ${refresh} of ${asgName} was asked to stop at ${waited.state.percentComplete ?? 0}%; ${restore}`;
  }
  if (waited.outcome === 'timeout') {
    return `Rollout failed: instance refresh ${refresh} of ${asgName} is still ${waited.state.status} after ${formatSecondsShort(REFRESH_MAX_WAIT_MS / 1000)} (left running); ${restore}`;
  }
  if (waited.state.status !== 'Successful') {
    const why = waited.state.statusReason ? `: ${waited.state.statusReason}` : '';
    const selfRolledBack =
      waited.state.status === 'RollbackSuccessful'
        ? ' Auto Scaling already rolled the group back to its previous configuration;'
        : '';
    return `Rollout failed: instance refresh ${refresh} of ${asgName} ended ${waited.state.status}${why}.${selfRolledBack} ${restore}`;
  }
  report.info(`instance refresh ${refresh}: Successful; every instance of ${asgName} runs image ${imageId}`);
  return undefined;
}

function noteRefresh(record: DeploymentRecord, asg: AsgReport, s: RefreshState): void {
  asg.refreshStatus = s.status;
  asg.percentComplete = s.percentComplete;
  asg.instancesToUpdate = s.instancesToUpdate;
  asg.statusReason = s.statusReason;
  // Keeps what the start recorded (the desired configuration rollback decides by).
  record.settings.refresh = {
    ...record.settings.refresh,
    id: s.id,
    asgName: asg.asgName,
    status: s.status,
    percentComplete: s.percentComplete,
  };
}

/** Follows this deployment's refresh when an earlier run started one; starts it otherwise. */
async function startOrResumeRefresh(
  run: RolloutRun,
  opts: { asg: AsgReport; group: GroupInfo; desired: DesiredRefreshConfig | undefined },
): Promise<string> {
  const { ctx, record, publisher } = run;
  const { inputs, report, api, clients } = ctx;
  const { asg, group, desired } = opts;
  const known = record.settings.refresh;
  // An empty id is an intent a killed run left: whether that start took effect is unknown, and a
  // second start is refused (InstanceRefreshInProgress) while it runs.
  if (known && known.asgName === asg.asgName && known.id !== '') {
    const state = await describeInstanceRefresh(api, clients, asg.asgName, known.id);
    if (!isTerminalRefresh(state.status) || state.status === 'Successful') {
      report.info(
        `instance refresh ${known.id} was started by an earlier run of this deployment: ${state.status}`,
      );
      asg.refreshId = known.id;
      return known.id;
    }
  }
  let id: string;
  // Intent first: a job killed once StartInstanceRefresh is sent leaves rollback a refresh to undo.
  const before = record.settings.refresh;
  record.settings.refresh = { id: '', asgName: asg.asgName, status: 'Starting' };
  publisher.write(true);
  try {
    id = await startInstanceRefresh(api, clients, {
      asgName: asg.asgName,
      minHealthyPercentage: inputs.minHealthyPercentage,
      checkpointPercentages: inputs.refreshCheckpoints,
      checkpointDelaySeconds: inputs.pauseSeconds,
      desired,
      autoRollback: asg.autoRollback && desired !== undefined,
    });
  } catch (e) {
    // AWS said no: nothing was started (a refresh in progress is someone else's, left alone).
    if (before) record.settings.refresh = before;
    else delete record.settings.refresh;
    publisher.write(true);
    if (e instanceof RefreshAlreadyInProgress) {
      const changed = asg.movesDefault
        ? `The launch template default is now version ${asg.newVersion}; rollback will restore version ${asg.previousDefault}`
        : `The launch template default and the group were not changed`;
      throw new DeploymentFailure(
        `Rollout failed: ${e.message}, not started by this deployment; it was left alone. ${changed}`,
      );
    }
    throw e;
  }
  asg.refreshId = id;
  record.settings.refresh = { id, asgName: asg.asgName, status: 'Pending', desired: desired?.kind ?? 'none' };
  publisher.write(true);
  report.info(
    `instance refresh ${id} started on ${asg.asgName} (${group.instanceIds.length} instance(s)): MinHealthyPercentage ${inputs.minHealthyPercentage}, ` +
      `desired configuration ${desired ? `version ${desired.version}${desired.kind === 'mixed-instances-policy' ? ' in the mixed instances policy' : ''}` : 'none (the group follows ' + asg.groupVersion + ')'}, auto-rollback ${asg.autoRollback && desired ? 'on' : 'off'}`,
  );
  return id;
}
