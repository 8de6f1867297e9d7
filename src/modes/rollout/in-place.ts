// Strategy ssm: the file is replaced in place, batch by batch, through SSM's own fan-out. Each
// batch is tagged, marked in the record, installed, baked and health-checked; the error budget
// (max-errors) halts the rollout between batches.
import { formatSecondsShort } from '../../summary/time.js';
import { TAG_ARTIFACT_SHA256, TAG_BACKUP_PATH, TAG_DEPLOYMENT_ID } from '../../constants.js';
import { warn } from '../../context.js';
import { tagInstances } from '../../aws/ec2.js';
import { getAgentStatus } from '../../aws/ssm.js';
import { firstStderrLine, type InvocationResult } from '../../aws/ssm.js';
import { fateOf, runOnFleet, type FanOutResult } from '../../remote/fan-out.js';
import {
  batchSizeFor,
  estimateSecondsLeft,
  overErrorBudget,
  planBatches,
  progressLine,
  selectForRollout,
  ssmMaxConcurrency,
  ssmMaxErrors,
} from '../../logic/batches.js';
import {
  commandIndex,
  MAX_RECORDED_BATCHES,
  newInstanceEntry,
  setInstall,
  viewInstance,
  type DeploymentRecord,
  type InstanceEntry,
  type RolloutExtra,
} from '../../record.js';
import { parseResultLines } from '../../remote/results.js';
import { buildHealthCheckScript, describeExit, isScriptVerdict } from '../../remote/scripts.js';
import type { BatchReport } from '../../summary/rollout.js';
import { deploymentInstallScript } from '../install-script.js';
import { list, RECORD_ALWAYS_WRITE_INSTANCES, type RolloutRun, type RolloutStrategy } from './strategy.js';

// The post-batch health check is short: it reads a journal and a unit state.
const HEALTH_CHECK_TIMEOUT_SECONDS = 120;

/** Instances that failed so far this run (unreachable ones included), against max-errors. */
interface Budget {
  failed: number;
}

type BatchStop = 'cancelled' | 'send-failed' | undefined;

export const inPlace: RolloutStrategy = {
  async deploy(run) {
    const { ctx, record, facts, fleet } = run;
    const { inputs } = ctx;
    if (fleet.length === 0) return 'Rollout failed: no running instance matches the filters';
    const selected = await selectInstances(run);
    if (typeof selected === 'string') return selected;
    const { toDeploy, budget } = selected;

    run.publisher.large =
      Object.keys(record.instances).length + toDeploy.length > RECORD_ALWAYS_WRITE_INSTANCES;
    facts.batchSize = batchSizeFor(inputs.batchSize, fleet.length);
    facts.plan = planBatches(toDeploy, facts.batchSize);
    const n = facts.plan.length;
    ctx.report.info(
      `Plan: ${toDeploy.length} instance(s) in ${n} batch(es) of up to ${facts.batchSize}, ${inputs.pauseSeconds}s bake between batches, max-errors ${inputs.maxErrors}`,
    );

    const artifact = record.artifact;
    if (inputs.dryRun) {
      facts.plan.forEach((ids, i) => ctx.report.info(`  batch ${i + 1} of ${n}: ${list(ids, 50)}`));
      if (!artifact)
        warn(ctx, record, 'dry-run: the record has no artifact; a real rollout would refuse to start');
      return undefined;
    }
    if (n === 0) {
      ctx.report.info('Nothing to deploy: every running instance already runs the fix');
      return undefined;
    }
    if (!artifact)
      return 'Rollout refused: the record has no artifact (S3 location and SHA-256) from the canary';

    const installScript = deploymentInstallScript(ctx, { record, artifact, region: record.region });
    return runBatches(run, { installScript, budget, total: toDeploy.length });
  },
};

/**
 * What this run deploys: the fleet less the canary and what an earlier run installed, less (with
 * ssm-check) the instances SSM cannot reach, which count against the budget up front. A string is
 * the reason the rollout does not start.
 */
