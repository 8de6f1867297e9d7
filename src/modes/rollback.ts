// The runbook's rollback, made exact: every instance this deployment touched gets its own backup
// back (never a `worker.py.backup.*` glob), its service restarted and checked; then the launch
// template's default version (when the rollout moved it), any instance refresh still running, the
// group's launch template version (when the refresh left it pinned to the new one), the instances
// still on the new version (a refresh back) and the queue's visibility timeout go back to what
// they were. Runs precisely when earlier phases failed: a NO-GO canary, a
// broken batch or a failed criterion is its reason, never a reason to refuse.
import { Input, Output, TAG_DEPLOYMENT_ID } from '../constants.js';
import { publishRecord, warn, type ModeContext, type ModeOutcome } from '../context.js';
import { InputError } from '../errors.js';
import { describeGroup } from '../aws/autoscaling.js';
import { describeInstanceStates, findInstancesTaggedFor } from '../aws/ec2.js';
import {
  followedVersion,
  restoreGroupLaunchTemplateVersion,
  revertGroupInstances,
  revertLaunchTemplateDefault,
  undoInstanceRefresh,
  type RefreshUndo,
  type RefreshWaitBounds,
} from './rollback-launch-template.js';
import { getQueueState } from '../aws/sqs.js';
import { listInvocations, type InvocationResult } from '../aws/ssm.js';
import { runOnFleet } from '../remote/fan-out.js';
import {
  classifyRestore,
  installNeverDelivered,
  isGone,
  planRollback,
  recordedGroupVersion,
  rollbackReasons,
  settingFailed,
  taggedArtifactSha256,
  type RestoreItem,
  type RollbackPlan,
  type RollbackTarget,
  type SettingResult,
} from '../logic/rollback-plan.js';
import {
  fitInstanceErrors,
  MAX_RECORD_BYTES,
  newInstanceEntry,
  newRecord,
  recordBytes,
  setInstall,
  setRollback,
  viewInstance,
  type DeploymentRecord,
  type InstanceEntry,
  type RollbackResult,
} from '../record.js';
import { buildRestoreScript } from '../remote/scripts.js';
import { notificationsSection, renderNotificationAfter } from '../summary/notifications.js';
import { countResults, renderRollbackSummary, type InstanceResult } from '../summary/rollback.js';
import { Phase } from './phase.js';
import {
  READ_BACK_INTERVAL_MS,
  READ_BACK_TRIES,
  readVisibilityIntent,
  setVisibilityTimeoutConfirmed,
  sourceQueueUrl,
} from './queues.js';

// Per-instance rollback errors repeat up to 5,000 times in the record: kept short there, in full
// in the summary.
const RECORD_ERROR_MAX = 80;
// A refresh rollback, cancel or refresh back is followed this long at most (a GitHub job ends at 6 h).
const REFRESH_MAX_WAIT_MS = 5 * 60 * 60_000;

/** What was deployed where: the record's target when there is a record, else the inputs. */
function rollbackTarget(ctx: ModeContext, record?: DeploymentRecord): RollbackTarget {
  if (record) {
    return {
      serviceName: record.target.serviceName,
      workerDir: record.target.workerDir,
      targetFile: record.target.targetFile,
    };
  }
  const { serviceName, workerDir, targetFile } = ctx.inputs;
  return { serviceName, workerDir, targetFile };
}

function startingRecord(ctx: ModeContext): DeploymentRecord {
  const { inputs } = ctx;
  if (inputs.record) return structuredClone(inputs.record);
  if (!inputs.deploymentId) {
    throw new InputError(
      Input.DeploymentId,
      `is required when no '${Input.Record}' is given: it names the deployment whose tagged instances are rolled back`,
    );
  }
  return newRecord({
    deploymentId: inputs.deploymentId,
    now: ctx.runtime.clock.now(),
    region: inputs.region,
    github: ctx.github,
    serviceName: inputs.serviceName,
    workerDir: inputs.workerDir,
    targetFile: inputs.targetFile,
  });
}

/** An entry for an instance the record did not list (found by its tag or its group). */
function foundEntry(record: DeploymentRecord, id: string): InstanceEntry {
  // Batch -1: it is not known; sent: it was marked for the fix, whether or not it got it.
  return newInstanceEntry({
    phase: record.canary?.instanceId === id ? 'canary' : 'rollout',
    batch: -1,
    status: 'sent',
    commandIndex: -1,
  });
}

