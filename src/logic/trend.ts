// The verify mode's judgement: pure functions over the samples taken during the window and the
// CloudWatch figures read for it. A criterion whose data is missing is "not judged" (never treated
// as zero, never a failure by absence); the verdict fails on evidence only.
import type { Checkpoint, Inputs } from '../inputs.js';
import type { CriterionId, CriterionStatus, MetricsSnapshot, WindowMetrics } from '../record.js';
import type { FleetFixReading } from './fleet.js';

// What verify keeps in the record is typed by the record's schema; the judgement uses the same types.
export type { CriterionId, CriterionStatus, WindowMetrics };

export interface Criterion {
  id: CriterionId;
  label: string;
  status: CriterionStatus;
  /** The figures behind the status, in words. */
  detail: string;
}

/** One reading of the queue, the DLQ and the fleet. Absent fields could not be read. */
export interface Sample {
  at: string;
  visible?: number;
  inFlight?: number;
  delayed?: number;
  dlq?: number;
  /** Fleet instances (the deployment's filters) found running. */
  running?: number;
}

/** DLQ messages read at the end of the window without deleting them. */
export interface DlqPeek {
  /** When the fleet ran the fix, and what marks that time. */
  fixedAt: string;
  fixedBy: string;
  /** DLQ depth (visible) at the peek. */
  depth?: number;
  sampled: number;
  /** First sent (SentTimestamp) at or after fixedAt: dead-lettered although the fixed fleet had them. */
  afterFix: number;
  /** Sent before: the tail of messages the old workers had already received too often. */
  beforeFix: number;
  error?: string;
}

/** The fleet as last read and judged against the fix; `notRead` says why it could not be. */
export interface FleetReading {
  read?: FleetFixReading;
  notRead?: string;
  /** The Auto Scaling group the deployment names, and why it could not be read. */
  groupName?: string;
  groupProblem?: string;
}

export interface ServiceReading {
  /** Why the service state was not read (check-services off, dry-run, no instances). */
  skipped?: string;
  checked: number;
  inactive: string[];
  /** Instances whose command gave no answer (undeliverable, timed out). */
  unknown: string[];
}

export type Thresholds = Pick<
  Inputs,
  | 'drainedThreshold'
  | 'dlqTolerance'
  | 'minDepthReductionPercent'
  | 'minFilesPerHour'
  | 'maxDepth24h'
  | 'maxLagSeconds'
  | 'maxReceiveRatio'
>;

export interface JudgeInput {
  checkpoint: Checkpoint;
  samples: Sample[];
  /** Samples the window should have had. */
  plannedSamples: number;
  cancelled: boolean;
  metrics: WindowMetrics;
  /** namespace/name of the worker's deletion-failure metric, for the figures. */
  metricLabel: string;
  serviceName: string;
  fleet: FleetReading;
  services: ServiceReading;
  baseline?: MetricsSnapshot;
  hasDlq: boolean;
  thresholds: Thresholds;
  /** DLQ messages peeked at the end of the window (undefined: not read). */
  dlqPeek?: DlqPeek;
  /** A redrive review recorded for this deployment (the 24 h "DLQ reviewed" criterion). */
  redriveReview?: RedriveReview;
}

/** The record's trace of a DLQ review by `mode: redrive` (record.redrive). */
export interface RedriveReview {
  reviewedAt: string;
  sampled?: number;
}

export interface Judgement {
  verdict: 'pass' | 'fail';
  criteria: Criterion[];
}

/**
 * The queue's backlog: visible + in flight + delayed. Visible alone would pass the original bug,
 * whose workers receive messages (moving them in flight) and never delete them.
 */
export function backlog(s: Pick<Sample, 'visible' | 'inFlight' | 'delayed'> | undefined): number | undefined {
  if (!s || s.visible === undefined || s.inFlight === undefined || s.delayed === undefined) return undefined;
  return s.visible + s.inFlight + s.delayed;
}

export function baselineBacklog(b: MetricsSnapshot | undefined): number | undefined {
  return backlog(b ? { visible: b.visible, inFlight: b.inFlight, delayed: b.delayed } : undefined);
}

function describeBacklog(s: Pick<Sample, 'visible' | 'inFlight' | 'delayed'>): string {
  return `${s.visible} visible + ${s.inFlight} in flight + ${s.delayed} delayed`;
}

