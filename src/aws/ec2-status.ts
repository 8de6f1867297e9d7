// EC2 gateway for instance states by id: is each recorded worker still running?
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import type { AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

// An instance-id filter takes at most 200 values. A filter (unlike InstanceIds) does not fail the
// whole call when one id no longer exists: a vanished instance is simply absent from the answer.
const IDS_PER_FILTER = 200;

/**
 * The state name (running, stopped, terminated, …) of each id. An id EC2 no longer knows is
 * absent from the map.
 */
export async function describeInstanceStates(
  api: AwsApi,
  clients: AwsClients,
  instanceIds: string[],
): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  for (let i = 0; i < instanceIds.length; i += IDS_PER_FILTER) {
    const Filters = [{ Name: 'instance-id', Values: instanceIds.slice(i, i + IDS_PER_FILTER) }];
    let token: string | undefined;
    let pages = 0;
    do {
      const out = await api.call('ec2:DescribeInstances', () =>
        clients.ec2.send(new DescribeInstancesCommand({ Filters, MaxResults: 1000, NextToken: token })),
      );
      for (const reservation of out.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) {
          if (instance.InstanceId) states.set(instance.InstanceId, instance.State?.Name ?? 'unknown');
        }
      }
      token = out.NextToken;
      pages++;
      // 200 ids fit on one page; the bound only guards against an API that keeps paging.
    } while (token && pages < 10);
  }
  return states;
}

/** The ids, in their order, whose state is not running (including ids EC2 no longer knows). */
export function notRunning(instanceIds: string[], states: Map<string, string>): string[] {
  return instanceIds.filter((id) => states.get(id) !== 'running');
}