export async function rollback(ctx: ModeContext): Promise<ModeOutcome> {
  const { inputs, report, api, clients, runtime } = ctx;
  const record = startingRecord(ctx);
  const fromRecord = inputs.record !== undefined;
  const deploymentId = record.deploymentId;
  const target = rollbackTarget(ctx, inputs.record);
  const phase = Phase.start(ctx, record, 'rollback', { dryRun: inputs.dryRun });
  const startedAt = phase.startedAt;
  const problems: string[] = [];
  const settings: SettingResult[] = [];
  // Earlier phases' warnings are theirs; the summary shows the ones this run raised.
  const earlierWarnings = record.warnings.length;

  const reasons = rollbackReasons(inputs.record, deploymentId);
  report.info(`Rollback Required: YES, deployment ${deploymentId}`);
  for (const r of reasons) report.info(`  reason: ${r}`);

  // What was touched: the record, and the fleet's own marks (tags written before any file was
  // replaced), so a record cut short by a dying job still finds every instance.
  const tagged = await phase.step(`Instances tagged ${TAG_DEPLOYMENT_ID}=${deploymentId}`, () =>
    findInstancesTaggedFor(api, clients, deploymentId),
  );
  const refresh = record.settings.refresh;
  let group: Awaited<ReturnType<typeof describeGroup>>;
  if (refresh) {
    try {
      group = await describeGroup(api, clients, refresh.asgName);
      if (!group) warn(ctx, record, `Auto Scaling group ${refresh.asgName} no longer exists`);
    } catch (e) {
      warn(ctx, record, `could not list the members of ${refresh.asgName}: ${(e as Error).message}`);
    }
  }
  const taggedIds = new Set(tagged.map((t) => t.id));
  const toDescribe = [...new Set([...Object.keys(record.instances), ...(group?.instanceIds ?? [])])].filter(
    (id) => !taggedIds.has(id),
  );
  const states = await describeInstanceStates(api, clients, toDescribe);
  const plan = planRollback({
    deploymentId,
    target,
    record: inputs.record,
    tagged,
    states,
    groupIds: group?.instanceIds,
  });
  // Validates every value that reaches the instances (the record is untrusted) before anything changes.
  const script = buildRestoreScript({
    deploymentId,
    ...target,
    backupPath: plan.backupPath,
    artifactSha256: record.artifact?.sha256 ?? inputs.artifactSha256 ?? taggedArtifactSha256(tagged),
  });
  for (const note of plan.notes) warn(ctx, record, note);
  report.info(
    `Plan: ${plan.restore.length} to restore from ${plan.backupPath}, ${plan.gone.length} gone, ` +
      `${plan.unreachable.length} unreachable, ${plan.refused.length} refused, ${plan.untouched.length} never touched` +
      (plan.leftToAutoScaling.length > 0
        ? `, ${plan.leftToAutoScaling.length} launched by Auto Scaling (left to the refresh undo)`
        : ''),
  );
  if (!fromRecord && tagged.length === 0) {
    problems.push(
      `no instance is tagged ${TAG_DEPLOYMENT_ID}=${deploymentId}: check the deployment id, or pass the record`,
    );
  }
  publishRecord(ctx, record);

  // The Auto Scaling side first, so no new instance launches from the image with the fix while the
  // running ones are being restored. The default goes back only when the rollout moved it (a
  // record without movedDefault is from a rollout that always moved it).
  const lt = record.settings.launchTemplate;
  if (lt && lt.movedDefault !== false) {
    settings.push(
      await phase.step(`Launch template ${lt.name} default`, () =>
        revertLaunchTemplateDefault(api, clients, lt, inputs.dryRun),
      ),
    );
  }
  const wait: RefreshWaitBounds = {
    runtime,
    pollMs: inputs.pollSeconds * 1000,
    maxWaitMs: REFRESH_MAX_WAIT_MS,
  };
  let undo: RefreshUndo | undefined;
  if (refresh) {
    const undoing = phase.step(`Instance refresh ${refresh.id} of ${refresh.asgName}`, () =>
      undoInstanceRefresh(api, clients, refresh, inputs.dryRun, wait),
    );
    undo = await undoing.catch((e: unknown) => ({
      result: {
        setting: `instance refresh ${refresh.id} of ${refresh.asgName}`,
        action: 'failed' as const,
        detail: (e as Error).message,
      },
      instancesLeft: true,
      settled: false,
    }));
    settings.push(undo.result);
  }
  const groupSetting = await restoreGroupVersion(ctx, record);
  if (groupSetting) settings.push(groupSetting);

  // SSM restores only the instances that ran the in-place install (the canary, ssm batches);
  // members Auto Scaling launched are never sent a restore. While a refresh could not be stopped it
  // goes on replacing the group's instances: a restore sent to one of them races its termination,
  // so group members wait for a rerun (the undo row already fails the rollback).
  if (undo && !undo.settled && !inputs.dryRun && group) {
    const members = new Set(group.instanceIds);
    const replacing = plan.restore.filter((r) => members.has(r.id));
    plan.restore = plan.restore.filter((r) => !members.has(r.id));
    for (const r of replacing) {
      plan.unreachable.push({
        id: r.id,
        source: r.source,
        state: r.state,
        why: `not sent: instance refresh ${refresh?.id} may still be replacing the instances of ${refresh?.asgName}; run rollback again once it ends`,
      });
    }
  }
  const results = await restoreInstances(ctx, record, plan, script);

  // Instances the refresh launched that still run the new version: a finished or cancelled refresh
  // cannot be rolled back, so a refresh back to the previous configuration replaces them. Only once
  // no refresh of the group is active (a second one would be refused); the undo row says why not.
  if (lt && refresh && undo?.instancesLeft && (undo.settled || inputs.dryRun)) {
    const asgName = refresh.asgName;
    const reverting = phase.step(`Instances of ${asgName} back on the version before`, () =>
      revertGroupInstances(api, clients, {
        asgName,
        lt,
        before: followedVersion(lt, record.extra),
        known: record.settings.revertRefresh,
        minHealthyPercentage: inputs.minHealthyPercentage,
        dryRun: inputs.dryRun,
        wait,
        onStarted: (id) => {
          record.settings.revertRefresh = { id, asgName, status: 'Pending' };
          publishRecord(ctx, record);
        },
        onProgress: (s) => {
          record.settings.revertRefresh = {
            id: s.id,
            asgName,
            status: s.status,
            percentComplete: s.percentComplete,
          };
        },
      }),
    );
    settings.push(await reverting);
  }

  // The queue last: its visibility timeout was raised for the fixed worker.
  settings.push(await phase.step('Queue visibility timeout', () => restoreVisibilityTimeout(ctx, record)));

  for (const s of settings) {
    report.info(`${s.setting}: ${s.action}${s.detail ? ` (${s.detail})` : ''}`);
    if (settingFailed(s)) problems.push(`${s.setting} could not be restored: ${s.detail ?? 'unknown error'}`);
  }
  const failed = results.filter((r) => r.result === 'failed');
  if (failed.length > 0) {
    const list = failed
      .slice(0, 10)
      .map((r) => `${r.id} (${r.detail ?? 'failed'})`)
      .join('; ');
    problems.push(
      `${failed.length} instance(s) could not be restored: ${list}${failed.length > 10 ? '; …' : ''}`,
    );
  }
  if (runtime.cancelled()) problems.push('the run was cancelled before the rollback finished');

  const verdict = problems.length === 0 ? 'pass' : 'fail';
  const counts = countResults(results);
  const reason =
    verdict === 'pass'
      ? inputs.dryRun
        ? `dry run: ${counts['would restore']} instance(s) would be restored`
        : `${counts.restored} restored, ${counts.already} already at the backup, ${counts.gone} gone${untouchedNote(results)}`
      : problems.join('; ');
  record.extra.rollback = {
    at: startedAt,
    dryRun: inputs.dryRun,
    reasons,
    // Only the kinds that occurred, as records have always carried them.
    counts: Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0)),
    settings: settings.map((s) => ({ setting: s.setting, action: s.action, now: s.now })),
  };
  phase.end({ verdict, reason, publish: false });
  // Thousands of failed restores with long errors still fit: their texts are cut (the summary keeps them).
  fitInstanceErrors(record, () => recordBytes(record), MAX_RECORD_BYTES);
  phase.publish();

  // Rollback ran last, so it writes the after notification: verify's said "Rollback: no".
  const after = renderNotificationAfter(record, runtime.clock.now());
  return phase.outcome({
    verdict,
    summary: `${renderRollbackSummary({
      deploymentId,
      dryRun: inputs.dryRun,
      verdict,
      reasons,
      canaryEvidence: inputs.record?.canary?.verdict === 'no-go' ? inputs.record.canary.evidence : undefined,
      backupPath: plan.backupPath,
      target,
      fromRecord,
      instances: results,
      settings,
      notes: plan.notes,
      problems,
      warnings: record.warnings.slice(earlierWarnings).filter((w) => !plan.notes.includes(w)),
    })}\n\n${notificationsSection({ after })}`,
    outputs: { [Output.DeploymentId]: deploymentId, [Output.NotificationAfter]: after },
    failure: verdict === 'fail' ? `Rollback failed: ${problems.join('; ')}` : undefined,
  });
}

