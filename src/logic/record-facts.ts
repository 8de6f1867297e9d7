// Facts the deployment log and the client notifications both state, derived once from the record:
// when it started and ended, how many instances run the fix, whether it was rolled back and why.
// The record crossed job boundaries (untrusted): every field is checked before it is used.
import {
  installStatus,
  rollbackResult,
  type CheckpointName,
  type DeploymentRecord,
  type MetricsSnapshot,
  type PhaseEntry,
} from '../record.js';

/** An ISO time from the record: a Date only when it parses to a real instant. */
export function parseTime(value: unknown): Date | undefined {
  if (typeof value !== 'string' || value.length > 40) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

/** A number from the record, or undefined when it is missing or not a finite number. */
export function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function str(value: unknown, max = 500): string | undefined {
  return typeof value === 'string' && value !== '' ? value.slice(0, max) : undefined;
}

export function phases(record: DeploymentRecord): PhaseEntry[] {
  return Array.isArray(record.phases) ? record.phases.filter((p) => p !== null && typeof p === 'object') : [];
}

export function snapshot(record: DeploymentRecord, checkpoint: CheckpointName): MetricsSnapshot | undefined {
  const s = record.metrics?.[checkpoint];
  return s !== null && typeof s === 'object' ? s : undefined;
}

/** The most recent "after" column measured (24h, then 1h, then 10m), with its name. */
export function latestAfter(
  record: DeploymentRecord,
): { checkpoint: CheckpointName; metrics: MetricsSnapshot } | undefined {
  for (const checkpoint of ['24h', '1h', '10m'] as const) {
    const metrics = snapshot(record, checkpoint);
    if (metrics) return { checkpoint, metrics };
  }
  return undefined;
}

export function isDryRun(record: DeploymentRecord): boolean {
  return phases(record).some((p) => p.dryRun === true);
}

/** Start: the record's creation (preflight). End: the last phase that ended, else the last update. */
export function timeSpan(record: DeploymentRecord): { start?: Date; end?: Date } {
  const start = parseTime(record.createdAt) ?? parseTime(phases(record)[0]?.startedAt);
  const ends = phases(record)
    .map((p) => parseTime(p.endedAt))
    .filter((d): d is Date => d !== undefined)
    .map((d) => d.getTime());
  const end = ends.length > 0 ? new Date(Math.max(...ends)) : parseTime(record.updatedAt);
  return { start, end };
}

export interface InstanceCounts {
  /** Running instances that matched the filters (fleet at discovery). */
  fleet: number;
  installed: number;
  failed: number;
  /** Sent but not confirmed, or cancelled. */
  unfinished: number;
  canaryId?: string;
}

export function instanceCounts(record: DeploymentRecord): InstanceCounts {
  const entries =
    record.instances && typeof record.instances === 'object' ? Object.values(record.instances) : [];
  const count = (pred: (s: unknown) => boolean) => entries.filter((e) => e && pred(installStatus(e))).length;
  const fleetIds = Array.isArray(record.fleet?.instanceIds) ? record.fleet.instanceIds.length : 0;
  return {
    fleet: Math.max(fleetIds, entries.length),
    installed: count((s) => s === 'installed'),
    failed: count((s) => s === 'failed'),
    unfinished: count((s) => s === 'sent' || s === 'cancelled'),
    canaryId: str(record.canary?.instanceId, 40),
  };
}

export interface RollbackFacts {
  required: boolean;
  /** The rollback phase itself, when it ran. */
  phase?: PhaseEntry;
  restored: number;
  failed: number;
  /** Why: the rollback's own reason, else the reason of the phase that failed. */
  reason?: string;
}

const FAILED = new Set(['fail', 'no-go']);

export function rollbackFacts(record: DeploymentRecord): RollbackFacts {
  const all = phases(record);
  const phase = [...all].reverse().find((p) => p.mode === 'rollback');
  const entries =
    record.instances && typeof record.instances === 'object' ? Object.values(record.instances) : [];
  const results = entries.filter((e) => e).map(rollbackResult);
  const restored = results.filter((r) => r === 'restored' || r === 'already').length;
  const failed = results.filter((r) => r === 'failed').length;
  const failedPhase = [...all]
    .reverse()
    .find((p) => p.mode !== 'rollback' && p.verdict && FAILED.has(p.verdict));
  return {
    required: phase !== undefined || restored + failed > 0,
    phase,
    restored,
    failed,
    reason: whyRolledBack(record, failedPhase) ?? str(phase?.reason),
  };
}

/**
 * Why the rollback was required: what the rollback itself recorded as its reasons, else the phase
 * that failed. Never the rollback phase's own reason, which is its tally ("3 restored, ...").
 */
function whyRolledBack(record: DeploymentRecord, failedPhase: PhaseEntry | undefined): string | undefined {
  const recorded = record.extra?.rollback?.reasons?.filter((r) => typeof r === 'string' && r !== '');
  if (recorded && recorded.length > 0) return recorded.join('; ');
  if (!failedPhase) return undefined;
  const why = str(failedPhase.reason);
  return `${failedPhase.mode} ${String(failedPhase.verdict).toUpperCase()}${why ? `: ${why}` : ''}`;
}

export type Outcome = 'completed' | 'rolled-back' | 'failed' | 'in-progress';

/**
 * Where the deployment stands: completed (verify passed, nothing rolled back), rolled back, failed
 * (a phase failed and no rollback has run yet), or still in progress.
 */
export function outcome(record: DeploymentRecord): Outcome {
  if (rollbackFacts(record).required) return 'rolled-back';
  const all = phases(record);
  if (all.some((p) => p.verdict && FAILED.has(p.verdict))) return 'failed';
  const verify = [...all].reverse().find((p) => p.mode === 'verify');
  return verify?.verdict === 'pass' ? 'completed' : 'in-progress';
}
