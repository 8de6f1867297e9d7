// The client notifications sent, not only shown: preflight with notify-topic-arn against
// moto_server's SNS. An SQS queue subscribed to the topic (not raw) receives the SNS envelope,
// {"Type":"Notification","Subject":…,"Message":…,"MessageId":…}, as real SNS delivers it to SQS
// (https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html); e-mail delivery
// itself is not something the emulator can show.
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { motoAvailable, motoEnv, startMoto, type Moto } from '../support/moto.js';
import { runDist } from '../support/run-dist.js';
import { seedWorld, WORLD, worldClients } from '../support/world.js';

const describeMoto = motoAvailable() ? describe : describe.skip;

describeMoto('notify-topic-arn against moto_server', () => {
  let moto: Moto;
  let topicArn: string;
  let inboxUrl: string;

  beforeAll(async () => {
    moto = await startMoto();
    await seedWorld(moto.endpoint, { fleetSize: 2, messages: 5 });
    const sns = new SNSClient({
      region: WORLD.region,
      endpoint: moto.endpoint,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const { sqs } = worldClients(moto.endpoint);
    topicArn = (await sns.send(new CreateTopicCommand({ Name: 'file-processing-client-notifications' })))
      .TopicArn!;
    inboxUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'client-inbox' }))).QueueUrl!;
    const inboxArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: inboxUrl, AttributeNames: ['QueueArn'] }))
    ).Attributes!.QueueArn!;
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: inboxArn }));
  }, 60_000);
  afterAll(async () => moto?.stop());

  it('publishes the before notification, Japanese then English, with the runbook’s subject, and records the id', async () => {
    const run = await runDist(
      {
        mode: 'preflight',
        'queue-name': WORLD.queueName,
        'ssm-check': 'false',
        'notify-topic-arn': topicArn,
      },
      motoEnv(moto.endpoint),
    );
    expect(run.code).toBe(0);
    const { sqs } = worldClients(moto.endpoint);
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: inboxUrl, MaxNumberOfMessages: 10 }));
    expect(got.Messages).toHaveLength(1);
    const envelope = JSON.parse(got.Messages![0].Body!) as {
      Subject: string;
      Message: string;
      MessageId: string;
    };
    expect(envelope.Subject).toBe(
      // With the English subject it would be 104 characters: SNS allows fewer than 100.
      '【緊急メンテナンスのお知らせ】ファイル処理システムの修正適用について',
    );
    expect(envelope.Subject.length).toBeLessThan(100);
    expect(envelope.Message).toBe(run.outputs['notification-before']);
    expect(envelope.Message.indexOf('件名:')).toBeLessThan(envelope.Message.indexOf('Subject:'));
    // The summary names the message SNS accepted.
    expect(run.summary).toContain('Client notifications sent');
    expect(run.summary).toContain(`| before | sent | ${envelope.MessageId} |`);
  }, 60_000);

  it('fails loudly but not the step when the topic does not exist', async () => {
    const missing = topicArn.replace(/[^:]+$/, 'no-such-topic');
    const run = await runDist(
      { mode: 'preflight', 'queue-name': WORLD.queueName, 'ssm-check': 'false', 'notify-topic-arn': missing },
      motoEnv(moto.endpoint),
    );
    expect(run.code).toBe(0);
    expect(run.outputs.verdict).toBe('pass');
    expect(run.stdout).toMatch(/::warning::The before notification was NOT sent to arn:aws:sns:/);
    expect(run.stdout).toMatch(/::error::The before notification was NOT sent to arn:aws:sns:/);
    expect(run.summary).toContain('| before | **not sent**:');
  }, 60_000);
});
