// The bundle SIGKILLed (a runner cancelling a job hard, or the machine dying) at two moments of a
// rollout, then rolled back as the workflow would: from the rollout's record file, from the canary's
// record, and from the deployment id alone. The moment is chosen by observation, not by a hook in
// the action: the rollout talks to moto_server through a loopback proxy owned by this test, which
// reads each request's X-Amz-Target and kills the process
//   - right after SetQueueAttributes has been answered (the queue is at 900), or
//   - when a rollout batch's SendCommand arrives (its instances are tagged; the request is dropped,
//     so no install was sent).
// moto does not run scripts (its commands succeed with no output), so the restore script's
// "untouched" verdict on an instance that never got the install is not visible here; it is proven
// under bash in scripts-bash.unit.test.ts and through the rollback mode in rollback.unit.test.ts.
// What this test proves on the bundle is the record and the tags a killed rollout leaves, and that
// every rollback restores the queue's baseline and passes.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { GetQueueAttributesCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { TAG_DEPLOYMENT_ID } from '../../src/constants.js';
import type { DeploymentRecord } from '../../src/record.js';
import { motoAvailable, motoEnv, startMoto, type Moto } from '../support/moto.js';
import { runDist, type DistRun } from '../support/run-dist.js';
import { listEmulatorCommands, quickCanaryInputs, seedWorld, WORLD, worldClients } from '../support/world.js';

const enabled = motoAvailable();
const describeMoto = enabled ? describe : describe.skip;
const TIMEOUT = 240_000;
const BASELINE = 300;

type Kill = 'after-set-visibility' | 'before-batch-send';

/** A pass-through proxy to moto that SIGKILLs the process it serves at the chosen request. */
async function killingProxy(
  target: string,
  kill: Kill,
  victim: () => number,
): Promise<{ endpoint: string; server: Server; killed: () => boolean }> {
  let killed = false;
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const op = String(req.headers['x-amz-target'] ?? '');
      if (kill === 'before-batch-send' && op.endsWith('.SendCommand') && body.includes('rollout batch')) {
        killed = true;
        process.kill(victim(), 'SIGKILL');
        req.socket.destroy();
        return;
      }
      const out = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (up) => {
          const parts: Buffer[] = [];
          up.on('data', (c: Buffer) => parts.push(c));
          up.on('end', () => {
            if (kill === 'after-set-visibility' && op.endsWith('.SetQueueAttributes')) {
              // SQS has answered; the process dies before it reads the answer.
              killed = true;
              process.kill(victim(), 'SIGKILL');
              req.socket.destroy();
              return;
            }
            res.writeHead(up.statusCode ?? 500, up.headers);
            res.end(Buffer.concat(parts));
          });
        },
      );
      out.on('error', () => res.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { endpoint: `http://127.0.0.1:${port}`, server, killed: () => killed };
}

async function queueVisibility(moto: Moto, url: string): Promise<number> {
  const { sqs } = worldClients(moto.endpoint);
  const out = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['VisibilityTimeout'] }),
  );
  return Number(out.Attributes?.VisibilityTimeout);
}

async function taggedFor(moto: Moto, deploymentId: string): Promise<string[]> {
  const { ec2 } = worldClients(moto.endpoint);
  const out = await ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: `tag:${TAG_DEPLOYMENT_ID}`, Values: [deploymentId] }] }),
  );
  return (out.Reservations ?? []).flatMap((r) => (r.Instances ?? []).map((i) => i.InstanceId ?? '')).sort();
}

interface Killed {
  run: DistRun;
  recordFile: string;
  fileRecord: DeploymentRecord;
}

