// EC2 gateway, every EC2 call the action makes: the fleet (running instances matching the filters,
// every reservation and every page), the deployment tags and the instances a deployment tagged,
// instance states, and for strategy asg an AMI of the canary (which runs the fix), a new launch
// template version made from the version the group launches with that image, and (for a group
// that follows $Default only) the default moved to it.
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
  type Instance,
} from '@aws-sdk/client-ec2';
import { TAG_ARTIFACT_SHA256, TAG_BACKUP_PATH, TAG_DEPLOYMENT_ID } from '../constants.js';
import type { FleetInstance, FleetMemberNow, TaggedInstance } from '../observed.js';
import type { Runtime } from '../runtime.js';
import { pages, type AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

// ---------------------------------------------------------------------------------------------
// Instances

/** Every state an instance can still hold its disk in: rollback looks at all but terminated. */
export const NOT_TERMINATED = ['pending', 'running', 'shutting-down', 'stopping', 'stopped'];
// EC2 accepts up to 200 values in one filter.
const FILTER_VALUES_MAX = 200;
const RUNNING: Filter = { Name: 'instance-state-name', Values: ['running'] };

/** Every instance matching the filters: every reservation of every page (the runbook read only Reservations[0]). */
async function describeInstances(api: AwsApi, clients: AwsClients, filters: Filter[]): Promise<Instance[]> {
  const all: Instance[] = [];
  for await (const out of pages('ec2:DescribeInstances', (NextToken) =>
    api.call('ec2:DescribeInstances', () =>
      clients.ec2.send(new DescribeInstancesCommand({ Filters: filters, MaxResults: 1000, NextToken })),
    ),
  )) {
    for (const reservation of out.Reservations ?? []) all.push(...(reservation.Instances ?? []));
  }
  return all;
}

function tag(instance: Instance, key: string): string | undefined {
  return instance.Tags?.find((t) => t.Key === key)?.Value;
}

/** The filter already asks for running; the state check guards against an API that ignores it. */
function isRunning(i: Instance): i is Instance & { InstanceId: string } {
  return !!i.InstanceId && !(i.State?.Name && i.State.Name !== 'running');
}

/** Running instances matching the filters (fleet discovery). */
export async function describeRunningInstances(
  api: AwsApi,
  clients: AwsClients,
  filters: Filter[],
): Promise<FleetInstance[]> {
  const instances = await describeInstances(api, clients, [...filters, RUNNING]);
  return instances.filter(isRunning).map((i) => ({
    id: i.InstanceId,
    privateIp: i.PrivateIpAddress,
    zone: i.Placement?.AvailabilityZone,
    launchTime: i.LaunchTime ? new Date(i.LaunchTime).toISOString() : undefined,
    name: tag(i, 'Name'),
  }));
}

/** Running instances matching the filters, for verify: each once, with its image and deployment tag. */
export async function describeFleetNow(
  api: AwsApi,
  clients: AwsClients,
  filters: Filter[],
): Promise<FleetMemberNow[]> {
  const found = new Map<string, FleetMemberNow>();
  for (const i of (await describeInstances(api, clients, [...filters, RUNNING])).filter(isRunning)) {
    found.set(i.InstanceId, {
      id: i.InstanceId,
      imageId: i.ImageId,
      deploymentTag: tag(i, TAG_DEPLOYMENT_ID),
    });
  }
  return [...found.values()];
}

/**
 * Instances tagged with this deployment id, in any state but terminated, with their backup-path
 * tag. The deployment writes both tags before it replaces a file, so these are the instances it
 * may have touched even when its record was never written.
 */
export async function findInstancesTaggedFor(
  api: AwsApi,
  clients: AwsClients,
  deploymentId: string,
): Promise<TaggedInstance[]> {
  const instances = await describeInstances(api, clients, [
    { Name: `tag:${TAG_DEPLOYMENT_ID}`, Values: [deploymentId] },
    { Name: 'instance-state-name', Values: NOT_TERMINATED },
  ]);
  const found = new Map<string, TaggedInstance>();
  for (const i of instances) {
    const state = i.State?.Name ?? 'unknown';
    // The filters already say so; the checks guard against an API that ignores a filter.
    if (!i.InstanceId || state === 'terminated' || tag(i, TAG_DEPLOYMENT_ID) !== deploymentId) continue;
    found.set(i.InstanceId, {
      id: i.InstanceId,
      state,
      backupPath: tag(i, TAG_BACKUP_PATH),
      artifactSha256: tag(i, TAG_ARTIFACT_SHA256),
    });
  }
  return [...found.values()];
}

/**
 * The current state of each instance id, terminated included; ids EC2 no longer knows are absent
 * from the map. A filter on instance-id (not InstanceIds) keeps one vanished id from failing the
 * whole call.
 */
export async function describeInstanceStates(
  api: AwsApi,
  clients: AwsClients,
  ids: string[],
): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  for (let i = 0; i < ids.length; i += FILTER_VALUES_MAX) {
    const chunk = ids.slice(i, i + FILTER_VALUES_MAX);
    const instances = await describeInstances(api, clients, [{ Name: 'instance-id', Values: chunk }]);
    for (const inst of instances) {
      if (inst.InstanceId && chunk.includes(inst.InstanceId)) {
        states.set(inst.InstanceId, inst.State?.Name ?? 'unknown');
      }
    }
  }
  return states;
}

