// The runbook's two client notifications, before and after the deployment, in Japanese (as the
// runbook sends them) followed by English, filled in with the real times (JST and UTC) and figures
// from the deployment record, so whoever sends them copies or pipes them instead of retyping.
// Plain text: the record values that appear are numbers and times, and the whole text is escaped
// when it is shown in a job summary (notificationsSection).
import type { DeploymentRecord, MetricsSnapshot } from '../record.js';
import { escapeHtml, heading } from './markdown.js';
import {
  instanceCounts,
  isDryRun,
  latestAfter,
  num,
  outcome,
  phases,
  rollbackFacts,
  snapshot,
  timeSpan,
  type InstanceCounts,
} from '../logic/record-facts.js';
import { sampledRate } from '../logic/processing-rate.js';
import { formatDurationJa, formatDuration, formatEn, formatJa } from './time.js';

export interface NotificationOptions {
  /** When the work is expected to end, if the caller can estimate it (canary + batches + verify). */
  expectedEnd?: Date;
}

const RULE = '────────────────────────────────────────';

const CHECKPOINT_JA: Record<string, string> = {
  '10m': '作業完了10分後',
  '1h': '作業完了1時間後',
  '24h': '作業完了24時間後',
};
const CHECKPOINT_EN: Record<string, string> = {
  '10m': '10 minutes after the deployment',
  '1h': '1 hour after the deployment',
  '24h': '24 hours after the deployment',
};

function countJa(n: number | undefined): string {
  return n === undefined ? '未計測' : `${n.toLocaleString('en-US')} 件`;
}

function countEn(n: number | undefined, unit = 'files'): string {
  return n === undefined ? 'not measured' : `${n.toLocaleString('en-US')} ${unit}`;
}

function dryRunBanner(record: DeploymentRecord): string[] {
  return isDryRun(record)
    ? [
        '【DRY RUN / リハーサル】This run changed nothing. Do not send this message. / 実際の作業は行われていません。送信しないでください。',
        '',
      ]
    : [];
}

function fleetPlanJa(c: InstanceCounts): string {
  return c.fleet > 0
    ? `ファイル処理サーバー ${c.fleet} 台への修正版の適用（まず 1 台で動作を確認し、その後残りのサーバーへ順次適用）`
    : 'ファイル処理サーバーへの修正版の適用（まず 1 台で動作を確認し、その後残りのサーバーへ順次適用）';
}

function fleetPlanEn(c: InstanceCounts): string {
  const servers = c.fleet > 0 ? `all ${c.fleet} file-processing servers` : 'the file-processing servers';
  return `Applying a fix to ${servers}: first on one server, verified, then on the rest in stages.`;
}

/**
 * The notice sent before the work starts. `now` is when the message is prepared (preflight); the
 * queue figures are the preflight baseline.
 */
export function renderNotificationBefore(
  record: DeploymentRecord,
  now: Date,
  options: NotificationOptions = {},
): string {
  const before: MetricsSnapshot = snapshot(record, 'before') ?? { at: record.createdAt };
  const start = timeSpan(record).start ?? now;
  const asOf = new Date(Date.parse(before.at) || now.getTime());
  const counts = instanceCounts(record);
  const visible = num(before.visible);
  const inFlight = num(before.inFlight);
  const dlq = num(before.dlqVisible);

  const ja = [
    '件名: 【緊急メンテナンスのお知らせ】ファイル処理システムの修正適用について',
    '',
    'お客様各位',
    '',
    'いつも大変お世話になっております。',
    'ファイル処理システムにおいて、アップロードされたファイルの処理が遅延する事象を確認しております。',
    '原因を特定いたしましたので、以下の日程で修正を適用いたします。',
    '',
    '■ 作業日時',
    `  開始: ${formatJa(start)}`,
    ...(options.expectedEnd ? [`  終了予定: ${formatJa(options.expectedEnd)}`] : []),
    '■ 作業内容',
    `  ${fleetPlanJa(counts)}`,
    `■ 現在の状況（${formatJa(asOf)} 時点）`,
    `  処理待ちのファイル: ${countJa(visible)}`,
    `  処理中のファイル: ${countJa(inFlight)}`,
    `  処理できず保留中のファイル: ${countJa(dlq)}`,
    '■ お客様への影響',
    '  作業中もサービスは停止いたしません。処理待ちのファイルは修正の適用後、順次処理されます。',
    '  作業完了まで、ファイルの処理に遅延が続く場合がございます。',
    '',
    '作業完了後、結果を改めてご報告いたします。',
    'ご迷惑をおかけしておりますことを深くお詫び申し上げます。',
  ];
  const en = [
    'Subject: [Emergency maintenance] Applying a fix to the file processing system',
    '',
    'Dear customer,',
    '',
    'We have found that files uploaded to the file processing system are being processed with delays.',
    'We have identified the cause and will apply a fix as follows.',
    '',
    '- Schedule',
    `  Start: ${formatEn(start)}`,
    ...(options.expectedEnd ? [`  Expected end: ${formatEn(options.expectedEnd)}`] : []),
    '- Work',
    `  ${fleetPlanEn(counts)}`,
    `- Current status (as of ${formatEn(asOf)})`,
    `  Files waiting to be processed: ${countEn(visible)}`,
    `  Files being processed: ${countEn(inFlight)}`,
    `  Files held after failed processing: ${countEn(dlq)}`,
    '- Impact',
    '  The service stays available during the work. Waiting files are processed once the fix is applied;',
    '  delays may continue until the work is complete.',
    '',
    'We will report the result when the work is complete.',
    'We sincerely apologise for the inconvenience.',
  ];
  return [...dryRunBanner(record), ...ja, '', RULE, '', ...en].join('\n');
}

