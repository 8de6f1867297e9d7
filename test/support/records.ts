// Named record parts shared by the unit tests: one spelling of each, so a change of the record's
// shape is made here once (test/support/sample-record.ts holds whole sample records).
import type {
  DeploymentRecord,
  InstanceEntry,
  LaunchTemplateChange,
  RefreshChange,
} from '../../src/record.js';
import { runbookRecord } from './context.js';

/** The canary's entry after a clean install: canary phase, batch 0, installed, first command. */
export function canaryInstalled(): InstanceEntry {
  return { p: 'c', b: 0, s: 'installed', c: 0 };
}

/**
 * The launch template change an asg rollout records: cis-file-processor-lt's default was 3, the
 * rollout made version 4 with the fix; `more` adds what newer rollouts record (source version,
 * the group's version, mixed instances policy, whether the default moved).
 */
export function launchTemplateChange(more: Partial<LaunchTemplateChange> = {}): LaunchTemplateChange {
  return {
    id: 'lt-0123456789abcdef0',
    name: 'cis-file-processor-lt',
    previousDefault: 3,
    newVersion: 4,
    ...more,
  };
}

const QUEUE = 'file-processing-queue-production';

/** What differs between the tests' records as the canary job hands them on. */
export interface AfterCanaryParts {
  deploymentId: string;
  /** The fleet preflight found. */
  fleet: string[];
  /** The canary (default: the fleet's first instance). */
  canary?: string;
  verdict?: 'go' | 'no-go';
  reason?: string;
  s3Uri?: string;
  sha256?: string;
  queueArn?: string;
  /** The canary's install command id. */
  command?: string;
  /** The canary's instance entry (default: canaryInstalled()). */
  entry?: InstanceEntry;
}

/**
 * The record as the canary job hands it on (the rollout's and rollback's input): the runbook's
 * target, the fleet from preflight, the queue, the artifact, a GO canary and its install.
 */
export function afterCanaryRecord(p: AfterCanaryParts): DeploymentRecord {
  const record = runbookRecord(p.deploymentId);
  const canary = p.canary ?? p.fleet[0];
  record.fleet = {
    filters: ['tag:Name=cis-file-processor'],
    instanceIds: p.fleet,
    discoveredAt: record.createdAt,
  };
  record.queue = {
    url: `https://sqs.ap-northeast-1.amazonaws.com/123456789012/${QUEUE}`,
    name: QUEUE,
    arn: p.queueArn ?? `arn:aws:sqs:ap-northeast-1:123456789012:${QUEUE}`,
    visibilityTimeout: 300,
  };
  record.artifact = {
    s3Uri: p.s3Uri ?? 's3://cis-deploy-artifacts/fixes/worker.py',
    sha256: p.sha256 ?? 'a'.repeat(64),
    uploaded: false,
  };
  record.canary = {
    instanceId: canary,
    verdict: p.verdict ?? 'go',
    reason: p.reason ?? 'every health pattern seen',
    startedAt: record.createdAt,
  };
  record.commands.push(p.command ?? 'canary-command');
  record.instances[canary] = p.entry ?? canaryInstalled();
  return record;
}

/** The instance refresh an asg rollout records: refresh-1 of the group cis-workers, in `status`. */
export function refreshChange(status: string, more: Partial<RefreshChange> = {}): RefreshChange {
  return { id: 'refresh-1', asgName: 'cis-workers', status, ...more };
}
