// Issue 12, against moto_server with the bundled action: after preflight → canary → rollout, two
// fleet instances are terminated and two new tagged instances start outside the action (scale-in
// and scale-out from the old launch template). Verify judges the fleet as it is: the two gone are
// reported, not failed; the two newcomers fail the criterion by id. A second rollout reconciles and
// deploys to exactly the newcomers, and verify then passes.
//
// moto runs no scripts (every command succeeds with empty output) and lists every instance of the
// region as a command's target, so which instances a rollout deployed to is read from the record.
import { RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import type { DeploymentRecord } from '../../src/record.js';
import { motoAvailable } from '../support/moto.js';
import { runDist, type DistRun } from '../support/run-dist.js';
import {
  listEmulatorCommands,
  seededMoto,
  EMULATOR_COMMON,
  preflightThenCanary,
  WORLD,
  worldClients,
} from '../support/world.js';

const enabled = motoAvailable();
const describeMoto = enabled ? describe : describe.skip;
const TIMEOUT = 400_000;

function workers(run: DistRun): { s: string; d: string } | undefined {
  const record = JSON.parse(run.outputs.record) as DeploymentRecord;
  const entry = (record.extra.verify as Record<string, { criteria: { id: string; s: string; d: string }[] }>)[
    '10m'
  ];
  return entry.criteria.find((c) => c.id === 'workers');
}

describeMoto('verify judges the fleet as it is (moto_server)', () => {
  const seeded = seededMoto({ fleetSize: 4, messages: 0, inFlight: 0 }, TIMEOUT);

  it(
    'reports the gone, fails the newcomers by id, and a second rollout deploys to exactly them',
    async () => {
      const { moto, world, env } = seeded;
      const common = EMULATOR_COMMON;
      const verifyInputs = {
        mode: 'verify',
        ...common,
        'verify-minutes': '1',
        'sample-seconds': '60',
        'check-services': 'false',
      };
      const { pre, canary } = await preflightThenCanary(env);
      expect(pre.code).toBe(0);
      expect(canary.outputs.verdict).toBe('go');
      const canaryId = canary.outputs['canary-instance-id'];
      const first = await runDist(
        {
          mode: 'rollout',
          ...common,
          record: canary.outputs.record,
          'batch-size': '2',
          'pause-seconds': '0',
        },
        env,
      );
      expect(first.outputs.verdict).toBe('pass');

      // Outside the action: scale-in takes two instances, scale-out from the old template adds two.
      const ec2 = worldClients(moto.endpoint).ec2;
      const gone = world.instanceIds.filter((id) => id !== canaryId).slice(0, 2);
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: gone }));
      const launched = await ec2.send(
        new RunInstancesCommand({
          ImageId: 'ami-12c6146b',
          MinCount: 2,
          MaxCount: 2,
          InstanceType: 't3.small',
          TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: WORLD.tagName }] }],
        }),
      );
      const newcomers = (launched.Instances ?? []).map((i) => i.InstanceId ?? '').sort();
      expect(newcomers).toHaveLength(2);

      const judged = await runDist({ ...verifyInputs, record: first.outputs.record }, env, {
        timeoutMs: 150_000,
      });
      expect(judged.stderr).not.toMatch(/TypeError|ReferenceError/);
      expect(judged.code).toBe(1);
      expect(judged.outputs.verdict).toBe('fail');
      const c = workers(judged);
      expect(c?.s).toBe('fail');
      expect(c?.d).toContain('2 of 4 running instances run the fix');
      expect(c?.d).toContain(`joined since the rollout without the fix: ${newcomers.join(', ')}`);
      expect(c?.d).toContain('run the rollout again');
      // The gone are reported, not failed.
      expect(judged.stdout).toContain(
        `2 instance(s) from the record are no longer in the fleet (scale-in or replacement, not a failure): ${[...gone].sort().join(', ')}`,
      );
      expect(judged.summary).toContain('gone since preflight');

      const installsBefore = (await listEmulatorCommands(moto.endpoint)).filter((cmd) =>
        /rollout batch/.test(cmd.Comment ?? ''),
      ).length;
      const second = await runDist(
        {
          mode: 'rollout',
          ...common,
          record: judged.outputs.record,
          'batch-size': '2',
          'pause-seconds': '0',
        },
        env,
      );
      expect(second.code).toBe(0);
      expect(second.stdout).toMatch(/Plan: 2 instance\(s\) in 1 batch\(es\)/);
      const after = JSON.parse(second.outputs.record) as DeploymentRecord;
      const installs = (await listEmulatorCommands(moto.endpoint)).filter((cmd) =>
        /rollout batch/.test(cmd.Comment ?? ''),
      );
      expect(installs).toHaveLength(installsBefore + 1);
      const newest = installs.map((cmd) => cmd.CommandId).filter((id) => id !== undefined);
      const sentNow = Object.entries(after.instances)
        .filter(
          ([, e]) => e.c >= 0 && !JSON.parse(first.outputs.record).commands.includes(after.commands[e.c]),
        )
        .map(([id]) => id)
        .sort();
      // Exactly the newcomers got the second rollout's install, in one command.
      expect(sentNow).toEqual(newcomers);
      for (const id of newcomers) {
        expect(after.instances[id]).toMatchObject({ p: 'r', s: 'installed' });
        expect(newest).toContain(after.commands[after.instances[id].c]);
      }

      const again = await runDist({ ...verifyInputs, record: second.outputs.record }, env, {
        timeoutMs: 150_000,
      });
      expect(again.code).toBe(0);
      expect(again.outputs.verdict).toBe('pass');
      expect(workers(again)?.s).toBe('pass');
      expect(workers(again)?.d).toMatch(/^4 of 4 running instances run the fix; gone since preflight/);
    },
    TIMEOUT,
  );
});
