// SSM Run Command of the twin (a stand-in): SendCommand runs the AWS-RunShellScript document's
// script for real on each simulated instance, and the read calls answer in the API reference's
// shapes. References (SSM API Reference): API_SendCommand, API_GetCommandInvocation,
// API_ListCommands, API_ListCommandInvocations, API_CancelCommand, API_DescribeInstanceInformation,
// and "Understanding command statuses" (monitor-commands.html) for Status / StatusDetails.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SimInstance } from './instance.js';

export class SsmError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

type InvStatus =
  'Pending' | 'InProgress' | 'Delayed' | 'Success' | 'Cancelled' | 'TimedOut' | 'Failed' | 'Cancelling';

interface Invocation {
  instanceId: string;
  /** Before this moment GetCommandInvocation answers InvocationDoesNotExist (as AWS does briefly). */
  visibleAt: number;
  status: InvStatus;
  statusDetails: string;
  responseCode: number;
  stdout: string;
  stderr: string;
  startedAt?: number;
  endedAt?: number;
  child?: ChildProcess;
  /** Undeliverable / Terminated / Delivery Timed Out do not count against MaxErrors. */
  countsAsError: boolean;
}

interface Command {
  id: string;
  comment: string;
  documentName: string;
  parameters: Record<string, string[]>;
  instanceIds: string[];
  targets: { Key: string; Values: string[] }[];
  requestedAt: number;
  timeoutSeconds: number;
  maxConcurrency: string;
  maxErrors: string;
  invocations: Map<string, Invocation>;
  cancelled: boolean;
  /** MaxErrors was exceeded: the invocations not started yet are not run. */
  halted: boolean;
}

export interface SsmHost {
  /** Running instances the twin simulates, refreshed from moto. */
  instances(): Promise<Map<string, SimInstance>>;
  /** Ids matching tag targets, from moto's EC2 (key "tag:Name" or "InstanceIds"). */
  resolveTargets(targets: { Key: string; Values: string[] }[]): Promise<string[]>;
  /** Environment and command line of a script run (isolation lives in twin.ts). */
  scriptProcess(
    inst: SimInstance,
    scriptPath: string,
    env: Record<string, string>,
  ): { cmd: string; args: string[] };
  scriptEnv(inst: SimInstance): Record<string, string>;
  workDir: string;
  /** How long an invocation stays unknown to GetCommandInvocation after SendCommand. */
  invisibleMs: number;
  /** Delivery to an agent that is not Online is given up after this long (AWS: TimeoutSeconds). */
  deliveryTimeoutMs(c: { timeoutSeconds: number }): number;
  /**
   * How many scripts run on this host at once (default: no bound). On AWS each instance has its
   * own CPU; here every instance shares this machine's, and a thousand scripts at once would only
   * thrash it. An invocation waiting for a slot is InProgress, as one would be whose agent has
   * taken it and not yet got the CPU.
   */
  maxParallelScripts?: number;
}

const GET_STDOUT_LIMIT = 24_000;
const PLUGIN_OUTPUT_LIMIT = 2_500;
const ERROR_SEPARATOR = '\n----------ERROR-------\n';
const TERMINAL = new Set<InvStatus>(['Success', 'Cancelled', 'TimedOut', 'Failed']);

/** A count or percent ("10", "25%") of n; SSM's MaxConcurrency / MaxErrors. */
function limitOf(raw: string, n: number, name: string): number {
  const m = /^(\d+)(%?)$/.exec(raw);
  if (!m) throw new SsmError('ValidationException', `${name} must be a number or a percent, got ${raw}`);
  return m[2] ? Math.max(1, Math.floor((n * Number(m[1])) / 100)) : Number(m[1]);
}

const epoch = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
const isoTime = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString());

export class SsmSimulator {
  private readonly commands = new Map<string, Command>();
  private readonly order: string[] = [];
  private scriptsRunning = 0;
  private readonly slotWaiters: (() => void)[] = [];
  constructor(private readonly host: SsmHost) {}

  /** Runs `start` when a host slot is free (maxParallelScripts); `release` frees it. */
  private withSlot(start: (release: () => void) => void): void {
    const limit = this.host.maxParallelScripts ?? Infinity;
    const go = () => {
      this.scriptsRunning++;
      let released = false;
      start(() => {
        if (released) return;
        released = true;
        this.scriptsRunning--;
        this.slotWaiters.shift()?.();
      });
    };
    if (this.scriptsRunning < limit) go();
    else this.slotWaiters.push(go);
  }

