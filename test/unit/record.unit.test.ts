import {
  backupPathFor,
  commandIndex,
  newDeploymentId,
  newRecord,
  parseRecord,
  serializeRecord,
  viewInstance,
  visibilityTimeoutChange,
  type DeploymentRecord,
} from '../../src/record.js';
import { TEST_GITHUB } from '../support/context.js';

function record() {
  return newRecord({
    deploymentId: 'dep-20261129t010000z-4242-1',
    now: new Date('2026-11-29T01:00:00Z'),
    region: 'ap-northeast-1',
    github: TEST_GITHUB,
    serviceName: 'file-processor',
    workerDir: '/opt/file-processor',
    targetFile: 'worker.py',
  });
}

describe('record', () => {
  it('names the backup after the deployment, never a glob', () => {
    expect(backupPathFor('/opt/file-processor/', 'worker.py', 'dep-1')).toBe(
      '/opt/file-processor/worker.py.backup.dep-1',
    );
    expect(record().target.backupPath).toBe(
      '/opt/file-processor/worker.py.backup.dep-20261129t010000z-4242-1',
    );
  });

  it('makes sortable, unique deployment ids', () => {
    expect(newDeploymentId(new Date('2026-11-29T01:02:03.456Z'), 4242, 2)).toBe(
      'dep-20261129t010203z-4242-2',
    );
  });

  it('round-trips through serialize and parse', () => {
    const r = record();
    expect(parseRecord(serializeRecord(r))).toEqual(r);
  });

  it('keeps a 5,000-instance deployment under the 1 MB job-output limit', () => {
    const r = record();
    const ids = Array.from(
      { length: 5000 },
      (_, i) => `i-${(0x10000000000000000n + BigInt(i) * 7919n).toString(16).slice(-17)}`,
    );
    r.fleet = { filters: ['tag:Name=cis-file-processor'], instanceIds: ids, discoveredAt: r.createdAt };
    ids.forEach((id, i) => {
      const c = commandIndex(
        r,
        `cmd-${String(Math.floor(i / 50)).padStart(8, '0')}-aaaa-bbbb-cccc-123456789012`,
      );
      r.instances[id] = {
        p: 'r',
        b: Math.floor(i / 50) + 1,
        s: i % 97 === 0 ? 'failed' : 'installed',
        c,
        t: 41,
        e: i % 97 === 0 ? 'Failed: exit 3 backup could not be verified' : undefined,
        rb: 'restored',
      };
    });
    const bytes = Buffer.byteLength(serializeRecord(r));
    expect(bytes).toBeLessThan(700_000);
  });

  it('refuses malformed instance ids and fleets in an incoming record', () => {
    const r = record();
    const bad = { ...r, instances: { 'i-$(reboot)': { p: 'c', b: 0, s: 'sent', c: -1 } } };
    expect(() => parseRecord(JSON.stringify(bad))).toThrow(/malformed instance id/);
    const badFleet = { ...r, fleet: { filters: [], instanceIds: ['; rm -rf /'], discoveredAt: '' } };
    expect(() => parseRecord(JSON.stringify(badFleet))).toThrow(/malformed fleet instance id/);
    expect(() => parseRecord('[]')).toThrow(/must be a JSON object/);
    expect(() => parseRecord(JSON.stringify({ ...r, kind: 'other' }))).toThrow(
      /is not a emergency-worker-deploy record/,
    );
    expect(() => parseRecord('x'.repeat(1_000_001))).toThrow(/larger than/);
  });

  it('commandIndex reuses known command ids', () => {
    const r = record();
    expect(commandIndex(r, 'a')).toBe(0);
    expect(commandIndex(r, 'b')).toBe(1);
    expect(commandIndex(r, 'a')).toBe(0);
  });
});