/** Least-squares slope of y over x; undefined with fewer than two distinct x. */
export function slope(points: { x: number; y: number }[]): number | undefined {
  if (points.length < 2) return undefined;
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? undefined : num / den;
}

/** Messages per hour from a Sum series: only the periods CloudWatch reported count as time. */
export function ratePerHour(points: { value: number }[], periodSeconds: number): number | undefined {
  if (points.length === 0 || periodSeconds <= 0) return undefined;
  const total = points.reduce((a, p) => a + p.value, 0);
  return (total / (points.length * periodSeconds)) * 3600;
}

/** At most `max` items, evenly spread, always keeping the first and the last. */
export function downsample<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items.slice();
  if (max < 2) return max <= 0 ? [] : items.slice(-1);
  const out: T[] = [];
  const step = (items.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) out.push(items[Math.round(i * step)]);
  return out;
}

function fmt(n: number): string {
  return Number.isInteger(n)
    ? n.toLocaleString('en-US')
    : n.toLocaleString('en-US', { maximumFractionDigits: 1 });
}

function minutes(a: string, b: string): number {
  return (Date.parse(b) - Date.parse(a)) / 60_000;
}

function queuePoints(samples: Sample[]): { at: string; n: number; s: Sample }[] {
  return samples.flatMap((s) => {
    const n = backlog(s);
    return n === undefined ? [] : [{ at: s.at, n, s }];
  });
}

export function lastQueueSample(samples: Sample[]): Sample | undefined {
  const points = queuePoints(samples);
  return points.length ? points[points.length - 1].s : undefined;
}

export function lastDlq(samples: Sample[]): number | undefined {
  for (let i = samples.length - 1; i >= 0; i--) if (samples[i].dlq !== undefined) return samples[i].dlq;
  return undefined;
}

const notJudged = (id: CriterionId, label: string, detail: string): Criterion => ({
  id,
  label,
  status: 'not-judged',
  detail,
});

export function judgeWindow(samples: Sample[], plannedSamples: number, cancelled: boolean): Criterion {
  const label = 'Verify window completed';
  const span =
    samples.length >= 2 ? `, ${fmt(minutes(samples[0].at, samples[samples.length - 1].at))} min` : '';
  if (queuePoints(samples).length === 0) {
    return {
      id: 'window',
      label,
      status: 'fail',
      detail: `no queue sample could be read in ${samples.length} attempt(s): nothing was measured`,
    };
  }
  if (cancelled) {
    return {
      id: 'window',
      label,
      status: 'fail',
      detail: `cancelled after ${samples.length} of ${plannedSamples} samples${span}: a partial window proves nothing`,
    };
  }
  return {
    id: 'window',
    label,
    status: 'pass',
    detail: `${samples.length} of ${plannedSamples} samples${span}`,
  };
}

function idList(ids: string[], max = 10): string {
  return ids.slice(0, max).join(', ') + (ids.length > max ? `, … (${ids.length - max} more)` : '');
}

/**
 * Every running fleet instance runs the fix. The fleet is the one there now: instances preflight
 * saw that are gone (scale-in, a refresh) are reported, not failed; instances that joined since and
 * do not run the fix (scale-out from the old launch template brings the bug back) fail it, by id.
 */
export function judgeWorkers(fleet: FleetReading): Criterion {
  const label = 'Every running fleet instance runs the fix';
  const f = fleet.read;
  if (!f) return notJudged('workers', label, fleet.notRead ?? 'the fleet could not be read');
  const notes: string[] = [];
  if (f.gone.length > 0) {
    notes.push(`gone since preflight (scale-in or replacement, not a failure): ${idList(f.gone)}`);
  }
  if (f.transitioning.length > 0) {
    notes.push(
      `entering or leaving ${fleet.groupName ?? 'the group'} (not judged): ${idList(f.transitioning)}`,
    );
  }
  if (fleet.groupProblem) notes.push(fleet.groupProblem);
  const tail = notes.length > 0 ? `; ${notes.join('; ')}` : '';
  if (f.running.length === 0) {
    return {
      id: 'workers',
      label,
      status: 'fail',
      detail: `no running instance matches the deployment's filters: nothing is processing the queue${tail}`,
    };
  }
  if (f.noInstall) {
    return {
      id: 'workers',
      label,
      status: 'pass',
      detail: `${f.running.length} running; the record shows no install of the fix yet, so only running is judged${tail}`,
    };
  }
  if (f.newcomers.length === 0 && f.notFixed.length === 0) {
    return {
      id: 'workers',
      label,
      status: 'pass',
      detail: `${f.runsFix.length} of ${f.running.length} running instances run the fix${tail}`,
    };
  }
  const parts = [`${f.runsFix.length} of ${f.running.length} running instances run the fix`];
  if (f.newcomers.length > 0) {
    parts.push(`joined since the rollout without the fix: ${idList(f.newcomers)}`);
  }
  if (f.notFixed.length > 0) {
    parts.push(
      `not running the fix: ${idList(
        f.notFixed.map((n) => `${n.id} (${n.why})`),
        5,
      )}`,
    );
  }
  parts.push('run the rollout again (it deploys to the newcomers) or roll out with strategy asg');
  return { id: 'workers', label, status: 'fail', detail: parts.join('; ') + tail };
}