  async handle(action: string, req: Record<string, unknown>): Promise<unknown> {
    switch (action) {
      case 'SendCommand':
        return this.sendCommand(req);
      case 'GetCommandInvocation':
        return this.getCommandInvocation(req);
      case 'ListCommands':
        return this.listCommands(req);
      case 'ListCommandInvocations':
        return this.listCommandInvocations(req);
      case 'CancelCommand':
        return this.cancelCommand(req);
      case 'DescribeInstanceInformation':
        return this.describeInstanceInformation(req);
      default:
        return undefined;
    }
  }

  static readonly ACTIONS = new Set([
    'SendCommand',
    'GetCommandInvocation',
    'ListCommands',
    'ListCommandInvocations',
    'CancelCommand',
    'DescribeInstanceInformation',
  ]);

  private async sendCommand(req: Record<string, unknown>): Promise<unknown> {
    const documentName = String(req.DocumentName ?? '');
    if (documentName !== 'AWS-RunShellScript')
      throw new SsmError('InvalidDocument', `the twin runs only AWS-RunShellScript, got ${documentName}`);
    const ids = (req.InstanceIds as string[] | undefined) ?? [];
    const targets = (req.Targets as { Key: string; Values: string[] }[] | undefined) ?? [];
    if (ids.length > 0 && targets.length > 0)
      throw new SsmError('ValidationException', 'InstanceIds and Targets cannot both be given');
    if (ids.length > 50) throw new SsmError('ValidationException', 'InstanceIds takes at most 50 ids');
    const fleet = await this.host.instances();
    // AWS: one id that is not a running instance with a registered agent fails the whole call
    // (API_SendCommand, Errors, InvalidInstanceId: "SSM Agent isn't registered with the SSM endpoint").
    for (const id of ids) {
      if (!fleet.get(id)?.registered)
        throw new SsmError('InvalidInstanceId', 'Instances not in a valid state for account');
    }
    const resolved =
      ids.length > 0
        ? ids
        : (await this.host.resolveTargets(targets)).filter((id) => fleet.get(id)?.registered);
    const params = (req.Parameters as Record<string, string[]> | undefined) ?? {};
    const script = (params.commands ?? []).join('\n');
    const now = Date.now();
    const command: Command = {
      id: randomUUID(),
      comment: String(req.Comment ?? ''),
      documentName,
      parameters: params,
      instanceIds: ids,
      targets,
      requestedAt: now,
      timeoutSeconds: Number(req.TimeoutSeconds ?? 3600),
      maxConcurrency: String(req.MaxConcurrency ?? '50'),
      maxErrors: String(req.MaxErrors ?? '0'),
      invocations: new Map(),
      cancelled: false,
      halted: false,
    };
    limitOf(command.maxConcurrency, resolved.length, 'MaxConcurrency');
    limitOf(command.maxErrors, resolved.length, 'MaxErrors');
    for (const id of resolved) {
      command.invocations.set(id, {
        instanceId: id,
        visibleAt: now + this.host.invisibleMs,
        status: 'Pending',
        statusDetails: 'Pending',
        responseCode: -1,
        stdout: '',
        stderr: '',
        countsAsError: false,
      });
    }
    this.commands.set(command.id, command);
    this.order.push(command.id);
    const execSeconds = Number(params.executionTimeout?.[0] ?? 3600);
    setTimeout(() => this.dispatch(command, fleet, script, execSeconds), this.host.invisibleMs);
    return { Command: this.commandShape(command) };
  }

  /** Starts invocations up to MaxConcurrency; each finished one starts the next. */
  private dispatch(c: Command, fleet: Map<string, SimInstance>, script: string, execSeconds: number): void {
    const n = c.invocations.size;
    const concurrency = limitOf(c.maxConcurrency, n, 'MaxConcurrency');
    const maxErrors = limitOf(c.maxErrors, n, 'MaxErrors');
    const next = () => {
      if (c.cancelled) return;
      const errors = [...c.invocations.values()].filter((i) => i.countsAsError).length;
      if (errors > maxErrors && !c.halted) {
        // MaxErrors exceeded: SSM sends to no further targets; those not started are not run.
        c.halted = true;
        for (const inv of c.invocations.values()) {
          if (inv.status === 'Pending') this.finish(inv, 'Cancelled', 'Cancelled', -1);
        }
      }
      if (c.halted) return;
      let running = [...c.invocations.values()].filter(
        (i) => i.status === 'InProgress' || i.status === 'Delayed',
      ).length;
      for (const inv of c.invocations.values()) {
        if (running >= concurrency) break;
        if (inv.status !== 'Pending' || inv.child) continue;
        this.run(c, inv, fleet.get(inv.instanceId), script, execSeconds, next);
        if (isRunning(inv)) running++;
      }
    };
    next();
  }

