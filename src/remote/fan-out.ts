// Running one script on many instances: the only way this action touches an instance. Scripts
// come from src/remote/scripts.ts; this module sends them through the SSM gateway (src/aws/ssm.ts),
// waits (bounded, with backoff), reads the results and decides what each instance's result means.
//
// Fan-out: one SendCommand carries up to 50 instance ids, with SSM's own MaxConcurrency and
// MaxErrors. While commands run, one paginated ListCommands (InvokedAfter the first send, 50
// commands a page) reads every command of the fan-out: a poll round costs ceil(commands/50)
// calls, not one per command. When a command ends, one paginated ListCommandInvocations (50
// instances a page) reads every instance's own status: a command's Success does not mean every
// instance succeeded (Undeliverable and Terminated invocations count in neither ErrorCount nor
// against MaxErrors; API_Command, StatusDetails). The calls for a batch grow with batch/50.
import { isRetryable, type AwsApi } from '../aws/api.js';
import type { AwsClients } from '../aws/clients.js';
import { describeInstanceStates } from '../aws/ec2.js';
import {
  cancelCommand,
  commandDeadlineMs,
  getAgentStatus,
  isTerminalCommand,
  isTerminalStatus,
  listInvocations,
  nextPollMs,
  pollCommands,
  readInvocation,
  sendShellCommand,
  type CommandOptions,
  type InvocationResult,
  type Reach,
} from '../aws/ssm.js';
import { SSM_MAX_TARGETS } from '../constants.js';
import type { Runtime } from '../runtime.js';

/** What an instance's result means for the caller. */
export type Fate = 'success' | 'gone' | 'undeliverable' | 'cancelled' | 'failed';

// SSM could not hand the command to the agent (API_GetCommandInvocation, StatusDetails).
const UNDELIVERED_DETAILS = new Set(['Undeliverable', 'Delivery Timed Out']);

/** Success only with exit 0; gone and undeliverable before any other failure. */
export function fateOf(r: InvocationResult): Fate {
  if (r.status === 'Success' && r.responseCode === 0) return 'success';
  if (r.reach === 'gone') return 'gone';
  if (r.reach === 'unreachable' || UNDELIVERED_DETAILS.has(r.statusDetails)) return 'undeliverable';
  if (r.status === 'Cancelled') return 'cancelled';
  return 'failed';
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
  /**
   * Set when SendCommand failed for a reason other than an unreachable instance after some
   * chunks were already sent: those were watched to the end, the rest were not sent.
   */
  sendError?: string;
}

// Polls start at 2 s and grow to 15 s; a throttled round waits at least 10 s, doubling to 60 s.
// SSM publishes no Run Command rate; users report "Rate exceeded" when polling every second.
const FIRST_POLL_MS = 2000;
const THROTTLED_MIN_MS = 10_000;
const THROTTLED_MAX_MS = 60_000;
// Failed instances whose output is read individually (GetCommandInvocation: stdout and stderr
// apart, 24,000 characters of stdout) instead of the listing's 2,500-character plugin output.
const INDIVIDUAL_READS = 10;
// Reads of a finished command's invocations retried across throttled rounds.
const FINAL_READ_ROUNDS = 5;

// Clients whose ListCommandInvocations failed other than by throttling: not asked again.
const noListing = new WeakSet<AwsClients>();

function isThrottled(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return (
    /Throttl|TooManyRequests|RateExceeded/i.test(err?.name ?? '') || err?.$metadata?.httpStatusCode === 429
  );
}

function errorName(e: unknown): string {
  return (e as { name?: string })?.name ?? '';
}

function notSent(id: string, statusDetails: string, reach?: Reach): InvocationResult {
  return {
    instanceId: id,
    commandId: '',
    status: reach ? 'Failed' : 'Cancelled',
    statusDetails,
    responseCode: -1,
    stdout: '',
    stderr: '',
    reach,
  };
}

/** EC2 states SSM cannot send to, and states that mean the instance is gone for good. */
function isGoneState(state: string | undefined): boolean {
  return state === undefined || state === 'terminated' || state === 'shutting-down';
}

/**
 * Why each of `ids` cannot take a command, when it cannot: EC2's state (terminated,
 * shutting-down, unknown: gone; stopped, stopping: unreachable) and the agent's PingStatus
 * (absent: not registered; ConnectionLost, Inactive: unreachable). SendCommand refuses the whole
 * call with InvalidInstanceId for any one such id (SSM API reference, SendCommand, Errors).
 */
