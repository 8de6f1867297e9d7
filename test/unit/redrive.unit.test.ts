// The DLQ review and redrive. Mocks are shaped as the SQS API reference says:
// - ReceiveMessage: Messages[] of { MessageId, ReceiptHandle, Body, Attributes{ApproximateReceiveCount,
//   SentTimestamp (epoch ms, as a string)} } (API_ReceiveMessage, API_Message).
// - StartMessageMoveTask: { TaskHandle } (API_StartMessageMoveTask).
// - ListMessageMoveTasks: { Results: [ListMessageMoveTasksResultEntry] }, newest first, up to 10;
//   Status RUNNING | COMPLETED | CANCELLING | CANCELLED | FAILED; TaskHandle only while RUNNING;
//   ApproximateNumberOfMessagesMoved / ToMove, MaxNumberOfMessagesPerSecond, StartedTimestamp (epoch
//   ms), FailureReason only when FAILED (API_ListMessageMoveTasks, API_ListMessageMoveTasksResultEntry).
// - CancelMessageMoveTask: { ApproximateNumberOfMessagesMoved }; only a RUNNING task can be cancelled
//   (API_CancelMessageMoveTask).
// - S3 bodies: the event message structure (notification-content-structure) and s3:TestEvent.
import {
  CancelMessageMoveTaskCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  StartMessageMoveTaskCommand,
  type GetQueueAttributesCommandInput,
  type ListMessageMoveTasksResultEntry,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import {
  allowPolicyProblem,
  fixTime,
  parseBody,
  readRedriveEntry,
  redriveRefusal,
  reviewMessages,
} from '../../src/logic/redrive.js';
import { redrive, REVIEW_VISIBILITY_SECONDS } from '../../src/modes/redrive.js';
import type { DeploymentRecord } from '../../src/record.js';
import { runbookRecord, testContext, type RawInputs } from '../support/context.js';

const DEP = 'dep-20261128t230000z-4242-1';
const QUEUE = 'file-processing-queue-production';
const QUEUE_URL = `https://sqs.ap-northeast-1.amazonaws.com/123456789012/${QUEUE}`;
const QUEUE_ARN = `arn:aws:sqs:ap-northeast-1:123456789012:${QUEUE}`;
const DLQ = 'cis-worker-failures';
const DLQ_URL = `https://sqs.ap-northeast-1.amazonaws.com/123456789012/${DLQ}`;
const DLQ_ARN = `arn:aws:sqs:ap-northeast-1:123456789012:${DLQ}`;
const FIX_AT = Date.parse('2026-11-28T23:40:00Z');

function s3Body(key: string, sequencer: string, size = 1024): string {
  return JSON.stringify({
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'ap-northeast-1',
        eventTime: '2026-11-28T22:00:00.000Z',
        eventName: 'ObjectCreated:Put',
        s3: {
          s3SchemaVersion: '1.0',
          bucket: {
            name: 'cis-filesearch-storage-production',
            arn: 'arn:aws:s3:::cis-filesearch-storage-production',
          },
          object: { key, size, eTag: 'abc', sequencer },
        },
      },
    ],
  });
}
const TEST_EVENT = JSON.stringify({
  Service: 'Amazon S3',
  Event: 's3:TestEvent',
  Time: '2026-11-28T21:00:00.000Z',
  Bucket: 'cis-filesearch-storage-production',
  RequestId: 'R1',
  HostId: 'H1',
});

function verifiedRecord(opts: { verify?: 'pass' | 'fail'; rollback?: boolean } = {}): DeploymentRecord {
  const r = runbookRecord(DEP, new Date('2026-11-28T23:00:00Z'));
  r.queue = {
    url: QUEUE_URL,
    name: QUEUE,
    arn: QUEUE_ARN,
    visibilityTimeout: 900,
    dlqUrl: DLQ_URL,
    dlqName: DLQ,
    dlqArn: DLQ_ARN,
    maxReceiveCount: 3,
  };
  r.phases = [
    {
      mode: 'preflight',
      startedAt: '2026-11-28T23:00:00.000Z',
      endedAt: '2026-11-28T23:01:00.000Z',
      verdict: 'pass',
    },
    {
      mode: 'canary',
      startedAt: '2026-11-28T23:05:00.000Z',
      endedAt: '2026-11-28T23:15:00.000Z',
      verdict: 'go',
    },
    {
      mode: 'rollout',
      startedAt: '2026-11-28T23:20:00.000Z',
      endedAt: new Date(FIX_AT).toISOString(),
      verdict: 'pass',
    },
    {
      mode: 'verify',
      startedAt: '2026-11-28T23:45:00.000Z',
      endedAt: '2026-11-28T23:55:00.000Z',
      verdict: opts.verify ?? 'pass',
    },
  ];
  if (opts.rollback) {
    r.phases.push({
      mode: 'rollback',
      startedAt: '2026-11-28T23:56:00.000Z',
      endedAt: '2026-11-28T23:58:00.000Z',
      verdict: 'pass',
    });
  }
  return r;
}

