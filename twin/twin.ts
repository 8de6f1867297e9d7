// The twin: a stand-in endpoint in front of moto_server for the rehearsal, the emulator tests and
// the bench (test support, not part of the action; never bundled into dist/).
//
// One HTTP server on 127.0.0.1 (a free port). Every request is forwarded unchanged to the loopback
// moto_server it was given, and nowhere else, except what the twin implements:
//   - SSM Run Command (JSON 1.1, X-Amz-Target AmazonSSM.*): SendCommand runs the script for real on
//     simulated instances (twin/ssm.ts, twin/instance.ts), and the read calls answer from that;
//   - CloudWatch GetMetricData (JSON 1.0, X-Amz-Target GraniteServiceVersion20100801.GetMetricData,
//     what @aws-sdk/client-cloudwatch 3.1164 sends) for AWS/SQS, from the SQS traffic forwarded here;
//   - SQS StartMessageMoveTask / ListMessageMoveTasks / CancelMessageMoveTask (JSON, AmazonSQS.*).
// The twin's loopback control path /__twin/<tool> serves the systemctl and journalctl stand-ins.
import { DescribeInstancesCommand, EC2Client, type Filter } from '@aws-sdk/client-ec2';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimInstance, type UnitConfig } from './instance.js';
import { queueNameOf, SqsMetrics, SQS_METRICS } from './sqs-metrics.js';
import { SsmError, SsmSimulator } from './ssm.js';
import { journalctl, systemctl } from './tools.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const TWIN_BIN = join(HERE, 'bin');
export const TWIN_WORKERS = join(HERE, 'workers');

export type WorkerKind = 'broken' | 'fixed' | 'looping' | 'crash' | 'noisy';
export function workerSource(kind: WorkerKind): string {
  return readFileSync(join(TWIN_WORKERS, `${kind}.py`), 'utf8');
}
export function workerPath(kind: WorkerKind): string {
  return join(TWIN_WORKERS, `${kind}.py`);
}

export interface TwinOptions {
  /** moto_server's endpoint: must be http on a loopback address. */
  motoEndpoint: string;
  region?: string;
  /** EC2 filters of the fleet ("tag:Name" → values); empty: every running instance. */
  instanceFilters?: Record<string, string[]>;
  serviceName?: string;
  workerDir?: string;
  targetFile?: string;
  /** The queue the workers consume (by name). */
  queueName?: string;
  /** The worker file every instance starts with. */
  initialWorker?: WorkerKind;
  /** Run no real worker process (the bench's large fleets): the unit's process is `sleep`. */
  idleWorkers?: boolean;
  /**
   * The units' services run inside the twin, with no process per instance (the bench's 1,000:
   * the issue allows it); the action's scripts still run for real on every instance.
   */
  servicesInTwin?: boolean;
  /** How many scripts run on this machine at once (default: no bound); see SsmHost. */
  maxParallelScripts?: number;
  /** How long after SendCommand an invocation is unknown to GetCommandInvocation (default 400 ms). */
  invisibleMs?: number;
  /** Delivery to a dropped agent gives up after this long (AWS: the command's TimeoutSeconds). */
  deliveryTimeoutMs?: number;
  stopTimeoutMs?: number;
  restartMs?: number;
  /** How often each known queue's depth is read for the metrics (default 5 s). */
  depthSampleMs?: number;
  log?: (line: string) => void;
}

export interface Twin {
  endpoint: string;
  port: number;
  /** True when scripts run for real in a private mount namespace per instance. */
  isolated: boolean;
  isolationNote: string;
  ssm: SsmSimulator;
  metrics: SqsMetrics;
  instances(): Promise<Map<string, SimInstance>>;
  /** The agent of one instance stops answering: PingStatus ConnectionLost, commands Delayed. */
  dropAgent(instanceId: string): void;
  /**
   * The agent of one instance is no longer registered with SSM (deregistered): the instance is
   * still running in EC2, but DescribeInstanceInformation leaves it out and SendCommand naming it
   * fails with InvalidInstanceId (API_SendCommand, Errors).
   */
  unregisterAgent(instanceId: string): void;
  /** Overhead: total ms the twin spent in its own handlers, and how many calls. */
  overhead(): {
    calls: number;
    ms: number;
    byAction: Record<string, { calls: number; ms: number; motoMs: number }>;
    motoMs: number;
    forwardCalls: number;
    forwardMs: number;
    actionForwardMs: number;
  };
  stop(): Promise<void>;
}

