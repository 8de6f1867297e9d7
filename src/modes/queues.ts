// Finding the source queue and its dead-letter queue, shared by every mode that reads them.
import type { ModeContext } from '../context.js';
import { InputError } from '../errors.js';
import { Input } from '../constants.js';
import type { QueueInfo } from '../record.js';
import { getQueueState, getQueueUrl, parseQueueArn, type QueueState } from '../aws/sqs.js';

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
