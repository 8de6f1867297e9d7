// Deployment records as the five modes leave them, for the renderers' and the workflow tools' tests:
// the runbook's world (five workers, one canary, four rolled out one by one) with real times.
import type { DeploymentRecord } from '../../src/record.js';
import { runbookRecord } from './context.js';

export const FLEET = [
  'i-0a1b2c3d4e5f60001',
  'i-0a1b2c3d4e5f60002',
  'i-0a1b2c3d4e5f60003',
  'i-0a1b2c3d4e5f60004',
  'i-0a1b2c3d4e5f60005',
];

// 2026-11-29 05:30 UTC is 14:30 JST.
export const T0 = Date.parse('2026-11-29T05:30:00.000Z');
export const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

/** A preflight record: baseline 12,345 visible, 40 in flight, 67 in the DLQ, five workers. */
export function preflightRecord(): DeploymentRecord {
  const record = runbookRecord('dep-20261129t053000z-4242-1', new Date(T0));
  record.identity = { account: '123456789012', arn: 'arn:aws:sts::123456789012:assumed-role/deploy/gha' };
  record.queue = {
    url: 'https://sqs.ap-northeast-1.amazonaws.com/123456789012/file-processing-queue-production',
    name: 'file-processing-queue-production',
    arn: 'arn:aws:sqs:ap-northeast-1:123456789012:file-processing-queue-production',
    visibilityTimeout: 300,
    dlqName: 'fp-dead-letters',
  };
  record.metrics.before = {
    at: at(0),
    visible: 12345,
    inFlight: 40,
    delayed: 0,
    dlqVisible: 67,
    instances: 5,
  };
  record.fleet = { filters: ['tag:Name=cis-file-processor'], instanceIds: [...FLEET], discoveredAt: at(0) };
  record.phases.push({
    mode: 'preflight',
    startedAt: at(0),
    endedAt: at(1),
    verdict: 'pass',
    reason: 'ready',
  });
  return record;
}

/** Canary GO, rollout of the other four, verify at 10 minutes passed: a completed deployment. */
export function completedRecord(): DeploymentRecord {
  const record = preflightRecord();
  record.artifact = {
    s3Uri: 's3://cis-deploy-artifacts/emergency-deploy/abc.py',
    sha256: 'a'.repeat(64),
    uploaded: true,
  };
  record.commands = ['cmd-canary', 'cmd-batch-1'];
  record.canary = {
    instanceId: FLEET[0],
    verdict: 'go',
    reason: 'every health pattern seen, no error',
    startedAt: at(1),
    endedAt: at(7),
  };
  record.instances[FLEET[0]] = { p: 'c', b: 0, s: 'installed', c: 0, t: 21 };
  FLEET.slice(1).forEach((id, i) => {
    record.instances[id] = { p: 'r', b: i + 1, s: 'installed', c: 1, t: 18 };
  });
  record.phases.push({
    mode: 'canary',
    startedAt: at(1),
    endedAt: at(7),
    verdict: 'go',
    reason: 'canary healthy',
  });
  record.phases.push({
    mode: 'rollout',
    startedAt: at(12),
    endedAt: at(20),
    verdict: 'pass',
    reason: '4 of 4 installed',
  });
  record.settings.visibilityTimeout = { before: 300, after: 900, at: at(20) };
  record.metrics['10m'] = {
    at: at(30),
    visible: 2100,
    inFlight: 35,
    delayed: 0,
    dlqVisible: 67,
    instances: 5,
    filesPerHour: 61234.5,
    deleteFailed: 0,
  };
  record.extra.verify = {
    '10m': {
      startedAt: at(20),
      endedAt: at(30),
      verdict: 'pass',
      criteria: [
        { id: 'workers', s: 'pass', d: '5 of 5 running' },
        { id: 'depth-trend', s: 'pass', d: 'decreasing: 12,385 → 2,135' },
        { id: 'no-loop', s: 'not-judged', d: 'CloudWatch has no data yet' },
        { id: 'dlq-stable', s: 'pass', d: '67 → 67' },
        { id: 'delete-failures', s: 'pass', d: 'sum 0' },
      ],
    },
  };
  record.phases.push({
    mode: 'verify',
    startedAt: at(20),
    endedAt: at(30),
    verdict: 'pass',
    reason: 'every judged criterion passed',
  });
  record.warnings.push('bucket cis-filesearch-storage-production also sends events to EventBridge');
  record.updatedAt = at(30);
  return record;
}

/** Canary NO-GO, then rollback restored the canary. */
export function rolledBackRecord(): DeploymentRecord {
  const record = preflightRecord();
  record.canary = {
    instanceId: FLEET[0],
    verdict: 'no-go',
    reason: 'Traceback seen 3 times',
    startedAt: at(1),
    endedAt: at(4),
  };
  record.commands = ['cmd-canary', 'cmd-rollback'];
  record.instances[FLEET[0]] = { p: 'c', b: 0, s: 'installed', c: 0, t: 20, rb: 'restored' };
  record.phases.push({
    mode: 'canary',
    startedAt: at(1),
    endedAt: at(4),
    verdict: 'no-go',
    reason: 'Traceback seen 3 times',
  });
  record.phases.push({
    mode: 'rollback',
    startedAt: at(5),
    endedAt: at(7),
    verdict: 'pass',
    reason: 'canary NO-GO: Traceback seen 3 times',
  });
  record.updatedAt = at(7);
  return record;
}
