// Runbook phase 3: the rest of the fleet gets the fix the canary proved, then the queue's
// visibility timeout is raised. strategy ssm replaces the file in place, batch by batch, through
// SSM's own fan-out; strategy asg bakes an AMI of the canary, makes a launch template version from
// the one the group launches and lets an instance refresh replace the group. The record is written
// as it goes, so a halt, a failure or a cancellation leaves a true account for rollback.
import { Input, Output, TAG_ARTIFACT_SHA256, TAG_BACKUP_PATH, TAG_DEPLOYMENT_ID } from '../constants.js';
import { publishRecord, warn, type ModeContext, type ModeOutcome } from '../context.js';
import { describeRunningInstances, tagInstances } from '../aws/ec2.js';
import { getAgentStatus } from '../aws/ssm.js';
import { fateOf, firstStderrLine, runOnFleet, type InvocationResult } from '../aws/ssm-commands.js';
import { getQueueState } from '../aws/sqs.js';
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
} from '../aws/autoscaling.js';
import {
  createImage,
  createLaunchTemplateVersion,
  describeImage,
  describeLaunchTemplate,
  findOwnImageByName,
  setDefaultLaunchTemplateVersion,
  waitForImage,
} from '../aws/ec2-images.js';
import { DeploymentFailure, errorMessage, InputError } from '../errors.js';
import { deploymentFilters } from './fleet-filters.js';
import { requireRecord } from './record-target.js';
import {
  batchSizeFor,
  estimateSecondsLeft,
  fitInstanceErrors,
  overErrorBudget,
  planBatches,
  progressLine,
  selectForRollout,
  ssmMaxConcurrency,
  ssmMaxErrors,
} from '../logic/batches.js';
import { reconcile, stableOrder } from '../logic/fleet.js';
import { commandIndex, markPhase, type DeploymentRecord, type InstanceEntry } from '../record.js';
import { parseResultLines } from '../remote/results.js';
import {
  buildHealthCheckScript,
  buildInstallScript,
  describeExit,
  isScriptVerdict,
} from '../remote/scripts.js';
import { renderRolloutSummary } from '../summary/rollout.js';
// The run log's short style (seconds); summary/time.ts holds both duration styles.
import { formatSecondsShort as formatDuration } from '../summary/time.js';
import {
  readVisibilityIntent,
  setVisibilityTimeoutConfirmed,
  sourceQueueUrl,
  writeVisibilityIntent,
} from './queues.js';

// Bounds on the asg waits. An AMI of a worker's root volume takes minutes; a refresh with
// checkpoints waits an hour at each by default, and a GitHub job ends at 6 hours.
const IMAGE_POLL_MS = 15_000;
const IMAGE_MAX_WAIT_MS = 60 * 60_000;
const REFRESH_MAX_WAIT_MS = 5 * 60 * 60_000;
// The post-batch health check is short: it reads a journal and a unit state.
const HEALTH_CHECK_TIMEOUT_SECONDS = 120;
// The record output is appended to GITHUB_OUTPUT on every write; for a fleet of thousands in small
// batches, writing it before every batch would append gigabytes. Past a few hundred instances it is
// written at most this often (and always at the end); the instance tags cover the moments between
// writes (rollback finds tagged instances even without the record).
const RECORD_WRITE_INTERVAL_MS = 30_000;
const RECORD_ALWAYS_WRITE_INSTANCES = 200;
// Room under the 1 MB output limit is kept for the phases that follow (verify, rollback).
export const RECORD_SOFT_LIMIT_BYTES = 900_000;
// Batch times beyond this many stay in the summary only.
const MAX_RECORDED_BATCHES = 500;

export interface BatchView {
  number: number;
  instanceIds: string[];
  startedAt: string;
  installSeconds?: number;
  endedAt?: string;
  installed: number;
  failed: number;
  cancelled: number;
  /** terminated before the install reached them: reported, not failed */
  gone?: number;
  /** SendCommand failed part way (not for an unreachable id): the rest of the batch was not sent */
  sendError?: string;
  commandIds: string[];
  healthCommandIds: string[];
}

export interface AsgView {
  asgName: string;
  templateName: string;
  groupVersion?: string;
  /** The version the new one is made from (the one the group launches). */
  sourceVersion?: number;
  /** The group follows $Default, so the default moves to the new version. */
  movesDefault: boolean;
  autoRollback: boolean;
  imageId?: string;
  imageState?: string;
  previousDefault?: number;
  newVersion?: number;
  refreshId?: string;
  refreshStatus?: string;
  percentComplete?: number;
  instancesToUpdate?: number;
  statusReason?: string;
  /** dry-run: the steps that would run */
  plan: string[];
}

