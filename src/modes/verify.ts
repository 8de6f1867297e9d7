// Runbook phase 4: watch the queue, the DLQ and the fleet for the verify window (instead of a
// person at `watch -n 60`), read CloudWatch for the same window, and judge the checkpoint's success
// criteria. Nothing is changed except the record.
import { notificationsSection, renderNotificationAfter } from '../summary/notifications.js';
import { Output } from '../constants.js';
import { publishRecord, warn, type ModeContext, type ModeOutcome } from '../context.js';
import {
  getMetricSeries,
  listMetricDimensions,
  seriesSum,
  type MetricQuery,
  type MetricSeries,
} from '../aws/cloudwatch.js';
import { describeGroupMembers, type GroupMember } from '../aws/autoscaling.js';
import { describeFleetNow } from '../aws/ec2.js';
import { getQueueDepth, peekMessages } from '../aws/sqs.js';
import { runOnFleet } from '../remote/fan-out.js';
import { errorMessage } from '../errors.js';
import { classifyFleet, stableOrder, type FixEvidence, type FleetMemberNow } from '../logic/fleet.js';
import { Input } from '../constants.js';
import { deploymentFilters } from './fleet-filters.js';
import {
  downsample,
  judge,
  lastDlq,
  lastQueueSample,
  ratePerHour,
  type DlqPeek,
  type FleetReading,
  type Sample,
  type ServiceReading,
  type WindowMetrics,
} from '../logic/trend.js';
import { parseResultLines } from '../remote/results.js';
import { buildServiceStatusScript, ScriptExit } from '../remote/scripts.js';
import {
  recordedCriterion,
  startRecord,
  toSampleColumns,
  type DeploymentRecord,
  type MetricsSnapshot,
  type VerifyRecordEntry,
} from '../record.js';
import { renderVerifySummary } from '../summary/verify.js';
import { Phase } from './phase.js';
import { queueInfo, resolveQueues } from './queues.js';

// CloudWatch's SQS metrics have one-minute resolution.
const METRIC_PERIOD_SECONDS = 60;
// Samples kept in the record per checkpoint (the summary shows them all, charted).
const RECORDED_SAMPLES = 120;
const SERVICE_CHECK_TIMEOUT_SECONDS = 60;

/** Every instance an earlier job recorded: the discovered fleet and every instance it touched. */
function recordedInstances(record: DeploymentRecord): string[] {
  return stableOrder(
    [...(record.fleet?.instanceIds ?? []), ...Object.keys(record.instances ?? {})].map((id) => ({ id })),
  ).map((i) => i.id);
}

/** What in the record says an instance runs this deployment's fix. */
function fixEvidence(record: DeploymentRecord): FixEvidence {
  return {
    deploymentId: record.deploymentId,
    entries: record.instances ?? {},
    imageId: record.settings?.image?.id,
    launchTemplateVersion: record.settings?.launchTemplate?.newVersion,
  };
}

/** The deployment's Auto Scaling group: the input, else the one the rollout refreshed. */
function deploymentGroup(ctx: ModeContext, record: DeploymentRecord): string | undefined {
  return ctx.inputs.asgName ?? record.settings?.refresh?.asgName;
}

/** Reads one source for a sample; a failed read leaves the field unread and is warned about once. */
async function readOrWarn<T>(
  ctx: ModeContext,
  record: DeploymentRecord,
  warned: Set<string>,
  what: string,
  read: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (!warned.has(what)) {
      warned.add(what);
      warn(
        ctx,
        record,
        `verify could not read ${what} (that sample's figure is left unread): ${errorMessage(e)}`,
      );
    }
    return undefined;
  }
}

function floorMinute(ms: number): Date {
  return new Date(Math.floor(ms / 60_000) * 60_000);
}

function ceilMinute(ms: number): Date {
  return new Date(Math.ceil(ms / 60_000) * 60_000);
}

function roundTenth(n: number | undefined): number | undefined {
  return n === undefined ? undefined : Math.round(n * 10) / 10;
}

function lastPoint(s: MetricSeries | undefined): number | undefined {
  return s && s.points.length > 0 ? s.points[s.points.length - 1].value : undefined;
}