export async function findUnreachable(
  api: AwsApi,
  clients: AwsClients,
  ids: string[],
): Promise<Map<string, { reach: Reach; why: string }>> {
  const states = await describeInstanceStates(api, clients, ids);
  const alive = ids.filter((id) => !isGoneState(states.get(id)));
  const agents = alive.length > 0 ? await getAgentStatus(api, clients, alive) : new Map<string, string>();
  const out = new Map<string, { reach: Reach; why: string }>();
  for (const id of ids) {
    const state = states.get(id);
    if (isGoneState(state)) {
      out.set(id, {
        reach: 'gone',
        why: state ? `instance is ${state}` : 'EC2 no longer knows the instance',
      });
    } else if (state !== 'running' && state !== 'pending') {
      out.set(id, { reach: 'unreachable', why: `instance is ${state}` });
    } else if (agents.get(id) !== 'Online') {
      const ping = agents.get(id);
      out.set(id, {
        reach: 'unreachable',
        why: ping ? `SSM agent is ${ping}` : 'SSM agent is not registered',
      });
    }
  }
  return out;
}

/**
 * Sends one chunk. When SSM refuses it with InvalidInstanceId, the ids that cannot take a command
 * are found, reported in `excluded`, and the rest sent; when none can be named, the chunk is
 * halved until the refused id is alone. A chunk costs one SendCommand unless an id is refused.
 */
async function sendChunk(
  api: AwsApi,
  clients: AwsClients,
  ids: string[],
  script: string,
  opts: FanOutOptions,
  sent: { commandId: string; ids: string[] }[],
  excluded: Map<string, InvocationResult>,
  stop: () => boolean,
  explained = false,
): Promise<void> {
  // A run cancelled while a refused chunk is sorted out sends nothing more.
  if (stop()) {
    for (const id of ids) excluded.set(id, notSent(id, 'not sent: the run was cancelled'));
    return;
  }
  try {
    const commandId = await sendShellCommand(api, clients, ids, script, opts);
    opts.onSent?.(commandId, ids);
    sent.push({ commandId, ids });
    return;
  } catch (e) {
    if (errorName(e) !== 'InvalidInstanceId') throw e;
  }
  const bad = explained ? new Map() : await findUnreachable(api, clients, ids);
  for (const [id, b] of bad) {
    excluded.set(id, notSent(id, `not sent: ${b.why} (SendCommand: InvalidInstanceId)`, b.reach));
  }
  const rest = ids.filter((id) => !bad.has(id));
  if (rest.length === 0) return;
  if (bad.size > 0) return sendChunk(api, clients, rest, script, opts, sent, excluded, stop, false);
  if (rest.length === 1) {
    excluded.set(
      rest[0],
      notSent(rest[0], 'not sent: SSM refused the instance id (InvalidInstanceId)', 'unreachable'),
    );
    return;
  }
  // SSM refused an id that EC2 and SSM both call reachable (it changed in between): halve.
  const half = Math.ceil(rest.length / 2);
  await sendChunk(api, clients, rest.slice(0, half), script, opts, sent, excluded, stop, true);
  await sendChunk(api, clients, rest.slice(half), script, opts, sent, excluded, stop, true);
}

