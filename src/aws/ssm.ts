// SSM gateway, every SSM call the action makes: agent reachability (DescribeInstanceInformation)
// and Run Command (send, wait for one invocation, list a command's invocations, one poll round
// over the fan-out's commands, cancel). Running one script on a whole fleet, with its decisions,
// is src/remote/fan-out.ts, built on these.
import {
  CancelCommandCommand,
  type Command,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
} from '@aws-sdk/client-ssm';
import { SSM_MAX_TARGETS } from '../constants.js';
import type { Runtime } from '../runtime.js';
import { pages, type AwsApi } from './api.js';
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
    for await (const out of pages('ssm:DescribeInstanceInformation', (NextToken) =>
      api.call('ssm:DescribeInstanceInformation', () =>
        clients.ssm.send(
          new DescribeInstanceInformationCommand({
            Filters: [{ Key: 'InstanceIds', Values: chunk }],
            MaxResults: 50,
            NextToken,
          }),
        ),
      ),
    )) {
      for (const info of out.InstanceInformationList ?? []) {
        if (info.InstanceId) status.set(info.InstanceId, info.PingStatus ?? 'Unknown');
      }
    }
  }
  return status;
}

export interface CommandOptions {
  comment: string;
  /** Execution timeout on the instance (AWS-RunShellScript executionTimeout). */
  timeoutSeconds: number;
  /** SSM MaxConcurrency: a count ("10") or a percent ("25%"). */
  maxConcurrency?: string;
  /** SSM MaxErrors: a count or a percent. */
  maxErrors?: string;
}

export interface InvocationResult {
  instanceId: string;
  commandId: string;
  /** Success | Failed | TimedOut | Cancelled | Pending | InProgress | Delayed | Cancelling */
  status: string;
  /** The finer status: "Delivery Timed Out", "Undeliverable", "Terminated", "Execution Timed Out", … */
  statusDetails: string;
  responseCode: number;
  stdout: string;
  stderr: string;
  /**
   * Set when SSM could not reach the instance: EC2 says it is gone (terminated, shutting down, or
   * no longer known), or it is not running / its agent is not Online (unreachable).
   */
  reach?: Reach;
}

export type Reach = 'gone' | 'unreachable';

// The agent joins stdout and stderr into CommandPlugins[].Output with this title between them,
// cut to its capacity (amazon-ssm-agent agent/contracts/plugin.go, TruncateOutput): stdout's
// head and stderr's head survive, tails are cut.
const AGENT_ERROR_TITLE = '\n----------ERROR-------\n';

/** Splits a plugin's Output back into stdout and stderr. */
export function splitPluginOutput(output: string): { stdout: string; stderr: string } {
  const at = output.indexOf(AGENT_ERROR_TITLE);
  if (at < 0) return { stdout: output, stderr: '' };
  return { stdout: output.slice(0, at), stderr: output.slice(at + AGENT_ERROR_TITLE.length) };
}

/** stderr's first non-empty line ("Read-only file system", "No space left on device"). */
export function firstStderrLine(stderr: string): string | undefined {
  return (
    stderr
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l !== '' && !l.startsWith('---Error truncated')) || undefined
  );
}

const TERMINAL_INVOCATION = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);
const TERMINAL_COMMAND = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);
// SSM needs a moment after SendCommand before GetCommandInvocation knows the invocation.
const INVOCATION_RACE_TRIES = 8;
// Delivery: how long SSM may wait for an agent before giving up on an instance.
const DELIVERY_TIMEOUT_SECONDS = 300;

export function isTerminalStatus(status: string): boolean {
  return TERMINAL_INVOCATION.has(status);
}

/** The next poll interval: 1 s, then ×1.5, at most 15 s. */
export function nextPollMs(previousMs: number): number {
  return previousMs === 0 ? 1000 : Math.min(15_000, Math.round(previousMs * 1.5));
}

/** How long any wait for a command may last before we give up on it. */
export function commandDeadlineMs(opts: CommandOptions): number {
  return (DELIVERY_TIMEOUT_SECONDS + opts.timeoutSeconds + 60) * 1000;
}

/** A command that has ended: every invocation's result is final (API_Command, Status). */
export function isTerminalCommand(status: string | undefined): boolean {
  return TERMINAL_COMMAND.has(status ?? '');
}