/** "Name=Value, Name=Value" for a dimension combination; "(no dimensions)" for none. */
function showDimensions(dims: Record<string, string>): string {
  const entries = Object.entries(dims).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? '(no dimensions)' : entries.map(([k, v]) => `${k}=${v}`).join(', ');
}

function dimensionNames(dims: Record<string, string>): string {
  const names = Object.keys(dims).sort();
  return names.length === 0 ? '(none)' : names.join(',');
}

/**
 * The worker's metric as it publishes it: every dimension combination of that name in the
 * namespace, each its own metric in CloudWatch, queried one by one and summed. With
 * `metric-dimensions`, only the combinations of exactly those dimension names.
 */
async function workerMetricQueries(
  ctx: ModeContext,
  record: DeploymentRecord,
): Promise<{ queries: MetricQuery[]; shown: string[] }> {
  const { inputs } = ctx;
  const label = `${inputs.metricNamespace}/${inputs.metricName}`;
  let combos = await listMetricDimensions(ctx.api, ctx.clients, inputs.metricNamespace, inputs.metricName);
  const shapes = [...new Set(combos.map(dimensionNames))].sort();
  if (inputs.metricDimensions) {
    const wanted = inputs.metricDimensions.join(',');
    combos = combos.filter((c) => dimensionNames(c) === wanted);
    if (combos.length === 0 && shapes.length > 0) {
      warn(
        ctx,
        record,
        `${label} is published with the dimension names ${shapes.join('; ')}, none of them '${Input.MetricDimensions}' (${wanted})`,
      );
    }
  } else if (shapes.length > 1) {
    warn(
      ctx,
      record,
      `${label} is published under ${shapes.length} sets of dimension names (${shapes.join('; ')}): all are summed, which may count one failure more than once; set '${Input.MetricDimensions}' to pick one`,
    );
  }
  const queries = combos.map((dimensions, i) => ({
    id: `df${i}`,
    namespace: inputs.metricNamespace,
    metricName: inputs.metricName,
    dimensions,
    stat: 'Sum' as const,
    periodSeconds: METRIC_PERIOD_SECONDS,
  }));
  return { queries, shown: combos.map(showDimensions) };
}

function sumOf(series: Map<string, MetricSeries>, ids: string[]): number | undefined {
  const sums = ids.map((id) => seriesSum(series.get(id))).filter((n): n is number => n !== undefined);
  return sums.length === 0 ? undefined : sums.reduce((a, b) => a + b, 0);
}

/** The window's CloudWatch figures: the worker's failure metric as published and the queue's own metrics. */
async function readWindowMetrics(
  ctx: ModeContext,
  record: DeploymentRecord,
  queueName: string,
  start: Date,
  end: Date,
): Promise<WindowMetrics> {
  const sqs = (id: string, metricName: string, stat: MetricQuery['stat']): MetricQuery => ({
    id,
    namespace: 'AWS/SQS',
    metricName,
    dimensions: { QueueName: queueName },
    stat,
    periodSeconds: METRIC_PERIOD_SECONDS,
  });
  let series: Map<string, MetricSeries>;
  let worker: { queries: MetricQuery[]; shown: string[] };
  try {
    worker = await workerMetricQueries(ctx, record);
    const queries: MetricQuery[] = [
      ...worker.queries,
      sqs('deleted', 'NumberOfMessagesDeleted', 'Sum'),
      sqs('received', 'NumberOfMessagesReceived', 'Sum'),
      sqs('sent', 'NumberOfMessagesSent', 'Sum'),
      sqs('oldest', 'ApproximateAgeOfOldestMessage', 'Maximum'),
    ];
    series = await getMetricSeries(ctx.api, ctx.clients, queries, start, end);
  } catch (e) {
    warn(ctx, record, `verify could not read CloudWatch (its criteria are not judged): ${errorMessage(e)}`);
    return {};
  }
  const deleteFailed = sumOf(
    series,
    worker.queries.map((q) => q.id),
  );
  if (deleteFailed === undefined) {
    // Never silent: a worker that publishes under another name, namespace or dimension set would
    // otherwise pass this criterion unseen.
    warn(
      ctx,
      record,
      `${ctx.inputs.metricNamespace}/${ctx.inputs.metricName} has no data for the window (${worker.queries.length} dimension combination(s) listed): the deletion-failure criterion is not judged`,
    );
  }
  const deleted = series.get('deleted');
  const newest = ['deleted', 'received', 'sent', 'oldest']
    .map((id) => series.get(id)?.points.at(-1)?.at)
    .filter((at): at is string => at !== undefined)
    .sort()
    .at(-1);
  return {
    deleteFailed,
    deleteFailedDimensions: deleteFailed === undefined ? undefined : worker.shown,
    received: seriesSum(series.get('received')),
    deleted: seriesSum(deleted),
    sent: seriesSum(series.get('sent')),
    filesPerHour: deleted ? roundTenth(ratePerHour(deleted.points, METRIC_PERIOD_SECONDS)) : undefined,
    oldestAgeSeconds: lastPoint(series.get('oldest')),
    dataThrough: newest,
    windowEnd: end.toISOString(),
  };
}

