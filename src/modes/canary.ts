// Runbook phase 2, without SSH: one instance gets the fix (backed up, verified, replaced
// atomically, restarted), is watched for canary-minutes, and is judged GO or NO-GO on evidence.
// The instance is tagged and written into the record before anything is sent to it, so a rollback
// knows it was touched even if this job dies mid-way.
import { resolveArtifact } from '../artifact.js';
import { getMetricSeries, seriesSum } from '../aws/cloudwatch.js';
import { describeRunningInstances, tagInstances } from '../aws/ec2.js';
import { getAgentStatus } from '../aws/ssm.js';
import {
  explainSendError,
  runOnInstance,
  sendShellCommand,
  waitForInvocation,
  type CommandOptions,
  type InvocationResult,
} from '../aws/ssm-commands.js';
import {
  Input,
  Output,
  SSM_MAX_TARGETS,
  TAG_ARTIFACT_SHA256,
  TAG_BACKUP_PATH,
  TAG_DEPLOYMENT_ID,
} from '../constants.js';
import { publishRecord, warn, type ModeContext, type ModeOutcome } from '../context.js';
import { DeploymentFailure, errorMessage, InputError } from '../errors.js';
import { stableOrder } from '../logic/fleet.js';
import {
  canaryVerdict,
  failFastReason,
  judgeCanary,
  judgePoll,
  type CanaryJudgement,
  type PollJudgement,
  type PollObservation,
} from '../logic/health.js';
import { commandIndex, markPhase, type DeploymentRecord, type InstanceEntry } from '../record.js';
import { parseInstallOutput, parseWatchOutput, sanitize, type InstallReport } from '../remote/results.js';
import { buildInstallScript, buildWatchScript, describeExit, isScriptVerdict } from '../remote/scripts.js';
import { renderCanarySummary, type CanaryView } from '../summary/canary.js';
import { requireRecord } from './record-target.js';

/** Watch polls are short: a minute of journal grep, not an install. */
const WATCH_TIMEOUT_SECONDS = 120;
/** CloudWatch is read at most this often during the watch (and once at its end). */
const METRIC_READ_EVERY_MS = 60_000;
const MAX_EXCERPTS_IN_RECORD = 12;
const RECORD_ERROR_MAX = 200;

export interface CanaryChoice {
  instanceId: string;
  /** why this instance: the input, the earlier canary of this deployment, or the stable order */
  why: string;
  fleetSize: number;
  agent?: string;
}

/**
 * The canary: canary-instance-id, or the first instance of the fleet's stable order that is still
 * running and, with ssm-check, Online. A rerun prefers the canary this deployment already chose.
 */
export async function chooseCanary(ctx: ModeContext, record: DeploymentRecord): Promise<CanaryChoice> {
  const { inputs, api, clients } = ctx;
  const running = stableOrder(await describeRunningInstances(api, clients, inputs.instanceFilters)).map(
    (i) => i.id,
  );
  const runningNow = new Set(running);
  let fleet = record.fleet?.instanceIds;
  if (!fleet) {
    warn(
      ctx,
      record,
      'the record has no fleet from preflight: the canary is chosen from the instances running now',
    );
    fleet = running;
  }
  const fleetSet = new Set(fleet);
  const agentOf = async (ids: string[]) => (inputs.ssmCheck ? getAgentStatus(api, clients, ids) : undefined);

  if (inputs.canaryInstanceId) {
    const id = inputs.canaryInstanceId;
    if (!fleetSet.has(id)) {
      throw new InputError(
        Input.CanaryInstanceId,
        `${id} is not in the fleet of deployment ${record.deploymentId} (${fleet.length} instance(s) found by preflight)`,
      );
    }
    if (!runningNow.has(id)) {
      throw new InputError(
        Input.CanaryInstanceId,
        `${id} is no longer running (or no longer matches instance-filters)`,
      );
    }
    const agents = await agentOf([id]);
    const agent = agents?.get(id);
    if (agents && agent !== 'Online') {
      throw new DeploymentFailure(
        `The canary ${id} is not reachable: its SSM agent is ${agent ?? 'not registered'}`,
      );
    }
    return { instanceId: id, why: `named by ${Input.CanaryInstanceId}`, fleetSize: fleet.length, agent };
  }

  const candidates = stableOrder(fleet.filter((id) => runningNow.has(id)).map((id) => ({ id }))).map(
    (i) => i.id,
  );
  const earlier = record.canary?.instanceId;
  if (earlier && candidates.includes(earlier)) {
    candidates.splice(candidates.indexOf(earlier), 1);
    candidates.unshift(earlier);
  }
  if (candidates.length === 0) {
    throw new DeploymentFailure(
      `No instance of the fleet (${fleet.length} found by preflight) is running now: there is nothing to use as a canary`,
    );
  }
  const why = (id: string) =>
    id === earlier
      ? 'the canary this deployment chose before'
      : 'the first running instance in the stable order';
  if (!inputs.ssmCheck)
    return { instanceId: candidates[0], why: why(candidates[0]), fleetSize: fleet.length };
  // Agents are asked 50 at a time, stopping at the first chunk with an Online instance.
  const notOnline: string[] = [];
  for (let i = 0; i < candidates.length; i += SSM_MAX_TARGETS) {
    const chunk = candidates.slice(i, i + SSM_MAX_TARGETS);
    const agents = await getAgentStatus(api, clients, chunk);
    for (const id of chunk) {
      const agent = agents.get(id);
      if (agent === 'Online')
        return { instanceId: id, why: `${why(id)}, SSM Online`, fleetSize: fleet.length, agent };
      notOnline.push(`${id} (${agent ?? 'not registered'})`);
    }
  }
  throw new DeploymentFailure(
    `No running instance of the fleet has an Online SSM agent: ${notOnline.slice(0, 10).join(', ')}${notOnline.length > 10 ? ', …' : ''}`,
  );
}

