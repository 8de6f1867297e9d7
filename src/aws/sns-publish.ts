// Publishing the client notifications to an SNS topic (its e-mail subscriptions deliver them).
// Kept apart from other SNS reads: this is the one call that sends something to people.
import { PublishCommand } from '@aws-sdk/client-sns';
import type { AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

/**
 * Publishes one message and returns its MessageId. Subject: UTF-8, no line breaks or control
 * characters, under 100 characters; Message: up to 256 KB
 * (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html). The caller shapes both.
 */
export async function publishToTopic(
  api: AwsApi,
  clients: AwsClients,
  topicArn: string,
  subject: string,
  message: string,
): Promise<string> {
  const out = await api.call('sns:Publish', () =>
    clients.sns.send(new PublishCommand({ TopicArn: topicArn, Subject: subject, Message: message })),
  );
  return out.MessageId ?? '';
}