// DLQ messages read at the end of the window, each hidden this long and then visible again.
const DLQ_PEEK_MAX = 100;
const DLQ_PEEK_VISIBILITY_SECONDS = 10;

/** When the fleet ran the fix: the rollout's end, else the window's opening. */
function fixedTime(record: DeploymentRecord, opened: number): { at: number; by: string } {
  const rollout = [...record.phases].reverse().find((p) => p.mode === 'rollout' && p.endedAt && !p.dryRun);
  const at = rollout?.endedAt ? Date.parse(rollout.endedAt) : NaN;
  return Number.isFinite(at)
    ? { at, by: 'the rollout ended' }
    : { at: opened, by: 'the verify window opened' };
}

/** Reads DLQ messages without deleting them and sorts them by when they were first sent. */
async function peekDlq(
  ctx: ModeContext,
  dlqUrl: string,
  depth: number | undefined,
  fixed: { at: number; by: string },
): Promise<DlqPeek> {
  const base = { fixedAt: new Date(fixed.at).toISOString(), fixedBy: fixed.by, depth };
  try {
    const messages = await peekMessages(ctx.api, ctx.clients, dlqUrl, {
      max: DLQ_PEEK_MAX,
      visibilityTimeoutSeconds: DLQ_PEEK_VISIBILITY_SECONDS,
    });
    const afterFix = messages.filter((m) => m.sentAt >= fixed.at).length;
    return { ...base, sampled: messages.length, afterFix, beforeFix: messages.length - afterFix };
  } catch (e) {
    return { ...base, sampled: 0, afterFix: 0, beforeFix: 0, error: errorMessage(e) };
  }
}

/** The last fleet read, placed in the Auto Scaling group when the deployment names one, and judged. */
async function readFleet(
  ctx: ModeContext,
  record: DeploymentRecord,
  members: FleetMemberNow[] | undefined,
  earlier: string[],
  groupName: string | undefined,
): Promise<FleetReading> {
  if (!members) return { notRead: 'the fleet could not be read' };
  let placed = members;
  let groupProblem: string | undefined;
  if (groupName) {
    let group: Map<string, GroupMember> | undefined;
    try {
      group = await describeGroupMembers(ctx.api, ctx.clients, groupName);
      if (!group) groupProblem = `no Auto Scaling group named ${groupName}`;
    } catch (e) {
      groupProblem = `the group ${groupName} could not be read: ${errorMessage(e)}`;
    }
    if (groupProblem) warn(ctx, record, `verify: ${groupProblem}; the fleet is judged without it`);
    if (group) {
      const g = group;
      placed = members.map((m) => {
        const member = g.get(m.id);
        return member ? { ...m, group: member } : m;
      });
    }
  }
  const read = classifyFleet(earlier, placed, fixEvidence(record));
  if (read.gone.length > 0) {
    ctx.report.info(
      `${read.gone.length} instance(s) from the record are no longer in the fleet (scale-in or replacement, not a failure): ${read.gone.slice(0, 20).join(', ')}`,
    );
  }
  return { read, groupName, groupProblem };
}

