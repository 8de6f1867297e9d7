// Every step summary stays under GitHub's 1 MiB per step at 5,000 instances (worst cases: every
// instance failed with a long error, batch size 1, 1,000 sampled DLQ messages), and its
// per-instance table is folded in <details> under its count, so the decision and the evidence stay
// at the top of each section.
import type { FleetInstance } from '../../src/logic/fleet.js';
import { reviewMessages } from '../../src/logic/redrive.js';
import type { DeploymentRecord } from '../../src/record.js';
import { renderDeploymentLog } from '../../src/summary/deployment-log.js';
import { renderIncidentReport } from '../../src/summary/incident-report.js';
import { renderPreflightSummary } from '../../src/summary/preflight.js';
import { renderRedriveSummary } from '../../src/summary/redrive.js';
import { renderRollbackSummary, type InstanceResult } from '../../src/summary/rollback.js';
import { renderRolloutSummary, type BatchReport, type RolloutReport } from '../../src/summary/rollout.js';
import { completedRecord } from '../support/sample-record.js';

const MIB = 1024 * 1024;
const N = 5000;
const ids = Array.from({ length: N }, (_, i) => `i-${i.toString(16).padStart(17, '0')}`);
const LONG_ERROR = `install failed: ${'x'.repeat(180)} <b>|</b>`;

function hugeRecord(): DeploymentRecord {
  const r = completedRecord();
  r.fleet = { filters: ['tag:Name=cis-file-processor'], instanceIds: ids, discoveredAt: r.createdAt };
  r.instances = {};
  ids.forEach((id, i) => {
    r.instances[id] = {
      p: i === 0 ? 'c' : 'r',
      b: i,
      s: 'failed',
      c: 0,
      t: 30,
      e: LONG_ERROR,
      rb: 'failed',
      re: LONG_ERROR,
    };
  });
  for (let i = 0; i < 300; i++) r.warnings.push(`warning ${i}: ${'w'.repeat(400)}`);
  return r;
}

function expectSmallAndFolded(name: string, md: string, folded: string): void {
  const bytes = Buffer.byteLength(md, 'utf8');
  expect({ name, under: bytes < MIB }).toEqual({ name, under: true });
  expect(md).toContain(`<details><summary>${folded}`);
}

describe('summaries at 5,000 instances', () => {
  it('preflight: the fleet table folded under its count', () => {
    const fleet: FleetInstance[] = ids.map((id) => ({
      id,
      name: 'cis-file-processor',
      privateIp: '10.0.0.1',
      zone: 'ap-northeast-1a',
      launchTime: '2026-11-01T00:00:00Z',
    }));
    const md = renderPreflightSummary({
      record: hugeRecord(),
      fleet,
      problems: ['2500 agents offline'],
      agents: new Map(ids.map((id) => [id, 'ConnectionLost'])),
    });
    expectSmallAndFolded('preflight', md, '5000 instance(s)');
    // The problem is above the fold.
    expect(md.indexOf('2500 agents offline')).toBeLessThan(md.indexOf('<details>'));
  });

  it('rollout, batch size 1, every instance failed: the instances folded under their count', () => {
    const record = hugeRecord();
    const batches: BatchReport[] = ids.map((id, i) => ({
      number: i + 1,
      instanceIds: [id],
      startedAt: '2026-11-29T06:00:00.000Z',
      endedAt: '2026-11-29T06:01:00.000Z',
      installSeconds: 30,
      installed: 0,
      failed: 1,
      cancelled: 0,
      commandIds: [`cmd-${i}`],
      healthCommandIds: [`hc-${i}`],
    }));
    const view: Omit<RolloutReport, 'record'> = {
      strategy: 'ssm',
      dryRun: false,
      fleetCount: N,
      appeared: ids.slice(0, 1000),
      vanished: ids.slice(1000, 2000),
      canary: [ids[0]],
      alreadyInstalled: [],
      offline: ids.slice(2000, 3000),
      batchSize: 1,
      pauseSeconds: 0,
      maxErrors: 5000,
      plan: ids.map((id) => [id]),
      batches,
      verdict: 'fail',
      reason: 'every batch failed',
    };
    const md = renderRolloutSummary({ ...view, record });
    expectSmallAndFolded('rollout', md, `${N} instance(s), failed first`);
  });

  it('rollback of 5,000 instances that all failed: the instances folded under their count', () => {
    const instances: InstanceResult[] = ids.map((id) => ({
      id,
      source: 'record+tag',
      state: 'running',
      entry: { p: 'r', b: 1, s: 'installed', c: 0 },
      result: 'failed',
      detail: LONG_ERROR,
    }));
    const md = renderRollbackSummary({
      deploymentId: 'dep-20261129t053000z-4242-1',
      dryRun: false,
      verdict: 'fail',
      reasons: ['verify failed'],
      backupPath: '/opt/file-processor/worker.py.backup.dep-20261129t053000z-4242-1',
      target: { serviceName: 'file-processor', workerDir: '/opt/file-processor', targetFile: 'worker.py' },
      fromRecord: true,
      instances,
      settings: [],
      notes: [],
      problems: ['5000 instances could not be restored'],
      warnings: [],
    });
    expectSmallAndFolded('rollback', md, `${N} instance(s), failures first`);
  });

  it('the deployment log and the incident report', () => {
    const record = hugeRecord();
    expectSmallAndFolded('deployment log', renderDeploymentLog(record), `Instances touched (${N})`);
    const report = renderIncidentReport(record);
    expect(Buffer.byteLength(report, 'utf8')).toBeLessThan(MIB);
  });

  it('redrive with 1,000 sampled messages: the sample folded under its count', () => {
    const messages = Array.from({ length: 1000 }, (_, i) => ({
      messageId: `m-${i}`,
      body: JSON.stringify({
        Records: [
          {
            eventSource: 'aws:s3',
            eventName: 'ObjectCreated:Put',
            s3: {
              bucket: { name: 'b' },
              object: { key: `k/${'z'.repeat(900)}${i}`, size: 1, sequencer: `${i}` },
            },
          },
        ],
      }),
      sentAt: Date.parse('2026-11-29T00:00:00Z'),
    }));
    const review = reviewMessages(messages, undefined);
    const md = renderRedriveSummary({
      deploymentId: 'dep-20261129t053000z-4242-1',
      verdict: 'pass',
      reason: 'dry-run',
      queueName: 'q',
      dlqName: 'd',
      entry: { reviewedAt: '2026-11-29T00:00:00.000Z', sampled: 1000, dryRun: true },
      review,
      progress: [],
      notes: [],
    });
    expectSmallAndFolded('redrive', md, 'Sampled messages (1000)');
  });
});