/** The rollout through the killing proxy, with RUNNER_TEMP set so it writes its record file. */
async function killedRollout(
  moto: Moto,
  kill: Kill,
  canaryRecord: string,
  inputs: Record<string, string>,
): Promise<Killed> {
  let pid = 0;
  const proxy = await killingProxy(moto.endpoint, kill, () => pid);
  const runnerTemp = mkdtempSync(join(tmpdir(), 'ewd-crash-'));
  try {
    const run = await runDist(
      {
        mode: 'rollout',
        'queue-name': WORLD.queueName,
        'ssm-check': 'false',
        record: canaryRecord,
        ...inputs,
      },
      { ...motoEnv(proxy.endpoint), RUNNER_TEMP: runnerTemp },
      { timeoutMs: 120_000, onSpawn: (p) => (pid = p) },
    );
    expect(proxy.killed()).toBe(true);
    // Killed by the signal: no exit code, no chance to write anything more.
    expect(run.code).toBeNull();
    const recordFile = join(runnerTemp, 'emergency-deploy', 'deployment-record.json');
    expect(existsSync(recordFile)).toBe(true);
    return { run, recordFile, fileRecord: JSON.parse(readFileSync(recordFile, 'utf8')) as DeploymentRecord };
  } finally {
    await new Promise((resolve) => proxy.server.close(resolve));
  }
}

/** The three ways the workflow's rollback job can be handed a deployment. */
function handOvers(killed: Killed, canaryRecord: string, deploymentId: string) {
  return [
    ['the rollout’s record file', { 'record-file': killed.recordFile }],
    ['the canary’s record', { record: canaryRecord }],
    ['the deployment id alone', { 'deployment-id': deploymentId }],
  ] as const;
}

async function rollbackWith(moto: Moto, inputs: Record<string, string>): Promise<DistRun> {
  return runDist(
    { mode: 'rollback', 'queue-name': WORLD.queueName, 'ssm-check': 'false', ...inputs },
    motoEnv(moto.endpoint),
  );
}

/** preflight and a GO canary, as the chain runs them before the rollout. */
async function upToCanary(moto: Moto): Promise<{ canaryRecord: string; deploymentId: string }> {
  const env = motoEnv(moto.endpoint);
  const pre = await runDist({ mode: 'preflight', 'queue-name': WORLD.queueName, 'ssm-check': 'false' }, env);
  expect(pre.code).toBe(0);
  const canary = await runDist(
    { ...quickCanaryInputs(pre.outputs.record), 'queue-name': WORLD.queueName, 'ssm-check': 'false' },
    env,
  );
  expect(canary.code).toBe(0);
  expect(canary.outputs.verdict).toBe('go');
  const record = JSON.parse(canary.outputs.record) as DeploymentRecord;
  expect(record.queue?.visibilityTimeout).toBe(BASELINE);
  return { canaryRecord: canary.outputs.record, deploymentId: record.deploymentId };
}