function seconds(fromMs: number, toMs: number): number {
  return Math.round((toMs - fromMs) / 1000);
}

function installProblem(inv: InvocationResult, report: InstallReport): string {
  const what = isScriptVerdict(inv.responseCode) ? describeExit(inv.responseCode) : undefined;
  const detail = report.error ?? inv.stderr.trim().split('\n').slice(-3).join(' ');
  const status = `SSM ${inv.status}${inv.statusDetails && inv.statusDetails !== inv.status ? ` (${inv.statusDetails})` : ''}`;
  return sanitize(
    [
      `install ${status}`,
      inv.responseCode >= 0 ? `exit code ${inv.responseCode}${what ? `: ${what}` : ''}` : '',
      detail,
    ]
      .filter(Boolean)
      .join(', '),
    400,
  );
}

export async function canary(ctx: ModeContext): Promise<ModeOutcome> {
  const { inputs, report, api, clients, runtime } = ctx;
  const record = requireRecord(inputs, 'canary', 'preflight');
  const clock = () => runtime.clock.now();
  const startedAt = clock().toISOString();
  markPhase(record, { mode: 'canary', startedAt, dryRun: inputs.dryRun || undefined });

  const choice = await chooseCanary(ctx, record);
  const id = choice.instanceId;
  report.info(`Canary: ${id} (${choice.why}; fleet of ${choice.fleetSize})`);

  const artifact = await resolveArtifact(ctx, record.artifact);
  report.info(`Artifact: ${artifact.s3Uri} (SHA-256 ${artifact.sha256}, from ${artifact.shaSource})`);
  if (
    record.artifact &&
    record.artifact.sha256 !== artifact.sha256 &&
    Object.keys(record.instances).length > 0
  ) {
    warn(
      ctx,
      record,
      `the record's artifact ${record.artifact.s3Uri} (SHA-256 ${record.artifact.sha256}) is replaced by ${artifact.s3Uri} (SHA-256 ${artifact.sha256}) while instances were already touched`,
    );
  }
  const backupPath = record.target.backupPath;
  const installScript = buildInstallScript({
    deploymentId: record.deploymentId,
    serviceName: inputs.serviceName,
    workerDir: inputs.workerDir,
    targetFile: inputs.targetFile,
    artifactS3Uri: artifact.s3Uri,
    sha256: artifact.sha256,
    region: inputs.region,
  });
  const patterns = { health: inputs.healthPatterns, errors: inputs.errorPatterns };
  const view: CanaryView = {
    deploymentId: record.deploymentId,
    dryRun: inputs.dryRun,
    choice,
    artifact,
    backupPath,
    serviceName: inputs.serviceName,
    patterns,
    canaryMinutes: inputs.canaryMinutes,
    pollSeconds: inputs.pollSeconds,
    metric: inputs.canaryMetricDimension
      ? {
          name: inputs.metricName,
          namespace: inputs.metricNamespace,
          dimension: inputs.canaryMetricDimension,
        }
      : undefined,
    allowInconclusive: inputs.allowInconclusive,
    warnings: record.warnings,
  };

  if (inputs.dryRun) {
    await report.group(`dry-run: the install script that would be sent to ${id}`, async () =>
      report.info(installScript),
    );
    const reason = `dry-run: would install ${artifact.s3Uri} on ${id} and watch it for ${inputs.canaryMinutes} min; nothing was sent`;
    markPhase(record, {
      mode: 'canary',
      startedAt,
      endedAt: clock().toISOString(),
      verdict: 'pass',
      reason,
      dryRun: true,
    });
    return {
      verdict: 'pass',
      record,
      summary: renderCanarySummary({ ...view, script: installScript, reasons: [reason] }),
      outputs: { [Output.CanaryInstanceId]: id, [Output.DeploymentId]: record.deploymentId },
    };
  }

  if (runtime.cancelled())
    throw new DeploymentFailure('Cancelled before the canary was touched: nothing was changed');

  // Touched from here on: tags on the instance and an entry in the record come first.
  await tagInstances(api, clients, [id], {
    [TAG_DEPLOYMENT_ID]: record.deploymentId,
    [TAG_BACKUP_PATH]: backupPath,
    [TAG_ARTIFACT_SHA256]: artifact.sha256,
  });
  record.artifact = { s3Uri: artifact.s3Uri, sha256: artifact.sha256, uploaded: artifact.uploaded };
  const entry: InstanceEntry = { p: 'c', b: 0, s: 'sent', c: -1 };
  record.instances[id] = entry;
  record.canary = { instanceId: id, verdict: 'no-go', reason: 'in progress: not judged yet', startedAt };
  publishRecord(ctx, record);

  const evidence: CanaryEvidenceRecord = { artifact: { s3Uri: artifact.s3Uri, sha256: artifact.sha256 } };
  const outcome = await deployAndWatch(ctx, record, entry, id, installScript, evidence, view).catch(
    (e: unknown): WatchOutcome => {
      // Whatever broke, the record says what was touched, and the verdict is NO-GO.
      const message = sanitize(errorMessage(e), 400);
      if (entry.s === 'sent') {
        entry.s = 'failed';
        entry.e = message.slice(0, RECORD_ERROR_MAX);
      }
      evidence.error = message;
      return { judgement: undefined, reasons: [message], evidence };
    },
  );

  const decision = outcome.judgement?.decision ?? 'no-go';
  const verdict = canaryVerdict(decision, inputs.allowInconclusive);
  const reasons = [...outcome.reasons];
  if (decision === 'inconclusive') {
    reasons.push(
      inputs.allowInconclusive
        ? `inconclusive, passed as GO because ${Input.AllowInconclusive} is true`
        : `inconclusive is a NO-GO unless ${Input.AllowInconclusive} is true`,
    );
  }
  const reason = reasons.join('; ');
  const endedAt = clock().toISOString();
  record.canary = {
    instanceId: id,
    verdict,
    reason: reason.slice(0, 1000),
    startedAt,
    endedAt,
    evidence: { decision, ...outcome.evidence },
  };
  markPhase(record, { mode: 'canary', startedAt, endedAt, verdict, reason: reason.slice(0, 1000) });
  publishRecord(ctx, record);
  report.info(`Canary ${verdict.toUpperCase()} (${decision}): ${reason}`);
  return {
    verdict,
    record,
    summary: renderCanarySummary({ ...view, verdict, decision, reasons, evidence: outcome.evidence, entry }),
    outputs: { [Output.CanaryInstanceId]: id, [Output.DeploymentId]: record.deploymentId },
    failure: verdict === 'no-go' ? `Canary NO-GO on ${id}: ${reason}` : undefined,
  };
}

