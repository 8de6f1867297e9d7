import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import {
  GetQueueAttributesCommand,
  ListQueueTagsCommand,
  SetQueueAttributesCommand,
  TagQueueCommand,
} from '@aws-sdk/client-sqs';
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { TAG_BACKUP_PATH, TAG_DEPLOYMENT_ID } from '../../src/constants.js';
import { rollout } from '../../src/modes/rollout.js';
import {
  fitInstanceErrors,
  parseRecord,
  RECORD_SOFT_LIMIT_BYTES,
  serializeRecord,
  type DeploymentRecord,
} from '../../src/record.js';
import { testContext, type RawInputs } from '../support/context.js';
import { stubRunningFleet } from '../support/aws-stubs.js';
import { afterCanaryRecord, canaryInstalled } from '../support/records.js';

const SHA = 'a'.repeat(64);
const DEPLOYMENT = 'dep-20261129t000000z-4242-1';

const id = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;
const fleetOf = (n: number) => Array.from({ length: n }, (_, i) => id(i + 1));

/** The record as the canary job hands it on: fleet from preflight, a GO canary, the artifact. */
function canaryRecord(
  fleet: string[],
  opts: { verdict?: 'go' | 'no-go'; canary?: string } = {},
): DeploymentRecord {
  return afterCanaryRecord({
    deploymentId: DEPLOYMENT,
    fleet,
    ...opts,
    sha256: SHA,
    entry: { ...canaryInstalled(), t: 20 },
  });
}

interface SsmWorld {
  /** install fails on these, with this exit code */
  installFails: Map<string, number>;
  /** the health check fails on these */
  healthFails: Map<string, number>;
  sent: { kind: 'install' | 'health'; ids: string[]; maxConcurrency?: string; maxErrors?: string }[];
  onSend?: (kind: 'install' | 'health', ids: string[]) => void;
  /** the queue's tags, and every TagQueue/SetQueueAttributes in order */
  queueTags: Record<string, string>;
  queueLog: string[];
}

