// Runbook phase 1: who am I, how deep are the queues, does the bucket notify twice, which workers
// are there, and can SSM reach every one of them. Nothing is changed.
import { Output } from '../constants.js';
import { publishRecord, warn, type ModeContext, type ModeOutcome } from '../context.js';
import { describeRunningInstances } from '../aws/ec2.js';
import { getBucketNotifications } from '../aws/s3.js';
import { getAgentStatus } from '../aws/ssm.js';
import { getIdentity } from '../aws/sts.js';
import { stableOrder, type FleetInstance } from '../logic/fleet.js';
import { sessionWarnings } from '../logic/session.js';
import { findDuplicates, type DuplicatePair, type NotificationConfig } from '../logic/notifications.js';
import { markPhase, newDeploymentId, newRecord, type DeploymentRecord } from '../record.js';
import { notificationsSection, renderNotificationBefore } from '../summary/notifications.js';
import { renderPreflightSummary } from '../summary/preflight.js';
import { resolveQueues, queueInfo, type ResolvedQueues } from './queues.js';

export interface PreflightFindings {
  queues?: ResolvedQueues;
  notifications?: { configs: NotificationConfig[]; duplicates: DuplicatePair[]; eventBridge: boolean };
  fleet: FleetInstance[];
  agents?: Map<string, string>;
  offline: string[];
  problems: string[];
}

export function startRecord(ctx: ModeContext): DeploymentRecord {
  const { inputs, github } = ctx;
  const now = ctx.runtime.clock.now();
  return newRecord({
    deploymentId: inputs.deploymentId ?? newDeploymentId(now, github.runId, github.runAttempt),
    now,
    region: inputs.region,
    github,
    serviceName: inputs.serviceName,
    workerDir: inputs.workerDir,
    targetFile: inputs.targetFile,
  });
}