interface World {
  /** DLQ messages: body and first-sent time. */
  dlq: { id: string; body: string; sentAt: number }[];
  /** DLQ visible count read after the task (the watch), one per read; the last holds. */
  dlqAfter?: number[];
  /** ListMessageMoveTasks answers, one per call; the last holds. */
  lists?: ListMessageMoveTasksResultEntry[][];
  redriveAllowPolicy?: string;
  /** The source queue's redrive policy target (default: the DLQ). */
  deadLetterTarget?: string;
}

function setup(world: World, raw: RawInputs = {}, record: DeploymentRecord | null = verifiedRecord()) {
  const t = testContext({
    mode: 'redrive',
    'queue-name': QUEUE,
    'poll-seconds': '10',
    'sample-seconds': '30',
    'verify-minutes': '2',
    ...(record ? { record: JSON.stringify(record) } : {}),
    ...raw,
  });
  const sqs = mockClient(t.ctx.clients.sqs);
  let moved = false;
  let afterReads = 0;
  sqs.on(GetQueueUrlCommand).callsFake((input: { QueueName: string }) => ({
    QueueUrl:
      input.QueueName === QUEUE
        ? QUEUE_URL
        : `https://sqs.ap-northeast-1.amazonaws.com/123456789012/${input.QueueName}`,
  }));
  sqs.on(GetQueueAttributesCommand).callsFake((input: GetQueueAttributesCommandInput) => {
    // The gateway asks for All (moto refuses RedriveAllowPolicy by name); AWS answers with every attribute, this mock with the one the test is about.
    if (input.AttributeNames?.includes('All')) {
      return { Attributes: world.redriveAllowPolicy ? { RedriveAllowPolicy: world.redriveAllowPolicy } : {} };
    }
    if (input.QueueUrl === QUEUE_URL) {
      return {
        Attributes: {
          QueueArn: QUEUE_ARN,
          ApproximateNumberOfMessages: '3',
          ApproximateNumberOfMessagesNotVisible: '0',
          ApproximateNumberOfMessagesDelayed: '0',
          VisibilityTimeout: '900',
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: world.deadLetterTarget ?? DLQ_ARN,
            maxReceiveCount: 3,
          }),
        },
      };
    }
    const name = input.QueueUrl!.slice(input.QueueUrl!.lastIndexOf('/') + 1);
    let visible = world.dlq.length;
    if (moved && name === DLQ) {
      const after = world.dlqAfter ?? [0];
      visible = after[Math.min(afterReads++, after.length - 1)];
    }
    return {
      Attributes: {
        QueueArn: `arn:aws:sqs:ap-northeast-1:123456789012:${name}`,
        ApproximateNumberOfMessages: String(visible),
        ApproximateNumberOfMessagesNotVisible: '0',
        ApproximateNumberOfMessagesDelayed: '0',
        VisibilityTimeout: '30',
      },
    };
  });
  // ReceiveMessage hands out the DLQ's messages 10 at a time, each once (they stay invisible for
  // the review's visibility timeout), then answers empty.
  let cursor = 0;
  sqs.on(ReceiveMessageCommand).callsFake((input: { MaxNumberOfMessages?: number }) => {
    const batch = world.dlq.slice(cursor, cursor + (input.MaxNumberOfMessages ?? 1));
    cursor += batch.length;
    return {
      Messages: batch.map((m) => ({
        MessageId: m.id,
        ReceiptHandle: `rh-${m.id}`,
        Body: m.body,
        Attributes: { ApproximateReceiveCount: '4', SentTimestamp: String(m.sentAt) },
      })),
    };
  });
  sqs.on(StartMessageMoveTaskCommand).callsFake(() => {
    moved = true;
    return { TaskHandle: 'eyJ0YXNrSWQiOiJ0YXNrLTEifQ==' };
  });
  let listCall = 0;
  sqs.on(ListMessageMoveTasksCommand).callsFake(() => {
    const lists = world.lists ?? [[]];
    const results = lists[Math.min(listCall++, lists.length - 1)];
    if (results.some((r) => r.Status === 'COMPLETED')) moved = true;
    return { Results: results };
  });
  sqs.on(CancelMessageMoveTaskCommand).resolves({ ApproximateNumberOfMessagesMoved: 7 });
  return { ...t, sqs };
}

