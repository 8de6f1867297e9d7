// The runbook's next steps after the fix: review the DLQ, then clean it up. The review reads up to
// redrive-sample messages without deleting them; the redrive moves the DLQ's messages back to the
// source queue with an SQS message move task, once the record shows verify passed (unless forced),
// follows it to the end, and watches the DLQ afterwards. Nothing is ever purged or deleted.
import { Output } from '../constants.js';
import { publishRecord, warn, type ModeContext, type ModeOutcome } from '../context.js';
import {
  cancelMoveTask,
  getQueueDepth,
  getRedriveAllowPolicy,
  listMoveTasks,
  peekMessages,
  startMoveTask,
  type MoveTask,
  type PeekedMessageWithBody,
  type QueueState,
} from '../aws/sqs.js';
import { errorMessage, InputError } from '../errors.js';
import { Input } from '../constants.js';
import {
  allowPolicyProblem,
  fixTime,
  redriveRefusal,
  reviewMessages,
  type Review,
} from '../logic/redrive.js';
import { startRecord, type RedriveEntry } from '../record.js';
import { notificationsSection, renderNotificationAfter } from '../summary/notifications.js';
import { renderRedriveSummary } from '../summary/redrive.js';
import { Phase } from './phase.js';
import { queueInfo, resolveQueues } from './queues.js';

/**
 * The review's messages stay invisible this long, then return to the DLQ on their own (nothing is
 * deleted). Long enough to read 1,000 messages 10 at a time without seeing one twice.
 */
export const REVIEW_VISIBILITY_SECONDS = 30;
/** Longest the move task is followed: GitHub-hosted jobs end at 6 hours. */
export const MAX_FOLLOW_MS = 5 * 3600_000;
/** The watch after the move: long enough to see moved messages dead-lettered again, bounded. */
export const MAX_WATCH_MS = 5 * 60_000;

const TERMINAL = new Set(['COMPLETED', 'CANCELLED', 'FAILED']);

function iso(ms: number | undefined): string | undefined {
  return ms === undefined || !Number.isFinite(ms) ? undefined : new Date(ms).toISOString();
}

/**
 * Reads up to `want` distinct messages, 10 a call, with their bodies. A short long-poll wait makes
 * SQS ask every server instead of a sample of them (short polling may answer empty while messages
 * exist); a cancelled run starts no further call.
 */
async function sampleDlq(ctx: ModeContext, dlq: QueueState, want: number): Promise<PeekedMessageWithBody[]> {
  return peekMessages(ctx.api, ctx.clients, dlq.url, {
    max: want,
    visibilityTimeoutSeconds: REVIEW_VISIBILITY_SECONDS,
    waitTimeSeconds: 1,
    firstReceivedAt: false,
    bodies: true,
    stop: () => ctx.runtime.cancelled(),
  });
}

/**
 * Our task among the DLQ's recent ones. ListMessageMoveTasks gives a TaskHandle only while a task is
 * RUNNING (API_ListMessageMoveTasksResultEntry), so once it ends it is the most recent entry: one
 * active task per queue means no other can have started after it.
 */
function taskOf(tasks: MoveTask[], handle: string | undefined): MoveTask | undefined {
  return handle ? (tasks.find((t) => t.taskHandle === handle) ?? tasks[0]) : tasks[0];
}