function setup(fleetNow: string[], record: DeploymentRecord, raw: RawInputs = {}, queue = { set: true }) {
  const t = testContext({
    mode: 'rollout',
    record: JSON.stringify(record),
    'batch-size': '2',
    'pause-seconds': '60',
    'ssm-check': 'false',
    'visibility-timeout': '900',
    ...raw,
  });
  const ec2 = mockClient(t.ctx.clients.ec2);
  const ssm = mockClient(t.ctx.clients.ssm);
  const sqs = mockClient(t.ctx.clients.sqs);
  stubRunningFleet(ec2, fleetNow);
  ec2.on(CreateTagsCommand).resolves({});

  const world: SsmWorld = {
    installFails: new Map(),
    healthFails: new Map(),
    sent: [],
    queueTags: {},
    queueLog: [],
  };
  const commands = new Map<string, { kind: 'install' | 'health'; ids: string[] }>();
  const codeOf = (c: { kind: 'install' | 'health' }, i: string) =>
    (c.kind === 'install' ? world.installFails : world.healthFails).get(i) ?? 0;
  ssm.on(SendCommandCommand).callsFake((input) => {
    const kind = String(input.Comment).includes('health') ? 'health' : 'install';
    const commandId = `cmd-${commands.size + 1}`;
    commands.set(commandId, { kind, ids: input.InstanceIds });
    world.sent.push({
      kind,
      ids: input.InstanceIds,
      maxConcurrency: input.MaxConcurrency,
      maxErrors: input.MaxErrors,
    });
    world.onSend?.(kind, input.InstanceIds);
    return { Command: { CommandId: commandId } };
  });
  const commandView = (commandId: string) => {
    const c = commands.get(commandId) ?? { kind: 'install' as const, ids: [] };
    if (cancelled.has(commandId)) return { CommandId: commandId, Status: 'Cancelled' };
    const errors = c.ids.filter((i) => codeOf(c, i) !== 0).length;
    return {
      CommandId: commandId,
      Status: errors ? 'Failed' : 'Success',
      TargetCount: c.ids.length,
      CompletedCount: c.ids.length,
      ErrorCount: errors,
      DeliveryTimedOutCount: 0,
    };
  };
  // By CommandId, or (the fan-out's poll) every command InvokedAfter a moment, 50 a page
  // (API_ListCommands); this fleet never has more than 50 commands in one fan-out.
  ssm.on(ListCommandsCommand).callsFake((input) => ({
    Commands: input.CommandId
      ? [commandView(input.CommandId)]
      : [...commands.keys()].slice(-50).map(commandView),
  }));
  ssm.on(ListCommandInvocationsCommand).callsFake((input) => {
    const c = commands.get(input.CommandId) ?? { kind: 'install' as const, ids: [] };
    return {
      CommandInvocations: c.ids.map((i) => {
        const code = codeOf(c, i);
        if (cancelled.has(input.CommandId))
          return { InstanceId: i, Status: 'Cancelled', StatusDetails: 'Cancelled' };
        return {
          InstanceId: i,
          Status: code ? 'Failed' : 'Success',
          StatusDetails: code ? 'Failed' : 'Success',
          CommandPlugins: [
            {
              ResponseCode: code,
              Output: code === 14 ? 'EWD error=checksum mismatch: expected aaa, fetched bbb\n' : '',
            },
          ],
        };
      }),
    };
  });
  const cancelled = new Set<string>();
  ssm.on(CancelCommandCommand).callsFake((input) => {
    cancelled.add(input.CommandId);
    return {};
  });

  let visibility = 300;
  sqs
    .on(GetQueueAttributesCommand)
    .callsFake(() => ({ Attributes: { QueueArn: 'arn', VisibilityTimeout: String(visibility) } }));
  sqs.on(SetQueueAttributesCommand).callsFake((input) => {
    world.queueLog.push(`set ${input.Attributes.VisibilityTimeout}`);
    if (queue.set) visibility = Number(input.Attributes.VisibilityTimeout);
    return {};
  });
  // ListQueueTags answers {"Tags": {key: value}}; TagQueue answers an empty body and overwrites a
  // tag of the same key (API_ListQueueTags, API_TagQueue).
  sqs.on(ListQueueTagsCommand).callsFake(() => ({ Tags: { ...world.queueTags } }));
  sqs.on(TagQueueCommand).callsFake((input: { Tags?: Record<string, string> }) => {
    for (const [k, v] of Object.entries(input.Tags ?? {})) {
      world.queueLog.push(`tag ${v}`);
      world.queueTags[k] = v;
    }
    return {};
  });
  return { ...t, ec2, ssm, sqs, world };
}

const installedIds = (w: SsmWorld) => w.sent.filter((s) => s.kind === 'install').flatMap((s) => s.ids);

