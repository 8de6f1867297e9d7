// The bundled action's verify mode against moto_server, with a local stand-in worker consuming the
// queue: one that deletes what it receives (the fix: pass) and one that never deletes (the bug:
// messages return and reach the DLQ: fail). moto has no AWS/SQS CloudWatch metrics, so the
// CloudWatch criteria are "not judged" here, never zero and never a failure.
//
// Verify really waits in the bundle (one 1-minute window each), so both worlds run side by side
// in beforeAll, each with its own moto_server, and the tests read the results.
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { ConsumerBehaviour, ConsumerStats } from '../support/consumer.js';
import { startConsumer } from '../support/consumer.js';
import { motoAvailable, motoEnv, startMoto } from '../support/moto.js';
import { runDist, type DistRun } from '../support/run-dist.js';
import { seedWorld, WORLD, worldClients, type SeededWorld } from '../support/world.js';

const enabled = motoAvailable();
const describeMoto = enabled ? describe : describe.skip;

interface Scenario {
  world: SeededWorld;
  preflight: DistRun;
  verify: DistRun;
  consumer: ConsumerStats;
}

interface Criterion {
  id: string;
  s: 'pass' | 'fail' | 'not-judged';
  d: string;
}

async function scenario(behaviour: ConsumerBehaviour): Promise<Scenario> {
  const moto = await startMoto();
  try {
    const env = motoEnv(moto.endpoint);
    const world = await seedWorld(moto.endpoint, { fleetSize: 3, messages: 25, inFlight: 5 });
    const preflight = await runDist(
      { mode: 'preflight', 'queue-name': WORLD.queueName, 'ssm-check': 'false' },
      env,
    );
    if (preflight.code !== 0) throw new Error(`preflight failed: ${preflight.stdout}\n${preflight.stderr}`);
    const sqs = worldClients(moto.endpoint).sqs;
    const consumer = startConsumer(sqs, world.queueUrl, behaviour);
    // Uploads keep arriving during the window, as in production: with the bug, each of them ends in
    // the DLQ, so the DLQ grows to the end of the window and not only in its first seconds.
    let uploads = 0;
    const producer = setInterval(() => {
      const body = JSON.stringify({
        Records: [{ s3: { object: { key: `uploads/late-${uploads++}.pdf` } } }],
      });
      sqs
        .send(new SendMessageCommand({ QueueUrl: world.queueUrl, MessageBody: body }))
        .catch(() => undefined);
    }, 2000);
    let verify: DistRun;
    try {
      verify = await runDist(
        {
          mode: 'verify',
          record: preflight.outputs.record,
          'verify-minutes': '1',
          'sample-seconds': '5',
          'check-services': 'false',
        },
        env,
        { timeoutMs: 150_000 },
      );
    } finally {
      clearInterval(producer);
      await consumer.stop();
    }
    return { world, preflight, verify, consumer: consumer.stats };
  } finally {
    await moto.stop();
  }
}

function criteria(run: DistRun): Map<string, Criterion> {
  const record = JSON.parse(run.outputs.record);
  return new Map((record.extra.verify['10m'].criteria as Criterion[]).map((c) => [c.id, c]));
}

describeMoto('verify against moto_server', () => {
  let fixed: Scenario;
  let buggy: Scenario;

  beforeAll(async () => {
    [fixed, buggy] = await Promise.all([scenario('delete'), scenario('never-delete')]);
  }, 200_000);

  it('passes when the workers delete what they receive', () => {
    const run = fixed.verify;
    expect(run.stderr).not.toMatch(/TypeError|ReferenceError/);
    expect(fixed.consumer.deleted).toBeGreaterThanOrEqual(20);
    expect(run.code).toBe(0);
    expect(run.outputs.verdict).toBe('pass');
    expect(run.outputs['queue-depth']).toBe('0');
    expect(run.outputs['dlq-depth']).toBe('0');
    const record = JSON.parse(run.outputs.record);
    // The 10-minute column sits beside preflight's baseline.
    expect(record.metrics.before).toMatchObject({ inFlight: 5, dlqVisible: 0, instances: 3 });
    expect(record.metrics.before.visible).toBeGreaterThanOrEqual(20);
    expect(record.metrics['10m']).toMatchObject({ visible: 0, dlqVisible: 0, instances: 3 });
    const entry = record.extra.verify['10m'];
    expect(entry.planned).toBe(13);
    expect(entry.taken).toBe(13);
    expect(entry.samples.r).toEqual(Array(13).fill(3));
    const c = criteria(run);
    expect(c.get('window')?.s).toBe('pass');
    expect(c.get('workers')).toMatchObject({ s: 'pass', d: '3 of 3 running' });
    expect(c.get('depth-trend')?.s).toBe('pass');
    expect(c.get('dlq-stable')?.s).toBe('pass');
    expect(c.get('services')?.s).toBe('not-judged');
    expect(record.phases.map((p: { mode: string }) => p.mode)).toEqual(['preflight', 'verify']);
    expect(run.summary).toContain('Verify (10m checkpoint) passed');
    expect(run.summary).toContain('| Metric | Before | After 10 min | After 1 h | After 24 h |');
    expect(run.summary).toContain('xychart-beta');
  });

  it('reports the CloudWatch criteria as not judged: moto has no AWS/SQS metrics', () => {
    const c = criteria(fixed.verify);
    expect(c.get('no-loop')?.s).toBe('not-judged');
    expect(c.get('delete-failures')?.s).toBe('not-judged');
    const record = JSON.parse(fixed.verify.outputs.record);
    expect(record.metrics['10m'].filesPerHour).toBeUndefined();
    expect(record.metrics['10m'].deleteFailed).toBeUndefined();
    expect(fixed.verify.summary).toContain('(not judged)');
    expect(fixed.verify.summary).toContain('not yet measured');
  });

  it('fails when the workers never delete: the messages come back and reach the DLQ', () => {
    const run = buggy.verify;
    expect(run.stderr).not.toMatch(/TypeError|ReferenceError/);
    expect(buggy.consumer.deleted).toBe(0);
    expect(buggy.consumer.received).toBeGreaterThan(20);
    expect(run.code).toBe(1);
    expect(run.outputs.verdict).toBe('fail');
    // Every visible message went round until the redrive policy moved it (the 5 seeded in flight
    // are hidden for 300 s and stay), and so do the uploads that kept arriving in the window.
    const seeded = JSON.parse(buggy.preflight.outputs.record).metrics.before.visible;
    expect(seeded).toBeGreaterThanOrEqual(20);
    const dlqDepth = Number(run.outputs['dlq-depth']);
    expect(dlqDepth).toBeGreaterThan(seeded);
    const dlq = criteria(run).get('dlq-stable');
    expect(dlq?.s).toBe('fail');
    expect(dlq?.d).toContain(`baseline 0 (+${dlqDepth})`);
    expect(dlq?.d).toMatch(/in its second half\)/);
    expect(run.stdout).toMatch(/Verify \(10m checkpoint\) failed: .*DLQ stable/);
    const record = JSON.parse(run.outputs.record);
    expect(record.metrics['10m'].dlqVisible).toBe(dlqDepth);
    expect(record.phases.at(-1)).toMatchObject({ mode: 'verify', verdict: 'fail' });
    expect(run.summary).toContain('FAILED');
  });
});