export async function sendShellCommand(
  api: AwsApi,
  clients: AwsClients,
  instanceIds: string[],
  script: string,
  opts: CommandOptions,
): Promise<string> {
  if (instanceIds.length === 0 || instanceIds.length > SSM_MAX_TARGETS) {
    throw new Error(`SendCommand takes 1 to ${SSM_MAX_TARGETS} instance ids, got ${instanceIds.length}`);
  }
  const out = await api.call('ssm:SendCommand', () =>
    clients.ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: instanceIds,
        Comment: opts.comment.slice(0, 100),
        TimeoutSeconds: DELIVERY_TIMEOUT_SECONDS,
        MaxConcurrency: opts.maxConcurrency ?? String(instanceIds.length),
        MaxErrors: opts.maxErrors ?? '0',
        Parameters: { commands: [script], executionTimeout: [String(opts.timeoutSeconds)] },
      }),
    ),
  );
  const id = out.Command?.CommandId;
  if (!id) throw new Error('ssm:SendCommand returned no command id');
  return id;
}

/** One invocation's result from GetCommandInvocation's answer (stdout and stderr apart). */
function invocationOf(
  commandId: string,
  instanceId: string,
  out: GetCommandInvocationCommandOutput,
): InvocationResult {
  return {
    instanceId,
    commandId,
    status: out.Status ?? 'Pending',
    statusDetails: out.StatusDetails ?? out.Status ?? '',
    responseCode: out.ResponseCode ?? -1,
    stdout: out.StandardOutputContent ?? '',
    stderr: out.StandardErrorContent ?? '',
  };
}

function isInvocationMissing(e: unknown): boolean {
  return (e as { name?: string })?.name === 'InvocationDoesNotExist';
}

/** Polls one instance's invocation until it is terminal, or the deadline passes. */
export async function waitForInvocation(
  api: AwsApi,
  clients: AwsClients,
  runtime: Runtime,
  commandId: string,
  instanceId: string,
  opts: CommandOptions,
): Promise<InvocationResult> {
  const deadline = runtime.clock.now().getTime() + commandDeadlineMs(opts);
  let wait = 0;
  let missing = 0;
  for (;;) {
    if (runtime.cancelled()) {
      // The run is being cancelled: stop the command too, rather than leave it running unwatched.
      await cancelCommand(api, clients, commandId).catch(() => undefined);
      return {
        instanceId,
        commandId,
        status: 'Cancelled',
        statusDetails: 'cancelled by the action',
        responseCode: -1,
        stdout: '',
        stderr: '',
      };
    }
    wait = nextPollMs(wait);
    await runtime.sleep(wait);
    try {
      const out = await api.call('ssm:GetCommandInvocation', () =>
        clients.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId })),
      );
      const result = invocationOf(commandId, instanceId, out);
      if (isTerminalStatus(result.status)) return result;
    } catch (e) {
      // Right after SendCommand the invocation may not exist yet: that race is expected.
      if (!isInvocationMissing(e) || ++missing > INVOCATION_RACE_TRIES) throw e;
    }
    if (runtime.clock.now().getTime() >= deadline) {
      return {
        instanceId,
        commandId,
        status: 'TimedOut',
        statusDetails: `no result within ${Math.round(commandDeadlineMs(opts) / 1000)}s`,
        responseCode: -1,
        stdout: '',
        stderr: '',
      };
    }
  }
}

/** Sends a script to one instance and waits for its result. */
export async function runOnInstance(
  api: AwsApi,
  clients: AwsClients,
  runtime: Runtime,
  instanceId: string,
  script: string,
  opts: CommandOptions,
): Promise<InvocationResult> {
  const commandId = await sendShellCommand(api, clients, [instanceId], script, opts);
  return waitForInvocation(api, clients, runtime, commandId, instanceId, opts);
}

export interface CommandSummary {
  commandId: string;
  status: string;
  targetCount: number;
  completedCount: number;
  errorCount: number;
  deliveryTimedOutCount: number;
}

export async function getCommandSummary(
  api: AwsApi,
  clients: AwsClients,
  commandId: string,
): Promise<CommandSummary> {
  const out = await api.call('ssm:ListCommands', () =>
    clients.ssm.send(new ListCommandsCommand({ CommandId: commandId })),
  );
  const c = out.Commands?.[0];
  return {
    commandId,
    status: c?.Status ?? 'Pending',
    targetCount: c?.TargetCount ?? 0,
    completedCount: c?.CompletedCount ?? 0,
    errorCount: c?.ErrorCount ?? 0,
    deliveryTimedOutCount: c?.DeliveryTimedOutCount ?? 0,
  };
}