export function judgeServices(services: ServiceReading, serviceLabel: string): Criterion {
  const label = `Service ${serviceLabel} active on every worker`;
  if (services.skipped) return notJudged('services', label, services.skipped);
  const list = (ids: string[]) => ids.slice(0, 10).join(', ') + (ids.length > 10 ? ', …' : '');
  if (services.inactive.length > 0) {
    return {
      id: 'services',
      label,
      status: 'fail',
      detail: `inactive on ${services.inactive.length} of ${services.checked}: ${list(services.inactive)}`,
    };
  }
  if (services.unknown.length > 0) {
    return notJudged(
      'services',
      label,
      `no answer from ${services.unknown.length} of ${services.checked}: ${list(services.unknown)}`,
    );
  }
  if (services.checked === 0) return notJudged('services', label, 'no running instance to check');
  return {
    id: 'services',
    label,
    status: 'pass',
    detail: `active on ${services.checked} of ${services.checked}`,
  };
}

/**
 * How far the backlog fell and the DLQ rose over the window, while the fleet runs the fix. Not since
 * preflight: until the fix landed the old workers kept dead-lettering the uploads that arrived
 * (through the canary, the approval wait and the rollout), so a DLQ rise since preflight can
 * exceed the backlog's fall under a fix that works, and failing on it would roll that fix back.
 */
export interface DrainBalance {
  fall: number;
  rise: number;
  span: string;
}

export function drainBalance(samples: Sample[]): DrainBalance | undefined {
  const points = queuePoints(samples);
  const dlqs = samples.filter((x) => x.dlq !== undefined);
  if (points.length < 2 || dlqs.length < 2) return undefined;
  const fall = points[0].n - points[points.length - 1].n;
  const rise = (dlqs[dlqs.length - 1].dlq as number) - (dlqs[0].dlq as number);
  return { fall, rise, span: 'in the window' };
}

/**
 * A fall in depth matched by as large a rise in the DLQ is messages dead-lettered, not processed:
 * a worker that receives and never deletes "drains" the queue into the DLQ within seconds.
 */
function deadLettered(b: DrainBalance | undefined): string | undefined {
  if (!b || b.fall <= 0 || b.rise < b.fall) return undefined;
  return `the queue fell by ${fmt(b.fall)} but the DLQ rose by ${fmt(b.rise)} ${b.span}: the messages were dead-lettered, not processed`;
}

/** 10 min: the backlog is falling, or already at or under the drained threshold. */
export function judgeDepthTrend(
  samples: Sample[],
  drainedThreshold: number,
  balance?: DrainBalance,
): Criterion {
  const label = 'Queue depth decreasing (or drained)';
  const points = queuePoints(samples);
  if (points.length === 0) return notJudged('depth-trend', label, 'no queue sample could be read');
  const first = points[0];
  const last = points[points.length - 1];
  const dead = deadLettered(balance);
  if (dead) return { id: 'depth-trend', label, status: 'fail', detail: dead };
  if (last.n <= drainedThreshold) {
    return {
      id: 'depth-trend',
      label,
      status: 'pass',
      detail: `drained: ${fmt(last.n)} messages (${describeBacklog(last.s)}), at or under ${fmt(drainedThreshold)}`,
    };
  }
  const perMinute = slope(points.map((p) => ({ x: minutes(first.at, p.at), y: p.n })));
  if (points.length < 2 || perMinute === undefined) {
    return notJudged('depth-trend', label, `one sample (${fmt(last.n)} messages): no trend to judge`);
  }
  const figures = `${fmt(first.n)} → ${fmt(last.n)} messages over ${fmt(minutes(first.at, last.at))} min (trend ${perMinute >= 0 ? '+' : ''}${fmt(perMinute)}/min)`;
  if (last.n < first.n && perMinute < 0) {
    return { id: 'depth-trend', label, status: 'pass', detail: `decreasing: ${figures}` };
  }
  return {
    id: 'depth-trend',
    label,
    status: 'fail',
    detail: `${last.n > first.n ? 'growing' : 'not decreasing'}: ${figures}; drained means at or under ${fmt(drainedThreshold)}`,
  };
}