/**
 * The DLQ figures a completed deployment must state: how much it grew from the baseline to the
 * latest checkpoint, and what the redrive (when one ran) did with it. undefined: it did not grow.
 */
export interface DlqGrowth {
  before: number;
  after: number;
  /** Messages the redrive moved back, when a move task completed. */
  redriven?: number;
}

export function dlqGrowth(record: DeploymentRecord): DlqGrowth | undefined {
  const before = num(snapshot(record, 'before')?.dlqVisible);
  const after = num(latestAfter(record)?.metrics.dlqVisible);
  if (before === undefined || after === undefined || after <= before) return undefined;
  const r = record.redrive;
  const redriven = r && r.status === 'COMPLETED' ? num(r.moved) : undefined;
  return { before, after, redriven };
}

/** Which step found the problem, in the client's words. */
function failedStepJa(phase: string | undefined): string {
  if (phase === 'canary') return '最初の 1 台での動作確認';
  if (phase === 'rollout') return '残りのサーバーへの適用';
  if (phase === 'verify') return '適用後の処理状況の確認';
  return '修正版の適用後の確認';
}
function failedStepEn(phase: string | undefined): string {
  if (phase === 'canary') return 'the check on the first server';
  if (phase === 'rollout') return 'applying the fix to the remaining servers';
  if (phase === 'verify') return 'the check of processing after the fix';
  return 'the checks after the fix';
}
const FAILED_VERDICTS = new Set(['fail', 'no-go']);
function failedPhase(record: DeploymentRecord): string | undefined {
  return [...phases(record)]
    .reverse()
    .find((p) => p.mode !== 'rollback' && p.verdict !== undefined && FAILED_VERDICTS.has(p.verdict))?.mode;
}

function resultJa(record: DeploymentRecord, counts: InstanceCounts): string[] {
  const rb = rollbackFacts(record);
  const grew = dlqGrowth(record);
  switch (outcome(record)) {
    case 'completed':
      if (grew) {
        return [
          `  修正版をファイル処理サーバー ${counts.installed} 台に適用し、新しいファイルが処理されていることを確認いたしました。`,
          `  ただし、処理できず保留中のファイルが ${grew.before.toLocaleString('en-US')} 件から ${grew.after.toLocaleString('en-US')} 件に増えています。`,
          grew.redriven !== undefined
            ? `  これらのファイル ${grew.redriven.toLocaleString('en-US')} 件は、内容を確認のうえ再処理に回しました。`
            : '  これらのファイルは内容を確認のうえ、再処理いたします（完了後にご報告いたします）。',
        ];
      }
      return [
        `  修正版をファイル処理サーバー ${counts.installed} 台に適用し、正常に稼働していることを確認いたしました。`,
      ];
    case 'rolled-back':
      return [
        `  ${failedStepJa(failedPhase(record))}で問題が見つかったため、作業を中止し、サーバーを作業前の状態に戻しました。`,
        `  作業前の状態に戻したサーバー: ${rb.restored} 台${rb.failed > 0 ? `（戻せなかったサーバー: ${rb.failed} 台、対応中です）` : ''}`,
      ];
    case 'failed':
      return [
        '  修正版の適用後の確認で問題が見つかったため、作業を中止し、作業前の状態に戻す対応を行っております。',
      ];
    default:
      return ['  作業は継続中です。完了後に改めてご報告いたします。'];
  }
}

function resultEn(record: DeploymentRecord, counts: InstanceCounts): string[] {
  const rb = rollbackFacts(record);
  const grew = dlqGrowth(record);
  switch (outcome(record)) {
    case 'completed':
      if (grew) {
        // Not "working normally": files kept failing into the DLQ during the deployment.
        return [
          `  The fix is running on ${counts.installed} file-processing servers, and new files are being processed.`,
          `  However, the files held after failed processing grew from ${grew.before.toLocaleString('en-US')} to ${grew.after.toLocaleString('en-US')}.`,
          grew.redriven !== undefined
            ? `  We reviewed them and sent ${grew.redriven.toLocaleString('en-US')} back for processing.`
            : '  We will review them and send them back for processing, and report when that is done.',
        ];
      }
      return [
        `  The fix is running on ${counts.installed} file-processing servers, and they are working normally.`,
      ];
    case 'rolled-back':
      return [
        `  A problem was found in ${failedStepEn(failedPhase(record))}, so we stopped and returned the servers to their previous state.`,
        `  Servers returned to their previous state: ${rb.restored}${rb.failed > 0 ? ` (${rb.failed} could not be yet; we are working on them)` : ''}`,
      ];
    case 'failed':
      return [
        '  A problem was found while checking the fix; we have stopped and are returning the servers to their previous state.',
      ];
    default:
      return ['  The work is still in progress. We will report again when it is complete.'];
  }
}

