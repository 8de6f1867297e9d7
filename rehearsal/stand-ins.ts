// Stand-ins for the outside world during a rehearsal, against the emulator only:
// - UploadProducer puts objects into the bucket, so S3 event notifications reach the queue;
// - StandInWorker receives from the queue like the fleet's workers: `fixed` deletes what it
//   processes; `looping` never deletes and lets each message come back (the original bug).
// None of this is part of the action.
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';

export class UploadProducer {
  private stopped = false;
  uploaded = 0;
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /** Uploads `perTick` files every `everyMs`, at most `limit` in all. */
  async run(perTick: number, everyMs: number, limit: number): Promise<void> {
    while (!this.stopped && this.uploaded < limit) {
      for (let i = 0; i < perTick && this.uploaded < limit; i++) {
        const key = `uploads/rehearsal-${String(this.uploaded++).padStart(5, '0')}.pdf`;
        await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: `document ${key}` }));
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  stop(): void {
    this.stopped = true;
  }
}

export type WorkerBehaviour = 'fixed' | 'looping';

export class StandInWorker {
  private stopped = false;
  received = 0;
  deleted = 0;
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private behaviour: WorkerBehaviour,
  ) {}

  setBehaviour(b: WorkerBehaviour): void {
    this.behaviour = b;
  }

  async run(): Promise<void> {
    while (!this.stopped) {
      const out = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          // The looping worker lets messages reappear after a second, as the buggy fleet did.
          VisibilityTimeout: this.behaviour === 'looping' ? 1 : undefined,
        }),
      );
      const messages = out.Messages ?? [];
      this.received += messages.length;
      if (this.behaviour === 'fixed' && messages.length > 0) {
        await this.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
          }),
        );
        this.deleted += messages.length;
      }
      await new Promise((r) => setTimeout(r, messages.length > 0 ? 200 : 500));
    }
  }

  stop(): void {
    this.stopped = true;
  }
}
