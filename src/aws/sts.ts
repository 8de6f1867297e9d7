import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

export interface Identity {
  account: string;
  arn: string;
}

export async function getIdentity(api: AwsApi, clients: AwsClients): Promise<Identity> {
  const out = await api.call('sts:GetCallerIdentity', () =>
    clients.sts.send(new GetCallerIdentityCommand({})),
  );
  return { account: out.Account ?? 'unknown', arn: out.Arn ?? 'unknown' };
}