/**
 * The report sent after the work. `now` is when the message is prepared (after verify, or at the
 * end of the run); the figures are the baseline against the latest measured checkpoint.
 */
export function renderNotificationAfter(record: DeploymentRecord, now: Date): string {
  const { start, end } = timeSpan(record);
  const finished = end ?? now;
  const counts = instanceCounts(record);
  const before = snapshot(record, 'before');
  const after = latestAfter(record);
  const rb = rollbackFacts(record);
  const done = outcome(record);
  const subjectJa =
    done === 'completed'
      ? '件名: 【完了のご報告】ファイル処理システムの修正適用について'
      : '件名: 【作業状況のご報告】ファイル処理システムの修正適用について';
  const subjectEn =
    done === 'completed'
      ? 'Subject: [Completed] Fix applied to the file processing system'
      : 'Subject: [Status report] Fix for the file processing system';
  // CloudWatch's rate, else the deletions verify's samples show (a lower bound).
  const rate =
    num(after?.metrics.filesPerHour) ??
    (after && after.checkpoint !== 'before' ? sampledRate(record, after.checkpoint) : undefined);
  const afterLabelJa = after ? CHECKPOINT_JA[after.checkpoint] : '未計測';
  const afterLabelEn = after ? CHECKPOINT_EN[after.checkpoint] : 'not yet measured';
  const arrowJa = (a: number | undefined, b: number | undefined) => `${countJa(a)} → ${countJa(b)}`;
  const arrowEn = (a: number | undefined, b: number | undefined) => `${countEn(a)} → ${countEn(b)}`;

  const ja = [
    subjectJa,
    '',
    'お客様各位',
    '',
    'いつも大変お世話になっております。',
    'ファイル処理システムの修正適用作業について、ご報告いたします。',
    '',
    '■ 作業日時',
    ...(start ? [`  開始: ${formatJa(start)}`] : []),
    `  終了: ${formatJa(finished)}`,
    ...(start ? [`  所要時間: ${formatDurationJa(finished.getTime() - start.getTime())}`] : []),
    '■ 結果',
    ...resultJa(record, counts),
    `■ 処理状況（作業前 → ${afterLabelJa}）`,
    `  処理待ちのファイル: ${arrowJa(num(before?.visible), num(after?.metrics.visible))}`,
    `  処理できず保留中のファイル: ${arrowJa(num(before?.dlqVisible), num(after?.metrics.dlqVisible))}`,
    ...(rate !== undefined ? [`  処理速度: 1時間あたり ${countJa(Math.round(rate))}`] : []),
    `■ 切り戻し（ロールバック）: ${rb.required ? 'あり' : 'なし'}`,
    '',
    done === 'completed'
      ? '今後 1 時間後、24 時間後にも処理状況を確認し、問題がないことを確認いたします。'
      : '引き続き対応し、状況を改めてご報告いたします。',
    'このたびはご迷惑をおかけし、誠に申し訳ございませんでした。',
  ];
  const en = [
    subjectEn,
    '',
    'Dear customer,',
    '',
    'This is our report on the fix for the file processing system.',
    '',
    '- Time',
    ...(start ? [`  Start: ${formatEn(start)}`] : []),
    `  End: ${formatEn(finished)}`,
    ...(start ? [`  Duration: ${formatDuration(finished.getTime() - start.getTime())}`] : []),
    '- Result',
    ...resultEn(record, counts),
    `- Processing (before → ${afterLabelEn})`,
    `  Files waiting to be processed: ${arrowEn(num(before?.visible), num(after?.metrics.visible))}`,
    `  Files held after failed processing: ${arrowEn(num(before?.dlqVisible), num(after?.metrics.dlqVisible))}`,
    ...(rate !== undefined ? [`  Processing rate: ${countEn(Math.round(rate))} per hour`] : []),
    `- Rollback: ${rb.required ? 'yes' : 'no'}`,
    '',
    done === 'completed'
      ? 'We will check processing again 1 hour and 24 hours after the deployment.'
      : 'We continue to work on this and will report again.',
    'We sincerely apologise for the inconvenience.',
  ];
  return [...dryRunBanner(record), ...ja, '', RULE, '', ...en].join('\n');
}

/** Text inside <pre>: escaped line by line (no tag, entity or Markdown survives), newlines kept. */
export function preformatted(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
  return `<pre>${clean.split(/\r?\n/).map(escapeHtml).join('\n')}</pre>`;
}

/** The job-summary section that shows the notifications ready to copy. */
export function notificationsSection(texts: { before?: string; after?: string }): string {
  const out = [heading(3, 'Client notifications (Japanese, then English)')];
  if (texts.before) out.push('**Before the work**', preformatted(texts.before));
  if (texts.after) out.push('**After the work**', preformatted(texts.after));
  if (!texts.before && !texts.after) out.push('No notification in this step.');
  return out.join('\n\n');
}