/** The instances found never changed, by name (a few; the summary lists them all). */
function untouchedNote(results: InstanceResult[]): string {
  const ids = results.filter((r) => r.result === 'not touched').map((r) => r.id);
  if (ids.length === 0) return '';
  const shown = ids.slice(0, 10).join(', ');
  return `, ${ids.length} never changed by this deployment (${shown}${ids.length > 10 ? ', …' : ''})`;
}

/**
 * Sends the restore script to every reachable instance (50 per SendCommand), and records each
 * result on its entry. One instance failing never stops the others: SSM's MaxErrors is the whole
 * chunk. Gone, unreachable and refused instances are recorded without a command.
 */
async function restoreInstances(
  ctx: ModeContext,
  record: DeploymentRecord,
  plan: RollbackPlan,
  script: string,
): Promise<InstanceResult[]> {
  const { inputs, report, api, clients, runtime } = ctx;
  const results: InstanceResult[] = [];
  const entryFor = (id: string): InstanceEntry => {
    record.instances[id] ??= foundEntry(record, id);
    return record.instances[id];
  };
  const recordResult = (id: string, result: RollbackResult | undefined, error?: string) => {
    setRollback(entryFor(id), {
      result: result ?? null,
      error: error ? error.slice(0, RECORD_ERROR_MAX) : null,
    });
  };

  for (const g of plan.gone) {
    // Not a failure: a terminated instance cannot run the broken file any more.
    if (!inputs.dryRun && g.source !== 'asg') setRollback(entryFor(g.id), { error: `gone: ${g.state}` });
    results.push({
      id: g.id,
      source: g.source,
      state: g.state,
      entry: record.instances[g.id],
      result: 'gone',
      detail: g.why,
    });
  }
  for (const a of plan.leftToAutoScaling) {
    results.push({ id: a.id, source: a.source, state: a.state, result: 'not touched', detail: a.why });
  }
  for (const u of plan.untouched) {
    results.push({
      id: u.id,
      source: u.source,
      state: u.state,
      entry: record.instances[u.id],
      result: 'not touched',
      detail: u.why,
    });
  }
  for (const f of [...plan.unreachable, ...plan.refused]) {
    if (!inputs.dryRun) recordResult(f.id, 'failed', f.why);
    results.push({
      id: f.id,
      source: f.source,
      state: f.state,
      entry: record.instances[f.id],
      result: 'failed',
      detail: f.why,
    });
  }
  if (inputs.dryRun) {
    for (const r of plan.restore) {
      results.push({
        id: r.id,
        source: r.source,
        state: r.state,
        entry: r.entry,
        result: 'would restore',
        detail: `from ${r.backupPath}`,
      });
    }
    return results;
  }
  if (plan.restore.length === 0) return results;
  if (runtime.cancelled()) {
    for (const r of plan.restore) {
      results.push({
        id: r.id,
        source: r.source,
        state: r.state,
        entry: r.entry,
        result: 'failed',
        detail: 'not sent: the run was cancelled',
      });
    }
    return results;
  }

  const items = new Map<string, RestoreItem>(plan.restore.map((r) => [r.id, r]));
  const extra = (record.extra.rollbackCommands ??= []);
  let fan: Awaited<ReturnType<typeof runOnFleet>>;
  try {
    fan = await report.group(`Restoring ${items.size} instance(s) from ${plan.backupPath}`, () =>
      runOnFleet(api, clients, runtime, [...items.keys()], script, {
        comment: `emergency-deploy rollback ${record.deploymentId}`,
        timeoutSeconds: inputs.commandTimeoutSeconds,
        // Every instance is attempted: one missing backup must not stop the others' restore.
        maxErrors: '100%',
        onSent: (commandId) => {
          extra.push(commandId);
          publishRecord(ctx, record);
        },
      }),
    );
  } catch (e) {
    // Nothing was sent (the fan-out watches whatever it sent): every instance still holds the new
    // file. Reported as failed, and the queue's visibility timeout is still restored after this.
    const why = `restore not sent: ${(e as Error).message}`.slice(0, 300);
    for (const [id, item] of items) {
      recordResult(id, 'failed', why);
      results.push({
        id,
        source: item.source,
        state: item.state,
        entry: entryFor(id),
        result: 'failed',
        detail: why,
      });
    }
    return results;
  }
  if (fan.sendError !== undefined) {
    warn(
      ctx,
      record,
      `SendCommand failed part way (${fan.sendError}): the instances not sent to are failed; run rollback again`,
    );
  }
  const outputs = await readOutputs(ctx, record, fan.results);

  // An instance SSM could not reach may have been terminated meanwhile (an Auto Scaling rollback,
  // a scale-in): that is "gone", not a failed restore.
  const undelivered: string[] = [];
  const outcomes = new Map<string, ReturnType<typeof classifyRestore>>();
  for (const [id, item] of items) {
    const inv = outputs.get(id) ?? fan.results.get(id);
    const outcome = inv
      ? classifyRestore(inv, item)
      : { result: 'failed' as const, detail: 'no result from SSM' };
    outcomes.set(id, outcome);
    if (outcome.result === 'failed' && (outcome.undelivered || inv?.reach === 'gone')) undelivered.push(id);
  }
  const nowStates =
    undelivered.length > 0 ? await describeInstanceStates(api, clients, undelivered) : new Map();

  for (const [id, item] of items) {
    const outcome = outcomes.get(id) ?? { result: 'failed' as const };
    const entry = entryFor(id);
    const inv = fan.results.get(id);
    const goneNow = inv?.reach === 'gone' || (outcome.undelivered && isGone(nowStates.get(id)));
    if (outcome.result === 'failed' && goneNow) {
      const state =
        nowStates.get(id) ?? (inv?.reach === 'gone' ? 'terminated or no longer known' : 'not found');
      setRollback(entry, { result: null, error: `gone: ${state}` });
      results.push({
        id,
        source: item.source,
        state,
        entry,
        result: 'gone',
        detail: `${state} while the restore was sent`,
      });
      continue;
    }
    if (outcome.result === 'failed' && outcome.undelivered && installNeverDelivered(entry)) {
      // Neither the install nor the restore reached it (its agent is lost): it still runs what it
      // ran before the deployment, which is what rollback restores. Named, not failed.
      recordResult(id, 'untouched');
      results.push({
        id,
        source: item.source,
        state: item.state,
        entry,
        result: 'not touched',
        detail: `the install never reached it (${viewInstance(entry).error}) and the restore could not either (${outcome.detail ?? 'undelivered'}): it runs what it ran before; check it once its SSM agent is back`,
      });
      continue;
    }
    if (outcome.result === 'not touched') {
      // A group member launched from the previous image, or an instance tagged by a job that died
      // before sending it the install: nothing of this deployment to undo.
      if (item.source === 'asg') delete record.instances[id];
      else recordResult(id, 'untouched');
      results.push({
        id,
        source: item.source,
        state: item.state,
        result: 'not touched',
        detail: outcome.detail,
      });
      continue;
    }
    recordResult(id, outcome.result, outcome.detail);
    if (item.source === 'asg') setInstall(entry, { status: 'installed' });
    results.push({
      id,
      source: item.source,
      state: item.state,
      entry,
      result: outcome.result,
      detail: outcome.detail ?? outcome.evidence,
    });
  }
  return results;
}

