// What the rollout entry hands a strategy, and the one thing a strategy does: bring the fleet to
// the fix. ssm (in-place.ts) and asg (auto-scaling.ts) are the two; rollout.ts picks one.
import type { ModeContext } from '../../context.js';
import { publishRecord, warn } from '../../context.js';
import {
  fitInstanceErrors,
  RECORD_SOFT_LIMIT_BYTES,
  recordBytes,
  type DeploymentRecord,
} from '../../record.js';
import type { RolloutReport } from '../../summary/rollout.js';
import type { Phase } from '../phase.js';

/** One run of the rollout phase, owned by rollout.ts; a strategy fills in its part of the facts. */
export interface RolloutRun {
  ctx: ModeContext;
  record: DeploymentRecord;
  phase: Phase;
  publisher: Publisher;
  /** What the summary renders: the strategy records here what it found, planned and did. */
  facts: RolloutReport;
  /** The running instances the deployment's filters match now, in a stable order. */
  fleet: string[];
}

export interface RolloutStrategy {
  /** Deploys the fix; returns why the rollout failed (or was refused), undefined when it did not. */
  deploy(run: RolloutRun): Promise<string | undefined>;
}

// The record output is appended to GITHUB_OUTPUT on every write; for a fleet of thousands in small
// batches, writing it before every batch would append gigabytes. Past a few hundred instances it is
// written at most this often (and always at the end); the instance tags cover the moments between
// writes (rollback finds tagged instances even without the record).
const RECORD_WRITE_INTERVAL_MS = 30_000;
export const RECORD_ALWAYS_WRITE_INSTANCES = 200;

export class Publisher {
  private last = -Infinity;
  private trimmed = false;
  /** Set once the rollout knows how many instances its record will hold. */
  large = false;
  constructor(
    private readonly ctx: ModeContext,
    private readonly record: DeploymentRecord,
  ) {}
  /** Writes the record now; a large one only when the last write is old enough, unless forced. */
  write(force = false): void {
    const now = this.ctx.runtime.clock.now().getTime();
    if (!force && this.large && now - this.last < RECORD_WRITE_INTERVAL_MS) return;
    this.last = now;
    const fit = fitInstanceErrors(this.record, () => recordBytes(this.record), RECORD_SOFT_LIMIT_BYTES);
    if (fit !== 'fits' && !this.trimmed) {
      this.trimmed = true;
      warn(
        this.ctx,
        this.record,
        `the record neared the 1 MB output limit: per-instance error texts were ${fit} (the log has them in full)`,
      );
    }
    publishRecord(this.ctx, this.record);
  }
}

/** Instance ids for a log line, the first `max` of them. */
export function list(ids: string[], max = 20): string {
  return ids.length <= max ? ids.join(', ') : `${ids.slice(0, max).join(', ')}, … (${ids.length - max} more)`;
}
