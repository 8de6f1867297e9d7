// Runbook phase 1: who am I, how deep are the queues, does the bucket notify twice, which workers
// are there, and can SSM reach every one of them. Nothing is changed.
import { Output } from '../constants.js';
import { warn, type ModeContext, type ModeOutcome } from '../context.js';
import { describeRunningInstances } from '../aws/ec2.js';
import { getBucketNotifications } from '../aws/s3.js';
import { getMetricSeries } from '../aws/cloudwatch.js';
import { getAgentStatus } from '../aws/ssm.js';
import { getIdentity } from '../aws/sts.js';
import { stableOrder } from '../logic/fleet.js';
import { describeRule, listRuleNamesByTarget } from '../aws/eventbridge.js';
import { listTopicSubscriptions } from '../aws/sns.js';
import {
  describePath,
  findDuplicates,
  findPathDuplicates,
  otherSourcesInPolicy,
  s3EventsOfRule,
  type DeliveryPath,
  type NotificationConfig,
} from '../logic/notifications.js';
import { sessionWarnings } from '../logic/session.js';
import { ratePerHour } from '../logic/trend.js';
import { startRecord, type DeploymentRecord, type MetricsSnapshot } from '../record.js';
import { notificationsSection, renderNotificationBefore } from '../summary/notifications.js';
import { renderPreflightSummary, type PreflightReport } from '../summary/preflight.js';
import { errorMessage } from '../errors.js';
import { Phase } from './phase.js';
import { resolveQueues, queueInfo, type ResolvedQueues } from './queues.js';

/** What the checks found: the summary's data, and the queues and offline ids the mode uses. */
export interface PreflightFindings extends Omit<PreflightReport, 'record' | 'bucket'> {
  queues?: ResolvedQueues;
  offline: string[];
}

export async function preflight(ctx: ModeContext): Promise<ModeOutcome> {
  const { inputs, report, api, clients } = ctx;
  const record = startRecord(ctx);
  const phase = Phase.start(ctx, record, 'preflight', { dryRun: inputs.dryRun });
  const findings: PreflightFindings = { fleet: [], offline: [], problems: [] };

  const identity = await phase.step('Identity', () => getIdentity(api, clients));
  record.identity = identity;
  report.info(
    `Deployment ${record.deploymentId} in ${inputs.region} as ${identity.arn} (account ${identity.account})`,
  );

  // The queue is required: an unknown queue fails here, with its name.
  findings.queues = await phase.step('Queue and DLQ', () => resolveQueues(ctx));
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
  const hourBefore = await phase.step('Queue metrics, the hour before', () =>
    readHourBefore(ctx, queue.name),
  );
  Object.assign(record.metrics.before, hourBefore);
  if (dlq)
    report.info(
      `DLQ ${dlq.name}: ${dlq.visible} visible (max receive count ${queue.redrive?.maxReceiveCount ?? 'n/a'})`,
    );
  if (dlqProblem) warn(ctx, record, dlqProblem);

  if (inputs.bucket) {
    const bucket = inputs.bucket;
    const { n, paths } = await phase.step(`Bucket ${bucket} notifications`, async () => {
      const n = await getBucketNotifications(api, clients, bucket);
      return { n, paths: await deliveryPaths(ctx, record, bucket, queue.arn, n.configs, n.eventBridge) };
    });
    const sameTarget = findDuplicates(n.configs);
    const viaPaths = findPathDuplicates(paths);
    const duplicates = [...sameTarget, ...viaPaths];
    const topics = n.configs.filter((c) => c.kind === 'topic').map((c) => c.target);
    const otherSources = otherSourcesInPolicy(queue.policy, inputs.bucket, topics);
    findings.notifications = {
      configs: n.configs,
      duplicates,
      eventBridge: n.eventBridge,
      paths,
      otherSources,
    };
    for (const d of sameTarget) {
      findings.problems.push(`bucket ${inputs.bucket}: configurations ${d.ids[0]} and ${d.ids[1]} ${d.why}`);
    }
    for (const d of viaPaths) findings.problems.push(`bucket ${inputs.bucket}: ${d.why}`);
    if (paths.filter((p) => p.active).length === 0) {
      warn(
        ctx,
        record,
        `bucket ${inputs.bucket} has no notification configuration that targets ${queue.name} (directly, through SNS or through EventBridge)`,
      );
    } else {
      report.info(
        `Bucket ${inputs.bucket} reaches ${queue.name} by: ${paths
          .filter((p) => p.active)
          .map(describePath)
          .join('; ')}`,
      );
    }
    for (const o of otherSources) {
      warn(
        ctx,
        record,
        o.kind === 'bucket'
          ? `the policy of ${queue.name} also lets ${o.arn} send to it: when ${inputs.bucket} replicates to that bucket, or both receive the same files, each file's event arrives twice`
          : `the policy of ${queue.name} also lets ${o.arn} send to it: another path into the queue, not checked for duplicates`,
      );
    }
  }

  findings.fleet = stableOrder(
    await phase.step('Fleet', () => describeRunningInstances(api, clients, inputs.instanceFilters)),
  );
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
    const ids = findings.fleet.map((i) => i.id);
    findings.agents = await phase.step('SSM agents', () => getAgentStatus(api, clients, ids));
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
  phase.end({ verdict, reason });
  // The runbook's "notify the client before" message, with this run's real times and figures.
  const before = verdict === 'pass' ? renderNotificationBefore(record, ctx.runtime.clock.now()) : undefined;
  const summary = renderPreflightSummary({ ...findings, record, bucket: inputs.bucket });
  return phase.outcome({
    verdict,
    summary: before ? `${summary}\n\n${notificationsSection({ before })}` : summary,
    outputs: {
      [Output.NotificationBefore]: before,
      [Output.QueueDepth]: String(queue.visible),
      [Output.DlqDepth]: dlq ? String(dlq.visible) : '',
      [Output.InstanceCount]: String(findings.fleet.length),
      [Output.DeploymentId]: record.deploymentId,
    },
    failure: verdict === 'fail' ? `Preflight failed: ${reason}` : undefined,
  });
}