export async function redrive(ctx: ModeContext): Promise<ModeOutcome> {
  const { inputs, report, api, clients, runtime } = ctx;
  const record = inputs.record ?? startRecord(ctx);
  const phase = Phase.start(ctx, record, 'redrive', { dryRun: inputs.dryRun });
  const notes: string[] = [];
  if (!inputs.record) warn(ctx, record, 'redrive has no record from an earlier job');

  const queues = await phase.step('Queue and DLQ', () => resolveQueues(ctx));
  const { queue, dlq } = queues;
  if (!record.queue) record.queue = queueInfo(queues);
  if (!dlq)
    throw new Error(`redrive has no dead-letter queue to review: ${queues.dlqProblem ?? 'none found'}`);
  // dlq-name must be the DLQ the source queue's redrive policy names: anything else would move
  // another queue's messages into this one. Only reads were sent so far.
  if (inputs.dlqName && queue.redrive?.deadLetterTargetArn !== dlq.arn) {
    throw new InputError(
      Input.DlqName,
      `names ${dlq.name}, which is not the dead-letter queue of ${queue.name} (its redrive policy names ${queue.redrive?.deadLetterTargetArn ?? 'none'})`,
    );
  }

  // Review first, always.
  const reviewedAt = runtime.clock.now();
  let messages: PeekedMessageWithBody[] = [];
  if (dlq.redrive) {
    // A receive counts towards the DLQ's own maxReceiveCount: reading could dead-letter onwards.
    warn(
      ctx,
      record,
      `DLQ ${dlq.name} has its own redrive policy: the review reads no message, so none is pushed on to ${dlq.redrive.deadLetterTargetArn}`,
    );
  } else if (dlq.visible > 0) {
    messages = await phase.step(`Review of ${dlq.name}`, () => sampleDlq(ctx, dlq, inputs.redriveSample));
  }
  const review: Review = reviewMessages(messages, fixTime(inputs.record));
  report.info(
    `Reviewed ${review.sampled} of ${dlq.visible} DLQ message(s): ${review.s3Events} S3 event(s), ${review.duplicates} duplicate(s), ${review.testEvents} test event(s), ${review.notS3} not S3 events`,
  );
  const entry: RedriveEntry = {
    reviewedAt: reviewedAt.toISOString(),
    sampled: review.sampled,
    dlqDepth: dlq.visible,
    s3Events: review.s3Events,
    duplicates: review.duplicates,
    testEvents: review.testEvents,
    notS3: review.notS3,
    oldestSentAt: iso(review.oldestSentAt),
    newestSentAt: iso(review.newestSentAt),
    fixAt: iso(review.fixAt),
    sentBeforeFix: review.sentBeforeFix,
    sentAfterFix: review.sentAfterFix,
    dryRun: inputs.dryRun || undefined,
  };
  record.redrive = entry;
  publishRecord(ctx, record);

  const progress: { at: string; status: string; moved?: number; toMove?: number }[] = [];
  const finish = (verdict: 'pass' | 'fail', reason: string): ModeOutcome => {
    entry.verdict = verdict;
    phase.end({ verdict, reason });
    // The last mode that ran writes the after notification: now with what the DLQ review found.
    const after = renderNotificationAfter(record, runtime.clock.now());
    return phase.outcome({
      verdict,
      summary: `${renderRedriveSummary({
        deploymentId: record.deploymentId,
        verdict,
        reason,
        queueName: queue.name,
        dlqName: dlq.name,
        entry,
        review,
        progress,
        notes,
      })}\n\n${notificationsSection({ after })}`,
      outputs: {
        [Output.NotificationAfter]: after,
        [Output.DlqDepth]: entry.after?.dlq !== undefined ? String(entry.after.dlq) : String(dlq.visible),
        [Output.QueueDepth]:
          entry.after?.queue !== undefined ? String(entry.after.queue) : String(queue.visible),
        [Output.DeploymentId]: record.deploymentId,
      },
      failure: verdict === 'fail' ? `Redrive failed: ${reason}` : undefined,
    });
  };

  if (inputs.dryRun) {
    return finish('pass', `dry-run: reviewed ${review.sampled} message(s); no message move task started`);
  }
  if (runtime.cancelled()) return finish('fail', 'cancelled after the review; no move task started');

  const refusal = redriveRefusal(inputs.record);
  if (refusal) {
    if (!inputs.redriveForce) {
      entry.refused = `${refusal}; set '${Input.RedriveForce}: true' to redrive anyway`;
      entry.status = 'NOT-STARTED';
      return finish('fail', `not redriven: ${entry.refused}`);
    }
    entry.forced = true;
    warn(ctx, record, `redrive forced although ${refusal}`);
  }
  const policyProblem = allowPolicyProblem(await getRedriveAllowPolicy(api, clients, dlq.url), queue.arn);
  if (policyProblem) {
    entry.refused = `${policyProblem}: ${queue.name} may not use ${dlq.name} as its dead-letter queue`;
    entry.status = 'NOT-STARTED';
    return finish('fail', `not redriven: ${entry.refused}`);
  }

  // One active task per queue: a RUNNING one is followed, not duplicated.
  let tasks = await listMoveTasks(api, clients, dlq.arn);
  let handle: string | undefined;
  const running = tasks.find((t) => t.status === 'RUNNING');
  if (running) {
    handle = running.taskHandle;
    notes.push(
      `A message move task was already RUNNING on ${dlq.name} (started ${iso(running.startedAt) ?? 'at an unknown time'}): it is followed, not started again.`,
    );
    report.info(notes[notes.length - 1]);
  } else {
    const depth = await getQueueDepth(api, clients, dlq.url);
    if (depth.visible + depth.inFlight + depth.delayed === 0) {
      entry.status = 'NOT-STARTED';
      return finish('pass', `the DLQ ${dlq.name} is empty: nothing to redrive`);
    }
    // The review's messages are still invisible: wait for them to return, so the task sees them.
    const back = reviewedAt.getTime() + REVIEW_VISIBILITY_SECONDS * 1000 - runtime.clock.now().getTime();
    if (messages.length > 0 && back > 0) await runtime.sleep(back);
    if (runtime.cancelled()) return finish('fail', 'cancelled after the review; no move task started');
    handle = await startMoveTask(api, clients, dlq.arn, queue.arn, inputs.redriveRate);
    report.info(`Started a message move task ${dlq.name} → ${queue.name} at ${inputs.redriveRate}/s`);
  }
  entry.taskHandle = handle;
  entry.status = 'RUNNING';
  publishRecord(ctx, record);

  // Follow it, bounded: twice the time the DLQ needs at this rate, plus 10 minutes, at most 5 hours.
  const rate = running?.rate ?? inputs.redriveRate;
  const deadline =
    runtime.clock.now().getTime() +
    Math.min(MAX_FOLLOW_MS, Math.ceil((Math.max(dlq.visible, 1) / rate) * 2000) + 600_000);
  const pollMs = inputs.pollSeconds * 1000;
  let task: MoveTask | undefined;
  for (;;) {
    tasks = await listMoveTasks(api, clients, dlq.arn);
    task = taskOf(tasks, handle);
    const at = runtime.clock.now().toISOString();
    if (task) {
      Object.assign(entry, {
        status: task.status,
        moved: task.moved,
        toMove: task.toMove,
        rate: task.rate ?? rate,
        startedAt: iso(task.startedAt) ?? entry.startedAt,
        failureReason: task.failureReason?.slice(0, 300),
      });
      progress.push({ at, status: task.status, moved: task.moved, toMove: task.toMove });
      report.info(`move task ${task.status}: ${task.moved ?? '?'} of ${task.toMove ?? '?'} moved`);
    }
    if (task && TERMINAL.has(task.status)) break;
    if (runtime.cancelled()) {
      // Cancelled run: stop the task (only a RUNNING one can be cancelled), say so in the record.
      if (handle && task?.status === 'RUNNING') {
        try {
          const moved = await cancelMoveTask(api, clients, handle);
          entry.status = 'CANCELLING';
          if (moved !== undefined) entry.moved = moved;
        } catch (e) {
          warn(ctx, record, `the move task could not be cancelled: ${errorMessage(e)}`);
        }
      }
      entry.endedAt = runtime.clock.now().toISOString();
      return finish('fail', `cancelled while the move task ran (${entry.moved ?? '?'} moved)`);
    }
    if (runtime.clock.now().getTime() >= deadline) {
      return finish(
        'fail',
        `the move task is still ${task?.status ?? 'unknown'} after the follow bound (${entry.moved ?? '?'} of ${entry.toMove ?? '?'} moved); it was left running: run redrive again to follow it`,
      );
    }
    await runtime.sleep(pollMs);
  }
  entry.endedAt = runtime.clock.now().toISOString();
  publishRecord(ctx, record);
  if (task.status === 'FAILED') {
    return finish('fail', `the move task failed: ${task.failureReason ?? 'no reason given'}`);
  }
  if (task.status === 'CANCELLED') return finish('fail', 'the move task was cancelled');

  // Afterwards: the DLQ at or under drained-threshold, and not growing (moved messages deleted by
  // the workers, not dead-lettered again).
  const watchMs = Math.min(MAX_WATCH_MS, inputs.verifyMinutes * 60_000);
  const stepMs = Math.min(inputs.sampleSeconds * 1000, watchMs);
  const watchStart = runtime.clock.now().getTime();
  let first: number | undefined;
  let last: number | undefined;
  let lastQueue: number | undefined;
  let rose = false;
  for (;;) {
    const d = await getQueueDepth(api, clients, dlq.url);
    const q = await getQueueDepth(api, clients, queue.url);
    first ??= d.visible;
    if (last !== undefined && d.visible > last) rose = true;
    last = d.visible;
    lastQueue = q.visible;
    if (runtime.cancelled() || runtime.clock.now().getTime() - watchStart >= watchMs) break;
    await runtime.sleep(stepMs);
  }
  entry.after = { at: runtime.clock.now().toISOString(), queue: lastQueue, dlq: last, dlqRose: rose };
  const problems: string[] = [];
  if (last !== undefined && last > inputs.drainedThreshold) {
    problems.push(`the DLQ holds ${last} message(s), over drained-threshold ${inputs.drainedThreshold}`);
  }
  if (rose)
    problems.push(`the DLQ grew during the watch (from ${first} to ${last}): moved messages failed again`);
  if (problems.length > 0) return finish('fail', problems.join('; '));
  return finish(
    'pass',
    `moved ${entry.moved ?? '?'} message(s) back to ${queue.name}; the DLQ holds ${last} and did not grow during the watch`,
  );
}
