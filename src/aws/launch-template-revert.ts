// Undoing an Auto Scaling rollout, through the EC2 image/launch-template and Auto Scaling gateways:
// the launch template's default version back to the recorded one, and an instance refresh still
// running rolled back (or, when AWS cannot roll it back, cancelled). Template versions and images
// are never deleted, so the fix can be shipped again later.
import { refreshDecision, type SettingResult } from '../logic/rollback-plan.js';
import type { DeploymentRecord } from '../record.js';
import type { AwsApi } from './api.js';
import {
  cancelInstanceRefresh,
  describeInstanceRefresh,
  rollbackInstanceRefresh,
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
  const setting = `instance refresh ${refresh.id} of ${refresh.asgName}`;
  const base = { setting, baseline: 'none running', deployed: 'started' };
  let state: RefreshState | undefined;
  try {
    state = await describeInstanceRefresh(api, clients, refresh.asgName, refresh.id);
  } catch (e) {
    if (!/not known/.test(message(e))) return { ...base, action: 'failed', detail: message(e) };
  }
  const now = state
    ? `${state.status}${state.percentComplete !== undefined ? ` (${state.percentComplete}%)` : ''}`
    : 'not listed';
  const decision = refreshDecision(state?.status);
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