const running = (
  moved: number,
  extra: Partial<ListMessageMoveTasksResultEntry> = {},
): ListMessageMoveTasksResultEntry => ({
  TaskHandle: 'eyJ0YXNrSWQiOiJ0YXNrLTEifQ==',
  Status: 'RUNNING',
  SourceArn: DLQ_ARN,
  DestinationArn: QUEUE_ARN,
  MaxNumberOfMessagesPerSecond: 50,
  ApproximateNumberOfMessagesMoved: moved,
  ApproximateNumberOfMessagesToMove: 3,
  StartedTimestamp: Date.parse('2026-11-29T00:00:30Z'),
  ...extra,
});
// Once it ends, the entry has no TaskHandle (it is only returned while RUNNING).
const ended = (Status: string, moved: number, extra: Partial<ListMessageMoveTasksResultEntry> = {}) => {
  const { TaskHandle: _handle, ...rest } = running(moved);
  void _handle;
  return { ...rest, Status, ...extra };
};

const MESSAGES = [
  { id: 'm1', body: s3Body('uploads/a.pdf', '0055AED6DCD90281E5'), sentAt: FIX_AT - 3600_000 },
  { id: 'm2', body: s3Body('uploads/a.pdf', '0055AED6DCD90281E5'), sentAt: FIX_AT - 3000_000 },
  { id: 'm3', body: TEST_EVENT, sentAt: FIX_AT + 60_000 },
];

describe('parsing what the DLQ holds', () => {
  it('reads S3 object events: bucket, key (URL-decoded), size, event time, sequencer', () => {
    const parsed = parseBody(s3Body('reports/Q3+report%282%29.pdf', '00A1', 77));
    expect(parsed).toEqual({
      kind: 's3',
      events: [
        {
          bucket: 'cis-filesearch-storage-production',
          key: 'reports/Q3 report(2).pdf',
          size: 77,
          eventName: 'ObjectCreated:Put',
          eventTime: '2026-11-28T22:00:00.000Z',
          sequencer: '00A1',
        },
      ],
    });
  });

  it('reads an S3 event wrapped in an SNS notification (a topic the queue subscribes to)', () => {
    const sns = JSON.stringify({ Type: 'Notification', MessageId: 'x', Message: s3Body('k', '01') });
    expect(parseBody(sns)).toMatchObject({ kind: 's3', events: [{ key: 'k', sequencer: '01' }] });
  });

  it('tells s3:TestEvent, non-JSON and non-S3 records apart', () => {
    expect(parseBody(TEST_EVENT)).toEqual({ kind: 'test', bucket: 'cis-filesearch-storage-production' });
    expect(parseBody('hello')).toEqual({ kind: 'other', why: 'not JSON' });
    expect(parseBody('[1]')).toEqual({ kind: 'other', why: 'JSON that is not an object' });
    expect(parseBody('{"Records":[]}')).toEqual({ kind: 'other', why: 'an empty Records list' });
    expect(parseBody('{"Records":[{"eventSource":"aws:dynamodb"}]}')).toEqual({
      kind: 'other',
      why: 'Records that are not S3 events',
    });
    expect(parseBody('{"foo":1}')).toEqual({ kind: 'other', why: 'no Records list' });
  });

  it('counts duplicates of the same object event (key and sequencer), sent before and after the fix', () => {
    const review = reviewMessages(
      [
        ...MESSAGES,
        // Same key, a later sequencer: a new upload, not a duplicate.
        { messageId: 'm4', body: s3Body('uploads/a.pdf', '0055AED6DCD90281F0'), sentAt: FIX_AT + 1 },
        { messageId: 'm5', body: 'not json', sentAt: FIX_AT + 2, receiveCount: 9 },
      ].map((m) => ('id' in m ? { messageId: m.id, body: m.body, sentAt: m.sentAt, receiveCount: 4 } : m)),
      FIX_AT,
    );
    expect(review).toMatchObject({
      sampled: 5,
      s3Events: 3,
      duplicates: 1,
      testEvents: 1,
      notS3: 1,
      oldestSentAt: FIX_AT - 3600_000,
      newestSentAt: FIX_AT + 60_000,
      sentBeforeFix: 2,
      sentAfterFix: 3,
      maxReceiveCount: 9,
    });
    expect(review.rows.filter((r) => r.duplicate).map((r) => r.messageId)).toEqual(['m2']);
  });

  it('says when the record does not tell when the fleet ran the fix', () => {
    const review = reviewMessages([{ messageId: 'a', body: TEST_EVENT, sentAt: 1 }], undefined);
    expect(review.sentBeforeFix).toBeUndefined();
    expect(review.sentAfterFix).toBeUndefined();
    expect(fixTime(verifiedRecord())).toBe(FIX_AT);
  });
});

