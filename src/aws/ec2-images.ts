// EC2 images and launch templates, for strategy asg: an AMI of the canary (which runs the fix), a new
// launch template version made from the version the group launches with that image, and (for a
// group that follows $Default only) the default moved to it.
import {
  CreateImageCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeImagesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeSnapshotsCommand,
  ModifyLaunchTemplateCommand,
} from '@aws-sdk/client-ec2';
import type { Runtime } from '../runtime.js';
import type { AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

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
