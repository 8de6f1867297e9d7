// Finding the source queue and its dead-letter queue, shared by every mode that reads them.
import type { ModeContext } from '../context.js';
import { InputError } from '../errors.js';
import { Input } from '../constants.js';
import { DEPLOYMENT_ID_PATTERN, type QueueInfo } from '../record.js';
import {
  getQueueState,
  getQueueUrl,
  listQueueTags,
  parseQueueArn,
  setVisibilityTimeout,
  tagQueue,
  type QueueState,
} from '../aws/sqs.js';

export interface ResolvedQueues {
  queue: QueueState;
  dlq?: QueueState;
  /** Why there is no DLQ, when there is none. */
  dlqProblem?: string;
}

/** The queue URL from the inputs, or else from the record of an earlier job. */
export async function sourceQueueUrl(ctx: ModeContext): Promise<string> {
  const { inputs } = ctx;
  if (inputs.queueUrl) return inputs.queueUrl;
  if (inputs.queueName) return getQueueUrl(ctx.api, ctx.clients, inputs.queueName);
  if (inputs.record?.queue?.url) return inputs.record.queue.url;
  throw new InputError(
    Input.QueueName,
    `or '${Input.QueueUrl}' is required (or a record that names the queue)`,
  );
}

/**
 * The DLQ is the redrive policy's target: its ARN names the queue and its owner. Guessing it by
 * rewriting the queue's name (the runbook's method) finds the wrong queue or none. `dlq-name`
 * overrides when the policy cannot be read.
 */
export async function resolveQueues(ctx: ModeContext): Promise<ResolvedQueues> {
  const url = await sourceQueueUrl(ctx);
  const queue = await getQueueState(ctx.api, ctx.clients, url);
  if (ctx.inputs.dlqName) {
    const dlqUrl = await getQueueUrl(ctx.api, ctx.clients, ctx.inputs.dlqName);
    return { queue, dlq: await getQueueState(ctx.api, ctx.clients, dlqUrl) };
  }
  if (!queue.redrive) {
    return {
      queue,
      dlqProblem: `queue ${queue.name} has no redrive policy: failed messages have no dead-letter queue`,
    };
  }
  const target = parseQueueArn(queue.redrive.deadLetterTargetArn);
  if (!target) {
    return {
      queue,
      dlqProblem: `queue ${queue.name} has a redrive policy with an unreadable target ${queue.redrive.deadLetterTargetArn}`,
    };
  }
  const dlqUrl =
    ctx.inputs.record?.queue?.dlqUrl ??
    (await getQueueUrl(ctx.api, ctx.clients, target.name, target.account));
  return { queue, dlq: await getQueueState(ctx.api, ctx.clients, dlqUrl) };
}

export function queueInfo(r: ResolvedQueues): QueueInfo {
  return {
    url: r.queue.url,
    name: r.queue.name,
    arn: r.queue.arn,
    visibilityTimeout: r.queue.visibilityTimeout,
    dlqUrl: r.dlq?.url,
    dlqName: r.dlq?.name,
    dlqArn: r.dlq?.arn,
    maxReceiveCount: r.queue.redrive?.maxReceiveCount,
  };
}

// ---------------------------------------------------------------------------------------------
// The visibility timeout: set, read back, and its intent kept on the queue itself.

// SetQueueAttributes: "When you change a queue's attributes, the change can take up to 60 seconds
// for most of the attributes to propagate throughout the Amazon SQS system." Reads are retried for
// a little longer than that before a value is called wrong.
export const READ_BACK_TRIES = 7;
export const READ_BACK_INTERVAL_MS = 10_000;

/** Sets the visibility timeout and reads it back until it shows (bounded); returns what it reads. */
export async function setVisibilityTimeoutConfirmed(
  ctx: ModeContext,
  url: string,
  seconds: number,
  current?: number,
): Promise<number> {
  if (current !== seconds) await setVisibilityTimeout(ctx.api, ctx.clients, url, seconds);
  let after = current ?? -1;
  for (let attempt = 1; attempt <= READ_BACK_TRIES; attempt++) {
    after = (await getQueueState(ctx.api, ctx.clients, url)).visibilityTimeout;
    if (after === seconds) break;
    if (attempt < READ_BACK_TRIES) await ctx.runtime.sleep(READ_BACK_INTERVAL_MS);
  }
  return after;
}

/**
 * The queue tag that carries a deployment's visibility-timeout change, written before
 * SetQueueAttributes: a rollback with no record (or an older record, such as the canary's) still
 * learns that the deployment may have changed the setting, and from what. One tag per queue: a
 * later deployment overwrites it only after taking the value it found as its own baseline.
 */
export const TAG_VISIBILITY_TIMEOUT = 'emergency-deploy:visibility-timeout';

export interface VisibilityIntent {
  deploymentId: string;
  before: number;
  after: number;
  state: 'intended' | 'done';
}

// SQS tag values allow letters, digits, spaces and _ . / = + - (Quotas related to queues).
const INTENT_TAG = /^([A-Za-z0-9][A-Za-z0-9-]{2,63}) before=([0-9]{1,5}) after=([0-9]{1,5}) (intended|done)$/;
const MAX_VISIBILITY_TIMEOUT = 43_200;

export function formatVisibilityIntent(i: VisibilityIntent): string {
  return `${i.deploymentId} before=${i.before} after=${i.after} ${i.state}`;
}

/** The tag's value, or undefined when it is not one this action wrote (anyone may tag a queue). */
export function parseVisibilityIntent(value: string | undefined): VisibilityIntent | undefined {
  const m = value === undefined ? null : INTENT_TAG.exec(value.trim());
  if (!m || !DEPLOYMENT_ID_PATTERN.test(m[1])) return undefined;
  const before = Number(m[2]);
  const after = Number(m[3]);
  if (before > MAX_VISIBILITY_TIMEOUT || after > MAX_VISIBILITY_TIMEOUT) return undefined;
  return { deploymentId: m[1], before, after, state: m[4] as VisibilityIntent['state'] };
}

/** This deployment's intent from the queue's tags, if the queue carries one. */
export async function readVisibilityIntent(
  ctx: ModeContext,
  url: string,
  deploymentId: string,
): Promise<VisibilityIntent | undefined> {
  const tags = await listQueueTags(ctx.api, ctx.clients, url);
  const intent = parseVisibilityIntent(tags[TAG_VISIBILITY_TIMEOUT]);
  return intent?.deploymentId === deploymentId ? intent : undefined;
}

export async function writeVisibilityIntent(
  ctx: ModeContext,
  url: string,
  intent: VisibilityIntent,
): Promise<void> {
  await tagQueue(ctx.api, ctx.clients, url, { [TAG_VISIBILITY_TIMEOUT]: formatVisibilityIntent(intent) });
}