async function selectInstances(run: RolloutRun): Promise<{ toDeploy: string[]; budget: Budget } | string> {
  const { ctx, record, facts, fleet } = run;
  const { inputs } = ctx;
  const selection = selectForRollout(fleet, record.instances, record.canary?.instanceId);
  facts.canary = selection.canary;
  facts.alreadyInstalled = selection.alreadyInstalled;
  if (selection.alreadyInstalled.length > 0) {
    ctx.report.info(
      `${selection.alreadyInstalled.length} instance(s) already installed by an earlier run of this rollout: skipped`,
    );
  }
  let toDeploy = selection.toDeploy;
  const budget: Budget = { failed: 0 };
  if (!inputs.ssmCheck || toDeploy.length === 0) return { toDeploy, budget };

  const candidates = toDeploy;
  const agents = await run.phase.step('SSM agents', () => getAgentStatus(ctx.api, ctx.clients, candidates));
  facts.offline = toDeploy.filter((id) => agents.get(id) !== 'Online');
  if (facts.offline.length > 0) {
    // Unreachable instances cannot get the fix: they count against the budget up front.
    budget.failed += facts.offline.length;
    warn(
      ctx,
      record,
      `${facts.offline.length} instance(s) are not Online in SSM and will not be deployed: ${list(facts.offline)}`,
    );
    toDeploy = toDeploy.filter((id) => !facts.offline.includes(id));
    if (overErrorBudget(inputs.maxErrors, budget.failed)) {
      return `Rollout not started: ${facts.offline.length} instance(s) are unreachable through SSM, more than max-errors ${inputs.maxErrors}`;
    }
  }
  return { toDeploy, budget };
}

