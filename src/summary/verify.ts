// The verify section of the job summary: the runbook's Metrics Comparison table, the success
// criteria with their figures, and a chart of the queue and the DLQ over the window.
import type { Checkpoint } from '../inputs.js';
import { backlog, downsample, type Criterion, type Sample } from '../logic/trend.js';
import { CHECKPOINTS, type CheckpointName, type DeploymentRecord, type MetricsSnapshot } from '../record.js';
import { cappedTable, cell, details, escapeHtml, heading, table } from './markdown.js';

/** The verify section's data: the record (its metrics and warnings) and this checkpoint's reading. */
export interface VerifyReport {
  record: DeploymentRecord;
  checkpoint: Checkpoint;
  verdict: 'pass' | 'fail';
  criteria: Criterion[];
  samples: Sample[];
  hasDlq: boolean;
  queueName?: string;
  dlqName?: string;
  /** namespace/name of the deletion-failure metric. */
  metricLabel: string;
  /** Things the reader should know (dry-run, where the fleet list came from, …). */
  notes: string[];
}

const COLUMN_TITLES: Record<CheckpointName, string> = {
  before: 'Before',
  '10m': 'After 10 min',
  '1h': 'After 1 h',
  '24h': 'After 24 h',
};

const STATUS_ICON: Record<Criterion['status'], string> = { pass: '✅', fail: '❌', 'not-judged': '⚪' };
const STATUS_WORD: Record<Criterion['status'], string> = {
  pass: 'pass',
  fail: 'FAIL',
  'not-judged': 'not judged',
};

// Points on the chart: enough to see a trend, few enough to stay readable.
const CHART_POINTS = 60;
const SAMPLE_ROWS = 120;

function figure(n: number | undefined, digits = 0): string | undefined {
  if (n === undefined || !Number.isFinite(n)) return undefined;
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** The runbook's Metrics Comparison table, Before / After 10 min / After 1 h / After 24 h. */
export function renderComparisonTable(record: DeploymentRecord, metricLabel: string): string {
  const rows: [string, (m: MetricsSnapshot) => string | undefined][] = [
    ['SQS messages (visible)', (m) => figure(m.visible)],
    ['SQS messages in flight', (m) => figure(m.inFlight)],
    ['SQS messages delayed', (m) => figure(m.delayed)],
    ['DLQ messages', (m) => figure(m.dlqVisible)],
    ['Worker instances', (m) => figure(m.instances)],
    ['Processing rate (files/hour)', (m) => figure(m.filesPerHour, 1)],
    ['Oldest message age (s)', (m) => figure(m.oldestAgeSeconds)],
    [`${metricLabel} (sum)`, (m) => figure(m.deleteFailed)],
  ];
  return table(
    ['Metric', ...CHECKPOINTS.map((c) => COLUMN_TITLES[c])],
    rows.map(([name, pick]) => [
      name,
      ...CHECKPOINTS.map((c) => {
        const snapshot = record.metrics?.[c];
        if (!snapshot) return 'not yet measured';
        return pick(snapshot) ?? 'not measured';
      }),
    ]),
  );
}

export function renderCriteria(criteria: Criterion[]): string {
  return criteria
    .map(
      (c) =>
        `- ${STATUS_ICON[c.status]} **${escapeHtml(c.label)}** (${STATUS_WORD[c.status]}): ${cell(c.detail, 600)}`,
    )
    .join('\n');
}

/** Text for inside a Mermaid block: plain words and figures only, never quotes, brackets or fences. */
export function mermaidText(text: string, max = 80): string {
  return (
    text
      .replace(/[^A-Za-z0-9 .,:()+-]/g, ' ')
      // No arrows (-->) either, even inside quotes.
      .replace(/-{2,}/g, '-')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, max)
  );
}

function safeNumber(n: number): string {
  return Number.isFinite(n) ? String(Math.round(n * 100) / 100) : '0';
}