describe('the redrive preconditions', () => {
  it('refuses without a record, before verify passed, and after a rollback', () => {
    expect(redriveRefusal(undefined)).toMatch(/no record/);
    expect(redriveRefusal(verifiedRecord({ verify: 'fail' }))).toMatch(
      /verify of dep-.* did not pass \(fail\)/,
    );
    expect(redriveRefusal(verifiedRecord({ rollback: true }))).toMatch(/rolled back/);
    const noVerify = verifiedRecord();
    noVerify.phases = noVerify.phases.filter((p) => p.mode !== 'verify');
    expect(redriveRefusal(noVerify)).toMatch(/no verify phase/);
    expect(redriveRefusal(verifiedRecord())).toBeUndefined();
    // A dry-run deployment whose verify passed installed nothing.
    const dry = verifiedRecord();
    for (const p of dry.phases) p.dryRun = true;
    expect(redriveRefusal(dry)).toMatch(/no fix installed \(only dry runs\)/);
  });

  it('reads the RedriveAllowPolicy: absent or allowAll allow, denyAll and byQueue without the queue refuse', () => {
    expect(allowPolicyProblem(undefined, QUEUE_ARN)).toBeUndefined();
    expect(allowPolicyProblem('{"redrivePermission":"allowAll"}', QUEUE_ARN)).toBeUndefined();
    expect(allowPolicyProblem('{"redrivePermission":"denyAll"}', QUEUE_ARN)).toMatch(/denyAll/);
    expect(
      allowPolicyProblem(
        JSON.stringify({ redrivePermission: 'byQueue', sourceQueueArns: [QUEUE_ARN] }),
        QUEUE_ARN,
      ),
    ).toBeUndefined();
    expect(
      allowPolicyProblem(
        JSON.stringify({ redrivePermission: 'byQueue', sourceQueueArns: ['arn:aws:sqs:x:1:other'] }),
        QUEUE_ARN,
      ),
    ).toMatch(/does not list/);
    expect(allowPolicyProblem('nope', QUEUE_ARN)).toMatch(/not JSON/);
  });
});

