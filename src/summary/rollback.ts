// The rollback section of the job summary: Rollback Required: YES, why, what happened on each
// instance, and which settings were put back. Every value from a record, an instance or AWS is
// escaped (table cells escape themselves).
import { viewInstance, type CanaryEvidenceRecord, type InstanceEntry } from '../record.js';
import type { SettingResult, Source } from '../logic/rollback-plan.js';
import { cappedTable, cell, details, escapeHtml, heading, table } from './markdown.js';

export type InstanceResultKind = 'restored' | 'already' | 'failed' | 'gone' | 'not touched' | 'would restore';

export interface InstanceResult {
  id: string;
  source: Source;
  state: string;
  entry?: InstanceEntry;
  result: InstanceResultKind;
  detail?: string;
}

/** The rollback section's data: what was restored where, and why the rollback ran. */
export interface RollbackReport {
  deploymentId: string;
  dryRun: boolean;
  verdict: 'pass' | 'fail';
  reasons: string[];
  canaryEvidence?: CanaryEvidenceRecord;
  backupPath: string;
  target: { serviceName: string; workerDir: string; targetFile: string };
  fromRecord: boolean;
  instances: InstanceResult[];
  settings: SettingResult[];
  notes: string[];
  problems: string[];
  warnings: string[];
}

// Failures first: in a capped table of 5,000 rows they are the rows an SRE needs to see.
const ORDER: Record<InstanceResultKind, number> = {
  failed: 0,
  'would restore': 1,
  restored: 2,
  already: 3,
  gone: 4,
  'not touched': 5,
};

export function countResults(instances: InstanceResult[]): Record<InstanceResultKind, number> {
  const counts: Record<InstanceResultKind, number> = {
    restored: 0,
    already: 0,
    failed: 0,
    gone: 0,
    'not touched': 0,
    'would restore': 0,
  };
  for (const i of instances) counts[i.result]++;
  return counts;
}

const EVIDENCE_MAX = 4000;

export function renderRollbackSummary(v: RollbackReport): string {
  const out: string[] = [];
  const title = v.dryRun
    ? `Rollback plan (dry run): deployment ${v.deploymentId}`
    : `Rollback ${v.verdict === 'pass' ? 'completed' : 'FAILED'}: deployment ${v.deploymentId}`;
  out.push(heading(2, title));
  out.push('**Rollback Required: YES**');
  if (v.dryRun) out.push('_Dry run: nothing was restored or changed; this is what a rollback would do._');
  if (v.problems.length > 0) out.push(v.problems.map((p) => `- ❌ ${escapeHtml(p)}`).join('\n'));

  out.push(heading(3, 'Reason'));
  out.push(v.reasons.map((r) => `- ${cell(r, 1000)}`).join('\n'));
  if (v.canaryEvidence !== undefined) {
    let text = JSON.stringify(v.canaryEvidence, null, 2) ?? '';
    if (text.length > EVIDENCE_MAX) text = `${text.slice(0, EVIDENCE_MAX)}\n…`;
    out.push(details('Canary NO-GO evidence', `<pre>${escapeHtml(text)}</pre>`));
  }

  const c = countResults(v.instances);
  const counts = v.dryRun
    ? `${c['would restore']} would be restored, ${c.failed} cannot be, ${c.gone} gone`
    : `${c.restored} restored, ${c.already} already at the backup, ${c.failed} failed, ${c.gone} gone`;
  out.push(heading(3, `Instances: ${counts}`));
  out.push(
    `Restored from exactly ${cell(v.backupPath)} (no glob), into ${cell(`${v.target.workerDir}/${v.target.targetFile}`)}, then ${cell(v.target.serviceName)} restarted. ` +
      `What was touched came from ${v.fromRecord ? 'the record and the instances’ deployment tags' : 'the instances’ deployment tags (no record was given)'}.`,
  );
  if (v.instances.length === 0) {
    out.push('_No instance was touched by this deployment._');
  } else {
    const rows = [...v.instances]
      .sort((a, b) => ORDER[a.result] - ORDER[b.result] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((i) => [i, i.entry && viewInstance(i.entry)] as const)
      .map(([i, e]) => [
        i.id,
        e ? e.phase : 'unknown',
        e && e.batch >= 0 ? e.batch : undefined,
        e?.status,
        i.source,
        i.state,
        i.result,
        i.detail,
      ]);
    // Folded under its count: the verdict and the counts stay at the top of the section.
    out.push(
      details(
        `${rows.length} instance(s), failures first`,
        cappedTable(
          ['Instance', 'Phase', 'Batch', 'Install', 'Found by', 'State', 'Rollback', 'Detail'],
          rows,
        ),
      ),
    );
  }

  out.push(heading(3, v.dryRun ? 'Settings that would be restored' : 'Settings restored'));
  out.push(
    table(
      [
        'Setting',
        'Before the deployment',
        'Set by the deployment',
        v.dryRun ? 'Now' : 'After rollback',
        'Result',
        'Detail',
      ],
      v.settings.map((s) => [s.setting, s.baseline, s.deployed, s.now, s.action, s.detail]),
    ),
  );

  const notes = [...v.notes, ...v.warnings];
  if (notes.length > 0) {
    out.push(heading(3, 'Notes'));
    out.push(notes.map((n) => `- ${cell(n, 500)}`).join('\n'));
  }
  out.push('Backups are kept on every instance; no instance was stopped or terminated by this rollback.');
  return out.join('\n\n');
}
