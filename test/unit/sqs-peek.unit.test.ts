// peekMessages: DLQ messages read without deleting them. Mocks shaped as API_ReceiveMessage says:
// up to MaxNumberOfMessages (1-10) messages, each with MessageId, ReceiptHandle and the system
// attributes asked for in Attributes as strings (SentTimestamp and ApproximateFirstReceiveTimestamp
// in epoch milliseconds). A short poll samples a subset of servers, so a call may repeat messages.
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { peekMessages } from '../../src/aws/sqs.js';
import { testContext } from '../support/context.js';

const DLQ_URL = 'https://sqs.ap-northeast-1.amazonaws.com/123456789012/cis-worker-failures';

function message(n: number, sentAt: number) {
  return {
    MessageId: `m-${n}`,
    ReceiptHandle: `rh-${n}`,
    Body: '{}',
    Attributes: {
      SentTimestamp: String(sentAt),
      ApproximateReceiveCount: '4',
      ApproximateFirstReceiveTimestamp: String(sentAt + 1000),
    },
  };
}

describe('peekMessages', () => {
  it('reads distinct messages up to max, with a short visibility timeout, and deletes nothing', async () => {
    const { ctx } = testContext({ mode: 'verify', 'queue-name': 'file-processing-queue-production' });
    const sqs = mockClient(ctx.clients.sqs);
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message(1, 1000), message(2, 2000)] })
      // A repeat (the short poll hit a server with the same message) and a new one.
      .resolvesOnce({ Messages: [message(2, 2000), message(3, 3000)] })
      // Asked for 1 (the rest of max): SQS returns at most MaxNumberOfMessages.
      .resolves({ Messages: [message(4, 4000)] });
    const got = await peekMessages(ctx.api, ctx.clients, DLQ_URL, { max: 4, visibilityTimeoutSeconds: 10 });
    expect(got.map((m) => m.messageId)).toEqual(['m-1', 'm-2', 'm-3', 'm-4']);
    expect(got[0]).toEqual({ messageId: 'm-1', sentAt: 1000, firstReceivedAt: 2000, receiveCount: 4 });
    const calls = sqs.commandCalls(ReceiveMessageCommand).map((c) => c.args[0].input);
    expect(calls[0]).toMatchObject({ QueueUrl: DLQ_URL, VisibilityTimeout: 10, WaitTimeSeconds: 0 });
    // Never more than what is still wanted, never more than SQS's 10.
    expect(calls.map((c) => c.MaxNumberOfMessages)).toEqual([4, 2, 1]);
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
  });

  it('stops when a call brings nothing new, so an empty or fully read DLQ costs one more call at most', async () => {
    const { ctx } = testContext({ mode: 'verify', 'queue-name': 'file-processing-queue-production' });
    const sqs = mockClient(ctx.clients.sqs);
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message(1, 1000)] })
      .resolves({ Messages: [] });
    const got = await peekMessages(ctx.api, ctx.clients, DLQ_URL, { max: 100, visibilityTimeoutSeconds: 10 });
    expect(got).toHaveLength(1);
    expect(sqs.commandCalls(ReceiveMessageCommand)).toHaveLength(2);
  });
});
