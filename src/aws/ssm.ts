// SSM gateway, agent reachability. (Run Command lives in ssm-commands.ts.)
import { DescribeInstanceInformationCommand } from '@aws-sdk/client-ssm';
import { SSM_MAX_TARGETS } from '../constants.js';
import type { AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

/** PingStatus per instance id; ids SSM does not know at all are absent. */
export async function getAgentStatus(
  api: AwsApi,
  clients: AwsClients,
  ids: string[],
): Promise<Map<string, string>> {
  const status = new Map<string, string>();
  for (let i = 0; i < ids.length; i += SSM_MAX_TARGETS) {
    const chunk = ids.slice(i, i + SSM_MAX_TARGETS);
    let token: string | undefined;
    let pages = 0;
    do {
      const out = await api.call('ssm:DescribeInstanceInformation', () =>
        clients.ssm.send(
          new DescribeInstanceInformationCommand({
            Filters: [{ Key: 'InstanceIds', Values: chunk }],
            MaxResults: 50,
            NextToken: token,
          }),
        ),
      );
      for (const info of out.InstanceInformationList ?? []) {
        if (info.InstanceId) status.set(info.InstanceId, info.PingStatus ?? 'Unknown');
      }
      token = out.NextToken;
      pages++;
    } while (token && pages < 100);
  }
  return status;
}
