import type { Criterion, Sample } from '../../src/logic/trend.js';
import type { DeploymentRecord } from '../../src/record.js';
import {
  mermaidText,
  renderComparisonTable,
  renderCriteria,
  renderDepthChart,
  renderVerifySummary,
  sparkline,
  type VerifyReport,
} from '../../src/summary/verify.js';
import { runbookRecord } from '../support/context.js';

const T0 = Date.parse('2026-11-29T00:00:00Z');

function record(): DeploymentRecord {
  const r = runbookRecord('dep-20261129t000000z-4242-1', new Date(T0));
  r.metrics.before = {
    at: new Date(T0).toISOString(),
    visible: 1200,
    inFlight: 40,
    delayed: 0,
    dlqVisible: 3,
    instances: 5,
  };
  r.metrics['10m'] = {
    at: new Date(T0 + 600_000).toISOString(),
    visible: 300,
    inFlight: 12,
    delayed: 0,
    dlqVisible: 3,
    instances: 5,
    filesPerHour: 5400.5,
  };
  return r;
}

function samples(queue: number[], dlq: (number | undefined)[]): Sample[] {
  return queue.map((visible, i) => ({
    at: new Date(T0 + i * 60_000).toISOString(),
    visible,
    inFlight: 0,
    delayed: 0,
    dlq: dlq[i],
    running: 5,
  }));
}

const CRITERIA: Criterion[] = [
  {
    id: 'depth-trend',
    label: 'Queue depth decreasing (or drained)',
    status: 'pass',
    detail: 'decreasing: 1,240 → 312',
  },
  {
    id: 'dlq-stable',
    label: 'DLQ stable',
    status: 'fail',
    detail: '3 → 9 <script>alert(1)</script> | [x](javascript:y)',
  },
  { id: 'no-loop', label: 'No messages reappearing', status: 'not-judged', detail: 'CloudWatch has no data' },
];

type VerifySummaryInput = Omit<VerifyReport, 'record'>;

function summaryInput(over: Partial<VerifySummaryInput> = {}): VerifySummaryInput {
  return {
    checkpoint: '10m',
    verdict: 'fail',
    criteria: CRITERIA,
    samples: samples([1240, 900, 600, 312], [3, 5, 7, 9]),
    hasDlq: true,
    queueName: 'file-processing-queue-production',
    dlqName: 'cis-worker-failures',
    metricLabel: 'CISFileSearch/Worker/MessageDeleteFailed',
    notes: [],
    ...over,
  };
}

describe('the Metrics Comparison table', () => {
  it('shows Before / After 10 min / After 1 h / After 24 h, marking what is not yet measured', () => {
    const md = renderComparisonTable(record(), 'CISFileSearch/Worker/MessageDeleteFailed');
    const lines = md.split('\n');
    expect(lines[0]).toBe('| Metric | Before | After 10 min | After 1 h | After 24 h |');
    expect(lines).toContain('| SQS messages (visible) | 1,200 | 300 | not yet measured | not yet measured |');
    expect(lines).toContain('| DLQ messages | 3 | 3 | not yet measured | not yet measured |');
    expect(lines).toContain('| Worker instances | 5 | 5 | not yet measured | not yet measured |');
    // Measured in one column, not in another: "not measured", never 0.
    expect(lines).toContain(
      '| Processing rate (files/hour) | not measured | 5,400.5 | not yet measured | not yet measured |',
    );
    expect(md).toContain('CISFileSearch/Worker/MessageDeleteFailed (sum)');
  });
});

