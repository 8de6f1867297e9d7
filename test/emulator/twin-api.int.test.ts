// The twin's own APIs against their reference shapes (twin/ is a stand-in in front of moto_server):
// SSM Run Command (API_SendCommand, API_GetCommandInvocation, API_ListCommands,
// API_ListCommandInvocations, API_CancelCommand, API_DescribeInstanceInformation and
// "Understanding command statuses"), CloudWatch GetMetricData for AWS/SQS (API_GetMetricData;
// SQS developer guide, "Available CloudWatch metrics for Amazon SQS"), SQS message move tasks
// (API_StartMessageMoveTask, API_ListMessageMoveTasks, API_CancelMessageMoveTask), and the
// systemctl / journalctl stand-ins the scripts call.
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { motoAvailable } from '../support/moto.js';
import { startTwinWorld, type TwinWorld } from '../support/twin-world.js';
import { WORLD } from '../support/world.js';
import { probeIsolation } from '../../twin/twin.js';
import { parseSince } from '../../twin/tools.js';

const isolation = probeIsolation();
const describeTwin = motoAvailable() && isolation.ok ? describe : describe.skip;
const TIMEOUT = 120_000;
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('journalctl --since as systemd.time(7) reads it', () => {
  it('takes the formats the scripts and systemd print', () => {
    const local = new Date(2026, 11, 1, 10, 32, 37).getTime() * 1000;
    expect(parseSince('2026-12-01 10:32:37')).toBe(local);
    expect(parseSince('@1764585157')).toBe(1764585157 * 1e6);
    expect(parseSince('Tue 2026-12-01 10:32:37 UTC')).toBe(Date.UTC(2026, 11, 1, 10, 32, 37) * 1000);
    expect(parseSince('2026-12-01 10:32:37.250000')).toBe(local + 250_000);
    expect(parseSince('2026-12-01T10:32:37+09:00')).toBe(Date.UTC(2026, 11, 1, 1, 32, 37) * 1000);
    expect(parseSince('yesterday-ish')).toBeUndefined();
  });
});

