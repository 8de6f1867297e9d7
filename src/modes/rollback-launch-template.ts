// Undoing an Auto Scaling rollout, through the EC2 image/launch-template and Auto Scaling gateways:
// the launch template's default version back to the recorded one (only when the rollout moved it),
// an instance refresh still running rolled back (or, when AWS cannot roll it back, cancelled), a
// group that the refresh left pinned to the new version pointed back at its earlier one, and the
// instances still on the new version replaced by a refresh back. Template versions and images are
// never deleted, so the fix can be shipped again later.
import {
  groupVersionDecision,
  refreshDecision,
  refreshReversible,
  type SettingResult,
} from '../logic/rollback-plan.js';
import type { Runtime } from '../runtime.js';
import type { DeploymentRecord, RecordExtra } from '../record.js';
import type { AwsApi } from '../aws/api.js';
import {
  findRunningRefresh,
  cancelInstanceRefresh,
  describeGroup,
  describeInstanceRefresh,
  isTerminalRefresh,
  RefreshAlreadyInProgress,
  rollbackInstanceRefresh,
  setGroupLaunchTemplateVersion,
  startInstanceRefresh,
  waitForInstanceRefresh,
  type DesiredRefreshConfig,
  type RefreshState,
} from '../aws/autoscaling.js';
import type { AwsClients } from '../aws/clients.js';
import { describeLaunchTemplate, setDefaultLaunchTemplateVersion } from '../aws/ec2.js';

type RecordedTemplate = NonNullable<DeploymentRecord['settings']['launchTemplate']>;
type RecordedRefresh = NonNullable<DeploymentRecord['settings']['refresh']>;

