import { ListCommandsCommand, SSMClient, type Command } from '@aws-sdk/client-ssm';
import { motoEnv, startMoto, type Moto } from './moto.js';
import { runDist, type DistRun } from './run-dist.js';
// Seeds the runbook's world into an emulator (moto_server): the queue and its DLQ (whose name is
// not derivable from the queue's), messages in flight, the bucket and its notification, a tagged
// fleet with stopped and unrelated instances beside it, and a launch template.
import {
  CreateLaunchTemplateCommand,
  DescribeImagesCommand,
  EC2Client,
  RunInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { CreateBucketCommand, PutBucketNotificationConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';

export const WORLD = {
  region: 'ap-northeast-1',
  queueName: 'file-processing-queue-production',
  dlqName: 'cis-worker-failures',
  bucket: 'cis-filesearch-storage-production',
  tagName: 'cis-file-processor',
  launchTemplateName: 'cis-file-processor-lt',
};

export interface WorldOptions {
  fleetSize?: number;
  messages?: number;
  inFlight?: number;
  duplicateNotification?: boolean;
  visibilityTimeout?: number;
}

export interface SeededWorld {
  queueUrl: string;
  queueArn: string;
  dlqUrl: string;
  dlqArn: string;
  instanceIds: string[];
  stoppedIds: string[];
  otherIds: string[];
}

export function worldClients(endpoint: string) {
  const config = {
    region: WORLD.region,
    endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  return {
    sqs: new SQSClient(config),
    s3: new S3Client({ ...config, forcePathStyle: true }),
    ec2: new EC2Client(config),
  };
}

async function runTagged(ec2: EC2Client, imageId: string, count: number, name: string): Promise<string[]> {
  const ids: string[] = [];
  for (let left = count; left > 0; left -= 500) {
    const out = await ec2.send(
      new RunInstancesCommand({
        ImageId: imageId,
        MinCount: Math.min(500, left),
        MaxCount: Math.min(500, left),
        InstanceType: 't3.small',
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: name }] }],
      }),
    );
    ids.push(...(out.Instances ?? []).map((i) => i.InstanceId ?? ''));
  }
  return ids;
}

export async function seedWorld(endpoint: string, opts: WorldOptions = {}): Promise<SeededWorld> {
  const { sqs, s3, ec2 } = worldClients(endpoint);
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: WORLD.dlqName }));
  const dlqUrl = dlq.QueueUrl ?? '';
  const dlqArn =
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] })))
      .Attributes?.QueueArn ?? '';
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: WORLD.queueName,
      Attributes: {
        VisibilityTimeout: String(opts.visibilityTimeout ?? 300),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: '3' }),
      },
    }),
  );
  const queueUrl = queue.QueueUrl ?? '';
  const queueArn =
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] })))
      .Attributes?.QueueArn ?? '';

  await s3.send(
    new CreateBucketCommand({
      Bucket: WORLD.bucket,
      CreateBucketConfiguration: { LocationConstraint: 'ap-northeast-1' },
    }),
  );
  const queueConfigs = [
    {
      Id: 'uploads-to-processing',
      QueueArn: queueArn,
      Events: ['s3:ObjectCreated:*' as const],
      Filter: { Key: { FilterRules: [{ Name: 'prefix' as const, Value: 'uploads/' }] } },
    },
  ];
  if (opts.duplicateNotification) {
    queueConfigs.push({
      Id: 'legacy-put-notification',
      QueueArn: queueArn,
      Events: ['s3:ObjectCreated:Put' as unknown as 's3:ObjectCreated:*'],
      Filter: { Key: { FilterRules: [{ Name: 'prefix' as const, Value: 'uploads/' }] } },
    });
  }
  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: WORLD.bucket,
      NotificationConfiguration: { QueueConfigurations: queueConfigs },
    }),
  );

  // Setting the notification makes S3 (and moto) send an s3:TestEvent to the queue; the seeded
  // world starts from a known depth, so it is taken off again.
  for (let tries = 0; tries < 10; tries++) {
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
    const tests = (got.Messages ?? []).filter((m) => (m.Body ?? '').includes('s3:TestEvent'));
    for (const m of tests)
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    if (tests.length > 0) break;
  }

  const messages = opts.messages ?? 25;
  for (let i = 0; i < messages; i += 10) {
    const entries = Array.from({ length: Math.min(10, messages - i) }, (_, k) => ({
      Id: `m${i + k}`,
      MessageBody: JSON.stringify({
        Records: [{ s3: { bucket: { name: WORLD.bucket }, object: { key: `uploads/file-${i + k}.pdf` } } }],
      }),
    }));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  }
  // Messages in flight: received and not deleted, as the buggy workers leave them.
  // SQS may return fewer than asked for, so receive until the count is reached (bounded).
  let left = Math.min(opts.inFlight ?? 5, messages);
  for (let tries = 0; left > 0 && tries < 100; tries++) {
    const got = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: Math.min(10, left) }),
    );
    left -= got.Messages?.length ?? 0;
  }

  const images = await ec2.send(new DescribeImagesCommand({}));
  const imageId = images.Images?.[0]?.ImageId ?? 'ami-12c6146b';
  const instanceIds = await runTagged(ec2, imageId, opts.fleetSize ?? 3, WORLD.tagName);
  const stoppedIds = await runTagged(ec2, imageId, 1, WORLD.tagName);
  await ec2.send(new StopInstancesCommand({ InstanceIds: stoppedIds }));
  const otherIds = await runTagged(ec2, imageId, 2, 'unrelated-service');
  await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: WORLD.launchTemplateName,
      LaunchTemplateData: { ImageId: imageId, InstanceType: 't3.small' },
    }),
  );
  return { queueUrl, queueArn, dlqUrl, dlqArn, instanceIds: instanceIds.sort(), stoppedIds, otherIds };
}

