// The DLQ redrive, bundled, through the twin: moto_server has no message move task, the twin runs
// StartMessageMoveTask / ListMessageMoveTasks over moto's own queues at the requested rate. The
// fleet's workers run the fix (they delete what they process), so the moved messages are consumed
// and nothing comes back to the DLQ. The review's 30-second visibility timeout is waited out for
// real before the move starts: that is the behaviour being shown.
import { GetQueueAttributesCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeploymentRecord } from '../../src/record.js';
import { probeIsolation } from '../../twin/twin.js';
import { motoAvailable } from '../support/moto.js';
import { runDist, type DistRun } from '../support/run-dist.js';
import { startTwinWorld, type TwinWorld } from '../support/twin-world.js';
import { WORLD, worldClients } from '../support/world.js';

const isolation = probeIsolation();
if (!isolation.ok) process.stderr.write(`twin tests skipped: ${isolation.note}\n`);
const describeTwin = motoAvailable() && isolation.ok ? describe : describe.skip;
const TIMEOUT = 300_000;

function s3Body(key: string, sequencer: string): string {
  return JSON.stringify({
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: WORLD.region,
        eventTime: '2026-11-28T22:00:00.000Z',
        eventName: 'ObjectCreated:Put',
        s3: { bucket: { name: WORLD.bucket }, object: { key, size: 2048, sequencer } },
      },
    ],
  });
}
const BODIES = [
  s3Body('uploads/a.pdf', '0055AED6DCD90281E5'),
  s3Body('uploads/b.pdf', '0055AED6DCD90281E6'),
  s3Body('uploads/c.pdf', '0055AED6DCD90281E7'),
];

async function total(sqs: SQSClient, url: string): Promise<number> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(out.Attributes?.ApproximateNumberOfMessages) +
    Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible)
  );
}

describeTwin('redrive through the twin', () => {
  let tw: TwinWorld;
  let sqs: SQSClient;
  let run: DistRun;

  beforeAll(async () => {
    tw = await startTwinWorld({ fleetSize: 2, messages: 0 }, { initialWorker: 'fixed' });
    sqs = worldClients(tw.moto.endpoint).sqs;
    for (const body of BODIES) {
      await sqs.send(new SendMessageCommand({ QueueUrl: tw.world.dlqUrl, MessageBody: body }));
    }
    const pre = await runDist({ mode: 'preflight', 'queue-name': WORLD.queueName }, tw.env);
    if (pre.code !== 0) throw new Error(`preflight failed: ${pre.stdout}\n${pre.stderr}`);
    // The preflight record shows no verify: the redrive is refused unless forced (unit-tested);
    // forced here, and the summary says so.
    // The watch after the move is verify-minutes long (at most 5): one minute, read every 10 s.
    run = await runDist(
      {
        mode: 'redrive',
        record: pre.outputs.record,
        'redrive-force': 'true',
        'redrive-rate': '10',
        'poll-seconds': '2',
        'verify-minutes': '1',
        'sample-seconds': '10',
      },
      tw.env,
      { timeoutMs: 240_000 },
    );
  }, TIMEOUT);
  afterAll(async () => {
    await tw?.stop();
  }, TIMEOUT);

  it(
    'moves every DLQ message back to the source queue, where the fixed workers delete them',
    async () => {
      if (run.code !== 0) process.stderr.write(`${run.summary}\n${run.stderr}\n`);
      expect(run.code).toBe(0);
      expect(run.outputs.verdict).toBe('pass');
      const record = JSON.parse(run.outputs.record) as DeploymentRecord;
      expect(record.redrive).toMatchObject({
        sampled: 3,
        s3Events: 3,
        forced: true,
        status: 'COMPLETED',
        moved: 3,
      });
      expect(await total(sqs, tw.world.dlqUrl)).toBe(0);
      // The workers run the fix: what was moved is processed and deleted, not sent around again.
      const deadline = Date.now() + 60_000;
      while ((await total(sqs, tw.world.queueUrl)) > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1000));
      }
      expect(await total(sqs, tw.world.queueUrl)).toBe(0);
      expect(run.summary).toMatch(/forced/i);
    },
    TIMEOUT,
  );
});
