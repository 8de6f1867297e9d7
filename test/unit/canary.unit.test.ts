// The canary mode against mocked AWS clients and a fake clock: choice, tagging before sending,
// install results, the watch with fail-fast, GO / NO-GO / inconclusive, dry-run, and the summary.
import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  type GetCommandInvocationCommandOutput,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { canary } from '../../src/modes/canary.js';
import { backupPathFor, serializeRecord, type DeploymentRecord } from '../../src/record.js';
import { ScriptExit } from '../../src/remote/scripts.js';
import { awsError, testContext, type RawInputs, runbookRecord } from '../support/context.js';
import { stubRunningFleet } from '../support/aws-stubs.js';

const DEP = 'dep-20261129t000000z-4242-1';
const FLEET = ['i-0000000000000000a', 'i-0000000000000000b', 'i-0000000000000000c'];
const SHA = 'f'.repeat(64);
const URI = 's3://deploy-artifacts/emergency-deploy/worker.py';
const BACKUP = backupPathFor('/opt/file-processor', 'worker.py', DEP);

function preflightRecord(fleet = FLEET): DeploymentRecord {
  const r = runbookRecord(DEP);
  r.fleet = { filters: ['tag:Name=cis-file-processor'], instanceIds: fleet, discoveredAt: r.createdAt };
  r.phases.push({ mode: 'preflight', startedAt: r.createdAt, verdict: 'pass' });
  return r;
}

type Inv = Partial<GetCommandInvocationCommandOutput>;
const ok = (stdout: string): Inv => ({
  Status: 'Success',
  StatusDetails: 'Success',
  ResponseCode: 0,
  StandardOutputContent: stdout,
});
const failed = (code: number, stdout = '', stderr = ''): Inv => ({
  Status: 'Failed',
  StatusDetails: 'Failed',
  ResponseCode: code,
  StandardOutputContent: stdout,
  StandardErrorContent: stderr,
});

const INSTALLED = [
  `EWD sha256_before=${'a'.repeat(64)}`,
  'EWD backup_state=created',
  `EWD backup=${BACKUP}`,
  `EWD backup_sha256=${'a'.repeat(64)}`,
  `EWD sha256_fetched=${SHA}`,
  `EWD sha256_after=${SHA}`,
  'EWD result=installed',
  'EWD restarted_at=1795910410',
  'EWD service=active',
  'EWD restarts=0',
  'EWD main_start=5000000',
].join('\n');

function watchOut(health: number[], errors: number[], extra: string[] = []): string {
  return [
    'EWD lines=12',
    ...health.map((n, i) => `EWD health.${i}=${n}`),
    ...errors.map((n, i) => `EWD error.${i}=${n}`),
    ...extra,
    'EWD service=active',
    'EWD restarts=0',
    'EWD main_start=5000000',
  ].join('\n');
}
const HEALTHY = watchOut(
  [3, 3, 3],
  [0, 0, 0],
  ['EWD window=main-start', 'EWD window_before=4', 'EWD excerpt.health.0=Received 3 messages'],
);
const QUIET = watchOut([0, 0, 0], [0, 0, 0]);

interface World {
  install: Inv[];
  watch: Inv[];
  online?: Record<string, string>;
  running?: string[];
}

