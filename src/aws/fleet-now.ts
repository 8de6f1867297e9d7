// EC2 and Auto Scaling reads for verify: the fleet as it is now (running instances matching the
// deployment's filters, with their image and deployment tag) and, when the deployment names an Auto
// Scaling group, each member's lifecycle state and launch template version. Read-only.
import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, type Filter } from '@aws-sdk/client-ec2';
import { TAG_DEPLOYMENT_ID } from '../constants.js';
import type { FleetMemberNow } from '../logic/fleet.js';
import type { AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

// A bound on pages: 1,000 pages of up to 1,000 instances is far past any fleet we serve.
const MAX_PAGES = 1000;

/** Running instances matching the filters, every reservation and every page. */
export async function describeFleetNow(
  api: AwsApi,
  clients: AwsClients,
  filters: Filter[],
): Promise<FleetMemberNow[]> {
  const found = new Map<string, FleetMemberNow>();
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
        // The filter asks for running; the check guards against an API that ignores it.
        if (!i.InstanceId || (i.State?.Name && i.State.Name !== 'running')) continue;
        found.set(i.InstanceId, {
          id: i.InstanceId,
          imageId: i.ImageId,
          deploymentTag: i.Tags?.find((t) => t.Key === TAG_DEPLOYMENT_ID)?.Value,
        });
      }
    }
    token = out.NextToken;
    pages++;
  } while (token && pages < MAX_PAGES);
  return [...found.values()];
}

export interface GroupMember {
  /** Required in API_Instance; absent only from an answer that left it out (then not judged on it). */
  lifecycle?: string;
  launchTemplateVersion?: string;
}

/**
 * The group's members by instance id (DescribeAutoScalingGroups Instances[]: LifecycleState and
 * LaunchTemplate.Version, API_Instance), or undefined when no group has that name.
 */
export async function describeGroupMembers(
  api: AwsApi,
  clients: AwsClients,
  asgName: string,
): Promise<Map<string, GroupMember> | undefined> {
  const out = await api.call('autoscaling:DescribeAutoScalingGroups', () =>
    clients.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [asgName] })),
  );
  const group = out.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === asgName);
  if (!group) return undefined;
  const members = new Map<string, GroupMember>();
  for (const i of group.Instances ?? []) {
    if (!i.InstanceId) continue;
    members.set(i.InstanceId, {
      lifecycle: i.LifecycleState,
      launchTemplateVersion: i.LaunchTemplate?.Version,
    });
  }
  return members;
}
