// Rollback, bundled, against moto_server: a deployment touches part of the runbook's fleet (tags
// written before any file is replaced, the visibility timeout raised), then rollback puts it back,
// from the record and from the tags alone. moto runs no scripts and returns no command output, so
// an instance reads as restored when its command succeeded.
import { existsSync, readFileSync } from 'node:fs';
import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { GetQueueAttributesCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { ListCommandsCommand, SSMClient } from '@aws-sdk/client-ssm';
import { TAG_BACKUP_PATH, TAG_DEPLOYMENT_ID } from '../../src/constants.js';
import { backupPathFor, type DeploymentRecord } from '../../src/record.js';
import { motoAvailable, motoEnv, startMoto, type Moto } from '../support/moto.js';
import { runDist } from '../support/run-dist.js';
import {
  seedWorld,
  seededMoto,
  EMULATOR_COMMON,
  preflightThenCanary,
  WORLD,
  worldClients,
  type SeededWorld,
} from '../support/world.js';

const enabled = motoAvailable();
const describeMoto = enabled ? describe : describe.skip;
// The full chain needs the canary mode; until it is registered the deployment is made by hand.
const canaryRegistered = /\bcanary\b/.test(readFileSync('src/modes/index.ts', 'utf8'));
const rolloutRegistered = /\brollout\b/.test(readFileSync('src/modes/index.ts', 'utf8'));
const BASELINE_VISIBILITY = 300;
const TIMEOUT = 180_000;

async function visibilityTimeout(moto: Moto, url: string): Promise<number> {
  const out = await worldClients(moto.endpoint).sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['VisibilityTimeout'] }),
  );
  return Number(out.Attributes?.VisibilityTimeout);
}

