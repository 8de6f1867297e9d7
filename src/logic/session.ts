// Will the AWS session last as long as the canary and the rollout planned from these inputs?
// A role's session is 1 hour unless the role's MaxSessionDuration is raised, and credentials that
// expire mid-rollout stop it between batches (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html,
// DurationSeconds). Preflight warns before anything is touched; it never fails on this, because the
// estimate is a lower bound and the session the later jobs get is theirs, not preflight's.
import type { BatchSize } from '../inputs.js';
import { batchSizeFor } from './batches.js';

/** Backup, download, checksum, install and restart around the canary's watch (the workflow's 30 min margin is for slow instances). */
export const CANARY_SETUP_SECONDS = 600;
/** The least one in-place batch takes: SSM delivery, install, restart and its health check. */
export const BATCH_MIN_SECONDS = 60;

export interface SessionPlan {
  canaryMinutes: number;
  strategy: 'ssm' | 'asg';
  batchSize: BatchSize;
  pauseSeconds: number;
  fleetSize: number;
}

export interface Sessions {
  /** Seconds the canary's session lasts from its start; undefined: unknown, not judged. */
  canary?: number;
  /** Seconds the rollout's session lasts from its start; undefined: unknown, not judged. */
  rollout?: number;
  /** Where the figures come from, for the message (an input's name, or "the current credentials"). */
  canarySource: string;
  rolloutSource: string;
}

/** The canary's planned length: its watch plus the set-up around it. */
export function plannedCanarySeconds(plan: SessionPlan): number {
  return plan.canaryMinutes * 60 + CANARY_SETUP_SECONDS;
}

/**
 * The in-place rollout's least length: one batch each of batch-size over the fleet without the
 * canary, each at least BATCH_MIN_SECONDS, with pause-seconds between them. Undefined for the
 * ASG strategy: an instance refresh's length is AWS's, not planned here.
 */
export function plannedRolloutSeconds(plan: SessionPlan): number | undefined {
  if (plan.strategy !== 'ssm') return undefined;
  const rest = Math.max(0, plan.fleetSize - 1);
  if (rest === 0) return 0;
  const batches = Math.ceil(rest / batchSizeFor(plan.batchSize, rest));
  return batches * BATCH_MIN_SECONDS + (batches - 1) * plan.pauseSeconds;
}

const minutes = (s: number) => `${Math.ceil(s / 60)} min`;

/** One warning per phase whose planned length outlasts its session. */
export function sessionWarnings(plan: SessionPlan, sessions: Sessions): string[] {
  const out: string[] = [];
  const canary = plannedCanarySeconds(plan);
  if (sessions.canary !== undefined && canary > sessions.canary)
    out.push(
      `the canary is planned to take about ${minutes(canary)} (canary-minutes ${plan.canaryMinutes} plus set-up) but its AWS session (${sessions.canarySource}) ends after ${minutes(sessions.canary)}: lower canary-minutes or ask for a longer session (the role's MaxSessionDuration, docs/SETUP.md "Session duration")`,
    );
  const rollout = plannedRolloutSeconds(plan);
  if (sessions.rollout !== undefined && rollout !== undefined && rollout > sessions.rollout)
    out.push(
      `the rollout of ${Math.max(0, plan.fleetSize - 1)} instance(s) is planned to take at least ${minutes(rollout)} (batch-size, pause-seconds ${plan.pauseSeconds}) but its AWS session (${sessions.rolloutSource}) ends after ${minutes(sessions.rollout)}: raise batch-size, lower pause-seconds, or ask for a longer session (docs/SETUP.md "Session duration")`,
    );
  return out;
}
