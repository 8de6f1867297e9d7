// Auto Scaling gateway: the group's launch template, and instance refreshes (start, follow, cancel,
// roll back). The rollout mode starts and follows a refresh; rollback cancels or rolls it back, and
// points a group the refresh pinned to the new version back at the version it used before.
import {
  CancelInstanceRefreshCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  RollbackInstanceRefreshCommand,
  StartInstanceRefreshCommand,
  UpdateAutoScalingGroupCommand,
  type RefreshPreferences,
} from '@aws-sdk/client-auto-scaling';
import type { Runtime } from '../runtime.js';
import type { AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

export interface GroupLaunchTemplate {
  id?: string;
  name?: string;
  /** A version number, `$Default` or `$Latest`. */
  version?: string;
  /** The template comes from a mixed instances policy. */
  mixed: boolean;
}

export interface GroupInfo {
  name: string;
  desired: number;
  instanceIds: string[];
  launchTemplate?: GroupLaunchTemplate;
  launchConfigurationName?: string;
}

/** The group, or undefined when no group has that name. */
export async function describeGroup(
  api: AwsApi,
  clients: AwsClients,
  name: string,
): Promise<GroupInfo | undefined> {
  const out = await api.call('autoscaling:DescribeAutoScalingGroups', () =>
    clients.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] })),
  );
  const g = out.AutoScalingGroups?.find((x) => x.AutoScalingGroupName === name);
  if (!g) return undefined;
  const direct = g.LaunchTemplate;
  const mixed = g.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification;
  const spec = direct ?? mixed;
  return {
    name,
    desired: g.DesiredCapacity ?? 0,
    instanceIds: (g.Instances ?? []).map((i) => i.InstanceId ?? '').filter((id) => id !== ''),
    launchTemplate: spec
      ? { id: spec.LaunchTemplateId, name: spec.LaunchTemplateName, version: spec.Version, mixed: !direct }
      : undefined,
    launchConfigurationName: g.LaunchConfigurationName,
  };
}

export interface RefreshRequest {
  asgName: string;
  minHealthyPercentage: number;
  /** Increasing percentages; empty for none. */
  checkpointPercentages: number[];
  /** Seconds to wait at each checkpoint (the bake time). */
  checkpointDelaySeconds: number;
  /**
   * The configuration to converge on. Required for auto-rollback and for skipping instances that
   * already match; absent when the group follows `$Default`/`$Latest` (it picks the new default up).
   */
  desired?: { launchTemplateId: string; version: string };
  autoRollback: boolean;
}

export function refreshPreferences(r: RefreshRequest): RefreshPreferences {
  const prefs: RefreshPreferences = { MinHealthyPercentage: r.minHealthyPercentage };
  if (r.checkpointPercentages.length > 0) {
    prefs.CheckpointPercentages = r.checkpointPercentages;
    prefs.CheckpointDelay = r.checkpointDelaySeconds;
  }
  if (r.desired) {
    prefs.SkipMatching = true;
    // AWS allows auto-rollback only with a desired configuration naming a fixed version.
    if (r.autoRollback) prefs.AutoRollback = true;
  }
  return prefs;
}

export class RefreshAlreadyInProgress extends Error {
  constructor(asgName: string) {
    super(`an instance refresh is already in progress on Auto Scaling group ${asgName}`);
    this.name = 'RefreshAlreadyInProgress';
  }
}

export async function startInstanceRefresh(
  api: AwsApi,
  clients: AwsClients,
  r: RefreshRequest,
): Promise<string> {
  try {
    const out = await api.call('autoscaling:StartInstanceRefresh', () =>
      clients.autoscaling.send(
        new StartInstanceRefreshCommand({
          AutoScalingGroupName: r.asgName,
          Strategy: 'Rolling',
          Preferences: refreshPreferences(r),
          DesiredConfiguration: r.desired
            ? { LaunchTemplate: { LaunchTemplateId: r.desired.launchTemplateId, Version: r.desired.version } }
            : undefined,
        }),
      ),
    );
    if (!out.InstanceRefreshId) throw new Error('autoscaling:StartInstanceRefresh returned no refresh id');
    return out.InstanceRefreshId;
  } catch (e) {
    const name = (e as { name?: string })?.name ?? '';
    if (name === 'InstanceRefreshInProgressFault' || name === 'InstanceRefreshInProgress') {
      throw new RefreshAlreadyInProgress(r.asgName);
    }
    throw e;
  }
}