/**
 * Per-instance output, to tell "restored" from "already at the backup" when every instance
 * succeeded (runOnFleet reads output itself only for commands that did not). One page per 50
 * instances. When it cannot be read (no permission, or an emulator without the call), every
 * success reads as restored, which is what exit 0 guarantees: the file equals its backup and the
 * service is active.
 */
async function readOutputs(
  ctx: ModeContext,
  record: DeploymentRecord,
  results: Map<string, InvocationResult>,
): Promise<Map<string, InvocationResult>> {
  const outputs = new Map<string, InvocationResult>();
  const unread = new Set<string>();
  for (const r of results.values()) {
    if (r.status === 'Success' && r.stdout === '') unread.add(r.commandId);
  }
  for (const commandId of unread) {
    try {
      for (const inv of await listInvocations(ctx.api, ctx.clients, commandId, true)) {
        if (isTerminalSuccess(inv)) outputs.set(inv.instanceId, inv);
      }
    } catch (e) {
      warn(
        ctx,
        record,
        `could not read the restore output (${(e as Error).message.slice(0, 200)}): instances that succeeded are reported restored, whether or not they already were`,
      );
      break;
    }
  }
  return outputs;
}

function isTerminalSuccess(inv: InvocationResult): boolean {
  return inv.status === 'Success' && inv.responseCode === 0;
}

