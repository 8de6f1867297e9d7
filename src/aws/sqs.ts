// SQS gateway: the source queue, its dead-letter queue, and the visibility timeout.
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  TagQueueCommand,
  type QueueAttributeName,
} from '@aws-sdk/client-sqs';
import type { AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

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

/** One message read without deleting it: when it was first sent, and how often it was received. */
export interface PeekedMessage {
  messageId: string;
  /** SentTimestamp: when it was sent to the source queue (kept when it moves to the DLQ). */
  sentAt: number;
  /** ApproximateFirstReceiveTimestamp, when given. */
  firstReceivedAt?: number;
  receiveCount: number;
}

export interface PeekOptions {
  /** At most this many distinct messages (ReceiveMessage returns up to 10 a call). */
  max: number;
  /** Seconds each read message stays hidden: short, so the queue is left as it was. */
  visibilityTimeoutSeconds: number;
}

/**
 * Reads messages without deleting them (ReceiveMessage with MessageSystemAttributeNames
 * SentTimestamp, ApproximateReceiveCount, ApproximateFirstReceiveTimestamp; API_ReceiveMessage).
 * Each read message is hidden for the short visibility timeout, then visible again. Meant for the
 * DLQ: nothing consumes it, and a standard queue keeps a message's original enqueue timestamp when
 * it moves there (SQS Developer Guide, setting-up-dead-letter-queue-retention). Stops at `max`, or
 * when a call returns nothing new (a short poll samples a subset of the servers).
 */
export async function peekMessages(
  api: AwsApi,
  clients: AwsClients,
  url: string,
  opts: PeekOptions,
): Promise<PeekedMessage[]> {
  const seen = new Map<string, PeekedMessage>();
  // Bounded: a call that returns only messages already seen ends the peek.
  for (let call = 0; call < Math.ceil(opts.max / 10) + 2 && seen.size < opts.max; call++) {
    const out = await api.call('sqs:ReceiveMessage', () =>
      clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: Math.min(10, opts.max - seen.size),
          VisibilityTimeout: opts.visibilityTimeoutSeconds,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: [
            'SentTimestamp',
            'ApproximateReceiveCount',
            'ApproximateFirstReceiveTimestamp',
          ],
        }),
      ),
    );
    let fresh = 0;
    for (const m of out.Messages ?? []) {
      const id = m.MessageId;
      const sent = Number(m.Attributes?.SentTimestamp);
      if (seen.size >= opts.max) break;
      if (!id || seen.has(id) || !Number.isFinite(sent)) continue;
      const first = Number(m.Attributes?.ApproximateFirstReceiveTimestamp);
      seen.set(id, {
        messageId: id,
        sentAt: sent,
        firstReceivedAt: Number.isFinite(first) ? first : undefined,
        receiveCount: count(m.Attributes?.ApproximateReceiveCount),
      });
      fresh++;
    }
    if (fresh === 0) break;
  }
  return [...seen.values()];
}