export async function preflight(ctx: ModeContext): Promise<ModeOutcome> {
  const { inputs, report, api, clients } = ctx;
  const record = startRecord(ctx);
  const startedAt = ctx.runtime.clock.now().toISOString();
  markPhase(record, { mode: 'preflight', startedAt, dryRun: inputs.dryRun });
  const findings: PreflightFindings = { fleet: [], offline: [], problems: [] };

  const identity = await getIdentity(api, clients);
  record.identity = identity;
  report.info(
    `Deployment ${record.deploymentId} in ${inputs.region} as ${identity.arn} (account ${identity.account})`,
  );

  // The queue is required: an unknown queue fails here, with its name.
  findings.queues = await resolveQueues(ctx);
  const { queue, dlq, dlqProblem } = findings.queues;
  record.queue = queueInfo(findings.queues);
  record.metrics.before = {
    at: ctx.runtime.clock.now().toISOString(),
    visible: queue.visible,
    inFlight: queue.inFlight,
    delayed: queue.delayed,
    dlqVisible: dlq?.visible,
  };
  report.info(
    `Queue ${queue.name}: ${queue.visible} visible, ${queue.inFlight} in flight, ${queue.delayed} delayed; visibility timeout ${queue.visibilityTimeout}s`,
  );
  if (dlq)
    report.info(
      `DLQ ${dlq.name}: ${dlq.visible} visible (max receive count ${queue.redrive?.maxReceiveCount ?? 'n/a'})`,
    );
  if (dlqProblem) warn(ctx, record, dlqProblem);

  if (inputs.bucket) {
    const n = await getBucketNotifications(api, clients, inputs.bucket);
    const duplicates = findDuplicates(n.configs);
    findings.notifications = { configs: n.configs, duplicates, eventBridge: n.eventBridge };
    for (const d of duplicates) {
      findings.problems.push(`bucket ${inputs.bucket}: configurations ${d.ids[0]} and ${d.ids[1]} ${d.why}`);
    }
    const toQueue = n.configs.filter((c) => c.kind === 'queue' && c.target === queue.arn);
    if (toQueue.length === 0) {
      warn(
        ctx,
        record,
        `bucket ${inputs.bucket} has no notification configuration that targets ${queue.name}`,
      );
    }
    if (n.eventBridge) {
      warn(
        ctx,
        record,
        `bucket ${inputs.bucket} also sends events to EventBridge: check that no rule forwards them to ${queue.name} as well`,
      );
    }
  }

  findings.fleet = stableOrder(await describeRunningInstances(api, clients, inputs.instanceFilters));
  record.fleet = {
    filters: inputs.instanceFilters.map((f) => `${f.Name}=${f.Values.join(',')}`),
    instanceIds: findings.fleet.map((i) => i.id),
    discoveredAt: ctx.runtime.clock.now().toISOString(),
  };
  record.metrics.before.instances = findings.fleet.length;
  report.info(`Fleet: ${findings.fleet.length} running instance(s) match ${record.fleet.filters.join('; ')}`);
  if (findings.fleet.length === 0) {
    findings.problems.push(`no running instance matches the filters ${record.fleet.filters.join('; ')}`);
  }

  warnShortSessions(ctx, record, findings.fleet.length);

  if (inputs.ssmCheck && findings.fleet.length > 0) {
    findings.agents = await getAgentStatus(
      api,
      clients,
      findings.fleet.map((i) => i.id),
    );
    findings.offline = findings.fleet.map((i) => i.id).filter((id) => findings.agents?.get(id) !== 'Online');
    if (findings.offline.length > 0) {
      const list = findings.offline
        .slice(0, 20)
        .map((id) => `${id} (${findings.agents?.get(id) ?? 'not registered'})`)
        .join(', ');
      findings.problems.push(
        `${findings.offline.length} instance(s) are not Online in SSM: ${list}${findings.offline.length > 20 ? ', …' : ''}`,
      );
    }
  } else if (!inputs.ssmCheck) {
    warn(ctx, record, 'ssm-check is off: SSM agent reachability was not verified');
  }

  const verdict = findings.problems.length === 0 ? 'pass' : 'fail';
  const reason = verdict === 'pass' ? 'all preflight checks passed' : findings.problems.join('; ');
  markPhase(record, {
    mode: 'preflight',
    startedAt,
    endedAt: ctx.runtime.clock.now().toISOString(),
    verdict,
    reason,
    dryRun: inputs.dryRun,
  });
  publishRecord(ctx, record);
  // The runbook's "notify the client before" message, with this run's real times and figures.
  const before = verdict === 'pass' ? renderNotificationBefore(record, ctx.runtime.clock.now()) : undefined;
  const summary = renderPreflightSummary(record, findings, inputs.bucket);
  return {
    verdict,
    record,
    summary: before ? `${summary}\n\n${notificationsSection({ before })}` : summary,
    outputs: {
      [Output.NotificationBefore]: before,
      [Output.QueueDepth]: String(queue.visible),
      [Output.DlqDepth]: dlq ? String(dlq.visible) : '',
      [Output.InstanceCount]: String(findings.fleet.length),
      [Output.DeploymentId]: record.deploymentId,
    },
    failure: verdict === 'fail' ? `Preflight failed: ${reason}` : undefined,
  };
}

/**
 * Warns (never fails) when the canary or the rollout planned from the inputs would outlast the
 * AWS session its job gets (canary-session-seconds, rollout-session-seconds; the workflow gives
 * those jobs' role-duration-seconds). Unset: not checked, because preflight's own session says
 * nothing about the later jobs'.
 */
function warnShortSessions(ctx: ModeContext, record: DeploymentRecord, fleetSize: number): void {
  const { inputs } = ctx;
  const warnings = sessionWarnings(
    {
      canaryMinutes: inputs.canaryMinutes,
      strategy: inputs.strategy,
      batchSize: inputs.batchSize,
      pauseSeconds: inputs.pauseSeconds,
      fleetSize,
    },
    {
      canary: inputs.canarySessionSeconds,
      rollout: inputs.rolloutSessionSeconds,
      canarySource: 'canary-session-seconds',
      rolloutSource: 'rollout-session-seconds',
    },
  );
  for (const w of warnings) warn(ctx, record, w);
}
