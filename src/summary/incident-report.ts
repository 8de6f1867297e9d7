// The incident report the runbook's next steps ask for, written from the record: what happened
// (outcome, figures), the timeline of every phase with its decision and evidence, the approvals,
// the metrics, the issues, the DLQ review and redrive, the rollback, and what is left to clean up.
// Markdown; every value from the record passes through cell/escapeHtml.
import {
  instanceCounts,
  isDryRun,
  outcome,
  parseTime,
  phases,
  rollbackFacts,
  str,
  timeSpan,
} from '../logic/record-facts.js';
import { readRedriveEntry } from '../logic/redrive.js';
import type { DeploymentRecord } from '../record.js';
import {
  deploymentLogBlock,
  issuesOf,
  leftBehind,
  recordedJudgement,
  type DeploymentLogOptions,
} from './deployment-log.js';
import { cell, escapeHtml, heading, table } from './markdown.js';
import { preformatted } from './notifications.js';
import { formatDuration, jstAndUtc } from './time.js';
import { renderComparisonTable } from './verify.js';

const OUTCOME_TEXT: Record<ReturnType<typeof outcome>, string> = {
  completed: 'Completed: the fix runs on the fleet and verify passed',
  'rolled-back': 'Rolled back: the fleet was returned to its previous state',
  failed: 'Failed: a phase failed and no rollback has run yet',
  'in-progress': 'In progress: verify has not passed yet',
};

function timelineRows(record: DeploymentRecord): unknown[][] {
  const rows: { at: number; row: unknown[] }[] = [];
  for (const p of phases(record)) {
    const started = parseTime(p.startedAt);
    const ended = parseTime(p.endedAt);
    rows.push({
      at: started?.getTime() ?? 0,
      row: [
        started ? jstAndUtc(started) : undefined,
        ended ? jstAndUtc(ended) : 'not ended',
        `${str(p.mode, 20) ?? '?'}${p.dryRun ? ' (dry run)' : ''}`,
        p.verdict ?? 'not decided',
        str(p.reason, 400),
      ],
    });
  }
  for (const checkpoint of ['10m', '1h', '24h'] as const) {
    const judged = recordedJudgement(record, checkpoint);
    if (!judged?.endedAt) continue;
    const failed = judged.criteria.filter((c) => c.status === 'fail').map((c) => `${c.id}: ${c.detail}`);
    rows.push({
      at: judged.endedAt.getTime(),
      row: [
        jstAndUtc(judged.endedAt),
        jstAndUtc(judged.endedAt),
        `checkpoint ${checkpoint}`,
        judged.verdict ?? 'not decided',
        failed.length > 0 ? failed.join('; ') : `${judged.criteria.length} criteria, none failed`,
      ],
    });
  }
  const redrive = readRedriveEntry(record);
  if (redrive) {
    const at = new Date(redrive.reviewedAt);
    rows.push({
      at: at.getTime(),
      row: [
        jstAndUtc(at),
        redrive.endedAt && parseTime(redrive.endedAt) ? jstAndUtc(parseTime(redrive.endedAt)!) : '—',
        'DLQ review and redrive',
        str(redrive.status, 20) ?? (redrive.dryRun ? 'review only' : '—'),
        `${redrive.sampled} sampled${typeof redrive.moved === 'number' ? `, ${redrive.moved} moved` : ''}${redrive.refused ? `; refused: ${str(redrive.refused, 200)}` : ''}`,
      ],
    });
  }
  return rows.sort((a, b) => a.at - b.at).map((r) => r.row);
}

/** The incident report, as Markdown. */
export function renderIncidentReport(record: DeploymentRecord, options: DeploymentLogOptions = {}): string {
  const { start, end } = timeSpan(record);
  const counts = instanceCounts(record);
  const rb = rollbackFacts(record);
  const out: string[] = [];
  out.push(
    heading(
      2,
      `Incident report: ${record.deploymentId}${isDryRun(record) ? ' (dry run: nothing was changed)' : ''}`,
    ),
  );
  out.push(
    table(
      ['Field', 'Value'],
      [
        ['Outcome', OUTCOME_TEXT[outcome(record)]],
        [
          'Window',
          start && end
            ? `${jstAndUtc(start)} → ${jstAndUtc(end)} (${formatDuration(end.getTime() - start.getTime())})`
            : undefined,
        ],
        ['Instances running the fix', `${counts.installed} of ${counts.fleet}`],
        [
          'Rollback',
          rb.required
            ? `yes: ${rb.restored} restored, ${rb.failed} failed${rb.reason ? `; ${rb.reason}` : ''}`
            : 'no',
        ],
        ['Queue', record.queue?.name],
        ['Commit', record.github?.sha],
      ],
    ),
  );

  out.push(heading(3, 'Timeline'));
  out.push(table(['Started', 'Ended', 'Phase', 'Decision', 'Evidence'], timelineRows(record)));

  out.push(heading(3, 'Approvals'));
  const approvals = options.approvals;
  out.push(
    approvals === undefined
      ? 'Not read here: see the workflow run’s deployment review history.'
      : approvals.length === 0
        ? 'No review (no environment with required reviewers was reached).'
        : approvals
            .map(
              (a) =>
                `- @${cell(a.user, 40)} ${cell(a.state, 10)}${a.environments.length > 0 ? ` for ${cell(a.environments.join(', '), 200)}` : ''}${a.comment ? `: “${cell(a.comment, 300)}”` : ''}`,
            )
            .join('\n'),
  );

  out.push(heading(3, 'Metrics'));
  out.push(renderComparisonTable(record, options.metricLabel ?? 'Deletion failures'));

  out.push(heading(3, 'Issues encountered'));
  const issues = issuesOf(record);
  out.push(
    issues.length > 0
      ? issues
          .slice(0, 200)
          .map((i) => `- ${cell(i, 500)}`)
          .join('\n')
      : 'None.',
  );

  out.push(heading(3, 'DLQ review and redrive'));
  const r = readRedriveEntry(record);
  out.push(
    r
      ? table(
          ['Figure', 'Value'],
          [
            ['Reviewed at', jstAndUtc(new Date(r.reviewedAt))],
            ['DLQ messages when reviewed', r.dlqDepth],
            ['Sampled (never deleted)', r.sampled],
            ['S3 object events', r.s3Events],
            ['Duplicates of one object event', r.duplicates],
            ['s3:TestEvent', r.testEvents],
            ['Not S3 events', r.notS3],
            ['First sent before / after the fix', `${r.sentBeforeFix ?? '?'} / ${r.sentAfterFix ?? '?'}`],
            ['Move task', r.status ?? (r.dryRun ? 'review only' : undefined)],
            ['Moved', r.moved],
            ['Refused', r.refused],
            ['DLQ after the watch', r.after?.dlq],
          ],
        )
      : 'Not done yet: run the DLQ review (`mode: redrive`, dlq-redrive.yml).',
  );

  out.push(heading(3, 'Rollback'));
  out.push(
    rb.required
      ? `${rb.restored} instance(s) restored from their backups${rb.failed > 0 ? `, ${rb.failed} FAILED to restore` : ''}. Why: ${escapeHtml(rb.reason ?? 'not recorded')}.`
      : 'No rollback was needed.',
  );

  out.push(heading(3, 'Left behind (to clean up)'));
  const left = leftBehind(record);
  out.push(left.length > 0 ? left.map((l) => `- ${cell(l, 300)}`).join('\n') : 'Nothing.');

  out.push(heading(3, 'Deployment log'));
  out.push(preformatted(deploymentLogBlock(record, options)));
  return out.join('\n\n');
}