describeTwin('the twin against the API references', () => {
  let tw: TwinWorld;
  let ssm: SSMClient;
  let sqs: SQSClient;
  beforeAll(async () => {
    tw = await startTwinWorld(
      { fleetSize: 3, messages: 10, inFlight: 0 },
      { invisibleMs: 300, deliveryTimeoutMs: 1500, idleWorkers: true },
    );
    ssm = new SSMClient({ region: WORLD.region, endpoint: tw.twin.endpoint, credentials });
    sqs = new SQSClient({ region: WORLD.region, endpoint: tw.twin.endpoint, credentials });
  }, TIMEOUT);
  afterAll(async () => tw?.stop(), TIMEOUT);

  const send = (ids: string[], script: string, extra: Record<string, string> = {}) =>
    ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: ids,
        Parameters: { commands: [script] },
        ...extra,
      }),
    );

  async function until(commandId: string, done: (status: string) => boolean) {
    for (let i = 0; i < 100; i++) {
      const c = (await ssm.send(new ListCommandsCommand({ CommandId: commandId }))).Commands?.[0];
      if (c && done(c.Status ?? '')) return c;
      await sleep(200);
    }
    throw new Error(`command ${commandId} did not finish`);
  }

  it(
    'SendCommand: InvocationDoesNotExist at first, then the script runs for real; stdout capped at 24,000',
    async () => {
      const id = tw.world.instanceIds[0];
      const out = await send(
        [id],
        '#!/bin/bash\nhead -c 30000 /dev/zero | tr "\\0" x; echo; echo oops >&2; exit 0',
      );
      const commandId = out.Command?.CommandId ?? '';
      expect(out.Command).toMatchObject({
        Status: 'Pending',
        TargetCount: 1,
        DocumentName: 'AWS-RunShellScript',
      });
      await expect(
        ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: id })),
      ).rejects.toMatchObject({ name: 'InvocationDoesNotExist' });
      const c = await until(commandId, (s) => s === 'Success');
      expect(c).toMatchObject({ TargetCount: 1, CompletedCount: 1, ErrorCount: 0, StatusDetails: 'Success' });
      const inv = await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: id }));
      expect(inv).toMatchObject({ Status: 'Success', StatusDetails: 'Success', ResponseCode: 0 });
      expect(inv.StandardOutputContent).toHaveLength(24_000);
      expect(inv.StandardErrorContent).toBe('oops\n');
      // ListCommandInvocations Details: the plugin's Output is stdout, the separator, stderr, cut at 2,500.
      const list = await ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId, Details: true }));
      const plugin = list.CommandInvocations?.[0]?.CommandPlugins?.[0];
      expect(plugin).toMatchObject({ Name: 'aws:runShellScript', ResponseCode: 0, Status: 'Success' });
      expect(plugin?.Output).toHaveLength(2_500);
      const small = await send([id], '#!/bin/bash\necho out; echo err >&2; exit 3');
      await until(small.Command?.CommandId ?? '', (s) => s === 'Failed');
      const failed = await ssm.send(
        new ListCommandInvocationsCommand({ CommandId: small.Command?.CommandId, Details: true }),
      );
      expect(failed.CommandInvocations?.[0]).toMatchObject({ Status: 'Failed', StatusDetails: 'Failed' });
      expect(failed.CommandInvocations?.[0]?.CommandPlugins?.[0]?.Output).toBe(
        'out\n\n----------ERROR-------\nerr\n',
      );
      expect(failed.CommandInvocations?.[0]?.CommandPlugins?.[0]?.ResponseCode).toBe(3);
    },
    TIMEOUT,
  );

  it('SendCommand: InvalidInstanceId for a stopped or unknown instance, the whole call', async () => {
    await expect(send([tw.world.instanceIds[0], tw.world.stoppedIds[0]], 'true')).rejects.toMatchObject({
      name: 'InvalidInstanceId',
    });
    await expect(send(['i-0123456789abcdef0'], 'true')).rejects.toMatchObject({ name: 'InvalidInstanceId' });
  });

  it(
    'tag Targets, ErrorCount counting Failed only, MaxErrors honoured',
    async () => {
      const out = await ssm.send(
        new SendCommandCommand({
          DocumentName: 'AWS-RunShellScript',
          Targets: [{ Key: 'tag:Name', Values: [WORLD.tagName] }],
          Parameters: {
            commands: ['#!/bin/bash\n[ "$TWIN_INSTANCE" != ' + `'${tw.world.instanceIds[1]}' ]`],
          },
          MaxConcurrency: '1',
          MaxErrors: '1',
        }),
      );
      // Only the running instances of the tag: the stopped one is not a target.
      expect(out.Command?.TargetCount).toBe(3);
      const c = await until(out.Command?.CommandId ?? '', (s) => !['Pending', 'InProgress'].includes(s));
      // One failure within MaxErrors 1: the command still ends Success, StatusDetails Incomplete.
      expect(c).toMatchObject({
        Status: 'Success',
        StatusDetails: 'Incomplete',
        ErrorCount: 1,
        CompletedCount: 3,
      });
    },
    TIMEOUT,
  );

  it(
    'CancelCommand stops a running script; a dropped agent reads ConnectionLost and its command times out undelivered',
    async () => {
      const [a, b] = tw.world.instanceIds;
      const out = await send([a], '#!/bin/bash\nsleep 30');
      await sleep(800);
      await ssm.send(new CancelCommandCommand({ CommandId: out.Command?.CommandId }));
      const c = await until(out.Command?.CommandId ?? '', (s) => s === 'Cancelled');
      expect(c.Status).toBe('Cancelled');

      tw.twin.dropAgent(b);
      const info = await ssm.send(
        new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [a, b] }] }),
      );
      const ping = Object.fromEntries(
        (info.InstanceInformationList ?? []).map((i) => [i.InstanceId, i.PingStatus]),
      );
      expect(ping).toEqual({ [a]: 'Online', [b]: 'ConnectionLost' });
      const lost = await send([b], 'true', {});
      const t = await until(lost.Command?.CommandId ?? '', (s) => s === 'TimedOut' || s === 'Success');
      // Delivery Timed Out does not count as an error (ErrorCount 0) but is counted on its own.
      expect(t).toMatchObject({ DeliveryTimedOutCount: 1, ErrorCount: 0 });
      const inv = await ssm.send(
        new GetCommandInvocationCommand({ CommandId: lost.Command?.CommandId, InstanceId: b }),
      );
      expect(inv).toMatchObject({ Status: 'TimedOut', StatusDetails: 'Delivery Timed Out' });
    },
    TIMEOUT,
  );

  it(
    'the systemd and journal stand-ins: restart, show, is-active, journalctl --since and _PID=',
    async () => {
      const id = tw.world.instanceIds[2];
      const script = `#!/bin/bash
set -euo pipefail
old=$(systemctl show -p MainPID --value file-processor)
t0=$(date '+%Y-%m-%d %H:%M:%S')
sleep 1
systemctl restart file-processor
systemctl is-active file-processor
systemctl show -p ActiveState,SubState,NRestarts -p MainPID file-processor
new=$(systemctl show -p MainPID --value file-processor)
[ "$old" != "$new" ]
start=$(systemctl show -p ExecMainStartTimestamp --value file-processor)
echo "since-start=$(journalctl -u file-processor --since "$start" --no-pager -o cat | grep -c Started)"
echo "since-t0=$(journalctl -u file-processor --since "$t0" --no-pager -o cat | grep -c Stopping)"
echo "old-pid-lines=$(journalctl -u file-processor _PID=$new --no-pager -o cat | wc -l)"
journalctl -u file-processor -n 1 --no-pager -o short-iso
systemctl is-active other-unit || echo "other=$?"
`;
      const out = await send([id], script);
      await until(out.Command?.CommandId ?? '', (s) => s === 'Success' || s === 'Failed');
      const inv = await ssm.send(
        new GetCommandInvocationCommand({ CommandId: out.Command?.CommandId, InstanceId: id }),
      );
      expect(inv.StandardErrorContent).toBe('');
      expect(inv.Status).toBe('Success');
      const stdout = inv.StandardOutputContent ?? '';
      expect(stdout).toMatch(/^active\nActiveState=active\nSubState=running\nNRestarts=0\nMainPID=\d+\n/);
      expect(stdout).toContain('since-start=1');
      expect(stdout).toContain('since-t0=1');
      expect(stdout).toContain('old-pid-lines=0');
      expect(stdout).toMatch(
        /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} ip-\S+ systemd\[1\]: Started file-processor\.service\./,
      );
      expect(stdout).toContain('inactive\nother=3');
    },
    TIMEOUT,
  );

  it(
    'GetMetricData for AWS/SQS: sent, received and deleted per minute from the traffic through the twin',
    async () => {
      const queueName = 'twin-metrics-queue';
      const q = (await sqs.send(new CreateQueueCommand({ QueueName: queueName }))).QueueUrl ?? '';
      const started = new Date(Date.now() - 60_000);
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: q,
          Entries: [0, 1, 2].map((i) => ({ Id: String(i), MessageBody: `m${i}` })),
        }),
      );
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q, MaxNumberOfMessages: 10 }));
      expect(got.Messages).toHaveLength(3);
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: got.Messages?.[0]?.ReceiptHandle }),
      );
      const cw = new CloudWatchClient({ region: WORLD.region, endpoint: tw.twin.endpoint, credentials });
      const metric = (id: string, name: string) => ({
        Id: id,
        MetricStat: {
          Metric: {
            Namespace: 'AWS/SQS',
            MetricName: name,
            Dimensions: [{ Name: 'QueueName', Value: queueName }],
          },
          Period: 60,
          Stat: 'Sum',
        },
      });
      const out = await cw.send(
        new GetMetricDataCommand({
          StartTime: started,
          EndTime: new Date(Date.now() + 60_000),
          MetricDataQueries: [
            metric('sent', 'NumberOfMessagesSent'),
            metric('received', 'NumberOfMessagesReceived'),
            metric('deleted', 'NumberOfMessagesDeleted'),
          ],
        }),
      );
      const sum = (id: string) =>
        (out.MetricDataResults?.find((r) => r.Id === id)?.Values ?? []).reduce((a, b) => a + b, 0);
      expect(out.MetricDataResults?.every((r) => r.StatusCode === 'Complete')).toBe(true);
      expect([sum('sent'), sum('received'), sum('deleted')]).toEqual([3, 3, 1]);
      cw.destroy();
    },
    TIMEOUT,
  );

  it(
    'StartMessageMoveTask moves the DLQ back to its source; ListMessageMoveTasks reports it',
    async () => {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: tw.world.dlqUrl,
          Entries: [0, 1, 2, 3].map((i) => ({ Id: String(i), MessageBody: `dead-${i}` })),
        }),
      );
      const started = await sqs.send(
        new StartMessageMoveTaskCommand({ SourceArn: tw.world.dlqArn, MaxNumberOfMessagesPerSecond: 2 }),
      );
      expect(started.TaskHandle).toBeTruthy();
      let task;
      for (let i = 0; i < 50; i++) {
        task = (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: tw.world.dlqArn }))).Results?.[0];
        if (task?.Status !== 'RUNNING') break;
        await sleep(300);
      }
      expect(task).toMatchObject({
        Status: 'COMPLETED',
        SourceArn: tw.world.dlqArn,
        DestinationArn: tw.world.queueArn,
        ApproximateNumberOfMessagesMoved: 4,
      });
      const left = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: tw.world.dlqUrl,
          AttributeNames: ['ApproximateNumberOfMessages'],
        }),
      );
      expect(left.Attributes?.ApproximateNumberOfMessages).toBe('0');
    },
    TIMEOUT,
  );

  // Last: it leaves instanceIds[2] unmanaged. SendCommand's InvalidInstanceId is also "SSM Agent
  // isn't registered with the SSM endpoint" (SSM API Reference, SendCommand, Errors:
  // https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html), and
  // DescribeInstanceInformation lists managed nodes only (API_DescribeInstanceInformation).
  it(
    'an unregistered agent: left out of DescribeInstanceInformation, InvalidInstanceId on SendCommand, not a tag target',
    async () => {
      const [a, , c] = tw.world.instanceIds;
      tw.twin.unregisterAgent(c);
      const info = await ssm.send(
        new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [a, c] }] }),
      );
      expect((info.InstanceInformationList ?? []).map((i) => i.InstanceId)).toEqual([a]);
      await expect(send([a, c], 'true')).rejects.toMatchObject({ name: 'InvalidInstanceId' });
      const out = await ssm.send(
        new SendCommandCommand({
          DocumentName: 'AWS-RunShellScript',
          Targets: [{ Key: 'tag:Name', Values: [WORLD.tagName] }],
          Parameters: { commands: ['true'] },
        }),
      );
      // Still running in EC2, but not a managed node: tag targeting skips it.
      expect(out.Command?.TargetCount).toBe(2);
      const done = await until(out.Command?.CommandId ?? '', (s) => !['Pending', 'InProgress'].includes(s));
      // (instanceIds[1]'s agent was dropped above: its invocation ends Delivery Timed Out.)
      expect(done).toMatchObject({ CompletedCount: 2, ErrorCount: 0 });
      const invs = await ssm.send(new ListCommandInvocationsCommand({ CommandId: out.Command?.CommandId }));
      expect((invs.CommandInvocations ?? []).map((i) => i.InstanceId)).not.toContain(c);
    },
    TIMEOUT,
  );
});
