// Rollout, verify and rollback, bundled, through the twin (twin/, a stand-in in front of
// moto_server): the install and restore scripts run for real on every simulated instance (private
// mount namespace each, systemd and journal stand-ins, the aws CLI fetching the artifact from moto's
// S3), and verify reads AWS/SQS metrics the twin computes from the workers' real traffic. What is
// checked is each instance's disk, its unit's process and its EC2 tags, not only the action's report.
import { DescribeTagsCommand } from '@aws-sdk/client-ec2';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TAG_ARTIFACT_SHA256, TAG_BACKUP_PATH, TAG_DEPLOYMENT_ID } from '../../src/constants.js';
import { backupPathFor, type DeploymentRecord } from '../../src/record.js';
import { probeIsolation } from '../../twin/twin.js';
import type { SimInstance } from '../../twin/instance.js';
import { motoAvailable } from '../support/moto.js';
import { runDist, type DistRun } from '../support/run-dist.js';
import {
  startTraffic,
  startTwinWorld,
  workerArtifact,
  workerBytes,
  type TwinWorld,
} from '../support/twin-world.js';
import { WORLD, worldClients } from '../support/world.js';

const isolation = probeIsolation();
// Without root and unshare -m the twin cannot run the scripts per instance: said once, then skipped.
if (!isolation.ok) process.stderr.write(`twin tests skipped: ${isolation.note}\n`);
const describeTwin = motoAvailable() && isolation.ok ? describe : describe.skip;
const TIMEOUT = 400_000;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const onDisk = (inst: SimInstance, p: string) => readFileSync(join(inst.root, p.slice(1)));
const recordOf = (run: DistRun) => JSON.parse(run.outputs.record) as DeploymentRecord;
type Criteria = Record<string, { criteria: { id: string; s: string; d: string }[] }>;

