// The canary section of the job summary: the decision, why, the evidence, and what happens next.
// Journal lines and excerpts came from an instance: every one goes through cell() or escapeHtml().
import type { CanaryDecision, Patterns } from '../logic/health.js';
import type { CanaryEvidenceRecord, InstanceEntry } from '../record.js';
import { cell, details, escapeHtml, heading, table } from './markdown.js';

/** The instance chosen as the canary, and why. */
export interface CanaryChoice {
  instanceId: string;
  /** why this instance: the input, the earlier canary of this deployment, or the stable order */
  why: string;
  fleetSize: number;
  agent?: string;
}

/** The canary section's data: what was (or would be) installed where, the decision and its evidence. */
export interface CanaryReport {
  deploymentId: string;
  dryRun: boolean;
  choice: CanaryChoice;
  /** The artifact installed (or that would be): where it is and the SHA-256 it must have. */
  artifact: { s3Uri: string; sha256: string };
  backupPath: string;
  serviceName: string;
  patterns: Patterns;
  canaryMinutes: number;
  pollSeconds: number;
  metric?: { name: string; namespace: string; dimension: string };
  allowInconclusive: boolean;
  warnings: string[];
  /** dry-run: the exact install script that would be sent */
  script?: string;
  reasons?: string[];
  verdict?: 'go' | 'no-go';
  decision?: CanaryDecision;
  evidence?: CanaryEvidenceRecord;
  entry?: InstanceEntry;
}

function countText(count: number | null | undefined): string {
  return count === null || count === undefined ? 'not reported' : String(count);
}

function pre(lines: string[]): string {
  return `<pre>${escapeHtml(lines.join('\n'))}</pre>`;
}

export function renderCanarySummary(v: CanaryReport): string {
  const id = v.choice.instanceId;
  const out: string[] = [];
  const e = v.evidence;

  if (v.dryRun) {
    out.push(heading(2, `Canary (dry-run): deployment ${v.deploymentId}`));
    out.push(
      `Nothing was sent: no tag, no upload, no command. The canary would be ${cell(id)} (${cell(v.choice.why)}).`,
    );
  } else {
    const word = v.verdict === 'go' ? 'GO' : 'NO-GO';
    out.push(heading(2, `Canary ${word}: ${id}`));
    const inconclusive = v.decision === 'inconclusive' ? ' (inconclusive)' : '';
    out.push(`**Decision: ${word}${inconclusive}**`);
  }
  if (v.reasons && v.reasons.length > 0) {
    out.push(`${v.dryRun ? '' : 'Why:\n'}${v.reasons.map((r) => `- ${cell(r, 600)}`).join('\n')}`);
  }

  const install = e?.install;
  const watch = e?.watch;
  const rows: unknown[][] = [
    ['Instance', `${id} (${v.choice.why})`],
    ['Artifact', v.artifact.s3Uri],
    ['Expected SHA-256', v.artifact.sha256],
    ['Backup', install?.backupPath ?? v.backupPath],
  ];
  if (install) {
    rows.push(
      [
        'Backup made',
        install.backupState === 'kept' ? 'kept from an earlier run of this deployment' : install.backupState,
      ],
      ['SHA-256 before', install.sha256Before],
      ['SHA-256 after', install.sha256After],
      ['Install', `${install.result ?? install.status} (command ${install.commandId}, ${install.seconds}s)`],
    );
  }
  if (e && !v.dryRun) {
    rows.push(
      ['Service', e.service ?? install?.service ?? 'not reported'],
      ['Restarts since the deploy', e.restarts ?? install?.restarts ?? 'not reported'],
    );
  }
  if (watch) {
    rows.push([
      'Watch',
      `${watch.polls} check(s) over ${watch.seconds}s (window ${v.canaryMinutes} min, every ${v.pollSeconds}s)${watch.unreadable ? `, ${watch.unreadable} unreadable` : ''}${watch.stoppedEarly ? `; stopped early: ${watch.stoppedEarly}` : ''}`,
    ]);
    rows.push([
      'Journal read since',
      watch.window === 'main-start'
        ? `the new main process's start (systemd ExecMainStartTimestamp)${watch.windowBefore ? `; ${watch.windowBefore} earlier line(s) of the old process left out` : ''}`
        : `${new Date(watch.since * 1000).toISOString()} (${watch.sinceSource} clock, taken before the restart${watch.window === 'since' ? ': the unit reported no main-process start' : ''})`,
    ]);
  } else if (v.dryRun) {
    rows.push(['Watch', `${v.canaryMinutes} min, every ${v.pollSeconds}s`]);
  }
  if (v.metric) {
    const sum = e?.metric?.sum;
    rows.push([
      `${v.metric.namespace} ${v.metric.name} (${v.metric.dimension}=${id})`,
      v.dryRun
        ? 'would be read'
        : sum === null || sum === undefined
          ? 'no data yet: not judged'
          : `sum ${sum}`,
    ]);
  }
  out.push(table(['Field', 'Value'], rows));

  if (!v.dryRun && e && (e.health || e.errors)) {
    out.push(heading(3, 'Evidence'));
    const example = (kind: 'health' | 'error', pattern: string) =>
      e.excerpts?.find((x) => x.kind === kind && x.pattern === pattern)?.line;
    const evidenceRows: unknown[][] = [
      ...(e.health ?? []).map((h) => [
        'health (must appear)',
        h.pattern,
        countText(h.count),
        example('health', h.pattern),
      ]),
      ...(e.errors ?? []).map((x) => [
        'error (must not appear)',
        x.pattern,
        countText(x.count),
        example('error', x.pattern),
      ]),
    ];
    if (evidenceRows.length > 0) out.push(table(['Kind', 'Pattern', 'Count', 'Example line'], evidenceRows));
    if (v.patterns.health.length === 0)
      out.push('_No health patterns: judged on the service state and error patterns alone._');
    if ((e.excerpts?.length ?? 0) > 0) {
      out.push(
        details(
          'Matching lines from the canary',
          pre((e.excerpts ?? []).map((x) => `[${x.kind}: ${x.pattern}] ${x.line}`)),
        ),
      );
    }
  }
  if (install?.journal && install.journal.length > 0) {
    out.push(details(`Last journal lines of ${v.serviceName} after the install`, pre(install.journal)));
  }
  if (e?.tail && e.tail.length > 0) {
    out.push(details(`Last journal lines of ${v.serviceName} at the last check`, pre(e.tail)));
  }
  if (e?.error) out.push(`Error: ${cell(e.error, 600)}`);

  out.push(heading(3, 'Next step'));
  if (v.dryRun) {
    out.push('Run again without dry-run to deploy the canary.');
    if (v.script) out.push(details(`The install script that would be sent to ${id}`, pre([v.script])));
  } else if (v.verdict === 'go') {
    out.push(
      'Approve the deployment gate (the GitHub environment with required reviewers) to roll the fix out to the rest of the fleet, or reject it to stop here and roll back.',
    );
  } else {
    out.push(
      `The rollback job restores ${cell(id)} from ${cell(v.backupPath)} and restarts ${cell(v.serviceName)}. No other instance was touched.`,
    );
  }
  if (v.warnings.length > 0) {
    out.push(heading(3, 'Warnings'));
    out.push(v.warnings.map((w) => `- ${cell(w, 500)}`).join('\n'));
  }
  return out.join('\n\n');
}
