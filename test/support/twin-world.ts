// The runbook's world behind the twin (twin/, a stand-in in front of moto_server): moto seeded as
// world.ts does, the twin simulating every running instance tagged Name=cis-file-processor with the
// broken worker running, and the environment that points the bundled action at the twin.
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { readFileSync } from 'node:fs';
import { startTwin, workerPath, type Twin, type TwinOptions, type WorkerKind } from '../../twin/twin.js';
import { motoEnv, startMoto, type Moto } from './moto.js';
import { seedWorld, WORLD, type SeededWorld, type WorldOptions } from './world.js';

export interface TwinWorld {
  moto: Moto;
  twin: Twin;
  world: SeededWorld;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startTwinWorld(
  worldOpts: WorldOptions = {},
  twinOpts: Partial<TwinOptions> = {},
): Promise<TwinWorld> {
  const moto = await startMoto();
  try {
    const world = await seedWorld(moto.endpoint, worldOpts);
    const twin = await startTwin({
      motoEndpoint: moto.endpoint,
      region: WORLD.region,
      instanceFilters: { 'tag:Name': [WORLD.tagName] },
      queueName: WORLD.queueName,
      ...twinOpts,
    });
    return {
      moto,
      twin,
      world,
      env: motoEnv(twin.endpoint),
      stop: async () => {
        await twin.stop();
        await moto.stop();
      },
    };
  } catch (e) {
    await moto.stop();
    throw e;
  }
}

/** A stand-in worker file, as a workspace-relative path the action can upload as its artifact. */
export function workerArtifact(kind: WorkerKind): string {
  return workerPath(kind).slice(process.cwd().length + 1);
}

export function workerBytes(kind: WorkerKind): Buffer {
  return readFileSync(workerPath(kind));
}

/**
 * Uploads keep arriving (as S3 notifications would): one message every `everyMs` through the twin,
 * so what the workers receive is fresh work, not only the seeded messages that the broken fleet
 * has already sent to the DLQ. Returns the function that stops it.
 */
export function startTraffic(tw: TwinWorld, everyMs = 500): () => Promise<void> {
  const sqs = new SQSClient({
    region: WORLD.region,
    endpoint: tw.twin.endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  let n = 0;
  let inFlight: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    const key = `uploads/traffic-${String(n++).padStart(5, '0')}.pdf`;
    inFlight = sqs
      .send(
        new SendMessageCommand({
          QueueUrl: tw.world.queueUrl,
          MessageBody: JSON.stringify({
            Records: [{ s3: { bucket: { name: WORLD.bucket }, object: { key } } }],
          }),
        }),
      )
      .catch(() => undefined);
  }, everyMs);
  return async () => {
    clearInterval(timer);
    await inFlight;
    sqs.destroy();
  };
}