describe('the criteria checklist', () => {
  it('gives each criterion its status and its figures, escaped', () => {
    const md = renderCriteria(CRITERIA);
    expect(md).toContain('- ✅ **Queue depth decreasing (or drained)** (pass): decreasing: 1,240 → 312');
    expect(md).toContain('- ❌ **DLQ stable** (FAIL)');
    expect(md).toContain('- ⚪ **No messages reappearing** (not judged): CloudWatch has no data');
    expect(md).not.toContain('<script>');
    expect(md).toContain('&lt;script&gt;');
    expect(md).not.toMatch(/\[x\]\(/);
    expect(md).toContain('&#124;');
  });
});

describe('the depth chart', () => {
  it('is a Mermaid xychart with one line for the backlog and one for the DLQ', () => {
    const md = renderDepthChart(samples([1240, 900, 600, 312], [3, 5, 7, 9]), true, '10m') ?? '';
    const block = md.slice(md.indexOf('```mermaid'), md.lastIndexOf('```') + 3);
    expect(block.split('\n')[0]).toBe('```mermaid');
    expect(block).toContain('xychart-beta');
    expect(block).toContain('  title "Queue backlog and DLQ, 10m checkpoint"');
    expect(block).toContain(
      '  x-axis "time since the window opened (m:ss)" ["0:00", "1:00", "2:00", "3:00"]',
    );
    expect(block).toContain('  y-axis "messages" 0 --> 1364');
    expect(block).toContain('  line [1240, 900, 600, 312]');
    expect(block).toContain('  line [3, 5, 7, 9]');
    // Exactly one fence opened and closed: nothing inside can end the block early.
    expect(block.match(/```/g)).toHaveLength(2);
    expect(md).toContain('Blue: queue backlog');
  });

  it('plots only complete samples (no gap drawn as zero) and needs two of them', () => {
    const md = renderDepthChart(samples([100, 80, 60], [0, undefined, 0]), true, '1h') ?? '';
    expect(md).toContain('  line [100, 60]');
    expect(renderDepthChart(samples([100], [0]), true, '10m')).toBeUndefined();
  });

  it('draws the backlog alone when there is no DLQ', () => {
    const md = renderDepthChart(samples([5, 4], [undefined, undefined]), false, '24h') ?? '';
    expect(md.match(/ {2}line \[/g)).toHaveLength(1);
    expect(md).toContain('title "Queue backlog, 24h checkpoint"');
  });

  it('keeps a long window to 60 points', () => {
    const many = samples(
      Array.from({ length: 1441 }, (_, i) => 1441 - i),
      Array.from({ length: 1441 }, () => 0),
    );
    const md = renderDepthChart(many, true, '24h') ?? '';
    const line = md.split('\n').find((l) => l.startsWith('  line ['));
    expect(line?.split(',')).toHaveLength(60);
  });

  it('lets nothing but words and figures into Mermaid text', () => {
    expect(mermaidText('a"] --> b\n```\n%%{init}%% <b>')).toBe('a - b init b');
  });

  it('draws sparklines for readers without Mermaid', () => {
    expect(sparkline([0, 7])).toBe('▁█');
    expect(sparkline([0, 0, 0])).toBe('▁▁▁');
    expect(sparkline([]).length).toBe(0);
  });
});

describe('the verify summary', () => {
  it('puts the verdict, the criteria, the comparison table, the chart and the samples together, escaped', () => {
    const r = record();
    r.warnings.push('queue <img src=x> said | no');
    const md = renderVerifySummary({
      record: r,
      ...summaryInput({ queueName: 'q<b>ad', notes: ['dry-run: verify only reads *things*'] }),
    });
    expect(md).toContain('## Verify (10m checkpoint) FAILED: deployment dep-20261129t000000z-4242-1');
    expect(md).toContain('Queue q&lt;b&gt;ad · DLQ cis-worker-failures');
    expect(md).toContain('### Success criteria');
    expect(md).toContain('### Metrics comparison');
    expect(md).toContain('```mermaid');
    expect(md).toContain('<details><summary>Samples (4)</summary>');
    expect(md).toContain('| 2026-11-29 00:03:00Z | 312 | 0 | 0 | 9 | 5 |');
    expect(md).toContain('1 criterion(s) not judged');
    expect(md).toContain('queue &lt;img src=x&gt; said &#124; no');
    expect(md).toContain('dry-run: verify only reads &#42;things&#42;');
    expect(md).not.toContain('<img');
    expect(md).not.toContain('<b>');
    expect(md).toContain('- Queue backlog: ');
  });

  it('says there is nothing to chart when fewer than two samples were read', () => {
    const md = renderVerifySummary({
      record: record(),
      ...summaryInput({ verdict: 'pass', samples: samples([3], [0]) }),
    });
    expect(md).toContain('## Verify (10m checkpoint) passed');
    expect(md).toContain('Fewer than two complete samples');
    expect(md).not.toContain('```mermaid');
  });
});
