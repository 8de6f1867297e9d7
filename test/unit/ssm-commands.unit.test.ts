// Run Command: send, the InvocationDoesNotExist race, every terminal status, the 50-id fan-out,
// the ListCommands-only fast path, deadlines and cancellation. The fake clock makes every wait free.
import {
  CancelCommandCommand,
  type CommandInvocationStatus,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import {
  commandDeadlineMs,
  type InvocationResult,
  nextPollMs,
  runOnInstance,
  sendShellCommand,
  waitForInvocation,
} from '../../src/aws/ssm.js';
import { fateOf, runOnFleet } from '../../src/remote/fan-out.js';
import { awsError, testContext } from '../support/context.js';
import { type InstanceAnswer, ssmFleet, SUCCESS } from '../support/ssm-fleet.js';

const OPTS = { comment: 'emergency-deploy canary', timeoutSeconds: 120 };
const ID = 'i-0123456789abcdef0';
const ids = (n: number) => Array.from({ length: n }, (_, i) => `i-${i.toString(16).padStart(17, '0')}`);

function setup() {
  const t = testContext({ mode: 'canary' });
  const ssm = mockClient(t.ctx.clients.ssm);
  return { ...t, ssm };
}

describe('sendShellCommand', () => {
  it('sends AWS-RunShellScript with the execution timeout, a delivery timeout and the id limits', async () => {
    const { ctx, ssm } = setup();
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    expect(
      await sendShellCommand(ctx.api, ctx.clients, [ID], 'echo hi', { ...OPTS, comment: 'x'.repeat(150) }),
    ).toBe('cmd-1');
    const input = ssm.commandCalls(SendCommandCommand)[0].args[0].input;
    expect(input).toMatchObject({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: [ID],
      TimeoutSeconds: 300,
      MaxConcurrency: '1',
      MaxErrors: '0',
      Parameters: { commands: ['echo hi'], executionTimeout: ['120'] },
    });
    expect(input.Comment).toHaveLength(100);
    await expect(sendShellCommand(ctx.api, ctx.clients, [], 'x', OPTS)).rejects.toThrow(
      /1 to 50 instance ids, got 0/,
    );
    await expect(sendShellCommand(ctx.api, ctx.clients, ids(51), 'x', OPTS)).rejects.toThrow(/got 51/);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(1);
  });

  it('fails when SSM returns no command id', async () => {
    const { ctx, ssm } = setup();
    ssm.on(SendCommandCommand).resolves({});
    await expect(sendShellCommand(ctx.api, ctx.clients, [ID], 'x', OPTS)).rejects.toThrow(/no command id/);
  });
});

describe('waitForInvocation', () => {
  it('rides out the InvocationDoesNotExist race right after sending, then returns the result', async () => {
    const { ctx, ssm } = setup();
    ssm
      .on(GetCommandInvocationCommand)
      .rejectsOnce(awsError('InvocationDoesNotExist'))
      .rejectsOnce(awsError('InvocationDoesNotExist'))
      .resolvesOnce({ Status: 'InProgress' })
      .resolves({
        Status: 'Success',
        StatusDetails: 'Success',
        ResponseCode: 0,
        StandardOutputContent: 'EWD service=active\n',
      });
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    const r = await runOnInstance(ctx.api, ctx.clients, ctx.runtime, ID, 'x', OPTS);
    expect(r).toEqual({
      instanceId: ID,
      commandId: 'cmd-1',
      status: 'Success',
      statusDetails: 'Success',
      responseCode: 0,
      stdout: 'EWD service=active\n',
      stderr: '',
    });
    expect(ssm.commandCalls(GetCommandInvocationCommand)).toHaveLength(4);
  });

  it('gives up when the invocation never appears', async () => {
    const { ctx, ssm } = setup();
    ssm.on(GetCommandInvocationCommand).rejects(awsError('InvocationDoesNotExist'));
    await expect(waitForInvocation(ctx.api, ctx.clients, ctx.runtime, 'cmd-1', ID, OPTS)).rejects.toThrow(
      /InvocationDoesNotExist/,
    );
    expect(ssm.commandCalls(GetCommandInvocationCommand)).toHaveLength(9);
  });

  it('does not swallow other errors', async () => {
    const { ctx, ssm } = setup();
    ssm.on(GetCommandInvocationCommand).rejects(awsError('AccessDeniedException'));
    await expect(waitForInvocation(ctx.api, ctx.clients, ctx.runtime, 'cmd-1', ID, OPTS)).rejects.toThrow(
      /ssm:GetCommandInvocation failed/,
    );
  });

  it.each<[CommandInvocationStatus, string, number, string]>([
    ['Failed', 'Failed', 1, 'boom'],
    ['TimedOut', 'Execution Timed Out', -1, ''],
    ['TimedOut', 'Delivery Timed Out', -1, ''],
    ['Failed', 'Undeliverable', -1, ''],
    ['Cancelled', 'Cancelled', -1, ''],
    ['Failed', 'Terminated', -1, ''],
  ])(
    'returns the terminal status %s (%s) with its code and stderr',
    async (Status, StatusDetails, ResponseCode, err) => {
      const { ctx, ssm } = setup();
      ssm
        .on(GetCommandInvocationCommand)
        .resolves({ Status, StatusDetails, ResponseCode, StandardErrorContent: err });
      const r = await waitForInvocation(ctx.api, ctx.clients, ctx.runtime, 'cmd-1', ID, OPTS);
      expect(r).toMatchObject({
        status: Status,
        statusDetails: StatusDetails,
        responseCode: ResponseCode,
        stderr: err,
      });
    },
  );

  it('polls with backoff and stops at the deadline, reporting TimedOut', async () => {
    const { ctx, ssm, runtime } = setup();
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'InProgress' });
    const start = runtime.clock.now().getTime();
    const r = await waitForInvocation(ctx.api, ctx.clients, ctx.runtime, 'cmd-1', ID, OPTS);
    expect(r.status).toBe('TimedOut');
    expect(r.statusDetails).toMatch(/no result within 480s/);
    const elapsed = runtime.clock.now().getTime() - start;
    expect(elapsed).toBeGreaterThanOrEqual(commandDeadlineMs(OPTS));
    expect(elapsed).toBeLessThan(commandDeadlineMs(OPTS) + 15_000);
    expect(runtime.clock.sleeps.slice(0, 4)).toEqual([1000, 1500, 2250, 3375]);
    expect(Math.max(...runtime.clock.sleeps)).toBe(15_000);
  });

  it('cancels the command and returns Cancelled when the run is cancelled', async () => {
    const { ctx, ssm, runtime } = setup();
    ssm.on(GetCommandInvocationCommand).callsFake(() => {
      runtime.cancel();
      return { Status: 'InProgress' };
    });
    ssm.on(CancelCommandCommand).resolves({});
    const r = await waitForInvocation(ctx.api, ctx.clients, ctx.runtime, 'cmd-1', ID, OPTS);
    expect(r).toMatchObject({ status: 'Cancelled', statusDetails: 'cancelled by the action' });
    expect(ssm.commandCalls(CancelCommandCommand)[0].args[0].input).toEqual({ CommandId: 'cmd-1' });
  });
});

