// EC2 reads for rollback: the instances a deployment tagged before replacing their file, and the
// current state of instances a record names. Read-only; every reservation and every page is read.
import { DescribeInstancesCommand, type Filter, type Instance } from '@aws-sdk/client-ec2';
import { TAG_ARTIFACT_SHA256, TAG_BACKUP_PATH, TAG_DEPLOYMENT_ID } from '../constants.js';
import type { TaggedInstance } from '../logic/rollback-plan.js';
import type { AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

/** Every state an instance can still hold its disk in: rollback looks at all but terminated. */
export const NOT_TERMINATED = ['pending', 'running', 'shutting-down', 'stopping', 'stopped'];
// EC2 accepts up to 200 values in one filter.
const FILTER_VALUES_MAX = 200;
// A bound on pages: 1,000 pages of up to 1,000 instances is far past any fleet we serve.
const MAX_PAGES = 1000;

async function describeAll(api: AwsApi, clients: AwsClients, filters: Filter[]): Promise<Instance[]> {
  const all: Instance[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const out = await api.call('ec2:DescribeInstances', () =>
      clients.ec2.send(
        new DescribeInstancesCommand({ Filters: filters, MaxResults: 1000, NextToken: token }),
      ),
    );
    for (const reservation of out.Reservations ?? []) all.push(...(reservation.Instances ?? []));
    token = out.NextToken;
    pages++;
  } while (token && pages < MAX_PAGES);
  return all;
}

function tag(instance: Instance, key: string): string | undefined {
  return instance.Tags?.find((t) => t.Key === key)?.Value;
}

/**
 * Instances tagged with this deployment id, in any state but terminated, with their backup-path
 * tag. The deployment writes both tags before it replaces a file, so these are the instances it
 * may have touched even when its record was never written.
 */
export async function findInstancesTaggedFor(
  api: AwsApi,
  clients: AwsClients,
  deploymentId: string,
): Promise<TaggedInstance[]> {
  const instances = await describeAll(api, clients, [
    { Name: `tag:${TAG_DEPLOYMENT_ID}`, Values: [deploymentId] },
    { Name: 'instance-state-name', Values: NOT_TERMINATED },
  ]);
  const found = new Map<string, TaggedInstance>();
  for (const i of instances) {
    const state = i.State?.Name ?? 'unknown';
    // The filters already say so; the checks guard against an API that ignores a filter.
    if (!i.InstanceId || state === 'terminated' || tag(i, TAG_DEPLOYMENT_ID) !== deploymentId) continue;
    found.set(i.InstanceId, {
      id: i.InstanceId,
      state,
      backupPath: tag(i, TAG_BACKUP_PATH),
      artifactSha256: tag(i, TAG_ARTIFACT_SHA256),
    });
  }
  return [...found.values()];
}

/**
 * The current state of each instance id, terminated included; ids EC2 no longer knows are absent
 * from the map. A filter on instance-id (not InstanceIds) keeps one vanished id from failing the
 * whole call.
 */
export async function describeInstanceStates(
  api: AwsApi,
  clients: AwsClients,
  ids: string[],
): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  for (let i = 0; i < ids.length; i += FILTER_VALUES_MAX) {
    const chunk = ids.slice(i, i + FILTER_VALUES_MAX);
    const instances = await describeAll(api, clients, [{ Name: 'instance-id', Values: chunk }]);
    for (const inst of instances) {
      if (inst.InstanceId && chunk.includes(inst.InstanceId)) {
        states.set(inst.InstanceId, inst.State?.Name ?? 'unknown');
      }
    }
  }
  return states;
}
