// Runbook phase 3: the rest of the fleet gets the fix the canary proved, then the queue's
// visibility timeout is raised. The runbook as it reads: the record checked against this job's
// target, the canary's GO required, the fleet re-discovered, the fix rolled out by the chosen
// strategy (rollout/in-place.ts for ssm, rollout/auto-scaling.ts for asg), the queue changed last.
// The record is written as it goes, so a halt, a failure or a cancellation leaves a true account
// for rollback.
import { Output } from '../constants.js';
import { warn, type ModeContext, type ModeOutcome } from '../context.js';
import { describeRunningInstances } from '../aws/ec2.js';
import { DeploymentFailure, errorMessage, InputError } from '../errors.js';
import { deploymentFilters } from './fleet-filters.js';
import { reconcile, stableOrder } from '../logic/fleet.js';
import type { DeploymentRecord } from '../record.js';
import { renderRolloutSummary, type RolloutReport } from '../summary/rollout.js';
import { Phase } from './phase.js';
import { sourceQueueUrl } from './queues.js';
import { throughAutoScaling } from './rollout/auto-scaling.js';
import { inPlace } from './rollout/in-place.js';
import { list, Publisher, type RolloutRun, type RolloutStrategy } from './rollout/strategy.js';
import { applyVisibilityTimeout } from './rollout/visibility-timeout.js';
import { requireRecord } from './record-target.js';

/** One strategy per `strategy` input, chosen here. */
const STRATEGIES: Record<RolloutReport['strategy'], RolloutStrategy> = {
  ssm: inPlace,
  asg: throughAutoScaling,
};

export async function rollout(ctx: ModeContext): Promise<ModeOutcome> {
  const { inputs } = ctx;
  const record = requireRecord(ctx.inputs, 'rollout', 'canary');
  const publisher = new Publisher(ctx, record);
  const phase = Phase.start(ctx, record, 'rollout', {
    dryRun: inputs.dryRun,
    publish: (force) => publisher.write(force),
  });
  const facts: RolloutReport = {
    record,
    strategy: inputs.strategy,
    dryRun: inputs.dryRun,
    fleetCount: 0,
    appeared: [],
    vanished: [],
    canary: [],
    alreadyInstalled: [],
    offline: [],
    batchSize: 0,
    pauseSeconds: inputs.pauseSeconds,
    maxErrors: inputs.maxErrors,
    plan: [],
    batches: [],
    verdict: 'pass',
    reason: '',
  };

  let failure: string | undefined;
  try {
    requireGoCanary(ctx, record);
    // The queue must be known before anything is deployed, not discovered missing afterwards.
    const queueUrl = inputs.visibilityTimeout !== undefined ? await sourceQueueUrl(ctx) : undefined;
    const fleet = await phase.step('Fleet', () => discoverFleet(ctx, record, facts));
    const run: RolloutRun = { ctx, record, phase, publisher, facts, fleet };
    failure = await STRATEGIES[inputs.strategy].deploy(run);

    const target = inputs.visibilityTimeout;
    if (!failure && queueUrl !== undefined && target !== undefined) {
      failure = await phase.step('Queue visibility timeout', () =>
        applyVisibilityTimeout(run, { url: queueUrl, target }),
      );
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    failure = e instanceof DeploymentFailure ? e.message : `Rollout failed: ${errorMessage(e)}`;
  }

  facts.verdict = failure ? 'fail' : 'pass';
  facts.reason =
    failure ?? (inputs.dryRun ? 'dry-run: plan only, nothing changed' : 'every instance runs the fix');
  phase.end({ verdict: facts.verdict, reason: facts.reason });
  return phase.outcome({
    verdict: facts.verdict,
    summary: renderRolloutSummary(facts),
    outputs: {
      [Output.InstanceCount]: String(facts.fleetCount),
      [Output.DeploymentId]: record.deploymentId,
    },
    failure,
  });
}

/** Only a GO canary is rolled out; a dry run says what a real one would refuse. */
function requireGoCanary(ctx: ModeContext, record: DeploymentRecord): void {
  const canary = record.canary;
  if (canary && canary.verdict === 'go') return;
  const why = canary
    ? `the canary ${canary.instanceId} was judged ${canary.verdict.toUpperCase()} (${canary.reason})`
    : 'the record has no canary result';
  if (!ctx.inputs.dryRun)
    throw new DeploymentFailure(`Rollout refused: ${why}; only a GO canary is rolled out`);
  warn(ctx, record, `dry-run: ${why}; a real rollout would refuse to start`);
}

/** Re-discovers the fleet and reconciles it with the one preflight saw. */
async function discoverFleet(
  ctx: ModeContext,
  record: DeploymentRecord,
  facts: RolloutReport,
): Promise<string[]> {
  const filters = deploymentFilters(ctx, record);
  const now = stableOrder(await describeRunningInstances(ctx.api, ctx.clients, filters)).map((i) => i.id);
  facts.fleetCount = now.length;
  const earlier = record.fleet?.instanceIds ?? [];
  const r = reconcile(earlier, now);
  facts.appeared = record.fleet ? r.appeared : [];
  facts.vanished = r.vanished;
  ctx.report.info(
    `Fleet: ${now.length} running instance(s); ${facts.appeared.length} appeared and ${r.vanished.length} vanished since preflight`,
  );
  if (facts.appeared.length > 0)
    ctx.report.info(`Appeared since preflight (included): ${list(facts.appeared)}`);
  if (r.vanished.length > 0)
    warn(
      ctx,
      record,
      `${r.vanished.length} instance(s) from preflight are no longer running: ${list(r.vanished)}`,
    );
  return now;
}