describeTwin('rollout, verify and rollback through the twin', () => {
  let tw: TwinWorld;
  let stopTraffic: (() => Promise<void>) | undefined;
  // Three instances (the canary and two more, rolled out in one batch). A short visibility timeout:
  // what the broken workers receive comes back within seconds, so the fixed workers have work.
  beforeAll(async () => {
    tw = await startTwinWorld({ fleetSize: 3, messages: 30, inFlight: 0, visibilityTimeout: 2 });
    stopTraffic = startTraffic(tw);
  }, TIMEOUT);
  afterAll(async () => {
    await stopTraffic?.();
    await tw?.stop();
  }, TIMEOUT);

  it(
    'installs on every instance for real, verify judges the twin’s SQS metrics, rollback restores every original, a second rollback finds them already in place',
    async () => {
      const original = workerBytes('broken');
      const fixed = workerBytes('fixed');
      const pre = await runDist({ mode: 'preflight', 'queue-name': WORLD.queueName }, tw.env);
      expect(pre.code).toBe(0);
      const canary = await runDist(
        {
          mode: 'canary',
          record: pre.outputs.record,
          artifact: workerArtifact('fixed'),
          'artifact-bucket': WORLD.bucket,
          // The canary is only this test's way to a GO record (twin-canary-rollback and
          // twin-window-fanout judge the canary itself): one check right after the restart, on
          // service state and error patterns alone. With the health patterns, a single check can
          // come before the new worker's first message on a loaded machine (inconclusive), or
          // between its "Successfully processed" and "Deleted message" lines (NO-GO); a one-minute
          // watch avoids that but costs a minute of CI.
          'canary-minutes': '0',
          'health-patterns': 'none',
        },
        tw.env,
      );
      if (canary.code !== 0) process.stderr.write(canary.summary);
      expect(canary.outputs.verdict).toBe('go');
      const deploymentId = recordOf(canary).deploymentId;
      const backup = backupPathFor('/opt/file-processor', 'worker.py', deploymentId);

      const rollout = await runDist(
        { mode: 'rollout', record: canary.outputs.record, 'batch-size': '2', 'pause-seconds': '0' },
        tw.env,
        { timeoutMs: 200_000 },
      );
      expect(rollout.stderr).not.toMatch(/TypeError|ReferenceError/);
      if (rollout.code !== 0) process.stderr.write(rollout.summary);
      expect(rollout.code).toBe(0);
      expect(rollout.outputs.verdict).toBe('pass');
      const rolled = recordOf(rollout);
      const fleet = await tw.twin.instances();
      const ids = [...tw.world.instanceIds].sort();
      expect([...fleet.keys()].sort()).toEqual(ids);
      const pidsAfterRollout = new Map<string, number>();
      const tags = await worldClients(tw.moto.endpoint).ec2.send(
        new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: ids }] }),
      );
      const tagOf = (id: string, key: string) =>
        tags.Tags?.find((t) => t.ResourceId === id && t.Key === key)?.Value;
      for (const id of ids) {
        const inst = fleet.get(id)!;
        // The record and the EC2 tags say installed, and the disk agrees: the artifact in place,
        // the backup byte-identical to the original, the unit running the new file.
        expect(rolled.instances[id]).toMatchObject({ s: 'installed' });
        expect(tagOf(id, TAG_DEPLOYMENT_ID)).toBe(deploymentId);
        expect(tagOf(id, TAG_BACKUP_PATH)).toBe(backup);
        expect(tagOf(id, TAG_ARTIFACT_SHA256)).toBe(sha(fixed));
        expect(sha(onDisk(inst, '/opt/file-processor/worker.py'))).toBe(sha(fixed));
        expect(onDisk(inst, backup).equals(original)).toBe(true);
        expect(inst.property('ActiveState')).toBe('active');
        const pid = Number(inst.property('MainPID'));
        pidsAfterRollout.set(id, pid);
        expect(
          inst.journal.some((e) => e.pid === pid && /Worker started \(fixed build\)/.test(e.message)),
        ).toBe(true);
      }
      // Every install ran as a real script on its instance (the rollout's two, after the canary's).
      const installs = tw.twin.ssm
        .snapshot()
        .filter(
          (i) => /result=installed/.test(i.stdout) && i.instanceId !== canary.outputs['canary-instance-id'],
        );
      expect(new Set(installs.map((i) => i.instanceId)).size).toBe(2);

      const verify = await runDist(
        {
          mode: 'verify',
          record: rollout.outputs.record,
          'queue-name': WORLD.queueName,
          'verify-minutes': '1',
          'sample-seconds': '5',
        },
        tw.env,
        { timeoutMs: 200_000 },
      );
      expect(verify.stderr).not.toMatch(/TypeError|ReferenceError/);
      if (verify.code !== 0) process.stderr.write(verify.summary);
      const criteria = (recordOf(verify).extra.verify as Criteria)['10m'].criteria;
      const byId = Object.fromEntries(criteria.map((c) => [c.id, c]));
      // The metrics came from the twin (AWS/SQS from the workers' real traffic), not "not reported":
      // the fixed workers delete what they receive, so the loop criterion is judged and passes.
      expect(byId['processing-rate']?.s).not.toBe('not-judged');
      expect(byId['no-loop']).toMatchObject({ s: 'pass' });
      expect(byId.workers).toMatchObject({ s: 'pass' });
      expect(byId.services).toMatchObject({ s: 'pass' });
      expect(verify.outputs.verdict).toBe('pass');

      const rollback = await runDist({ mode: 'rollback', record: verify.outputs.record }, tw.env, {
        timeoutMs: 200_000,
      });
      expect(rollback.stderr).not.toMatch(/TypeError|ReferenceError/);
      if (rollback.code !== 0) process.stderr.write(rollback.summary);
      expect(rollback.code).toBe(0);
      const restored = recordOf(rollback);
      for (const id of ids) {
        const inst = fleet.get(id)!;
        expect(restored.instances[id]).toMatchObject({ rb: 'restored' });
        // The original back (checksum equal), the backup left where it was, the service restarted.
        expect(sha(onDisk(inst, '/opt/file-processor/worker.py'))).toBe(sha(original));
        expect(onDisk(inst, backup).equals(original)).toBe(true);
        expect(inst.property('ActiveState')).toBe('active');
        const pid = Number(inst.property('MainPID'));
        expect(pid).not.toBe(pidsAfterRollout.get(id));
        expect(
          inst.journal.some((e) => e.pid === pid && /Worker started \(broken build\)/.test(e.message)),
        ).toBe(true);
      }
      // The restore scripts' own evidence, as the instances printed it: the file after the restore
      // has the backup's checksum, which is the original's.
      const restores = tw.twin.ssm.snapshot().filter((i) => /restore=restored/.test(i.stdout));
      expect(restores.map((i) => i.instanceId).sort()).toEqual(ids);
      for (const r of restores) expect(r.stdout).toContain(`sha256_after=${sha(original)}`);

      // A second rollback finds every original in place: "already", nothing rewritten.
      const pidsAfterRollback = new Map(ids.map((id) => [id, fleet.get(id)!.property('MainPID')]));
      const seen = new Set(tw.twin.ssm.snapshot().map((i) => i.commandId));
      const again = await runDist({ mode: 'rollback', record: rollback.outputs.record }, tw.env, {
        timeoutMs: 200_000,
      });
      expect(again.code).toBe(0);
      const twice = recordOf(again);
      const already = tw.twin.ssm
        .snapshot()
        .filter((i) => !seen.has(i.commandId) && /restore=already/.test(i.stdout));
      expect(already.map((i) => i.instanceId).sort()).toEqual(ids);
      for (const id of ids) {
        const inst = fleet.get(id)!;
        expect(twice.instances[id]).toMatchObject({ rb: 'already' });
        expect(sha(onDisk(inst, '/opt/file-processor/worker.py'))).toBe(sha(original));
        expect(inst.property('ActiveState')).toBe('active');
        const out = already.find((i) => i.instanceId === id)!.stdout;
        expect(out).toContain(`sha256_after=${sha(original)}`);
        // The worker the first rollback restarted runs the original already: the second rollback
        // leaves it alone (ensure_running_current compares the process start with the file's ctime
        // in microseconds; whole seconds restarted a healthy worker about one run in four).
        expect(out).toContain('restart=skipped');
        expect(inst.property('MainPID')).toBe(pidsAfterRollback.get(id));
      }
    },
    TIMEOUT,
  );
});
