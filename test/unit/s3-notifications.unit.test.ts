// GetBucketNotificationConfiguration as S3 answers it, parsed by the real SDK (a stand-in HTTP
// handler returns the response body; aws-sdk-client-mock would skip the XML parsing). Response
// syntax: https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketNotificationConfiguration.html
// — QueueConfiguration (Id, Queue, Event, Filter/S3Key/FilterRule), TopicConfiguration (Topic), and
// an EventBridgeConfiguration element, empty, when EventBridge delivery is on.
import { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { AwsApi } from '../../src/aws/api.js';
import type { AwsClients } from '../../src/aws/clients.js';
import { getBucketNotifications } from '../../src/aws/s3.js';

function clientsAnswering(xml: string): AwsClients {
  const s3 = new S3Client({
    region: 'ap-northeast-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    forcePathStyle: true,
    maxAttempts: 1,
    requestHandler: {
      handle: async () => ({
        response: {
          statusCode: 200,
          headers: { 'content-type': 'application/xml' },
          body: Readable.from([Buffer.from(xml)]),
        },
      }),
    },
  });
  return { s3 } as unknown as AwsClients;
}

const body = (extra: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>
<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <QueueConfiguration>
    <Id>uploads-to-processing</Id>
    <Queue>arn:aws:sqs:ap-northeast-1:123456789012:file-processing-queue-production</Queue>
    <Event>s3:ObjectCreated:*</Event>
    <Filter><S3Key><FilterRule><Name>Prefix</Name><Value>uploads/</Value></FilterRule></S3Key></Filter>
  </QueueConfiguration>
  <TopicConfiguration>
    <Id>fanout</Id>
    <Topic>arn:aws:sns:ap-northeast-1:123456789012:uploads-fanout</Topic>
    <Event>s3:ObjectRemoved:*</Event>
  </TopicConfiguration>
  ${extra}
</NotificationConfiguration>`;

describe('getBucketNotifications', () => {
  const api = new AwsApi(async () => undefined);
  it('reads the configurations, and EventBridge delivery from its empty element', async () => {
    for (const element of [
      '<EventBridgeConfiguration/>',
      '<EventBridgeConfiguration></EventBridgeConfiguration>',
    ]) {
      const n = await getBucketNotifications(
        api,
        clientsAnswering(body(element)),
        'cis-filesearch-storage-production',
      );
      expect(n.eventBridge).toBe(true);
      expect(n.configs).toEqual([
        {
          id: 'uploads-to-processing',
          kind: 'queue',
          target: 'arn:aws:sqs:ap-northeast-1:123456789012:file-processing-queue-production',
          events: ['s3:ObjectCreated:*'],
          prefix: 'uploads/',
          suffix: '',
        },
        {
          id: 'fanout',
          kind: 'topic',
          target: 'arn:aws:sns:ap-northeast-1:123456789012:uploads-fanout',
          events: ['s3:ObjectRemoved:*'],
          prefix: '',
          suffix: '',
        },
      ]);
    }
  });
  it('without the element, EventBridge delivery is off', async () => {
    const n = await getBucketNotifications(
      api,
      clientsAnswering(body('')),
      'cis-filesearch-storage-production',
    );
    expect(n.eventBridge).toBe(false);
  });
});
