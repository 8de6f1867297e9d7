// Rollout planning and accounting: pure functions, no I/O. The rollout mode asks these how big a
// batch is, which instances go in which batch, how much of the error budget is left, and how long
// the rest will take.
import type { BatchSize } from '../inputs.js';
import { installStatus, instancePhase, type InstanceEntry } from '../record.js';
import { formatSecondsShort } from '../summary/time.js';

/**
 * Instances per batch. A percent is of the whole fleet (canary included), rounded up, so `25%` of
 * 5 instances is 2 and never 0; a count is taken as given. Always at least 1.
 */
export function batchSizeFor(size: BatchSize, fleetSize: number): number {
  if (size.kind === 'count') return Math.max(1, Math.floor(size.value));
  // Integer ceiling: (n·p + 99) / 100 avoids floating-point surprises such as 0.29·100.
  return Math.max(1, Math.floor((Math.max(0, fleetSize) * size.value + 99) / 100));
}

/** Splits the instances into consecutive batches of `size`, keeping their order. */
export function planBatches<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1)
    throw new Error(`batch size must be a whole number of at least 1, got ${size}`);
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  return batches;
}

/** Failures still tolerated before the rollout must halt (never negative). */
export function remainingErrorBudget(maxErrors: number, failedSoFar: number): number {
  return Math.max(0, maxErrors - failedSoFar);
}

/** `max-errors` failures are tolerated; one more breaks the budget and halts the rollout. */
export function overErrorBudget(maxErrors: number, failedSoFar: number): boolean {
  return failedSoFar > maxErrors;
}

/**
 * SSM's own MaxErrors for a batch's commands: the remaining budget, so SSM stops sending to more
 * targets once the batch alone would break it. SSM counts MaxErrors per command, so this is a
 * ceiling per 50-instance chunk; the action still counts every failure against the whole budget.
 */
export function ssmMaxErrors(maxErrors: number, failedSoFar: number): string {
  return String(remainingErrorBudget(maxErrors, failedSoFar));
}

/** SSM MaxConcurrency for a batch: the whole batch at once (that is what a batch is). */
export function ssmMaxConcurrency(batchLength: number): string {
  return String(Math.max(1, batchLength));
}

export interface ProgressState {
  /** Batches finished in this run (install, bake and health check). */
  batchesDone: number;
  batchesTotal: number;
  /** Milliseconds since the first batch of this run started, pauses included. */
  elapsedMs: number;
  pauseSeconds: number;
}

/**
 * Seconds until the last batch is done: the mean working time of the finished batches for each
 * remaining batch, plus the bake pauses still ahead (one after every batch but the last).
 * Undefined before any batch has finished: there is nothing to extrapolate from.
 */
export function estimateSecondsLeft(p: ProgressState): number | undefined {
  if (p.batchesDone <= 0) return undefined;
  const remaining = Math.max(0, p.batchesTotal - p.batchesDone);
  if (remaining === 0) return 0;
  const pausesTaken = Math.min(p.batchesDone, p.batchesTotal - 1);
  const workMs = Math.max(0, p.elapsedMs - pausesTaken * p.pauseSeconds * 1000);
  const perBatchMs = workMs / p.batchesDone;
  const pausesLeft = Math.max(0, p.batchesTotal - 1 - pausesTaken);
  return Math.round((perBatchMs * remaining) / 1000 + pausesLeft * p.pauseSeconds);
}

export interface ProgressLine {
  batch: number;
  batches: number;
  done: number;
  total: number;
  failed: number;
  secondsLeft?: number;
}

/** "batch 3 of 10: 6/20 instances done, 1 failed, about 4m 10s left" */
export function progressLine(p: ProgressLine): string {
  const left =
    p.secondsLeft === undefined
      ? 'time left not yet known'
      : `about ${formatSecondsShort(p.secondsLeft)} left`;
  return `batch ${p.batch} of ${p.batches}: ${p.done}/${p.total} instances done, ${p.failed} failed, ${left}`;
}

export interface RolloutSelection {
  /** Instances this run deploys, in stable order. */
  toDeploy: string[];
  /** The canary (and any instance the canary phase installed): never deployed twice. */
  canary: string[];
  /** Installed by an earlier run of this rollout: a rerun continues, it does not repeat. */
  alreadyInstalled: string[];
}

/**
 * Which of the current fleet this run deploys. `fleet` is in stable order; `entries` is the
 * record's per-instance map.
 */
export function selectForRollout(
  fleet: readonly string[],
  entries: Readonly<Record<string, Pick<InstanceEntry, 'p' | 's'>>>,
  canaryId: string | undefined,
): RolloutSelection {
  const selection: RolloutSelection = { toDeploy: [], canary: [], alreadyInstalled: [] };
  for (const id of fleet) {
    const entry = entries[id];
    const installed = entry !== undefined && installStatus(entry) === 'installed';
    const phase = entry && instancePhase(entry);
    if (id === canaryId || (installed && phase === 'canary')) selection.canary.push(id);
    else if (installed && phase === 'rollout') selection.alreadyInstalled.push(id);
    else selection.toDeploy.push(id);
  }
  return selection;
}
