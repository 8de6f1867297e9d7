// SNS gateway: who is subscribed to a topic that the bucket notifies (a second path into the queue).
import { ListSubscriptionsByTopicCommand } from '@aws-sdk/client-sns';
import type { AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

export interface TopicSubscription {
  /** the subscription ARN, or "PendingConfirmation" / "Deleted" */
  arn: string;
  protocol: string;
  endpoint: string;
}

/** Pages are 100 subscriptions; this many pages is far past any topic a bucket would notify. */
const MAX_PAGES = 100;

/**
 * Every subscription of the topic (ListSubscriptionsByTopic, paged by NextToken; API reference:
 * https://docs.aws.amazon.com/sns/latest/api/API_ListSubscriptionsByTopic.html). An SQS subscriber
 * shows as Protocol "sqs" with the queue's ARN as Endpoint.
 */
export async function listTopicSubscriptions(
  api: AwsApi,
  clients: AwsClients,
  topicArn: string,
): Promise<TopicSubscription[]> {
  const out: TopicSubscription[] = [];
  let next: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const r = await api.call('sns:ListSubscriptionsByTopic', () =>
      clients.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: next })),
    );
    for (const s of r.Subscriptions ?? []) {
      out.push({ arn: s.SubscriptionArn ?? '', protocol: s.Protocol ?? '', endpoint: s.Endpoint ?? '' });
    }
    next = r.NextToken;
    if (!next) break;
  }
  return out;
}
