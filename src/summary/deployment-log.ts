// The runbook's deployment log, written from the record instead of by hand: date, start and end,
// duration, deployer, approver, commit, instances deployed, rollback required, the metrics
// comparison, issues encountered and the success-criteria checklists. Markdown for the job summary
// and the incident report artifact. Every value from the record (it crossed job boundaries, and
// much of it came from AWS or instances) is escaped through cell/escapeHtml.
import { TAG_BACKUP_PATH, TAG_DEPLOYMENT_ID } from '../constants.js';
import {
  viewCriterion,
  viewInstance,
  type CheckpointName,
  type CriterionId,
  type CriterionStatus,
  type DeploymentRecord,
  type InstallStatus,
  type InstanceView,
  type JudgedCheckpoint,
  type MetricsSnapshot,
} from '../record.js';
import { cappedTable, cell, details, escapeHtml, heading, table } from './markdown.js';
import {
  instanceCounts,
  isDryRun,
  num,
  outcome,
  parseTime,
  phases,
  rollbackFacts,
  str,
  timeSpan,
} from '../logic/record-facts.js';
import { sampledRate } from '../logic/processing-rate.js';
import { readRedriveEntry } from '../logic/redrive.js';
import { preformatted } from './notifications.js';
import { formatDuration, jstAndUtc, jstDate } from './time.js';
import { renderComparisonTable } from './verify.js';

/** A deployment-review decision, as GitHub's "approvals" API for a workflow run returns it. */
export interface Approval {
  user: string;
  state: 'approved' | 'rejected';
  comment?: string;
  environments: string[];
}

export interface DeploymentLogOptions {
  /** Reviews of the run's environment gates, when the caller could read them. */
  approvals?: Approval[];
  /** How the deletion-failure metric is named in the comparison table. */
  metricLabel?: string;
}

type Status = CriterionStatus;

const CHECKPOINT_TITLES: Record<JudgedCheckpoint, string> = {
  '10m': 'Immediate (10 minutes after)',
  '1h': '1 hour after',
  '24h': '24 hours after',
};

// The runbook's wording of each criterion verify judges, by the id verify records (every id: the
// type makes a new criterion in verify a compile error here until it has a title).
const CRITERION_TITLES: Record<CriterionId, string> = {
  window: 'Verify window completed',
  workers: 'All workers running',
  services: 'Service active on every worker',
  'depth-trend': 'Queue depth decreasing (or drained)',
  'depth-reduced': 'Queue depth reduced by more than the threshold (50%) from the baseline',
  'processing-rate': 'Processing above the threshold (50 files/hour)',
  'depth-under': 'Queue depth under the threshold (10)',
  'no-loop': 'No messages reappearing (no receive/delete loop)',
  'dlq-stable': 'DLQ stable',
  'dlq-new': 'No message sent after the fix dead-lettered',
  uploads: 'Client file uploads working',
  'dlq-empty': 'DLQ reviewed and empty',
  'delete-failures': 'No message deletion failures',
  lag: 'Indexing lag under the threshold (5 minutes)',
};

// What each checkpoint will judge, shown until it has run.
// What each checkpoint will judge (logic/trend.ts judge(), less the window and service checks).
const PENDING_CRITERIA: Record<JudgedCheckpoint, CriterionId[]> = {
  '10m': ['workers', 'depth-trend', 'no-loop', 'dlq-stable', 'dlq-new', 'delete-failures'],
  '1h': ['depth-reduced', 'processing-rate', 'no-loop', 'dlq-stable', 'dlq-new', 'delete-failures'],
  '24h': ['depth-under', 'dlq-empty', 'lag', 'uploads', 'no-loop', 'delete-failures'],
};

const ICON: Record<Status, string> = { pass: '✅', fail: '❌', 'not-judged': '⚪' };
const WORD: Record<Status, string> = { pass: 'pass', fail: 'FAIL', 'not-judged': 'not judged' };