/**
 * The group's launch template version, when the rollout found the group pinned to a fixed version:
 * its successful refresh left the group on the new version, which the template default's revert
 * does not reach. Nothing to do for a group that follows $Default/$Latest, or when the rollout made
 * no template version (it stopped before the group could change).
 */
async function restoreGroupVersion(
  ctx: ModeContext,
  record: DeploymentRecord,
): Promise<SettingResult | undefined> {
  const lt = record.settings.launchTemplate;
  const recorded = recordedGroupVersion(record.extra);
  if (!lt || recorded.kind === 'none') return undefined;
  // The group is the one the refresh ran on; without a recorded refresh the group never moved,
  // unless the job died between starting it and writing the record: asg-name covers that.
  const asgName = record.settings.refresh?.asgName ?? ctx.inputs.asgName;
  if (!asgName) return undefined;
  if (recorded.kind === 'malformed') {
    return {
      setting: `Auto Scaling group ${asgName} launch template version`,
      deployed: String(lt.newVersion),
      action: 'failed',
      detail: `the record's group version ${recorded.value} is not a version number; check the group's launch template version by hand`,
    };
  }
  return restoreGroupLaunchTemplateVersion(
    ctx.api,
    ctx.clients,
    asgName,
    lt,
    recorded.version,
    ctx.inputs.dryRun,
  );
}