export interface RolloutView {
  strategy: 'ssm' | 'asg';
  dryRun: boolean;
  fleetCount: number;
  appeared: string[];
  vanished: string[];
  canary: string[];
  alreadyInstalled: string[];
  offline: string[];
  batchSize: number;
  pauseSeconds: number;
  maxErrors: number;
  /** Batches planned for this run (instance ids). */
  plan: string[][];
  batches: BatchView[];
  queue?: { before: number; target: number; after?: number; planned: boolean };
  asg?: AsgView;
  verdict: 'pass' | 'fail';
  reason: string;
}

/** Compact per-batch history carried in the record: [batch, start offset s, duration s, ok, failed]. */
interface RolloutExtra {
  startedAt: string;
  batches: [number, number, number, number, number][];
  /** batches run but not listed (past MAX_RECORDED_BATCHES) */
  unlisted?: number;
}

class Publisher {
  private last = -Infinity;
  private trimmed = false;
  /** Set once the rollout knows how many instances its record will hold. */
  large = false;
  constructor(
    private readonly ctx: ModeContext,
    private readonly record: DeploymentRecord,
  ) {}
  /** Writes the record now; a large one only when the last write is old enough, unless forced. */
  write(force = false): void {
    const now = this.ctx.runtime.clock.now().getTime();
    if (!force && this.large && now - this.last < RECORD_WRITE_INTERVAL_MS) return;
    this.last = now;
    const fit = fitInstanceErrors(
      this.record,
      () => Buffer.byteLength(JSON.stringify(this.record)),
      RECORD_SOFT_LIMIT_BYTES,
    );
    if (fit !== 'fits' && !this.trimmed) {
      this.trimmed = true;
      warn(
        this.ctx,
        this.record,
        `the record neared the 1 MB output limit: per-instance error texts were ${fit} (the log has them in full)`,
      );
    }
    publishRecord(this.ctx, this.record);
  }
}