describe('rollout, strategy ssm', () => {
  it('deploys the rest of the fleet in batches with a bake, then raises the visibility timeout', async () => {
    const fleet = fleetOf(5);
    const { ctx, world, ec2, sqs, report, runtime } = setup(fleet, canaryRecord(fleet));
    const outcome = await rollout(ctx);

    expect(outcome.failure).toBeUndefined();
    expect(outcome.verdict).toBe('pass');
    // The canary (fleet[0]) is not deployed twice; every other instance exactly once.
    expect(installedIds(world)).toEqual(fleet.slice(1));
    expect(world.sent.filter((s) => s.kind === 'install').map((s) => s.ids.length)).toEqual([2, 2]);
    // One health check per batch, on that batch's instances.
    expect(world.sent.filter((s) => s.kind === 'health').map((s) => s.ids)).toEqual([
      fleet.slice(1, 3),
      fleet.slice(3, 5),
    ]);
    // Tagged before the install, batch by batch.
    const tagCalls = ec2.commandCalls(CreateTagsCommand).map((c) => c.args[0].input);
    expect(tagCalls.map((c) => c.Resources)).toEqual([fleet.slice(1, 3), fleet.slice(3, 5)]);
    expect(tagCalls[0].Tags).toEqual([
      { Key: TAG_DEPLOYMENT_ID, Value: DEPLOYMENT },
      { Key: TAG_BACKUP_PATH, Value: `/opt/file-processor/worker.py.backup.${DEPLOYMENT}` },
      { Key: 'emergency-deploy:artifact-sha256', Value: SHA },
    ]);
    // One bake between the two batches, none after the last.
    expect(runtime.clock.sleeps.filter((ms) => ms === 60_000)).toHaveLength(1);

    const record = outcome.record;
    for (const i of fleet.slice(1)) {
      expect(record.instances[i]).toMatchObject({ p: 'r', s: 'installed' });
      expect(record.commands[record.instances[i].c]).toMatch(/^cmd-/);
    }
    expect(record.instances[fleet[1]].b).toBe(1);
    expect(record.instances[fleet[4]].b).toBe(2);
    expect(record.instances[fleet[0]]).toMatchObject({ p: 'c', s: 'installed' });
    expect(sqs.commandCalls(SetQueueAttributesCommand)[0].args[0].input.Attributes).toEqual({
      VisibilityTimeout: '900',
    });
    expect(record.settings.visibilityTimeout).toMatchObject({ before: 300, after: 900 });
    expect(record.phases.at(-1)).toMatchObject({ mode: 'rollout', verdict: 'pass' });
    expect(outcome.outputs?.['instance-count']).toBe('5');

    // Progress, each batch in its own log group.
    expect(report.lines).toContain('::group::Batch 1 of 2 (2 instance(s), rollout batch 1)');
    expect(
      report.lines.some((l) => /^batch 1 of 2: 2\/4 instances done, 0 failed, about .* left$/.test(l)),
    ).toBe(true);
    expect(
      report.lines.some((l) => /^batch 2 of 2: 4\/4 instances done, 0 failed, about 0s left$/.test(l)),
    ).toBe(true);
    // The record output was written as it went, and parses as a record.
    expect(parseRecord(report.outputs.record ?? '').instances[fleet[4]].s).toBe('installed');
    expect(outcome.summary).toContain('Rollout passed');
    expect(outcome.summary).toContain('300 s → 900 s');
  });

  it('reconciles: appeared instances are included, vanished ones reported, the canary skipped', async () => {
    const preflightFleet = fleetOf(4); // 1..4, canary 1
    const now = [id(1), id(2), id(4), id(9)]; // 3 vanished, 9 appeared
    const { ctx, world } = setup(now, canaryRecord(preflightFleet), { 'batch-size': '10' });
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('pass');
    expect(installedIds(world)).toEqual([id(2), id(4), id(9)]);
    expect(outcome.record.instances[id(3)]).toBeUndefined();
    expect(outcome.record.warnings.join('\n')).toContain(`no longer running: ${id(3)}`);
    expect(outcome.summary).toContain(`Appeared since preflight (included): ${id(9)}`);
    expect(outcome.summary).toContain(`Vanished since preflight (not running): ${id(3)}`);
  });

  it('continues a rerun: instances already installed by this rollout are not sent again', async () => {
    const fleet = fleetOf(5);
    const record = canaryRecord(fleet);
    record.commands.push('cmd-earlier');
    record.instances[fleet[1]] = { p: 'r', b: 1, s: 'installed', c: 1, t: 30 };
    record.instances[fleet[2]] = { p: 'r', b: 1, s: 'failed', c: 1, e: 'install: Failed' };
    const { ctx, world } = setup(fleet, record, { 'batch-size': '5' });
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('pass');
    expect(installedIds(world)).toEqual(fleet.slice(2));
    // Batch numbers continue after the earlier run's.
    expect(outcome.record.instances[fleet[3]].b).toBe(2);
    expect(outcome.summary).toContain('Installed by an earlier run of this rollout (skipped): 1');
  });

  it('halts at the error budget: no further batch, the queue untouched, the record written', async () => {
    const fleet = fleetOf(5);
    const { ctx, world, sqs, report } = setup(fleet, canaryRecord(fleet), {
      'batch-size': '1',
      'max-errors': '0',
    });
    world.installFails.set(fleet[2], 14);
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('fail');
    expect(outcome.failure).toMatch(
      /halted after batch 2 of 4: 1 instance\(s\) failed, more than max-errors 0; 2 batch\(es\) not started/,
    );
    expect(installedIds(world)).toEqual([fleet[1], fleet[2]]);
    expect(sqs.commandCalls(SetQueueAttributesCommand)).toHaveLength(0);
    const written = parseRecord(report.outputs.record ?? '');
    expect(written.instances[fleet[2]]).toMatchObject({ s: 'failed', b: 2 });
    expect(written.instances[fleet[2]].e).toContain('checksum mismatch');
    expect(written.instances[fleet[3]]).toBeUndefined();
    expect(written.phases.at(-1)).toMatchObject({ mode: 'rollout', verdict: 'fail' });
    expect(written.settings.visibilityTimeout).toBeUndefined();
    // The failed instance heads the summary's instance table.
    expect(outcome.summary.indexOf(fleet[2])).toBeLessThan(outcome.summary.indexOf(fleet[1]));
  });

  it('tolerates max-errors failures, counts failed health checks, and hands SSM the budget left', async () => {
    const fleet = fleetOf(7);
    const { ctx, world } = setup(fleet, canaryRecord(fleet), { 'batch-size': '2', 'max-errors': '1' });
    world.healthFails.set(fleet[1], 10); // error pattern after the restart, batch 1
    world.installFails.set(fleet[4], 11); // batch 2: the second failure breaks the budget
    const outcome = await rollout(ctx);
    expect(outcome.record.instances[fleet[1]].s).toBe('failed');
    expect(outcome.record.instances[fleet[1]].e).toMatch(/^health check: Failed \(an error pattern appeared/);
    expect(outcome.record.instances[fleet[4]].e).toMatch(/^install: Failed \(the service is not active\)/);
    expect(outcome.failure).toMatch(
      /halted after batch 2 of 3: 2 instance\(s\) failed, more than max-errors 1/,
    );
    const installs = world.sent.filter((s) => s.kind === 'install');
    expect(installs.map((s) => s.maxErrors)).toEqual(['1', '0']);
    expect(installs.map((s) => s.maxConcurrency)).toEqual(['2', '2']);
    expect(installedIds(world)).toEqual(fleet.slice(1, 5));
  });

  it('fans out 50 instance ids per SendCommand: the calls per batch grow with batch/50, not the batch', async () => {
    const fleet = fleetOf(121);
    const { ctx, world, api } = setup(fleet, canaryRecord(fleet), { 'batch-size': '120' });
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('pass');
    const installs = world.sent.filter((s) => s.kind === 'install');
    expect(installs.map((s) => s.ids.length)).toEqual([50, 50, 20]);
    expect(installs.every((s) => s.maxConcurrency === '120')).toBe(true);
    expect(world.sent.filter((s) => s.kind === 'health')).toHaveLength(3);
    expect(new Set(installedIds(world)).size).toBe(120);
    const ssmCalls = [...api.calls].filter(([op]) => op.startsWith('ssm:')).reduce((n, [, c]) => n + c, 0);
    // 3 + 3 SendCommand, one ListCommands per poll round and one ListCommandInvocations per
    // command at its end: far fewer than one per instance.
    expect(api.calls.get('ssm:SendCommand')).toBe(6);
    expect(ssmCalls).toBeLessThan(20);
    expect(api.calls.get('ec2:CreateTags')).toBe(1);
  });

  it('rolls 5,000 instances in 10% batches, each exactly once, with a record under 1 MB', async () => {
    const fleet = fleetOf(5000);
    const { ctx, world, api } = setup(fleet, canaryRecord(fleet), {
      'batch-size': '10%',
      'pause-seconds': '0',
    });
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('pass');
    const sent = installedIds(world);
    expect(sent).toHaveLength(4999);
    expect(new Set(sent).size).toBe(4999);
    expect(sent).not.toContain(fleet[0]);
    expect(api.calls.get('ssm:SendCommand')).toBe(2 * 100); // 10 batches × (500/50) install + health
    expect(Buffer.byteLength(serializeRecord(outcome.record))).toBeLessThan(1_000_000);
  });

  it('keeps a worst-case 5,000-instance record (batch-size 1, every instance failed) under 1 MB', () => {
    // One command id per instance (batch-size 1), the longest error text on every entry, the
    // batch history at its cap: what the mode's record writer must still fit.
    const fleet = fleetOf(5000);
    const record = canaryRecord(fleet);
    const batches: [number, number, number, number, number][] = [];
    for (let k = 1; k < 5000; k++) {
      record.commands.push(`0123abcd-1234-5678-9abc-${k.toString(16).padStart(12, '0')}`);
      record.instances[fleet[k]] = { p: 'r', b: k, s: 'failed', c: k, t: 1234, e: 'x'.repeat(120) };
      if (batches.length < 500) batches.push([k, k * 400, 123, 0, 1]);
    }
    record.extra.rollout = { startedAt: record.createdAt, batches, unlisted: 4499 };
    expect(() => serializeRecord(record)).toThrow(/over the 1000000-byte job-output limit/);
    const size = () => Buffer.byteLength(JSON.stringify(record));
    expect(fitInstanceErrors(record, size, RECORD_SOFT_LIMIT_BYTES)).not.toBe('fits');
    expect(Buffer.byteLength(serializeRecord(record))).toBeLessThan(RECORD_SOFT_LIMIT_BYTES);
    expect(Object.values(record.instances).filter((e) => e.s === 'failed')).toHaveLength(4999);
  });

  it('cancelled mid-batch: in-flight commands are cancelled, no new batch, failure, record written', async () => {
    const fleet = fleetOf(5);
    const { ctx, world, ssm, sqs, runtime, report } = setup(fleet, canaryRecord(fleet));
    world.onSend = (kind) => {
      if (kind === 'install') runtime.cancel();
    };
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('fail');
    expect(outcome.failure).toMatch(/cancelled during batch 1 of 2/);
    expect(ssm.commandCalls(CancelCommandCommand)).toHaveLength(1);
    expect(installedIds(world)).toEqual(fleet.slice(1, 3));
    expect(world.sent.filter((s) => s.kind === 'health')).toHaveLength(0);
    expect(sqs.commandCalls(SetQueueAttributesCommand)).toHaveLength(0);
    const written = parseRecord(report.outputs.record ?? '');
    expect(written.instances[fleet[1]]).toMatchObject({ s: 'cancelled', b: 1 });
    expect(written.instances[fleet[3]]).toBeUndefined();
  });

  it('cancelled during the bake: the next batch never starts', async () => {
    const fleet = fleetOf(5);
    const { ctx, world, runtime } = setup(fleet, canaryRecord(fleet));
    const sleep = runtime.sleep;
    runtime.sleep = async (ms) => {
      if (ms === 60_000) runtime.cancel();
      return sleep(ms);
    };
    const outcome = await rollout(ctx);
    expect(outcome.failure).toMatch(
      /cancelled during batch 1 of 2; in-flight commands were cancelled and 1 batch\(es\) not started/,
    );
    expect(installedIds(world)).toEqual(fleet.slice(1, 3));
    expect(outcome.record.instances[fleet[1]].s).toBe('installed');
  });

  it('fails when the visibility timeout does not read back, after a bounded wait', async () => {
    const fleet = fleetOf(3);
    const { ctx, runtime } = setup(fleet, canaryRecord(fleet), {}, { set: false });
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('fail');
    expect(outcome.failure).toBe(
      "Rollout failed: the queue's visibility timeout reads 300s after setting 900s (was 300s)",
    );
    expect(outcome.record.settings.visibilityTimeout).toMatchObject({ before: 300, after: 300 });
    expect(runtime.clock.sleeps.filter((ms) => ms === 10_000)).toHaveLength(6);
  });

  it('keeps the value from before the deployment when a rerun finds the timeout already raised', async () => {
    const fleet = fleetOf(3);
    const record = canaryRecord(fleet);
    record.settings.visibilityTimeout = { before: 120, after: 900, at: record.createdAt };
    const { ctx } = setup(fleet, record);
    const outcome = await rollout(ctx);
    expect(outcome.record.settings.visibilityTimeout).toMatchObject({ before: 120, after: 900 });
  });

  it('writes the visibility-timeout intent to the record output and the queue tag before SetQueueAttributes', async () => {
    // A runner that SIGKILLs the job right after SetQueueAttributes answers leaves only what was
    // written before it: the record output and the queue's tag must already name the change.
    const fleet = fleetOf(3);
    const { ctx, sqs, world, report } = setup(fleet, canaryRecord(fleet));
    let recordAtSet: DeploymentRecord | undefined;
    sqs.on(SetQueueAttributesCommand).callsFake((input) => {
      recordAtSet = JSON.parse(report.outputs.record as string) as DeploymentRecord;
      world.queueLog.push(`set ${input.Attributes.VisibilityTimeout}`);
      return {};
    });
    sqs.on(GetQueueAttributesCommand).callsFake(() => ({
      Attributes: { QueueArn: 'arn', VisibilityTimeout: recordAtSet ? '900' : '300' },
    }));
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('pass');
    expect(recordAtSet?.settings.visibilityTimeout).toMatchObject({ before: 300, after: 900, s: 'intended' });
    expect(world.queueLog).toEqual([
      `tag ${DEPLOYMENT} before=300 after=900 intended`,
      'set 900',
      `tag ${DEPLOYMENT} before=300 after=900 done`,
    ]);
    expect(outcome.record.settings.visibilityTimeout).toMatchObject({ before: 300, after: 900, s: 'done' });
  });

  it("a rerun handed the canary's record takes the baseline from its earlier intent, not its own 900", async () => {
    // The first run was killed after SetQueueAttributes; the rerun of the job gets the canary's
    // record (no settings) and finds the queue at 900 with the intent tag the first run left.
    const fleet = fleetOf(3);
    const { ctx, sqs, world } = setup(fleet, canaryRecord(fleet));
    world.queueTags['emergency-deploy:visibility-timeout'] = `${DEPLOYMENT} before=300 after=900 intended`;
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { QueueArn: 'arn', VisibilityTimeout: '900' } });
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('pass');
    expect(outcome.record.settings.visibilityTimeout).toMatchObject({ before: 300, after: 900, s: 'done' });
    // Already at the target: nothing is set again.
    expect(sqs.commandCalls(SetQueueAttributesCommand)).toHaveLength(0);
  });

  it("ignores another deployment's intent tag: its own baseline is what it finds", async () => {
    const fleet = fleetOf(3);
    const { ctx, world } = setup(fleet, canaryRecord(fleet));
    world.queueTags['emergency-deploy:visibility-timeout'] = 'dep-other-1 before=30 after=900 done';
    const outcome = await rollout(ctx);
    expect(outcome.record.settings.visibilityTimeout).toMatchObject({ before: 300, after: 900 });
    expect(world.queueTags['emergency-deploy:visibility-timeout']).toBe(
      `${DEPLOYMENT} before=300 after=900 done`,
    );
  });

  it('dry-run prints the plan and sends nothing that changes anything', async () => {
    const fleet = fleetOf(5);
    const { ctx, ec2, ssm, sqs, report } = setup(fleet, canaryRecord(fleet), {
      'dry-run': 'true',
      'ssm-check': 'true',
    });
    ssm.on(DescribeInstanceInformationCommand).resolves({
      InstanceInformationList: fleet.map((i) => ({ InstanceId: i, PingStatus: 'Online' })),
    });
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('pass');
    expect(ec2.commandCalls(CreateTagsCommand)).toHaveLength(0);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
    expect(sqs.commandCalls(SetQueueAttributesCommand)).toHaveLength(0);
    expect(report.lines).toContain(`  batch 1 of 2: ${fleet[1]}, ${fleet[2]}`);
    expect(report.lines).toContain("would set the queue's visibility timeout 300s → 900s");
    expect(outcome.record.instances[fleet[1]]).toBeUndefined();
    expect(outcome.summary).toContain('Rollout plan (dry-run)');
    expect(outcome.summary).toContain('Would change from 300 s to 900 s');
  });

  it('refuses to roll out a canary that was not GO', async () => {
    const fleet = fleetOf(3);
    const { ctx, world, sqs } = setup(fleet, canaryRecord(fleet, { verdict: 'no-go' }));
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('fail');
    expect(outcome.failure).toMatch(/Rollout refused: the canary .* was judged NO-GO/);
    expect(world.sent).toHaveLength(0);
    expect(sqs.commandCalls(SetQueueAttributesCommand)).toHaveLength(0);
  });

  it('does not start when more instances are unreachable than max-errors allows', async () => {
    const fleet = fleetOf(4);
    const { ctx, world, ssm } = setup(fleet, canaryRecord(fleet), { 'ssm-check': 'true' });
    ssm.on(DescribeInstanceInformationCommand).resolves({
      InstanceInformationList: fleet.map((i) => ({
        InstanceId: i,
        PingStatus: i === fleet[2] ? 'ConnectionLost' : 'Online',
      })),
    });
    const outcome = await rollout(ctx);
    expect(outcome.failure).toMatch(
      /not started: 1 instance\(s\) are unreachable through SSM, more than max-errors 0/,
    );
    expect(world.sent).toHaveLength(0);
  });

  it('requires the record, and the same target the canary used', async () => {
    const fleet = fleetOf(2);
    await expect(rollout(testContext({ mode: 'rollout' }).ctx)).rejects.toThrow("Input 'record' is required");
    const t = testContext({
      mode: 'rollout',
      record: JSON.stringify(canaryRecord(fleet)),
      'target-file': 'other.py',
    });
    await expect(rollout(t.ctx)).rejects.toThrow('Input \'target-file\' is "other.py" but deployment');
  });
});

describe('rollout, the run log', () => {
  it('lists the runbook steps, each a log group, in the order they ran', async () => {
    const fleet = fleetOf(5);
    const { ctx, report } = setup(fleet, canaryRecord(fleet));
    const outcome = await rollout(ctx);
    expect(outcome.verdict).toBe('pass');
    expect(report.lines.filter((l) => l.startsWith('::group::'))).toEqual([
      '::group::Fleet',
      '::group::Batch 1 of 2 (2 instance(s), rollout batch 1)',
      '::group::Batch 2 of 2 (2 instance(s), rollout batch 2)',
      '::group::Queue visibility timeout',
    ]);
    // Every group is closed before the next opens (GitHub's log groups do not nest).
    const marks = report.lines.filter((l) => l.startsWith('::group::') || l === '::endgroup::');
    marks.forEach((l, i) => expect(l.startsWith('::group::')).toBe(i % 2 === 0));
  });
});
