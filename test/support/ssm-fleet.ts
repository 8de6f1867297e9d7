// A fleet behind SSM Run Command, shaped as the SSM API reference describes it (not as moto
// behaves), for unit tests and the calls benchmark:
// - SendCommand (API_SendCommand): at most 50 InstanceIds; one id that is terminated,
//   shutting down, stopped, unregistered or whose agent is not Online fails the WHOLE call with
//   InvalidInstanceId (API_SendCommand, Errors: "InvalidInstanceId ... the instance isn't in a
//   valid state, ... SSM Agent isn't running, ... terminated").
// - ListCommands (API_ListCommands, API_CommandFilter): CommandId, or Filters InvokedAfter;
//   MaxResults up to 50 with NextToken. A command is Success once every invocation is terminal
//   and ErrorCount (Failed + Execution Timed Out only) stays under MaxErrors: Undeliverable and
//   Terminated invocations count in CompletedCount but not ErrorCount (API_Command,
//   StatusDetails).
// - ListCommandInvocations (API_ListCommandInvocations): 50 a page; with Details,
//   CommandPlugins[].Output is stdout, "\n----------ERROR-------\n", stderr, cut at 2,500
//   characters (amazon-ssm-agent agent/contracts/plugin.go TruncateOutput).
// - GetCommandInvocation (API_GetCommandInvocation): stdout and stderr apart.
// - DescribeInstanceInformation (API_DescribeInstanceInformation): PingStatus of registered
//   instances; unregistered ones are absent.
// - EC2 DescribeInstances with an instance-id filter: absent ids are not an error.
import { DescribeInstancesCommand, type Filter, type InstanceStateName } from '@aws-sdk/client-ec2';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  type SendCommandCommandInput,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import type { AwsClients } from '../../src/aws/clients.js';
import type { Clock } from '../../src/runtime.js';
import { awsError } from './context.js';
import { ec2Instance, instancesAnswer } from './aws-stubs.js';

/** How one instance answers a command. */
export interface InstanceAnswer {
  /** invocation Status (Success, Failed, TimedOut, Cancelled) */
  status: string;
  /** invocation StatusDetails (Success, Failed, Undeliverable, Terminated, Delivery Timed Out, …) */
  details: string;
  code: number;
  stdout?: string;
  stderr?: string;
}

export const SUCCESS: InstanceAnswer = { status: 'Success', details: 'Success', code: 0 };

export interface FleetOptions {
  clients: AwsClients;
  clock: Clock;
  /** EC2 state by id; ids not listed are running. 'absent' means EC2 no longer knows it. */
  states?: Map<string, string>;
  /** PingStatus by id; ids not listed are Online. 'absent' means not registered. */
  pings?: Map<string, string>;
  /** The answer of an instance to a script; SUCCESS when not given. */
  answer?: (instanceId: string, script: string) => InstanceAnswer;
  /** How long a command runs before every invocation is terminal. */
  runMs?: number;
  /** The fleet DescribeInstances lists when asked by tag (no instance-id filter). */
  fleet?: string[];
  /** Tags every instance carries. */
  tags?: { Key: string; Value: string }[];
  /** ListCommands calls that fail with ThrottlingException, by call number (1-based). */
  throttleListCommands?: Set<number>;
}

/** A command SendCommand accepted. */
export interface Sent {
  id: string;
  ids: string[];
  script: string;
  at: number;
  maxErrors: string;
}

const TITLE = '\n----------ERROR-------\n';

/** The agent's TruncateOutput, at the 2,500 characters the API reference gives. */
export function agentOutput(stdout: string, stderr: string, capacity = 2500): string {
  const title = stderr.length > 0 ? TITLE : '';
  const room = capacity - title.length;
  if (stdout.length + stderr.length < room) return `${stdout}${title}${stderr}`;
  const tOut = '\n---Output truncated---';
  const tErr = '\n---Error truncated----';
  if (stdout.length > room / 2 && stderr.length > room / 2) {
    const n = Math.floor((room - tOut.length - tErr.length) / 2);
    return `${stdout.slice(0, n)}${tOut}${title}${stderr.slice(0, n)}${tErr}`;
  }
  if (stdout.length < room / 2)
    return `${stdout}${title}${stderr.slice(0, room - tErr.length - stdout.length)}${tErr}`;
  return `${stdout.slice(0, room - tOut.length - stderr.length)}${tOut}${title}${stderr}`;
}

