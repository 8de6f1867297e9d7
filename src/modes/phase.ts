// The rooms every phase shares: its entry in the record's phase list (marked when it starts and
// when it ends, with the reason cut to one policy), the record published as it goes, each runbook
// step a log group (so the run log lists the runbook's steps), and the outcome handed to main.ts.
import type { Mode, Verdict } from '../constants.js';
import { publishRecord, type ModeContext, type ModeOutcome } from '../context.js';
import { markPhase, type DeploymentRecord } from '../record.js';

/**
 * How long a phase's reason may be in the record: the record travels as a 1 MB step output, and
 * the full reason is in the step's failure message and the summary anyway. Rollout's record is
 * the largest (every instance's entry), so its reason is kept shorter.
 */
export const PHASE_REASON_MAX_CHARS = 1000;
const PHASE_REASON_MAX_BY_MODE: Partial<Record<Mode, number>> = { rollout: 500 };

/** The reason as the record keeps it. */
export function recordedReason(mode: Mode, reason: string): string {
  return reason.slice(0, PHASE_REASON_MAX_BY_MODE[mode] ?? PHASE_REASON_MAX_CHARS);
}

export interface PhaseStart {
  /** As the phase entry keeps it: canary leaves it out unless true (records written so far do). */
  dryRun?: boolean;
  /** How the phase writes its record (rollout's paces the writes of a large record). */
  publish?: (force: boolean) => void;
}

export interface PhaseEnd {
  verdict: Verdict;
  reason: string;
  /** When the phase's own observation window closed (verify); now otherwise. */
  endedAt?: string;
  /** false: main.ts writes the record once the outcome is back (canary's dry run). */
  publish?: boolean;
}

export type PhaseResult = Omit<ModeOutcome, 'record'>;

export class Phase {
  readonly startedAt: string;
  private inStep = false;
  private readonly writeRecord: (force: boolean) => void;

  private constructor(
    readonly ctx: ModeContext,
    readonly record: DeploymentRecord,
    readonly mode: Mode,
    private readonly dryRun: boolean | undefined,
    publish: ((force: boolean) => void) | undefined,
  ) {
    this.startedAt = ctx.runtime.clock.now().toISOString();
    this.writeRecord = publish ?? (() => publishRecord(ctx, record));
  }

  /** Marks the phase started in the record (written with the record's next publish). */
  static start(ctx: ModeContext, record: DeploymentRecord, mode: Mode, opts: PhaseStart = {}): Phase {
    const phase = new Phase(ctx, record, mode, opts.dryRun, opts.publish);
    markPhase(record, { mode, startedAt: phase.startedAt, dryRun: opts.dryRun });
    return phase;
  }

  /**
   * One runbook step, as a log group named after it. GitHub's log groups do not nest, so a step
   * inside a step is logged as a line of the outer one.
   */
  async step<T>(title: string, fn: () => Promise<T>): Promise<T> {
    if (this.inStep) {
      this.ctx.report.info(title);
      return fn();
    }
    this.inStep = true;
    try {
      return await this.ctx.report.group(title, fn);
    } finally {
      this.inStep = false;
    }
  }

  /** Writes the record output now (forced past any pacing). */
  publish(): void {
    this.writeRecord(true);
  }

  /** Marks the phase ended with its verdict and the reason as the record keeps it, then publishes. */
  end(end: PhaseEnd): void {
    markPhase(this.record, {
      mode: this.mode,
      startedAt: this.startedAt,
      endedAt: end.endedAt ?? this.ctx.runtime.clock.now().toISOString(),
      verdict: end.verdict,
      reason: recordedReason(this.mode, end.reason),
      dryRun: this.dryRun,
    });
    if (end.publish !== false) this.publish();
  }

  /** What main.ts gets back: outputs, summary and failure with this phase's record. */
  outcome(result: PhaseResult): ModeOutcome {
    return { ...result, record: this.record };
  }
}