function setup(raw: RawInputs, world: World, record = preflightRecord()) {
  const t = testContext({
    mode: 'canary',
    record: serializeRecord(record),
    artifact: URI,
    'artifact-sha256': SHA,
    'canary-minutes': '5',
    'poll-seconds': '30',
    ...raw,
  });
  const ec2 = mockClient(t.ctx.clients.ec2);
  const ssm = mockClient(t.ctx.clients.ssm);
  const s3 = mockClient(t.ctx.clients.s3);
  const cw = mockClient(t.ctx.clients.cloudwatch);
  const order: string[] = [];
  stubRunningFleet(ec2, world.running ?? FLEET);
  ec2.on(CreateTagsCommand).callsFake(() => {
    order.push('tag');
    return {};
  });
  s3.on(HeadObjectCommand).resolves({ ContentLength: 100 });
  ssm.on(DescribeInstanceInformationCommand).callsFake((input: { Filters: { Values: string[] }[] }) => ({
    InstanceInformationList: input.Filters[0].Values.map((id) => ({
      InstanceId: id,
      PingStatus: world.online?.[id] ?? 'Online',
    })),
  }));
  let watches = 0;
  let recordAtInstall: string | undefined;
  ssm.on(SendCommandCommand).callsFake((input: { Parameters: { commands: string[] } }) => {
    const script = input.Parameters.commands[0];
    if (script.includes('# emergency-deploy install')) {
      order.push('install');
      recordAtInstall = t.report.outputs.record;
      return { Command: { CommandId: 'cmd-install' } };
    }
    order.push('watch');
    return { Command: { CommandId: `cmd-watch-${++watches}` } };
  });
  let installReads = 0;
  ssm.on(GetCommandInvocationCommand).callsFake((input: { CommandId: string }) => {
    if (input.CommandId === 'cmd-install') {
      const r = world.install[Math.min(installReads++, world.install.length - 1)];
      if (r instanceof Error) throw r;
      return r;
    }
    const n = Number(input.CommandId.replace('cmd-watch-', ''));
    return world.watch[Math.min(n - 1, world.watch.length - 1)];
  });
  ssm.on(CancelCommandCommand).resolves({});
  return { ...t, ec2, ssm, s3, cw, order, watchCount: () => watches, recordAtInstall: () => recordAtInstall };
}

const outputRecord = (report: { outputs: Record<string, string | undefined> }): DeploymentRecord =>
  JSON.parse(report.outputs.record ?? '{}');