export function ssmFleet(opts: FleetOptions) {
  const ssm = mockClient(opts.clients.ssm);
  const ec2 = mockClient(opts.clients.ec2);
  const states = opts.states ?? new Map<string, string>();
  const pings = opts.pings ?? new Map<string, string>();
  const answer = opts.answer ?? (() => SUCCESS);
  const runMs = opts.runMs ?? 20_000;
  const commands = new Map<string, Sent>();
  const order: string[] = [];
  let listCalls = 0;
  const now = () => opts.clock.now().getTime();
  const stateOf = (id: string) => states.get(id) ?? 'running';
  const reachable = (id: string) => stateOf(id) === 'running' && (pings.get(id) ?? 'Online') === 'Online';

  const invocationOf = (c: Sent, id: string): InstanceAnswer | undefined => {
    if (now() - c.at < runMs) return undefined;
    // Gone since the send: SSM cannot deliver.
    if (stateOf(id) !== 'running') return { status: 'Failed', details: 'Undeliverable', code: -1 };
    return answer(id, c.script);
  };
  const commandView = (c: Sent) => {
    const inv = c.ids.map((id) => invocationOf(c, id));
    const done = inv.every((i) => i !== undefined);
    const errors = inv.filter(
      (i) => i && (i.details === 'Failed' || i.details === 'Execution Timed Out'),
    ).length;
    const max = /%$/.test(c.maxErrors)
      ? Math.floor((Number(c.maxErrors.slice(0, -1)) / 100) * c.ids.length)
      : Number(c.maxErrors);
    return {
      CommandId: c.id,
      DocumentName: 'AWS-RunShellScript',
      RequestedDateTime: new Date(c.at),
      Status: !done ? 'InProgress' : errors > max ? 'Failed' : 'Success',
      TargetCount: c.ids.length,
      CompletedCount: inv.filter((i) => i !== undefined).length,
      ErrorCount: errors,
      DeliveryTimedOutCount: inv.filter((i) => i?.details === 'Delivery Timed Out').length,
    };
  };

  ssm.on(SendCommandCommand).callsFake((input: SendCommandCommandInput) => {
    const ids = input.InstanceIds ?? [];
    if (ids.length > 50) throw awsError('ValidationException');
    if (ids.some((id) => !reachable(id))) {
      throw awsError(
        'InvalidInstanceId',
        400,
        'Instances [[' +
          ids.filter((id) => !reachable(id)).join(', ') +
          ']] not in a valid state for account',
      );
    }
    const id = `cmd-${commands.size + 1}`;
    const c: Sent = {
      id,
      ids,
      script: input.Parameters?.commands?.[0] ?? '',
      at: now(),
      maxErrors: input.MaxErrors ?? '0',
    };
    commands.set(id, c);
    order.push(id);
    return { Command: { ...commandView(c), Status: 'Pending', CompletedCount: 0 } };
  });

  ssm
    .on(ListCommandsCommand)
    .callsFake(
      (input: {
        CommandId?: string;
        Filters?: { key: string; value: string }[];
        MaxResults?: number;
        NextToken?: string;
      }) => {
        listCalls++;
        if (opts.throttleListCommands?.has(listCalls))
          throw awsError('ThrottlingException', 400, 'Rate exceeded');
        if (input.CommandId) {
          const c = commands.get(input.CommandId);
          if (!c) throw awsError('InvalidCommandId');
          return { Commands: [commandView(c)] };
        }
        const after = input.Filters?.find((f) => f.key === 'InvokedAfter')?.value;
        const all = order
          .map((id) => commands.get(id) as Sent)
          .filter((c) => !after || c.at >= Date.parse(after));
        const size = Math.min(input.MaxResults ?? 50, 50);
        const start = input.NextToken ? Number(input.NextToken) : 0;
        const page = all.slice(start, start + size);
        return {
          Commands: page.map(commandView),
          NextToken: start + size < all.length ? String(start + size) : undefined,
        };
      },
    );

  ssm
    .on(ListCommandInvocationsCommand)
    .callsFake((input: { CommandId: string; Details?: boolean; MaxResults?: number; NextToken?: string }) => {
      const c = commands.get(input.CommandId);
      if (!c) throw awsError('InvalidCommandId');
      const size = Math.min(input.MaxResults ?? 50, 50);
      const start = input.NextToken ? Number(input.NextToken) : 0;
      const page = c.ids.slice(start, start + size);
      return {
        CommandInvocations: page.map((id) => {
          const a = invocationOf(c, id);
          return {
            CommandId: c.id,
            InstanceId: id,
            Status: a?.status ?? 'InProgress',
            StatusDetails: a?.details ?? 'InProgress',
            CommandPlugins: input.Details
              ? [
                  {
                    Name: 'aws:runShellScript',
                    ResponseCode: a?.code ?? -1,
                    Output: a ? agentOutput(a.stdout ?? '', a.stderr ?? '') : '',
                  },
                ]
              : undefined,
          };
        }),
        NextToken: start + size < c.ids.length ? String(start + size) : undefined,
      };
    });

  ssm.on(GetCommandInvocationCommand).callsFake((input: { CommandId: string; InstanceId: string }) => {
    const c = commands.get(input.CommandId);
    if (!c || !c.ids.includes(input.InstanceId)) throw awsError('InvocationDoesNotExist');
    const a = invocationOf(c, input.InstanceId);
    return {
      CommandId: c.id,
      InstanceId: input.InstanceId,
      Status: a?.status ?? 'InProgress',
      StatusDetails: a?.details ?? 'InProgress',
      ResponseCode: a?.code ?? -1,
      StandardOutputContent: (a?.stdout ?? '').slice(0, 24_000),
      StandardErrorContent: (a?.stderr ?? '').slice(0, 8000),
    };
  });

  ssm
    .on(DescribeInstanceInformationCommand)
    .callsFake((input: { Filters?: { Key: string; Values: string[] }[] }) => {
      const ids = input.Filters?.find((f) => f.Key === 'InstanceIds')?.Values ?? [];
      return {
        InstanceInformationList: ids
          .filter((id) => pings.get(id) !== 'absent' && stateOf(id) !== 'absent')
          .map((id) => ({ InstanceId: id, PingStatus: pings.get(id) ?? 'Online' })),
      };
    });

  ec2.on(DescribeInstancesCommand).callsFake((input: { Filters?: Filter[] }) => {
    const byId = input.Filters?.find((f) => f.Name === 'instance-id')?.Values;
    const wantState = input.Filters?.find((f) => f.Name === 'instance-state-name')?.Values;
    const ids = (byId ?? opts.fleet ?? []).filter(
      (id) => stateOf(id) !== 'absent' && (!wantState || wantState.includes(stateOf(id))),
    );
    return instancesAnswer(
      ids.map((id) => ec2Instance(id, stateOf(id) as InstanceStateName, { Tags: opts.tags })),
    );
  });

  return { ssm, ec2, commands };
}