export interface RefreshState {
  id: string;
  status: string;
  statusReason?: string;
  percentComplete?: number;
  instancesToUpdate?: number;
}

const TERMINAL_REFRESH = new Set([
  'Successful',
  'Failed',
  'Cancelled',
  'RollbackSuccessful',
  'RollbackFailed',
]);

export function isTerminalRefresh(status: string): boolean {
  return TERMINAL_REFRESH.has(status);
}

export async function describeInstanceRefresh(
  api: AwsApi,
  clients: AwsClients,
  asgName: string,
  refreshId: string,
): Promise<RefreshState> {
  const out = await api.call('autoscaling:DescribeInstanceRefreshes', () =>
    clients.autoscaling.send(
      new DescribeInstanceRefreshesCommand({
        AutoScalingGroupName: asgName,
        InstanceRefreshIds: [refreshId],
      }),
    ),
  );
  const r = out.InstanceRefreshes?.find((x) => x.InstanceRefreshId === refreshId);
  if (!r) throw new Error(`instance refresh ${refreshId} of ${asgName} is not known to Auto Scaling`);
  return {
    id: refreshId,
    status: r.Status ?? 'Pending',
    statusReason: r.StatusReason,
    percentComplete: r.PercentageComplete,
    instancesToUpdate: r.InstancesToUpdate,
  };
}

export interface RefreshWaitOptions {
  pollMs: number;
  maxWaitMs: number;
  /** Called after every read, so the caller can log progress and keep the record current. */
  onProgress?: (state: RefreshState) => void;
}

export interface RefreshWaitResult {
  state: RefreshState;
  /** terminal: the refresh ended; timeout: still running at our deadline; cancelled: we were asked to stop. */
  outcome: 'terminal' | 'timeout' | 'cancelled';
}

/** Follows a refresh until it ends, the deadline passes, or the run is cancelled. Bounded. */
export async function waitForInstanceRefresh(
  api: AwsApi,
  clients: AwsClients,
  runtime: Runtime,
  asgName: string,
  refreshId: string,
  opts: RefreshWaitOptions,
): Promise<RefreshWaitResult> {
  const deadline = runtime.clock.now().getTime() + opts.maxWaitMs;
  for (;;) {
    const state = await describeInstanceRefresh(api, clients, asgName, refreshId);
    opts.onProgress?.(state);
    if (isTerminalRefresh(state.status)) return { state, outcome: 'terminal' };
    if (runtime.cancelled()) return { state, outcome: 'cancelled' };
    if (runtime.clock.now().getTime() >= deadline) return { state, outcome: 'timeout' };
    await runtime.sleep(opts.pollMs);
    if (runtime.cancelled()) return { state, outcome: 'cancelled' };
  }
}

/** Stops the group's refresh where it is; instances already replaced stay. Returns the refresh id. */
export async function cancelInstanceRefresh(
  api: AwsApi,
  clients: AwsClients,
  asgName: string,
): Promise<string | undefined> {
  const out = await api.call('autoscaling:CancelInstanceRefresh', () =>
    clients.autoscaling.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: asgName })),
  );
  return out.InstanceRefreshId;
}

/** Replaces the instances the refresh already replaced with the previous configuration. */
export async function rollbackInstanceRefresh(
  api: AwsApi,
  clients: AwsClients,
  asgName: string,
): Promise<string | undefined> {
  const out = await api.call('autoscaling:RollbackInstanceRefresh', () =>
    clients.autoscaling.send(new RollbackInstanceRefreshCommand({ AutoScalingGroupName: asgName })),
  );
  return out.InstanceRefreshId;
}

/**
 * Points a group that names its launch template directly (not through a mixed instances policy) at
 * one version of it. Only the launch template is sent: sizes, policies and instances are left as
 * they are, and running instances keep the configuration they were launched with.
 */
export async function setGroupLaunchTemplateVersion(
  api: AwsApi,
  clients: AwsClients,
  asgName: string,
  launchTemplate: { id: string; version: string },
): Promise<void> {
  await api.call('autoscaling:UpdateAutoScalingGroup', () =>
    clients.autoscaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: asgName,
        LaunchTemplate: { LaunchTemplateId: launchTemplate.id, Version: launchTemplate.version },
      }),
    ),
  );
}