export interface RecordedJudgement {
  verdict?: 'pass' | 'fail';
  endedAt?: Date;
  criteria: { id: string; status: Status; detail: string }[];
}

/**
 * The judgement verify kept in record.extra.verify[checkpoint] (parseRecord checked it field by
 * field when the record was read), cut to what the log shows.
 */
export function recordedJudgement(
  record: DeploymentRecord,
  checkpoint: JudgedCheckpoint,
): RecordedJudgement | undefined {
  const entry = record.extra.verify?.[checkpoint];
  if (!entry) return undefined;
  const criteria = (entry.criteria ?? [])
    .slice(0, 30)
    .map(viewCriterion)
    .map((c) => ({ ...c, id: c.id.slice(0, 60) }));
  return { verdict: entry.verdict, endedAt: parseTime(entry.endedAt), criteria };
}

function criterionLine(status: Status, title: string, detail?: string): string {
  const figures = detail ? `: ${cell(detail, 600)}` : '';
  return `- ${ICON[status]} **${escapeHtml(title)}** (${WORD[status]})${figures}`;
}

function checklist(record: DeploymentRecord, checkpoint: JudgedCheckpoint): string {
  const judged = recordedJudgement(record, checkpoint);
  const title = CHECKPOINT_TITLES[checkpoint];
  // The runbook's immediate list includes "no worker errors in logs": the canary judged it.
  const extra = checkpoint === '10m' ? [workerErrorsLine(record)] : [];
  if (!judged) {
    const pending = PENDING_CRITERIA[checkpoint].map(
      (id) => `- ⏳ ${escapeHtml(CRITERION_TITLES[id])} (not yet judged)`,
    );
    return [heading(4, `${title}: not yet judged`), [...extra, ...pending].join('\n')].join('\n\n');
  }
  const verdict = judged.verdict ? ` — ${judged.verdict === 'pass' ? 'PASS' : 'FAIL'}` : '';
  const at = judged.endedAt ? ` at ${jstAndUtc(judged.endedAt)}` : '';
  const lines = [
    ...extra,
    ...judged.criteria.map((c) =>
      criterionLine(c.status, (CRITERION_TITLES as Record<string, string>)[c.id] ?? c.id, c.detail),
    ),
  ];
  return [
    heading(4, `${title}${verdict}${at}`),
    lines.length > 0 ? lines.join('\n') : '_No criterion recorded._',
  ].join('\n\n');
}

function runUrl(record: DeploymentRecord): string | undefined {
  const g = record.github;
  if (!g) return undefined;
  // Only a URL made of plain parts becomes a link; anything else is shown as text.
  const server = /^https:\/\/[A-Za-z0-9.-]+(?::\d+)?$/.test(g.serverUrl ?? '') ? g.serverUrl : undefined;
  const repo = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(g.repository ?? '') ? g.repository : undefined;
  const runId = Number.isSafeInteger(g.runId) && g.runId > 0 ? g.runId : undefined;
  if (!server || !repo || !runId) return undefined;
  return `${server}/${repo}/actions/runs/${runId}`;
}

function approverText(approvals: Approval[] | undefined): string {
  if (approvals === undefined) {
    return 'not recorded here: see the workflow run’s deployment review history';
  }
  if (approvals.length === 0) return 'no review (no environment with required reviewers, or none reached)';
  return approvals
    .map((a) => {
      const envs = a.environments.length > 0 ? ` for ${a.environments.join(', ')}` : '';
      const comment = a.comment ? ` — “${a.comment}”` : '';
      return `@${a.user} ${a.state}${envs}${comment}`;
    })
    .join('; ');
}

/** The figure first (the runbook's "Instances Deployed: N"), then what it is made of. */
function instancesDeployedText(record: DeploymentRecord): string {
  const c = instanceCounts(record);
  const rb = rollbackFacts(record);
  const parts = [`of ${c.fleet}`];
  if (c.canaryId) parts.push(`canary ${c.canaryId}`);
  if (c.failed > 0) parts.push(`${c.failed} failed`);
  if (c.unfinished > 0) parts.push(`${c.unfinished} not confirmed`);
  if (rb.restored > 0) parts.push(`${rb.restored} since restored by the rollback`);
  return `${c.installed} (${parts.join('; ')})`;
}