describe('nextPollMs', () => {
  it('starts at 1 s and grows by half up to 15 s', () => {
    expect(nextPollMs(0)).toBe(1000);
    expect(nextPollMs(1000)).toBe(1500);
    expect(nextPollMs(14_000)).toBe(15_000);
  });
});

describe('runOnFleet', () => {
  // Was: "when all succeed, reads only ListCommands". A command's Success does not mean every
  // instance succeeded (Undeliverable and Terminated invocations count in neither ErrorCount nor
  // MaxErrors; API_Command StatusDetails), so every command's invocations are now read once.
  it('sends one command per 50 ids; polls with one listing a round; reads each command once at its end', async () => {
    const { ctx, runtime } = setup();
    const fleet = ids(120);
    const { ssm } = ssmFleet({ clients: ctx.clients, clock: runtime.clock });
    const sentTo: string[][] = [];
    const out = await runOnFleet(ctx.api, ctx.clients, ctx.runtime, fleet, 'x', {
      ...OPTS,
      maxConcurrency: '25%',
      onSent: (_id, chunk) => sentTo.push(chunk),
    });
    expect(out.commandIds).toEqual(['cmd-1', 'cmd-2', 'cmd-3']);
    expect(sentTo.map((c) => c.length)).toEqual([50, 50, 20]);
    expect(ssm.commandCalls(SendCommandCommand)[0].args[0].input.MaxConcurrency).toBe('25%');
    expect(out.results.size).toBe(120);
    expect([...out.results.values()].every((r) => r.status === 'Success' && r.responseCode === 0)).toBe(true);
    expect(out.results.get(fleet[119])?.commandId).toBe('cmd-3');
    // One ListCommands a round (three commands fit one page), filtered by InvokedAfter.
    const rounds = ssm.commandCalls(ListCommandsCommand);
    expect(rounds.every((c) => c.args[0].input.CommandId === undefined)).toBe(true);
    expect(rounds[0].args[0].input.Filters?.[0].key).toBe('InvokedAfter');
    expect(ssm.commandCalls(ListCommandInvocationsCommand)).toHaveLength(3);
    expect(ssm.commandCalls(GetCommandInvocationCommand)).toHaveLength(0);
    expect(out.cancelled).toBe(false);
  });

  it('reads per-instance results, paging, and classifies what SSM did not count as an error', async () => {
    const { ctx, runtime } = setup();
    const fleet = ids(60);
    const answers = new Map<string, InstanceAnswer>([
      [fleet[0], { status: 'Failed', details: 'Failed', code: 11, stdout: `out ${fleet[0]}` }],
      [fleet[48], { status: 'Failed', details: 'Undeliverable', code: -1 }],
      [fleet[49], { status: 'TimedOut', details: 'Delivery Timed Out', code: -1 }],
    ]);
    const { ssm } = ssmFleet({
      clients: ctx.clients,
      clock: runtime.clock,
      answer: (i) => answers.get(i) ?? SUCCESS,
    });
    const out = await runOnFleet(ctx.api, ctx.clients, ctx.runtime, fleet, 'x', {
      ...OPTS,
      maxErrors: '100%',
    });
    expect(out.results.get(fleet[0])).toMatchObject({
      status: 'Failed',
      responseCode: 11,
      stdout: `out ${fleet[0]}`,
    });
    expect(fateOf(out.results.get(fleet[0]) as InvocationResult)).toBe('failed');
    expect(out.results.get(fleet[1])).toMatchObject({ status: 'Success', responseCode: 0 });
    expect(out.results.get(fleet[48])).toMatchObject({ status: 'Failed', statusDetails: 'Undeliverable' });
    expect(fateOf(out.results.get(fleet[48]) as InvocationResult)).toBe('undeliverable');
    expect(out.results.get(fleet[49])).toMatchObject({
      status: 'TimedOut',
      statusDetails: 'Delivery Timed Out',
      reach: 'unreachable',
    });
    expect(out.results.get(fleet[59])).toMatchObject({ status: 'Success', commandId: 'cmd-2' });
    // cmd-1 pages (50 ids), cmd-2 one page; the failed instance is read on its own.
    expect(ssm.commandCalls(ListCommandInvocationsCommand)).toHaveLength(2);
    expect(ssm.commandCalls(ListCommandInvocationsCommand)[0].args[0].input).toMatchObject({
      Details: true,
      MaxResults: 50,
    });
    expect(ssm.commandCalls(GetCommandInvocationCommand).map((c) => c.args[0].input.InstanceId)).toEqual([
      fleet[0],
    ]);
  });

  it('at 5,000 instances: 100 sends, at most a few ListCommands a poll round, one listing per command at its end', async () => {
    const { ctx, runtime } = setup();
    const fleet = ids(5000);
    const { ssm } = ssmFleet({ clients: ctx.clients, clock: runtime.clock, runMs: 40_000 });
    const out = await runOnFleet(ctx.api, ctx.clients, ctx.runtime, fleet, 'x', OPTS);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(100);
    const sleeps = runtime.clock.sleeps.length;
    // One listing a round, 50 commands a page: two pages for 100 commands (never 100 calls).
    expect(ssm.commandCalls(ListCommandsCommand).length).toBeLessThanOrEqual(2 * sleeps);
    expect(ssm.commandCalls(ListCommandInvocationsCommand)).toHaveLength(100);
    expect([...out.results.values()].every((r) => fateOf(r) === 'success')).toBe(true);
  });

  it('an id SSM refuses although EC2 and SSM call it reachable: the chunk is halved until it is alone', async () => {
    const { ctx, runtime } = setup();
    const fleet = ids(8);
    const { ssm, commands } = ssmFleet({ clients: ctx.clients, clock: runtime.clock });
    let n = 0;
    ssm.on(SendCommandCommand).callsFake((input: { InstanceIds: string[] }) => {
      n++;
      if (input.InstanceIds.includes(fleet[5])) throw awsError('InvalidInstanceId');
      const id = `cmd-h${n}`;
      commands.set(id, {
        id,
        ids: input.InstanceIds,
        script: 'x',
        at: runtime.clock.now().getTime(),
        maxErrors: '0',
      });
      return { Command: { CommandId: id } };
    });
    const out = await runOnFleet(ctx.api, ctx.clients, ctx.runtime, fleet, 'x', OPTS);
    expect(out.results.get(fleet[5])).toMatchObject({
      reach: 'unreachable',
      commandId: '',
      statusDetails: 'not sent: SSM refused the instance id (InvalidInstanceId)',
    });
    expect(fleet.filter((i) => i !== fleet[5]).every((i) => out.results.get(i)?.status === 'Success')).toBe(
      true,
    );
    // 8 → 4 + 4 → (4) + 2 + 2 → 1 + 1: six sends beyond the first refused one, bounded by log2(50).
    expect(n).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(8)) + 1);
  });

  it('reads output for every instance when asked, even on success', async () => {
    const { ctx, ssm } = setup();
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ssm.on(ListCommandsCommand).resolves({ Commands: [{ Status: 'Success' }] });
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        {
          InstanceId: ID,
          Status: 'Success',
          StatusDetails: 'Success',
          CommandPlugins: [{ ResponseCode: 0, Output: 'EWD service=active' }],
        },
      ],
    });
    const out = await runOnFleet(ctx.api, ctx.clients, ctx.runtime, [ID], 'x', { ...OPTS, withOutput: true });
    expect(out.results.get(ID)?.stdout).toBe('EWD service=active');
  });

  it('stops at the deadline: cancels what is still running and reports unknown instances TimedOut', async () => {
    const { ctx, ssm, runtime } = setup();
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ssm.on(ListCommandsCommand).resolves({ Commands: [{ Status: 'InProgress' }] });
    ssm.on(CancelCommandCommand).resolves({});
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        {
          InstanceId: ID,
          Status: 'Success',
          StatusDetails: 'Success',
          CommandPlugins: [{ ResponseCode: 0 }],
        },
        { InstanceId: 'i-0123456789abcdef1', Status: 'InProgress', StatusDetails: 'InProgress' },
      ],
    });
    const start = runtime.clock.now().getTime();
    const out = await runOnFleet(
      ctx.api,
      ctx.clients,
      ctx.runtime,
      [ID, 'i-0123456789abcdef1', 'i-0123456789abcdef2'],
      'x',
      OPTS,
    );
    expect(runtime.clock.now().getTime() - start).toBeGreaterThanOrEqual(commandDeadlineMs(OPTS));
    expect(ssm.commandCalls(CancelCommandCommand)).toHaveLength(1);
    expect(out.results.get(ID)?.status).toBe('Success');
    expect(out.results.get('i-0123456789abcdef1')).toMatchObject({
      status: 'TimedOut',
      statusDetails: 'InProgress at the deadline',
    });
    expect(out.results.get('i-0123456789abcdef2')).toMatchObject({
      status: 'TimedOut',
      statusDetails: 'no result by the deadline',
    });
    expect(out.cancelled).toBe(false);
  });

  it('on cancellation sends no further chunks, cancels the sent commands and reports Cancelled', async () => {
    const { ctx, ssm, runtime } = setup();
    ssm.on(SendCommandCommand).callsFake(() => {
      runtime.cancel(); // the signal arrives while the first chunk is being sent
      return { Command: { CommandId: 'cmd-1' } };
    });
    ssm.on(CancelCommandCommand).resolves({});
    ssm.on(ListCommandInvocationsCommand).rejects(awsError('InvalidCommandId'));
    const fleet = ids(75);
    const out = await runOnFleet(ctx.api, ctx.clients, ctx.runtime, fleet, 'x', OPTS);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(1);
    expect(ssm.commandCalls(CancelCommandCommand)[0].args[0].input).toEqual({ CommandId: 'cmd-1' });
    expect(out.cancelled).toBe(true);
    expect(out.commandIds).toEqual(['cmd-1']);
    expect(out.results.get(fleet[0])).toMatchObject({ status: 'Cancelled', commandId: 'cmd-1' });
    expect(out.results.get(fleet[74])).toMatchObject({
      status: 'Cancelled',
      commandId: '',
      statusDetails: 'not sent: the run was cancelled',
    });
    expect(ssm.commandCalls(ListCommandsCommand)).toHaveLength(0);
  });
});