describe('mode redrive', () => {
  it('dry-run reviews without deleting: short visibility, both attributes, no move task, counts in the record', async () => {
    const { ctx, sqs } = setup({ dlq: MESSAGES }, { 'dry-run': 'true' });
    const out = await redrive(ctx);
    expect(out.verdict).toBe('pass');
    expect(sqs).toHaveReceivedCommandWith(ReceiveMessageCommand, {
      QueueUrl: DLQ_URL,
      VisibilityTimeout: REVIEW_VISIBILITY_SECONDS,
      MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
    });
    expect(sqs).not.toHaveReceivedCommand(StartMessageMoveTaskCommand);
    expect(sqs).not.toHaveReceivedCommand(DeleteMessageCommand);
    expect(sqs).not.toHaveReceivedCommand(PurgeQueueCommand);
    const entry = readRedriveEntry(out.record);
    expect(entry).toMatchObject({
      sampled: 3,
      dlqDepth: 3,
      s3Events: 2,
      duplicates: 1,
      testEvents: 1,
      notS3: 0,
      sentBeforeFix: 2,
      sentAfterFix: 1,
      dryRun: true,
      verdict: 'pass',
    });
    expect(out.summary).toContain('Duplicates of the same object event');
    expect(out.summary).toContain('<details><summary>Sampled messages (3)</summary>');
  });

  it('reads no more than redrive-sample messages', async () => {
    const many = Array.from({ length: 45 }, (_, i) => ({
      id: `m${i}`,
      body: s3Body(`k${i}`, `0${i}`),
      sentAt: FIX_AT,
    }));
    const { ctx, sqs } = setup({ dlq: many }, { 'dry-run': 'true', 'redrive-sample': '25' });
    const out = await redrive(ctx);
    expect(out.record.redrive?.sampled).toBe(25);
    expect(sqs.commandCalls(ReceiveMessageCommand).map((c) => c.args[0].input.MaxNumberOfMessages)).toEqual([
      10, 10, 5,
    ]);
  });

  it('escapes what the messages carry in the summary', async () => {
    const evil = [{ id: 'x', body: s3Body('<img src=x onerror=alert(1)>|`', '01'), sentAt: FIX_AT }];
    const { ctx } = setup({ dlq: evil }, { 'dry-run': 'true' });
    const out = await redrive(ctx);
    expect(out.summary).not.toContain('<img');
    expect(out.summary).toContain('&lt;img src=x onerror=alert(1)&gt;&#124;&#96;');
  });

  it('refuses to redrive when verify has not passed, naming redrive-force; reviews anyway', async () => {
    const { ctx, sqs } = setup({ dlq: MESSAGES }, {}, verifiedRecord({ verify: 'fail' }));
    const out = await redrive(ctx);
    expect(out.verdict).toBe('fail');
    expect(out.failure).toMatch(/did not pass.*redrive-force: true/);
    expect(out.record.redrive).toMatchObject({ sampled: 3, status: 'NOT-STARTED' });
    expect(sqs).not.toHaveReceivedCommand(StartMessageMoveTaskCommand);
    expect(sqs).not.toHaveReceivedCommand(ListMessageMoveTasksCommand);
  });

  it('redrives with redrive-force although verify failed, and says so', async () => {
    const { ctx, sqs, report } = setup(
      { dlq: MESSAGES, lists: [[], [ended('COMPLETED', 3)]] },
      { 'redrive-force': 'true' },
      verifiedRecord({ verify: 'fail' }),
    );
    const out = await redrive(ctx);
    expect(sqs).toHaveReceivedCommandTimes(StartMessageMoveTaskCommand, 1);
    expect(out.record.redrive?.forced).toBe(true);
    expect(report.warnings.some((w) => /redrive forced/.test(w))).toBe(true);
  });

  it('moves the DLQ back to its source queue at redrive-rate, follows it to COMPLETED, watches the DLQ', async () => {
    const { ctx, sqs, runtime } = setup(
      {
        dlq: MESSAGES,
        lists: [[], [running(1)], [running(2)], [ended('COMPLETED', 3)]],
        dlqAfter: [0, 0, 0],
      },
      { 'redrive-rate': '20' },
    );
    const out = await redrive(ctx);
    expect(out.verdict).toBe('pass');
    expect(sqs).toHaveReceivedCommandWith(StartMessageMoveTaskCommand, {
      SourceArn: DLQ_ARN,
      DestinationArn: QUEUE_ARN,
      MaxNumberOfMessagesPerSecond: 20,
    });
    // The task starts only once the reviewed messages are visible again (the fake clock only moves
    // when slept on, so the first wait is the whole visibility timeout).
    expect(runtime.clock.sleeps[0]).toBe(REVIEW_VISIBILITY_SECONDS * 1000);
    expect(out.record.redrive).toMatchObject({ status: 'COMPLETED', moved: 3, toMove: 3, verdict: 'pass' });
    expect(out.record.redrive?.after).toMatchObject({ dlq: 0, dlqRose: false });
    // redrive ran last: it writes the after notification.
    expect(out.outputs?.['notification-after']).toContain('Dear customer');
    expect(out.summary).toContain('**After the work**');
    expect(out.summary).toContain('Progress (3 reads)');
    expect(sqs).not.toHaveReceivedCommand(DeleteMessageCommand);
  });

  it('follows a task that is already RUNNING instead of starting another', async () => {
    const { ctx, sqs } = setup({
      dlq: MESSAGES,
      lists: [[running(1)], [running(2)], [ended('COMPLETED', 3)]],
    });
    const out = await redrive(ctx);
    expect(out.verdict).toBe('pass');
    expect(sqs).not.toHaveReceivedCommand(StartMessageMoveTaskCommand);
    expect(out.summary).toMatch(/already RUNNING/);
  });

  it('fails on a FAILED task with its FailureReason', async () => {
    const { ctx } = setup({
      dlq: MESSAGES,
      lists: [
        [],
        [running(1)],
        [ended('FAILED', 1, { FailureReason: 'AWS.SimpleQueueService.NonExistentQueue' })],
      ],
    });
    const out = await redrive(ctx);
    expect(out.verdict).toBe('fail');
    expect(out.failure).toMatch(/move task failed: AWS.SimpleQueueService.NonExistentQueue/);
    expect(out.record.redrive?.status).toBe('FAILED');
  });

  it('fails on a task CANCELLED by someone else', async () => {
    const { ctx } = setup({ dlq: MESSAGES, lists: [[], [ended('CANCELLED', 1)]] });
    const out = await redrive(ctx);
    expect(out.failure).toMatch(/cancelled/);
  });

  it('on cancellation cancels the RUNNING task by its handle and writes the record', async () => {
    const { ctx, sqs, runtime, report } = setup({ dlq: MESSAGES, lists: [[], [running(1)], [running(2)]] });
    let lists = 0;
    sqs.on(ListMessageMoveTasksCommand).callsFake(() => {
      lists++;
      if (lists === 3) runtime.cancel();
      return { Results: lists === 1 ? [] : [running(lists - 1)] };
    });
    const out = await redrive(ctx);
    expect(out.verdict).toBe('fail');
    expect(sqs).toHaveReceivedCommandWith(CancelMessageMoveTaskCommand, {
      TaskHandle: 'eyJ0YXNrSWQiOiJ0YXNrLTEifQ==',
    });
    expect(out.record.redrive).toMatchObject({ status: 'CANCELLING', moved: 7 });
    const published = report.outputs.record;
    expect(JSON.parse(published ?? '{}').redrive.status).toBe('CANCELLING');
  });

  it('fails when the DLQ grows again during the watch (moved messages failing again)', async () => {
    const { ctx } = setup({ dlq: MESSAGES, lists: [[], [ended('COMPLETED', 3)]], dlqAfter: [0, 1, 2] });
    const out = await redrive(ctx);
    expect(out.verdict).toBe('fail');
    expect(out.failure).toMatch(/DLQ grew during the watch/);
  });

  it('stops following at its bound and leaves the task running', async () => {
    const { ctx, sqs, runtime } = setup({ dlq: MESSAGES, lists: [[], [running(1)]] });
    const out = await redrive(ctx);
    expect(out.failure).toMatch(/still RUNNING after the follow bound.*left running/);
    expect(sqs).not.toHaveReceivedCommand(CancelMessageMoveTaskCommand);
    // 3 messages at 50/s: the bound is 10 minutes and a fraction, polled every 10 s.
    expect(runtime.clock.sleeps.filter((s) => s === 10_000).length).toBeLessThanOrEqual(62);
  });

  it('refuses when the DLQ’s RedriveAllowPolicy does not allow the source queue', async () => {
    const { ctx, sqs } = setup({ dlq: MESSAGES, redriveAllowPolicy: '{"redrivePermission":"denyAll"}' });
    const out = await redrive(ctx);
    expect(out.failure).toMatch(/denyAll/);
    expect(sqs).not.toHaveReceivedCommand(StartMessageMoveTaskCommand);
  });

  it('refuses a dlq-name that is not the source queue’s dead-letter queue, before any write', async () => {
    const { ctx, sqs } = setup({ dlq: MESSAGES }, { 'dlq-name': 'someone-elses-dlq' }, null);
    await expect(redrive(ctx)).rejects.toThrow(
      /^Input 'dlq-name' names someone-elses-dlq, which is not the dead-letter queue/,
    );
    expect(sqs).not.toHaveReceivedCommand(ReceiveMessageCommand);
    expect(sqs).not.toHaveReceivedCommand(StartMessageMoveTaskCommand);
  });

  it('starts nothing on an empty DLQ', async () => {
    const { ctx, sqs } = setup({ dlq: [] });
    const out = await redrive(ctx);
    expect(out.verdict).toBe('pass');
    expect(out.failure).toBeUndefined();
    expect(sqs).not.toHaveReceivedCommand(ReceiveMessageCommand);
    expect(sqs).not.toHaveReceivedCommand(StartMessageMoveTaskCommand);
  });
});