/**
 * The queue's visibility timeout back to its value before the deployment, read back (waiting for
 * SQS to propagate it, as rollout does). The deployment may have changed it when the record says
 * so (intended or done) or when the queue carries this deployment's intent tag, which rollout
 * writes before SetQueueAttributes: a record cut short, the canary's record or no record at all
 * still restores it. The baseline is the value the rollout found, else the one preflight read.
 */
async function restoreVisibilityTimeout(ctx: ModeContext, record: DeploymentRecord): Promise<SettingResult> {
  const setting = 'queue visibility timeout (s)';
  const vt = record.settings.visibilityTimeout;
  let url: string | undefined;
  let tagged: Awaited<ReturnType<typeof readVisibilityIntent>>;
  try {
    url = record.queue?.url ?? (await sourceQueueUrl(ctx));
  } catch (e) {
    if (!(e instanceof InputError) || vt) {
      return { setting, action: 'failed', detail: (e as Error).message };
    }
  }
  if (url !== undefined) {
    try {
      tagged = await readVisibilityIntent(ctx, url, record.deploymentId);
    } catch (e) {
      warn(ctx, record, `could not read the queue's tags: ${(e as Error).message.slice(0, 200)}`);
    }
  }
  const baseline = vt?.before ?? tagged?.before ?? record.queue?.visibilityTimeout;
  const deployed = vt?.after ?? tagged?.after;
  if (!vt && !tagged) {
    const known = ctx.inputs.record !== undefined;
    return {
      setting,
      action: known ? 'not changed by this deployment' : 'not known without a record',
      detail: known
        ? undefined
        : 'neither a record nor a tag on the queue says this deployment changed it (pass the queue or the record)',
    };
  }
  if (url === undefined || baseline === undefined) {
    return { setting, action: 'failed', detail: 'the queue or its baseline value is not known' };
  }
  const base = {
    setting,
    baseline: String(baseline),
    deployed: deployed === undefined ? undefined : String(deployed),
  };
  try {
    const current = await getQueueState(ctx.api, ctx.clients, url);
    if (current.visibilityTimeout === baseline) {
      return { ...base, now: String(current.visibilityTimeout), action: 'already' };
    }
    const moved =
      deployed === undefined || current.visibilityTimeout === deployed
        ? undefined
        : `it was ${current.visibilityTimeout}, not the deployment's ${deployed}: someone changed it since`;
    if (ctx.inputs.dryRun) {
      return { ...base, now: String(current.visibilityTimeout), action: 'would restore', detail: moved };
    }
    const after = await setVisibilityTimeoutConfirmed(ctx, url, baseline, current.visibilityTimeout);
    if (after !== baseline) {
      return {
        ...base,
        now: String(after),
        action: 'failed',
        detail: `set to ${baseline}, but reads back ${after} after ${(READ_BACK_TRIES - 1) * (READ_BACK_INTERVAL_MS / 1000)}s`,
      };
    }
    return { ...base, now: String(after), action: 'restored', detail: moved };
  } catch (e) {
    return { ...base, action: 'failed', detail: (e as Error).message };
  }
}
