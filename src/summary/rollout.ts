// The rollout section of the job summary: the outcome, the fleet as it was found, the batches with
// their times, every instance's result, the queue change and, for strategy asg, the image, the
// launch template versions and the refresh.
import { viewInstance, type DeploymentRecord } from '../record.js';
import { cappedTable, cell, details, escapeHtml, heading, table } from './markdown.js';

/** One batch of strategy ssm as it ran. */
export interface BatchReport {
  number: number;
  instanceIds: string[];
  startedAt: string;
  installSeconds?: number;
  endedAt?: string;
  installed: number;
  failed: number;
  cancelled: number;
  /** terminated before the install reached them: reported, not failed */
  gone?: number;
  /** SendCommand failed part way (not for an unreachable id): the rest of the batch was not sent */
  sendError?: string;
  commandIds: string[];
  healthCommandIds: string[];
}

/** What strategy asg found, made and followed. */
export interface AsgReport {
  asgName: string;
  templateName: string;
  groupVersion?: string;
  /** The version the new one is made from (the one the group launches). */
  sourceVersion?: number;
  /** The group follows $Default, so the default moves to the new version. */
  movesDefault: boolean;
  autoRollback: boolean;
  imageId?: string;
  imageState?: string;
  previousDefault?: number;
  newVersion?: number;
  refreshId?: string;
  refreshStatus?: string;
  percentComplete?: number;
  instancesToUpdate?: number;
  statusReason?: string;
  /** dry-run: the steps that would run */
  plan: string[];
}

/** The rollout section's data: the record as the rollout left it, and what this run found and did. */
export interface RolloutReport {
  record: DeploymentRecord;
  strategy: 'ssm' | 'asg';
  dryRun: boolean;
  fleetCount: number;
  appeared: string[];
  vanished: string[];
  canary: string[];
  alreadyInstalled: string[];
  offline: string[];
  batchSize: number;
  pauseSeconds: number;
  maxErrors: number;
  /** Batches planned for this run (instance ids). */
  plan: string[][];
  batches: BatchReport[];
  queue?: { before: number; target: number; after?: number; planned: boolean };
  asg?: AsgReport;
  verdict: 'pass' | 'fail';
  reason: string;
}

function secondsBetween(from: string, to: string | undefined): number | undefined {
  return to === undefined ? undefined : Math.round((Date.parse(to) - Date.parse(from)) / 1000);
}

function ids(list: string[], max = 50): string {
  const shown = list.slice(0, max).map((id) => escapeHtml(id));
  return list.length > max ? `${shown.join(', ')}, … (${list.length - max} more)` : shown.join(', ');
}

