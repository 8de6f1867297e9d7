// The redrive step's job summary: the review's counts first, then the move task and the watch after
// it, and the sampled messages folded below their count. Every value from a message body, AWS or
// the record passes through cell/escapeHtml.
import type { Review, ReviewRow } from '../logic/redrive.js';
import type { RedriveEntry } from '../record.js';
import { cappedTable, cell, details, escapeHtml, heading, table } from './markdown.js';
import { jstAndUtc } from './time.js';

/** The redrive section's data: the DLQ review, the move task and the watch after it. */
export interface RedriveReport {
  deploymentId: string;
  verdict: 'pass' | 'fail';
  reason: string;
  queueName: string;
  dlqName: string;
  entry: RedriveEntry;
  review: Review;
  progress: { at: string; status: string; moved?: number; toMove?: number }[];
  notes: string[];
}

function when(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : jstAndUtc(new Date(ms));
}

function rowCells(r: ReviewRow): unknown[] {
  return [
    r.messageId,
    r.kind === 's3' ? (r.eventName ?? 'S3 event') : r.kind === 'test' ? 's3:TestEvent' : 'not an S3 event',
    r.bucket,
    r.key,
    r.size,
    r.eventTime,
    r.sequencer,
    when(r.sentAt),
    r.receiveCount,
    r.duplicate ? 'duplicate' : (r.note ?? ''),
  ];
}

/** Review rows shown in the summary: the rest are counted, never listed (a 1,000-message sample). */
export const SUMMARY_REVIEW_ROWS = 100;

export function renderRedriveSummary(s: RedriveReport): string {
  const { entry, review } = s;
  const out: string[] = [];
  const mark = s.verdict === 'pass' ? '✅' : '❌';
  out.push(heading(2, `DLQ review and redrive: ${s.dlqName} → ${s.queueName}`));
  out.push(`${mark} **${s.verdict.toUpperCase()}**: ${escapeHtml(s.reason)}`);
  for (const n of s.notes) out.push(`> ${escapeHtml(n)}`);

  out.push(heading(3, 'Review (messages read, none deleted)'));
  const fix = entry.fixAt ? jstAndUtc(new Date(entry.fixAt)) : 'not in the record';
  out.push(
    table(
      ['Figure', 'Value'],
      [
        ['DLQ messages when reviewed', entry.dlqDepth],
        ['Messages sampled', review.sampled],
        ['S3 object events', review.s3Events],
        ['Duplicates of the same object event (bucket, key, sequencer)', review.duplicates],
        ['s3:TestEvent messages', review.testEvents],
        ['Bodies that are not S3 events', review.notS3],
        ['Oldest first sent', when(review.oldestSentAt)],
        ['Newest first sent', when(review.newestSentAt)],
        ['Fleet ran the fix at', fix],
        ['First sent before the fix', review.sentBeforeFix ?? 'not known'],
        ['First sent after the fix', review.sentAfterFix ?? 'not known'],
        ['Highest receive count', review.maxReceiveCount],
      ],
    ),
  );
  if (review.sentAfterFix !== undefined && review.sentAfterFix > 0) {
    out.push(
      `⚠️ ${review.sentAfterFix} sampled message(s) were first sent after the fleet ran the fix: fixed workers dead-lettered them too. Look at them before trusting a redrive.`,
    );
  }
  if (review.rows.length > 0) {
    out.push(
      details(
        `Sampled messages (${review.rows.length})`,
        cappedTable(
          [
            'Message',
            'Event',
            'Bucket',
            'Key',
            'Size',
            'Event time',
            'Sequencer',
            'First sent',
            'Receives',
            'Note',
          ],
          review.rows.map(rowCells),
          SUMMARY_REVIEW_ROWS,
        ),
      ),
    );
  }

  out.push(heading(3, 'Redrive'));
  if (entry.dryRun) out.push('dry-run: review only, no message move task was started.');
  else if (entry.refused) out.push(`Refused: ${escapeHtml(entry.refused)}`);
  else {
    out.push(
      table(
        ['Field', 'Value'],
        [
          ['Status', entry.status],
          ['Messages moved', entry.moved],
          ['Messages to move', entry.toMove],
          ['Rate (messages/second)', entry.rate],
          ['Started', entry.startedAt ? jstAndUtc(new Date(entry.startedAt)) : undefined],
          ['Ended', entry.endedAt ? jstAndUtc(new Date(entry.endedAt)) : undefined],
          ['Failure reason', entry.failureReason],
          ['Forced past verify', entry.forced ? 'yes' : 'no'],
        ],
      ),
    );
    if (s.progress.length > 0) {
      out.push(
        details(
          `Progress (${s.progress.length} reads)`,
          cappedTable(
            ['At', 'Status', 'Moved', 'To move'],
            s.progress.map((p) => [p.at, p.status, p.moved, p.toMove]),
            60,
          ),
        ),
      );
    }
    if (entry.after) {
      out.push(
        `After the move (${cell(entry.after.at)}): source queue ${cell(entry.after.queue)}, DLQ ${cell(entry.after.dlq)}${entry.after.dlqRose ? ' — the DLQ grew during the watch' : ''}.`,
      );
    }
  }
  return out.join('\n\n');
}