describeMoto('SIGKILL right after SetQueueAttributes answered, then rollback', () => {
  let moto: Moto;
  let canaryRecord: string;
  let deploymentId: string;
  let killed: Killed;

  beforeAll(async () => {
    moto = await startMoto();
    await seedWorld(moto.endpoint, { fleetSize: 3, visibilityTimeout: BASELINE });
    ({ canaryRecord, deploymentId } = await upToCanary(moto));
    killed = await killedRollout(moto, 'after-set-visibility', canaryRecord, {
      'batch-size': '100%',
      'pause-seconds': '0',
      'visibility-timeout': '900',
    });
  }, TIMEOUT);
  afterAll(async () => moto?.stop());

  it('leaves the queue at 900 and a record file that holds the intent (old and new value)', async () => {
    const { queueUrl } = { queueUrl: JSON.parse(canaryRecord).queue.url as string };
    expect(await queueVisibility(moto, queueUrl)).toBe(900);
    expect(killed.fileRecord.settings.visibilityTimeout).toMatchObject({
      before: BASELINE,
      after: 900,
      s: 'intended',
    });
  });

  it.each([0, 1, 2])(
    'rollback from each hand-over (%#: record file, canary record, deployment id) puts the baseline back and passes',
    async (n) => {
      const [what, inputs] = handOvers(killed, canaryRecord, deploymentId)[n];
      const queueUrl = JSON.parse(canaryRecord).queue.url as string;
      // Each rollback starts from the state the kill left: the queue at 900.
      await worldClients(moto.endpoint).sqs.send(
        new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { VisibilityTimeout: '900' } }),
      );
      const run = await rollbackWith(moto, inputs);
      expect({ what, code: run.code, stderr: run.stderr }).toMatchObject({ what, code: 0 });
      expect(run.outputs.verdict).toBe('pass');
      expect(await queueVisibility(moto, queueUrl)).toBe(BASELINE);
      expect(run.summary).toMatch(/queue visibility timeout \(s\) \| 300 \| 900 \| 300 \| restored/);
    },
    TIMEOUT,
  );

  it(
    'a rerun of the rollout handed the canary’s record keeps 300 as the baseline, not its own 900',
    async () => {
      const queueUrl = JSON.parse(canaryRecord).queue.url as string;
      await worldClients(moto.endpoint).sqs.send(
        new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { VisibilityTimeout: '900' } }),
      );
      const rerun = await runDist(
        {
          mode: 'rollout',
          'queue-name': WORLD.queueName,
          'ssm-check': 'false',
          record: canaryRecord,
          'batch-size': '100%',
          'pause-seconds': '0',
          'visibility-timeout': '900',
        },
        motoEnv(moto.endpoint),
      );
      expect(rerun.code).toBe(0);
      const after = JSON.parse(rerun.outputs.record) as DeploymentRecord;
      expect(after.settings.visibilityTimeout).toMatchObject({ before: BASELINE, after: 900, s: 'done' });
    },
    TIMEOUT,
  );
});

describeMoto('SIGKILL after a batch was tagged and before its install was sent, then rollback', () => {
  let moto: Moto;
  let canaryRecord: string;
  let deploymentId: string;
  let killed: Killed;
  let canaryId: string;

  beforeAll(async () => {
    moto = await startMoto();
    await seedWorld(moto.endpoint, { fleetSize: 3, visibilityTimeout: BASELINE });
    ({ canaryRecord, deploymentId } = await upToCanary(moto));
    canaryId = (JSON.parse(canaryRecord) as DeploymentRecord).canary?.instanceId ?? '';
    killed = await killedRollout(moto, 'before-batch-send', canaryRecord, {
      'batch-size': '100%',
      'pause-seconds': '0',
      'visibility-timeout': '900',
    });
  }, TIMEOUT);
  afterAll(async () => moto?.stop());

  it('leaves the batch tagged and in the record as sent with no command, and nothing installed', async () => {
    const rolled = Object.entries(killed.fileRecord.instances).filter(([, e]) => e.p === 'r');
    expect(rolled.length).toBe(2);
    for (const [, e] of rolled) expect(e).toMatchObject({ b: 1, s: 'sent', c: -1 });
    const tagged = await taggedFor(moto, deploymentId);
    expect(tagged).toEqual([canaryId, ...rolled.map(([id]) => id)].sort());
    const installs = (await listEmulatorCommands(moto.endpoint)).filter((c) =>
      c.Comment?.includes('rollout batch'),
    );
    expect(installs).toEqual([]);
    expect(killed.fileRecord.settings.visibilityTimeout).toBeUndefined();
  });

  it.each([0, 1, 2])(
    'rollback from each hand-over (%#: record file, canary record, deployment id) passes and leaves the queue at its baseline',
    async (n) => {
      const [what, inputs] = handOvers(killed, canaryRecord, deploymentId)[n];
      const run = await rollbackWith(moto, inputs);
      expect({ what, code: run.code, stderr: run.stderr }).toMatchObject({ what, code: 0 });
      expect(run.outputs.verdict).toBe('pass');
      const queueUrl = JSON.parse(canaryRecord).queue.url as string;
      expect(await queueVisibility(moto, queueUrl)).toBe(BASELINE);
      // Every instance of the killed batch is found (from the record or its tags) and named.
      for (const [id, e] of Object.entries(killed.fileRecord.instances)) {
        if (e.p === 'r') expect(run.summary).toContain(id);
      }
    },
    TIMEOUT,
  );
});