/** m:ss since the window opened: distinct for every distinct second (categories must not repeat). */
function elapsedLabel(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

/**
 * A Mermaid xychart of the backlog (and the DLQ) over the window; GitHub renders it in the job
 * summary. Only samples where every charted series was read are plotted, so no gap reads as zero.
 */
export function renderDepthChart(
  samples: Sample[],
  hasDlq: boolean,
  checkpoint: Checkpoint,
): string | undefined {
  const readable = samples.filter((s) => backlog(s) !== undefined && (!hasDlq || s.dlq !== undefined));
  if (readable.length < 2) return undefined;
  const points = downsample(readable, CHART_POINTS);
  const t0 = Date.parse(points[0].at);
  const queue = points.map((s) => backlog(s) ?? 0);
  const dlq = points.map((s) => s.dlq ?? 0);
  const top = Math.max(1, ...queue, ...(hasDlq ? dlq : []));
  const labels = points.map((s) => `"${elapsedLabel(Date.parse(s.at) - t0)}"`);
  const lines = [
    '```mermaid',
    // Fixed colours, so the caption below can name them (xychart draws no legend).
    `%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "#1f6feb, #d1242f"}}}}%%`,
    'xychart-beta',
    `  title "${mermaidText(`Queue backlog${hasDlq ? ' and DLQ' : ''}, ${checkpoint} checkpoint`)}"`,
    `  x-axis "time since the window opened (m:ss)" [${labels.join(', ')}]`,
    `  y-axis "messages" 0 --> ${safeNumber(Math.ceil(top * 1.1))}`,
    `  line [${queue.map(safeNumber).join(', ')}]`,
  ];
  if (hasDlq) lines.push(`  line [${dlq.map(safeNumber).join(', ')}]`);
  lines.push('```');
  const caption = hasDlq
    ? 'Blue: queue backlog (visible + in flight + delayed). Red: DLQ messages.'
    : 'Blue: queue backlog (visible + in flight + delayed).';
  return `${lines.join('\n')}\n\n${caption}`;
}

const SPARKS = '▁▂▃▄▅▆▇█';

/** A one-line sparkline: readable where Mermaid is not rendered (logs, e-mail). */
export function sparkline(values: number[]): string {
  if (values.length === 0) return '';
  const max = Math.max(...values);
  const min = Math.min(...values);
  const span = max - min;
  return values
    .map(
      (v) => SPARKS[span === 0 ? (max === 0 ? 0 : 3) : Math.round(((v - min) / span) * (SPARKS.length - 1))],
    )
    .join('');
}

function trendLine(name: string, values: number[]): string {
  if (values.length === 0) return `${name}: no sample`;
  const shown = downsample(values, 40);
  return `${name}: ${sparkline(shown)} ${figure(values[0])} → ${figure(values[values.length - 1])}`;
}

function samplesTable(samples: Sample[]): string {
  const rows = downsample(samples, SAMPLE_ROWS).map((s) => [
    s.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    figure(s.visible) ?? 'not read',
    figure(s.inFlight) ?? 'not read',
    figure(s.delayed) ?? 'not read',
    figure(s.dlq) ?? 'not read',
    figure(s.running) ?? 'not read',
  ]);
  return cappedTable(['Time (UTC)', 'Visible', 'In flight', 'Delayed', 'DLQ', 'Running'], rows, SAMPLE_ROWS);
}

export function renderVerifySummary(v: VerifyReport): string {
  const record = v.record;
  const out: string[] = [];
  const passed = v.verdict === 'pass';
  out.push(
    heading(
      2,
      `Verify (${v.checkpoint} checkpoint) ${passed ? 'passed' : 'FAILED'}: deployment ${record.deploymentId}`,
    ),
  );
  const where = [v.queueName ? `Queue ${v.queueName}` : undefined, v.dlqName ? `DLQ ${v.dlqName}` : 'no DLQ']
    .filter(Boolean)
    .join(' · ');
  out.push(escapeHtml(where));
  if (v.notes.length > 0) out.push(v.notes.map((n) => `- ${cell(n, 500)}`).join('\n'));

  out.push(heading(3, 'Success criteria'));
  out.push(renderCriteria(v.criteria));
  const notJudged = v.criteria.filter((c) => c.status === 'not-judged').length;
  if (notJudged > 0) {
    out.push(
      `_${notJudged} criterion(s) not judged: their data is missing (CloudWatch metrics arrive minutes late). The verdict rests on the evidence that was there._`,
    );
  }

  out.push(heading(3, 'Metrics comparison'));
  out.push(renderComparisonTable(record, v.metricLabel));

  out.push(heading(3, 'Queue and DLQ over the window'));
  const chart = renderDepthChart(v.samples, v.hasDlq, v.checkpoint);
  out.push(chart ?? '_Fewer than two complete samples: nothing to chart._');
  const queueValues = v.samples.flatMap((s) => {
    const n = backlog(s);
    return n === undefined ? [] : [n];
  });
  const trends = [trendLine('Queue backlog', queueValues)];
  if (v.hasDlq)
    trends.push(
      trendLine(
        'DLQ',
        v.samples.flatMap((s) => (s.dlq === undefined ? [] : [s.dlq])),
      ),
    );
  out.push(trends.map((t) => `- ${escapeHtml(t)}`).join('\n'));
  out.push(details(`Samples (${v.samples.length})`, samplesTable(v.samples)));

  if (record.warnings.length > 0) {
    out.push(heading(3, 'Warnings'));
    out.push(record.warnings.map((w) => `- ${cell(w, 500)}`).join('\n'));
  }
  return out.join('\n\n');
}
