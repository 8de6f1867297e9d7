// Runbook phase 2, without SSH: one instance gets the fix (backed up, verified, replaced
// atomically, restarted), is watched for canary-minutes, and is judged GO or NO-GO on evidence.
// The instance is tagged and written into the record before anything is sent to it, so a rollback
// knows it was touched even if this job dies mid-way.
import { resolveArtifact } from '../artifact.js';
import { getMetricSeries, seriesSum } from '../aws/cloudwatch.js';
import { describeRunningInstances, tagInstances } from '../aws/ec2.js';
import { getAgentStatus } from '../aws/ssm.js';
import {
  runOnInstance,
  sendShellCommand,
  waitForInvocation,
  type CommandOptions,
  type InvocationResult,
} from '../aws/ssm.js';
import { explainSendError } from '../remote/fan-out.js';
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
import {
  commandIndex,
  installStatus,
  newInstanceEntry,
  setInstall,
  type CanaryEvidenceRecord,
  type DeploymentRecord,
  type InstanceEntry,
} from '../record.js';
import { parseInstallOutput, parseWatchOutput, sanitize, type InstallReport } from '../remote/results.js';
import { buildWatchScript, describeExit, isScriptVerdict } from '../remote/scripts.js';
import { renderCanarySummary, type CanaryChoice, type CanaryReport } from '../summary/canary.js';
import { deploymentInstallScript } from './install-script.js';
import { Phase, recordedReason } from './phase.js';
import { requireRecord } from './record-target.js';

/** Watch polls are short: a minute of journal grep, not an install. */
const WATCH_TIMEOUT_SECONDS = 120;
/** CloudWatch is read at most this often during the watch (and once at its end). */
const METRIC_READ_EVERY_MS = 60_000;
const MAX_EXCERPTS_IN_RECORD = 12;
const RECORD_ERROR_MAX = 200;

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
  const phase = Phase.start(ctx, record, 'canary', { dryRun: inputs.dryRun || undefined });
  const startedAt = phase.startedAt;

  const choice = await phase.step('Choose the canary', () => chooseCanary(ctx, record));
  const id = choice.instanceId;
  report.info(`Canary: ${id} (${choice.why}; fleet of ${choice.fleetSize})`);

  const artifact = await phase.step('Artifact', () => resolveArtifact(ctx, record.artifact));
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
  const installScript = deploymentInstallScript(ctx, { record, artifact, region: inputs.region });
  const patterns = { health: inputs.healthPatterns, errors: inputs.errorPatterns };
  const view: CanaryReport = {
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
    await phase.step(`dry-run: the install script that would be sent to ${id}`, async () =>
      report.info(installScript),
    );
    const reason = `dry-run: would install ${artifact.s3Uri} on ${id} and watch it for ${inputs.canaryMinutes} min; nothing was sent`;
    phase.end({ verdict: 'pass', reason, publish: false });
    return phase.outcome({
      verdict: 'pass',
      summary: renderCanarySummary({ ...view, script: installScript, reasons: [reason] }),
      outputs: { [Output.CanaryInstanceId]: id, [Output.DeploymentId]: record.deploymentId },
    });
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
  const entry = newInstanceEntry({ phase: 'canary', batch: 0, status: 'sent', commandIndex: -1 });
  record.instances[id] = entry;
  record.canary = { instanceId: id, verdict: 'no-go', reason: 'in progress: not judged yet', startedAt };
  publishRecord(ctx, record);

  const evidence: CanaryEvidenceRecord = { artifact: { s3Uri: artifact.s3Uri, sha256: artifact.sha256 } };
  const run: CanaryRun = { ctx, record, phase, entry, id, evidence, view };
  const outcome = await deployAndWatch(run, { installScript }).catch((e: unknown): WatchOutcome => {
    // Whatever broke, the record says what was touched, and the verdict is NO-GO.
    const message = sanitize(errorMessage(e), 400);
    if (installStatus(entry) === 'sent') {
      setInstall(entry, { status: 'failed', error: message.slice(0, RECORD_ERROR_MAX) });
    }
    evidence.error = message;
    return { judgement: undefined, reasons: [message], evidence };
  });

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
    reason: recordedReason('canary', reason),
    startedAt,
    endedAt,
    evidence: { decision, ...outcome.evidence },
  };
  phase.end({ verdict, reason, endedAt });
  report.info(`Canary ${verdict.toUpperCase()} (${decision}): ${reason}`);
  return phase.outcome({
    verdict,
    summary: renderCanarySummary({ ...view, verdict, decision, reasons, evidence: outcome.evidence, entry }),
    outputs: { [Output.CanaryInstanceId]: id, [Output.DeploymentId]: record.deploymentId },
    failure: verdict === 'no-go' ? `Canary NO-GO on ${id}: ${reason}` : undefined,
  });
}

