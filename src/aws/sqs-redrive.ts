// SQS gateway for the DLQ review and redrive: read messages without deleting them, read the DLQ's
// RedriveAllowPolicy, and start, list and cancel a message move task. Nothing here deletes or
// purges: the move task itself takes each message off the DLQ once it is on the destination.
import {
  CancelMessageMoveTaskCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import type { AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

/** One message as the review sees it: no receipt handle is kept, so nothing can delete it. */
export interface PeekedMessage {
  messageId: string;
  body: string;
  /** ApproximateReceiveCount: how often it was received, the review's own receive included. */
  receiveCount?: number;
  /** SentTimestamp: epoch milliseconds when it was first sent (to the source queue). */
  sentAt?: number;
}

function int(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * One ReceiveMessage of up to 10 messages (the API's maximum per call, API_ReceiveMessage), with a
 * short visibility timeout so they return to the DLQ on their own. A short long-poll wait makes SQS
 * ask every server instead of a sample of them (short polling may answer empty while messages exist).
 */
export async function peekMessages(
  api: AwsApi,
  clients: AwsClients,
  url: string,
  max: number,
  visibilityTimeoutSeconds: number,
): Promise<PeekedMessage[]> {
  const out = await api.call('sqs:ReceiveMessage', () =>
    clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: Math.max(1, Math.min(10, max)),
        VisibilityTimeout: visibilityTimeoutSeconds,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
      }),
    ),
  );
  return (out.Messages ?? []).flatMap((m) =>
    m.MessageId
      ? [
          {
            messageId: m.MessageId,
            body: m.Body ?? '',
            receiveCount: int(m.Attributes?.ApproximateReceiveCount),
            sentAt: int(m.Attributes?.SentTimestamp),
          },
        ]
      : [],
  );
}

/** The DLQ's RedriveAllowPolicy, raw (undefined when the queue has none: AWS then allows all). */
export async function getRedriveAllowPolicy(
  api: AwsApi,
  clients: AwsClients,
  url: string,
): Promise<string | undefined> {
  // 'All' rather than the attribute's own name: both are valid (API_GetQueueAttributes), but
  // moto_server 5.2.1 refuses 'RedriveAllowPolicy' by name ("Unknown Attribute") and returns it
  // under All; the emulator tests go through the same code the runner does.
  const out = await api.call('sqs:GetQueueAttributes', () =>
    clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] })),
  );
  return out.Attributes?.RedriveAllowPolicy;
}

export type MoveTaskStatus = 'RUNNING' | 'COMPLETED' | 'CANCELLING' | 'CANCELLED' | 'FAILED';
const STATUSES: readonly string[] = ['RUNNING', 'COMPLETED', 'CANCELLING', 'CANCELLED', 'FAILED'];

/** One entry of ListMessageMoveTasks' Results (API_ListMessageMoveTasksResultEntry). */
export interface MoveTask {
  /** Only present while the task is RUNNING (it is what CancelMessageMoveTask takes). */
  taskHandle?: string;
  status: MoveTaskStatus | 'UNKNOWN';
  sourceArn?: string;
  destinationArn?: string;
  moved?: number;
  toMove?: number;
  rate?: number;
  startedAt?: number;
  failureReason?: string;
}

export async function startMoveTask(
  api: AwsApi,
  clients: AwsClients,
  sourceArn: string,
  destinationArn: string,
  rate: number,
): Promise<string> {
  const out = await api.call('sqs:StartMessageMoveTask', () =>
    clients.sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: sourceArn,
        DestinationArn: destinationArn,
        MaxNumberOfMessagesPerSecond: rate,
      }),
    ),
  );
  if (!out.TaskHandle) throw new Error('sqs:StartMessageMoveTask answered without a TaskHandle');
  return out.TaskHandle;
}

/** The most recent move tasks of a DLQ, newest first (up to 10, API_ListMessageMoveTasks). */
export async function listMoveTasks(
  api: AwsApi,
  clients: AwsClients,
  sourceArn: string,
): Promise<MoveTask[]> {
  const out = await api.call('sqs:ListMessageMoveTasks', () =>
    clients.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 })),
  );
  return (out.Results ?? []).map((r) => ({
    taskHandle: r.TaskHandle,
    status: r.Status && STATUSES.includes(r.Status) ? (r.Status as MoveTaskStatus) : 'UNKNOWN',
    sourceArn: r.SourceArn,
    destinationArn: r.DestinationArn,
    moved: r.ApproximateNumberOfMessagesMoved,
    toMove: r.ApproximateNumberOfMessagesToMove,
    rate: r.MaxNumberOfMessagesPerSecond,
    startedAt: r.StartedTimestamp,
    failureReason: r.FailureReason,
  }));
}

/** Cancels a RUNNING task; returns how many messages it had moved (API_CancelMessageMoveTask). */
export async function cancelMoveTask(
  api: AwsApi,
  clients: AwsClients,
  taskHandle: string,
): Promise<number | undefined> {
  const out = await api.call('sqs:CancelMessageMoveTask', () =>
    clients.sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle: taskHandle })),
  );
  return out.ApproximateNumberOfMessagesMoved;
}
