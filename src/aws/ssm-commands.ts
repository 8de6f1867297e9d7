// SSM Run Command: the only way this action touches an instance. Scripts come from
// src/remote/scripts.ts; this module sends them, waits (bounded, with backoff) and reads results.
//
// Fan-out: one SendCommand carries up to 50 instance ids, with SSM's own MaxConcurrency and
// MaxErrors; completion is read per command with ListCommands, and per instance
// (ListCommandInvocations, 50 a page) only when a command did not fully succeed or output is
// needed. The calls for a batch grow with batch/50, not with the batch.
import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
} from '@aws-sdk/client-ssm';
import { SSM_MAX_TARGETS } from '../constants.js';
import type { Runtime } from '../runtime.js';
import type { AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

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
      const result: InvocationResult = {
        instanceId,
        commandId,
        status: out.Status ?? 'Pending',
        statusDetails: out.StatusDetails ?? out.Status ?? '',
        responseCode: out.ResponseCode ?? -1,
        stdout: out.StandardOutputContent ?? '',
        stderr: out.StandardErrorContent ?? '',
      };
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
  let token: string | undefined;
  let pages = 0;
  do {
    const out = await api.call('ssm:ListCommandInvocations', () =>
      clients.ssm.send(
        new ListCommandInvocationsCommand({
          CommandId: commandId,
          Details: withOutput,
          MaxResults: 50,
          NextToken: token,
        }),
      ),
    );
    for (const inv of out.CommandInvocations ?? []) {
      const plugin = inv.CommandPlugins?.[0];
      results.push({
        instanceId: inv.InstanceId ?? '',
        commandId,
        status: inv.Status ?? 'Pending',
        statusDetails: inv.StatusDetails ?? inv.Status ?? '',
        responseCode: plugin?.ResponseCode ?? -1,
        stdout: plugin?.Output ?? '',
        stderr: '',
      });
    }
    token = out.NextToken;
    pages++;
  } while (token && pages < 200);
  return results;
}

export async function cancelCommand(api: AwsApi, clients: AwsClients, commandId: string): Promise<void> {
  await api.call('ssm:CancelCommand', () =>
    clients.ssm.send(new CancelCommandCommand({ CommandId: commandId })),
  );
}

export interface FanOutOptions extends CommandOptions {
  /** Read every instance's output even when all succeeded. */
  withOutput?: boolean;
  /** Called with each command id as soon as it is sent (so the record can hold it). */
  onSent?: (commandId: string, instanceIds: string[]) => void;
}

export interface FanOutResult {
  commandIds: string[];
  results: Map<string, InvocationResult>;
  /** Set when the run was cancelled while waiting; in-flight commands were cancelled. */
  cancelled: boolean;
}

/**
 * Runs one script on many instances: chunks of 50 per SendCommand, then waits on each command's
 * counters. Instances whose result is not known by the deadline are reported TimedOut.
 */
export async function runOnFleet(
  api: AwsApi,
  clients: AwsClients,
  runtime: Runtime,
  instanceIds: string[],
  script: string,
  opts: FanOutOptions,
): Promise<FanOutResult> {
  const results = new Map<string, InvocationResult>();
  const sent: { commandId: string; ids: string[] }[] = [];
  const unsent: string[] = [];
  for (let i = 0; i < instanceIds.length; i += SSM_MAX_TARGETS) {
    const ids = instanceIds.slice(i, i + SSM_MAX_TARGETS);
    // A cancelled run starts no new work: the remaining chunks are not sent.
    if (runtime.cancelled()) {
      unsent.push(...ids);
      continue;
    }
    const commandId = await sendShellCommand(api, clients, ids, script, opts);
    opts.onSent?.(commandId, ids);
    sent.push({ commandId, ids });
  }
  const deadline = runtime.clock.now().getTime() + commandDeadlineMs(opts);
  const pending = new Map(sent.map((s) => [s.commandId, s.ids]));
  const summaries = new Map<string, CommandSummary>();
  let wait = 0;
  let cancelled = unsent.length > 0;
  for (const id of unsent) {
    results.set(id, {
      instanceId: id,
      commandId: '',
      status: 'Cancelled',
      statusDetails: 'not sent: the run was cancelled',
      responseCode: -1,
      stdout: '',
      stderr: '',
    });
  }
  while (pending.size > 0) {
    if (runtime.cancelled()) {
      cancelled = true;
      for (const commandId of pending.keys()) {
        await cancelCommand(api, clients, commandId).catch(() => undefined);
      }
      break;
    }
    if (runtime.clock.now().getTime() >= deadline) {
      // Past every timeout SSM itself applies: stop what is left so nothing runs unwatched later.
      for (const commandId of pending.keys()) {
        await cancelCommand(api, clients, commandId).catch(() => undefined);
      }
      break;
    }
    wait = nextPollMs(wait);
    await runtime.sleep(wait);
    for (const commandId of [...pending.keys()]) {
      const summary = await getCommandSummary(api, clients, commandId);
      if (TERMINAL_COMMAND.has(summary.status)) {
        summaries.set(commandId, summary);
        pending.delete(commandId);
      }
    }
  }
  for (const { commandId, ids } of sent) {
    const summary = summaries.get(commandId);
    const allSucceeded =
      summary?.status === 'Success' && summary.errorCount === 0 && summary.deliveryTimedOutCount === 0;
    if (allSucceeded && !opts.withOutput) {
      for (const id of ids) {
        results.set(id, {
          instanceId: id,
          commandId,
          status: 'Success',
          statusDetails: 'Success',
          responseCode: 0,
          stdout: '',
          stderr: '',
        });
      }
      continue;
    }
    // A command still running at the deadline (or cancelled) may have finished on some instances.
    const known = summary
      ? await listInvocations(api, clients, commandId, true)
      : await listInvocations(api, clients, commandId, true).catch(() => [] as InvocationResult[]);
    const byId = new Map(known.map((r) => [r.instanceId, r]));
    for (const id of ids) {
      const r = byId.get(id);
      if (r && isTerminalStatus(r.status)) {
        results.set(id, r);
      } else {
        results.set(id, {
          instanceId: id,
          commandId,
          status: cancelled ? 'Cancelled' : 'TimedOut',
          statusDetails: cancelled
            ? 'cancelled by the action'
            : r
              ? `${r.status} at the deadline`
              : 'no result by the deadline',
          responseCode: -1,
          stdout: r?.stdout ?? '',
          stderr: '',
        });
      }
    }
  }
  return { commandIds: sent.map((s) => s.commandId), results, cancelled };
}
