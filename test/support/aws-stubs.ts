// Named AWS responses shared by the unit tests (as aws-actions/configure-aws-credentials keeps its
// named input and response sets in one place): one spelling of each answer, shaped as the API
// reference gives it, instead of a hand-written copy in every test file.
import { DescribeInstancesCommand, type EC2Client, type Filter, type Instance } from '@aws-sdk/client-ec2';
import type { InstanceStateName } from '@aws-sdk/client-ec2';
import type {
  AutoScalingGroup,
  Instance as GroupInstance,
  LifecycleState,
} from '@aws-sdk/client-auto-scaling';
import type { AwsClientStub } from 'aws-sdk-client-mock';

/**
 * One instance as DescribeInstances lists it: its id and state, plus whatever else a test needs
 * (tags, image, addresses). Only the fields given are present, as in a real answer's sparse items.
 */
export function ec2Instance(
  id: string,
  state: InstanceStateName = 'running',
  more: Partial<Instance> = {},
): Instance {
  return { InstanceId: id, State: { Name: state }, ...more };
}

/**
 * DescribeInstances' answer: `Reservations`, each with its `Instances`, and `NextToken` only while
 * more pages follow ("This value is null when there are no more items to return":
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html). Here all
 * instances sit in one reservation, the shape of a fleet launched by one request.
 */
export function instancesAnswer(instances: Instance[], nextToken?: string) {
  return {
    Reservations: [{ Instances: instances }],
    ...(nextToken === undefined ? {} : { NextToken: nextToken }),
  };
}

/** The answer for a fleet whose instances are all running, in the order given. */
export function runningFleetAnswer(ids: readonly string[], more: Partial<Instance> = {}) {
  return instancesAnswer(ids.map((id) => ec2Instance(id, 'running', more)));
}

/** Every DescribeInstances call answers the running fleet `ids` (one page, one reservation). */
export function stubRunningFleet(
  ec2: AwsClientStub<EC2Client>,
  ids: readonly string[],
  more: Partial<Instance> = {},
): void {
  ec2.on(DescribeInstancesCommand).resolves(runningFleetAnswer(ids, more));
}

/**
 * Whether an instance passes a DescribeInstances request's filters as EC2 applies them: every
 * filter must match, a filter matches when any of its values does; `instance-id`,
 * `instance-state-name` and `tag:KEY` are the filters the action sends.
 */
export function matchesFilters(instance: Instance, filters: readonly Filter[]): boolean {
  return filters.every((f) => {
    const values = f.Values ?? [];
    if (f.Name === 'instance-id') return values.includes(instance.InstanceId ?? '');
    if (f.Name === 'instance-state-name') return values.includes(instance.State?.Name ?? '');
    if (f.Name?.startsWith('tag:')) {
      const key = f.Name.slice(4);
      return (instance.Tags ?? []).some((t) => t.Key === key && values.includes(t.Value ?? ''));
    }
    return true;
  });
}

/**
 * A fleet worker as DescribeInstances lists it with its details: private address, zone, launch
 * time and the Name tag the default instance-filters select (tag:Name=cis-file-processor).
 */
export function workerInstance(id: string, state: InstanceStateName = 'running'): Instance {
  return ec2Instance(id, state, {
    PrivateIpAddress: '10.0.0.1',
    Placement: { AvailabilityZone: 'ap-northeast-1a' },
    LaunchTime: new Date('2026-11-01T00:00:00Z'),
    Tags: [{ Key: 'Name', Value: 'cis-file-processor' }],
  });
}

/**
 * A group as DescribeAutoScalingGroups lists it, with the members API_AutoScalingGroup marks
 * required (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_AutoScalingGroup.html):
 * three to six workers in one zone, EC2 health checks; `more` sets the template, instances, etc.
 */
export function asgGroup(name: string, more: Partial<AutoScalingGroup> = {}): AutoScalingGroup {
  return {
    AutoScalingGroupName: name,
    MinSize: 3,
    MaxSize: 6,
    DesiredCapacity: 3,
    DefaultCooldown: 300,
    AvailabilityZones: ['ap-northeast-1a'],
    HealthCheckType: 'EC2',
    CreatedTime: new Date('2026-01-01T00:00:00Z'),
    ...more,
  };
}

/**
 * One of a group's instances, with the members API_Instance marks required
 * (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_Instance.html).
 */
export function asgInstance(
  id: string,
  lifecycle: LifecycleState = 'InService',
  more: Partial<GroupInstance> = {},
): GroupInstance {
  return {
    InstanceId: id,
    AvailabilityZone: 'ap-northeast-1a',
    LifecycleState: lifecycle,
    HealthStatus: 'Healthy',
    ProtectedFromScaleIn: false,
    ...more,
  };
}
