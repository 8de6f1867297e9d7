// Rollout's last step: the queue's visibility timeout raised for the fixed worker, intent first.
import { warn } from '../../context.js';
import { getQueueState } from '../../aws/sqs.js';
import { readVisibilityIntent, setVisibilityTimeoutConfirmed, writeVisibilityIntent } from '../queues.js';
import type { RolloutRun } from './strategy.js';
import { visibilityTimeoutChange } from '../../record.js';

/**
 * Raises the queue's visibility timeout to `target`, read back. The value before the deployment is
 * kept (record and queue tag) before anything changes, so rollback can put it back.
 */
export async function applyVisibilityTimeout(
  run: RolloutRun,
  opts: { url: string; target: number },
): Promise<string | undefined> {
  const { ctx, record, publisher } = run;
  const { url, target } = opts;
  const { api, clients, report, runtime } = ctx;
  const current = (await getQueueState(api, clients, url)).visibilityTimeout;
  // On a rerun the value before the deployment is the one recorded first, not today's: from the
  // record, else from the intent this deployment left on the queue (a rerun is handed the canary's
  // record, which knows nothing of an earlier run's change).
  const tagged = await readVisibilityIntent(ctx, url, record.deploymentId);
  const original = record.settings.visibilityTimeout?.before ?? tagged?.before ?? current;
  const preflight = record.queue?.visibilityTimeout;
  if (preflight !== undefined && preflight !== original) {
    warn(
      ctx,
      record,
      `the queue's visibility timeout was ${original}s before this rollout changed it, not the ${preflight}s preflight read: changed by someone since preflight`,
    );
  }
  const queue: { before: number; target: number; after?: number; planned: boolean } = {
    before: original,
    target,
    planned: ctx.inputs.dryRun,
  };
  run.facts.queue = queue;
  if (ctx.inputs.dryRun) {
    report.info(`would set the queue's visibility timeout ${current}s → ${target}s`);
    return undefined;
  }
  if (original === target && current === target) {
    // Nothing changes: the queue already had the value before this deployment.
    queue.after = current;
    record.settings.visibilityTimeout = visibilityTimeoutChange({
      before: original,
      after: current,
      at: runtime.clock.now().toISOString(),
      state: 'done',
    });
    report.info(`queue visibility timeout is already ${target}s`);
    return undefined;
  }
  // Intent first, in the record and on the queue: a job killed at any moment after this leaves
  // rollback the baseline and the knowledge that the setting may have changed.
  const intent = { deploymentId: record.deploymentId, before: original, after: target };
  record.settings.visibilityTimeout = visibilityTimeoutChange({
    ...intent,
    at: runtime.clock.now().toISOString(),
    state: 'intended',
  });
  publisher.write(true);
  await writeVisibilityIntent(ctx, url, { ...intent, state: 'intended' });
  const after = await setVisibilityTimeoutConfirmed(ctx, url, target, current);
  queue.after = after;
  record.settings.visibilityTimeout = visibilityTimeoutChange({
    before: original,
    after,
    at: runtime.clock.now().toISOString(),
    state: 'done',
  });
  publisher.write(true);
  if (after !== target) {
    return `Rollout failed: the queue's visibility timeout reads ${after}s after setting ${target}s (was ${original}s)`;
  }
  await writeVisibilityIntent(ctx, url, { ...intent, state: 'done' });
  report.info(`queue visibility timeout ${current}s → ${after}s (read back)`);
  return undefined;
}