  private finish(inv: Invocation, status: InvStatus, details: string, code: number): void {
    inv.status = status;
    inv.statusDetails = details;
    inv.responseCode = code;
    inv.endedAt = Date.now();
    inv.child = undefined;
    inv.countsAsError =
      status === 'Failed' && details === 'Failed' ? true : details === 'Execution Timed Out';
  }

  private run(
    c: Command,
    inv: Invocation,
    inst: SimInstance | undefined,
    script: string,
    execSeconds: number,
    next: () => void,
  ): void {
    if (!inst || inst.pingStatus === 'Inactive') {
      // The instance left the fleet (terminated or stopped) after the send: Terminated / Undeliverable.
      this.finish(inv, 'Failed', inst ? 'Undeliverable' : 'Terminated', -1);
      return next();
    }
    if (inst.pingStatus !== 'Online') {
      // The agent is not connected: SSM keeps retrying (Delayed) until the delivery timeout.
      inv.status = 'Delayed';
      inv.statusDetails = 'Delayed';
      const timer = setTimeout(() => {
        if (inv.status !== 'Delayed') return;
        this.finish(inv, 'TimedOut', 'Delivery Timed Out', -1);
        next();
      }, this.host.deliveryTimeoutMs(c));
      timer.unref();
      return;
    }
    inv.status = 'InProgress';
    inv.statusDetails = 'InProgress';
    inv.startedAt = Date.now();
    this.withSlot((release) => {
      // Cancelled (or the twin stopped) while waiting for a host slot: nothing to run.
      if (inv.status !== 'InProgress') {
        release();
        return;
      }
      // The agent writes the script to <orchestration>/_script.sh and runs it with sh -c (agent's runshellscript.go).
      const dir = join(this.host.workDir, 'ssm', c.id, inv.instanceId);
      mkdirSync(dir, { recursive: true });
      const path = join(dir, '_script.sh');
      writeFileSync(path, script, { mode: 0o700 });
      const env = this.host.scriptEnv(inst);
      const { cmd, args } = this.host.scriptProcess(inst, path, env);
      const child = spawn(cmd, args, { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      inv.child = child;
      child.stdout?.on('data', (d: Buffer) => (inv.stdout += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (inv.stderr += d.toString()));
      const timer = setTimeout(() => {
        inv.statusDetails = 'Execution Timed Out';
        killGroup(child);
      }, execSeconds * 1000);
      child.on('error', () => undefined);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        release();
        if (inv.status === 'Cancelling') this.finish(inv, 'Cancelled', 'Cancelled', code ?? -1);
        else if (inv.statusDetails === 'Execution Timed Out')
          this.finish(inv, 'TimedOut', 'Execution Timed Out', code ?? -1);
        else if (code === 0) this.finish(inv, 'Success', 'Success', 0);
        else this.finish(inv, 'Failed', 'Failed', code ?? (signal ? 137 : -1));
        next();
      });
    });
  }

  private command(req: Record<string, unknown>): Command {
    const c = this.commands.get(String(req.CommandId ?? ''));
    if (!c) throw new SsmError('InvalidCommandId', 'Invalid command ID');
    return c;
  }

  /** The parent command's Status and counters (monitor-commands.html). */
  private commandShape(c: Command): Record<string, unknown> {
    const invs = [...c.invocations.values()];
    const done = invs.filter((i) => TERMINAL.has(i.status));
    const errorCount = invs.filter((i) => i.countsAsError).length;
    const deliveryTimedOut = invs.filter((i) => i.statusDetails === 'Delivery Timed Out').length;
    const maxErrors = limitOf(c.maxErrors, Math.max(1, invs.length), 'MaxErrors');
    let status: string;
    let details: string;
    if (c.cancelled && done.length === invs.length) [status, details] = ['Cancelled', 'Cancelled'];
    else if (c.cancelled) [status, details] = ['Cancelling', 'Cancelling'];
    else if (
      done.length < invs.length &&
      !(c.halted && invs.every((i) => TERMINAL.has(i.status) || i.status === 'Pending'))
    )
      [status, details] =
        done.length === 0 && invs.every((i) => i.status === 'Pending')
          ? ['Pending', 'Pending']
          : ['InProgress', 'InProgress'];
    else if (errorCount > maxErrors) {
      const timedOut = invs.some((i) => i.statusDetails === 'Execution Timed Out');
      [status, details] =
        timedOut && !invs.some((i) => i.statusDetails === 'Failed')
          ? ['TimedOut', 'Execution Timed Out']
          : ['Failed', 'Failed'];
    } else if (deliveryTimedOut > maxErrors) [status, details] = ['TimedOut', 'Delivery Timed Out'];
    else if (invs.every((i) => i.status === 'Success')) [status, details] = ['Success', 'Success'];
    // Some did not succeed, not enough to fail the command: Status Success, StatusDetails Incomplete.
    else [status, details] = ['Success', 'Incomplete'];
    return {
      CommandId: c.id,
      DocumentName: c.documentName,
      DocumentVersion: '$DEFAULT',
      Comment: c.comment,
      ExpiresAfter: epoch(c.requestedAt + (c.timeoutSeconds + 3600) * 1000),
      Parameters: c.parameters,
      InstanceIds: c.instanceIds,
      Targets: c.targets,
      RequestedDateTime: epoch(c.requestedAt),
      Status: status,
      StatusDetails: details,
      OutputS3Region: '',
      OutputS3BucketName: '',
      OutputS3KeyPrefix: '',
      MaxConcurrency: c.maxConcurrency,
      MaxErrors: c.maxErrors,
      TargetCount: invs.length,
      CompletedCount: done.length,
      ErrorCount: errorCount,
      DeliveryTimedOutCount: deliveryTimedOut,
      ServiceRole: '',
      NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
      TimeoutSeconds: c.timeoutSeconds,
    };
  }

  private getCommandInvocation(req: Record<string, unknown>): unknown {
    const c = this.commands.get(String(req.CommandId ?? ''));
    const inv = c?.invocations.get(String(req.InstanceId ?? ''));
    if (!c || !inv || Date.now() < inv.visibleAt)
      throw new SsmError(
        'InvocationDoesNotExist',
        'An invocation does not exist for the command and instance',
      );
    return {
      CommandId: c.id,
      InstanceId: inv.instanceId,
      Comment: c.comment,
      DocumentName: c.documentName,
      DocumentVersion: '$DEFAULT',
      PluginName: 'aws:runShellScript',
      ResponseCode: inv.responseCode,
      ExecutionStartDateTime: isoTime(inv.startedAt),
      ExecutionElapsedTime: inv.startedAt
        ? `PT${(((inv.endedAt ?? Date.now()) - inv.startedAt) / 1000).toFixed(3)}S`
        : '',
      ExecutionEndDateTime: isoTime(inv.endedAt),
      Status: inv.status,
      StatusDetails: inv.statusDetails,
      StandardOutputContent: inv.stdout.slice(0, GET_STDOUT_LIMIT),
      StandardOutputUrl: '',
      StandardErrorContent: inv.stderr.slice(0, 8_000),
      StandardErrorUrl: '',
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
    };
  }

  private page<T>(items: T[], req: Record<string, unknown>, max: number): { items: T[]; next?: string } {
    const start = Number(req.NextToken ?? 0) || 0;
    const size = Math.min(max, Number(req.MaxResults ?? max) || max);
    const slice = items.slice(start, start + size);
    return { items: slice, next: start + size < items.length ? String(start + size) : undefined };
  }

  private listCommands(req: Record<string, unknown>): unknown {
    let list = this.order.map((id) => this.commands.get(id)!).reverse();
    if (req.CommandId) list = [this.command(req)];
    if (req.InstanceId) list = list.filter((c) => c.invocations.has(String(req.InstanceId)));
    const { items, next } = this.page(list, req, 50);
    return { Commands: items.map((c) => this.commandShape(c)), ...(next ? { NextToken: next } : {}) };
  }

  private listCommandInvocations(req: Record<string, unknown>): unknown {
    let list = (req.CommandId ? [this.command(req)] : this.order.map((id) => this.commands.get(id)!)).flatMap(
      (c) => [...c.invocations.values()].filter((i) => Date.now() >= i.visibleAt).map((inv) => ({ c, inv })),
    );
    if (req.InstanceId) list = list.filter((x) => x.inv.instanceId === req.InstanceId);
    const { items, next } = this.page(list, req, 50);
    const details = req.Details === true;
    return {
      CommandInvocations: items.map(({ c, inv }) => ({
        CommandId: c.id,
        InstanceId: inv.instanceId,
        InstanceName: '',
        Comment: c.comment,
        DocumentName: c.documentName,
        DocumentVersion: '$DEFAULT',
        RequestedDateTime: epoch(c.requestedAt),
        Status: inv.status,
        StatusDetails: inv.statusDetails,
        StandardOutputUrl: '',
        StandardErrorUrl: '',
        CommandPlugins: details
          ? [
              {
                Name: 'aws:runShellScript',
                Status: inv.status,
                StatusDetails: inv.statusDetails,
                ResponseCode: inv.responseCode,
                ResponseStartDateTime: epoch(inv.startedAt),
                ResponseFinishDateTime: epoch(inv.endedAt),
                // The agent's plugin Output: stdout, then the separator and stderr, cut at 2,500.
                Output: pluginOutput(inv.stdout, inv.stderr),
                StandardOutputUrl: '',
                StandardErrorUrl: '',
                OutputS3Region: '',
                OutputS3BucketName: '',
                OutputS3KeyPrefix: '',
              },
            ]
          : [],
        ServiceRole: '',
        NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
        CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
      })),
      ...(next ? { NextToken: next } : {}),
    };
  }

  private cancelCommand(req: Record<string, unknown>): unknown {
    const c = this.command(req);
    const only = (req.InstanceIds as string[] | undefined) ?? [];
    if (only.length === 0) c.cancelled = true;
    for (const inv of c.invocations.values()) {
      if (only.length > 0 && !only.includes(inv.instanceId)) continue;
      if (inv.status === 'Pending' || inv.status === 'Delayed')
        this.finish(inv, 'Cancelled', 'Cancelled', -1);
      else if (inv.status === 'InProgress' && inv.child) {
        inv.status = 'Cancelling';
        inv.statusDetails = 'Cancelling';
        killGroup(inv.child);
      } else if (inv.status === 'InProgress') {
        // Still waiting for a host slot (maxParallelScripts): it never ran.
        this.finish(inv, 'Cancelled', 'Cancelled', -1);
      }
    }
    return {};
  }

  private async describeInstanceInformation(req: Record<string, unknown>): Promise<unknown> {
    const fleet = await this.host.instances();
    // Only managed nodes (a registered agent) are listed (API_DescribeInstanceInformation).
    let ids = [...fleet.keys()].filter((id) => fleet.get(id)!.registered).sort();
    const filters = [
      ...((req.Filters as { Key: string; Values: string[] }[] | undefined) ?? []),
      ...((req.InstanceInformationFilterList as { key: string; valueSet: string[] }[] | undefined) ?? []).map(
        (f) => ({
          Key: f.key,
          Values: f.valueSet,
        }),
      ),
    ];
    for (const f of filters) {
      if (f.Key === 'InstanceIds') ids = ids.filter((id) => f.Values.includes(id));
      else if (f.Key === 'PingStatus') ids = ids.filter((id) => f.Values.includes(fleet.get(id)!.pingStatus));
      else
        throw new SsmError(
          'InvalidInstanceInformationFilterValue',
          `filter ${f.Key} is not simulated by the twin`,
        );
    }
    const max = Math.max(5, Math.min(50, Number(req.MaxResults ?? 50) || 50));
    const { items, next } = this.page(ids, { ...req, MaxResults: max }, 50);
    return {
      InstanceInformationList: items.map((id) => {
        const inst = fleet.get(id)!;
        return {
          InstanceId: id,
          PingStatus: inst.pingStatus,
          LastPingDateTime: Date.now() / 1000,
          AgentVersion: '3.3.0.0',
          IsLatestVersion: false,
          PlatformType: 'Linux',
          PlatformName: 'Amazon Linux',
          PlatformVersion: '2023',
          ResourceType: 'EC2Instance',
          IPAddress: '10.0.0.1',
          ComputerName: inst.hostName(),
        };
      }),
      ...(next ? { NextToken: next } : {}),
    };
  }

  /** Kills every script still running (the twin is stopping). */
  stopAll(): void {
    for (const c of this.commands.values())
      for (const inv of c.invocations.values()) if (inv.child) killGroup(inv.child);
  }

  /** Test and bench hook: every command's invocations as the twin holds them. */
  snapshot(): { commandId: string; instanceId: string; status: string; stdout: string; stderr: string }[] {
    return [...this.commands.values()].flatMap((c) =>
      [...c.invocations.values()].map((i) => ({
        commandId: c.id,
        instanceId: i.instanceId,
        status: i.statusDetails,
        stdout: i.stdout,
        stderr: i.stderr,
      })),
    );
  }
}

export function pluginOutput(stdout: string, stderr: string): string {
  const joined = stderr ? `${stdout}${ERROR_SEPARATOR}${stderr}` : stdout;
  return joined.slice(0, PLUGIN_OUTPUT_LIMIT);
}

function isRunning(inv: Invocation): boolean {
  return inv.status === 'InProgress' || inv.status === 'Delayed';
}

function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}