export async function rollout(ctx: ModeContext): Promise<ModeOutcome> {
  const { inputs } = ctx;
  const record = requireRecord(ctx.inputs, 'rollout', 'canary');
  const startedAt = ctx.runtime.clock.now().toISOString();
  markPhase(record, { mode: 'rollout', startedAt, dryRun: inputs.dryRun });
  const publisher = new Publisher(ctx, record);
  const view: RolloutView = {
    strategy: inputs.strategy,
    dryRun: inputs.dryRun,
    fleetCount: 0,
    appeared: [],
    vanished: [],
    canary: [],
    alreadyInstalled: [],
    offline: [],
    batchSize: 0,
    pauseSeconds: inputs.pauseSeconds,
    maxErrors: inputs.maxErrors,
    plan: [],
    batches: [],
    verdict: 'pass',
    reason: '',
  };

  let failure: string | undefined;
  try {
    const canary = record.canary;
    if (!canary || canary.verdict !== 'go') {
      const why = canary
        ? `the canary ${canary.instanceId} was judged ${canary.verdict.toUpperCase()} (${canary.reason})`
        : 'the record has no canary result';
      if (!inputs.dryRun)
        throw new DeploymentFailure(`Rollout refused: ${why}; only a GO canary is rolled out`);
      warn(ctx, record, `dry-run: ${why}; a real rollout would refuse to start`);
    }
    // The queue must be known before anything is deployed, not discovered missing afterwards.
    const queueUrl = inputs.visibilityTimeout !== undefined ? await sourceQueueUrl(ctx) : undefined;

    const fleet = await discoverFleet(ctx, record, view);
    failure =
      inputs.strategy === 'ssm'
        ? await rolloutInPlace(ctx, record, view, fleet, publisher)
        : await rolloutThroughAsg(ctx, record, view, publisher);

    if (!failure && queueUrl !== undefined && inputs.visibilityTimeout !== undefined) {
      failure = await applyVisibilityTimeout(
        ctx,
        record,
        view,
        queueUrl,
        inputs.visibilityTimeout,
        publisher,
      );
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    failure = e instanceof DeploymentFailure ? e.message : `Rollout failed: ${errorMessage(e)}`;
  }

  view.verdict = failure ? 'fail' : 'pass';
  view.reason =
    failure ?? (inputs.dryRun ? 'dry-run: plan only, nothing changed' : 'every instance runs the fix');
  markPhase(record, {
    mode: 'rollout',
    startedAt,
    endedAt: ctx.runtime.clock.now().toISOString(),
    verdict: view.verdict,
    reason: view.reason.slice(0, 500),
    dryRun: inputs.dryRun,
  });
  publisher.write(true);
  return {
    verdict: view.verdict,
    record,
    summary: renderRolloutSummary(record, view),
    outputs: { [Output.InstanceCount]: String(view.fleetCount), [Output.DeploymentId]: record.deploymentId },
    failure,
  };
}

/** Re-discovers the fleet and reconciles it with the one preflight saw. */
async function discoverFleet(
  ctx: ModeContext,
  record: DeploymentRecord,
  view: RolloutView,
): Promise<string[]> {
  const filters = deploymentFilters(ctx, record);
  const now = stableOrder(await describeRunningInstances(ctx.api, ctx.clients, filters)).map((i) => i.id);
  view.fleetCount = now.length;
  const earlier = record.fleet?.instanceIds ?? [];
  const r = reconcile(earlier, now);
  view.appeared = record.fleet ? r.appeared : [];
  view.vanished = r.vanished;
  ctx.report.info(
    `Fleet: ${now.length} running instance(s); ${view.appeared.length} appeared and ${r.vanished.length} vanished since preflight`,
  );
  if (view.appeared.length > 0)
    ctx.report.info(`Appeared since preflight (included): ${list(view.appeared)}`);
  if (r.vanished.length > 0)
    warn(
      ctx,
      record,
      `${r.vanished.length} instance(s) from preflight are no longer running: ${list(r.vanished)}`,
    );
  return now;
}

function list(ids: string[], max = 20): string {
  return ids.length <= max ? ids.join(', ') : `${ids.slice(0, max).join(', ')}, … (${ids.length - max} more)`;
}

// ---------------------------------------------------------------------------------------------
// strategy ssm

interface Budget {
  failed: number;
}

async function rolloutInPlace(
  ctx: ModeContext,
  record: DeploymentRecord,
  view: RolloutView,
  fleet: string[],
  publisher: Publisher,
): Promise<string | undefined> {
  const { inputs, report } = ctx;
  if (fleet.length === 0) return 'Rollout failed: no running instance matches the filters';
  const selection = selectForRollout(fleet, record.instances, record.canary?.instanceId);
  view.canary = selection.canary;
  view.alreadyInstalled = selection.alreadyInstalled;
  if (selection.alreadyInstalled.length > 0) {
    report.info(
      `${selection.alreadyInstalled.length} instance(s) already installed by an earlier run of this rollout: skipped`,
    );
  }
  let toDeploy = selection.toDeploy;
  const budget: Budget = { failed: 0 };

  if (inputs.ssmCheck && toDeploy.length > 0) {
    const agents = await getAgentStatus(ctx.api, ctx.clients, toDeploy);
    view.offline = toDeploy.filter((id) => agents.get(id) !== 'Online');
    if (view.offline.length > 0) {
      // Unreachable instances cannot get the fix: they count against the budget up front.
      budget.failed += view.offline.length;
      warn(
        ctx,
        record,
        `${view.offline.length} instance(s) are not Online in SSM and will not be deployed: ${list(view.offline)}`,
      );
      toDeploy = toDeploy.filter((id) => !view.offline.includes(id));
      if (overErrorBudget(inputs.maxErrors, budget.failed)) {
        return `Rollout not started: ${view.offline.length} instance(s) are unreachable through SSM, more than max-errors ${inputs.maxErrors}`;
      }
    }
  }

  publisher.large = Object.keys(record.instances).length + toDeploy.length > RECORD_ALWAYS_WRITE_INSTANCES;
  view.batchSize = batchSizeFor(inputs.batchSize, fleet.length);
  view.plan = planBatches(toDeploy, view.batchSize);
  const n = view.plan.length;
  report.info(
    `Plan: ${toDeploy.length} instance(s) in ${n} batch(es) of up to ${view.batchSize}, ${inputs.pauseSeconds}s bake between batches, max-errors ${inputs.maxErrors}`,
  );

  const artifact = record.artifact;
  if (inputs.dryRun) {
    view.plan.forEach((ids, i) => report.info(`  batch ${i + 1} of ${n}: ${list(ids, 50)}`));
    if (!artifact)
      warn(ctx, record, 'dry-run: the record has no artifact; a real rollout would refuse to start');
    return undefined;
  }
  if (n === 0) {
    report.info('Nothing to deploy: every running instance already runs the fix');
    return undefined;
  }
  if (!artifact)
    return 'Rollout refused: the record has no artifact (S3 location and SHA-256) from the canary';

  const installScript = buildInstallScript({
    deploymentId: record.deploymentId,
    serviceName: inputs.serviceName,
    workerDir: inputs.workerDir,
    targetFile: inputs.targetFile,
    artifactS3Uri: artifact.s3Uri,
    sha256: artifact.sha256,
    region: record.region,
  });
  const extra = rolloutExtra(ctx, record);
  const firstBatch =
    1 +
    Math.max(
      0,
      ...Object.values(record.instances)
        .filter((e) => e.p === 'r')
        .map((e) => e.b),
    );
  const start = ctx.runtime.clock.now().getTime();
  let done = 0;

  for (let i = 0; i < n; i++) {
    if (ctx.runtime.cancelled()) {
      return `Rollout cancelled before batch ${i + 1} of ${n}; ${n - i} batch(es) not started`;
    }
    const ids = view.plan[i];
    const batch: BatchView = {
      number: firstBatch + i,
      instanceIds: ids,
      startedAt: ctx.runtime.clock.now().toISOString(),
      installed: 0,
      failed: 0,
      cancelled: 0,
      commandIds: [],
      healthCommandIds: [],
    };
    view.batches.push(batch);
    const title = `Batch ${i + 1} of ${n} (${ids.length} instance(s), rollout batch ${batch.number})`;
    const stop = await report.group(title, () =>
      runBatch(ctx, record, batch, installScript, budget, publisher, i < n - 1),
    );
    done += batch.installed;
    if (extra.batches.length >= MAX_RECORDED_BATCHES) extra.unlisted = (extra.unlisted ?? 0) + 1;
    else
      extra.batches.push([
        batch.number,
        Math.round((Date.parse(batch.startedAt) - Date.parse(extra.startedAt)) / 1000),
        Math.round((Date.parse(batch.endedAt ?? batch.startedAt) - Date.parse(batch.startedAt)) / 1000),
        batch.installed,
        batch.failed,
      ]);
    report.info(
      progressLine({
        batch: i + 1,
        batches: n,
        done,
        total: toDeploy.length,
        failed: budget.failed,
        secondsLeft: estimateSecondsLeft({
          batchesDone: i + 1,
          batchesTotal: n,
          elapsedMs: ctx.runtime.clock.now().getTime() - start,
          pauseSeconds: inputs.pauseSeconds,
        }),
      }),
    );
    publisher.write();
    if (stop === 'cancelled') {
      return `Rollout cancelled during batch ${i + 1} of ${n}; in-flight commands were cancelled and ${n - i - 1} batch(es) not started`;
    }
    if (stop === 'send-failed') {
      return `Rollout halted in batch ${i + 1} of ${n}: SendCommand failed (${batch.sendError}); the commands already sent were followed to their end, ${n - i - 1} batch(es) not started`;
    }
    if (overErrorBudget(inputs.maxErrors, budget.failed)) {
      return `Rollout halted after batch ${i + 1} of ${n}: ${budget.failed} instance(s) failed, more than max-errors ${inputs.maxErrors}; ${n - i - 1} batch(es) not started`;
    }
  }
  const elapsed = formatDuration((ctx.runtime.clock.now().getTime() - start) / 1000);
  report.info(
    `All ${n} batch(es) done in ${elapsed}: ${done} installed, ${budget.failed} failed (max-errors ${inputs.maxErrors})`,
  );
  return undefined;
}

function rolloutExtra(ctx: ModeContext, record: DeploymentRecord): RolloutExtra {
  const existing = record.extra.rollout as RolloutExtra | undefined;
  if (existing && typeof existing.startedAt === 'string' && Array.isArray(existing.batches)) return existing;
  const fresh: RolloutExtra = { startedAt: ctx.runtime.clock.now().toISOString(), batches: [] };
  record.extra.rollout = fresh;
  return fresh;
}

/** Why an instance's command did not succeed, short enough for the record. */
function failureText(r: InvocationResult, what: string): string {
  const lines = parseResultLines(r.stdout);
  const own = lines.get('error')?.at(-1);
  const meaning =
    r.status === 'Failed' && isScriptVerdict(r.responseCode) ? describeExit(r.responseCode) : undefined;
  // stderr's first line names the cause ("Read-only file system", "No space left on device"); the
  // agent keeps stderr's head when it cuts the output (agent/contracts/plugin.go).
  const detail = own ?? meaning ?? firstStderrLine(r.stderr);
  return `${what}: ${r.statusDetails || r.status}${detail ? ` (${detail})` : ''}`.slice(0, 120);
}

/**
 * One batch: tag, mark, install through the fan-out, bake, health-check. Returns 'cancelled' when
 * the run was cancelled during it.
 */
async function runBatch(
  ctx: ModeContext,
  record: DeploymentRecord,
  batch: BatchView,
  installScript: string,
  budget: Budget,
  publisher: Publisher,
  morePlanned: boolean,
): Promise<'cancelled' | 'send-failed' | undefined> {
  const { inputs, report, api, clients, runtime } = ctx;
  const ids = batch.instanceIds;
  // Tags first: whatever happens to this job, rollback can find what it touched.
  await tagInstances(api, clients, ids, {
    [TAG_DEPLOYMENT_ID]: record.deploymentId,
    [TAG_BACKUP_PATH]: record.target.backupPath,
    ...(record.artifact ? { [TAG_ARTIFACT_SHA256]: record.artifact.sha256 } : {}),
  });
  for (const id of ids) record.instances[id] = { p: 'r', b: batch.number, s: 'sent', c: -1 };
  publisher.write();

  const installStart = runtime.clock.now().getTime();
  const install = await runOnFleet(api, clients, runtime, ids, installScript, {
    comment: `emergency-deploy ${record.deploymentId} rollout batch ${batch.number}`,
    timeoutSeconds: inputs.commandTimeoutSeconds,
    maxConcurrency: ssmMaxConcurrency(ids.length),
    maxErrors: ssmMaxErrors(inputs.maxErrors, budget.failed),
    onSent: (commandId, sentIds) => {
      batch.commandIds.push(commandId);
      const c = commandIndex(record, commandId);
      for (const id of sentIds) record.instances[id].c = c;
    },
  });
  const installEnd = runtime.clock.now().getTime();
  batch.installSeconds = Math.round((installEnd - installStart) / 1000);
  const installed: string[] = [];
  const gone: string[] = [];
  for (const id of ids) {
    const entry: InstanceEntry = record.instances[id];
    const r = install.results.get(id);
    entry.t = batch.installSeconds;
    const fate = r ? fateOf(r) : 'failed';
    if (fate === 'success') {
      entry.s = 'installed';
      installed.push(id);
    } else if (fate === 'gone') {
      // Terminated (scale-in, a refresh, a health replacement) before it could run the install:
      // nothing of it can run the old file any more, so it is reported, not failed.
      entry.s = 'cancelled';
      entry.e = `gone: ${(r as InvocationResult).statusDetails}`.slice(0, 120);
      gone.push(id);
    } else if (
      (install.cancelled && (!r || r.status === 'Cancelled')) ||
      (fate === 'cancelled' && r?.commandId === '')
    ) {
      // Cancelled, or never sent (the send failed part way): nothing reached the instance.
      entry.s = 'cancelled';
      entry.e = r?.commandId === '' ? r.statusDetails.slice(0, 120) : 'cancelled by the action';
      batch.cancelled++;
    } else {
      entry.s = 'failed';
      entry.e = r ? failureText(r, 'install') : 'install: no result';
      batch.failed++;
    }
  }
  batch.gone = gone.length;
  if (gone.length > 0) {
    warn(
      ctx,
      record,
      `${gone.length} instance(s) of batch ${batch.number} are gone (terminated) and were not deployed: ${list(gone)}`,
    );
  }
  budget.failed += batch.failed;
  report.info(
    `installed on ${installed.length} of ${ids.length}; ${batch.failed} failed${batch.cancelled ? `; ${batch.cancelled} cancelled` : ''}`,
  );
  for (const id of ids) {
    const e = record.instances[id];
    if (e.s === 'failed') report.warning(`${id}: ${e.e}`);
  }
  publisher.write();
  if (install.cancelled) {
    batch.endedAt = runtime.clock.now().toISOString();
    return 'cancelled';
  }
  if (install.sendError !== undefined) {
    batch.sendError = install.sendError;
    batch.endedAt = runtime.clock.now().toISOString();
    return 'send-failed';
  }

  // Bake between batches; the health check then covers the bake. No bake after the last batch or
  // when this batch already broke the budget (no batch follows it).
  if (morePlanned && inputs.pauseSeconds > 0 && !overErrorBudget(inputs.maxErrors, budget.failed)) {
    report.info(`baking ${formatDuration(inputs.pauseSeconds)} before the health check and the next batch`);
    await runtime.sleep(inputs.pauseSeconds * 1000);
    if (runtime.cancelled()) {
      batch.endedAt = runtime.clock.now().toISOString();
      return 'cancelled';
    }
  }

  if (installed.length > 0) {
    // From the end of the install: the old worker's own errors just before its restart must not
    // count against the new one; a crash right after the restart shows as inactive or restarted.
    const health = await runOnFleet(
      api,
      clients,
      runtime,
      installed,
      buildHealthCheckScript({
        serviceName: inputs.serviceName,
        sinceEpochSeconds: Math.floor(installEnd / 1000),
        errorPatterns: inputs.errorPatterns,
        // Each instance compares its unit's main-process start with the one its install saved: a
        // crash loop shows even where systemd has no restart counter.
        deploymentId: record.deploymentId,
      }),
      {
        comment: `emergency-deploy ${record.deploymentId} health batch ${batch.number}`,
        timeoutSeconds: Math.min(HEALTH_CHECK_TIMEOUT_SECONDS, inputs.commandTimeoutSeconds),
        maxConcurrency: ssmMaxConcurrency(installed.length),
        // Every instance is checked: a failed check must not stop the others from being checked.
        maxErrors: String(installed.length),
        onSent: (commandId) => batch.healthCommandIds.push(commandId),
      },
    );
    let unhealthy = 0;
    for (const id of installed) {
      const r = health.results.get(id);
      if (r?.status === 'Success' && r.responseCode === 0) continue;
      if (health.cancelled && (!r || r.status === 'Cancelled')) continue; // installed; the check was cut short
      if (r && fateOf(r) === 'gone') {
        // Installed, then terminated before its check: it runs nothing any more.
        report.warning(`${id}: gone before its health check (${r.statusDetails})`);
        continue;
      }
      const entry = record.instances[id];
      entry.s = 'failed';
      entry.e = r ? failureText(r, 'health check') : 'health check: no result';
      unhealthy++;
      report.warning(`${id}: ${entry.e}`);
    }
    batch.failed += unhealthy;
    budget.failed += unhealthy;
    report.info(`health check: ${installed.length - unhealthy} of ${installed.length} healthy`);
    if (health.cancelled) {
      batch.installed = installed.length - unhealthy;
      batch.endedAt = runtime.clock.now().toISOString();
      return 'cancelled';
    }
    batch.installed = installed.length - unhealthy;
  }
  batch.endedAt = runtime.clock.now().toISOString();
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// strategy asg

async function rolloutThroughAsg(
  ctx: ModeContext,
  record: DeploymentRecord,
  view: RolloutView,
  publisher: Publisher,
): Promise<string | undefined> {
  const { inputs, report, api, clients, runtime } = ctx;
  const asgName = inputs.asgName;
  const templateName = inputs.launchTemplateName;
  if (!asgName) throw new InputError(Input.AsgName, 'is required with strategy asg');
  if (!templateName) throw new InputError(Input.LaunchTemplateName, 'is required with strategy asg');
  const asg: AsgView = { asgName, templateName, autoRollback: false, movesDefault: false, plan: [] };
  view.asg = asg;

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
  const firstGroupVersion = (record.extra.rolloutAsg as { groupVersion?: unknown } | undefined)?.groupVersion;
  asg.groupVersion =
    typeof firstGroupVersion === 'string' && known
      ? firstGroupVersion
      : (known?.groupVersion ?? groupTemplate.version ?? '$Default');
  const pinned = /^[0-9]+$/.test(asg.groupVersion);
  // The group launches what it names: a pinned number, or what $Default / $Latest resolve to. The
  // new version carries that version's user data, instance type and network settings with only
  // the image changed (CreateLaunchTemplateVersion SourceVersion: the new version inherits the
  // source's launch parameters).
  asg.sourceVersion =
    known?.sourceVersion ??
    (pinned
      ? Number(asg.groupVersion)
      : asg.groupVersion === '$Latest'
        ? template.latestVersion
        : template.defaultVersion);
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

  const canaryId = record.canary?.instanceId;
  const imageName = `emergency-deploy-${record.deploymentId}`;
  const previousDefault = known ? known.previousDefault : template.defaultVersion;
  asg.previousDefault = previousDefault;
  const sourceWhy = pinned
    ? `the version ${asgName} pins`
    : asg.groupVersion === '$Latest'
      ? `$Latest, which ${asgName} follows`
      : `the current default version, which ${asgName} follows`;
  const desiredKind = !pinned ? 'none' : groupTemplate.mixed ? 'mixed-instances-policy' : 'launch-template';

  if (inputs.dryRun) {
    asg.plan = [
      `create image ${imageName} from the canary ${canaryId ?? '(none in the record)'} with NoReboot ${inputs.imageNoReboot}, and wait up to ${formatDuration(IMAGE_MAX_WAIT_MS / 1000)} for it`,
      `create a version of launch template ${templateName} (${template.id}) from version ${asg.sourceVersion} (${sourceWhy}) with the new image`,
      asg.movesDefault
        ? `set the new version as the default of ${templateName} (rollback restores version ${previousDefault})`
        : `leave the default version ${template.defaultVersion} of ${templateName} as it is (other groups and launches use it)`,
      `start an instance refresh of ${asgName} (${group.instanceIds.length} instance(s), group uses version ${asg.groupVersion}): MinHealthyPercentage ${inputs.minHealthyPercentage}` +
        `${inputs.refreshCheckpoints.length ? `, checkpoints ${inputs.refreshCheckpoints.join(',')}% with ${inputs.pauseSeconds}s delay` : ''}` +
        `${desiredKind === 'none' ? '' : `, desired configuration: the new version${desiredKind === 'mixed-instances-policy' ? ' in the mixed instances policy, overrides kept' : ''}`}` +
        `, auto-rollback ${asg.autoRollback ? 'on' : 'not available (the group follows ' + asg.groupVersion + ')'}`,
      `follow it every ${inputs.pollSeconds}s for up to ${formatDuration(REFRESH_MAX_WAIT_MS / 1000)}`,
    ];
    for (const step of asg.plan) report.info(`would ${step}`);
    return undefined;
  }
  if (!canaryId) return 'Rollout refused: the record has no canary instance to make the image from';

  // 1. The image of the canary. A rerun finds the image it made before, by name.
  const imageFailure = await bakeImage(ctx, record, asg, canaryId, imageName, publisher);
  if (imageFailure) return imageFailure;
  const imageId = asg.imageId as string;

  // 2. A new launch template version from the one the group launches, with only the image changed.
  let newVersion: number;
  if (known && known.newVersion > 0) {
    newVersion = known.newVersion;
    report.info(
      `launch template ${templateName}: version ${newVersion} was made by an earlier run of this deployment`,
    );
  } else {
    newVersion = await createLaunchTemplateVersion(api, clients, {
      templateId: template.id,
      sourceVersion: asg.sourceVersion,
      imageId,
      description: `emergency-deploy ${record.deploymentId}: image ${imageId} of canary ${canaryId}`,
      clientToken: `${record.deploymentId}-${imageId}`,
    });
    record.settings.launchTemplate = {
      id: template.id,
      name: templateName,
      previousDefault,
      newVersion,
      sourceVersion: asg.sourceVersion,
      groupVersion: asg.groupVersion,
      mixed: groupTemplate.mixed,
      movedDefault: false,
    };
    publisher.write(true);
    report.info(
      `launch template ${templateName}: version ${newVersion} made from version ${asg.sourceVersion} (${sourceWhy}) with ${imageId}`,
    );
  }
  asg.newVersion = newVersion;
  const lt = record.settings.launchTemplate as NonNullable<DeploymentRecord['settings']['launchTemplate']>;

  // 3. For a group that follows $Default only: the new version becomes the default, by number.
  // Written as intended before the call, so a rollout killed during it still has it undone.
  if (asg.movesDefault && template.defaultVersion !== newVersion) {
    lt.movedDefault = true;
    publisher.write(true);
    await setDefaultLaunchTemplateVersion(api, clients, template.id, newVersion);
    report.info(
      `launch template ${templateName}: default version ${template.defaultVersion} → ${newVersion}`,
    );
  } else if (!asg.movesDefault) {
    report.info(
      `launch template ${templateName}: default version ${template.defaultVersion} left as it is; ${asgName} gets version ${newVersion} through the refresh`,
    );
  }

  // 4. The instance refresh: started once, followed until it ends.
  const desired: DesiredRefreshConfig | undefined =
    desiredKind === 'launch-template'
      ? { kind: 'launch-template', launchTemplateId: template.id, version: String(newVersion) }
      : desiredKind === 'mixed-instances-policy' && group.mixedInstancesPolicy
        ? {
            kind: 'mixed-instances-policy',
            launchTemplateId: template.id,
            version: String(newVersion),
            policy: group.mixedInstancesPolicy,
          }
        : undefined;
  const refresh = await startOrResumeRefresh(ctx, record, asg, group, desired, publisher);
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
    ? `rollback will restore the launch template default to version ${previousDefault}`
    : `the launch template default was not changed; rollback puts the instances the refresh replaced back on version ${asg.groupVersion}`;
  if (waited.outcome === 'cancelled') {
    await cancelInstanceRefresh(api, clients, asgName).catch((e) =>
      warn(ctx, record, `could not cancel the instance refresh: ${errorMessage(e)}`),
    );
    noteRefresh(record, asg, { ...waited.state, status: 'Cancelling' });
    return `Rollout cancelled: instance refresh ${refresh} of ${asgName} was asked to stop at ${waited.state.percentComplete ?? 0}%; ${restore}`;
  }
  if (waited.outcome === 'timeout') {
    return `Rollout failed: instance refresh ${refresh} of ${asgName} is still ${waited.state.status} after ${formatDuration(REFRESH_MAX_WAIT_MS / 1000)} (left running); ${restore}`;
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

async function bakeImage(
  ctx: ModeContext,
  record: DeploymentRecord,
  asg: AsgView,
  canaryId: string,
  imageName: string,
  publisher: Publisher,
): Promise<string | undefined> {
  const { inputs, report, api, clients, runtime } = ctx;
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
        `image ${s.id}: ${s.state}${percent !== undefined ? `, snapshot ${percent}%` : ''}, ${formatDuration(elapsedMs / 1000)} elapsed`,
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
    return `Rollout failed: image ${image.id} is still ${waited.state.state} after ${formatDuration(IMAGE_MAX_WAIT_MS / 1000)}; ${untouched} (a rerun picks the image up)`;
  }
  return `Rollout failed: image ${image.id} is ${waited.state.state}${waited.state.reason ? ` (${waited.state.reason})` : ''}; ${untouched}`;
}

function noteRefresh(record: DeploymentRecord, asg: AsgView, s: RefreshState): void {
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
  ctx: ModeContext,
  record: DeploymentRecord,
  asg: AsgView,
  group: GroupInfo,
  desired: DesiredRefreshConfig | undefined,
  publisher: Publisher,
): Promise<string> {
  const { inputs, report, api, clients } = ctx;
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

// ---------------------------------------------------------------------------------------------
// the queue

async function applyVisibilityTimeout(
  ctx: ModeContext,
  record: DeploymentRecord,
  view: RolloutView,
  url: string,
  target: number,
  publisher: Publisher,
): Promise<string | undefined> {
  const { api, clients, report, runtime } = ctx;
  const current = (await getQueueState(api, clients, url)).visibilityTimeout;
  // On a rerun the value before the deployment is the one recorded first, not today's: from the
  // record, else from the intent this deployment left on the queue (a rerun is handed the canary's
  // record, which knows nothing of an earlier run's change).
  const tagged = await readVisibilityIntent(ctx, url, record.deploymentId);
  const original = record.settings.visibilityTimeout?.before ?? tagged?.before ?? current;
  const preflight = record.queue?.visibilityTimeout;
  if (preflight !== undefined && preflight !== original) {
    warn(
      ctx,
      record,
      `the queue's visibility timeout was ${original}s before this rollout changed it, not the ${preflight}s preflight read: changed by someone since preflight`,
    );
  }
  view.queue = { before: original, target, planned: ctx.inputs.dryRun };
  if (ctx.inputs.dryRun) {
    report.info(`would set the queue's visibility timeout ${current}s → ${target}s`);
    return undefined;
  }
  if (original === target && current === target) {
    // Nothing changes: the queue already had the value before this deployment.
    view.queue.after = current;
    record.settings.visibilityTimeout = {
      before: original,
      after: current,
      at: runtime.clock.now().toISOString(),
      s: 'done',
    };
    report.info(`queue visibility timeout is already ${target}s`);
    return undefined;
  }
  // Intent first, in the record and on the queue: a job killed at any moment after this leaves
  // rollback the baseline and the knowledge that the setting may have changed.
  const intent = { deploymentId: record.deploymentId, before: original, after: target };
  record.settings.visibilityTimeout = { ...intent, at: runtime.clock.now().toISOString(), s: 'intended' };
  publisher.write(true);
  await writeVisibilityIntent(ctx, url, { ...intent, state: 'intended' });
  const after = await setVisibilityTimeoutConfirmed(ctx, url, target, current);
  view.queue.after = after;
  record.settings.visibilityTimeout = {
    before: original,
    after,
    at: runtime.clock.now().toISOString(),
    s: 'done',
  };
  publisher.write(true);
  if (after !== target) {
    return `Rollout failed: the queue's visibility timeout reads ${after}s after setting ${target}s (was ${original}s)`;
  }
  await writeVisibilityIntent(ctx, url, { ...intent, state: 'done' });
  report.info(`queue visibility timeout ${current}s → ${after}s (read back)`);
  return undefined;
}