function checkLoopback(endpoint: string): URL {
  const u = new URL(endpoint);
  if (u.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname))
    throw new Error(`the twin forwards only to a loopback moto_server over http, not ${endpoint}`);
  return u;
}

/** Can this process give each instance a private mount namespace? (root and unshare -m) */
export function probeIsolation(): { ok: boolean; note: string } {
  if (process.getuid?.() !== 0)
    return { ok: false, note: 'not root: no private mount namespace per instance' };
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'true'], { encoding: 'utf8' });
  if (r.status !== 0)
    return { ok: false, note: `unshare -m failed: ${(r.stderr || r.error?.message || '').trim()}` };
  return { ok: true, note: 'each instance runs its scripts in a private mount namespace (unshare -m)' };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((res, rej) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res(Buffer.concat(chunks)));
    req.on('error', rej);
  });
}

interface Forwarded {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function forward(moto: URL, req: IncomingMessage, body: Buffer, override?: Buffer): Promise<Forwarded> {
  const payload = override ?? body;
  const headers = { ...req.headers };
  if (override) headers['content-length'] = String(payload.length);
  return new Promise((res, rej) => {
    const out = httpRequest(
      {
        host: moto.hostname.replace(/^\[|\]$/g, ''),
        port: moto.port,
        method: req.method,
        path: req.url,
        headers,
      },
      (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () =>
          res({ status: r.statusCode ?? 502, headers: r.headers, body: Buffer.concat(chunks) }),
        );
        r.on('error', rej);
      },
    );
    out.on('error', rej);
    out.end(payload);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, contentType: string): void {
  const text = JSON.stringify(body ?? {});
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

interface MoveTask {
  handle: string;
  sourceArn: string;
  destinationArn: string;
  rate: number;
  status: 'RUNNING' | 'COMPLETED' | 'CANCELLING' | 'CANCELLED' | 'FAILED';
  moved: number;
  toMove: number;
  started: number;
  failureReason?: string;
}

export async function startTwin(opts: TwinOptions): Promise<Twin> {
  const moto = checkLoopback(opts.motoEndpoint);
  const region = opts.region ?? 'ap-northeast-1';
  const log = opts.log ?? (() => undefined);
  const iso = probeIsolation();
  log(
    iso.ok
      ? `twin: ${iso.note}`
      : `twin: scripts cannot be isolated per instance (${iso.note}); SSM goes to moto as without the twin`,
  );
  const workDir = mkdtempSync(join(tmpdir(), 'twin-'));
  mkdirSync(join(workDir, 'instances'), { recursive: true });
  const creds = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  const ec2 = new EC2Client({ region, endpoint: opts.motoEndpoint, credentials: creds });
  const sqs = new SQSClient({ region, endpoint: opts.motoEndpoint, credentials: creds });
  const metrics = new SqsMetrics();
  const simulated = new Map<string, SimInstance>();
  let endpoint = '';
  let running = new Map<string, SimInstance>();
  let fleetReadAt = 0;
  let fleetRead: Promise<Map<string, SimInstance>> | undefined;
  const overhead = {
    calls: 0,
    ms: 0,
    byAction: {} as Record<string, { calls: number; ms: number; motoMs: number }>,
    /** Of `ms`, the time the twin's answers waited on its own lookups in moto (not its own work). */
    motoMs: 0,
    /** Requests sent on to moto, and the time they took there (the emulator's share, not the twin's). */
    forwardCalls: 0,
    forwardMs: 0,
    /** The share of those sent by the action itself (its user agent), not by workers or the aws CLI. */
    actionForwardMs: 0,
  };

  const unit: UnitConfig = {
    name: opts.serviceName ?? 'file-processor',
    workerDir: opts.workerDir ?? '/opt/file-processor',
    targetFile: opts.targetFile ?? 'worker.py',
    env: {},
    stopTimeoutMs: opts.stopTimeoutMs ?? 5000,
    restartMs: opts.restartMs ?? 1000,
    startLimitBurst: 5,
    startLimitIntervalMs: 10_000,
    inTwin: opts.servicesInTwin === true,
  };
  const initial = opts.idleWorkers
    ? 'import signal, time\nsignal.signal(signal.SIGTERM, lambda *a: exit(0))\nwhile True: time.sleep(3600)\n'
    : workerSource(opts.initialWorker ?? 'broken');

  async function readFleet(): Promise<Map<string, SimInstance>> {
    const filters: Filter[] = [
      { Name: 'instance-state-name', Values: ['running'] },
      ...Object.entries(opts.instanceFilters ?? {}).map(([Name, Values]) => ({ Name, Values })),
    ];
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const out = await ec2.send(new DescribeInstancesCommand({ Filters: filters, NextToken: token }));
      for (const r of out.Reservations ?? [])
        for (const i of r.Instances ?? []) if (i.InstanceId) ids.push(i.InstanceId);
      token = out.NextToken;
    } while (token);
    const next = new Map<string, SimInstance>();
    for (const id of ids) {
      let inst = simulated.get(id);
      if (!inst) {
        inst = new SimInstance(id, join(workDir, 'instances'), { ...unit, env: workerEnv(id) }, initial);
        simulated.set(id, inst);
        inst.start();
      }
      if (inst.pingStatus === 'Inactive') inst.pingStatus = 'Online';
      next.set(id, inst);
    }
    // An instance no longer running (stopped, terminated): its agent is gone and its unit stops.
    for (const [id, inst] of simulated) {
      if (!next.has(id) && inst.pingStatus !== 'Inactive') {
        inst.pingStatus = 'Inactive';
        void inst.shutdown();
      }
    }
    running = next;
    fleetReadAt = Date.now();
    return next;
  }

  // The time a call the twin answers spends waiting on its own lookups in moto (the fleet, tag
  // targets): the emulator's share, told apart from the twin's own handling. Each caller counts
  // its own wait, also when several wait on one shared fleet reading.
  const motoWait = new AsyncLocalStorage<{ ms: number }>();
  async function waitingOnMoto<T>(p: Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await p;
    } finally {
      const ctx = motoWait.getStore();
      if (ctx) ctx.ms += performance.now() - t0;
    }
  }