/**
 * When the sign-off was given. GitHub's review history for a run (EnvironmentApprovals) carries no
 * time, so the log states the start of the job the gate held back: the approval came just before.
 */
function approvalTimeText(record: DeploymentRecord): string {
  const gated = phases(record).find((p) => p.mode === 'rollout' && !p.dryRun);
  const at = parseTime(gated?.startedAt);
  return at ? `just before ${jstAndUtc(at)} (when the gated rollout started)` : 'no gated phase ran';
}

/** YES or NO, and why, always. */
function rollbackText(record: DeploymentRecord): string {
  const rb = rollbackFacts(record);
  if (!rb.required) {
    const state = outcome(record);
    if (state === 'completed') return 'NO — verify passed';
    if (state === 'failed') return `NO — none has run yet, although ${rb.reason ?? 'a phase failed'}`;
    return 'NO — no phase failed';
  }
  const counts = `${rb.restored} restored${rb.failed > 0 ? `, ${rb.failed} FAILED to restore` : ''}`;
  return `YES — ${counts}${rb.reason ? `; reason: ${rb.reason}` : ''}`;
}

/** The record with the processing rate filled in from the samples where CloudWatch had none. */
function withMeasuredRates(record: DeploymentRecord): { record: DeploymentRecord; estimated: string[] } {
  const metrics: Partial<Record<CheckpointName, MetricsSnapshot>> = { ...(record.metrics ?? {}) };
  const estimated: string[] = [];
  for (const c of ['10m', '1h', '24h'] as const) {
    const m = metrics[c];
    if (!m || typeof m !== 'object' || num(m.filesPerHour) !== undefined) continue;
    const rate = sampledRate(record, c);
    if (rate === undefined) continue;
    metrics[c] = { ...m, filesPerHour: rate };
    estimated.push(CHECKPOINT_TITLES[c]);
  }
  return { record: { ...record, metrics }, estimated };
}

/** "No worker errors in logs": the canary counted the error patterns in its log. */
function workerErrorsLine(record: DeploymentRecord): string {
  const title = 'No worker errors in logs (the canary’s error patterns)';
  const c = record.canary;
  if (!c || (c.verdict !== 'go' && c.verdict !== 'no-go')) {
    return criterionLine('not-judged', title, 'no canary in the record');
  }
  return c.verdict === 'go'
    ? criterionLine('pass', title, `canary ${c.instanceId}: GO, no error pattern in its log`)
    : criterionLine('fail', title, `canary ${c.instanceId}: NO-GO — ${str(c.reason, 300) ?? ''}`);
}

/** What the deployment left behind, to be cleaned up once the fix is trusted. */
export function leftBehind(record: DeploymentRecord): string[] {
  const out: string[] = [];
  const entries = Object.values(record.instances ?? {})
    .filter((e) => e && typeof e === 'object')
    .map(viewInstance);
  // A backup exists wherever the install script ran (a command was sent).
  const backedUp = entries.filter((e) => (num(e.commandIndex) ?? -1) >= 0).length;
  if (backedUp > 0)
    out.push(`Backup file ${str(record.target?.backupPath) ?? '?'} on ${backedUp} instance(s)`);
  if (entries.length > 0) {
    out.push(`Tags ${TAG_DEPLOYMENT_ID} and ${TAG_BACKUP_PATH} on ${entries.length} instance(s)`);
  }
  const { image, launchTemplate } = record.settings ?? {};
  if (image) out.push(`Image ${str(image.id)} (from ${str(image.sourceInstanceId)}) and its snapshots`);
  if (launchTemplate) {
    out.push(`Launch template ${str(launchTemplate.name)} version ${num(launchTemplate.newVersion) ?? '?'}`);
  }
  if (record.artifact?.uploaded) out.push(`Uploaded artifact ${str(record.artifact.s3Uri)}`);
  return out;
}

function utcDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

const COLUMNS: [CheckpointName, string][] = [
  ['before', 'Before'],
  ['10m', 'After 10 min'],
  ['1h', 'After 1 h'],
  ['24h', 'After 24 h'],
];

function textFigure(m: MetricsSnapshot | undefined, pick: (m: MetricsSnapshot) => unknown): string {
  if (!m || typeof m !== 'object') return 'not yet';
  const v = num(pick(m));
  return v === undefined ? 'not measured' : v.toLocaleString('en-US');
}

/**
 * The runbook's Deployment Log as one plain-text block, every field filled in (a field the record
 * cannot answer says why), to paste into the runbook's log as it stands. Escaped by preformatted().
 */
export function deploymentLogBlock(record: DeploymentRecord, options: DeploymentLogOptions = {}): string {
  const { start, end } = timeSpan(record);
  const g = record.github ?? ({} as DeploymentRecord['github']);
  const rated = withMeasuredRates(record).record;
  const pad = (label: string) => `${label}:`.padEnd(22);
  const metric = (name: string, pick: (m: MetricsSnapshot) => unknown) =>
    `  ${name.padEnd(20)}${COLUMNS.map(([c]) => textFigure(rated.metrics?.[c], pick).padEnd(15)).join('')}`.trimEnd();
  const checklistText = (c: JudgedCheckpoint): string[] => {
    const judged = recordedJudgement(record, c);
    const head = `  ${CHECKPOINT_TITLES[c]}${judged?.verdict ? `: ${judged.verdict.toUpperCase()}` : ': not yet judged'}`;
    const rows: string[] = [];
    if (c === '10m') {
      const v = record.canary?.verdict;
      rows.push(`    [${v === 'go' ? 'x' : v === 'no-go' ? '!' : ' '}] No worker errors in logs`);
    }
    const ids = judged ? judged.criteria.map((x) => x.id) : PENDING_CRITERIA[c];
    for (const id of ids) {
      const status = judged?.criteria.find((x) => x.id === id)?.status;
      const box = status === 'pass' ? 'x' : status === 'fail' ? '!' : ' ';
      rows.push(
        `    [${box}] ${(CRITERION_TITLES as Record<string, string>)[id] ?? id}${status === 'not-judged' ? ' (not judged: no data)' : ''}`,
      );
    }
    return [head, ...rows];
  };
  const issues = issuesOf(record);
  const left = leftBehind(record);
  const lines = [
    `Deployment Log — ${record.deploymentId}${isDryRun(record) ? ' (DRY RUN: nothing was changed)' : ''}`,
    '',
    `${pad('Date')}${start ? `${jstDate(start)} (JST) / ${utcDate(start)} (UTC)` : 'not recorded'}`,
    `${pad('Start Time')}${start ? jstAndUtc(start) : 'not recorded'}`,
    `${pad('End Time')}${end ? jstAndUtc(end) : 'not recorded'}`,
    `${pad('Duration')}${start && end ? formatDuration(end.getTime() - start.getTime()) : 'not recorded'}`,
    `${pad('Deployer')}${g.actor ? `@${g.actor}` : 'not recorded'}`,
    `${pad('Approver')}${approverText(options.approvals)}`,
    `${pad('Approval Time')}${approvalTimeText(record)}`,
    `${pad('Commit')}${g.sha ? `${g.sha}${g.ref ? ` (${g.ref})` : ''}` : 'not recorded'}`,
    `${pad('Instances Deployed')}${instancesDeployedText(record)}`,
    `${pad('Rollback Required')}${rollbackText(record)}`,
    '',
    'Metrics Comparison:',
    `  ${''.padEnd(20)}${COLUMNS.map(([, t]) => t.padEnd(15)).join('')}`.trimEnd(),
    metric('SQS Messages', (m) => m.visible),
    metric('DLQ Messages', (m) => m.dlqVisible),
    metric('Worker Instances', (m) => m.instances),
    metric('Processing Rate/h', (m) => m.filesPerHour),
    '',
    'Issues Encountered:',
    ...(issues.length > 0 ? issues.slice(0, 100).map((i) => `  - ${i.slice(0, 500)}`) : ['  None.']),
    ...(issues.length > 100 ? [`  (${issues.length - 100} more in the record)`] : []),
    '',
    'Success Criteria:',
    ...(['10m', '1h', '24h'] as const).flatMap(checklistText),
    '',
    'Left Behind (clean up once the fix is trusted):',
    ...(left.length > 0 ? left.map((l) => `  - ${l}`) : ['  Nothing.']),
  ];
  return lines.join('\n');
}

