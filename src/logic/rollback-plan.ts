// Rollback planning: which instances to restore, from which backup, and why the rollback is
// happening. Pure functions, no I/O: the rollback mode gathers the record, the instance tags and
// the instances' current states, and asks these what to do with them.
import {
  backupPathFor,
  viewInstance,
  type DeploymentRecord,
  type InstanceEntry,
  type RecordExtra,
  type SettingAction,
} from '../record.js';
import { parseRestoreOutput, sanitize } from '../remote/results.js';
import { describeExit, isScriptVerdict, ScriptExit } from '../remote/scripts.js';
import type { TaggedInstance } from '../observed.js';

export type { TaggedInstance } from '../observed.js';

/**
 * The artifact's checksum from the instances' tags, when they agree on one well-formed value
 * (rollback without a record). Anything else is not used: the restore then cannot call an
 * instance untouched, and a missing backup stays a failure.
 */
export function taggedArtifactSha256(tagged: TaggedInstance[]): string | undefined {
  const values = new Set(tagged.map((t) => t.artifactSha256).filter((v) => v !== undefined));
  const [only] = values;
  return values.size === 1 && /^[0-9a-f]{64}$/.test(only) ? only : undefined;
}

/** What rollback restores files into: the deployment's target on every instance. */
export interface RollbackTarget {
  serviceName: string;
  workerDir: string;
  targetFile: string;
}

/** How rollback learned of an instance: the record, its deployment tag, or (asg) its group. */
export type Source = 'record' | 'tag' | 'record+tag' | 'asg';

export interface RestoreItem {
  id: string;
  /** The exact backup file this instance is restored from: never a glob. */
  backupPath: string;
  source: Source;
  /** From the record, when it lists the instance. */
  entry?: InstanceEntry;
  state: string;
}

/** An instance that is not sent the restore, and why. */
export interface NotRestored {
  id: string;
  source: Source;
  state: string;
  why: string;
}

export interface RollbackPlan {
  deploymentId: string;
  target: RollbackTarget;
  /** The one backup path every instance of this deployment uses. */
  backupPath: string;
  /** Running (or starting) instances the restore script is sent to. */
  restore: RestoreItem[];
  /** Terminated or no longer known to EC2: they cannot hold the new file any more. Not failures. */
  gone: NotRestored[];
  /** Stopped or stopping: they still hold the new file and SSM cannot reach them. Failures. */
  unreachable: NotRestored[];
  /** Tagged with a backup path that is not this deployment's: never restored from. Failures. */
  refused: NotRestored[];
  /** In the record, but the record shows no install command was ever sent to them. */
  untouched: NotRestored[];
  /**
   * Members of the Auto Scaling group that never ran the in-place install: launched by the refresh
   * from the image with the fix, or from the previous configuration. SSM never restores them: the
   * refresh's rollback (or a refresh back to the previous version) replaces those that run the fix,
   * and a restore sent to an instance being replaced races its termination.
   */
  leftToAutoScaling: NotRestored[];
  /** Notes for the log and the summary (tag and record disagreements). */
  notes: string[];
}

/** States in which SSM can reach an instance (pending: it may come up while the command waits). */
const REACHABLE = new Set(['running', 'pending']);
/** States in which the instance still holds its disk but SSM cannot reach it. */
const HALTED = new Set(['stopped', 'stopping']);

/** An absent state means EC2 no longer knows the instance (terminated a while ago). */
export function isGone(state: string | undefined): boolean {
  return state === undefined || state === 'terminated' || state === 'shutting-down';
}

/**
 * The record says this instance was touched: an install command went out (or may have: `sent`
 * is written before SendCommand returns), or it was installed. Only an entry that the record
 * itself marks as cancelled before any command was sent is known to be untouched.
 */
export function recordSaysTouched(entry: InstanceEntry): boolean {
  const { status, commandIndex } = viewInstance(entry);
  return !(status === 'cancelled' && commandIndex < 0);
}

/**
 * The install command never reached this instance: SSM gave up delivering it (Delivery Timed Out,
 * Undeliverable: the agent never received it, so nothing ran). What the rollout recorded as its
 * error is how that is known (`install: <status details> ...`, failureText in rollout/in-place.ts).
 */
export function installNeverDelivered(entry: InstanceEntry | undefined): boolean {
  if (!entry) return false;
  const { status, error } = viewInstance(entry);
  return status === 'failed' && /^install: (Delivery Timed Out|Undeliverable)\b/.test(error ?? '');
}