/** Every instance's result for a command (50 a page). Output only when `withOutput`. */
export async function listInvocations(
  api: AwsApi,
  clients: AwsClients,
  commandId: string,
  withOutput: boolean,
): Promise<InvocationResult[]> {
  const results: InvocationResult[] = [];
  for await (const out of pages('ssm:ListCommandInvocations', (NextToken) =>
    api.call('ssm:ListCommandInvocations', () =>
      clients.ssm.send(
        new ListCommandInvocationsCommand({
          CommandId: commandId,
          Details: withOutput,
          MaxResults: 50,
          NextToken,
        }),
      ),
    ),
  )) {
    for (const inv of out.CommandInvocations ?? []) {
      const plugin = inv.CommandPlugins?.[0];
      const { stdout, stderr } = splitPluginOutput(plugin?.Output ?? '');
      results.push({
        instanceId: inv.InstanceId ?? '',
        commandId,
        status: inv.Status ?? 'Pending',
        statusDetails: inv.StatusDetails ?? inv.Status ?? '',
        responseCode: plugin?.ResponseCode ?? -1,
        stdout,
        stderr,
      });
    }
  }
  return results;
}

export async function cancelCommand(api: AwsApi, clients: AwsClients, commandId: string): Promise<void> {
  await api.call('ssm:CancelCommand', () =>
    clients.ssm.send(new CancelCommandCommand({ CommandId: commandId })),
  );
}

// A poll round lists the fan-out's commands 50 a page; a few pages more than ours allow for
// other commands sent in the account meanwhile. Commands not seen are looked up by id, a few a
// round, so a round's cost stays bounded whatever else runs in the account.
const LIST_PAGE = 50;
const EXTRA_PAGES = 2;
const DIRECT_LOOKUPS_PER_ROUND = 5;

/**
 * One poll round: the state of every pending command, from one paginated ListCommands of the
 * commands requested since the fan-out began (API_ListCommands, Filters InvokedAfter), plus a few
 * direct lookups for commands the listing did not show.
 */
export async function pollCommands(
  api: AwsApi,
  clients: AwsClients,
  pending: string[],
  since: Date,
  round: number,
): Promise<Map<string, Command>> {
  const seen = new Map<string, Command>();
  const wanted = new Set(pending);
  const maxPages = Math.ceil(pending.length / LIST_PAGE) + EXTRA_PAGES;
  let read = 0;
  for await (const out of pages('ssm:ListCommands', (NextToken) =>
    api.call('ssm:ListCommands', () =>
      clients.ssm.send(
        new ListCommandsCommand({
          Filters: [{ key: 'InvokedAfter', value: since.toISOString() }],
          MaxResults: LIST_PAGE,
          NextToken,
        }),
      ),
    ),
  )) {
    for (const c of out.Commands ?? []) {
      if (c.CommandId && wanted.has(c.CommandId)) seen.set(c.CommandId, c);
    }
    // The round's own bound (not the page cap): what it has not seen by then is looked up by id.
    if (++read >= maxPages || seen.size >= wanted.size) break;
  }
  const unseen = pending.filter((id) => !seen.has(id));
  // Round-robin over the unseen, so each is looked up within a few rounds.
  const start = unseen.length > 0 ? (round * DIRECT_LOOKUPS_PER_ROUND) % unseen.length : 0;
  const direct = [...unseen.slice(start), ...unseen.slice(0, start)].slice(0, DIRECT_LOOKUPS_PER_ROUND);
  for (const commandId of direct) {
    const c = await getCommandSummary(api, clients, commandId);
    seen.set(commandId, { CommandId: commandId, Status: c.status as Command['Status'] });
  }
  return seen;
}

/** One instance's result, read on its own (GetCommandInvocation); undefined when SSM has none. */
export async function readInvocation(
  api: AwsApi,
  clients: AwsClients,
  commandId: string,
  instanceId: string,
): Promise<InvocationResult | undefined> {
  try {
    const out = await api.call('ssm:GetCommandInvocation', () =>
      clients.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId })),
    );
    return invocationOf(commandId, instanceId, out);
  } catch (e) {
    if (isInvocationMissing(e)) return undefined;
    throw e;
  }
}