  function instances(): Promise<Map<string, SimInstance>> {
    if (Date.now() - fleetReadAt < 1000) return Promise.resolve(running);
    fleetRead ??= readFleet().finally(() => (fleetRead = undefined));
    return waitingOnMoto(fleetRead);
  }

  function workerEnv(id: string): Record<string, string> {
    return {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_EC2_METADATA_DISABLED: 'true',
      WORKER_QUEUE_NAME: opts.queueName ?? 'file-processing-queue-production',
      TWIN_WORKERS,
      TWIN_INSTANCE: id,
    };
  }

  const ssm = new SsmSimulator({
    workDir,
    invisibleMs: opts.invisibleMs ?? 400,
    maxParallelScripts: opts.maxParallelScripts,
    deliveryTimeoutMs: (c) => opts.deliveryTimeoutMs ?? c.timeoutSeconds * 1000,
    instances,
    async resolveTargets(targets) {
      const filters: Filter[] = [{ Name: 'instance-state-name', Values: ['running'] }];
      for (const t of targets) {
        if (t.Key === 'InstanceIds') filters.push({ Name: 'instance-id', Values: t.Values });
        else if (t.Key.startsWith('tag:')) filters.push({ Name: t.Key, Values: t.Values });
        else if (t.Key.startsWith('tag-key')) filters.push({ Name: 'tag-key', Values: t.Values });
        else throw new SsmError('InvalidTarget', `target key ${t.Key} is not simulated by the twin`);
      }
      const ids: string[] = [];
      let token: string | undefined;
      do {
        const out = await waitingOnMoto(
          ec2.send(new DescribeInstancesCommand({ Filters: filters, NextToken: token })),
        );
        for (const r of out.Reservations ?? [])
          for (const i of r.Instances ?? []) if (i.InstanceId) ids.push(i.InstanceId);
        token = out.NextToken;
      } while (token);
      return ids;
    },
    scriptEnv(inst) {
      return {
        PATH: `${TWIN_BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        HOME: join(inst.root, 'root'),
        LANG: 'C',
        TWIN_BIN,
        TWIN_CONTROL: endpoint,
        TWIN_INSTANCE: inst.instanceId,
        TWIN_ROOT: inst.root,
        TWIN_WORKER_DIR: unit.workerDir,
        AWS_ENDPOINT_URL: endpoint,
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_DEFAULT_REGION: region,
        AWS_EC2_METADATA_DISABLED: 'true',
        PYENV_VERSION: process.env.PYENV_VERSION ?? '',
      };
    },
    scriptProcess(_inst, scriptPath) {
      // twin/bin/enter bind-mounts the instance's worker dir and /run/emergency-deploy over the
      // real paths inside the new namespace, then runs the script as the agent does (sh -c).
      return {
        cmd: 'unshare',
        args: ['-m', '--propagation', 'private', '/bin/bash', join(TWIN_BIN, 'enter'), scriptPath],
      };
    },
  });

  const tasks: MoveTask[] = [];
  async function queueUrlOfArn(arn: string): Promise<string> {
    const out = await sqs.send(new GetQueueUrlCommand({ QueueName: queueNameOf(arn) }));
    return out.QueueUrl ?? '';
  }
  async function sourceOfDlq(dlqArn: string): Promise<string | undefined> {
    const list = await sqs.send(new ListQueuesCommand({}));
    for (const url of list.QueueUrls ?? []) {
      const a = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy', 'QueueArn'] }),
      );
      const policy = a.Attributes?.RedrivePolicy
        ? (JSON.parse(a.Attributes.RedrivePolicy) as { deadLetterTargetArn?: string })
        : undefined;
      if (policy?.deadLetterTargetArn === dlqArn) return a.Attributes?.QueueArn;
    }
    return undefined;
  }
  async function runTask(t: MoveTask): Promise<void> {
    try {
      const from = await queueUrlOfArn(t.sourceArn);
      const to = await queueUrlOfArn(t.destinationArn);
      while (t.status === 'RUNNING') {
        const tickStart = Date.now();
        let budget = t.rate;
        let movedThisTick = 0;
        while (budget > 0 && t.status === 'RUNNING') {
          const got = await sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: from,
              MaxNumberOfMessages: Math.min(10, budget),
              VisibilityTimeout: 30,
            }),
          );
          const msgs = got.Messages ?? [];
          if (msgs.length === 0) break;
          // Redriven messages are new messages on the destination (new MessageId).
          await sqs.send(
            new SendMessageBatchCommand({
              QueueUrl: to,
              Entries: msgs.map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? '' })),
            }),
          );
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: from,
              Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
            }),
          );
          metrics.recordMove(
            queueNameOf(t.sourceArn),
            queueNameOf(t.destinationArn),
            msgs.map((m) => m.MessageId ?? ''),
          );
          t.moved += msgs.length;
          budget -= msgs.length;
          movedThisTick += msgs.length;
        }
        if (movedThisTick === 0 && t.moved >= t.toMove) {
          t.status = 'COMPLETED';
          break;
        }
        if (movedThisTick === 0) {
          const left = await sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: from,
              AttributeNames: ['ApproximateNumberOfMessages'],
            }),
          );
          if (Number(left.Attributes?.ApproximateNumberOfMessages ?? 0) === 0) {
            t.status = 'COMPLETED';
            break;
          }
        }
        await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - tickStart))));
      }
      if (t.status === 'CANCELLING') t.status = 'CANCELLED';
    } catch (e) {
      t.status = 'FAILED';
      t.failureReason = (e as Error).message;
    }
  }

  async function sqsAction(action: string, req: Record<string, unknown>): Promise<unknown> {
    if (action === 'StartMessageMoveTask') {
      const sourceArn = String(req.SourceArn ?? '');
      const destinationArn = req.DestinationArn ? String(req.DestinationArn) : await sourceOfDlq(sourceArn);
      if (!destinationArn)
        throw new SsmError(
          'com.amazonaws.sqs#InvalidParameterValue',
          'Source queue must be configured as a Dead Letter Queue.',
        );
      if (tasks.some((t) => t.sourceArn === sourceArn && t.status === 'RUNNING'))
        throw new SsmError(
          'com.amazonaws.sqs#UnsupportedOperation',
          'There is already a task running. Only one active task is allowed for a source queue arn at a given time.',
        );
      const rate = Number(req.MaxNumberOfMessagesPerSecond ?? 500);
      if (!Number.isInteger(rate) || rate < 1 || rate > 500)
        throw new SsmError(
          'com.amazonaws.sqs#InvalidParameterValue',
          'MaxNumberOfMessagesPerSecond must be from 1 to 500',
        );
      const depth = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: await queueUrlOfArn(sourceArn),
          AttributeNames: ['ApproximateNumberOfMessages'],
        }),
      );
      const task: MoveTask = {
        handle: Buffer.from(JSON.stringify({ taskId: randomUUID(), sourceArn })).toString('base64'),
        sourceArn,
        destinationArn,
        rate,
        status: 'RUNNING',
        moved: 0,
        toMove: Number(depth.Attributes?.ApproximateNumberOfMessages ?? 0),
        started: Date.now(),
      };
      tasks.push(task);
      void runTask(task);
      return { TaskHandle: task.handle };
    }
    if (action === 'ListMessageMoveTasks') {
      const max = Math.min(10, Number(req.MaxResults ?? 1) || 1);
      const list = tasks
        .filter((t) => t.sourceArn === req.SourceArn)
        .reverse()
        .slice(0, max);
      return {
        Results: list.map((t) => ({
          ...(t.status === 'RUNNING' ? { TaskHandle: t.handle } : {}),
          Status: t.status,
          SourceArn: t.sourceArn,
          DestinationArn: t.destinationArn,
          MaxNumberOfMessagesPerSecond: t.rate,
          ApproximateNumberOfMessagesMoved: t.moved,
          ApproximateNumberOfMessagesToMove: t.toMove,
          ...(t.failureReason ? { FailureReason: t.failureReason } : {}),
          StartedTimestamp: t.started,
        })),
      };
    }
    // CancelMessageMoveTask
    const t = tasks.find((x) => x.handle === req.TaskHandle);
    if (!t || t.status !== 'RUNNING')
      throw new SsmError(
        'com.amazonaws.sqs#ResourceNotFoundException',
        'Task does not exist or is not running.',
      );
    t.status = 'CANCELLING';
    return { ApproximateNumberOfMessagesMoved: t.moved };
  }

  /** GetMetricData: AWS/SQS queries answered here, the rest sent on to moto in one call. */
  async function getMetricData(
    req: IncomingMessage,
    body: Buffer,
    input: Record<string, unknown>,
  ): Promise<unknown> {
    type Q = {
      Id: string;
      MetricStat?: {
        Metric?: { Namespace?: string; MetricName?: string; Dimensions?: { Name: string; Value: string }[] };
        Period?: number;
        Stat?: string;
      };
    };
    const queries = (input.MetricDataQueries as Q[] | undefined) ?? [];
    const ours = queries.filter((q) => q.MetricStat?.Metric?.Namespace === 'AWS/SQS');
    const rest = queries.filter((q) => !ours.includes(q));
    const toMs = (v: unknown) => (typeof v === 'number' ? v * 1000 : Date.parse(String(v)));
    const startMs = toMs(input.StartTime);
    const endMs = toMs(input.EndTime);
    const results: Record<string, unknown>[] = ours.map((q) => {
      const m = q.MetricStat!.Metric!;
      const queue = m.Dimensions?.find((d) => d.Name === 'QueueName')?.Value ?? '';
      const known = (SQS_METRICS as readonly string[]).includes(m.MetricName ?? '');
      const s = known
        ? metrics.series(
            queue,
            m.MetricName!,
            q.MetricStat!.Stat ?? 'Average',
            q.MetricStat!.Period ?? 60,
            startMs,
            endMs,
          )
        : { Timestamps: [], Values: [] };
      if (input.ScanBy !== 'TimestampAscending') {
        s.Timestamps.reverse();
        s.Values.reverse();
      }
      return { Id: q.Id, Label: m.MetricName, ...s, StatusCode: 'Complete' };
    });
    if (rest.length > 0) {
      const answer = await waitingOnMoto(
        forward(moto, req, body, Buffer.from(JSON.stringify({ ...input, MetricDataQueries: rest }))),
      );
      const parsed = JSON.parse(answer.body.toString() || '{}') as {
        MetricDataResults?: Record<string, unknown>[];
      };
      if (answer.status !== 200) throw Object.assign(new Error('moto'), { forwarded: answer });
      results.push(...(parsed.MetricDataResults ?? []));
    }
    return { MetricDataResults: results, Messages: [] };
  }

  // S3 uploads through the twin become queue messages inside moto: count them as sent.
  const notificationCache = new Map<
    string,
    { at: number; rules: { queue: string; prefix: string; suffix: string }[] }
  >();
  async function countNotification(bucket: string, key: string): Promise<void> {
    let entry = notificationCache.get(bucket);
    if (!entry || Date.now() - entry.at > 5000) {
      const r = await fetch(`${moto.origin}/${bucket}?notification`);
      const xml = await r.text();
      const rules = [...xml.matchAll(/<QueueConfiguration>([\s\S]*?)<\/QueueConfiguration>/g)].map((m) => {
        const c = m[1];
        const rule = (n: string) =>
          new RegExp(`<Name>${n}</Name>\\s*<Value>([^<]*)</Value>`, 'i').exec(c)?.[1] ?? '';
        return {
          queue: queueNameOf(/<Queue>([^<]+)<\/Queue>/.exec(c)?.[1] ?? ''),
          prefix: rule('prefix'),
          suffix: rule('suffix'),
        };
      });
      entry = { at: Date.now(), rules };
      notificationCache.set(bucket, entry);
    }
    for (const r of entry.rules)
      if (key.startsWith(r.prefix) && key.endsWith(r.suffix)) metrics.recordNotification(r.queue);
  }

  async function control(tool: string, instanceId: string, body: Buffer, res: ServerResponse): Promise<void> {
    const inst = simulated.get(instanceId);
    const raw = Buffer.from(body.toString(), 'base64').toString();
    const args = raw === '' ? [] : raw.split('\0').slice(0, -1);
    const out = !inst
      ? { stdout: '', stderr: `no simulated instance ${instanceId}\n`, exit: 1 }
      : tool === 'systemctl'
        ? await systemctl(inst, args)
        : tool === 'journalctl'
          ? journalctl(inst, args)
          : { stdout: '', stderr: `unknown tool ${tool}\n`, exit: 1 };
    // stderr is folded into the body after stdout only when there is no stdout (the scripts send
    // the stand-ins' stderr to /dev/null anyway; this keeps the message for a person running them).
    const text = out.stdout || out.stderr || '';
    res.writeHead(200, {
      'x-exit': String(out.exit),
      'content-type': 'text/plain',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A proxy-style request (absolute URI) would name another host: the twin forwards only to moto.
    if (/^[a-z]+:\/\//i.test(req.url ?? '')) {
      res.writeHead(403, { 'content-type': 'text/plain' });
      return void res.end('the twin forwards only to its loopback moto_server\n');
    }
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://twin');
    if (url.pathname.startsWith('/__twin/'))
      return control(url.pathname.slice(8), url.searchParams.get('instance') ?? '', body, res);
    const target = String(req.headers['x-amz-target'] ?? '');
    const [service, action = ''] = target.split('.');
    const started = performance.now();
    const waited = { ms: 0 };
    const account = (name: string) => {
      const ms = performance.now() - started;
      overhead.calls++;
      overhead.ms += ms;
      overhead.motoMs += waited.ms;
      const a = (overhead.byAction[name] ??= { calls: 0, ms: 0, motoMs: 0 });
      a.calls++;
      a.ms += ms;
      a.motoMs += waited.ms;
    };
    try {
      if (service === 'AmazonSSM' && iso.ok && SsmSimulator.ACTIONS.has(action)) {
        const input = JSON.parse(body.toString() || '{}') as Record<string, unknown>;
        const out = await motoWait.run(waited, () => ssm.handle(action, input));
        account(`ssm:${action}`);
        return sendJson(res, 200, out, 'application/x-amz-json-1.1');
      }
      if (service === 'GraniteServiceVersion20100801' && action === 'GetMetricData') {
        const input = JSON.parse(body.toString() || '{}') as Record<string, unknown>;
        const out = await motoWait.run(waited, () => getMetricData(req, body, input));
        account('cloudwatch:GetMetricData');
        return sendJson(res, 200, out, 'application/x-amz-json-1.0');
      }
      if (
        service === 'AmazonSQS' &&
        ['StartMessageMoveTask', 'ListMessageMoveTasks', 'CancelMessageMoveTask'].includes(action)
      ) {
        const out = await sqsAction(action, JSON.parse(body.toString() || '{}') as Record<string, unknown>);
        account(`sqs:${action}`);
        return sendJson(res, 200, out, 'application/x-amz-json-1.0');
      }
    } catch (e) {
      const f = (e as { forwarded?: Forwarded }).forwarded;
      if (f) {
        res.writeHead(f.status, f.headers);
        return void res.end(f.body);
      }
      if (e instanceof SsmError) {
        const json = service === 'AmazonSSM' ? 'application/x-amz-json-1.1' : 'application/x-amz-json-1.0';
        res.setHeader('x-amzn-query-error', `${e.type.split('#').pop()};Sender`);
        return sendJson(res, e.status, { __type: e.type, message: e.message }, json);
      }
      return sendJson(
        res,
        500,
        { __type: 'InternalFailure', message: (e as Error).message },
        'application/x-amz-json-1.1',
      );
    }
    const sent = performance.now();
    const answer = await forward(moto, req, body);
    overhead.forwardCalls++;
    overhead.forwardMs += performance.now() - sent;
    if (
      `${req.headers['user-agent'] ?? ''} ${req.headers['x-amz-user-agent'] ?? ''}`.includes(
        'emergency-worker-deploy',
      )
    )
      overhead.actionForwardMs += performance.now() - sent;
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
    // Metrics bookkeeping after the answer is on its way (it does not slow the caller).
    try {
      if (service === 'AmazonSQS' && answer.status === 200) {
        metrics.record(
          action,
          JSON.parse(body.toString() || '{}') as Record<string, unknown>,
          JSON.parse(answer.body.toString() || '{}') as Record<string, unknown>,
        );
      } else if (req.method === 'PUT' && answer.status === 200 && !target && !url.search) {
        const [, bucket, ...key] = url.pathname.split('/');
        if (bucket && key.length > 0) await countNotification(bucket, decodeURIComponent(key.join('/')));
      }
    } catch {
      // bookkeeping only: a body that is not JSON (an S3 call) is not SQS traffic
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: Error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`twin: ${e.message}\n`);
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  endpoint = `http://127.0.0.1:${port}`;

  // The queues' depth, read every few seconds, for ApproximateNumberOfMessagesVisible and the age.
  const depthTimer = setInterval(() => {
    void (async () => {
      const list = await sqs.send(new ListQueuesCommand({}));
      for (const u of list.QueueUrls ?? []) {
        const a = await sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: u, AttributeNames: ['ApproximateNumberOfMessages'] }),
        );
        metrics.sampleDepth(queueNameOf(u), Number(a.Attributes?.ApproximateNumberOfMessages ?? 0));
      }
    })().catch(() => undefined);
  }, opts.depthSampleMs ?? 5000);

  if (iso.ok) await instances();
  return {
    endpoint,
    port,
    isolated: iso.ok,
    isolationNote: iso.note,
    ssm,
    metrics,
    instances,
    dropAgent(id) {
      const inst = simulated.get(id);
      if (inst) inst.pingStatus = 'ConnectionLost';
    },
    unregisterAgent(id) {
      const inst = simulated.get(id);
      if (inst) inst.registered = false;
    },
    overhead: () => overhead,
    async stop() {
      clearInterval(depthTimer);
      for (const t of tasks) if (t.status === 'RUNNING') t.status = 'CANCELLING';
      ssm.stopAll();
      await Promise.all([...simulated.values()].map((i) => i.shutdown()));
      const closed = new Promise<void>((r) => server.close(() => r()));
      // close() waits for keep-alive connections to end on their own: end them now.
      server.closeAllConnections();
      await closed;
      ec2.destroy();
      sqs.destroy();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

export const TWIN_ROOT_DIR = resolve(HERE);