export interface PlanInput {
  deploymentId: string;
  target: RollbackTarget;
  record?: DeploymentRecord;
  /** Instances tagged with this deployment id (every state except terminated). */
  tagged: TaggedInstance[];
  /** Current EC2 state of every instance the record lists; absent when EC2 no longer knows it. */
  states: Map<string, string>;
  /**
   * For an asg rollout: the group's current members. Those the record and the tags do not know did
   * not run the in-place install; they are left to Auto Scaling, never sent a restore.
   */
  groupIds?: string[];
}

/**
 * Decides what to restore. With a record, every instance it lists as touched is restored from the
 * record's exact backup path; instances tagged for the deployment that the record lacks (the job
 * died before writing it) are added from their tags. Without a record the tags are all there is.
 * A tag's backup path is accepted only when it is exactly this deployment's path.
 */
export function planRollback(input: PlanInput): RollbackPlan {
  const { deploymentId, target, record } = input;
  const expected = backupPathFor(target.workerDir, target.targetFile, deploymentId);
  if (record && record.target.backupPath !== expected) {
    throw new Error(
      `the record's backup path ${JSON.stringify(record.target.backupPath)} is not this deployment's ${JSON.stringify(expected)}; refusing to restore from it`,
    );
  }
  const plan: RollbackPlan = {
    deploymentId,
    target,
    backupPath: expected,
    restore: [],
    gone: [],
    unreachable: [],
    refused: [],
    untouched: [],
    leftToAutoScaling: [],
    notes: [],
  };
  const tags = new Map(input.tagged.map((t) => [t.id, t]));

  const place = (
    id: string,
    backupPath: string,
    source: Source,
    state: string | undefined,
    entry?: InstanceEntry,
  ) => {
    if (isGone(state)) {
      plan.gone.push({
        id,
        source,
        state: state ?? 'not found',
        why:
          state === undefined
            ? 'EC2 no longer knows this instance: it cannot hold the new file any more'
            : `instance is ${state}: it cannot hold the new file any more`,
      });
    } else if (HALTED.has(state as string)) {
      plan.unreachable.push({
        id,
        source,
        state: state as string,
        why: `instance is ${state}: its disk still holds the new file and SSM cannot reach it; start it and run rollback again`,
      });
    } else if (REACHABLE.has(state as string)) {
      plan.restore.push({ id, backupPath, source, entry, state: state as string });
    } else {
      plan.unreachable.push({ id, source, state: state as string, why: `instance is in state ${state}` });
    }
  };

  for (const id of Object.keys(record?.instances ?? {}).sort()) {
    const entry = (record as DeploymentRecord).instances[id];
    const tag = tags.get(id);
    tags.delete(id);
    const source: Source = tag ? 'record+tag' : 'record';
    if (tag?.backupPath !== undefined && tag.backupPath !== expected) {
      plan.notes.push(
        `${id}: its backup-path tag ${JSON.stringify(tag.backupPath)} differs from the record's; the record's path is used`,
      );
    }
    if (!recordSaysTouched(entry) && !tag) {
      plan.untouched.push({
        id,
        source,
        state: input.states.get(id) ?? 'not found',
        why: 'the record shows it was cancelled before any install command was sent',
      });
      continue;
    }
    place(id, expected, source, tag?.state ?? input.states.get(id), entry);
  }

  const tagOnly = [...tags.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (record && tagOnly.length > 0) {
    plan.notes.push(
      `${tagOnly.length} instance(s) are tagged for ${deploymentId} but missing from the record (the job that touched them died before writing it): restoring them from their tags`,
    );
  }
  for (const tag of tagOnly) {
    if (tag.backupPath === undefined) {
      plan.refused.push({
        id: tag.id,
        source: 'tag',
        state: tag.state,
        why: 'tagged for this deployment but has no backup-path tag: refusing to guess a backup',
      });
    } else if (tag.backupPath !== expected) {
      plan.refused.push({
        id: tag.id,
        source: 'tag',
        state: tag.state,
        why: `its backup-path tag ${JSON.stringify(tag.backupPath)} is not this deployment's ${expected}: refusing to restore from it`,
      });
    } else {
      place(tag.id, tag.backupPath, 'tag', tag.state);
    }
  }
  const known = new Set([...Object.keys(record?.instances ?? {}), ...input.tagged.map((t) => t.id)]);
  for (const id of [...new Set(input.groupIds ?? [])].sort()) {
    if (known.has(id)) continue;
    plan.leftToAutoScaling.push({
      id,
      source: 'asg',
      state: input.states.get(id) ?? 'not found',
      why: 'launched by Auto Scaling, never ran the in-place install: the instance refresh undo puts it back on the previous configuration, not SSM',
    });
  }
  return plan;
}

/** Every instance id the plan mentions, for the record and the summary. */
export function plannedIds(plan: RollbackPlan): string[] {
  return [
    ...plan.restore.map((r) => r.id),
    ...plan.gone.map((r) => r.id),
    ...plan.unreachable.map((r) => r.id),
    ...plan.refused.map((r) => r.id),
    ...plan.untouched.map((r) => r.id),
    ...plan.leftToAutoScaling.map((r) => r.id),
  ];
}

/** Why the rollback is happening, read from the record: NO-GO evidence, failed batch, failed criterion. */
export function rollbackReasons(record: DeploymentRecord | undefined, deploymentId: string): string[] {
  if (!record) {
    return [
      `no record was given: rolling back deployment ${deploymentId} as its instance tags show it (the job that deployed it may have died before writing its record)`,
    ];
  }
  const reasons: string[] = [];
  const canaryNoGo = record.canary?.verdict === 'no-go';
  if (record.canary && canaryNoGo) {
    reasons.push(`canary ${record.canary.instanceId} was NO-GO: ${record.canary.reason}`);
  }
  for (const phase of record.phases) {
    if (phase.mode === 'rollback' || (phase.mode === 'canary' && canaryNoGo)) continue;
    if (phase.verdict === 'fail' || phase.verdict === 'no-go') {
      reasons.push(`${phase.mode} failed${phase.reason ? `: ${phase.reason}` : ''}`);
    }
  }
  // Failed installs by batch: the batch that broke the error budget is the one an SRE asks about.
  const failedByBatch = new Map<number, string[]>();
  for (const [id, entry] of Object.entries(record.instances)) {
    const { status, batch, error } = viewInstance(entry);
    if (status !== 'failed') continue;
    const list = failedByBatch.get(batch) ?? [];
    list.push(error ? `${id} (${error})` : id);
    failedByBatch.set(batch, list);
  }
  for (const [batch, list] of [...failedByBatch.entries()].sort((a, b) => a[0] - b[0])) {
    const shown = list.sort().slice(0, 5).join(', ');
    const where = batch === 0 ? 'the canary' : `rollout batch ${batch}`;
    reasons.push(
      `${where}: ${list.length} instance(s) failed to install: ${shown}${list.length > 5 ? ', …' : ''}`,
    );
  }
  const unfinished = record.phases.filter((p) => p.mode !== 'rollback' && !p.endedAt && !p.verdict);
  for (const phase of unfinished) reasons.push(`${phase.mode} did not finish (started ${phase.startedAt})`);
  if (reasons.length === 0) reasons.push('no failure is recorded: rollback requested by the operator');
  return reasons;
}

/** One finished restore invocation, as the SSM gateway (src/aws/ssm.ts) reports it. */
export interface RestoreInvocation {
  status: string;
  statusDetails: string;
  responseCode: number;
  stdout: string;
  stderr: string;
}

export interface RestoreOutcome {
  result: 'restored' | 'already' | 'failed' | 'not touched';
  /** Short reason, for the record (kept short: it repeats per instance). */
  detail?: string;
  /** True when SSM could not deliver to the instance (it may have gone away since). */
  undelivered?: boolean;
  /**
   * What the instance proved, for the summary only (not the record: it repeats per instance):
   * the file's checksum against the backup's, and the service after the restart.
   */
  evidence?: string;
}

/** The restore's proof, as the script printed it; undefined when it printed none. */
function restoreEvidence(report: ReturnType<typeof parseRestoreOutput>): string | undefined {
  const short = (sha: string) => `${sha.slice(0, 12)}…`;
  const parts: string[] = [];
  if (report.sha256After) {
    const same = report.backupSha256 === report.sha256After ? ', equal to the backup' : '';
    const was =
      report.sha256Before && report.sha256Before !== report.sha256After
        ? ` (was ${report.sha256Before === 'missing' ? 'missing' : short(report.sha256Before)})`
        : '';
    parts.push(`sha256 ${short(report.sha256After)}${same}${was}`);
  }
  if (report.service) {
    const restarts = report.restarts !== undefined ? `, NRestarts ${report.restarts}` : '';
    const restart = report.restart === 'skipped' ? ', not restarted (already running it)' : '';
    parts.push(`service ${report.service}${restarts}${restart}`);
  }
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/** The first non-empty line of text, control characters stripped, cut short. */
function firstLine(text: string): string {
  const line = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l !== '');
  return sanitize(line ?? '', 160);
}

/**
 * Reads one restore result. The exit code carries the verdict; the output only tells "restored"
 * from "already at the backup". Success with no output reads as restored: the script exits 0
 * only when the target equals the backup and the service is active, and SSM returns no output
 * where it was not read (the emulator returns none at all).
 *
 * A missing backup is a failure, except on an instance found only as a member of the Auto Scaling
 * group: one launched from the image made of the canary always holds the backup, so one without it
 * was launched from the previous image and never had the fix.
 */
export function classifyRestore(
  inv: RestoreInvocation,
  item: { backupPath: string; source: Source },
): RestoreOutcome {
  const code = inv.responseCode;
  const report = parseRestoreOutput(inv.stdout);
  if (inv.status === 'Success' && code === ScriptExit.Ok) {
    const evidence = restoreEvidence(report);
    const result = report.restore === 'already' ? 'already' : 'restored';
    return evidence ? { result, evidence } : { result };
  }
  // stderr's first line names the cause (read-only file system, disk full); the agent keeps
  // stderr's head when it cuts the output (agent/contracts/plugin.go).
  const said = report.error ?? (firstLine(inv.stderr) || undefined);
  if (code === ScriptExit.Untouched) {
    // Tagged (the tag comes before the install), but the install never ran: a job killed between
    // tagging a batch and sending it. Nothing of this deployment is on the instance.
    return {
      result: 'not touched',
      detail: 'tagged, but no backup and its file is not the artifact: never changed',
    };
  }
  if (code === ScriptExit.BackupMissing) {
    if (item.source === 'asg') {
      return {
        result: 'not touched',
        detail: 'no backup: launched from the previous image, never had the fix',
      };
    }
    return {
      result: 'failed',
      detail:
        said !== undefined && /is the artifact/.test(said)
          ? `backup ${item.backupPath} is missing on the instance, and its file is the artifact: nothing to restore from`
          : `backup ${item.backupPath} is missing on the instance: nothing to restore from`,
    };
  }
  if (isScriptVerdict(code)) {
    const journal =
      report.journal.length > 0 ? `; last log line: ${report.journal[report.journal.length - 1]}` : '';
    return { result: 'failed', detail: `${said ?? describeExit(code)}${journal}`.slice(0, 300) };
  }
  const undelivered = /Undeliverable|Delivery Timed Out|Terminated|InvalidInstanceId/i.test(
    inv.statusDetails,
  );
  const status = inv.statusDetails || inv.status;
  return {
    result: 'failed',
    detail: `${status}${code >= 0 ? ` (exit ${code})` : ''}${said ? `: ${said}` : ''}`.slice(0, 300),
    undelivered: undelivered || undefined,
  };
}

// The record keeps each setting's action (extra.rollback), so the action's type is the record's.
export type { SettingAction };

/** One setting rollback put back (or would, or could not). */
export interface SettingResult {
  setting: string;
  /** The value before the deployment (what rollback restores). */
  baseline?: string;
  /** The value the deployment set. */
  deployed?: string;
  /** The value read back after rollback (or now, in a dry run). */
  now?: string;
  action: SettingAction;
  detail?: string;
}

/** Settings whose result fails the rollback. */
export function settingFailed(s: SettingResult): boolean {
  return s.action === 'failed';
}

export type RefreshDecision =
  /** Still replacing instances: roll it back (or cancel it). */
  | 'undo'
  /** Already being undone, or undone. */
  | 'already'
  /** Finished (or failed part way): the instances it launched run the new image until replaced. */
  | 'follow-up';

/**
 * Whether AWS can roll back the recorded refresh (API_RollbackInstanceRefresh: only one started
 * with a desired configuration, on a group that names a version number). Unknown for records
 * written before the desired configuration was recorded: rollback is tried, cancel on refusal.
 */
export function refreshReversible(desired: string | undefined): boolean | undefined {
  if (desired === undefined) return undefined;
  return desired !== 'none';
}

/** What to do about the recorded instance refresh, given its status now. */
export function refreshDecision(status: string | undefined): RefreshDecision {
  if (status === 'Pending' || status === 'InProgress' || status === 'Baking') return 'undo';
  if (status === 'Cancelling' || status === 'RollbackInProgress' || status === 'RollbackSuccessful')
    return 'already';
  // Successful, Failed, Cancelled, RollbackFailed, or no longer listed: whatever it replaced stays.
  return 'follow-up';
}

/**
 * The group's launch template version before the rollout, as rollout recorded it in
 * `extra.rolloutAsg.groupVersion`. Only a fixed version matters to rollback: a successful refresh
 * with a desired configuration leaves such a group pinned to the new version, while a group that
 * follows `$Default`/`$Latest` goes back with the template's default. The record is untrusted, so
 * anything else is reported as malformed rather than sent to AWS.
 */
export type RecordedGroupVersion =
  { kind: 'none' } | { kind: 'pinned'; version: string } | { kind: 'malformed'; value: string };

const FIXED_VERSION = /^[1-9][0-9]{0,9}$/;

export function recordedGroupVersion(extra: RecordExtra): RecordedGroupVersion {
  const asg = extra.rolloutAsg;
  if (asg === undefined) return { kind: 'none' };
  // parseRecord refuses a rolloutAsg that is not an object with a string groupVersion; these
  // checks stay for a record built in memory, which never went through it.
  if (typeof asg !== 'object' || asg === null || Array.isArray(asg)) {
    return { kind: 'malformed', value: sanitize(JSON.stringify(asg) ?? String(asg), 60) };
  }
  const v: string | undefined = asg.groupVersion;
  if (v === undefined || v === '$Default' || v === '$Latest') return { kind: 'none' };
  if (typeof v === 'string' && FIXED_VERSION.test(v)) return { kind: 'pinned', version: v };
  return { kind: 'malformed', value: sanitize(JSON.stringify(v) ?? String(v), 60) };
}

/** The launch template a group names now (from DescribeAutoScalingGroups). */
export interface GroupTemplateNow {
  id?: string;
  name?: string;
  version?: string;
  /** Named inside a mixed instances policy. */
  mixed: boolean;
}

export type GroupVersionDecision =
  /** The group already names the version it had before the rollout. */
  | { action: 'already' }
  /** The group names the deployment's version directly: point it back. */
  | { action: 'restore' }
  /** The group may still launch the fix and rollback cannot safely undo it: the rollback fails. */
  | { action: 'refuse'; why: string }
  /** Changed by someone since the rollout: left alone, and said so. */
  | { action: 'leave'; why: string };

/**
 * Whether to point the group back at its recorded version. Only a group that names exactly the
 * deployment's new version of the deployment's template is changed; anything else was changed by
 * someone since and is not overwritten.
 */
export function groupVersionDecision(input: {
  recorded: string;
  template: { id: string; name: string; newVersion: number };
  group: GroupTemplateNow | undefined;
}): GroupVersionDecision {
  const { recorded, template, group } = input;
  const deployed = String(template.newVersion);
  if (!group) return { action: 'leave', why: 'the group names no launch template now: left alone' };
  const sameTemplate =
    (group.id !== undefined && group.id === template.id) ||
    (group.name !== undefined && group.name === template.name);
  const now = group.version ?? '$Default';
  if (!sameTemplate) {
    return {
      action: 'leave',
      why: `the group now uses launch template ${group.name ?? group.id ?? '(unnamed)'}, not ${template.name}: changed since the rollout, left alone`,
    };
  }
  if (recorded === deployed) {
    // Rollout records the version it finds; a rerun after its refresh succeeded finds its own.
    if (now !== deployed) {
      return {
        action: 'leave',
        why: `the group names version ${now}, not the deployment's ${deployed}; the record does not know the version before the rollout, so it was left alone`,
      };
    }
    return {
      action: 'refuse',
      why: `the record names version ${deployed}, the one this deployment made, as the group's version before the rollout, so the earlier version is not known; point the group at it by hand`,
    };
  }
  if (now === recorded) return { action: 'already' };
  if (now !== deployed) {
    return {
      action: 'leave',
      why: `the group names version ${now}, neither ${recorded} (before the rollout) nor ${deployed} (the deployment's): changed since the rollout, left alone`,
    };
  }
  // A mixed instances policy is restored too: it is sent back as read, only its launch template
  // version changed, so its overrides and instances distribution stay.
  return { action: 'restore' };
}
