// Undoing an Auto Scaling rollout, through the EC2 image/launch-template and Auto Scaling gateways:
// the launch template's default version back to the recorded one, an instance refresh still
// running rolled back (or, when AWS cannot roll it back, cancelled), and a group that the refresh
// left pinned to the new version pointed back at its earlier one. Template versions and images
// are never deleted, so the fix can be shipped again later.
import { groupVersionDecision, refreshDecision, type SettingResult } from '../logic/rollback-plan.js';
import type { DeploymentRecord } from '../record.js';
import type { AwsApi } from './api.js';
import {
  cancelInstanceRefresh,
  describeGroup,
  describeInstanceRefresh,
  rollbackInstanceRefresh,
  setGroupLaunchTemplateVersion,
  type RefreshState,
} from './autoscaling.js';
import type { AwsClients } from './clients.js';
import { describeLaunchTemplate, setDefaultLaunchTemplateVersion } from './ec2-images.js';

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

/**
 * Stops the recorded refresh if it is still replacing instances: a rollback puts the replaced
 * instances back on the previous configuration; AWS refuses that for some refreshes (e.g. one
 * without a desired configuration), and then a cancel at least stops further replacements.
 * A refresh that already ended is reported: the instances it launched are restored over SSM.
 */
export async function undoInstanceRefresh(
  api: AwsApi,
  clients: AwsClients,
  refresh: RecordedRefresh,
  dryRun: boolean,
): Promise<SettingResult> {
  // An empty id is the rollout's intent, written before StartInstanceRefresh: the job died before
  // the answer, so whatever refresh the group is running now is undone (none: 'already').
  const intended = refresh.id === '';
  const setting = `instance refresh ${intended ? '(being started)' : refresh.id} of ${refresh.asgName}`;
  const base = { setting, baseline: 'none running', deployed: 'started' };
  let state: RefreshState | undefined;
  try {
    if (!intended) state = await describeInstanceRefresh(api, clients, refresh.asgName, refresh.id);
  } catch (e) {
    if (!/not known/.test(message(e))) return { ...base, action: 'failed', detail: message(e) };
  }
  const now = state
    ? `${state.status}${state.percentComplete !== undefined ? ` (${state.percentComplete}%)` : ''}`
    : 'not listed';
  const decision = intended ? 'undo' : refreshDecision(state?.status);
  if (decision === 'already') return { ...base, now, action: 'already' };
  if (decision === 'follow-up') {
    return {
      ...base,
      now,
      action: 'already',
      detail:
        'the refresh is no longer running; the instances it launched hold the backup and are restored over SSM',
    };
  }
  if (dryRun) return { ...base, now, action: 'would undo' };
  try {
    await rollbackInstanceRefresh(api, clients, refresh.asgName);
    return { ...base, now: 'RollbackInProgress', action: 'rolled back' };
  } catch (e) {
    const name = errorName(e);
    if (name === 'ActiveInstanceRefreshNotFound') {
      return { ...base, now: 'ended', action: 'already', detail: 'it ended before rollback reached it' };
    }
    if (name !== 'IrreversibleInstanceRefresh') return { ...base, now, action: 'failed', detail: message(e) };
    try {
      await cancelInstanceRefresh(api, clients, refresh.asgName);
      return {
        ...base,
        now: 'Cancelling',
        action: 'cancelled',
        detail: `AWS could not roll it back (${message(e)}); cancelled, so no more instances are replaced`,
      };
    } catch (e2) {
      if (errorName(e2) === 'ActiveInstanceRefreshNotFound') {
        return { ...base, now: 'ended', action: 'already', detail: 'it ended before rollback reached it' };
      }
      return { ...base, now, action: 'failed', detail: message(e2) };
    }
  }
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
    await setGroupLaunchTemplateVersion(api, clients, asgName, { id: lt.id, version: recorded });
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
