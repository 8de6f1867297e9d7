// The client notifications reach the client: with notify-topic-arn, each notification a mode
// gives as an output (before, after) is also published to that SNS topic, whichever mode wrote it.
// Sending fails loudly (a warning and an error annotation, and the summary says so) but never
// changes the verdict: a rollback that restored the fleet must not fail because an e-mail did not go.
import { publishToTopic } from './aws/sns.js';
import { Output } from './constants.js';
import type { ModeContext, ModeOutcome } from './context.js';
import { errorMessage } from './errors.js';
import { escapeHtml, heading } from './summary/markdown.js';

const KINDS = [
  { output: Output.NotificationBefore, label: 'before' },
  { output: Output.NotificationAfter, label: 'after' },
] as const;

/** SNS allows a Subject of fewer than 100 characters (API_Publish). */
const SUBJECT_MAX = 99;

/**
 * The runbook's subject line, from the notification itself: its Japanese `件名:` line, with the
 * English `Subject:` after it when both fit SNS's limit, else the Japanese alone (cut to fit).
 */
export function subjectOf(text: string): string {
  const line = (prefix: string) =>
    text
      .split('\n')
      .find((l) => l.startsWith(prefix))
      ?.slice(prefix.length)
      .trim();
  const ja = line('件名:');
  const en = line('Subject:');
  const both = ja && en ? `${ja} / ${en}` : (ja ?? en ?? 'File processing system');
  const chosen = [...both].length <= SUBJECT_MAX ? both : (ja ?? both);
  // No control characters or line breaks may reach the Subject.
  return [...chosen.replace(/[\p{Cc}]/gu, ' ')].slice(0, SUBJECT_MAX).join('');
}

export interface SentNotification {
  kind: 'before' | 'after';
  messageId?: string;
  error?: string;
}

/** Publishes the outcome's notifications and adds what happened to its summary. Never throws. */
export async function sendNotifications(ctx: ModeContext, outcome: ModeOutcome): Promise<SentNotification[]> {
  const topic = ctx.inputs.notifyTopicArn;
  if (!topic) return [];
  const sent: SentNotification[] = [];
  for (const { output, label } of KINDS) {
    const text = outcome.outputs?.[output];
    if (!text) continue;
    if (ctx.inputs.dryRun) {
      ctx.report.info(`dry-run: the ${label} notification is not sent to ${topic}`);
      continue;
    }
    try {
      const messageId = await publishToTopic(ctx.api, ctx.clients, topic, subjectOf(text), text);
      ctx.report.info(`The ${label} notification was sent to ${topic} (message id ${messageId})`);
      sent.push({ kind: label, messageId });
    } catch (e) {
      const message = `The ${label} notification was NOT sent to ${topic}: ${errorMessage(e)}. Send it by hand (it is in the summary).`;
      ctx.report.warning(message);
      (ctx.report.error ?? ctx.report.warning).call(ctx.report, message);
      sent.push({ kind: label, error: errorMessage(e) });
    }
  }
  if (sent.length > 0) outcome.summary = `${outcome.summary}\n\n${sentSection(topic, sent)}`;
  return sent;
}

function sentSection(topic: string, sent: SentNotification[]): string {
  const rows = sent.map((s) =>
    s.messageId !== undefined
      ? `| ${s.kind} | sent | ${escapeHtml(s.messageId)} |`
      : `| ${s.kind} | **not sent**: ${escapeHtml(s.error ?? '')} | |`,
  );
  return [
    heading(3, 'Client notifications sent'),
    '',
    `Topic: ${escapeHtml(topic)}`,
    '',
    '| notification | result | SNS message id |',
    '| --- | --- | --- |',
    ...rows,
  ].join('\n');
}