/**
 * The DLQ may grow by at most `tolerance` in the second half of the window. Growth since the preflight baseline is
 * reported beside it but does not fail the check: until the last batch landed, the old workers were
 * still sending messages to the DLQ, and failing the fix (and rolling it back) for that would undo
 * the very thing that stopped it. What the fix must show is that the DLQ no longer grows.
 */
export function judgeDlqStable(
  samples: Sample[],
  baselineDlq: number | undefined,
  tolerance: number,
  hasDlq: boolean,
): Criterion {
  const label = 'DLQ stable';
  if (!hasDlq) return notJudged('dlq-stable', label, 'the queue has no dead-letter queue');
  const values = samples.flatMap((s) => (s.dlq === undefined ? [] : [s.dlq]));
  if (values.length === 0) return notJudged('dlq-stable', label, 'no DLQ sample could be read');
  const first = values[0];
  const last = values[values.length - 1];
  const inWindow = last - first;
  // Judged on the window's second half. Messages the old workers had already received
  // maxReceiveCount times still move to the DLQ on their next receive, whatever the fix does; that
  // tail is bounded by what was in flight and passes within the old visibility timeout. A fix that
  // does not work keeps the DLQ growing to the end of the window.
  const middle = values[Math.floor((values.length - 1) / 2)];
  const secondHalf = last - middle;
  const parts = [
    `${fmt(first)} → ${fmt(last)} over the window (${inWindow >= 0 ? '+' : ''}${fmt(inWindow)}; ${secondHalf >= 0 ? '+' : ''}${fmt(secondHalf)} in its second half)`,
  ];
  const grew = secondHalf > tolerance;
  if (baselineDlq !== undefined) {
    const sinceBaseline = last - baselineDlq;
    parts.push(`baseline ${fmt(baselineDlq)} (${sinceBaseline >= 0 ? '+' : ''}${fmt(sinceBaseline)})`);
    const beforeWindow = sinceBaseline - inWindow;
    if (beforeWindow > tolerance) {
      parts.push(
        `+${fmt(beforeWindow)} before the window, while the old workers still ran: review those messages`,
      );
    }
  } else {
    parts.push('no preflight baseline');
  }
  parts.push(`tolerance ${fmt(tolerance)}`);
  return { id: 'dlq-stable', label, status: grew ? 'fail' : 'pass', detail: parts.join('; ') };
}

/**
 * Messages first sent after the fleet ran the fix that are in the DLQ anyway: the fixed workers had
 * every one of them and still did not delete it. This needs no CloudWatch (whose SQS metrics arrive
 * minutes late): the DLQ's own messages, read without deleting them, carry their SentTimestamp.
 * Messages sent before are the old workers' tail and are excused, with their count shown.
 */
export function judgeDlqNew(peek: DlqPeek | undefined, tolerance: number, hasDlq: boolean): Criterion {
  const label = 'No message sent after the fix dead-lettered';
  if (!hasDlq) return notJudged('dlq-new', label, 'the queue has no dead-letter queue');
  if (!peek) return notJudged('dlq-new', label, 'the DLQ was not read');
  if (peek.error) return notJudged('dlq-new', label, `the DLQ could not be read: ${peek.error}`);
  if (peek.sampled === 0) {
    return {
      id: 'dlq-new',
      label,
      status: 'pass',
      detail: `no message in the DLQ to read${peek.depth ? ` (depth ${fmt(peek.depth)}, none returned)` : ''}`,
    };
  }
  const of = peek.depth !== undefined && peek.depth > peek.sampled ? ` of ${fmt(peek.depth)}` : '';
  const figures = `${fmt(peek.sampled)}${of} DLQ message(s) read: ${fmt(peek.afterFix)} first sent after the fleet ran the fix (${peek.fixedBy}, ${peek.fixedAt}); ${fmt(peek.beforeFix)} sent before (the old workers' tail, excused); tolerance ${fmt(tolerance)}`;
  return { id: 'dlq-new', label, status: peek.afterFix > tolerance ? 'fail' : 'pass', detail: figures };
}