describe('canary: a healthy canary', () => {
  it('is tagged and recorded before the install, watched for the whole window, and judged GO', async () => {
    const t = setup({}, { install: [ok(INSTALLED)], watch: [ok(HEALTHY)] });
    const outcome = await canary(t.ctx);
    expect(outcome.verdict).toBe('go');
    expect(outcome.failure).toBeUndefined();
    expect(outcome.outputs).toMatchObject({ 'canary-instance-id': FLEET[0], 'deployment-id': DEP });

    // Tags first, with the deployment id and exactly this deployment's backup path.
    expect(t.order[0]).toBe('tag');
    expect(t.order[1]).toBe('install');
    expect(t.ec2.commandCalls(CreateTagsCommand)[0].args[0].input).toEqual({
      Resources: [FLEET[0]],
      Tags: [
        { Key: 'emergency-deploy:deployment-id', Value: DEP },
        { Key: 'emergency-deploy:backup-path', Value: BACKUP },
        // so that rollback without a record can tell an untouched instance from a lost backup
        { Key: 'emergency-deploy:artifact-sha256', Value: SHA },
      ],
    });
    // The record output was written before the install was sent, and says the canary was touched.
    const early = JSON.parse(t.recordAtInstall() ?? '{}') as DeploymentRecord;
    expect(early.instances[FLEET[0]]).toEqual({ p: 'c', b: 0, s: 'sent', c: -1 });
    expect(early.canary).toMatchObject({
      instanceId: FLEET[0],
      verdict: 'no-go',
      reason: 'in progress: not judged yet',
    });
    expect(early.artifact).toEqual({ s3Uri: URI, sha256: SHA, uploaded: false });

    // 5 minutes every 30 s: a check at the start and one per 30 s up to the end of the window.
    expect(t.watchCount()).toBe(11);
    const sent = t.ssm.commandCalls(SendCommandCommand);
    const watchScript = sent[1].args[0].input.Parameters?.commands?.[0] ?? '';
    expect(watchScript).toContain("since_epoch='1795910410'"); // the instance's clock, from the install
    expect(watchScript).toContain("main_start_baseline='5000000'");
    expect(sent.every((c) => c.args[0].input.InstanceIds?.join() === FLEET[0])).toBe(true);
    expect(sent[0].args[0].input.Parameters?.executionTimeout).toEqual(['600']);
    expect(sent[1].args[0].input.Parameters?.executionTimeout).toEqual(['120']);

    const record = outputRecord(t.report);
    expect(record.instances[FLEET[0]]).toMatchObject({ p: 'c', b: 0, s: 'installed', c: 0 });
    expect(record.commands).toEqual(['cmd-install']);
    expect(record.artifact).toEqual({ s3Uri: URI, sha256: SHA, uploaded: false });
    expect(record.canary).toMatchObject({ instanceId: FLEET[0], verdict: 'go' });
    const evidence = record.canary?.evidence as Record<string, unknown>;
    expect(evidence).toMatchObject({
      decision: 'go',
      install: { commandId: 'cmd-install', backupPath: BACKUP, sha256After: SHA, result: 'installed' },
      watch: {
        polls: 11,
        firstCommandId: 'cmd-watch-1',
        lastCommandId: 'cmd-watch-11',
        sinceSource: 'instance',
        // The instance read from the new main process's start and left the old one's lines out.
        window: 'main-start',
        windowBefore: 4,
      },
      health: [
        { pattern: 'Received [0-9]+ messages?', count: 3 },
        { pattern: 'Successfully processed', count: 3 },
        { pattern: 'Deleted message', count: 3 },
      ],
      errors: [
        { pattern: 'Traceback', count: 0 },
        { pattern: 'ERROR', count: 0 },
        { pattern: 'CRITICAL', count: 0 },
      ],
    });
    expect(record.phases.find((p) => p.mode === 'canary')).toMatchObject({ verdict: 'go' });
    expect(t.runtime.clock.now().getTime() - Date.parse('2026-11-29T00:00:00Z')).toBeGreaterThanOrEqual(
      5 * 60_000,
    );

    expect(outcome.summary).toContain('## Canary GO: i-0000000000000000a');
    expect(outcome.summary).toContain('Approve the deployment gate');
    expect(outcome.summary).toContain(
      'the new main process&#39;s start (systemd ExecMainStartTimestamp); 4 earlier line(s) of the old process left out',
    );
    expect(outcome.summary).toContain(
      '| health (must appear) | Received &#91;0-9&#93;+ messages? | 3 | Received 3 messages |',
    );
  });

  it('with canary-minutes 0 checks once, right after the restart', async () => {
    const t = setup({ 'canary-minutes': '0' }, { install: [ok(INSTALLED)], watch: [ok(HEALTHY)] });
    expect((await canary(t.ctx)).verdict).toBe('go');
    expect(t.watchCount()).toBe(1);
  });

  it('rides out the InvocationDoesNotExist race right after the install is sent', async () => {
    const race = awsError('InvocationDoesNotExist') as unknown as Inv;
    const t = setup(
      { 'canary-minutes': '0' },
      { install: [race, race, ok(INSTALLED)], watch: [ok(HEALTHY)] },
    );
    expect((await canary(t.ctx)).verdict).toBe('go');
  });
});