/** Every warning and failure of every job, once each. */
export function issuesOf(record: DeploymentRecord): string[] {
  const warnings = Array.isArray(record.warnings) ? record.warnings.filter((w) => typeof w === 'string') : [];
  const issues = [...warnings];
  for (const p of phases(record)) {
    if (p.verdict === 'fail' || p.verdict === 'no-go')
      issues.push(`${p.mode} ${p.verdict}: ${p.reason ?? 'no reason recorded'}`);
  }
  return [...new Set(issues)];
}

const PHASE_STATUS: Record<InstallStatus, string> = {
  installed: 'installed',
  failed: 'FAILED',
  sent: 'sent, not confirmed',
  cancelled: 'cancelled',
};

function instanceRows(record: DeploymentRecord): unknown[][] {
  const entries = Object.entries(record.instances ?? {})
    .filter(([, e]) => e && typeof e === 'object')
    .map(([id, e]) => [id, viewInstance(e)] as const);
  // Problems first, then the canary, then the rollout in batch order.
  const rank = (e: InstanceView) =>
    e.status === 'failed' || e.rollback === 'failed' ? 0 : e.phase === 'canary' ? 1 : 2;
  entries.sort(
    ([a, x], [b, y]) => rank(x) - rank(y) || (num(x.batch) ?? 0) - (num(y.batch) ?? 0) || a.localeCompare(b),
  );
  return entries.map(([id, e]) => [
    id,
    e.phase === 'canary' ? 'canary' : `batch ${num(e.batch) ?? '?'}`,
    PHASE_STATUS[e.status] ?? str(e.status, 20),
    num(e.installSeconds),
    e.rollback ?? '',
    e.error ?? e.rollbackError ?? '',
  ]);
}

function phaseRows(record: DeploymentRecord): unknown[][] {
  return phases(record).map((p) => {
    const started = parseTime(p.startedAt);
    const ended = parseTime(p.endedAt);
    return [
      `${str(p.mode, 20) ?? '?'}${p.dryRun ? ' (dry run)' : ''}`,
      started ? jstAndUtc(started) : undefined,
      ended ? jstAndUtc(ended) : 'not ended',
      started && ended ? formatDuration(ended.getTime() - started.getTime()) : undefined,
      p.verdict,
      str(p.reason, 300),
    ];
  });
}