/** Tags instances (up to 1,000 ids per call, as EC2 allows). */
export async function tagInstances(
  api: AwsApi,
  clients: AwsClients,
  ids: string[],
  tags: Record<string, string>,
): Promise<void> {
  const Tags = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
  for (let i = 0; i < ids.length; i += 1000) {
    const Resources = ids.slice(i, i + 1000);
    await api.call('ec2:CreateTags', () => clients.ec2.send(new CreateTagsCommand({ Resources, Tags })));
  }
}

// ---------------------------------------------------------------------------------------------
// Images and launch templates (strategy asg)

export interface ImageState {
  id: string;
  name?: string;
  /** pending | available | failed | error | invalid | deregistered | … */
  state: string;
  reason?: string;
  snapshotIds: string[];
}

export interface CreateImageRequest {
  instanceId: string;
  /** Unique in the account and region: the deployment id makes a rerun find its own image. */
  name: string;
  description: string;
  noReboot: boolean;
  tags: Record<string, string>;
}

export async function createImage(api: AwsApi, clients: AwsClients, r: CreateImageRequest): Promise<string> {
  const Tags = Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value }));
  const out = await api.call('ec2:CreateImage', () =>
    clients.ec2.send(
      new CreateImageCommand({
        InstanceId: r.instanceId,
        Name: r.name,
        Description: r.description.slice(0, 255),
        NoReboot: r.noReboot,
        TagSpecifications: [
          { ResourceType: 'image', Tags },
          { ResourceType: 'snapshot', Tags },
        ],
      }),
    ),
  );
  if (!out.ImageId) throw new Error('ec2:CreateImage returned no image id');
  return out.ImageId;
}

function toImageState(i: {
  ImageId?: string;
  Name?: string;
  State?: string;
  StateReason?: { Message?: string; Code?: string };
  BlockDeviceMappings?: { Ebs?: { SnapshotId?: string } }[];
}): ImageState {
  return {
    id: i.ImageId ?? '',
    name: i.Name,
    state: i.State ?? 'pending',
    reason: i.StateReason?.Message ?? i.StateReason?.Code,
    snapshotIds: (i.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId ?? '').filter((s) => s !== ''),
  };
}

/** An image this account owns with exactly this name (a rerun reuses it instead of making another). */
export async function findOwnImageByName(
  api: AwsApi,
  clients: AwsClients,
  name: string,
): Promise<ImageState | undefined> {
  const out = await api.call('ec2:DescribeImages', () =>
    clients.ec2.send(
      new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: [name] }] }),
    ),
  );
  const found = (out.Images ?? []).find((i) => i.Name === name && i.State !== 'deregistered');
  return found ? toImageState(found) : undefined;
}

export async function describeImage(api: AwsApi, clients: AwsClients, imageId: string): Promise<ImageState> {
  const out = await api.call('ec2:DescribeImages', () =>
    clients.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] })),
  );
  const found = (out.Images ?? []).find((i) => i.ImageId === imageId);
  // Right after CreateImage the image may not be visible yet (eventual consistency).
  return found ? toImageState(found) : { id: imageId, state: 'pending', snapshotIds: [] };
}

/** The least-advanced snapshot's progress ("0%" to "100%"), when EC2 reports one. */
async function snapshotProgress(
  api: AwsApi,
  clients: AwsClients,
  snapshotIds: string[],
): Promise<number | undefined> {
  if (snapshotIds.length === 0) return undefined;
  const out = await api.call('ec2:DescribeSnapshots', () =>
    clients.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds })),
  );
  const values = (out.Snapshots ?? [])
    .map((s) => Number.parseInt(s.Progress ?? '', 10))
    .filter((n) => Number.isFinite(n));
  return values.length > 0 ? Math.min(...values) : undefined;
}