describe('canary: NO-GO', () => {
  it.each([
    ['Traceback', [1, 0, 0]],
    ['ERROR', [0, 1, 0]],
    ['CRITICAL', [0, 0, 1]],
  ])(
    'on the error pattern %s, at once (fail fast), with the excerpt escaped in the summary',
    async (pattern, errors) => {
      const bad = failed(
        ScriptExit.ErrorPattern,
        watchOut([1, 1, 1], errors, [
          `EWD excerpt.error.${errors.indexOf(1)}=${pattern} <script>alert(1)</script> | x`,
        ]),
      );
      const t = setup({}, { install: [ok(INSTALLED)], watch: [ok(HEALTHY), bad] });
      const outcome = await canary(t.ctx);
      expect(outcome.verdict).toBe('no-go');
      expect(outcome.failure).toBe(`Canary NO-GO on ${FLEET[0]}: error pattern "${pattern}" appeared 1 time`);
      expect(t.watchCount()).toBe(2);
      expect(outcome.summary).toContain('## Canary NO-GO');
      expect(outcome.summary).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &#124; x');
      expect(outcome.summary).not.toContain('<script>');
      expect(outcome.summary).toContain('The rollback job restores i-0000000000000000a from');
      const record = outputRecord(t.report);
      expect(record.canary?.verdict).toBe('no-go');
      expect(record.instances[FLEET[0]].s).toBe('installed');
      expect(record.phases.find((p) => p.mode === 'canary')?.verdict).toBe('no-go');
    },
  );

  it('on a crash loop (the restart counter rose)', async () => {
    const loop = failed(
      ScriptExit.Restarted,
      watchOut([1, 1, 1], [0, 0, 0]).replace('EWD restarts=0', 'EWD restarts=3'),
    );
    const t = setup({}, { install: [ok(INSTALLED)], watch: [loop] });
    const outcome = await canary(t.ctx);
    expect(outcome.verdict).toBe('no-go');
    expect(outcome.failure).toMatch(/restarted 3 times on its own \(crash loop\)/);
    expect(t.watchCount()).toBe(1);
  });

  it('on an inactive service, with the journal tail in the summary', async () => {
    const down = failed(
      ScriptExit.Inactive,
      watchOut([0, 0, 0], [0, 0, 0], ['EWD tail=worker exited: KeyError']).replace(
        'EWD service=active',
        'EWD service=failed',
      ),
    );
    const t = setup({}, { install: [ok(INSTALLED)], watch: [down] });
    const outcome = await canary(t.ctx);
    expect(outcome.failure).toMatch(/the service is failed/);
    expect(outcome.summary).toContain('worker exited: KeyError');
  });

  it('when the install fails (checksum refused): no watch, the entry failed with the reason', async () => {
    const refused = failed(
      ScriptExit.ChecksumMismatch,
      'EWD error=checksum mismatch: expected f, fetched 0; /opt/file-processor/worker.py left untouched\n',
      'emergency-deploy: checksum mismatch',
    );
    const t = setup({}, { install: [refused], watch: [ok(HEALTHY)] });
    const outcome = await canary(t.ctx);
    expect(outcome.verdict).toBe('no-go');
    expect(outcome.failure).toMatch(
      /install SSM Failed, exit code 14: SHA-256 mismatch \(the target was left untouched\), checksum mismatch/,
    );
    expect(t.watchCount()).toBe(0);
    const entry = outputRecord(t.report).instances[FLEET[0]];
    expect(entry).toMatchObject({ p: 'c', s: 'failed', c: 0 });
    expect(entry.e).toMatch(/exit code 14/);
  });

  it('when the service does not come back after the install, showing its journal', async () => {
    const down = failed(
      ScriptExit.Inactive,
      'EWD service=failed\nEWD journal=ImportError: boto4\nEWD error=file-processor is failed 60s after the restart\n',
    );
    const t = setup({}, { install: [down], watch: [] });
    const outcome = await canary(t.ctx);
    expect(outcome.failure).toMatch(
      /exit code 11: the service is not active, file-processor is failed 60s after the restart/,
    );
    expect(outcome.summary).toContain('ImportError: boto4');
  });

  it.each([
    ['TimedOut', 'Delivery Timed Out'],
    ['Failed', 'Undeliverable'],
    ['Cancelled', 'Cancelled'],
    ['TimedOut', 'Execution Timed Out'],
  ])('when the install ends %s (%s)', async (Status, StatusDetails) => {
    const t = setup(
      {},
      {
        install: [
          { Status: Status as 'Failed', StatusDetails, ResponseCode: -1, StandardErrorContent: 'agent gone' },
        ],
        watch: [],
      },
    );
    const outcome = await canary(t.ctx);
    expect(outcome.verdict).toBe('no-go');
    const details = StatusDetails === Status ? '' : ` (${StatusDetails})`;
    expect(outcome.failure).toContain(`install SSM ${Status}${details}`);
    expect(outcome.failure).toContain('agent gone');
    expect(outputRecord(t.report).instances[FLEET[0]].s).toBe('failed');
  });

  it('when a watch poll keeps failing in SSM, after three in a row', async () => {
    const lost: Inv = { Status: 'Failed', StatusDetails: 'Undeliverable', ResponseCode: -1 };
    const t = setup({}, { install: [ok(INSTALLED)], watch: [ok(HEALTHY), lost, lost, lost] });
    const outcome = await canary(t.ctx);
    expect(outcome.failure).toMatch(/could not be read 3 times in a row/);
    expect(t.watchCount()).toBe(4);
  });

  it('when the canary metric is non-zero', async () => {
    const t = setup(
      { 'canary-metric-dimension': 'InstanceId' },
      { install: [ok(INSTALLED)], watch: [ok(HEALTHY)] },
    );
    t.cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [{ Id: 'canary', Timestamps: [new Date('2026-11-29T00:01:00Z')], Values: [2] }],
    });
    const outcome = await canary(t.ctx);
    expect(outcome.failure).toMatch(/MessageDeleteFailed summed to 2 for the canary/);
    const query = t.cw.commandCalls(GetMetricDataCommand)[0].args[0].input.MetricDataQueries?.[0];
    expect(query?.MetricStat?.Metric).toEqual({
      Namespace: 'CISFileSearch/Worker',
      MetricName: 'MessageDeleteFailed',
      Dimensions: [{ Name: 'InstanceId', Value: FLEET[0] }],
    });
    expect(t.watchCount()).toBe(1);
  });

  it('when sending fails after the tag: the record still says the canary was touched', async () => {
    const t = setup({}, { install: [ok(INSTALLED)], watch: [] });
    t.ssm.on(SendCommandCommand).rejects(awsError('AccessDeniedException'));
    const outcome = await canary(t.ctx);
    expect(outcome.verdict).toBe('no-go');
    expect(outcome.failure).toMatch(/ssm:SendCommand failed/);
    const record = outputRecord(t.report);
    expect(record.instances[FLEET[0]]).toMatchObject({ p: 'c', s: 'failed' });
    expect(record.canary?.verdict).toBe('no-go');
  });
});