/**
 * Runs one script on many instances: chunks of 50 per SendCommand (ids SSM refuses are found and
 * left out), one listing a round while they run, one listing per command when it ends, and each
 * instance not counted as Success classified. Instances whose result is not known by the deadline
 * are reported TimedOut; a throttled poll delays the next round, never ends the wait.
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
  const excluded = new Map<string, InvocationResult>();
  let cancelled = false;
  let sendError: string | undefined;
  // SSM's clock, not ours, decides InvokedAfter: a minute's margin covers the skew.
  const since = new Date(runtime.clock.now().getTime() - 60_000);
  for (let i = 0; i < instanceIds.length; i += SSM_MAX_TARGETS) {
    const ids = instanceIds.slice(i, i + SSM_MAX_TARGETS);
    if (sendError !== undefined) {
      for (const id of ids) results.set(id, notSent(id, `not sent: ${sendError}`));
      continue;
    }
    // A cancelled run starts no new work: the remaining chunks are not sent.
    if (runtime.cancelled()) {
      cancelled = true;
      for (const id of ids) results.set(id, notSent(id, 'not sent: the run was cancelled'));
      continue;
    }
    try {
      await sendChunk(api, clients, ids, script, opts, sent, excluded, () => runtime.cancelled());
    } catch (e) {
      // Nothing running yet: the caller sees the error as it is. Otherwise the chunks already
      // sent are watched to the end, never left running unwatched.
      if (sent.length === 0) throw e;
      sendError = (e as Error).message.slice(0, 200);
      for (const id of ids) if (!excluded.has(id)) results.set(id, notSent(id, `not sent: ${sendError}`));
    }
  }
  for (const [id, r] of excluded) results.set(id, r);
  if (runtime.cancelled()) cancelled = true;

  const deadline = runtime.clock.now().getTime() + commandDeadlineMs(opts);
  const pending = new Set(sent.map((s) => s.commandId));
  const ended = new Set<string>();
  let wait = 0;
  let throttled = false;
  let round = 0;
  while (pending.size > 0) {
    if (runtime.cancelled() || runtime.clock.now().getTime() >= deadline) {
      // Cancelled, or past every timeout SSM itself applies: stop what is left so nothing runs
      // unwatched later.
      if (runtime.cancelled()) cancelled = true;
      for (const commandId of pending) await cancelCommand(api, clients, commandId).catch(() => undefined);
      break;
    }
    wait = throttled
      ? Math.min(THROTTLED_MAX_MS, Math.max(THROTTLED_MIN_MS, wait * 2))
      : wait === 0
        ? FIRST_POLL_MS
        : nextPollMs(wait);
    await runtime.sleep(wait);
    try {
      const seen = await pollCommands(api, clients, [...pending], since, round++);
      throttled = false;
      for (const [commandId, c] of seen) {
        if (isTerminalCommand(c.Status)) {
          pending.delete(commandId);
          ended.add(commandId);
        }
      }
    } catch (e) {
      // Throttled (after the api's own retries) or a 5xx: the commands still run; read later.
      if (!isRetryable(e)) throw e;
      throttled = true;
    }
  }

  // Every instance's own status, one paginated listing per command (a cancelled or timed-out
  // command may have finished on some instances).
  const byId = new Map<string, InvocationResult>();
  const unlisted = new Set<string>();
  for (const s of sent) {
    let listed: InvocationResult[] | undefined;
    for (let attempt = 1; !noListing.has(clients) && listed === undefined; attempt++) {
      try {
        listed = await listInvocations(api, clients, s.commandId, true);
      } catch (e) {
        // Throttled: wait and read again. Anything else (not permitted; an emulator without the
        // call answers 500): each instance is read alone, here and for the rest of the run.
        if (!isThrottled(e) || attempt >= FINAL_READ_ROUNDS) {
          if (!isThrottled(e)) noListing.add(clients);
          break;
        }
        await runtime.sleep(THROTTLED_MIN_MS * attempt);
      }
    }
    if (listed === undefined) unlisted.add(s.commandId);
    for (const r of listed ?? []) byId.set(r.instanceId, r);
  }
  for (const s of sent) {
    if (!unlisted.has(s.commandId)) continue;
    for (const id of s.ids) {
      const r = await readInvocation(api, clients, s.commandId, id).catch(() => undefined);
      if (r) byId.set(id, r);
    }
  }

  const undelivered: string[] = [];
  let individual = 0;
  for (const { commandId, ids } of sent) {
    for (const id of ids) {
      let r = byId.get(id);
      if (r && isTerminalStatus(r.status)) {
        if (fateOf(r) === 'failed' && individual < INDIVIDUAL_READS && !unlisted.has(commandId)) {
          // The listing's output is cut at 2,500 characters; the invocation's own read is not.
          individual++;
          const full = await readInvocation(api, clients, commandId, id).catch(() => undefined);
          if (full && isTerminalStatus(full.status)) r = full;
        }
        results.set(id, r);
        if (UNDELIVERED_DETAILS.has(r.statusDetails)) undelivered.push(id);
        continue;
      }
      const stopped = cancelled || (!ended.has(commandId) && runtime.cancelled());
      results.set(id, {
        instanceId: id,
        commandId,
        status: stopped ? 'Cancelled' : 'TimedOut',
        statusDetails: stopped
          ? 'cancelled by the action'
          : r
            ? `${r.status} at the deadline`
            : ended.has(commandId)
              ? 'SSM lists no result for this instance'
              : 'no result by the deadline',
        responseCode: -1,
        stdout: r?.stdout ?? '',
        stderr: r?.stderr ?? '',
      });
      if (!stopped && !r) undelivered.push(id);
    }
  }
  // Not delivered: gone (terminated by scale-in, a refresh, a health replacement) or unreachable.
  if (undelivered.length > 0) {
    const states = await describeInstanceStates(api, clients, undelivered).catch(() => undefined);
    for (const id of undelivered) {
      const r = results.get(id) as InvocationResult;
      if (!states) r.reach = 'unreachable';
      else {
        const state = states.get(id);
        r.reach = isGoneState(state) ? 'gone' : 'unreachable';
        if (r.reach === 'gone')
          r.statusDetails = `${r.statusDetails}; instance is ${state ?? 'no longer known to EC2'}`;
      }
    }
  }
  return { commandIds: sent.map((s) => s.commandId), results, cancelled, sendError };
}

/**
 * The error to report when SendCommand refused `ids` with InvalidInstanceId: names why each
 * cannot take a command (gone, stopped, agent not Online); other errors are returned as they are.
 */
export async function explainSendError(
  api: AwsApi,
  clients: AwsClients,
  ids: string[],
  e: unknown,
): Promise<unknown> {
  if (errorName(e) !== 'InvalidInstanceId') return e;
  const bad = await findUnreachable(api, clients, ids).catch(() => undefined);
  const why = [...(bad ?? new Map()).entries()].map(([id, b]) => `${id}: ${b.why}`).join('; ');
  return new Error(
    `SSM refused the command (InvalidInstanceId): ${why || 'EC2 and SSM list the instance as reachable; it may have just changed state'}; nothing was sent`,
  );
}
