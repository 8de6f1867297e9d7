// The canary's journal window and the fan-out's unreachable instances, bundled, through the twin
// (twin/, a stand-in in front of moto_server). One world: every instance starts with a broken worker
// that, when systemd stops it, logs lines matching the error patterns and the success lines
// (twin/workers/noisy.py). Its scripts run for real on each simulated instance.
//   - Canary: those lines are written after the install's restart began, so a window cut by time
//     (`--since`, taken before the restart) would count them; the canary cuts the journal at the new
//     main process's start (ExecMainStartTimestampMonotonic, journalctl -b -o short-monotonic) and
//     must judge the fix alone: GO, no error hit.
//   - Rollout: once the first batch is sent (after the up-front SSM check), one instance of the
//     next batch loses its SSM registration and another is terminated in EC2 (SendCommand refuses
//     the batch with InvalidInstanceId, as API_SendCommand's Errors say), and the agent of the last
//     batch's instance drops (its command is never delivered: Delivery Timed Out). The action splits
//     the refused ids out and sends the rest of the batch; the unregistered and the undelivered
//     count against max-errors, the terminated one is reported gone; none is recorded installed.
import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CanaryEvidenceRecord, DeploymentRecord } from '../../src/record.js';
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
const DELIVERY_TIMEOUT_MS = 5_000;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const fileOn = (inst: SimInstance) => readFileSync(join(inst.root, 'opt/file-processor/worker.py'));
const recordOf = (run: DistRun) => JSON.parse(run.outputs.record) as DeploymentRecord;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const field = (stdout: string, key: string) =>
  [...stdout.matchAll(new RegExp(`${key}=([^\\n]*)`, 'g'))].map((m) => m[1]);