/** Compact evidence, kept in the record (the summary renders it, escaped). */
export interface CanaryEvidenceRecord {
  error?: string;
  artifact?: { s3Uri: string; sha256: string };
  install?: {
    commandId: string;
    status: string;
    responseCode: number;
    result?: string;
    backupPath?: string;
    backupState?: string;
    sha256Before?: string;
    sha256After?: string;
    service?: string;
    restarts?: number;
    restart?: string;
    journal?: string[];
    seconds: number;
  };
  watch?: {
    polls: number;
    unreadable: number;
    since: number;
    sinceSource: 'instance' | 'runner';
    /** what the instance read from: the new main process's start, or `since` (no start known) */
    window?: 'main-start' | 'since';
    /** old-process lines left out of the window, at the last poll that said */
    windowBefore?: number;
    firstCommandId?: string;
    lastCommandId?: string;
    seconds: number;
    stoppedEarly?: string;
  };
  health?: { pattern: string; count: number | null }[];
  errors?: { pattern: string; count: number | null }[];
  excerpts?: { kind: 'health' | 'error'; pattern: string; line: string }[];
  service?: string;
  restarts?: number;
  tail?: string[];
  metric?: { name: string; dimension: string; sum: number | null };
}

interface WatchOutcome {
  judgement?: CanaryJudgement;
  reasons: string[];
  evidence: CanaryEvidenceRecord;
}

