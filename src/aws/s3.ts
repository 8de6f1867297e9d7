// S3 gateway: the bucket's event notifications, and the artifact upload.
import {
  GetBucketNotificationConfigurationCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import type { NotificationConfig } from '../observed.js';
import type { AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

type FilterRules = { Name?: string; Value?: string }[] | undefined;

function keyFilter(rules: FilterRules): { prefix: string; suffix: string } {
  let prefix = '';
  let suffix = '';
  for (const r of rules ?? []) {
    // S3 reports rule names as "Prefix"/"Suffix" or lower case depending on how they were written.
    const name = (r.Name ?? '').toLowerCase();
    if (name === 'prefix') prefix = r.Value ?? '';
    if (name === 'suffix') suffix = r.Value ?? '';
  }
  return { prefix, suffix };
}

export interface BucketNotifications {
  configs: NotificationConfig[];
  eventBridge: boolean;
}

export async function getBucketNotifications(
  api: AwsApi,
  clients: AwsClients,
  bucket: string,
): Promise<BucketNotifications> {
  const out = await api.call('s3:GetBucketNotification', () =>
    clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket })),
  );
  const configs: NotificationConfig[] = [];
  for (const q of out.QueueConfigurations ?? []) {
    configs.push({
      id: q.Id ?? '(no id)',
      kind: 'queue',
      target: q.QueueArn ?? '',
      events: q.Events ?? [],
      ...keyFilter(q.Filter?.Key?.FilterRules),
    });
  }
  for (const t of out.TopicConfigurations ?? []) {
    configs.push({
      id: t.Id ?? '(no id)',
      kind: 'topic',
      target: t.TopicArn ?? '',
      events: t.Events ?? [],
      ...keyFilter(t.Filter?.Key?.FilterRules),
    });
  }
  for (const f of out.LambdaFunctionConfigurations ?? []) {
    configs.push({
      id: f.Id ?? '(no id)',
      kind: 'function',
      target: f.LambdaFunctionArn ?? '',
      events: f.Events ?? [],
      ...keyFilter(f.Filter?.Key?.FilterRules),
    });
  }
  return { configs, eventBridge: out.EventBridgeConfiguration !== undefined };
}

export async function putArtifact(
  api: AwsApi,
  clients: AwsClients,
  bucket: string,
  key: string,
  body: Buffer,
  sha256Hex: string,
): Promise<void> {
  await api.call('s3:PutObject', () =>
    clients.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        // S3 verifies the upload against this checksum and rejects a corrupted body.
        ChecksumSHA256: Buffer.from(sha256Hex, 'hex').toString('base64'),
        Metadata: { sha256: sha256Hex },
      }),
    ),
  );
}

/** Size of an existing object, or undefined when it is not there. */
export async function headObject(
  api: AwsApi,
  clients: AwsClients,
  bucket: string,
  key: string,
): Promise<{ size: number; sha256?: string } | undefined> {
  try {
    const out = await api.call('s3:GetObject', () =>
      clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })),
    );
    return { size: out.ContentLength ?? 0, sha256: out.Metadata?.sha256 };
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || (e as { name?: string }).name === 'NotFound') return undefined;
    throw e;
  }
}