const IMAGE_FAILED = new Set(['failed', 'error', 'invalid', 'deregistered', 'disabled']);

export interface ImageWaitOptions {
  pollMs: number;
  maxWaitMs: number;
  onProgress?: (state: ImageState, percent: number | undefined, elapsedMs: number) => void;
}

export interface ImageWaitResult {
  state: ImageState;
  /** available, failed (a failed state), timeout (still pending at our deadline) or cancelled. */
  outcome: 'available' | 'failed' | 'timeout' | 'cancelled';
}

/** Waits, bounded, for the image to become available, reporting snapshot progress as it goes. */
export async function waitForImage(
  api: AwsApi,
  clients: AwsClients,
  runtime: Runtime,
  imageId: string,
  opts: ImageWaitOptions,
): Promise<ImageWaitResult> {
  const start = runtime.clock.now().getTime();
  for (;;) {
    const state = await describeImage(api, clients, imageId);
    if (state.state === 'available') return { state, outcome: 'available' };
    if (IMAGE_FAILED.has(state.state)) return { state, outcome: 'failed' };
    // Progress is a nicety: a snapshot we may not read must not end the wait.
    const percent = await snapshotProgress(api, clients, state.snapshotIds).catch(() => undefined);
    const elapsed = runtime.clock.now().getTime() - start;
    opts.onProgress?.(state, percent, elapsed);
    if (runtime.cancelled()) return { state, outcome: 'cancelled' };
    if (elapsed >= opts.maxWaitMs) return { state, outcome: 'timeout' };
    await runtime.sleep(opts.pollMs);
  }
}

export interface LaunchTemplateInfo {
  id: string;
  name: string;
  defaultVersion: number;
  latestVersion: number;
}

export class LaunchTemplateNotFound extends Error {
  constructor(name: string) {
    super(`launch template ${name} does not exist (or this identity may not see it)`);
    this.name = 'LaunchTemplateNotFound';
  }
}

export async function describeLaunchTemplate(
  api: AwsApi,
  clients: AwsClients,
  name: string,
): Promise<LaunchTemplateInfo> {
  let out;
  try {
    out = await api.call('ec2:DescribeLaunchTemplates', () =>
      clients.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [name] })),
    );
  } catch (e) {
    const code = (e as { name?: string })?.name ?? '';
    if (code.startsWith('InvalidLaunchTemplateName') || code.startsWith('InvalidLaunchTemplateId')) {
      throw new LaunchTemplateNotFound(name);
    }
    throw e;
  }
  const t = out.LaunchTemplates?.find((x) => x.LaunchTemplateName === name);
  if (!t?.LaunchTemplateId || t.DefaultVersionNumber === undefined) throw new LaunchTemplateNotFound(name);
  return {
    id: t.LaunchTemplateId,
    name,
    defaultVersion: t.DefaultVersionNumber,
    latestVersion: t.LatestVersionNumber ?? t.DefaultVersionNumber,
  };
}

export interface NewTemplateVersionRequest {
  templateId: string;
  /**
   * The version the group launches (its pinned number, or what $Default / $Latest resolve to):
   * everything but the image is inherited from it (API_CreateLaunchTemplateVersion SourceVersion).
   */
  sourceVersion: number;
  imageId: string;
  description: string;
  /** Idempotency token: a rerun with the same token gets the same version back, not a new one. */
  clientToken: string;
}

export async function createLaunchTemplateVersion(
  api: AwsApi,
  clients: AwsClients,
  r: NewTemplateVersionRequest,
): Promise<number> {
  const out = await api.call('ec2:CreateLaunchTemplateVersion', () =>
    clients.ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: r.templateId,
        SourceVersion: String(r.sourceVersion),
        VersionDescription: r.description.slice(0, 255),
        LaunchTemplateData: { ImageId: r.imageId },
        ClientToken: r.clientToken.slice(0, 128),
      }),
    ),
  );
  const n = out.LaunchTemplateVersion?.VersionNumber;
  if (n === undefined) throw new Error('ec2:CreateLaunchTemplateVersion returned no version number');
  return n;
}

/** Sets the template's default version, by number (never `$Latest`). */
export async function setDefaultLaunchTemplateVersion(
  api: AwsApi,
  clients: AwsClients,
  templateId: string,
  version: number,
): Promise<void> {
  await api.call('ec2:ModifyLaunchTemplate', () =>
    clients.ec2.send(
      new ModifyLaunchTemplateCommand({ LaunchTemplateId: templateId, DefaultVersion: String(version) }),
    ),
  );
}