/** One fan-out command: is the service active on each running worker? */
async function readServices(
  ctx: ModeContext,
  record: DeploymentRecord,
  instanceIds: string[],
): Promise<ServiceReading> {
  const { inputs } = ctx;
  if (!inputs.checkServices)
    return { skipped: 'not checked: check-services is false', checked: 0, inactive: [], unknown: [] };
  if (inputs.dryRun) {
    return { skipped: 'not checked: dry-run sends no SSM command', checked: 0, inactive: [], unknown: [] };
  }
  if (instanceIds.length === 0)
    return { skipped: 'no running instance to check', checked: 0, inactive: [], unknown: [] };
  try {
    const fanOut = await runOnFleet(
      ctx.api,
      ctx.clients,
      ctx.runtime,
      instanceIds,
      buildServiceStatusScript(inputs.serviceName),
      {
        comment: `verify ${record.deploymentId}: is ${inputs.serviceName} active`,
        timeoutSeconds: SERVICE_CHECK_TIMEOUT_SECONDS,
      },
    );
    const inactive: string[] = [];
    const unknown: string[] = [];
    for (const id of instanceIds) {
      const r = fanOut.results.get(id);
      // The script exits Ok only when the unit is active and Inactive when it is not: that is
      // evidence. A command that never ran or broke (undeliverable, timed out, another exit code)
      // says nothing about the service.
      if (r?.status === 'Success' && r.responseCode === ScriptExit.Ok) continue;
      if (r?.responseCode === ScriptExit.Inactive) {
        const state = parseResultLines(r.stdout).get('service')?.[0];
        inactive.push(state ? `${id} (${state})` : id);
      } else {
        unknown.push(id);
      }
    }
    return { checked: instanceIds.length, inactive, unknown };
  } catch (e) {
    warn(ctx, record, `verify could not check ${inputs.serviceName} on the fleet: ${errorMessage(e)}`);
    return {
      skipped: `the service check failed to run: ${errorMessage(e)}`,
      checked: 0,
      inactive: [],
      unknown: [],
    };
  }
}

function describeSample(s: Sample, hasDlq: boolean): string {
  const q =
    s.visible === undefined
      ? 'queue not read'
      : `queue ${s.visible} visible, ${s.inFlight} in flight, ${s.delayed} delayed`;
  const d = hasDlq ? (s.dlq === undefined ? 'DLQ not read' : `DLQ ${s.dlq}`) : 'no DLQ';
  const r = s.running === undefined ? '; fleet not read' : `; ${s.running} fleet instance(s) running`;
  return `${q}; ${d}${r}`;
}

function measuredOnly(snapshot: MetricsSnapshot): MetricsSnapshot {
  return Object.fromEntries(
    Object.entries(snapshot).filter(([, v]) => v !== undefined),
  ) as unknown as MetricsSnapshot;
}

function toColumn(values: (number | undefined)[]): (number | null)[] {
  return values.map((v) => (v === undefined ? null : v));
}