function errorName(e: unknown): string {
  // The SDK names some errors with a Fault suffix; the API's code is the bare name.
  return ((e as { name?: string })?.name ?? '').replace(/Fault$/, '');
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Puts the template's default version back to the one recorded before the rollout; reads it back. */
export async function revertLaunchTemplateDefault(
  api: AwsApi,
  clients: AwsClients,
  lt: RecordedTemplate,
  dryRun: boolean,
): Promise<SettingResult> {
  const setting = `launch template ${lt.name} default version`;
  const base = { setting, baseline: String(lt.previousDefault), deployed: String(lt.newVersion) };
  try {
    const current = await describeLaunchTemplate(api, clients, lt.name);
    if (current.defaultVersion === lt.previousDefault) {
      return { ...base, now: String(current.defaultVersion), action: 'already' };
    }
    const moved =
      current.defaultVersion === lt.newVersion
        ? undefined
        : `the default was ${current.defaultVersion}, not the deployment's ${lt.newVersion}: someone changed it since`;
    if (dryRun)
      return { ...base, now: String(current.defaultVersion), action: 'would restore', detail: moved };
    await setDefaultLaunchTemplateVersion(api, clients, current.id, lt.previousDefault);
    const after = await describeLaunchTemplate(api, clients, lt.name);
    if (after.defaultVersion !== lt.previousDefault) {
      return {
        ...base,
        now: String(after.defaultVersion),
        action: 'failed',
        detail: `set to ${lt.previousDefault}, but reads back ${after.defaultVersion}`,
      };
    }
    return { ...base, now: String(after.defaultVersion), action: 'restored', detail: moved };
  } catch (e) {
    return { ...base, action: 'failed', detail: message(e) };
  }
}

export interface RefreshWaitBounds {
  runtime: Runtime;
  pollMs: number;
  maxWaitMs: number;
}

export interface RefreshUndo {
  result: SettingResult;
  /**
   * Instances the refresh launched may still run the new image: it finished, failed, was
   * cancelled, or its rollback failed. They need a refresh back to the previous configuration.
   */
  instancesLeft: boolean;
  /** No refresh of the group is active any more, so another may be started. */
  settled: boolean;
}

function statusText(state: RefreshState | undefined): string {
  if (!state) return 'not listed';
  return `${state.status}${state.percentComplete !== undefined ? ` (${state.percentComplete}%)` : ''}`;
}

/**
 * Stops the recorded refresh if it is still replacing instances. A refresh started with a desired
 * configuration on a group that names a version number is rolled back: Auto Scaling replaces the
 * instances it launched with the previous configuration (RollbackInstanceRefresh). Any other is
 * cancelled (CancelInstanceRefresh): AWS refuses to roll back a refresh without a desired
 * configuration or of a group on $Latest/$Default (API_RollbackInstanceRefresh,
 * IrreversibleInstanceRefresh), and cancelling stops further replacements. Either is followed,
 * bounded, until it ends, so the instances left on the new image are known.
 */
export async function undoInstanceRefresh(
  api: AwsApi,
  clients: AwsClients,
  refresh: RecordedRefresh,
  dryRun: boolean,
  wait: RefreshWaitBounds,
): Promise<RefreshUndo> {
  // An empty id is the rollout's intent, written before StartInstanceRefresh: the job died before
  // the answer. The refresh the group is running now, if any, is the one it may have started;
  // with none running there is nothing of this deployment's to undo.
  if (refresh.id === '') {
    const running = await findRunningRefresh(api, clients, refresh.asgName);
    if (!running) {
      return {
        result: {
          setting: `instance refresh (being started) of ${refresh.asgName}`,
          baseline: 'none running',
          deployed: 'started',
          now: 'none running',
          action: 'already',
        },
        instancesLeft: false,
        settled: true,
      };
    }
    refresh = { ...refresh, id: running };
  }
  const setting = `instance refresh ${refresh.id} of ${refresh.asgName}`;
  const base = { setting, baseline: 'none running', deployed: 'started' };
  let state: RefreshState | undefined;
  try {
    state = await describeInstanceRefresh(api, clients, refresh.asgName, refresh.id);
  } catch (e) {
    if (!/not known/.test(message(e))) {
      return {
        result: { ...base, action: 'failed', detail: message(e) },
        instancesLeft: true,
        settled: false,
      };
    }
  }
  const follow = () =>
    waitForInstanceRefresh(api, clients, wait.runtime, refresh.asgName, refresh.id, {
      pollMs: wait.pollMs,
      maxWaitMs: wait.maxWaitMs,
    });
  const ended = (
    s: RefreshState | undefined,
    outcome: string,
    action: 'rolled back' | 'cancelled',
    why?: string,
  ): RefreshUndo => {
    const now = statusText(s);
    if (outcome !== 'terminal' || !s) {
      return {
        result: {
          ...base,
          now,
          action: 'failed',
          detail: `${action === 'rolled back' ? 'its rollback' : 'its cancellation'} is still ${s?.status ?? 'running'} after the bounded wait${outcome === 'cancelled' ? ' (this run was cancelled)' : ''}; run rollback again to follow it`,
        },
        instancesLeft: true,
        settled: false,
      };
    }
    if (s.status === 'RollbackSuccessful') {
      return {
        result: { ...base, now, action: 'rolled back', detail: why },
        instancesLeft: false,
        settled: true,
      };
    }
    if (s.status === 'Cancelled') {
      return {
        result: { ...base, now, action: 'cancelled', detail: why },
        instancesLeft: true,
        settled: true,
      };
    }
    // RollbackFailed, or a refresh that ended on its own first (Successful, Failed).
    return {
      result: {
        ...base,
        now,
        action: s.status === 'RollbackFailed' ? 'failed' : 'already',
        detail: `${s.status}${s.statusReason ? `: ${s.statusReason}` : ''}; the instances it launched are replaced by a refresh back to the previous configuration`,
      },
      instancesLeft: true,
      settled: true,
    };
  };

  const decision = refreshDecision(state?.status);
  const now = statusText(state);
  if (decision === 'already') {
    if (state?.status === 'RollbackSuccessful') {
      return { result: { ...base, now, action: 'already' }, instancesLeft: false, settled: true };
    }
    if (dryRun) {
      return {
        result: { ...base, now, action: 'already' },
        instancesLeft: state?.status === 'Cancelling',
        settled: false,
      };
    }
    // Cancelling or RollbackInProgress, by an earlier run or by Auto Scaling itself: followed.
    const w = await follow();
    const r = ended(w.state, w.outcome, state?.status === 'Cancelling' ? 'cancelled' : 'rolled back');
    if (r.result.action !== 'failed') r.result.action = 'already';
    return r;
  }
  if (decision === 'follow-up') {
    return {
      result: {
        ...base,
        now,
        action: 'already',
        detail:
          'the refresh is no longer running; the instances it launched are replaced by a refresh back to the previous configuration',
      },
      instancesLeft: state?.status !== 'RollbackSuccessful',
      settled: true,
    };
  }
  if (dryRun) return { result: { ...base, now, action: 'would undo' }, instancesLeft: true, settled: false };

  const cancel = async (why: string): Promise<RefreshUndo> => {
    try {
      await cancelInstanceRefresh(api, clients, refresh.asgName);
    } catch (e2) {
      if (errorName(e2) === 'ActiveInstanceRefreshNotFound') {
        const after = await follow();
        return ended(after.state, after.outcome, 'cancelled', 'it ended before rollback reached it');
      }
      return {
        result: { ...base, now, action: 'failed', detail: message(e2) },
        instancesLeft: true,
        settled: false,
      };
    }
    const w = await follow();
    return ended(w.state, w.outcome, 'cancelled', why);
  };

  if (refreshReversible(refresh.desired) === false) {
    return cancel(
      'Auto Scaling cannot roll back a refresh without a desired configuration (the group follows $Default or $Latest); cancelled, so no more instances are replaced',
    );
  }
  try {
    await rollbackInstanceRefresh(api, clients, refresh.asgName);
  } catch (e) {
    const name = errorName(e);
    if (name === 'ActiveInstanceRefreshNotFound') {
      const after = await follow();
      return ended(after.state, after.outcome, 'rolled back', 'it ended before rollback reached it');
    }
    if (name !== 'IrreversibleInstanceRefresh') {
      return {
        result: { ...base, now, action: 'failed', detail: message(e) },
        instancesLeft: true,
        settled: false,
      };
    }
    return cancel(`AWS could not roll it back (${message(e)}); cancelled, so no more instances are replaced`);
  }
  const w = await follow();
  return ended(w.state, w.outcome, 'rolled back');
}

/** What the group named before the rollout, from the record (typed field first, then the older extra). */
export function followedVersion(lt: RecordedTemplate, extra: RecordExtra): string {
  if (lt.groupVersion !== undefined) return lt.groupVersion;
  const v = extra.rolloutAsg?.groupVersion;
  // Records older than both always moved the default, for a group on $Default.
  return typeof v === 'string' ? v : '$Default';
}

export interface RevertRefreshRequest {
  asgName: string;
  lt: RecordedTemplate;
  /** What the group named before the rollout: a number, `$Default` or `$Latest`. */
  before: string;
  /** A refresh an earlier rollback run started, from the record. */
  known?: { id: string; asgName: string };
  minHealthyPercentage: number;
  dryRun: boolean;
  wait: RefreshWaitBounds;
  /** Called once the refresh is started, so the record names it before it is followed. */
  onStarted: (id: string) => void;
  onProgress?: (state: RefreshState) => void;
}

/**
 * Replaces the group's instances that still run the deployment's version with the previous
 * configuration, by a new instance refresh: a finished refresh cannot be rolled back, only
 * followed by another (instance-refresh-rollback). A group pinned to a version gets a desired
 * configuration naming that version with SkipMatching, so only the instances not on it are
 * replaced; a group on $Default gets a plain refresh once the default is back. Followed, bounded.
 */
export async function revertGroupInstances(
  api: AwsApi,
  clients: AwsClients,
  r: RevertRefreshRequest,
): Promise<SettingResult> {
  const setting = `instances of ${r.asgName} on version ${r.lt.newVersion}`;
  const base = { setting, baseline: `version ${r.before}`, deployed: `version ${r.lt.newVersion}` };
  if (!/^(?:[1-9][0-9]{0,9}|\$Default|\$Latest)$/.test(r.before)) {
    return {
      ...base,
      baseline: undefined,
      action: 'failed',
      detail: `the record's group version ${JSON.stringify(r.before).slice(0, 60)} is not a version number; not started`,
    };
  }
  try {
    const pinned = /^[0-9]+$/.test(r.before);
    if (r.known && r.known.asgName === r.asgName) {
      const state = await describeInstanceRefresh(api, clients, r.asgName, r.known.id).catch(() => undefined);
      if (state && state.status === 'Successful') {
        return { ...base, now: `refresh ${r.known.id} Successful`, action: 'already' };
      }
      if (state && !isTerminalRefresh(state.status)) {
        if (r.dryRun) return { ...base, now: `refresh ${r.known.id} ${state.status}`, action: 'already' };
        return await followRevert(api, clients, r, r.known.id, base);
      }
    }
    const group = await describeGroup(api, clients, r.asgName);
    if (!group) {
      return {
        ...base,
        now: 'no such group',
        action: 'needs follow-up',
        detail: `${r.asgName} no longer exists`,
      };
    }
    // DescribeAutoScalingGroups reports each member's launch template version (API_Instance): when
    // every member names a number and none names the deployment's, nothing runs the fix.
    const versions = group.instanceIds.map((id) => group.instanceVersions.get(id));
    const onNew = group.instanceIds.filter(
      (id) => group.instanceVersions.get(id) === String(r.lt.newVersion),
    );
    const allKnown = versions.every((v) => v !== undefined && /^[0-9]+$/.test(v));
    if (group.instanceIds.length === 0 || (allKnown && onNew.length === 0)) {
      return { ...base, now: `no member on version ${r.lt.newVersion}`, action: 'already' };
    }
    const now = allKnown
      ? `${onNew.length} of ${group.instanceIds.length} on version ${r.lt.newVersion}`
      : 'not known';
    if (r.before === '$Latest') {
      return {
        ...base,
        now,
        action: 'failed',
        detail: `the group follows $Latest, which is version ${r.lt.newVersion} with the fix, and rollback never deletes a template version: point ${r.asgName} at version ${r.lt.sourceVersion ?? 'the one before'} and start an instance refresh`,
      };
    }
    let desired: DesiredRefreshConfig | undefined;
    const groupNow = group.launchTemplate?.version ?? '$Default';
    if (pinned && groupNow !== r.before && groupNow !== String(r.lt.newVersion)) {
      // Someone pointed the group elsewhere since: a refresh back would overwrite that on success.
      return {
        ...base,
        now,
        action: 'needs follow-up',
        detail: `the group names version ${groupNow}, neither ${r.before} nor ${r.lt.newVersion}: changed since the rollout, so no refresh back was started`,
      };
    }
    if (pinned) {
      desired =
        group.launchTemplate?.mixed && group.mixedInstancesPolicy
          ? {
              kind: 'mixed-instances-policy',
              launchTemplateId: r.lt.id,
              version: r.before,
              policy: group.mixedInstancesPolicy,
            }
          : { kind: 'launch-template', launchTemplateId: r.lt.id, version: r.before };
    } else {
      // A plain refresh launches $Default: only once it is the version before the rollout again.
      const template = await describeLaunchTemplate(api, clients, r.lt.name);
      // A dry run has not put the default back yet; the real run does that first.
      if (r.dryRun) return { ...base, now, action: 'would restore', detail: 'once the default is back' };
      if (template.defaultVersion !== r.lt.previousDefault) {
        return {
          ...base,
          now,
          action: 'failed',
          detail: `the template's default is ${template.defaultVersion}, not ${r.lt.previousDefault}: a refresh now would launch it; not started`,
        };
      }
    }
    if (r.dryRun) return { ...base, now, action: 'would restore' };
    const id = await startInstanceRefresh(api, clients, {
      asgName: r.asgName,
      minHealthyPercentage: r.minHealthyPercentage,
      checkpointPercentages: [],
      checkpointDelaySeconds: 0,
      desired,
      autoRollback: false,
    });
    r.onStarted(id);
    return await followRevert(api, clients, r, id, base, `${now} when it started`);
  } catch (e) {
    if (e instanceof RefreshAlreadyInProgress) {
      return { ...base, action: 'failed', detail: `${e.message}; run rollback again once it ends` };
    }
    return { ...base, action: 'failed', detail: message(e) };
  }
}

async function followRevert(
  api: AwsApi,
  clients: AwsClients,
  r: RevertRefreshRequest,
  id: string,
  base: { setting: string; baseline: string; deployed: string },
  startedWith?: string,
): Promise<SettingResult> {
  const w = await waitForInstanceRefresh(api, clients, r.wait.runtime, r.asgName, id, {
    pollMs: r.wait.pollMs,
    maxWaitMs: r.wait.maxWaitMs,
    onProgress: r.onProgress,
  });
  r.onProgress?.(w.state);
  const now = `refresh ${id} ${statusText(w.state)}`;
  if (w.outcome === 'terminal' && w.state.status === 'Successful') {
    return { ...base, now, action: 'restored', detail: startedWith };
  }
  if (w.outcome !== 'terminal') {
    return {
      ...base,
      now,
      action: 'failed',
      detail: `still ${w.state.status} after the bounded wait${w.outcome === 'cancelled' ? ' (this run was cancelled)' : ''}; run rollback again to follow it`,
    };
  }
  return {
    ...base,
    now,
    action: 'failed',
    detail: `the refresh back ended ${w.state.status}${w.state.statusReason ? `: ${w.state.statusReason}` : ''}`,
  };
}

/**
 * A group that names a fixed launch template version is left on the deployment's new version by a
 * successful refresh (AWS adopts the refresh's desired configuration), so resetting the template's
 * default alone would still launch new instances with the fix. Points the group back at the
 * version recorded before the rollout, only while it names exactly the deployment's version, and
 * reads it back.
 */
export async function restoreGroupLaunchTemplateVersion(
  api: AwsApi,
  clients: AwsClients,
  asgName: string,
  lt: RecordedTemplate,
  recorded: string,
  dryRun: boolean,
): Promise<SettingResult> {
  const setting = `Auto Scaling group ${asgName} launch template version`;
  const base = { setting, baseline: recorded, deployed: String(lt.newVersion) };
  const stillLaunchesFix = `new instances of ${asgName} still launch from version ${lt.newVersion}, with the fix`;
  // Set once the group is known to name the deployment's version: from then on, a failure means
  // the group goes on launching the fix.
  let onDeployedVersion = false;
  let updated = false;
  let seen: string | undefined;
  try {
    const group = await describeGroup(api, clients, asgName);
    if (!group) {
      return {
        ...base,
        now: 'no such group',
        action: 'needs follow-up',
        detail: `Auto Scaling group ${asgName} no longer exists; nothing was changed`,
      };
    }
    const now = group.launchTemplate?.version ?? (group.launchTemplate ? '$Default' : 'no launch template');
    seen = now;
    const decision = groupVersionDecision({ recorded, template: lt, group: group.launchTemplate });
    if (decision.action === 'already') return { ...base, now, action: 'already' };
    if (decision.action === 'leave') return { ...base, now, action: 'needs follow-up', detail: decision.why };
    if (decision.action === 'refuse') {
      return { ...base, now, action: 'failed', detail: `${decision.why}; until then ${stillLaunchesFix}` };
    }
    if (dryRun) return { ...base, now, action: 'would restore' };
    onDeployedVersion = true;
    await setGroupLaunchTemplateVersion(
      api,
      clients,
      asgName,
      { id: lt.id, version: recorded },
      group.launchTemplate?.mixed ? group.mixedInstancesPolicy : undefined,
    );
    updated = true;
    const after = await describeGroup(api, clients, asgName);
    const afterVersion = after?.launchTemplate?.version ?? 'unknown';
    if (afterVersion !== recorded) {
      return {
        ...base,
        now: afterVersion,
        action: 'failed',
        detail: `set to ${recorded}, but reads back ${afterVersion}`,
      };
    }
    return { ...base, now: afterVersion, action: 'restored' };
  } catch (e) {
    const consequence = updated
      ? `version ${recorded} was set but could not be read back`
      : onDeployedVersion
        ? stillLaunchesFix
        : `whether ${asgName} still names version ${lt.newVersion} is not known`;
    return {
      ...base,
      now: updated ? undefined : seen,
      action: 'failed',
      detail: `${message(e)}; ${consequence}`,
    };
  }
}
