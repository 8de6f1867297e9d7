// EventBridge gateway: the rules that send events to the queue. With EventBridge delivery enabled on
// the bucket, S3 sends every object event to the account's default event bus, whatever the bucket's
// notification configurations say; a rule there that targets the queue is a second delivery path.
import { DescribeRuleCommand, ListRuleNamesByTargetCommand } from '@aws-sdk/client-eventbridge';
import { pages, type AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

/**
 * Names of the default bus's rules that have `targetArn` as a target (ListRuleNamesByTarget, paged by
 * NextToken; without EventBusName it lists the default bus, the one S3 sends to; API reference:
 * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_ListRuleNamesByTarget.html).
 */
export async function listRuleNamesByTarget(
  api: AwsApi,
  clients: AwsClients,
  targetArn: string,
): Promise<string[]> {
  const names: string[] = [];
  for await (const r of pages('events:ListRuleNamesByTarget', (NextToken) =>
    api.call('events:ListRuleNamesByTarget', () =>
      clients.events.send(new ListRuleNamesByTargetCommand({ TargetArn: targetArn, NextToken })),
    ),
  )) {
    names.push(...(r.RuleNames ?? []));
  }
  return names;
}

export interface RuleDescription {
  name: string;
  arn: string;
  /** ENABLED, DISABLED or ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS */
  state: string;
  /** the event pattern as JSON text; undefined for a scheduled rule */
  eventPattern?: string;
  eventBusName: string;
}

/** DescribeRule (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DescribeRule.html). */
export async function describeRule(api: AwsApi, clients: AwsClients, name: string): Promise<RuleDescription> {
  const r = await api.call('events:DescribeRule', () =>
    clients.events.send(new DescribeRuleCommand({ Name: name })),
  );
  return {
    name: r.Name ?? name,
    arn: r.Arn ?? '',
    state: r.State ?? '',
    eventPattern: r.EventPattern,
    eventBusName: r.EventBusName ?? 'default',
  };
}
