// SQS gateway: the source queue, its dead-letter queue, the visibility timeout, DLQ messages read
// without deleting them (verify and the redrive review), and the redrive's message move task.
import {
  CancelMessageMoveTaskCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  ListQueueTagsCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  StartMessageMoveTaskCommand,
  TagQueueCommand,
  type MessageSystemAttributeName,
  type QueueAttributeName,
} from '@aws-sdk/client-sqs';
import type { AwsApi } from './api.js';
import type { AwsClients } from './clients.js';
import type { PeekedMessage, PeekedMessageWithBody } from '../observed.js';

export type { PeekedMessage, PeekedMessageWithBody };

export interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
}

export interface QueueState extends QueueDepth {
  url: string;
  name: string;
  arn: string;
  visibilityTimeout: number;
  /** From RedrivePolicy; undefined when the queue has none. */
  redrive?: { deadLetterTargetArn: string; maxReceiveCount: number };
  /** The queue's access policy (JSON text), when it has one. */
  policy?: string;
}

export class QueueNotFound extends Error {
  constructor(what: string) {
    super(`SQS queue ${what} does not exist (or this identity may not see it)`);
    this.name = 'QueueNotFound';
  }
}

function isMissingQueue(e: unknown): boolean {
  const name = (e as { name?: string })?.name ?? '';
  return (
    name === 'QueueDoesNotExist' ||
    name === 'AWS.SimpleQueueService.NonExistentQueue' ||
    name === 'QueueDoesNotExistException'
  );
}

export function queueNameFromUrl(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

/** arn:aws:sqs:REGION:ACCOUNT:NAME → its parts. */
export function parseQueueArn(arn: string): { region: string; account: string; name: string } | undefined {
  const m = /^arn:aws[a-z-]*:sqs:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_.-]+)$/.exec(arn);
  return m ? { region: m[1], account: m[2], name: m[3] } : undefined;
}

export async function getQueueUrl(
  api: AwsApi,
  clients: AwsClients,
  name: string,
  ownerAccount?: string,
): Promise<string> {
  try {
    const out = await api.call('sqs:GetQueueUrl', () =>
      clients.sqs.send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: ownerAccount })),
    );
    if (!out.QueueUrl) throw new QueueNotFound(name);
    return out.QueueUrl;
  } catch (e) {
    if (isMissingQueue(e)) throw new QueueNotFound(name);
    throw e;
  }
}

const ATTRIBUTES: QueueAttributeName[] = [
  'QueueArn',
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'VisibilityTimeout',
  'RedrivePolicy',
  // The queue policy: its aws:SourceArn conditions name every bucket and topic allowed to send here.
  'Policy',
];

function count(v: string | undefined): number {
  const n = Number(v ?? '0');
  return Number.isFinite(n) ? n : 0;
}

export async function getQueueState(api: AwsApi, clients: AwsClients, url: string): Promise<QueueState> {
  let attrs: Record<string, string>;
  try {
    const out = await api.call('sqs:GetQueueAttributes', () =>
      clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ATTRIBUTES })),
    );
    attrs = out.Attributes ?? {};
  } catch (e) {
    if (isMissingQueue(e)) throw new QueueNotFound(url);
    throw e;
  }
  let redrive: QueueState['redrive'];
  if (attrs.RedrivePolicy) {
    try {
      const policy = JSON.parse(attrs.RedrivePolicy) as {
        deadLetterTargetArn?: string;
        maxReceiveCount?: number | string;
      };
      if (policy.deadLetterTargetArn) {
        redrive = {
          deadLetterTargetArn: policy.deadLetterTargetArn,
          maxReceiveCount: Number(policy.maxReceiveCount ?? 0),
        };
      }
    } catch {
      // An unreadable policy is reported by the caller as "no DLQ found".
    }
  }
  return {
    url,
    name: queueNameFromUrl(url),
    arn: attrs.QueueArn ?? '',
    visible: count(attrs.ApproximateNumberOfMessages),
    inFlight: count(attrs.ApproximateNumberOfMessagesNotVisible),
    delayed: count(attrs.ApproximateNumberOfMessagesDelayed),
    visibilityTimeout: count(attrs.VisibilityTimeout),
    redrive,
    policy: attrs.Policy || undefined,
  };
}

/** Just the three depth counters (the verify loop reads these every sample). */
export async function getQueueDepth(api: AwsApi, clients: AwsClients, url: string): Promise<QueueDepth> {
  const state = await getQueueState(api, clients, url);
  return { visible: state.visible, inFlight: state.inFlight, delayed: state.delayed };
}

export async function setVisibilityTimeout(
  api: AwsApi,
  clients: AwsClients,
  url: string,
  seconds: number,
): Promise<void> {
  await api.call('sqs:SetQueueAttributes', () =>
    clients.sqs.send(
      new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { VisibilityTimeout: String(seconds) } }),
    ),
  );
}