describe('publishRecord', () => {
  it('writes the output and, on a runner, the record file atomically', async () => {
    const { mkdtempSync, readFileSync, existsSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { publishRecord } = await import('../../src/context.js');
    const { testContext } = await import('../support/context.js');
    const { ctx, report } = testContext({ mode: 'canary' });
    const file = join(mkdtempSync(join(tmpdir(), 'rec-')), 'deployment-record.json');
    ctx.recordFile = file;
    const r = record();
    publishRecord(ctx, r);
    expect(JSON.parse(readFileSync(file, 'utf8')).deploymentId).toBe(r.deploymentId);
    expect(existsSync(`${file}.tmp`)).toBe(false);
    expect(report.outputs['record-file']).toBe(file);
    expect(JSON.parse(report.outputs.record ?? '')).toEqual(JSON.parse(readFileSync(file, 'utf8')));
  });
});

// A record in the exact shape today's dist writes, every part present: canary evidence, settings,
// redrive and each part of extra (rollout, rolloutAsg, verify, rollback, rollbackCommands). Records
// already published by a running deployment must keep parsing, unchanged, after the schema moved;
// `satisfies` also holds the schema to this shape (no key of it unknown to the types).
const CANARY = 'i-0123456789abcdef0';
const OTHER = 'i-0fedcba9876543210';
const LEGACY_RECORD = {
  kind: 'emergency-worker-deploy',
  version: 1,
  deploymentId: 'dep-20261129t010000z-4242-1',
  createdAt: '2026-11-29T01:00:00.000Z',
  updatedAt: '2026-11-29T03:00:00.000Z',
  region: 'ap-northeast-1',
  github: TEST_GITHUB,
  identity: { account: '123456789012', arn: 'arn:aws:sts::123456789012:assumed-role/deploy/gha' },
  target: {
    serviceName: 'file-processor',
    workerDir: '/opt/file-processor',
    targetFile: 'worker.py',
    backupPath: '/opt/file-processor/worker.py.backup.dep-20261129t010000z-4242-1',
  },
  queue: {
    url: 'https://sqs.ap-northeast-1.amazonaws.com/123456789012/cis-files',
    name: 'cis-files',
    arn: 'arn:aws:sqs:ap-northeast-1:123456789012:cis-files',
    visibilityTimeout: 300,
    dlqUrl: 'https://sqs.ap-northeast-1.amazonaws.com/123456789012/cis-files-dlq',
    dlqName: 'cis-files-dlq',
    dlqArn: 'arn:aws:sqs:ap-northeast-1:123456789012:cis-files-dlq',
    maxReceiveCount: 5,
  },
  metrics: {
    before: {
      at: '2026-11-29T01:00:00.000Z',
      visible: 1200,
      inFlight: 40,
      delayed: 0,
      dlqVisible: 67,
      instances: 2,
    },
    '10m': {
      at: '2026-11-29T02:20:00.000Z',
      visible: 700,
      inFlight: 20,
      delayed: 0,
      dlqVisible: 67,
      instances: 2,
      filesPerHour: 2400,
      oldestAgeSeconds: 120,
      deleteFailed: 0,
    },
  },
  fleet: {
    filters: ['tag:Name=cis-file-processor'],
    instanceIds: [CANARY, OTHER],
    discoveredAt: '2026-11-29T01:00:05.000Z',
  },
  artifact: { s3Uri: 's3://cis-deploy-artifacts/worker.py', sha256: 'a'.repeat(64), uploaded: true },
  canary: {
    instanceId: CANARY,
    verdict: 'go',
    reason: 'every health pattern seen, no error pattern, service active',
    startedAt: '2026-11-29T01:10:00.000Z',
    endedAt: '2026-11-29T01:25:00.000Z',
    evidence: {
      decision: 'go',
      artifact: { s3Uri: 's3://cis-deploy-artifacts/worker.py', sha256: 'a'.repeat(64) },
      install: {
        commandId: '0123abcd-1234-5678-9abc-000000000001',
        status: 'Success',
        responseCode: 0,
        result: 'installed',
        backupPath: '/opt/file-processor/worker.py.backup.dep-20261129t010000z-4242-1',
        backupState: 'made',
        sha256Before: 'b'.repeat(64),
        sha256After: 'a'.repeat(64),
        service: 'active',
        restarts: 0,
        restart: '1764378600',
        journal: ['Started file-processor.service'],
        seconds: 12,
      },
      watch: {
        polls: 15,
        unreadable: 0,
        since: 1764378600,
        sinceSource: 'instance',
        window: 'main-start',
        windowBefore: 3,
        firstCommandId: '0123abcd-1234-5678-9abc-000000000002',
        lastCommandId: '0123abcd-1234-5678-9abc-000000000003',
        seconds: 900,
      },
      health: [{ pattern: 'Processed file', count: 42 }],
      errors: [
        { pattern: 'Traceback', count: 0 },
        { pattern: 'ERROR', count: null },
      ],
      excerpts: [{ kind: 'health', pattern: 'Processed file', line: 'Processed file a.pdf' }],
      service: 'active',
      restarts: 0,
      tail: ['Processed file a.pdf'],
      metric: { name: 'MessageDeleteFailed', dimension: 'InstanceId', sum: 0 },
    },
  },
  commands: ['0123abcd-1234-5678-9abc-000000000001', '0123abcd-1234-5678-9abc-000000000004'],
  instances: {
    [CANARY]: { p: 'c', b: 0, s: 'installed', c: 0, t: 12, rb: 'restored' },
    [OTHER]: {
      p: 'r',
      b: 1,
      s: 'failed',
      c: 1,
      t: 30,
      e: 'exit 15: backup failed',
      rb: 'failed',
      re: 'backup missing',
    },
  },
  settings: {
    visibilityTimeout: { before: 300, after: 900, at: '2026-11-29T01:30:00.000Z', s: 'done' },
    launchTemplate: {
      id: 'lt-0123456789abcdef0',
      name: 'cis-file-processor-lt',
      previousDefault: 3,
      newVersion: 4,
      sourceVersion: 3,
      groupVersion: '3',
      mixed: false,
      movedDefault: false,
    },
    image: { id: 'ami-0123456789abcdef0', sourceInstanceId: CANARY, state: 'available' },
    refresh: {
      id: 'refresh-1',
      asgName: 'cis-workers',
      status: 'Successful',
      percentComplete: 100,
      desired: 'launch-template',
    },
    revertRefresh: { id: 'refresh-2', asgName: 'cis-workers', status: 'InProgress', percentComplete: 50 },
  },
  phases: [
    {
      mode: 'preflight',
      startedAt: '2026-11-29T01:00:00.000Z',
      endedAt: '2026-11-29T01:05:00.000Z',
      verdict: 'pass',
      reason: 'ok',
    },
    {
      mode: 'rollback',
      startedAt: '2026-11-29T02:30:00.000Z',
      endedAt: '2026-11-29T02:40:00.000Z',
      verdict: 'fail',
      reason: '1 failed',
      dryRun: false,
    },
  ],
  warnings: ['the bucket notifies the queue twice'],
  redrive: {
    reviewedAt: '2026-11-30T01:00:00.000Z',
    sampled: 10,
    dlqDepth: 67,
    s3Events: 9,
    duplicates: 1,
    testEvents: 1,
    notS3: 0,
    oldestSentAt: '2026-11-28T00:00:00.000Z',
    newestSentAt: '2026-11-29T00:30:00.000Z',
    fixAt: '2026-11-29T01:25:00.000Z',
    sentBeforeFix: 10,
    sentAfterFix: 0,
    dryRun: false,
    taskHandle: 'handle-1',
    status: 'COMPLETED',
    moved: 67,
    toMove: 67,
    rate: 10,
    startedAt: '2026-11-30T01:05:00.000Z',
    endedAt: '2026-11-30T01:10:00.000Z',
    after: { at: '2026-11-30T01:20:00.000Z', queue: 0, dlq: 0, dlqRose: false },
    verdict: 'pass',
  },
  extra: {
    rollout: { startedAt: '2026-11-29T01:30:00.000Z', batches: [[1, 0, 30, 0, 1]], unlisted: 0 },
    rolloutAsg: { groupVersion: '3' },
    verify: {
      '10m': {
        startedAt: '2026-11-29T02:10:00.000Z',
        endedAt: '2026-11-29T02:20:00.000Z',
        sampleSeconds: 60,
        planned: 11,
        taken: 3,
        samples: {
          t: [0, 300, 600],
          v: [1200, 900, 700],
          f: [40, 30, 20],
          d: [0, 0, 0],
          l: [67, 67, null],
          r: [2, 2, 2],
        },
        metrics: {
          deleteFailed: 0,
          received: 500,
          deleted: 480,
          filesPerHour: 2400,
          oldestAgeSeconds: 120,
          sent: 30,
          dataThrough: '2026-11-29T02:17:00.000Z',
          windowEnd: '2026-11-29T02:20:00.000Z',
          deleteFailedDimensions: ['InstanceId=i-0123456789abcdef0'],
        },
        dimensionSets: 1,
        criteria: [
          { id: 'workers', s: 'pass', d: '2 of 2 running' },
          { id: 'lag', s: 'not-judged', d: 'CloudWatch has no data yet' },
        ],
        verdict: 'pass',
      },
    },
    rollback: {
      at: '2026-11-29T02:30:00.000Z',
      dryRun: false,
      reasons: ['verify failed'],
      counts: { restored: 1, failed: 1 },
      settings: [{ setting: 'visibility timeout', action: 'restored', now: '300' }],
    },
    rollbackCommands: ['0123abcd-1234-5678-9abc-000000000005'],
  },
} satisfies DeploymentRecord;

describe('parseRecord: the typed parts', () => {
  const raw = (mutate: (r: typeof LEGACY_RECORD & Record<string, unknown>) => void = () => undefined) => {
    const r = JSON.parse(JSON.stringify(LEGACY_RECORD)) as typeof LEGACY_RECORD & Record<string, unknown>;
    mutate(r);
    return JSON.stringify(r);
  };

  it("parses a record in today's exact shape, every part kept as written", () => {
    const r = parseRecord(raw());
    expect(r).toEqual(LEGACY_RECORD);
    // Read through the types, no casts: the parts are what the modes wrote.
    expect(r.extra.rollout?.batches[0]).toEqual([1, 0, 30, 0, 1]);
    expect(r.extra.rolloutAsg?.groupVersion).toBe('3');
    expect(r.extra.verify?.['10m']?.criteria?.map((c) => c.s)).toEqual(['pass', 'not-judged']);
    expect(r.extra.verify?.['10m']?.samples?.l).toEqual([67, 67, null]);
    expect(r.extra.rollback?.settings[0].action).toBe('restored');
    expect(r.extra.rollbackCommands).toHaveLength(1);
    expect(r.canary?.evidence?.decision).toBe('go');
    expect(r.canary?.evidence?.errors?.[1].count).toBeNull();
    expect(viewInstance(r.instances[OTHER])).toEqual({
      phase: 'rollout',
      batch: 1,
      status: 'failed',
      commandIndex: 1,
      installSeconds: 30,
      error: 'exit 15: backup failed',
      rollback: 'failed',
      rollbackError: 'backup missing',
    });
  });

  it('parses the visibility timeout intent as a rollout writes it before SetQueueAttributes', () => {
    const intent = {
      deploymentId: LEGACY_RECORD.deploymentId,
      before: 300,
      after: 900,
      at: '2026-11-29T01:29:00.000Z',
      s: 'intended',
    };
    const r = parseRecord(raw((r) => Object.assign(r.settings, { visibilityTimeout: intent })));
    expect(r.settings.visibilityTimeout).toEqual(intent);
    expect(
      visibilityTimeoutChange({
        deploymentId: intent.deploymentId,
        before: 300,
        after: 900,
        at: intent.at,
        state: 'intended',
      }),
    ).toEqual(intent);
  });

  it('refuses, naming the input, a malformed part a rerun or rollback acts on', () => {
    const bad = (mutate: Parameters<typeof raw>[0]) => () => parseRecord(raw(mutate), 'record-file');
    expect(bad((r) => Object.assign(r.extra, { rollout: { startedAt: 1, batches: [] } }))).toThrow(
      /^Input 'record-file' has a malformed rollout batch history \(extra\.rollout\)/,
    );
    expect(bad((r) => Object.assign(r.extra.rollout, { batches: [[1, 2, 3]] }))).toThrow(/extra\.rollout/);
    expect(bad((r) => Object.assign(r.extra, { rolloutAsg: { groupVersion: 3 } }))).toThrow(
      /^Input 'record-file' has a malformed group version \(extra\.rolloutAsg\)/,
    );
    expect(bad((r) => Object.assign(r.extra, { rolloutAsg: 'x' }))).toThrow(/extra\.rolloutAsg/);
    expect(bad((r) => Object.assign(r.canary, { instanceId: 'i-1;reboot' }))).toThrow(
      /^Input 'record-file' has a canary instance id that is not valid/,
    );
  });

  it('drops malformed history, keeping the rest and saying what was left out', () => {
    const r = parseRecord(
      raw((r) => {
        Object.assign(r.extra.verify, { '1h': 'not an object', later: {} });
        Object.assign(r.extra.verify['10m'], { verdict: 'maybe', samples: { t: ['x'] } });
        (r.extra.verify['10m'].criteria as object[]).push({ id: 'uploads', s: 'bogus', d: '' });
        Object.assign(r.extra, { rollbackCommands: [1] });
        Object.assign(r.canary.evidence, { health: ['Processed file'], decision: 'maybe' });
      }),
    );
    const tenMinutes = r.extra.verify?.['10m'];
    expect(Object.keys(r.extra.verify ?? {})).toEqual(['10m']);
    expect(tenMinutes?.verdict).toBeUndefined();
    expect(tenMinutes?.samples).toBeUndefined();
    expect(tenMinutes?.criteria).toEqual(LEGACY_RECORD.extra.verify['10m'].criteria);
    expect(tenMinutes?.metrics).toEqual(LEGACY_RECORD.extra.verify['10m'].metrics);
    expect(r.extra.rollbackCommands).toBeUndefined();
    expect(r.canary?.evidence?.health).toBeUndefined();
    expect(r.canary?.evidence?.decision).toBeUndefined();
    expect(r.canary?.evidence?.errors).toEqual(LEGACY_RECORD.canary.evidence.errors);
    // A foreign key is repeated only quoted and with invisible characters shown.
    const odd = parseRecord(raw((r) => Object.assign(r.extra.verify, { '::warning::\u202ex': {} })));
    expect(odd.warnings[1]).toBe(
      'the record had malformed parts, left out: extra.verify."::warning::\\u202ex"',
    );
    expect(r.warnings).toEqual([
      'the bucket notifies the queue twice',
      'the record had malformed parts, left out: extra.verify.10m.samples, extra.verify.10m.verdict, ' +
        'extra.verify.10m.criteria (1), extra.verify.1h, extra.verify.later, extra.rollbackCommands, ' +
        'canary.evidence.decision, canary.evidence.health',
    ]);
  });
  it('drops phases that name no mode or start, and metrics columns of no checkpoint, saying so', () => {
    const r = parseRecord(
      raw((r) => {
        (r.phases as object[]).push({ mode: '::warning::x', startedAt: 'a' }, { mode: 'verify' });
        Object.assign(r.phases[0], { verdict: 'maybe' });
        Object.assign(r.metrics, { later: { at: 'x' } });
        Object.assign(r.metrics['10m'], { visible: 'many' });
      }),
    );
    expect(r.phases.map((p) => p.mode)).toEqual(['preflight', 'rollback']);
    expect(r.phases[0].verdict).toBeUndefined();
    expect(Object.keys(r.metrics)).toEqual(['before', '10m']);
    expect(r.metrics['10m']?.visible).toBeUndefined();
    expect(r.metrics['10m']?.inFlight).toBe(20);
    expect(r.warnings[1]).toBe(
      'the record had malformed parts, left out: phases (2), phases.0.verdict, metrics.10m.visible, metrics.later',
    );
  });
});