interface WatchOutcome {
  judgement?: CanaryJudgement;
  reasons: string[];
  evidence: CanaryEvidenceRecord;
}

/** The canary being deployed and watched: what every step of it reads and records into. */
interface CanaryRun {
  ctx: ModeContext;
  record: DeploymentRecord;
  phase: Phase;
  /** The canary's entry in the record's instance list. */
  entry: InstanceEntry;
  id: string;
  /** What the record keeps of the install and the watch, filled in as they go. */
  evidence: CanaryEvidenceRecord;
  view: CanaryReport;
}

/** What the install left for the watch: the instance's own report and when it started. */
interface Installed {
  report: InstallReport;
  startMs: number;
}

/** What the watch saw, poll by poll. */
interface Watched {
  polls: PollObservation[];
  judgements: PollJudgement[];
  stoppedEarly?: string;
  metricSum?: number;
  since: number;
  sinceSource: 'instance' | 'runner';
  startMs: number;
}

async function deployAndWatch(run: CanaryRun, opts: { installScript: string }): Promise<WatchOutcome> {
  const installed = await run.phase.step(`Install on the canary ${run.id}`, () => installCanary(run, opts));
  if ('reasons' in installed) return installed;
  const watched = await run.phase.step(
    `Watch the canary ${run.id} for ${run.ctx.inputs.canaryMinutes} min`,
    () => watchCanary(run, installed),
  );
  return judgeWatch(run, watched);
}

/** Sends the install and reads its report; a WatchOutcome when the install did not hold. */
async function installCanary(
  run: CanaryRun,
  opts: { installScript: string },
): Promise<Installed | WatchOutcome> {
  const { ctx, record, entry, id, evidence } = run;
  const { inputs, report, api, clients, runtime } = ctx;
  const nowMs = () => runtime.clock.now().getTime();
  const artifact = run.view.artifact;
  const installOpts: CommandOptions = {
    comment: `emergency-deploy ${record.deploymentId} canary install`,
    timeoutSeconds: inputs.commandTimeoutSeconds,
  };
  const installStart = nowMs();
  // SSM refuses an instance that was terminated or lost its agent since it was picked: say which.
  const commandId = await sendShellCommand(api, clients, [id], opts.installScript, installOpts).catch(
    async (e: unknown) => {
      throw await explainSendError(api, clients, [id], e);
    },
  );
  setInstall(entry, { commandIndex: commandIndex(record, commandId) });
  publishRecord(ctx, record);
  report.info(`Install sent to ${id}: command ${commandId}`);
  const inv = await waitForInvocation(api, clients, runtime, commandId, id, installOpts);
  const installed = parseInstallOutput(inv.stdout);
  const installSeconds = seconds(installStart, nowMs());
  setInstall(entry, { installSeconds });
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
    seconds: installSeconds,
  };
  if (inv.status !== 'Success') {
    const problem = installProblem(inv, installed);
    setInstall(entry, { status: 'failed', error: problem.slice(0, RECORD_ERROR_MAX) });
    publishRecord(ctx, record);
    return { reasons: [problem], evidence };
  }
  if (installed.sha256After !== undefined && installed.sha256After !== artifact.sha256) {
    setInstall(entry, {
      status: 'failed',
      error: `the file on the instance has SHA-256 ${installed.sha256After}`,
    });
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
  setInstall(entry, { status: 'installed', error: null });
  publishRecord(ctx, record);
  report.info(
    `Installed on ${id} in ${installSeconds}s: ${installed.result ?? 'done'}, backup ${installed.backupPath ?? record.target.backupPath}, service ${installed.service ?? 'active (exit code 0)'}`,
  );
  return { report: installed, startMs: installStart };
}

