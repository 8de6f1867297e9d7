// Sending the client notifications (src/notify.ts). Publish's reference
// (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html): the response carries MessageId;
// Subject is UTF-8 without line breaks or control characters and under 100 characters;
// NotFound (404) for a topic that does not exist, AuthorizationError (403) without sns:Publish.
import { PublishCommand } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { sendNotifications, subjectOf } from '../../src/notify.js';
import type { ModeOutcome } from '../../src/context.js';
import { awsError, runbookRecord, testContext, type RawInputs } from '../support/context.js';

const TOPIC = 'arn:aws:sns:ap-northeast-1:123456789012:file-processing-client-notifications';
const BEFORE =
  '件名: 【緊急メンテナンスのお知らせ】ファイル処理システムの修正適用について\n\nお客様各位\n\n────\n\nSubject: [Emergency maintenance] Applying a fix to the file processing system\n\nDear customer,';
const AFTER =
  '件名: 【完了のご報告】ファイル処理システムの修正適用について\n\n────\n\nSubject: [Completed] Fix applied to the file processing system';

function setup(raw: RawInputs = {}) {
  const t = testContext({ mode: 'rollback', 'notify-topic-arn': TOPIC, ...raw });
  const sns = mockClient(t.ctx.clients.sns);
  return { ...t, sns };
}
const outcome = (outputs: ModeOutcome['outputs']): ModeOutcome => ({
  verdict: 'pass',
  record: runbookRecord('dep-1'),
  summary: '## Rollback',
  outputs,
});

describe('subjectOf', () => {
  it('is the runbook’s Japanese subject, then the English one, when both fit under 100 characters', () => {
    expect(subjectOf(AFTER)).toBe(
      '【完了のご報告】ファイル処理システムの修正適用について / [Completed] Fix applied to the file processing system',
    );
    // The before notification's two subjects come to 104 characters together: Japanese alone.
    expect(subjectOf(BEFORE)).toBe('【緊急メンテナンスのお知らせ】ファイル処理システムの修正適用について');
  });

  it('keeps the Japanese subject alone when both do not fit, and never a control character', () => {
    const long = `件名: 【報告】\tA${'あ'.repeat(120)}\n\nSubject: [Report] ${'x'.repeat(80)}`;
    const s = subjectOf(long);
    expect([...s].length).toBe(99);
    expect(s).toMatch(/^【報告】 A/);
    expect(s).not.toMatch(/[\p{Cc}]/u);
  });
});

describe('sendNotifications', () => {
  it('publishes each notification the mode gave, to the topic, and records the message ids', async () => {
    const { ctx, sns } = setup();
    sns.on(PublishCommand).resolvesOnce({ MessageId: 'm-before' }).resolvesOnce({ MessageId: 'm-after' });
    const out = outcome({ 'notification-before': BEFORE, 'notification-after': AFTER });
    const sent = await sendNotifications(ctx, out);
    expect(sent).toEqual([
      { kind: 'before', messageId: 'm-before' },
      { kind: 'after', messageId: 'm-after' },
    ]);
    const calls = sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
    expect(calls).toEqual([
      { TopicArn: TOPIC, Subject: subjectOf(BEFORE), Message: BEFORE },
      { TopicArn: TOPIC, Subject: subjectOf(AFTER), Message: AFTER },
    ]);
    expect(out.summary).toContain('| before | sent | m-before |');
    expect(out.summary).toContain('| after | sent | m-after |');
  });

  it('fails loudly (warning and error annotation) but leaves a rollback’s verdict alone', async () => {
    const { ctx, sns, report } = setup();
    sns
      .on(PublishCommand)
      .rejects(awsError('AuthorizationError', 403, 'not authorized to perform sns:Publish'));
    const out = outcome({ 'notification-after': AFTER });
    const sent = await sendNotifications(ctx, out);
    expect(sent).toEqual([{ kind: 'after', error: expect.stringContaining('sns:Publish') }]);
    expect(out.verdict).toBe('pass');
    expect(out.failure).toBeUndefined();
    expect(report.warnings.join()).toContain('The after notification was NOT sent');
    expect(report.errors.join()).toContain('The after notification was NOT sent');
    expect(out.summary).toContain('| after | **not sent**:');
  });

  it('sends nothing without a topic, in a dry run, or when the mode wrote no notification', async () => {
    for (const [raw, outputs] of [
      [{ 'notify-topic-arn': '' }, { 'notification-before': BEFORE }],
      [{ 'dry-run': 'true' }, { 'notification-before': BEFORE }],
      [{}, { 'queue-depth': '3' }],
    ] as const) {
      const { ctx, sns } = setup(raw);
      const out = outcome(outputs);
      await sendNotifications(ctx, out);
      expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
      expect(out.summary).toBe('## Rollback');
    }
  });
});

describe('notify-topic-arn', () => {
  it('is a standard topic’s ARN in the deployment’s region, or a clear error naming the input', () => {
    expect(setup().ctx.inputs.notifyTopicArn).toBe(TOPIC);
    expect(() => setup({ 'notify-topic-arn': 'file-processing-client-notifications' })).toThrow(
      /notify-topic-arn.*must be an SNS topic ARN/,
    );
    expect(() => setup({ 'notify-topic-arn': `${TOPIC}.fifo` })).toThrow(/notify-topic-arn.*FIFO/);
    expect(() => setup({ 'notify-topic-arn': TOPIC.replace('ap-northeast-1', 'us-east-1') })).toThrow(
      /notify-topic-arn.*is in us-east-1, but the deployment's region is ap-northeast-1/,
    );
  });
});