describeTwin('the canary’s journal window and the fan-out’s unreachable instances, through the twin', () => {
  let tw: TwinWorld;
  let stopTraffic: (() => Promise<void>) | undefined;
  let canaryRun: DistRun;
  beforeAll(async () => {
    tw = await startTwinWorld(
      { fleetSize: 8, messages: 30, inFlight: 0, visibilityTimeout: 2 },
      { initialWorker: 'noisy', deliveryTimeoutMs: DELIVERY_TIMEOUT_MS },
    );
    stopTraffic = startTraffic(tw);
  }, TIMEOUT);
  afterAll(async () => {
    await stopTraffic?.();
    await tw?.stop();
  }, TIMEOUT);

  it(
    'canary: the old process’s lines written during the restart do not count; the fix alone is judged GO',
    async () => {
      const pre = await runDist({ mode: 'preflight', 'queue-name': WORLD.queueName }, tw.env);
      expect(pre.code).toBe(0);
      canaryRun = await runDist(
        {
          mode: 'canary',
          record: pre.outputs.record,
          artifact: workerArtifact('fixed'),
          'artifact-bucket': WORLD.bucket,
          'canary-minutes': '1',
          'poll-seconds': '5',
        },
        tw.env,
      );
      expect(canaryRun.stderr).not.toMatch(/TypeError|ReferenceError/);
      if (canaryRun.code !== 0) process.stderr.write(canaryRun.summary);
      const record = recordOf(canaryRun);
      const id = record.canary?.instanceId ?? '';
      const inst = (await tw.twin.instances()).get(id)!;

      // The premise, from the instance itself: the old process logged an ERROR line after the
      // install's restarted_at (so --since alone would read it) and before the new process started.
      const install = tw.twin.ssm
        .snapshot()
        .find((i) => i.instanceId === id && /result=installed/.test(i.stdout));
      const restartedAt = Number(field(install?.stdout ?? '', 'restarted_at')[0]);
      const newPid = Number(inst.property('MainPID'));
      const newStart = inst.journal.find((e) => e.pid === newPid)?.mono ?? 0;
      const oldError = inst.journal.find(
        (e) => e.pid !== newPid && /^ERROR worker interrupted/.test(e.message),
      );
      expect(oldError).toBeDefined();
      expect(oldError!.usec).toBeGreaterThanOrEqual(restartedAt * 1e6);
      expect(oldError!.mono).toBeLessThan(newStart);

      // What the watch scripts read on the instance: the window opened at the main process's start,
      // lines before it were dropped, and no error pattern matched in what was kept.
      const watches = tw.twin.ssm.snapshot().filter((i) => i.instanceId === id && /window=/.test(i.stdout));
      expect(watches.length).toBeGreaterThan(1);
      for (const w of watches) {
        expect(field(w.stdout, 'window')).toEqual(['main-start']);
        for (const k of ['error\\.0', 'error\\.1', 'error\\.2']) expect(field(w.stdout, k)).toEqual(['0']);
      }
      expect(Number(field(watches[0].stdout, 'window_before')[0])).toBeGreaterThan(0);

      // The action's verdict and evidence reflect the new process only.
      expect(canaryRun.code).toBe(0);
      expect(canaryRun.outputs.verdict).toBe('go');
      const evidence = record.canary?.evidence as CanaryEvidenceRecord;
      expect(evidence.watch).toMatchObject({ window: 'main-start' });
      expect(evidence.watch?.windowBefore).toBeGreaterThan(0);
      expect(evidence.errors?.map((e) => e.count)).toEqual([0, 0, 0]);
      expect(evidence.health?.every((h) => (h.count ?? 0) > 0)).toBe(true);
      // The success lines too: each health pattern's excerpt is the first match in the window, and
      // the old process's "Successfully processed uploads/old-build.pdf" and "Deleted message … from
      // queue" come before the fix's first line; so the excerpts are the fix's, not the old build's.
      const healthExcerpts = (evidence.excerpts ?? []).filter((x) => x.kind === 'health');
      expect(healthExcerpts.length).toBeGreaterThan(0);
      for (const x of evidence.excerpts ?? []) expect(x.line).not.toMatch(/old-build|interrupted|Traceback/);
      const oldDeleted = inst.journal
        .filter((e) => e.pid !== newPid && /^Deleted message .* from queue$/.test(e.message))
        .map((e) => e.message);
      expect(oldDeleted.length).toBeGreaterThan(0);
      for (const x of healthExcerpts) expect(oldDeleted).not.toContain(x.line);
    },
    TIMEOUT,
  );

  it(
    'rollout: an unregistered agent and a terminated instance are split out on InvalidInstanceId, a dropped agent’s command is never delivered; the rest of the batch installs, the unregistered and the undelivered count against max-errors',
    async () => {
      expect(canaryRun?.outputs.verdict).toBe('go');
      const canaryId = recordOf(canaryRun).canary?.instanceId ?? '';
      // The rollout's plan, as the action makes it: the fleet in id order without the canary, in
      // batches of three (3, 3, 1).
      const toDeploy = [...tw.world.instanceIds].filter((i) => i !== canaryId).sort();
      expect(toDeploy).toHaveLength(7);
      const first = toDeploy.slice(0, 3);
      const [unregistered, terminated] = toDeploy.slice(3, 5);
      const dropped = toDeploy[6];
      const seenBefore = new Set(tw.twin.ssm.snapshot().map((i) => i.commandId));

      // Both happen once the first batch is sent: after the rollout's up-front SSM check.
      let triggered = false;
      const watcher = (async () => {
        for (let i = 0; i < 600 && !triggered; i++) {
          const sent = tw.twin.ssm
            .snapshot()
            .some((x) => !seenBefore.has(x.commandId) && first.includes(x.instanceId));
          if (sent) {
            tw.twin.unregisterAgent(unregistered);
            tw.twin.dropAgent(dropped);
            await worldClients(tw.moto.endpoint).ec2.send(
              new TerminateInstancesCommand({ InstanceIds: [terminated] }),
            );
            triggered = true;
          } else await sleep(100);
        }
      })();
      const rollout = await runDist(
        {
          mode: 'rollout',
          record: canaryRun.outputs.record,
          'batch-size': '3',
          'pause-seconds': '1',
          'max-errors': '2',
        },
        tw.env,
        { timeoutMs: 240_000 },
      );
      triggered = true;
      await watcher;
      expect(rollout.stderr).not.toMatch(/TypeError|ReferenceError/);
      if (rollout.code !== 0) process.stderr.write(rollout.summary);
      const record = recordOf(rollout);
      const fleet = await tw.twin.instances();
      const fixed = sha(workerBytes('fixed'));
      const original = sha(workerBytes('noisy'));

      // The unregistered one: refused by SSM, named, not sent, the file untouched.
      expect(record.instances[unregistered]?.s).not.toBe('installed');
      expect(record.instances[unregistered]?.e).toMatch(/SSM agent is not registered/);
      expect(record.instances[unregistered]?.e).toMatch(/InvalidInstanceId/);
      expect(
        tw.twin.ssm.snapshot().some((x) => !seenBefore.has(x.commandId) && x.instanceId === unregistered),
      ).toBe(false);
      expect(sha(fileOn(fleet.get(unregistered)!))).toBe(original);
      // The terminated one: refused too, reported gone (not a failure of the fix), not installed.
      expect(record.instances[terminated]?.s).not.toBe('installed');
      expect(record.instances[terminated]?.e).toMatch(
        /gone: not sent: instance is (terminated|shutting-down)/,
      );
      // The dropped one: sent, never delivered, recorded failed, the file untouched.
      const lost = tw.twin.ssm
        .snapshot()
        .filter((x) => !seenBefore.has(x.commandId) && x.instanceId === dropped);
      expect(lost.map((x) => x.status)).toContain('Delivery Timed Out');
      expect(record.instances[dropped]?.s).toBe('failed');
      expect(record.instances[dropped]?.e).toMatch(/Delivery Timed Out|Undeliverable|not delivered/i);
      expect(sha(fileOn(fleet.get(dropped)!))).toBe(original);
      // The rest of the refused batch, and every other instance, installed for real.
      const rest = toDeploy.filter((i) => ![unregistered, terminated, dropped].includes(i));
      expect(rest).toHaveLength(4);
      for (const id of rest) {
        expect(record.instances[id]).toMatchObject({ s: 'installed' });
        expect(sha(fileOn(fleet.get(id)!))).toBe(fixed);
      }
      // The unregistered and the undelivered against the error budget: two failed, within
      // max-errors 2; the summary names all three.
      expect(rollout.stdout).toMatch(/4 installed, 2 failed \(max-errors 2\)/);
      for (const id of [unregistered, terminated, dropped]) expect(rollout.summary).toContain(id);
    },
    TIMEOUT,
  );
});
