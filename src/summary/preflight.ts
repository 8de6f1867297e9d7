// The preflight section of the job summary: the runbook's RECORD fields and the fleet.
import type { FleetInstance } from '../logic/fleet.js';
import {
  describePath,
  type DeliveryPath,
  type DuplicatePair,
  type NotificationConfig,
  type OtherSource,
} from '../logic/notifications.js';
import type { DeploymentRecord } from '../record.js';
import { cappedTable, cell, details, escapeHtml, heading, table } from './markdown.js';

/** The preflight section's data: the record (baseline, warnings) and what the checks found. */
export interface PreflightReport {
  record: DeploymentRecord;
  /** The bucket whose notifications were read, when one was given. */
  bucket?: string;
  notifications?: {
    configs: NotificationConfig[];
    duplicates: DuplicatePair[];
    eventBridge: boolean;
    /** every way this bucket's events reach the queue */
    paths: DeliveryPath[];
    /** other senders the queue policy allows (another bucket, a replication target, a topic) */
    otherSources: OtherSource[];
  };
  fleet: FleetInstance[];
  /** Each instance's SSM agent status, when ssm-check read them. */
  agents?: Map<string, string>;
  problems: string[];
}

export function renderPreflightSummary(f: PreflightReport): string {
  const { record, bucket } = f;
  const before = record.metrics.before;
  const q = record.queue;
  const out: string[] = [];
  const ok = f.problems.length === 0;
  out.push(heading(2, `Preflight ${ok ? 'passed' : 'FAILED'}: deployment ${record.deploymentId}`));
  if (!ok) out.push(f.problems.map((p) => `- ❌ ${escapeHtml(p)}`).join('\n'));
  out.push(heading(3, 'Baseline (before)'));
  out.push(
    table(
      ['Field', 'Value'],
      [
        ['Date (UTC)', before?.at ?? record.createdAt],
        ['Deployer', record.github.actor],
        ['Commit', record.github.sha],
        [
          'Account / identity',
          record.identity ? `${record.identity.account} / ${record.identity.arn}` : undefined,
        ],
        ['Region', record.region],
        ['Queue', q?.name],
        ['Queue messages (visible)', before?.visible],
        ['Queue messages in flight', before?.inFlight],
        ['Queue messages delayed', before?.delayed],
        ['Visibility timeout (s)', q?.visibilityTimeout],
        ['DLQ', q?.dlqName ?? 'none'],
        ['DLQ messages', before?.dlqVisible],
        ['Max receive count', q?.maxReceiveCount],
        ['Worker instances', before?.instances],
      ],
    ),
  );
  if (bucket && f.notifications) {
    out.push(heading(3, `S3 notifications of ${bucket}`));
    const dupIds = new Set(f.notifications.duplicates.flatMap((d) => d.ids));
    out.push(
      table(
        ['Id', 'Kind', 'Target', 'Events', 'Prefix', 'Suffix', 'Duplicate'],
        f.notifications.configs.map((c) => [
          c.id,
          c.kind,
          c.target,
          c.events.join(', '),
          c.prefix,
          c.suffix,
          dupIds.has(c.id) ? 'YES' : 'no',
        ]),
      ),
    );
  }
  if (bucket && f.notifications) {
    const n = f.notifications;
    out.push(heading(3, `Paths of ${bucket}'s events into ${q?.name ?? 'the queue'}`));
    out.push(
      `EventBridge delivery on the bucket: ${n.eventBridge ? 'enabled (rules on the default bus that target the queue were read)' : 'off'}`,
    );
    if (n.paths.length > 0) {
      out.push(
        table(
          ['Path', 'Through', 'Events', 'Prefix', 'Suffix', 'Counted'],
          n.paths.map((p) => [
            describePath(p),
            p.via,
            p.events.join(', '),
            p.prefix,
            p.suffix,
            p.active ? 'yes' : 'no (disabled)',
          ]),
        ),
      );
    } else {
      out.push('No path found.');
    }
    if (n.otherSources.length > 0) {
      out.push(
        `Other senders the queue policy allows (aws:SourceArn): ${cell(n.otherSources.map((o) => `${o.arn} (${o.kind})`).join(', '), 1000)}`,
      );
    }
  }
  out.push(heading(3, `Fleet: ${f.fleet.length} running instance(s)`));
  // Folded under its count (the heading): the problems stay at the top.
  out.push(
    details(
      `${f.fleet.length} instance(s)`,
      cappedTable(
        ['Instance', 'Name', 'Private IP', 'Zone', 'Launched', 'SSM agent'],
        f.fleet.map((i) => [
          i.id,
          i.name,
          i.privateIp,
          i.zone,
          i.launchTime,
          f.agents ? (f.agents.get(i.id) ?? 'not registered') : 'not checked',
        ]),
      ),
    ),
  );
  if (record.warnings.length > 0) {
    out.push(heading(3, 'Warnings'));
    out.push(record.warnings.map((w) => `- ${cell(w, 500)}`).join('\n'));
  }
  return out.join('\n\n');
}
