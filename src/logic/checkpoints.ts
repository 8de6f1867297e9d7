// Which later checkpoint (1 h, 24 h after the deployment) is due, decided from the records the
// scheduled checkpoint workflow found: pure, so the schedule can run it every few minutes and act
// only when a checkpoint is due and not yet judged.
import type { CheckpointName, DeploymentRecord } from '../record.js';
import { isDryRun, outcome, parseTime, phases } from './record-facts.js';

export type LaterCheckpoint = '1h' | '24h';

const HOUR_MS = 60 * 60 * 1000;
export const CHECKPOINT_OFFSET_MS: Record<LaterCheckpoint, number> = { '1h': HOUR_MS, '24h': 24 * HOUR_MS };
// GitHub's schedule is best effort (runs start late, or are skipped when the platform is busy):
// a checkpoint stays due this long after its time. Later, its figures would no longer describe
// "1 hour after" or "24 hours after", so it is reported as missed instead.
export const CHECKPOINT_GRACE_MS: Record<LaterCheckpoint, number> = {
  '1h': 23 * HOUR_MS,
  '24h': 24 * HOUR_MS,
};

export interface CheckpointPlan {
  due?: LaterCheckpoint;
  record?: DeploymentRecord;
  /** When the deployment finished: the reference the checkpoints count from. */
  deployedAt?: Date;
  missed: LaterCheckpoint[];
  reason: string;
}

function columns(record: DeploymentRecord): number {
  return (['before', '10m', '1h', '24h'] as CheckpointName[]).filter((c) => record.metrics?.[c]).length;
}

/** The most advanced record of each deployment: most checkpoint columns, then the latest update. */
export function latestPerDeployment(records: DeploymentRecord[]): DeploymentRecord[] {
  const best = new Map<string, DeploymentRecord>();
  for (const r of records) {
    const current = best.get(r.deploymentId);
    // A rollback supersedes everything before it, even a record with more checkpoint columns: a
    // tags-only rollback (rollback.yml without a record) carries none, and the deployment is over.
    const rolledBack = (x: DeploymentRecord) => phases(x).some((p) => p.mode === 'rollback');
    if (current && rolledBack(current) !== rolledBack(r)) {
      if (rolledBack(r)) best.set(r.deploymentId, r);
      continue;
    }
    const newer =
      !current ||
      columns(r) > columns(current) ||
      (columns(r) === columns(current) &&
        (parseTime(r.updatedAt)?.getTime() ?? 0) > (parseTime(current.updatedAt)?.getTime() ?? 0));
    if (newer) best.set(r.deploymentId, r);
  }
  return [...best.values()];
}

/** When the fleet finished running the fix: the rollout's end, else the 10-minute verify's start. */
export function deployedAt(record: DeploymentRecord): Date | undefined {
  const all = phases(record);
  const rollout = [...all].reverse().find((p) => p.mode === 'rollout' && p.endedAt);
  const verify = all.find((p) => p.mode === 'verify');
  return parseTime(rollout?.endedAt) ?? parseTime(verify?.startedAt);
}

/** Whether the deployment installed on (or tried to install on) any instance. */
export function touchedFleet(record: DeploymentRecord): boolean {
  const touched =
    record.instances && typeof record.instances === 'object' && Object.keys(record.instances).length > 0;
  return touched || phases(record).some((p) => p.mode === 'rollout');
}

const fmt = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * Looks at the newest real (not dry-run) deployment only: an older one has been superseded by it,
 * or rolled back onto. A checkpoint is due once its time has come, until its grace period ends.
 */
export function planCheckpoint(records: DeploymentRecord[], now: Date): CheckpointPlan {
  // A dry run, or a run that stopped before touching any instance (a failed preflight), changed
  // nothing: the fleet still runs what the deployment before it installed.
  const real = latestPerDeployment(records.filter((r) => !isDryRun(r) && touchedFleet(r)));
  if (real.length === 0) {
    return {
      missed: [],
      reason: 'no deployment record found (dry runs and runs that touched no instance are ignored)',
    };
  }
  real.sort((a, b) => (parseTime(b.createdAt)?.getTime() ?? 0) - (parseTime(a.createdAt)?.getTime() ?? 0));
  const record = real[0];
  const id = record.deploymentId;
  const state = outcome(record);
  if (state !== 'completed') {
    return {
      record,
      missed: [],
      reason: `deployment ${id} is ${state}: later checkpoints apply only to a verified deployment`,
    };
  }
  const at = deployedAt(record);
  if (!at) return { record, missed: [], reason: `deployment ${id} has no rollout end time to count from` };
  const elapsed = now.getTime() - at.getTime();
  const missed: LaterCheckpoint[] = [];
  for (const checkpoint of ['1h', '24h'] as const) {
    if (record.metrics?.[checkpoint]) continue;
    const from = CHECKPOINT_OFFSET_MS[checkpoint];
    if (elapsed < from) {
      return {
        record,
        deployedAt: at,
        missed,
        reason: `deployment ${id}: the ${checkpoint} checkpoint is due at ${fmt(new Date(at.getTime() + from))}`,
      };
    }
    if (elapsed <= from + CHECKPOINT_GRACE_MS[checkpoint]) {
      return {
        due: checkpoint,
        record,
        deployedAt: at,
        missed,
        reason: `deployment ${id}: the ${checkpoint} checkpoint is due`,
      };
    }
    missed.push(checkpoint);
  }
  const done = (['1h', '24h'] as const).filter((c) => record.metrics?.[c]);
  const parts = [
    done.length > 0 ? `judged: ${done.join(', ')}` : '',
    missed.length > 0 ? `missed: ${missed.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  return {
    record,
    deployedAt: at,
    missed,
    reason: `deployment ${id}: no checkpoint left to judge (${parts})`,
  };
}