/**
 * Watch: one command per poll, for canary-minutes, ending at the first sign of trouble. The
 * instance reads its journal from the new main process's start (mainStartBaseline, to the
 * microsecond); `since` is only the fallback for a unit that reports no start, and a lower bound.
 */
async function watchCanary(run: CanaryRun, installed: Installed): Promise<Watched> {
  const { ctx, record, id, view } = run;
  const { inputs, report, api, clients, runtime } = ctx;
  const nowMs = () => runtime.clock.now().getTime();
  const sinceSource = installed.report.restartedAt !== undefined ? 'instance' : 'runner';
  const since = installed.report.restartedAt ?? Math.floor(installed.startMs / 1000);
  const restartsBaseline = installed.report.restarts ?? 0;
  const watchScript = buildWatchScript({
    serviceName: inputs.serviceName,
    sinceEpochSeconds: since,
    healthPatterns: view.patterns.health,
    errorPatterns: view.patterns.errors,
    restartsBaseline,
    mainStartBaseline: installed.report.mainStart,
  });
  const watchOpts: CommandOptions = {
    comment: `emergency-deploy ${record.deploymentId} canary watch`,
    timeoutSeconds: Math.min(inputs.commandTimeoutSeconds, WATCH_TIMEOUT_SECONDS),
  };
  const watchStart = nowMs();
  const deadline = watchStart + inputs.canaryMinutes * 60_000;
  const watched: Watched = { polls: [], judgements: [], since, sinceSource, startMs: watchStart };
  const { polls, judgements } = watched;
  let metricReadAt: number | undefined;
  for (;;) {
    if (runtime.cancelled()) {
      watched.stoppedEarly = 'the run was cancelled during the watch';
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
      watched.metricSum = await readCanaryMetric(run, { metric: view.metric, fromMs: installed.startMs });
      if (watched.metricSum !== undefined && watched.metricSum > 0) {
        watched.stoppedEarly = `${view.metric.name} summed to ${watched.metricSum} for the canary (must stay 0)`;
        break;
      }
    }
    const fast = failFastReason(judgements);
    if (fast) {
      if (judgement.failures.length === 0) watched.stoppedEarly = fast;
      break;
    }
    if (final) break;
    const wait = Math.min(pollStart + inputs.pollSeconds * 1000, deadline) - nowMs();
    if (wait > 0) await runtime.sleep(wait);
  }
  return watched;
}

/** The canary's own deletion-failure metric, summed from the minute of the install to now. */
async function readCanaryMetric(
  run: CanaryRun,
  opts: { metric: NonNullable<CanaryReport['metric']>; fromMs: number },
): Promise<number | undefined> {
  const { api, clients, runtime } = run.ctx;
  const { metric } = opts;
  const series = await getMetricSeries(
    api,
    clients,
    [
      {
        id: 'canary',
        namespace: metric.namespace,
        metricName: metric.name,
        dimensions: { [metric.dimension]: run.id },
        stat: 'Sum',
        periodSeconds: 60,
      },
    ],
    new Date(Math.floor(opts.fromMs / 60_000) * 60_000),
    new Date(runtime.clock.now().getTime()),
  );
  return seriesSum(series.get('canary'));
}

/** The decision from the polls, and the evidence the record keeps of them. */
function judgeWatch(run: CanaryRun, watched: Watched): WatchOutcome {
  const { view, evidence } = run;
  const { polls, judgements, stoppedEarly, metricSum } = watched;
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
      since: watched.since,
      sinceSource: watched.sinceSource,
      window: lastReported?.window,
      windowBefore: lastReported?.windowBefore,
      firstCommandId: polls[0]?.commandId,
      lastCommandId: polls[polls.length - 1]?.commandId,
      seconds: seconds(watched.startMs, run.ctx.runtime.clock.now().getTime()),
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
