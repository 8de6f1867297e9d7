// Duplicate delivery paths against moto_server: the SNS path through the bundle (preflight), and the
// EventBridge gateways against moto's events API.
//
// What moto cannot show, and real S3 does: S3 refuses two overlapping configurations of one bucket
// whatever their destinations, so the overlapping queue + topic configurations seeded below exist
// only on the emulator (on S3 the SNS path duplicates an EventBridge rule or another bucket instead,
// covered in test/unit/preflight.unit.test.ts). moto 5 also drops EventBridgeConfiguration from
// GetBucketNotificationConfiguration (S3 returns the element, and the SDK reads it as {}: unit tests),
// so the EventBridge path cannot be driven end to end here; its gateways are.
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import {
  GetBucketNotificationConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
} from '@aws-sdk/client-s3';
import { AwsApi } from '../../src/aws/api.js';
import { createClients } from '../../src/aws/clients.js';
import { describeRule, listRuleNamesByTarget } from '../../src/aws/eventbridge.js';
import { listTopicSubscriptions } from '../../src/aws/sns.js';
import { s3EventsOfRule } from '../../src/logic/notifications.js';
import { motoAvailable, motoEnv, startMoto, type Moto } from '../support/moto.js';
import { runDist } from '../support/run-dist.js';
import { seedWorld, WORLD, worldClients, type SeededWorld } from '../support/world.js';

const enabled = motoAvailable();
const describeMoto = enabled ? describe : describe.skip;

function clientConfig(endpoint: string) {
  return {
    region: WORLD.region,
    endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
}

describeMoto('notification paths against moto_server', () => {
  let moto: Moto;
  let world: SeededWorld;
  let topicArn: string;
  let otherTopicArn: string;

  beforeAll(async () => {
    moto = await startMoto();
    world = await seedWorld(moto.endpoint, { fleetSize: 2, messages: 0, inFlight: 0 });
    const sns = new SNSClient(clientConfig(moto.endpoint));
    topicArn = (await sns.send(new CreateTopicCommand({ Name: 'uploads-fanout' }))).TopicArn ?? '';
    otherTopicArn = (await sns.send(new CreateTopicCommand({ Name: 'audit' }))).TopicArn ?? '';
    // Raw delivery: the queue gets the S3 event itself, the same body as the direct configuration's.
    await sns.send(
      new SubscribeCommand({
        TopicArn: topicArn,
        Protocol: 'sqs',
        Endpoint: world.queueArn,
        Attributes: { RawMessageDelivery: 'true' },
      }),
    );
    await sns.send(
      new SubscribeCommand({ TopicArn: otherTopicArn, Protocol: 'email', Endpoint: 'ops@example.com' }),
    );
  }, 60_000);
  afterAll(async () => moto?.stop());

  async function notify(topicConfigs: { Id: string; TopicArn: string }[]) {
    const { s3 } = worldClients(moto.endpoint);
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: WORLD.bucket,
        NotificationConfiguration: {
          QueueConfigurations: [
            {
              Id: 'uploads-to-processing',
              QueueArn: world.queueArn,
              Events: ['s3:ObjectCreated:*'],
              Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'uploads/' }] } },
            },
          ],
          TopicConfigurations: topicConfigs.map((t) => ({ ...t, Events: ['s3:ObjectCreated:Put' as const] })),
        },
      }),
    );
  }
  const preflight = () =>
    runDist(
      { mode: 'preflight', 'queue-name': WORLD.queueName, bucket: WORLD.bucket, 'ssm-check': 'false' },
      motoEnv(moto.endpoint),
    );

  it('fails when the queue also subscribes to the topic of an overlapping topic configuration', async () => {
    await notify([{ Id: 'fanout', TopicArn: topicArn }]);
    const run = await preflight();
    expect(run.stderr).not.toMatch(/TypeError|ReferenceError/);
    expect(run.code).toBe(1);
    expect(run.outputs.verdict).toBe('fail');
    expect(run.stdout).toContain(
      `queue configuration uploads-to-processing and topic configuration fanout via SNS topic ${topicArn} both deliver s3:ObjectCreated:Put to the queue`,
    );
    expect(run.summary).toContain('Paths of');
  }, 60_000);

  it('passes when the topic has no SQS subscription to the queue', async () => {
    await notify([{ Id: 'audit', TopicArn: otherTopicArn }]);
    const run = await preflight();
    expect(run.code).toBe(0);
    expect(run.outputs.verdict).toBe('pass');
    expect(run.stdout).toContain(
      'reaches file-processing-queue-production by: queue configuration uploads-to-processing',
    );
  }, 60_000);

  it('the SNS and EventBridge gateways read moto’s answers; moto drops EventBridgeConfiguration', async () => {
    const env = motoEnv(moto.endpoint);
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const clients = createClients(WORLD.region, 'test');
      const api = new AwsApi(async () => undefined);
      const subs = await listTopicSubscriptions(api, clients, topicArn);
      expect(subs).toEqual([expect.objectContaining({ protocol: 'sqs', endpoint: world.queueArn })]);

      const events = new EventBridgeClient(clientConfig(moto.endpoint));
      await events.send(
        new PutRuleCommand({
          Name: 'uploads-to-workers',
          EventPattern: JSON.stringify({
            source: ['aws.s3'],
            'detail-type': ['Object Created'],
            detail: { bucket: { name: [WORLD.bucket] } },
          }),
          State: 'ENABLED',
        }),
      );
      await events.send(
        new PutTargetsCommand({
          Rule: 'uploads-to-workers',
          Targets: [{ Id: 'queue', Arn: world.queueArn }],
        }),
      );
      expect(await listRuleNamesByTarget(api, clients, world.queueArn)).toEqual(['uploads-to-workers']);
      const rule = await describeRule(api, clients, 'uploads-to-workers');
      expect(rule).toMatchObject({ name: 'uploads-to-workers', state: 'ENABLED', eventBusName: 'default' });
      expect(s3EventsOfRule(rule.eventPattern, WORLD.bucket)).toEqual({
        events: ['s3:ObjectCreated:*'],
        prefix: '',
        suffix: '',
      });

      // The emulator's gap, pinned so that a moto that learns it shows up here.
      const { s3 } = worldClients(moto.endpoint);
      await s3.send(
        new PutBucketNotificationConfigurationCommand({
          Bucket: WORLD.bucket,
          NotificationConfiguration: { EventBridgeConfiguration: {} },
        }),
      );
      const got = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: WORLD.bucket }));
      expect(got.EventBridgeConfiguration).toBeUndefined();
    } finally {
      for (const k of Object.keys(env)) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  }, 60_000);
});
