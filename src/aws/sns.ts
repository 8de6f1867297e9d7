// SNS gateway: who is subscribed to a topic that the bucket notifies (a second path into the queue),
// and publishing the client notifications to a topic (its e-mail subscriptions deliver them).
// Publish is the one call here that sends something to people.
import { ListSubscriptionsByTopicCommand, PublishCommand } from '@aws-sdk/client-sns';
import { pages, type AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

export interface TopicSubscription {
  /** the subscription ARN, or "PendingConfirmation" / "Deleted" */
  arn: string;
  protocol: string;
  endpoint: string;
}

/**
 * Every subscription of the topic (ListSubscriptionsByTopic, 100 a page, paged by NextToken; API
 * reference: https://docs.aws.amazon.com/sns/latest/api/API_ListSubscriptionsByTopic.html). An SQS
 * subscriber shows as Protocol "sqs" with the queue's ARN as Endpoint.
 */
export async function listTopicSubscriptions(
  api: AwsApi,
  clients: AwsClients,
  topicArn: string,
): Promise<TopicSubscription[]> {
  const out: TopicSubscription[] = [];
  for await (const r of pages('sns:ListSubscriptionsByTopic', (NextToken) =>
    api.call('sns:ListSubscriptionsByTopic', () =>
      clients.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken })),
    ),
  )) {
    for (const s of r.Subscriptions ?? []) {
      out.push({ arn: s.SubscriptionArn ?? '', protocol: s.Protocol ?? '', endpoint: s.Endpoint ?? '' });
    }
  }
  return out;
}

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