/** The planned batches, one log group each, until the last, a cancellation or the budget halts. */
async function runBatches(
  run: RolloutRun,
  opts: { installScript: string; budget: Budget; total: number },
): Promise<string | undefined> {
  const { ctx, record, facts, publisher } = run;
  const { inputs, runtime } = ctx;
  const { budget } = opts;
  const n = facts.plan.length;
  const history = batchHistory(run);
  const firstBatch = 1 + lastRolloutBatch(record);
  const start = runtime.clock.now().getTime();
  let done = 0;

  for (let i = 0; i < n; i++) {
    if (runtime.cancelled()) {
      return `Rollout cancelled before batch ${i + 1} of ${n}; ${n - i} batch(es) not started`;
    }
    const ids = facts.plan[i];
    const batch: BatchReport = {
      number: firstBatch + i,
      instanceIds: ids,
      startedAt: runtime.clock.now().toISOString(),
      installed: 0,
      failed: 0,
      cancelled: 0,
      commandIds: [],
      healthCommandIds: [],
    };
    facts.batches.push(batch);
    const title = `Batch ${i + 1} of ${n} (${ids.length} instance(s), rollout batch ${batch.number})`;
    const stop = await run.phase.step(title, () =>
      runBatch(run, { batch, installScript: opts.installScript, budget, morePlanned: i < n - 1 }),
    );
    done += batch.installed;
    recordBatchTimes(history, batch);
    ctx.report.info(
      progressLine({
        batch: i + 1,
        batches: n,
        done,
        total: opts.total,
        failed: budget.failed,
        secondsLeft: estimateSecondsLeft({
          batchesDone: i + 1,
          batchesTotal: n,
          elapsedMs: runtime.clock.now().getTime() - start,
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
  const elapsed = formatSecondsShort((runtime.clock.now().getTime() - start) / 1000);
  ctx.report.info(
    `All ${n} batch(es) done in ${elapsed}: ${done} installed, ${budget.failed} failed (max-errors ${inputs.maxErrors})`,
  );
  return undefined;
}

/** The highest rollout batch number an earlier run of this rollout used (0 when none). */
function lastRolloutBatch(record: DeploymentRecord): number {
  return Math.max(
    0,
    ...Object.values(record.instances)
      .map(viewInstance)
      .filter((e) => e.phase === 'rollout')
      .map((e) => e.batch),
  );
}

function batchHistory(run: RolloutRun): RolloutExtra {
  const { record } = run;
  // parseRecord refused a malformed one.
  const existing = record.extra.rollout;
  if (existing) return existing;
  const fresh: RolloutExtra = { startedAt: run.ctx.runtime.clock.now().toISOString(), batches: [] };
  record.extra.rollout = fresh;
  return fresh;
}

function recordBatchTimes(history: RolloutExtra, batch: BatchReport): void {
  if (history.batches.length >= MAX_RECORDED_BATCHES) {
    history.unlisted = (history.unlisted ?? 0) + 1;
    return;
  }
  history.batches.push([
    batch.number,
    Math.round((Date.parse(batch.startedAt) - Date.parse(history.startedAt)) / 1000),
    Math.round((Date.parse(batch.endedAt ?? batch.startedAt) - Date.parse(batch.startedAt)) / 1000),
    batch.installed,
    batch.failed,
  ]);
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

interface BatchRun {
  batch: BatchReport;
  installScript: string;
  budget: Budget;
  /** Another batch follows this one: it is baked before its health check. */
  morePlanned: boolean;
}

/**
 * One batch: tag, mark, install through the fan-out, bake, health-check. Returns 'cancelled' when
 * the run was cancelled during it, 'send-failed' when SendCommand failed part way.
 */
async function runBatch(run: RolloutRun, opts: BatchRun): Promise<BatchStop> {
  const { runtime } = run.ctx;
  const { batch } = opts;
  const ended = (stop: BatchStop): BatchStop => {
    batch.endedAt = runtime.clock.now().toISOString();
    return stop;
  };
  await tagAndMark(run, batch);

  const installStart = runtime.clock.now().getTime();
  const install = await sendInstall(run, opts);
  const installEnd = runtime.clock.now().getTime();
  batch.installSeconds = Math.round((installEnd - installStart) / 1000);
  const installed = judgeInstall(run, { batch, install, budget: opts.budget });
  if (install.cancelled) return ended('cancelled');
  if (install.sendError !== undefined) {
    batch.sendError = install.sendError;
    return ended('send-failed');
  }

  if (await bake(run, opts)) return ended('cancelled');
  if (installed.length > 0) {
    const cancelled = await checkHealth(run, { ...opts, installed, installEnd });
    if (cancelled) return ended('cancelled');
  }
  return ended(undefined);
}

/** Tags first: whatever happens to this job, rollback can find what it touched. */
async function tagAndMark(run: RolloutRun, batch: BatchReport): Promise<void> {
  const { ctx, record } = run;
  const ids = batch.instanceIds;
  await tagInstances(ctx.api, ctx.clients, ids, {
    [TAG_DEPLOYMENT_ID]: record.deploymentId,
    [TAG_BACKUP_PATH]: record.target.backupPath,
    ...(record.artifact ? { [TAG_ARTIFACT_SHA256]: record.artifact.sha256 } : {}),
  });
  for (const id of ids)
    record.instances[id] = newInstanceEntry({
      phase: 'rollout',
      batch: batch.number,
      status: 'sent',
      commandIndex: -1,
    });
  run.publisher.write();
}

async function sendInstall(run: RolloutRun, opts: BatchRun): Promise<FanOutResult> {
  const { ctx, record } = run;
  const { batch } = opts;
  const ids = batch.instanceIds;
  return runOnFleet(ctx.api, ctx.clients, ctx.runtime, ids, opts.installScript, {
    comment: `emergency-deploy ${record.deploymentId} rollout batch ${batch.number}`,
    timeoutSeconds: ctx.inputs.commandTimeoutSeconds,
    maxConcurrency: ssmMaxConcurrency(ids.length),
    maxErrors: ssmMaxErrors(ctx.inputs.maxErrors, opts.budget.failed),
    onSent: (commandId, sentIds) => {
      batch.commandIds.push(commandId);
      const c = commandIndex(record, commandId);
      for (const id of sentIds) setInstall(record.instances[id], { commandIndex: c });
    },
  });
}

/** Each instance's install result into the record and the batch; returns the installed ids. */
function judgeInstall(
  run: RolloutRun,
  opts: { batch: BatchReport; install: FanOutResult; budget: Budget },
): string[] {
  const { ctx, record } = run;
  const { batch, install } = opts;
  const ids = batch.instanceIds;
  const installed: string[] = [];
  const gone: string[] = [];
  for (const id of ids) {
    const entry: InstanceEntry = record.instances[id];
    const r = install.results.get(id);
    setInstall(entry, { installSeconds: batch.installSeconds });
    const fate = r ? fateOf(r) : 'failed';
    if (fate === 'success') {
      setInstall(entry, { status: 'installed' });
      installed.push(id);
    } else if (fate === 'gone') {
      // Terminated (scale-in, a refresh, a health replacement) before it could run the install:
      // nothing of it can run the old file any more, so it is reported, not failed.
      setInstall(entry, {
        status: 'cancelled',
        error: `gone: ${(r as InvocationResult).statusDetails}`.slice(0, 120),
      });
      gone.push(id);
    } else if (
      (install.cancelled && (!r || r.status === 'Cancelled')) ||
      (fate === 'cancelled' && r?.commandId === '')
    ) {
      // Cancelled, or never sent (the send failed part way): nothing reached the instance.
      setInstall(entry, {
        status: 'cancelled',
        error: r?.commandId === '' ? r.statusDetails.slice(0, 120) : 'cancelled by the action',
      });
      batch.cancelled++;
    } else {
      setInstall(entry, { status: 'failed', error: r ? failureText(r, 'install') : 'install: no result' });
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
  opts.budget.failed += batch.failed;
  ctx.report.info(
    `installed on ${installed.length} of ${ids.length}; ${batch.failed} failed${batch.cancelled ? `; ${batch.cancelled} cancelled` : ''}`,
  );
  for (const id of ids) {
    const e = viewInstance(record.instances[id]);
    if (e.status === 'failed') ctx.report.warning(`${id}: ${e.error}`);
  }
  run.publisher.write();
  return installed;
}

/**
 * Bake between batches; the health check then covers the bake. No bake after the last batch or
 * when this batch already broke the budget (no batch follows it). True when cancelled during it.
 */
async function bake(run: RolloutRun, opts: BatchRun): Promise<boolean> {
  const { inputs, runtime, report } = run.ctx;
  if (!opts.morePlanned || inputs.pauseSeconds <= 0 || overErrorBudget(inputs.maxErrors, opts.budget.failed))
    return false;
  report.info(`baking ${formatSecondsShort(inputs.pauseSeconds)} before the health check and the next batch`);
  await runtime.sleep(inputs.pauseSeconds * 1000);
  return runtime.cancelled();
}

/** The health check of the installed instances; true when the run was cancelled during it. */
async function checkHealth(
  run: RolloutRun,
  opts: BatchRun & { installed: string[]; installEnd: number },
): Promise<boolean> {
  const { ctx, record } = run;
  const { inputs } = ctx;
  const { batch, installed } = opts;
  // From the end of the install: the old worker's own errors just before its restart must not
  // count against the new one; a crash right after the restart shows as inactive or restarted.
  const health = await runOnFleet(
    ctx.api,
    ctx.clients,
    ctx.runtime,
    installed,
    buildHealthCheckScript({
      serviceName: inputs.serviceName,
      sinceEpochSeconds: Math.floor(opts.installEnd / 1000),
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
      ctx.report.warning(`${id}: gone before its health check (${r.statusDetails})`);
      continue;
    }
    const error = r ? failureText(r, 'health check') : 'health check: no result';
    setInstall(record.instances[id], { status: 'failed', error });
    unhealthy++;
    ctx.report.warning(`${id}: ${error}`);
  }
  batch.failed += unhealthy;
  opts.budget.failed += unhealthy;
  ctx.report.info(`health check: ${installed.length - unhealthy} of ${installed.length} healthy`);
  batch.installed = installed.length - unhealthy;
  return health.cancelled;
}