/** How old the newest CloudWatch data point is, in words, for the criteria that read it. */
function dataAge(metrics: WindowMetrics): string {
  if (!metrics.dataThrough) return '';
  const end = metrics.windowEnd ? Date.parse(metrics.windowEnd) : undefined;
  const lag =
    end !== undefined ? Math.max(0, Math.round((end - Date.parse(metrics.dataThrough)) / 60_000)) : undefined;
  return `; CloudWatch data through ${metrics.dataThrough.slice(11, 16)} UTC${lag !== undefined ? ` (${lag} min before the window closed: SQS metrics arrive late)` : ''}`;
}

/** Messages received with (nearly) none deleted: the loop, whatever the ratio limit says. */
function looping(metrics: WindowMetrics, maxReceiveRatio: number): boolean {
  if (metrics.received === undefined || metrics.deleted === undefined || metrics.received === 0) return false;
  return metrics.deleted === 0 || metrics.received / Math.max(metrics.deleted, 1) > maxReceiveRatio;
}

/**
 * Messages received again and again without being deleted is the original bug's signature:
 * received over deleted (deleted at least 1, so a quiet window is not a division by zero).
 */
export function judgeNoLoop(metrics: WindowMetrics, maxReceiveRatio: number): Criterion {
  const label = 'No messages reappearing (received vs deleted)';
  if (metrics.received === undefined || metrics.deleted === undefined) {
    const missing = [
      metrics.received === undefined ? 'NumberOfMessagesReceived' : '',
      metrics.deleted === undefined ? 'NumberOfMessagesDeleted' : '',
    ].filter(Boolean);
    return notJudged(
      'no-loop',
      label,
      `CloudWatch has no AWS/SQS ${missing.join(' or ')} data for the window`,
    );
  }
  const age = dataAge(metrics);
  if (metrics.received === 0) {
    return {
      id: 'no-loop',
      label,
      status: 'pass',
      detail: `no messages received (deleted ${fmt(metrics.deleted)})${age}`,
    };
  }
  if (metrics.deleted === 0) {
    return {
      id: 'no-loop',
      label,
      status: 'fail',
      detail: `received ${fmt(metrics.received)}, deleted 0: messages are received and never deleted${age}`,
    };
  }
  const ratio = metrics.received / Math.max(metrics.deleted, 1);
  const figures = `received ${fmt(metrics.received)}, deleted ${fmt(metrics.deleted)}: ratio ${fmt(ratio)} (limit ${fmt(maxReceiveRatio)})${age}`;
  return { id: 'no-loop', label, status: ratio > maxReceiveRatio ? 'fail' : 'pass', detail: figures };
}

export function judgeDeleteFailures(metrics: WindowMetrics, metricLabel: string): Criterion {
  const label = 'No deletion failures';
  if (metrics.deleteFailed === undefined) {
    return notJudged(
      'delete-failures',
      label,
      `CloudWatch has no ${metricLabel} data for the window (a metric emitted only on failure may simply be absent)`,
    );
  }
  const dims = metrics.deleteFailedDimensions;
  const over =
    dims && dims.length > 0
      ? `, summed over ${dims.length === 1 ? 'the dimension set' : `${dims.length} dimension sets`} ${dims.slice(0, 5).join('; ')}${dims.length > 5 ? '; …' : ''}`
      : '';
  return {
    id: 'delete-failures',
    label,
    status: metrics.deleteFailed > 0 ? 'fail' : 'pass',
    detail: `${metricLabel} sum ${fmt(metrics.deleteFailed)} (must be 0)${over}`,
  };
}

