// EC2 gateway: fleet discovery (every reservation, every page) and the deployment tags.
import { CreateTagsCommand, DescribeInstancesCommand, type Filter } from '@aws-sdk/client-ec2';
import type { FleetInstance } from '../logic/fleet.js';
import type { AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

/** Running instances matching the filters. The runbook read only Reservations[0]; we read all. */
export async function describeRunningInstances(
  api: AwsApi,
  clients: AwsClients,
  filters: Filter[],
): Promise<FleetInstance[]> {
  const all: FleetInstance[] = [];
  const allFilters = [...filters, { Name: 'instance-state-name', Values: ['running'] }];
  let token: string | undefined;
  let pages = 0;
  do {
    const out = await api.call('ec2:DescribeInstances', () =>
      clients.ec2.send(
        new DescribeInstancesCommand({ Filters: allFilters, MaxResults: 1000, NextToken: token }),
      ),
    );
    for (const reservation of out.Reservations ?? []) {
      for (const i of reservation.Instances ?? []) {
        // The filter already asks for running; the state check guards against an API that ignores it.
        if (!i.InstanceId || (i.State?.Name && i.State.Name !== 'running')) continue;
        all.push({
          id: i.InstanceId,
          privateIp: i.PrivateIpAddress,
          zone: i.Placement?.AvailabilityZone,
          launchTime: i.LaunchTime ? new Date(i.LaunchTime).toISOString() : undefined,
          name: i.Tags?.find((t) => t.Key === 'Name')?.Value,
        });
      }
    }
    token = out.NextToken;
    pages++;
    // A bound on pages: 1,000 pages of up to 1,000 instances is far past any fleet we serve.
  } while (token && pages < 1000);
  return all;
}

/** Tags instances (up to 1,000 ids per call, as EC2 allows). */
export async function tagInstances(
  api: AwsApi,
  clients: AwsClients,
  ids: string[],
  tags: Record<string, string>,
): Promise<void> {
  const Tags = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
  for (let i = 0; i < ids.length; i += 1000) {
    const Resources = ids.slice(i, i + 1000);
    await api.call('ec2:CreateTags', () => clients.ec2.send(new CreateTagsCommand({ Resources, Tags })));
  }
}
