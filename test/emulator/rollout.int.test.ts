// Preflight → canary → rollout (strategy ssm), bundled, against moto_server seeded with the
// runbook's world. moto runs no scripts (every command succeeds with empty output), so this checks
// the orchestration: every instance covered exactly once, tags, the record, the queue afterwards.
// moto has no instance refresh: strategy asg is covered with mocks (rollout-asg.unit.test.ts).
import { DescribeTagsCommand } from '@aws-sdk/client-ec2';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { TAG_BACKUP_PATH, TAG_DEPLOYMENT_ID } from '../../src/constants.js';
import type { DeploymentRecord } from '../../src/record.js';
import { motoAvailable, motoEnv, startMoto } from '../support/moto.js';
import { runDist } from '../support/run-dist.js';
import {
  seedWorld,
  seededMoto,
  EMULATOR_COMMON,
  preflightThenCanary,
  worldClients,
  listEmulatorCommands,
} from '../support/world.js';

const enabled = motoAvailable();
const describeMoto = enabled ? describe : describe.skip;
const TIMEOUT = 180_000;

describeMoto('rollout against moto_server', () => {
  const seeded = seededMoto({ fleetSize: 5, visibilityTimeout: 300 }, TIMEOUT);

  it(
    'preflight, canary, rollout: every instance covered exactly once, then the visibility timeout is 900',
    async () => {
      const { moto, world, env } = seeded;
      const common = EMULATOR_COMMON;
      const { pre, canary } = await preflightThenCanary(env);
      expect(pre.code).toBe(0);
      expect(canary.outputs.verdict).toBe('go');
      const canaryId = canary.outputs['canary-instance-id'];
      expect(world.instanceIds).toContain(canaryId);

      const run = await runDist(
        {
          mode: 'rollout',
          ...common,
          record: canary.outputs.record,
          'batch-size': '2',
          'pause-seconds': '0',
        },
        env,
      );
      expect(run.stderr).not.toMatch(/TypeError|ReferenceError/);
      expect(run.code).toBe(0);
      expect(run.outputs.verdict).toBe('pass');
      expect(run.outputs['instance-count']).toBe('5');

      const record = JSON.parse(run.outputs.record) as DeploymentRecord;
      const rest = world.instanceIds.filter((id) => id !== canaryId);
      expect(record.instances[canaryId]).toMatchObject({ p: 'c', s: 'installed' });
      for (const id of rest) expect(record.instances[id]).toMatchObject({ p: 'r', s: 'installed' });
      // Batches of 2: 4 instances in 2 batches.
      expect(rest.map((id) => record.instances[id].b).sort()).toEqual([1, 1, 2, 2]);
      // Stopped and unrelated instances were never touched.
      for (const id of [...world.stoppedIds, ...world.otherIds]) expect(record.instances[id]).toBeUndefined();

      // Exactly two install commands reached SSM (moto lists every instance of the region as a
      // command's target, so the ids sent are read from the record): each carried one batch, each
      // instance is in exactly one, and the canary in none.
      const installs = (await listEmulatorCommands(moto.endpoint)).filter((c) =>
        /rollout batch/.test(c.Comment ?? ''),
      );
      expect(installs).toHaveLength(2);
      const installIds = installs.map((c) => c.CommandId);
      const byCommand = new Map<string, string[]>();
      for (const id of rest) {
        const commandId = record.commands[record.instances[id].c];
        expect(installIds).toContain(commandId);
        byCommand.set(commandId, [...(byCommand.get(commandId) ?? []), id]);
      }
      expect([...byCommand.values()].map((ids) => ids.length)).toEqual([2, 2]);
      expect(installIds).not.toContain(record.commands[record.instances[canaryId].c]);
      // 2 installs + 2 health checks: one SendCommand per batch and step, none per instance.
      expect(run.summary).toMatch(/ssm:SendCommand ×4\b/);

      // Tagged for rollback, with this deployment's backup path.
      const tags = await worldClients(moto.endpoint).ec2.send(
        new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: [TAG_DEPLOYMENT_ID, TAG_BACKUP_PATH] }] }),
      );
      for (const id of rest) {
        const mine = (tags.Tags ?? []).filter((t) => t.ResourceId === id);
        expect(mine.find((t) => t.Key === TAG_DEPLOYMENT_ID)?.Value).toBe(record.deploymentId);
        expect(mine.find((t) => t.Key === TAG_BACKUP_PATH)?.Value).toBe(record.target.backupPath);
      }

      const attrs = await worldClients(moto.endpoint).sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: world.queueUrl, AttributeNames: ['VisibilityTimeout'] }),
      );
      expect(attrs.Attributes?.VisibilityTimeout).toBe('900');
      expect(record.settings.visibilityTimeout).toMatchObject({ before: 300, after: 900 });
      expect(run.stdout).toMatch(/batch 2 of 2: 4\/4 instances done, 0 failed/);
      expect(run.summary).toContain('Rollout passed');
      for (const id of rest) expect(run.summary).toContain(id);

      // A rerun with the rollout's record continues: nothing left to send, the queue already set.
      const again = await runDist(
        { mode: 'rollout', ...common, record: run.outputs.record, 'pause-seconds': '0' },
        env,
      );
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('Nothing to deploy');
      expect(
        (await listEmulatorCommands(moto.endpoint)).filter((c) => /rollout batch/.test(c.Comment ?? '')),
      ).toHaveLength(2);
      expect((JSON.parse(again.outputs.record) as DeploymentRecord).settings.visibilityTimeout).toMatchObject(
        { before: 300, after: 900 },
      );
    },
    TIMEOUT,
  );

  it(
    'dry-run plans the batches and changes nothing',
    async () => {
      const fresh = await seedWorldAgain();
      try {
        await dryRunChangesNothing(fresh);
      } finally {
        await fresh.moto.stop();
      }
    },
    TIMEOUT,
  );
});

async function dryRunChangesNothing(fresh: Awaited<ReturnType<typeof seedWorldAgain>>): Promise<void> {
  const common = EMULATOR_COMMON;
  const { canary } = await preflightThenCanary(fresh.env);
  const before = (await listEmulatorCommands(fresh.moto.endpoint)).length;
  const run = await runDist(
    { mode: 'rollout', ...common, record: canary.outputs.record, 'batch-size': '50%', 'dry-run': 'true' },
    fresh.env,
  );
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/Plan: 2 instance\(s\) in 1 batch\(es\) of up to 2/);
  expect(run.stdout).toContain("would set the queue's visibility timeout 300s → 900s");
  expect((await listEmulatorCommands(fresh.moto.endpoint)).length).toBe(before);
  const attrs = await worldClients(fresh.moto.endpoint).sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: fresh.world.queueUrl, AttributeNames: ['VisibilityTimeout'] }),
  );
  expect(attrs.Attributes?.VisibilityTimeout).toBe('300');
}

async function seedWorldAgain() {
  const moto = await startMoto();
  const world = await seedWorld(moto.endpoint, { fleetSize: 3, visibilityTimeout: 300 });
  return { moto, world, env: motoEnv(moto.endpoint) };
}