async function deployAndWatch(
  ctx: ModeContext,
  record: DeploymentRecord,
  entry: InstanceEntry,
  id: string,
  installScript: string,
  evidence: CanaryEvidenceRecord,
  view: CanaryView,
): Promise<WatchOutcome> {
  const { inputs, report, api, clients, runtime } = ctx;
  const nowMs = () => runtime.clock.now().getTime();
  const artifact = view.artifact;

  // 1. Install.
  const installOpts: CommandOptions = {
    comment: `emergency-deploy ${record.deploymentId} canary install`,
    timeoutSeconds: inputs.commandTimeoutSeconds,
  };
  const installStart = nowMs();
  // SSM refuses an instance that was terminated or lost its agent since it was picked: say which.
  const commandId = await sendShellCommand(api, clients, [id], installScript, installOpts).catch(
    async (e: unknown) => {
      throw await explainSendError(api, clients, [id], e);
    },
  );
  entry.c = commandIndex(record, commandId);
  publishRecord(ctx, record);
  report.info(`Install sent to ${id}: command ${commandId}`);
  const inv = await waitForInvocation(api, clients, runtime, commandId, id, installOpts);
  const installed = parseInstallOutput(inv.stdout);
  entry.t = seconds(installStart, nowMs());
  evidence.install = {
    commandId,
    status: inv.statusDetails || inv.status,
    responseCode: inv.responseCode,
    result: installed.result,
    backupPath: installed.backupPath,
    backupState: installed.backupState,
    sha256Before: installed.sha256Before,
    sha256After: installed.sha256After,
    service: installed.service,
    restarts: installed.restarts,
    restart: installed.restart,
    journal: installed.journal.length > 0 ? installed.journal.slice(-30) : undefined,
    seconds: entry.t,
  };
  if (inv.status !== 'Success') {
    const problem = installProblem(inv, installed);
    entry.s = 'failed';
    entry.e = problem.slice(0, RECORD_ERROR_MAX);
    publishRecord(ctx, record);
    return { reasons: [problem], evidence };
  }
  if (installed.sha256After !== undefined && installed.sha256After !== artifact.sha256) {
    entry.s = 'failed';
    entry.e = `the file on the instance has SHA-256 ${installed.sha256After}`;
    publishRecord(ctx, record);
    return {
      reasons: [`the installed file has SHA-256 ${installed.sha256After}, expected ${artifact.sha256}`],
      evidence,
    };
  }
  if (installed.backupPath !== undefined && installed.backupPath !== record.target.backupPath) {
    warn(
      ctx,
      record,
      `the instance reported backup ${installed.backupPath}, expected ${record.target.backupPath}`,
    );
  }
  entry.s = 'installed';
  delete entry.e;
  publishRecord(ctx, record);
  report.info(
    `Installed on ${id} in ${entry.t}s: ${installed.result ?? 'done'}, backup ${installed.backupPath ?? record.target.backupPath}, service ${installed.service ?? 'active (exit code 0)'}`,
  );

  // 2. Watch: one command per poll, for canary-minutes, ending at the first sign of trouble. The
  // instance reads its journal from the new main process's start (mainStartBaseline, to the
  // microsecond); `since` is only the fallback for a unit that reports no start, and a lower bound.
  const sinceSource = installed.restartedAt !== undefined ? 'instance' : 'runner';
  const since = installed.restartedAt ?? Math.floor(installStart / 1000);
  const restartsBaseline = installed.restarts ?? 0;
  const watchScript = buildWatchScript({
    serviceName: inputs.serviceName,
    sinceEpochSeconds: since,
    healthPatterns: view.patterns.health,
    errorPatterns: view.patterns.errors,
    restartsBaseline,
    mainStartBaseline: installed.mainStart,
  });
  const watchOpts: CommandOptions = {
    comment: `emergency-deploy ${record.deploymentId} canary watch`,
    timeoutSeconds: Math.min(inputs.commandTimeoutSeconds, WATCH_TIMEOUT_SECONDS),
  };
  const watchStart = nowMs();
  const deadline = watchStart + inputs.canaryMinutes * 60_000;
  const polls: PollObservation[] = [];
  const judgements: PollJudgement[] = [];
  let stoppedEarly: string | undefined;
  let metricSum: number | undefined;
  let metricReadAt: number | undefined;
  for (;;) {
    if (runtime.cancelled()) {
      stoppedEarly = 'the run was cancelled during the watch';
      break;
    }
    const pollStart = nowMs();
    const r = await runOnInstance(api, clients, runtime, id, watchScript, watchOpts);
    const obs: PollObservation = {
      at: new Date(nowMs()).toISOString(),
      commandId: r.commandId,
      status: r.status,
      statusDetails: r.statusDetails,
      responseCode: r.responseCode,
      stderr: r.stderr,
      report: parseWatchOutput(r.stdout, view.patterns.health.length, view.patterns.errors.length),
    };
    const judgement = judgePoll(obs, view.patterns, restartsBaseline);
    polls.push(obs);
    judgements.push(judgement);
    report.info(
      `watch ${polls.length} at +${seconds(watchStart, nowMs())}s: ${judgement.unreadable ?? (judgement.failures.join('; ') || 'healthy so far')}`,
    );
    const final = nowMs() >= deadline;
    if (
      view.metric &&
      (final || metricReadAt === undefined || nowMs() - metricReadAt >= METRIC_READ_EVERY_MS)
    ) {
      metricReadAt = nowMs();
      const series = await getMetricSeries(
        api,
        clients,
        [
          {
            id: 'canary',
            namespace: view.metric.namespace,
            metricName: view.metric.name,
            dimensions: { [view.metric.dimension]: id },
            stat: 'Sum',
            periodSeconds: 60,
          },
        ],
        new Date(Math.floor(installStart / 60_000) * 60_000),
        new Date(nowMs()),
      );
      metricSum = seriesSum(series.get('canary'));
      if (metricSum !== undefined && metricSum > 0) {
        stoppedEarly = `${view.metric.name} summed to ${metricSum} for the canary (must stay 0)`;
        break;
      }
    }
    const fast = failFastReason(judgements);
    if (fast) {
      if (judgement.failures.length === 0) stoppedEarly = fast;
      break;
    }
    if (final) break;
    const wait = Math.min(pollStart + inputs.pollSeconds * 1000, deadline) - nowMs();
    if (wait > 0) await runtime.sleep(wait);
  }

  const judgement = judgeCanary({
    patterns: view.patterns,
    polls,
    judgements,
    metricSum,
    metricName: view.metric?.name,
    stoppedEarly,
  });
  const last = polls[polls.length - 1]?.report;
  const lastReported = [...polls].reverse().find((p) => p.report.window !== undefined)?.report;
  const toNull = (n: number | undefined) => (n === undefined ? null : n);
  const patternOf = (kind: 'health' | 'error', i: number) =>
    (kind === 'health' ? view.patterns.health[i] : view.patterns.errors[i]) ?? '?';
  const excerpts = new Map<string, { kind: 'health' | 'error'; pattern: string; line: string }>();
  for (const p of polls) {
    for (const x of p.report.excerpts) {
      const key = `${x.kind}.${x.index}.${x.line}`;
      if (!excerpts.has(key))
        excerpts.set(key, { kind: x.kind, pattern: patternOf(x.kind, x.index), line: x.line });
    }
  }
  // Errors first: they are the evidence an SRE needs when the answer is NO-GO.
  const excerptList = [...excerpts.values()].sort((a, b) =>
    a.kind === b.kind ? 0 : a.kind === 'error' ? -1 : 1,
  );
  Object.assign(evidence, {
    watch: {
      polls: polls.length,
      unreadable: judgements.filter((j) => j.unreadable).length,
      since,
      sinceSource,
      window: lastReported?.window,
      windowBefore: lastReported?.windowBefore,
      firstCommandId: polls[0]?.commandId,
      lastCommandId: polls[polls.length - 1]?.commandId,
      seconds: seconds(watchStart, nowMs()),
      stoppedEarly,
    },
    health: view.patterns.health.map((pattern, i) => ({ pattern, count: toNull(judgement.healthCounts[i]) })),
    errors: view.patterns.errors.map((pattern, i) => ({ pattern, count: toNull(judgement.errorCounts[i]) })),
    excerpts: excerptList.slice(0, MAX_EXCERPTS_IN_RECORD),
    service: last?.service,
    restarts: last?.restarts,
    tail: last && last.tail.length > 0 ? last.tail : undefined,
    metric: view.metric
      ? { name: view.metric.name, dimension: view.metric.dimension, sum: toNull(metricSum) }
      : undefined,
  } satisfies CanaryEvidenceRecord);
  const reasons = [...judgement.reasons];
  if (view.metric && metricSum === undefined) {
    reasons.push(`${view.metric.name} for the canary had no data yet: not judged`);
  }
  return { judgement, reasons, evidence };
}