describe('canary: inconclusive', () => {
  it('is a NO-GO when the canary saw no work', async () => {
    const t = setup({}, { install: [ok(INSTALLED)], watch: [ok(QUIET)] });
    const outcome = await canary(t.ctx);
    expect(outcome.verdict).toBe('no-go');
    expect(outcome.failure).toMatch(/saw no work.*inconclusive is a NO-GO unless allow-inconclusive is true/);
    expect(outcome.summary).toContain('**Decision: NO-GO (inconclusive)**');
    expect((outputRecord(t.report).canary?.evidence as { decision: string }).decision).toBe('inconclusive');
  });

  it('passes as GO when allow-inconclusive is true', async () => {
    const t = setup({ 'allow-inconclusive': 'true' }, { install: [ok(INSTALLED)], watch: [ok(QUIET)] });
    const outcome = await canary(t.ctx);
    expect(outcome.verdict).toBe('go');
    expect(outcome.failure).toBeUndefined();
    expect(outputRecord(t.report).canary?.reason).toMatch(/passed as GO because allow-inconclusive is true/);
  });
});

describe('canary: choosing the instance', () => {
  it('takes the first running, Online instance of the stable order', async () => {
    const t = setup(
      { 'canary-minutes': '0' },
      {
        install: [ok(INSTALLED)],
        watch: [ok(HEALTHY)],
        online: { [FLEET[0]]: 'ConnectionLost' },
        running: [FLEET[2], FLEET[1], FLEET[0]],
      },
    );
    const outcome = await canary(t.ctx);
    expect(outcome.outputs?.['canary-instance-id']).toBe(FLEET[1]);
  });

  it('skips instances that stopped since preflight, and ignores instances preflight did not see', async () => {
    const t = setup(
      { 'canary-minutes': '0', 'ssm-check': 'false' },
      { install: [ok(INSTALLED)], watch: [ok(HEALTHY)], running: ['i-00000000000000000', FLEET[2]] },
    );
    expect((await canary(t.ctx)).outputs?.['canary-instance-id']).toBe(FLEET[2]);
    expect(t.ssm.commandCalls(DescribeInstanceInformationCommand)).toHaveLength(0);
  });

  it('honours canary-instance-id within the fleet', async () => {
    const t = setup(
      { 'canary-minutes': '0', 'canary-instance-id': FLEET[2] },
      { install: [ok(INSTALLED)], watch: [ok(HEALTHY)] },
    );
    expect((await canary(t.ctx)).outputs?.['canary-instance-id']).toBe(FLEET[2]);
  });

  it('refuses a canary-instance-id outside the fleet, before touching anything', async () => {
    const t = setup({ 'canary-instance-id': 'i-0fffffffffffffff0' }, { install: [ok(INSTALLED)], watch: [] });
    await expect(canary(t.ctx)).rejects.toThrow(
      `Input 'canary-instance-id' i-0fffffffffffffff0 is not in the fleet of deployment ${DEP} (3 instance(s) found by preflight)`,
    );
    expect(t.ec2.commandCalls(CreateTagsCommand)).toHaveLength(0);
    expect(t.ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it('refuses a canary that is not Online, and fails when no instance is reachable', async () => {
    const one = setup(
      { 'canary-instance-id': FLEET[1] },
      { install: [], watch: [], online: { [FLEET[1]]: 'Inactive' } },
    );
    await expect(canary(one.ctx)).rejects.toThrow(
      `The canary ${FLEET[1]} is not reachable: its SSM agent is Inactive`,
    );
    const none = setup(
      {},
      { install: [], watch: [], online: Object.fromEntries(FLEET.map((id) => [id, 'ConnectionLost'])) },
    );
    await expect(canary(none.ctx)).rejects.toThrow(
      /No running instance of the fleet has an Online SSM agent/,
    );
    expect(none.ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it('needs the preflight record, made for the same target', async () => {
    const t = testContext({ mode: 'canary', artifact: URI, 'artifact-sha256': SHA });
    await expect(canary(t.ctx)).rejects.toThrow(/Input 'record' is required for canary/);
    const other = testContext({
      mode: 'canary',
      record: serializeRecord(preflightRecord()),
      'target-file': 'main.py',
      artifact: URI,
      'artifact-sha256': SHA,
    });
    await expect(canary(other.ctx)).rejects.toThrow(
      /was made for "file-processor" and "\/opt\/file-processor\/worker.py"/,
    );
  });
});

describe('canary: dry-run', () => {
  it('prints the exact script and the chosen canary, and sends nothing', async () => {
    const t = setup(
      {
        'dry-run': 'true',
        artifact: 'package.json',
        'artifact-sha256': '',
        'artifact-bucket': 'deploy-artifacts',
      },
      { install: [], watch: [] },
    );
    const outcome = await canary(t.ctx);
    expect(outcome.verdict).toBe('pass');
    expect(outcome.failure).toBeUndefined();
    expect(outcome.outputs?.['canary-instance-id']).toBe(FLEET[0]);
    expect(t.ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
    expect(t.ec2.commandCalls(CreateTagsCommand)).toHaveLength(0);
    expect(t.s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    const script = t.report.lines.find((l) => l.includes('# emergency-deploy install'));
    expect(script).toContain(`backup='${BACKUP}'`);
    expect(script).toMatch(/uri='s3:\/\/deploy-artifacts\/emergency-deploy\/[0-9a-f]{64}'/);
    expect(
      t.report.lines.some((l) =>
        l.startsWith('::group::dry-run: the install script that would be sent to i-0000000000000000a'),
      ),
    ).toBe(true);
    expect(outcome.summary).toContain('Canary (dry-run)');
    expect(outcome.summary).toContain('Nothing was sent');
    expect(outcome.summary).toContain('# emergency-deploy install');
    expect(outcome.summary).toContain('set -euo pipefail');
    // The record handed on is not changed by a dry run: nothing was touched.
    expect(outcome.record.instances).toEqual({});
    expect(outcome.record.artifact).toBeUndefined();
  });
});
