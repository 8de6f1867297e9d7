// A stand-in worker for the emulator tests: a loop in the test process that consumes the queue
// through the SDK, as the real workers do. `delete` is the fixed worker (receive, process, delete);
// `never-delete` is the original bug (receive, never delete), so with a short visibility timeout
// every message comes back until the redrive policy moves it to the DLQ.
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

export type ConsumerBehaviour = 'delete' | 'never-delete';

export interface ConsumerStats {
  received: number;
  deleted: number;
  errors: number;
  lastError?: string;
}

export interface Consumer {
  readonly stats: ConsumerStats;
  /** Stops the loop and waits for its last call to finish. */
  stop(): Promise<ConsumerStats>;
}

export interface ConsumerOptions {
  /** Seconds a received message stays hidden (never-delete defaults to 1: it returns at once). */
  visibilityTimeout?: number;
  /** Pause when the queue gave nothing, so the loop does not spin on the emulator. */
  idleMs?: number;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function startConsumer(
  sqs: SQSClient,
  queueUrl: string,
  behaviour: ConsumerBehaviour,
  opts: ConsumerOptions = {},
): Consumer {
  const stats: ConsumerStats = { received: 0, deleted: 0, errors: 0 };
  const visibilityTimeout = opts.visibilityTimeout ?? (behaviour === 'never-delete' ? 1 : 30);
  const idleMs = opts.idleMs ?? 250;
  let stopped = false;

  const loop = (async () => {
    while (!stopped) {
      try {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            VisibilityTimeout: visibilityTimeout,
            WaitTimeSeconds: 0,
          }),
        );
        const messages = out.Messages ?? [];
        stats.received += messages.length;
        if (behaviour === 'delete' && messages.length > 0) {
          const done = await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
            }),
          );
          stats.deleted += done.Successful?.length ?? 0;
        }
        if (messages.length === 0) await pause(idleMs);
      } catch (e) {
        stats.errors++;
        stats.lastError = (e as Error).message;
        await pause(idleMs);
      }
    }
  })();

  return {
    stats,
    stop: async () => {
      stopped = true;
      await loop;
      return stats;
    },
  };
}
