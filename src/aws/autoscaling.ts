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
  type DesiredConfiguration,
  type MixedInstancesPolicy,
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

/**
 * An instance type of a mixed instances policy that launches from something other than the
 * policy's launch template: its own launch template (LaunchTemplateOverrides.LaunchTemplateSpecification)
 * or its own AMI (LaunchTemplateOverrides.ImageId). A new version of the policy's template does not
 * reach it. (API_LaunchTemplateOverrides)
 */
export interface OwnLaunchOverride {
  /** The instance type, or "instance requirements" for an attribute-based override. */
  what: string;
  launches: string;
}

export interface GroupInfo {
  name: string;
  desired: number;
  instanceIds: string[];
  /**
   * The launch template version each member was launched from, as DescribeAutoScalingGroups
   * reports it (API_Instance LaunchTemplate); absent where it reports none.
   */
  instanceVersions: Map<string, string | undefined>;
  launchTemplate?: GroupLaunchTemplate;
  launchConfigurationName?: string;
  /**
   * The group's mixed instances policy exactly as DescribeAutoScalingGroups returns it, so that a
   * desired configuration or an update can carry its overrides and distribution unchanged
   * (omitted InstancesDistribution properties would fall back to their defaults: API_MixedInstancesPolicy).
   */
  mixedInstancesPolicy?: MixedInstancesPolicy;
}

/** Overrides of a mixed instances policy that do not launch from the policy's launch template. */
export function ownLaunchOverrides(policy: MixedInstancesPolicy | undefined): OwnLaunchOverride[] {
  const out: OwnLaunchOverride[] = [];
  for (const o of policy?.LaunchTemplate?.Overrides ?? []) {
    const what = o.InstanceType ?? 'instance requirements';
    const lt = o.LaunchTemplateSpecification;
    if (lt) {
      out.push({
        what,
        launches: `launch template ${lt.LaunchTemplateName ?? lt.LaunchTemplateId ?? '?'} version ${lt.Version ?? '$Default'}`,
      });
    } else if (o.ImageId) {
      out.push({ what, launches: `image ${o.ImageId}` });
    }
  }
  return out;
}

/**
 * The policy with its launch template pointed at one version (by id: a LaunchTemplateSpecification
 * names the id or the name, not both: API_LaunchTemplateSpecification). Overrides and the
 * instances distribution are kept as they are.
 */
export function policyWithVersion(
  policy: MixedInstancesPolicy,
  launchTemplateId: string,
  version: string,
): MixedInstancesPolicy {
  return {
    ...policy,
    LaunchTemplate: {
      ...policy.LaunchTemplate,
      LaunchTemplateSpecification: { LaunchTemplateId: launchTemplateId, Version: version },
    },
  };
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
    instanceVersions: new Map(
      (g.Instances ?? [])
        .filter((i) => i.InstanceId)
        .map((i) => [i.InstanceId as string, i.LaunchTemplate?.Version]),
    ),
    launchTemplate: spec
      ? { id: spec.LaunchTemplateId, name: spec.LaunchTemplateName, version: spec.Version, mixed: !direct }
      : undefined,
    launchConfigurationName: g.LaunchConfigurationName,
    mixedInstancesPolicy: g.MixedInstancesPolicy,
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
   * The configuration to converge on (API_DesiredConfiguration: a LaunchTemplate or a
   * MixedInstancesPolicy). Required for auto-rollback and for skipping instances that already
   * match; absent when the group follows `$Default`/`$Latest` (it picks the new version up itself).
   * On success Auto Scaling saves it as the group's configuration (API_StartInstanceRefresh).
   */
  desired?: DesiredRefreshConfig;
  autoRollback: boolean;
}

export type DesiredRefreshConfig =
  | { kind: 'launch-template'; launchTemplateId: string; version: string }
  | {
      kind: 'mixed-instances-policy';
      launchTemplateId: string;
      version: string;
      policy: MixedInstancesPolicy;
    };

export function desiredConfiguration(d: DesiredRefreshConfig | undefined): DesiredConfiguration | undefined {
  if (!d) return undefined;
  if (d.kind === 'launch-template') {
    return { LaunchTemplate: { LaunchTemplateId: d.launchTemplateId, Version: d.version } };
  }
  return { MixedInstancesPolicy: policyWithVersion(d.policy, d.launchTemplateId, d.version) };
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
          DesiredConfiguration: desiredConfiguration(r.desired),
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

/**
 * The id of the group's refresh that has not ended, if any. DescribeInstanceRefreshes without ids
 * lists the group's refreshes of the last six weeks, newest first (API_DescribeInstanceRefreshes);
 * a group runs at most one refresh at a time, so the newest is the only one that can be running.
 */
export async function findRunningRefresh(
  api: AwsApi,
  clients: AwsClients,
  asgName: string,
): Promise<string | undefined> {
  const out = await api.call('autoscaling:DescribeInstanceRefreshes', () =>
    clients.autoscaling.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: asgName, MaxRecords: 1 }),
    ),
  );
  const newest = out.InstanceRefreshes?.[0];
  if (!newest?.InstanceRefreshId || isTerminalRefresh(newest.Status ?? 'Pending')) return undefined;
  return newest.InstanceRefreshId;
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
 * Points a group at one version of its launch template. Only the launch template is sent: sizes,
 * policies and instances are left as they are, and running instances keep the configuration they
 * were launched with. A group with a mixed instances policy gets its policy back as read, with only
 * the policy's launch template version changed, so its overrides and distribution stay.
 */
export async function setGroupLaunchTemplateVersion(
  api: AwsApi,
  clients: AwsClients,
  asgName: string,
  launchTemplate: { id: string; version: string },
  mixedInstancesPolicy?: MixedInstancesPolicy,
): Promise<void> {
  await api.call('autoscaling:UpdateAutoScalingGroup', () =>
    clients.autoscaling.send(
      new UpdateAutoScalingGroupCommand(
        mixedInstancesPolicy
          ? {
              AutoScalingGroupName: asgName,
              MixedInstancesPolicy: policyWithVersion(
                mixedInstancesPolicy,
                launchTemplate.id,
                launchTemplate.version,
              ),
            }
          : {
              AutoScalingGroupName: asgName,
              LaunchTemplate: { LaunchTemplateId: launchTemplate.id, Version: launchTemplate.version },
            },
      ),
    ),
  );
}

export interface GroupMember {
  /** Required in API_Instance; absent only from an answer that left it out (then not judged on it). */
  lifecycle?: string;
  launchTemplateVersion?: string;
}

/**
 * The group's members by instance id (DescribeAutoScalingGroups Instances[]: LifecycleState and
 * LaunchTemplate.Version, API_Instance), or undefined when no group has that name.
 */
export async function describeGroupMembers(
  api: AwsApi,
  clients: AwsClients,
  asgName: string,
): Promise<Map<string, GroupMember> | undefined> {
  const out = await api.call('autoscaling:DescribeAutoScalingGroups', () =>
    clients.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [asgName] })),
  );
  const group = out.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === asgName);
  if (!group) return undefined;
  const members = new Map<string, GroupMember>();
  for (const i of group.Instances ?? []) {
    if (!i.InstanceId) continue;
    members.set(i.InstanceId, {
      lifecycle: i.LifecycleState,
      launchTemplateVersion: i.LaunchTemplate?.Version,
    });
  }
  return members;
}