async function commandCount(moto: Moto): Promise<number> {
  const ssm = new SSMClient({
    region: WORLD.region,
    endpoint: moto.endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const out = await ssm.send(new ListCommandsCommand({}));
  return out.Commands?.length ?? 0;
}

/**
 * What canary and rollout leave behind, made directly: each touched instance tagged with the
 * deployment id and its backup path, the visibility timeout raised, and a record that lists the
 * canary and the first rollout batch only (the job died before writing the second batch).
 */
async function touchByHand(moto: Moto, world: SeededWorld, record: DeploymentRecord): Promise<string[]> {
  const { ec2, sqs } = worldClients(moto.endpoint);
  const touched = world.instanceIds.slice(0, 3);
  const backup = backupPathFor(record.target.workerDir, record.target.targetFile, record.deploymentId);
  await ec2.send(
    new CreateTagsCommand({
      Resources: touched,
      Tags: [
        { Key: TAG_DEPLOYMENT_ID, Value: record.deploymentId },
        { Key: TAG_BACKUP_PATH, Value: backup },
      ],
    }),
  );
  await sqs.send(
    new SetQueueAttributesCommand({ QueueUrl: world.queueUrl, Attributes: { VisibilityTimeout: '900' } }),
  );
  const at = record.createdAt;
  record.instances[touched[0]] = { p: 'c', b: 0, s: 'installed', c: 0 };
  record.instances[touched[1]] = { p: 'r', b: 1, s: 'sent', c: 1 };
  record.commands.push('canary-install', 'batch-1-install');
  record.canary = { instanceId: touched[0], verdict: 'go', reason: 'healthy for 5 minutes', startedAt: at };
  record.settings.visibilityTimeout = { before: BASELINE_VISIBILITY, after: 900, at };
  record.phases.push({ mode: 'canary', startedAt: at, endedAt: at, verdict: 'go', reason: 'healthy' });
  record.phases.push({
    mode: 'rollout',
    startedAt: at,
    verdict: 'fail',
    reason: 'batch 2 broke the error budget',
  });
  return touched;
}

describeMoto('rollback against moto_server', () => {
  let moto: Moto;
  let world: SeededWorld;
  let env: Record<string, string>;
  let record: DeploymentRecord;
  let touched: string[];

  beforeAll(async () => {
    moto = await startMoto();
    world = await seedWorld(moto.endpoint, { fleetSize: 5, visibilityTimeout: BASELINE_VISIBILITY });
    env = motoEnv(moto.endpoint);
    const pre = await runDist(
      { mode: 'preflight', 'queue-name': WORLD.queueName, 'ssm-check': 'false' },
      env,
    );
    expect(pre.code).toBe(0);
    record = JSON.parse(pre.outputs.record) as DeploymentRecord;
    touched = await touchByHand(moto, world, record);
  }, TIMEOUT);
  afterAll(async () => moto?.stop());

  it(
    'restores every touched instance, the record’s and the tagged ones, and the visibility timeout',
    async () => {
      expect(await visibilityTimeout(moto, world.queueUrl)).toBe(900);
      const run = await runDist(
        { mode: 'rollback', record: JSON.stringify(record), 'ssm-check': 'false' },
        env,
      );
      expect(run.stderr).not.toMatch(/TypeError|ReferenceError/);
      expect(run.code).toBe(0);
      expect(run.outputs.verdict).toBe('pass');
      const after = JSON.parse(run.outputs.record) as DeploymentRecord;
      for (const id of touched) expect(after.instances[id]).toMatchObject({ rb: 'restored' });
      // The fourth and fifth instances were never touched: no entry, no command.
      for (const id of world.instanceIds.slice(3)) expect(after.instances[id]).toBeUndefined();
      expect(await visibilityTimeout(moto, world.queueUrl)).toBe(BASELINE_VISIBILITY);
      expect(after.phases.at(-1)).toMatchObject({ mode: 'rollback', verdict: 'pass' });
      expect(run.summary).toContain('Rollback Required: YES');
      expect(run.summary).toContain('rollout failed: batch 2 broke the error budget');
      expect(run.summary).toContain('3 restored');
      for (const id of touched) expect(run.summary).toContain(id);

      // Again: the same state, and it says so for the queue (moto returns no output, so instances
      // read as restored rather than already).
      const again = await runDist(
        { mode: 'rollback', record: run.outputs.record, 'ssm-check': 'false' },
        env,
      );
      expect(again.code).toBe(0);
      expect(again.outputs.verdict).toBe('pass');
      expect(again.summary).toMatch(/queue visibility timeout \(s\) \| 300 \| 900 \| 300 \| already/);
      expect(await visibilityTimeout(moto, world.queueUrl)).toBe(BASELINE_VISIBILITY);
    },
    TIMEOUT,
  );

  it(
    'with only the deployment id, finds the touched instances by their tags',
    async () => {
      const run = await runDist(
        { mode: 'rollback', 'deployment-id': record.deploymentId, 'ssm-check': 'false' },
        env,
      );
      expect(run.code).toBe(0);
      expect(run.outputs.verdict).toBe('pass');
      const after = JSON.parse(run.outputs.record) as DeploymentRecord;
      expect(Object.keys(after.instances).sort()).toEqual([...touched].sort());
      for (const id of touched) expect(after.instances[id].rb).toBe('restored');
      expect(run.summary).toContain('no record was given');
    },
    TIMEOUT,
  );

  it(
    'dry run sends no command and changes nothing',
    async () => {
      const { sqs } = worldClients(moto.endpoint);
      await sqs.send(
        new SetQueueAttributesCommand({ QueueUrl: world.queueUrl, Attributes: { VisibilityTimeout: '900' } }),
      );
      const before = await commandCount(moto);
      const run = await runDist(
        { mode: 'rollback', record: JSON.stringify(record), 'dry-run': 'true', 'ssm-check': 'false' },
        env,
      );
      expect(run.code).toBe(0);
      expect(run.summary).toContain('3 would be restored');
      expect(await commandCount(moto)).toBe(before);
      expect(await visibilityTimeout(moto, world.queueUrl)).toBe(900);
    },
    TIMEOUT,
  );

  it(
    'fails for a stopped instance that still holds the new file, naming it',
    async () => {
      const { ec2 } = worldClients(moto.endpoint);
      const deploymentId = 'dep-stopped-instance-1';
      const stopped = world.stoppedIds[0];
      await ec2.send(
        new CreateTagsCommand({
          Resources: [stopped],
          Tags: [
            { Key: TAG_DEPLOYMENT_ID, Value: deploymentId },
            { Key: TAG_BACKUP_PATH, Value: backupPathFor('/opt/file-processor', 'worker.py', deploymentId) },
          ],
        }),
      );
      const run = await runDist(
        { mode: 'rollback', 'deployment-id': deploymentId, 'ssm-check': 'false' },
        env,
      );
      expect(run.code).toBe(1);
      expect(run.outputs.verdict).toBe('fail');
      expect(run.stdout).toContain(stopped);
      expect(run.stdout).toMatch(/stopped: its disk still holds the new file/);
    },
    TIMEOUT,
  );
});

// The whole chain through the bundle, once the canary mode is registered.
const describeChain =
  enabled && canaryRegistered && existsSync('src/modes/canary.ts') ? describe : describe.skip;

describeChain('deploy then roll back against moto_server', () => {
  const seeded = seededMoto({ fleetSize: 4, visibilityTimeout: BASELINE_VISIBILITY }, TIMEOUT);

  it(
    'preflight, canary, rollout, rollback: every touched instance restored, visibility timeout at its baseline',
    async () => {
      const { moto, world, env } = seeded;
      const common = EMULATOR_COMMON;
      const { pre, canary } = await preflightThenCanary(env);
      expect(pre.code).toBe(0);
      expect(canary.outputs.record).toBeDefined();
      let last = canary.outputs.record;
      if (rolloutRegistered && canary.outputs.verdict === 'go') {
        const rollout = await runDist(
          {
            mode: 'rollout',
            ...common,
            record: last,
            'pause-seconds': '0',
            'batch-size': '2',
            'visibility-timeout': '900',
          },
          env,
        );
        expect(rollout.outputs.record).toBeDefined();
        last = rollout.outputs.record;
      }
      const deployed = JSON.parse(last) as DeploymentRecord;
      const touched = Object.keys(deployed.instances).sort();
      expect(touched).toContain(deployed.canary?.instanceId);
      if (rolloutRegistered && canary.outputs.verdict === 'go') {
        expect(touched).toEqual(world.instanceIds);
        expect(await visibilityTimeout(moto, world.queueUrl)).toBe(900);
      }

      const run = await runDist({ mode: 'rollback', record: last, 'ssm-check': 'false' }, env);
      expect(run.stderr).not.toMatch(/TypeError|ReferenceError/);
      expect(run.code).toBe(0);
      expect(run.outputs.verdict).toBe('pass');
      const after = JSON.parse(run.outputs.record) as DeploymentRecord;
      for (const id of touched) expect(after.instances[id].rb).toBe('restored');
      expect(await visibilityTimeout(moto, world.queueUrl)).toBe(BASELINE_VISIBILITY);
      expect(run.summary).toContain('Rollback Required: YES');

      // The canary and rollout tagged what they touched: the deployment id alone finds the same set.
      const byTag = await runDist(
        { mode: 'rollback', 'deployment-id': deployed.deploymentId, 'ssm-check': 'false' },
        env,
      );
      expect(byTag.code).toBe(0);
      expect(byTag.outputs.verdict).toBe('pass');
      expect(Object.keys((JSON.parse(byTag.outputs.record) as DeploymentRecord).instances).sort()).toEqual(
        touched,
      );
    },
    TIMEOUT,
  );
});