export async function verify(ctx: ModeContext): Promise<ModeOutcome> {
  const { inputs, report, api, clients, runtime } = ctx;
  const record = inputs.record ?? startRecord(ctx);
  const checkpoint = inputs.checkpoint;
  const phase = Phase.start(ctx, record, 'verify', { dryRun: inputs.dryRun });
  const notes: string[] = [];
  if (inputs.dryRun) {
    notes.push(
      'dry-run: verify only reads the queue, the DLQ, the fleet and CloudWatch, and changes nothing; the SSM service check is skipped.',
    );
    report.info(notes[notes.length - 1]);
  }
  if (!inputs.record) {
    warn(ctx, record, 'verify has no record from an earlier job: there is no baseline to compare against');
  }

  const queues = await phase.step('Queue and DLQ', () => resolveQueues(ctx));
  const { queue, dlq } = queues;
  if (!record.queue) record.queue = queueInfo(queues);
  if (queues.dlqProblem) warn(ctx, record, queues.dlqProblem);
  const hasDlq = dlq !== undefined;

  // The fleet is judged as it is now, re-discovered with the deployment's filters: instances come
  // and go (scale-in, health replacement, an instance refresh replaces them all).
  const filters = deploymentFilters(ctx, record);
  const recorded = recordedInstances(record);
  const groupName = deploymentGroup(ctx, record);
  if (recorded.length === 0) {
    notes.push(
      'No instances in the record: the fleet judged is the running instances that match the filters now.',
    );
    report.info(notes[notes.length - 1]);
  }
  publishRecord(ctx, record);

  // Sampling: every sample-seconds for verify-minutes, on the injected clock.
  const interval = inputs.sampleSeconds * 1000;
  const planned = Math.floor((inputs.verifyMinutes * 60) / inputs.sampleSeconds) + 1;
  const samples: Sample[] = [];
  const warned = new Set<string>();
  let members: FleetMemberNow[] | undefined;
  let cancelled = false;
  const opened = runtime.clock.now().getTime();
  report.info(
    `Verifying the ${checkpoint} checkpoint: ${planned} samples, every ${inputs.sampleSeconds}s for ${inputs.verifyMinutes} min; queue ${queue.name}${dlq ? `, DLQ ${dlq.name}` : ''}; fleet: ${recorded.length} instance(s) in the record, re-read every sample`,
  );
  await phase.step(`Samples every ${inputs.sampleSeconds}s for ${inputs.verifyMinutes} min`, async () => {
    for (let k = 0; k < planned; k++) {
      if (k > 0) {
        const wait = opened + k * interval - runtime.clock.now().getTime();
        if (wait > 0) await runtime.sleep(wait);
      }
      if (runtime.cancelled()) {
        cancelled = true;
        break;
      }
      const at = runtime.clock.now().toISOString();
      const depth = await readOrWarn(ctx, record, warned, `queue ${queue.name}`, () =>
        getQueueDepth(api, clients, queue.url),
      );
      const dlqDepth = dlq
        ? await readOrWarn(ctx, record, warned, `DLQ ${dlq.name}`, () => getQueueDepth(api, clients, dlq.url))
        : undefined;
      const now = await readOrWarn(ctx, record, warned, 'the fleet', () =>
        describeFleetNow(api, clients, filters),
      );
      if (now) members = stableOrder(now);
      const running = now?.length;
      const sample: Sample = { at, ...depth, dlq: dlqDepth?.visible, running };
      samples.push(sample);
      report.info(`sample ${k + 1}/${planned} at ${at}: ${describeSample(sample, hasDlq)}`);
    }
  });
  const closed = runtime.clock.now();
  if (cancelled) warn(ctx, record, `verify was cancelled after ${samples.length} of ${planned} samples`);

  // A cancelled run starts nothing new: the group, the service check and CloudWatch are left unjudged.
  const fleet = cancelled
    ? { notRead: 'the run was cancelled' }
    : await phase.step('Fleet', () => readFleet(ctx, record, members, recorded, groupName));
  const runningIds = fleet.read?.running ?? [];
  const services: ServiceReading = cancelled
    ? { skipped: 'not checked: the run was cancelled', checked: 0, inactive: [], unknown: [] }
    : await phase.step(`Service ${inputs.serviceName} on the fleet`, () =>
        readServices(ctx, record, runningIds),
      );
  const metrics: WindowMetrics = cancelled
    ? {}
    : await phase.step('CloudWatch metrics', () =>
        readWindowMetrics(ctx, record, queue.name, floorMinute(opened), ceilMinute(closed.getTime())),
      );

  // The DLQ's own messages tell "dead-lettered since the fix" from the old workers' tail without
  // waiting for CloudWatch. dry-run receives nothing (a receive counts against the messages).
  const dlqPeek =
    dlq && !cancelled && !inputs.dryRun
      ? await phase.step(`DLQ ${dlq.name} messages`, () =>
          peekDlq(ctx, dlq.url, lastDlq(samples), fixedTime(record, opened)),
        )
      : undefined;
  if (dlqPeek?.error) warn(ctx, record, `verify could not read the DLQ's messages: ${dlqPeek.error}`);

  const metricLabel = `${inputs.metricNamespace}/${inputs.metricName}`;
  const judgement = judge({
    dlqPeek,
    redriveReview: record.redrive,
    checkpoint,
    samples,
    plannedSamples: planned,
    cancelled,
    metrics,
    metricLabel,
    serviceName: inputs.serviceName,
    fleet,
    services,
    baseline: record.metrics.before,
    hasDlq,
    thresholds: inputs,
  });
  for (const c of judgement.criteria) report.info(`${c.status.toUpperCase()}: ${c.label}: ${c.detail}`);

  const last = lastQueueSample(samples);
  const lastRunning = [...samples].reverse().find((s) => s.running !== undefined)?.running;
  // Only what was measured: an absent field reads "not measured", never 0.
  const snapshot: MetricsSnapshot = measuredOnly({
    at: closed.toISOString(),
    visible: last?.visible,
    inFlight: last?.inFlight,
    delayed: last?.delayed,
    dlqVisible: lastDlq(samples),
    instances: lastRunning,
    filesPerHour: metrics.filesPerHour,
    oldestAgeSeconds: metrics.oldestAgeSeconds,
    deleteFailed: metrics.deleteFailed,
  });
  record.metrics[checkpoint] = snapshot;

  const kept = downsample(samples, RECORDED_SAMPLES);
  const entry: VerifyRecordEntry = {
    startedAt: new Date(opened).toISOString(),
    endedAt: closed.toISOString(),
    sampleSeconds: inputs.sampleSeconds,
    planned,
    taken: samples.length,
    samples: toSampleColumns({
      seconds: kept.map((s) => Math.round((Date.parse(s.at) - opened) / 1000)),
      visible: toColumn(kept.map((s) => s.visible)),
      inFlight: toColumn(kept.map((s) => s.inFlight)),
      delayed: toColumn(kept.map((s) => s.delayed)),
      dlq: toColumn(kept.map((s) => s.dlq)),
      running: toColumn(kept.map((s) => s.running)),
    }),
    // The dimension sets of a per-instance metric repeat per instance: a few are kept, the count always.
    metrics: {
      ...metrics,
      deleteFailedDimensions: metrics.deleteFailedDimensions?.slice(0, 5),
    },
    dimensionSets: metrics.deleteFailedDimensions?.length,
    criteria: judgement.criteria.map((c) => recordedCriterion({ ...c, detail: c.detail.slice(0, 300) })),
    verdict: judgement.verdict,
  };
  record.extra.verify = { ...record.extra.verify, [checkpoint]: entry };

  const failed = judgement.criteria.filter((c) => c.status === 'fail');
  const notJudged = judgement.criteria.filter((c) => c.status === 'not-judged').length;
  const reason =
    failed.length > 0
      ? failed.map((c) => `${c.label}: ${c.detail}`).join('; ')
      : `every judged criterion passed${notJudged > 0 ? ` (${notJudged} not judged: data missing)` : ''}`;
  phase.end({ verdict: judgement.verdict, reason, endedAt: closed.toISOString() });

  // The runbook's "notify the client after" message, from the figures just judged.
  const after = renderNotificationAfter(record, ctx.runtime.clock.now());
  return phase.outcome({
    verdict: judgement.verdict,
    summary: `${renderVerifySummary({
      record,
      checkpoint,
      verdict: judgement.verdict,
      criteria: judgement.criteria,
      samples,
      hasDlq,
      queueName: queue.name,
      dlqName: dlq?.name,
      metricLabel,
      notes,
    })}\n\n${notificationsSection({ after })}`,
    outputs: {
      [Output.NotificationAfter]: after,
      [Output.QueueDepth]: last?.visible === undefined ? '' : String(last.visible),
      [Output.DlqDepth]: snapshot.dlqVisible === undefined ? '' : String(snapshot.dlqVisible),
      [Output.DeploymentId]: record.deploymentId,
    },
    failure: judgement.verdict === 'fail' ? `Verify (${checkpoint} checkpoint) failed: ${reason}` : undefined,
  });
}
