// The bundled action's redrive mode against moto_server, review only (dry-run): the DLQ holds S3
// event messages (one object event twice), an s3:TestEvent and a body that is no S3 event; the
// review counts them and leaves every message in the DLQ (same count, same bodies afterwards).
//
// moto implements no message move task (StartMessageMoveTask, ListMessageMoveTasks,
// CancelMessageMoveTask), so the redrive itself is proven in test/unit/redrive.unit.test.ts with
// mocks shaped as the SQS API reference; a redrive that empties the DLQ needs the twin endpoint.
// This test waits, bounded, for the review's 30-second visibility timeout to pass: that is the real
// behaviour being shown (the messages come back on their own).
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { existsSync, readFileSync } from 'node:fs';
import { motoAvailable, motoEnv, startMoto, type Moto } from '../support/moto.js';
import { runDist, type DistRun } from '../support/run-dist.js';
import { seedWorld, WORLD, worldClients, type SeededWorld } from '../support/world.js';

const enabled = motoAvailable();
// Until the bundle is rebuilt with mode redrive, there is nothing to run (ACTION_DIST may name one).
const bundle = process.env.ACTION_DIST ?? 'dist/index.js';
const bundled = existsSync(bundle) && readFileSync(bundle, 'utf8').includes('redrive-sample');
const describeMoto = enabled && bundled ? describe : describe.skip;

function s3Body(key: string, sequencer: string): string {
  return JSON.stringify({
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: WORLD.region,
        eventTime: '2026-11-28T22:00:00.000Z',
        eventName: 'ObjectCreated:Put',
        s3: {
          bucket: { name: WORLD.bucket },
          object: { key, size: 2048, sequencer },
        },
      },
    ],
  });
}
const BODIES = [
  s3Body('uploads/a.pdf', '0055AED6DCD90281E5'),
  s3Body('uploads/a.pdf', '0055AED6DCD90281E5'),
  s3Body('uploads/b%20c.pdf', '0055AED6DCD90281E6'),
  JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: WORLD.bucket }),
  'not an event',
];

async function depth(sqs: SQSClient, url: string): Promise<{ visible: number; inFlight: number }> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(out.Attributes?.ApproximateNumberOfMessages),
    inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible),
  };
}

describeMoto('redrive on moto_server: review only', () => {
  let moto: Moto;
  let world: SeededWorld;
  let run: DistRun;
  let sqs: SQSClient;

  beforeAll(async () => {
    moto = await startMoto();
    const env = motoEnv(moto.endpoint);
    world = await seedWorld(moto.endpoint, { fleetSize: 1, messages: 3 });
    sqs = worldClients(moto.endpoint).sqs;
    for (const body of BODIES) {
      await sqs.send(new SendMessageCommand({ QueueUrl: world.dlqUrl, MessageBody: body }));
    }
    const preflight = await runDist(
      { mode: 'preflight', 'queue-name': WORLD.queueName, 'ssm-check': 'false' },
      env,
    );
    if (preflight.code !== 0) throw new Error(`preflight failed: ${preflight.stdout}\n${preflight.stderr}`);
    run = await runDist({ mode: 'redrive', record: preflight.outputs.record, 'dry-run': 'true' }, env);
  }, 120_000);

  afterAll(async () => {
    await moto?.stop();
  });

  it('passes and keeps the review’s counts in the record', () => {
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.outputs.verdict).toBe('pass');
    const record = JSON.parse(run.outputs.record);
    expect(record.redrive).toMatchObject({
      sampled: 5,
      dlqDepth: 5,
      s3Events: 3,
      duplicates: 1,
      testEvents: 1,
      notS3: 1,
      dryRun: true,
    });
    // The preflight record has no rollout: when the fleet ran the fix is not known.
    expect(record.redrive.sentBeforeFix).toBeUndefined();
    expect(run.summary).toContain('dry-run: review only, no message move task was started.');
    expect(run.summary).toContain('uploads/b c.pdf');
  });

  it('leaves every message in the DLQ: same count, the same bodies once the visibility timeout passes', async () => {
    const now = await depth(sqs, world.dlqUrl);
    expect(now.visible + now.inFlight).toBe(BODIES.length);
    const deadline = Date.now() + 45_000;
    let back = now;
    while (back.visible < BODIES.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      back = await depth(sqs, world.dlqUrl);
    }
    expect(back).toEqual({ visible: BODIES.length, inFlight: 0 });
    const seen: string[] = [];
    for (let i = 0; i < 5 && seen.length < BODIES.length; i++) {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: world.dlqUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60 }),
      );
      seen.push(...(out.Messages ?? []).map((m) => m.Body ?? ''));
    }
    expect(seen.sort()).toEqual([...BODIES].sort());
  }, 60_000);
});