/** The queue's tags (ListQueueTags answers {"Tags": {key: value}}; API_ListQueueTags). */
export async function listQueueTags(
  api: AwsApi,
  clients: AwsClients,
  url: string,
): Promise<Record<string, string>> {
  const out = await api.call('sqs:ListQueueTags', () =>
    clients.sqs.send(new ListQueueTagsCommand({ QueueUrl: url })),
  );
  return out.Tags ?? {};
}

/** TagQueue: "A new tag with a key identical to that of an existing tag overwrites the existing tag." */
export async function tagQueue(
  api: AwsApi,
  clients: AwsClients,
  url: string,
  tags: Record<string, string>,
): Promise<void> {
  await api.call('sqs:TagQueue', () => clients.sqs.send(new TagQueueCommand({ QueueUrl: url, Tags: tags })));
}

export interface PeekOptions {
  /** At most this many distinct messages (ReceiveMessage returns up to 10 a call). */
  max: number;
  /** Seconds each read message stays hidden: short, so the queue is left as it was. */
  visibilityTimeoutSeconds: number;
  /**
   * 0 (the default) is a short poll, which samples a subset of the servers; 1 to 20 is a long poll,
   * which asks every server, so a queue with messages does not answer empty (API_ReceiveMessage,
   * WaitTimeSeconds).
   */
  waitTimeSeconds?: number;
  /** Also ask for ApproximateFirstReceiveTimestamp (default true; the redrive review shows none). */
  firstReceivedAt?: boolean;
  /** Keep each message's body (the review); verify counts timestamps and keeps no message text. */
  bodies?: boolean;
  /** Asked before each call: true stops the read (a cancelled run starts no new call). */
  stop?: () => boolean;
}

/**
 * Reads messages without deleting them (ReceiveMessage with MessageSystemAttributeNames
 * ApproximateReceiveCount and SentTimestamp, and ApproximateFirstReceiveTimestamp unless told not;
 * API_ReceiveMessage). Each read message is hidden for the short visibility timeout, then visible
 * again. Meant for the DLQ: nothing consumes it, and a standard queue keeps a message's original
 * enqueue timestamp when it moves there (SQS Developer Guide,
 * setting-up-dead-letter-queue-retention). Stops at `max`, or when a call returns nothing new (a
 * short poll samples a subset of the servers), or when `stop` says so; bounded in calls. A message
 * without SentTimestamp (SQS gives it whenever asked) is not kept.
 */
export async function peekMessages(
  api: AwsApi,
  clients: AwsClients,
  url: string,
  opts: PeekOptions & { bodies: true },
): Promise<PeekedMessageWithBody[]>;
export async function peekMessages(
  api: AwsApi,
  clients: AwsClients,
  url: string,
  opts: PeekOptions,
): Promise<PeekedMessage[]>;
export async function peekMessages(
  api: AwsApi,
  clients: AwsClients,
  url: string,
  opts: PeekOptions,
): Promise<PeekedMessage[]> {
  const seen = new Map<string, PeekedMessage | PeekedMessageWithBody>();
  const attributes: MessageSystemAttributeName[] = ['ApproximateReceiveCount', 'SentTimestamp'];
  if (opts.firstReceivedAt !== false) attributes.push('ApproximateFirstReceiveTimestamp');
  // Bounded: a few calls past what `max` needs, and a call that returns only messages already seen
  // ends the peek.
  for (let call = 0; call < Math.ceil(opts.max / 10) + 5 && seen.size < opts.max; call++) {
    if (opts.stop?.()) break;
    const out = await api.call('sqs:ReceiveMessage', () =>
      clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: Math.max(1, Math.min(10, opts.max - seen.size)),
          VisibilityTimeout: opts.visibilityTimeoutSeconds,
          WaitTimeSeconds: opts.waitTimeSeconds ?? 0,
          MessageSystemAttributeNames: attributes,
        }),
      ),
    );
    let fresh = 0;
    for (const m of out.Messages ?? []) {
      const id = m.MessageId;
      const sent = optionalNumber(m.Attributes?.SentTimestamp);
      if (seen.size >= opts.max) break;
      if (!id || seen.has(id) || sent === undefined) continue;
      const peeked: PeekedMessage = {
        messageId: id,
        sentAt: sent,
        firstReceivedAt: optionalNumber(m.Attributes?.ApproximateFirstReceiveTimestamp),
        receiveCount: optionalNumber(m.Attributes?.ApproximateReceiveCount),
      };
      seen.set(id, opts.bodies ? { ...peeked, body: m.Body ?? '' } : peeked);
      fresh++;
    }
    if (fresh === 0) break;
  }
  return [...seen.values()];
}

function optionalNumber(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

// ---------------------------------------------------------------------------------------------
// Redrive: the DLQ's RedriveAllowPolicy, and the message move task. Nothing here deletes or
// purges: the move task itself takes each message off the DLQ once it is on the destination.

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