/** 1 h: the backlog fell by more than `percent` from the baseline (or is drained). */
export function judgeDepthReduced(
  baseline: MetricsSnapshot | undefined,
  last: Sample | undefined,
  percent: number,
  drainedThreshold: number,
  balance?: DrainBalance,
): Criterion {
  const label = `Queue depth reduced by more than ${percent}% from the baseline`;
  const now = backlog(last);
  if (now === undefined || !last) return notJudged('depth-reduced', label, 'no queue sample could be read');
  const dead = deadLettered(balance);
  if (dead) return { id: 'depth-reduced', label, status: 'fail', detail: dead };
  if (now <= drainedThreshold) {
    return {
      id: 'depth-reduced',
      label,
      status: 'pass',
      detail: `drained: ${fmt(now)} messages, at or under ${fmt(drainedThreshold)}`,
    };
  }
  const before = baselineBacklog(baseline);
  if (before === undefined) {
    return notJudged(
      'depth-reduced',
      label,
      `no complete preflight baseline in the record (now ${fmt(now)})`,
    );
  }
  if (before === 0) {
    return { id: 'depth-reduced', label, status: 'fail', detail: `baseline 0, now ${fmt(now)} messages` };
  }
  const reduction = ((before - now) / before) * 100;
  return {
    id: 'depth-reduced',
    label,
    status: reduction > percent ? 'pass' : 'fail',
    detail: `${fmt(before)} → ${fmt(now)} messages (${reduction >= 0 ? '−' : '+'}${fmt(Math.abs(reduction))}%)`,
  };
}

/** 1 h: files per hour above the minimum; a drained queue's rate is bounded by its inflow. */
export function judgeProcessingRate(
  filesPerHour: number | undefined,
  minFilesPerHour: number,
  last: Sample | undefined,
  drainedThreshold: number,
): Criterion {
  const label = `Processing above ${fmt(minFilesPerHour)} files/hour`;
  if (filesPerHour === undefined) {
    return notJudged(
      'processing-rate',
      label,
      'CloudWatch has no AWS/SQS NumberOfMessagesDeleted data for the window',
    );
  }
  if (filesPerHour > minFilesPerHour) {
    return { id: 'processing-rate', label, status: 'pass', detail: `${fmt(filesPerHour)} files/hour` };
  }
  const now = backlog(last);
  if (now !== undefined && now <= drainedThreshold) {
    return {
      id: 'processing-rate',
      label,
      status: 'pass',
      detail: `${fmt(filesPerHour)} files/hour, with the queue drained (${fmt(now)} messages): the rate is bounded by the inflow`,
    };
  }
  return { id: 'processing-rate', label, status: 'fail', detail: `${fmt(filesPerHour)} files/hour` };
}

/** 24 h: depth under the limit. */
export function judgeDepthUnder(last: Sample | undefined, maxDepth: number): Criterion {
  const label = `Queue depth under ${fmt(maxDepth)}`;
  const now = backlog(last);
  if (now === undefined || !last) return notJudged('depth-under', label, 'no queue sample could be read');
  return {
    id: 'depth-under',
    label,
    status: now < maxDepth ? 'pass' : 'fail',
    detail: `${fmt(now)} messages (${describeBacklog(last)})`,
  };
}

/**
 * 24 h: "DLQ reviewed and cleared": a redrive review is in the record for this deployment
 * (record.redrive.reviewedAt, written by mode redrive) and the DLQ is at or under the drained threshold.
 */
export function judgeDlqEmpty(
  samples: Sample[],
  hasDlq: boolean,
  review: RedriveReview | undefined,
  drainedThreshold: number,
): Criterion {
  const label = 'DLQ reviewed and cleared';
  if (!hasDlq) return notJudged('dlq-empty', label, 'the queue has no dead-letter queue');
  const n = lastDlq(samples);
  if (n === undefined) return notJudged('dlq-empty', label, 'no DLQ sample could be read');
  const missing: string[] = [];
  if (!review) missing.push('no DLQ review in the record for this deployment: run mode redrive');
  if (n > drainedThreshold)
    missing.push(`${fmt(n)} messages, over ${fmt(drainedThreshold)}: redrive or review them`);
  const reviewed = review
    ? `reviewed ${review.reviewedAt}${review.sampled !== undefined ? ` (${fmt(review.sampled)} sampled)` : ''}`
    : '';
  if (missing.length === 0) {
    return {
      id: 'dlq-empty',
      label,
      status: 'pass',
      detail: `${reviewed}; ${fmt(n)} messages, at or under ${fmt(drainedThreshold)}`,
    };
  }
  return {
    id: 'dlq-empty',
    label,
    status: 'fail',
    detail: [reviewed, ...missing].filter(Boolean).join('; '),
  };
}

/**
 * 24 h: the indexing lag (age of the oldest message) under the limit. ApproximateAgeOfOldestMessage
 * skips messages received three or more times and not deleted (sqs-available-cloudwatch-metrics):
 * a looping queue can look young on it, so a loop fails this criterion too.
 */