export function renderRolloutSummary(view: RolloutReport): string {
  const record = view.record;
  const out: string[] = [];
  const title = view.dryRun
    ? `Rollout plan (dry-run): deployment ${record.deploymentId}`
    : `Rollout ${view.verdict === 'pass' ? 'passed' : 'FAILED'}: deployment ${record.deploymentId}`;
  out.push(heading(2, title));
  out.push(`${view.verdict === 'pass' ? '✅' : '❌'} ${escapeHtml(view.reason)}`);

  const facts: unknown[][] = [
    ['Strategy', view.strategy],
    [
      'Canary',
      record.canary ? `${record.canary.instanceId} (${record.canary.verdict})` : 'none in the record',
    ],
    ['Artifact', record.artifact ? `${record.artifact.s3Uri} (sha256 ${record.artifact.sha256})` : undefined],
    ['Running instances matching the filters', view.fleetCount],
  ];
  if (view.strategy === 'ssm') {
    facts.push(
      ['Batch size', view.batchSize || undefined],
      ['Bake between batches (s)', view.pauseSeconds],
      ['Max errors', view.maxErrors],
      ['Batches this run', view.plan.length],
    );
  }
  out.push(table(['Field', 'Value'], facts));

  if (view.appeared.length || view.vanished.length || view.alreadyInstalled.length || view.offline.length) {
    const lines: string[] = [];
    if (view.appeared.length) lines.push(`- Appeared since preflight (included): ${ids(view.appeared)}`);
    if (view.vanished.length) lines.push(`- Vanished since preflight (not running): ${ids(view.vanished)}`);
    if (view.alreadyInstalled.length) {
      lines.push(`- Installed by an earlier run of this rollout (skipped): ${view.alreadyInstalled.length}`);
    }
    if (view.offline.length)
      lines.push(`- Not Online in SSM (not deployed, counted as failed): ${ids(view.offline)}`);
    out.push(heading(3, 'Fleet changes'), lines.join('\n'));
  }

  if (view.dryRun && view.strategy === 'ssm' && view.plan.length > 0) {
    out.push(heading(3, 'Planned batches'));
    out.push(
      cappedTable(
        ['Batch', 'Instances', 'Ids'],
        view.plan.map((b, i) => [i + 1, b.length, b.slice(0, 20).join(', ') + (b.length > 20 ? ', …' : '')]),
      ),
    );
  }

  if (view.batches.length > 0) {
    out.push(heading(3, 'Batches'));
    out.push(
      cappedTable(
        [
          'Batch',
          'Instances',
          'Started (UTC)',
          'Install (s)',
          'Total (s)',
          'Healthy',
          'Failed',
          'Cancelled',
          'Commands',
        ],
        view.batches.map((b) => [
          b.number,
          b.instanceIds.length,
          b.startedAt,
          b.installSeconds,
          secondsBetween(b.startedAt, b.endedAt),
          b.installed,
          b.failed,
          b.cancelled,
          [...b.commandIds, ...b.healthCommandIds].join(', '),
        ]),
      ),
    );
  }

  const entries = Object.entries(record.instances)
    .map(([id, e]) => [id, viewInstance(e)] as const)
    .sort(([a, ea], [b, eb]) => ea.batch - eb.batch || (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length > 0) {
    out.push(heading(3, `Instances (${entries.length})`));
    const failedFirst = [
      ...entries.filter(([, e]) => e.status !== 'installed'),
      ...entries.filter(([, e]) => e.status === 'installed'),
    ];
    // Folded under its count: the decision and the batches stay at the top of the section.
    out.push(
      details(
        `${entries.length} instance(s), failed first`,
        cappedTable(
          ['Instance', 'Phase', 'Batch', 'Status', 'Command', 'Install (s)', 'Error'],
          failedFirst.map(([id, e]) => [
            id,
            e.phase,
            e.batch,
            e.status,
            e.commandIndex >= 0 ? record.commands[e.commandIndex] : undefined,
            e.installSeconds,
            e.error,
          ]),
        ),
      ),
    );
    out.push(`Backup on each instance: ${escapeHtml(record.target.backupPath)}`);
  }

  if (view.asg) {
    const a = view.asg;
    out.push(heading(3, `Auto Scaling group ${a.asgName}`));
    if (a.plan.length > 0) {
      out.push(a.plan.map((step, i) => `${i + 1}. ${escapeHtml(step)}`).join('\n'));
    } else {
      out.push(
        table(
          ['Field', 'Value'],
          [
            ['Image', a.imageId ? `${a.imageId} (${a.imageState ?? 'unknown'})` : undefined],
            ['Launch template', a.templateName],
            ['Group uses version', a.groupVersion],
            ['Made from version', a.sourceVersion],
            ['New version', a.newVersion],
            [
              'Default version',
              a.previousDefault === undefined
                ? undefined
                : a.movesDefault && a.newVersion !== undefined
                  ? `${a.previousDefault} → ${a.newVersion}`
                  : `${a.previousDefault} (not changed)`,
            ],
            ['Instance refresh', a.refreshId],
            ['Refresh status', a.refreshStatus],
            ['Percent complete', a.percentComplete],
            ['Instances to update', a.instancesToUpdate],
            ['Status reason', a.statusReason],
            ['Auto-rollback', a.autoRollback ? 'on' : 'off (the group follows a moving version)'],
          ],
        ),
      );
    }
  }

  if (view.queue) {
    const q = view.queue;
    out.push(heading(3, 'Queue visibility timeout'));
    out.push(
      q.planned
        ? `Would change from ${cell(q.before)} s to ${cell(q.target)} s.`
        : `${cell(q.before)} s → ${cell(q.after)} s (target ${cell(q.target)} s, read back${q.after === q.target ? '' : ': MISMATCH'}).`,
    );
  }

  if (record.warnings.length > 0) {
    out.push(heading(3, 'Warnings'));
    out.push(record.warnings.map((w) => `- ${cell(w, 500)}`).join('\n'));
  }
  return out.join('\n\n');
}