/**
 * A canary step as the emulator tests run it: the workspace's package.json as the artifact
 * (uploaded to the world's bucket), one check right after the restart, and no health patterns
 * (moto returns no command output, so the canary is judged on the scripts' exit codes).
 */
export function quickCanaryInputs(record: string): Record<string, string> {
  return {
    mode: 'canary',
    record,
    artifact: 'package.json',
    'artifact-bucket': WORLD.bucket,
    'health-patterns': 'none',
    'canary-minutes': '0',
    'poll-seconds': '1',
  };
}

/** Every SSM command the emulator has seen (what the action sent), all pages. */
export async function listEmulatorCommands(endpoint: string): Promise<Command[]> {
  const ssm = new SSMClient({
    region: WORLD.region,
    endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const all: Command[] = [];
  let token: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const out = await ssm.send(new ListCommandsCommand({ NextToken: token }));
    all.push(...(out.Commands ?? []));
    token = out.NextToken;
    if (!token) break;
  }
  return all;
}

/** What a describe block's tests read once seededMoto's beforeAll has run. */
export interface SeededMoto {
  moto: Moto;
  world: SeededWorld;
  /** The environment that points the bundle at this moto_server. */
  env: Record<string, string>;
}

/**
 * One moto_server for a describe block: started and seeded with `opts` in beforeAll (within
 * `timeoutMs`), stopped in afterAll. Call it in the describe body; read the fields in the tests.
 */
export function seededMoto(opts: WorldOptions, timeoutMs: number): SeededMoto {
  const handle = {} as SeededMoto;
  beforeAll(async () => {
    handle.moto = await startMoto();
    handle.world = await seedWorld(handle.moto.endpoint, opts);
    handle.env = motoEnv(handle.moto.endpoint);
  }, timeoutMs);
  afterAll(async () => handle.moto?.stop());
  return handle;
}

/** The inputs every job of an emulator run shares: the seeded queue, and no SSM agent check. */
export const EMULATOR_COMMON = { 'queue-name': WORLD.queueName, 'ssm-check': 'false' };

/** The first two jobs through the bundle: preflight, then a quick canary on preflight's record. */
export async function preflightThenCanary(
  env: Record<string, string>,
): Promise<{ pre: DistRun; canary: DistRun }> {
  const pre = await runDist({ mode: 'preflight', ...EMULATOR_COMMON }, env);
  const canary = await runDist({ ...EMULATOR_COMMON, ...quickCanaryInputs(pre.outputs.record) }, env);
  return { pre, canary };
}