export function judgeLag(metrics: WindowMetrics, maxLagSeconds: number, maxReceiveRatio: number): Criterion {
  const label = `Indexing lag under ${fmt(maxLagSeconds)} s`;
  const oldestAgeSeconds = metrics.oldestAgeSeconds;
  const caveat = 'ApproximateAgeOfOldestMessage skips messages received three or more times without a delete';
  if (oldestAgeSeconds === undefined) {
    return notJudged(
      'lag',
      label,
      'CloudWatch has no AWS/SQS ApproximateAgeOfOldestMessage data for the window',
    );
  }
  if (looping(metrics, maxReceiveRatio)) {
    return {
      id: 'lag',
      label,
      status: 'fail',
      detail: `oldest message ${fmt(oldestAgeSeconds)} s old, but messages are looping (received ${fmt(metrics.received ?? 0)}, deleted ${fmt(metrics.deleted ?? 0)}) and ${caveat}: the age hides them`,
    };
  }
  return {
    id: 'lag',
    label,
    status: oldestAgeSeconds < maxLagSeconds ? 'pass' : 'fail',
    detail: `oldest message ${fmt(oldestAgeSeconds)} s old (${caveat}; the loop criterion covers them)${dataAge(metrics)}`,
  };
}

/**
 * 24 h: "Client file uploads working": messages keep arriving at the source queue. Evidence is
 * NumberOfMessagesSent in the window; without it, not judged (no evidence either way).
 */
export function judgeUploads(metrics: WindowMetrics): Criterion {
  const label = 'Client file uploads working (messages arriving)';
  if (metrics.sent === undefined) {
    return notJudged('uploads', label, 'CloudWatch has no AWS/SQS NumberOfMessagesSent data for the window');
  }
  if (metrics.sent > 0) {
    return {
      id: 'uploads',
      label,
      status: 'pass',
      detail: `${fmt(metrics.sent)} message(s) sent to the queue in the window${dataAge(metrics)}`,
    };
  }
  return {
    id: 'uploads',
    label,
    status: 'fail',
    detail: `no message sent to the queue in the window${dataAge(metrics)}: check the bucket's notifications and the clients`,
  };
}

/** The criteria of one checkpoint, in the runbook's order, and the verdict they give. */
export function judge(input: JudgeInput): Judgement {
  const { samples, metrics, thresholds: t } = input;
  const last = lastQueueSample(samples);
  const balance = input.hasDlq ? drainBalance(samples) : undefined;
  const criteria: Criterion[] = [
    judgeWindow(samples, input.plannedSamples, input.cancelled),
    judgeWorkers(input.fleet),
    judgeServices(input.services, input.serviceName),
  ];
  if (input.checkpoint === '10m') {
    criteria.push(
      judgeDepthTrend(samples, t.drainedThreshold, balance),
      judgeNoLoop(metrics, t.maxReceiveRatio),
      judgeDlqStable(samples, input.baseline?.dlqVisible, t.dlqTolerance, input.hasDlq),
      judgeDlqNew(input.dlqPeek, t.dlqTolerance, input.hasDlq),
      judgeDeleteFailures(metrics, input.metricLabel),
    );
  } else if (input.checkpoint === '1h') {
    criteria.push(
      judgeDepthReduced(input.baseline, last, t.minDepthReductionPercent, t.drainedThreshold, balance),
      judgeProcessingRate(metrics.filesPerHour, t.minFilesPerHour, last, t.drainedThreshold),
      judgeNoLoop(metrics, t.maxReceiveRatio),
      judgeDlqStable(samples, input.baseline?.dlqVisible, t.dlqTolerance, input.hasDlq),
      judgeDlqNew(input.dlqPeek, t.dlqTolerance, input.hasDlq),
      judgeDeleteFailures(metrics, input.metricLabel),
    );
  } else {
    criteria.push(
      judgeDepthUnder(last, t.maxDepth24h),
      judgeDlqEmpty(samples, input.hasDlq, input.redriveReview, t.drainedThreshold),
      judgeLag(metrics, t.maxLagSeconds, t.maxReceiveRatio),
      judgeUploads(metrics),
      judgeNoLoop(metrics, t.maxReceiveRatio),
      judgeDeleteFailures(metrics, input.metricLabel),
    );
  }
  return { verdict: criteria.some((c) => c.status === 'fail') ? 'fail' : 'pass', criteria };
}