/** The runbook's deployment log for this record, as Markdown. */
export function renderDeploymentLog(record: DeploymentRecord, options: DeploymentLogOptions = {}): string {
  const { start, end } = timeSpan(record);
  const g = record.github ?? ({} as DeploymentRecord['github']);
  const url = runUrl(record);
  const out: string[] = [];
  out.push(
    heading(
      2,
      `Deployment log: ${record.deploymentId}${isDryRun(record) ? ' (dry run: nothing was changed)' : ''}`,
    ),
  );
  // The runbook's log in one block first; the tables below give the same facts with their detail.
  out.push(preformatted(deploymentLogBlock(record, options)));
  out.push(
    table(
      ['Field', 'Value'],
      [
        ['Date', start ? `${jstDate(start)} (JST), ${utcDate(start)} (UTC)` : undefined],
        ['Start time', start ? jstAndUtc(start) : undefined],
        ['End time', end ? jstAndUtc(end) : undefined],
        ['Duration', start && end ? formatDuration(end.getTime() - start.getTime()) : undefined],
        ['Deployer', g.actor ? `@${g.actor}` : undefined],
        ['Approver', approverText(options.approvals)],
        ['Approval time', approvalTimeText(record)],
        ['Commit', g.sha ? `${g.sha}${g.ref ? ` (${g.ref})` : ''}` : undefined],
        [
          'Workflow run',
          g.runId ? `run ${g.runId}, attempt ${g.runAttempt ?? 1}${url ? ' (link below)' : ''}` : undefined,
        ],
        ['Region', record.region],
        ['Queue', record.queue?.name],
        [
          'Artifact',
          record.artifact ? `${record.artifact.s3Uri} (sha256 ${record.artifact.sha256})` : undefined,
        ],
        [
          'Canary',
          record.canary
            ? `${record.canary.instanceId}: ${record.canary.verdict} — ${record.canary.reason}`
            : undefined,
        ],
        ['Instances deployed', instancesDeployedText(record)],
        ['Rollback required', rollbackText(record)],
      ],
    ),
  );
  if (url) out.push(`[Open the workflow run](${url})`);

  out.push(heading(3, 'Metrics comparison'));
  const rated = withMeasuredRates(record);
  out.push(renderComparisonTable(rated.record, options.metricLabel ?? 'Deletion failures'));
  if (rated.estimated.length > 0) {
    out.push(
      `_Processing rate at ${escapeHtml(rated.estimated.join(', '))}: CloudWatch had no figure, so it is the deletions the queue samples show (messages gone from the queue and not to the DLQ): a lower bound._`,
    );
  }

  out.push(heading(3, 'Issues encountered'));
  const issues = issuesOf(record);
  out.push(
    issues.length > 0
      ? issues
          .slice(0, 100)
          .map((w) => `- ${cell(w, 500)}`)
          .join('\n')
      : 'None.',
  );
  if (issues.length > 100) out.push(`_${issues.length - 100} more are in the record._`);

  out.push(heading(3, 'Success criteria'));
  out.push((['10m', '1h', '24h'] as const).map((c) => checklist(record, c)).join('\n\n'));

  const redrive = readRedriveEntry(record);
  if (redrive) {
    out.push(heading(3, 'DLQ review and redrive'));
    out.push(
      table(
        ['Figure', 'Value'],
        [
          ['Reviewed', jstAndUtc(new Date(redrive.reviewedAt))],
          ['Messages sampled', redrive.sampled],
          ['DLQ messages when reviewed', num(redrive.dlqDepth)],
          ['Duplicates of one object event', num(redrive.duplicates)],
          [
            's3:TestEvent / not S3 events',
            `${num(redrive.testEvents) ?? '?'} / ${num(redrive.notS3) ?? '?'}`,
          ],
          ['Move task', str(redrive.status, 20) ?? (redrive.dryRun ? 'review only' : undefined)],
          ['Messages moved', num(redrive.moved)],
          ['Refused', str(redrive.refused, 300)],
        ],
      ),
    );
  }

  out.push(heading(3, 'Left behind (clean up once the fix is trusted)'));
  const left = leftBehind(record);
  out.push(left.length > 0 ? left.map((l) => `- ${cell(l, 300)}`).join('\n') : 'Nothing.');

  out.push(heading(3, 'Phases'));
  out.push(table(['Phase', 'Started', 'Ended', 'Duration', 'Verdict', 'Reason'], phaseRows(record)));

  const rows = instanceRows(record);
  if (rows.length > 0) {
    out.push(
      details(
        `Instances touched (${rows.length})`,
        cappedTable(['Instance', 'Phase', 'Install', 'Seconds', 'Rollback', 'Error'], rows, 200),
      ),
    );
  }
  return out.join('\n\n');
}