/**
 * Every way the bucket's events reach the queue: its queue configurations for this queue; its topic
 * configurations whose topic has the queue as an SQS subscriber (raw delivery or not, the event
 * arrives either way); and, with EventBridge delivery enabled on the bucket, the default bus's
 * enabled rules that target the queue and whose pattern matches this bucket's events. A path that
 * cannot be read (a topic in another account, a missing permission) is a warning, not a pass.
 */
async function deliveryPaths(
  ctx: ModeContext,
  record: DeploymentRecord,
  bucket: string,
  queueArn: string,
  configs: NotificationConfig[],
  eventBridge: boolean,
): Promise<DeliveryPath[]> {
  const { api, clients } = ctx;
  const paths: DeliveryPath[] = [];
  for (const c of configs) {
    if (c.kind === 'queue' && c.target === queueArn) {
      paths.push({
        kind: 'direct',
        id: c.id,
        via: queueArn,
        events: c.events,
        prefix: c.prefix,
        suffix: c.suffix,
        active: true,
      });
    }
  }
  const topics = [...new Set(configs.filter((c) => c.kind === 'topic').map((c) => c.target))];
  for (const topic of topics) {
    let subscribed: boolean;
    try {
      const subs = await listTopicSubscriptions(api, clients, topic);
      subscribed = subs.some((s) => s.protocol === 'sqs' && s.endpoint === queueArn);
    } catch (e) {
      warn(
        ctx,
        record,
        `could not list the subscriptions of SNS topic ${topic} (${(e as Error).message}): a second path into the queue through it is not ruled out`,
      );
      continue;
    }
    if (!subscribed) continue;
    for (const c of configs) {
      if (c.kind === 'topic' && c.target === topic) {
        paths.push({
          kind: 'sns',
          id: c.id,
          via: topic,
          events: c.events,
          prefix: c.prefix,
          suffix: c.suffix,
          active: true,
        });
      }
    }
  }
  if (eventBridge) {
    try {
      for (const name of await listRuleNamesByTarget(api, clients, queueArn)) {
        const rule = await describeRule(api, clients, name);
        const matched = s3EventsOfRule(rule.eventPattern, bucket);
        if (!matched) continue;
        paths.push({
          kind: 'eventbridge',
          id: rule.name,
          via: rule.arn,
          ...matched,
          active: rule.state.startsWith('ENABLED'),
        });
      }
    } catch (e) {
      warn(
        ctx,
        record,
        `bucket ${bucket} sends its events to EventBridge, and the rules that target the queue could not be read (${(e as Error).message}): a second path into the queue is not ruled out`,
      );
    }
  }
  return paths;
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

// The runbook's Before column: the processing rate and the oldest message's age over the hour
// before the deployment, from the queue's own AWS/SQS metrics at one-minute periods (as verify reads
// them). The broken fleet deletes nothing, so the rate is usually 0: a figure, not "not measured".
const BEFORE_WINDOW_MS = 60 * 60_000;
const BEFORE_PERIOD_SECONDS = 60;

async function readHourBefore(
  ctx: ModeContext,
  queueName: string,
): Promise<Pick<MetricsSnapshot, 'filesPerHour' | 'oldestAgeSeconds'>> {
  const end = ctx.runtime.clock.now();
  const start = new Date(end.getTime() - BEFORE_WINDOW_MS);
  const sqs = (id: string, metricName: string, stat: 'Sum' | 'Maximum') => ({
    id,
    namespace: 'AWS/SQS',
    metricName,
    dimensions: { QueueName: queueName },
    stat,
    periodSeconds: BEFORE_PERIOD_SECONDS,
  });
  try {
    const series = await getMetricSeries(
      ctx.api,
      ctx.clients,
      [
        sqs('deleted', 'NumberOfMessagesDeleted', 'Sum'),
        sqs('oldest', 'ApproximateAgeOfOldestMessage', 'Maximum'),
      ],
      start,
      end,
    );
    const deleted = series.get('deleted')?.points ?? [];
    const oldest = series.get('oldest')?.points.at(-1)?.value;
    const rate = ratePerHour(deleted, BEFORE_PERIOD_SECONDS);
    ctx.report.info(
      `The hour before: ${rate === undefined ? 'no AWS/SQS deletion data' : `${Math.round(rate * 10) / 10} message(s) deleted per hour`}${oldest === undefined ? '' : `, oldest message ${oldest}s`}`,
    );
    return {
      ...(rate === undefined ? {} : { filesPerHour: Math.round(rate * 10) / 10 }),
      ...(oldest === undefined ? {} : { oldestAgeSeconds: oldest }),
    };
  } catch (e) {
    // Not a reason to stop: the Before column then says "not measured", and verify reads the same
    // metrics (and warns) for every later column.
    ctx.report.info(
      `The hour before: CloudWatch could not be read (${errorMessage(e)}); the Before rate is not measured`,
    );
    return {};
  }
}
