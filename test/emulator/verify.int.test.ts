// The bundled action's verify mode against moto_server, with a local stand-in worker consuming the
// queue: one that deletes what it receives (the fix: pass) and one that never deletes (the bug:
// messages return and reach the DLQ: fail). moto has no AWS/SQS CloudWatch metrics, so the
// CloudWatch criteria are "not judged" here, never zero and never a failure.
//
// Verify really waits in the bundle (one 1-minute window each), so the worlds run side by side
// in beforeAll, each with its own moto_server, and the tests read the results.
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { Consumer, ConsumerBehaviour, ConsumerStats } from '../support/consumer.js';
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

interface ScenarioOptions {
  /** Uploads keep arriving during the window (default true). */
  uploads?: boolean;
  /** Publish the worker's MessageDeleteFailed per instance (dimension InstanceId) during the window. */
  perInstanceFailures?: number;
  /** Start the workers this long after verify starts, so the window sees the backlog leave. */
  consumerDelayMs?: number;
}

async function scenario(behaviour: ConsumerBehaviour, opts: ScenarioOptions = {}): Promise<Scenario> {
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
    let consumer: Consumer | undefined;
    const begin = () => (consumer = consumer ?? startConsumer(sqs, world.queueUrl, behaviour));
    const delayed = opts.consumerDelayMs ? setTimeout(begin, opts.consumerDelayMs) : undefined;
    if (!delayed) begin();
    // Uploads keep arriving during the window, as in production: with the bug, each of them ends in
    // the DLQ, so the DLQ grows to the end of the window and not only in its first seconds.
    let uploads = 0;
    const producer = setInterval(() => {
      if (opts.uploads === false) return;
      const body = JSON.stringify({
        Records: [{ s3: { object: { key: `uploads/late-${uploads++}.pdf` } } }],
      });
      sqs
        .send(new SendMessageCommand({ QueueUrl: world.queueUrl, MessageBody: body }))
        .catch(() => undefined);
    }, 2000);
    // The worker publishes MessageDeleteFailed with an InstanceId dimension, as a per-instance
    // CloudWatch agent or EMF logger does: a separate metric from the dimensionless one. It is
    // published 15 s after verify starts, so its timestamp falls inside the window verify reads.
    let published: Promise<unknown> | undefined;
    const publisher = opts.perInstanceFailures
      ? setTimeout(() => {
          const cw = new CloudWatchClient({
            region: WORLD.region,
            endpoint: moto.endpoint,
            credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
          });
          published = cw.send(
            new PutMetricDataCommand({
              Namespace: 'CISFileSearch/Worker',
              MetricData: [
                {
                  MetricName: 'MessageDeleteFailed',
                  Dimensions: [{ Name: 'InstanceId', Value: world.instanceIds[1] }],
                  Value: opts.perInstanceFailures,
                  Unit: 'Count',
                  Timestamp: new Date(),
                },
              ],
            }),
          );
        }, 15_000)
      : undefined;
    let verify: DistRun;
    let stopped: ConsumerStats;
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
      clearTimeout(delayed);
      clearTimeout(publisher);
      await published;
      stopped = await begin().stop();
    }
    return { world, preflight, verify, consumer: stopped };
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
  let quietBuggy: Scenario;
  let failing: Scenario;

  beforeAll(async () => {
    [fixed, buggy, quietBuggy, failing] = await Promise.all([
      scenario('delete'),
      scenario('never-delete'),
      // The workers start while verify samples (20 s after its start, so a slow start on a loaded
      // machine still sees the backlog first): the backlog passes maxReceiveCount within seconds
      // and moves to the DLQ in the window's first half, as the issue tried it.
      scenario('never-delete', { uploads: false, consumerDelayMs: 20_000 }),
      scenario('delete', { perInstanceFailures: 2 }),
    ]);
  }, 240_000);

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
    // A preflight record has no install yet: only "running" is judged (the fleet as it is now).
    expect(c.get('workers')).toMatchObject({
      s: 'pass',
      d: '3 running; the record shows no install of the fix yet, so only running is judged',
    });
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

  // Issue 13: with no new uploads the backlog passes maxReceiveCount within seconds and moves to
  // the DLQ; the queue reads "drained" and the DLQ stops growing before the window's second half.
  // That used to pass. The DLQ rose by as much as the queue fell: dead-lettered, not processed.
  it('fails a never-deleting worker with no new uploads: the queue drained into the DLQ', () => {
    const run = quietBuggy.verify;
    expect(run.stderr).not.toMatch(/TypeError|ReferenceError/);
    expect(quietBuggy.consumer.deleted).toBe(0);
    expect(run.code).toBe(1);
    expect(run.outputs.verdict).toBe('fail');
    const c = criteria(run);
    expect(c.get('depth-trend')).toMatchObject({
      s: 'fail',
      d: expect.stringMatching(
        /^the queue fell by \d+ but the DLQ rose by \d+ in the window: the messages were dead-lettered, not processed$/,
      ),
    });
    // The DLQ's messages were read without deleting them: every one is still there.
    const record = JSON.parse(run.outputs.record);
    expect(Number(run.outputs['dlq-depth'])).toBe(record.metrics.before.visible);
    // The DLQ's messages were all first sent before the window: as the old workers' tail they are
    // excused there (counted), which is why the depth judgement weighs the DLQ's rise.
    expect(c.get('dlq-new')).toMatchObject({
      s: 'pass',
      d: expect.stringMatching(
        /: 0 first sent after the fleet ran the fix .*; \d+ sent before \(the old workers' tail, excused\)/,
      ),
    });
  });

  it('passes the deleting worker on the DLQ read too: nothing sent after the fix was dead-lettered', () => {
    expect(criteria(fixed.verify).get('dlq-new')).toMatchObject({
      s: 'pass',
      d: 'no message in the DLQ to read',
    });
    expect(criteria(fixed.verify).get('depth-trend')?.s).toBe('pass');
  });

  it('fails the uploads that the buggy workers dead-lettered during the window, read from the DLQ', () => {
    const c = criteria(buggy.verify).get('dlq-new');
    expect(c?.s).toBe('fail');
    expect(c?.d).toMatch(
      /DLQ message\(s\) read: [1-9]\d* first sent after the fleet ran the fix \(the verify window opened/,
    );
  });

  // CloudWatch treats each dimension combination as its own metric: AWS answers a dimensionless
  // query with no data for a metric published per instance. moto does answer it with every
  // combination's data, so this test cannot show the old blind spot; what it shows is that verify
  // lists the combinations (ListMetrics), queries each, sums them and names them.
  it('fails a non-zero per-instance MessageDeleteFailed, naming the dimension', () => {
    const run = failing.verify;
    expect(run.code).toBe(1);
    expect(failing.consumer.deleted).toBeGreaterThanOrEqual(20);
    const c = criteria(run).get('delete-failures');
    expect(c).toMatchObject({
      s: 'fail',
      d: `CISFileSearch/Worker/MessageDeleteFailed sum 2 (must be 0), summed over the dimension set InstanceId=${failing.world.instanceIds[1]}`,
    });
    expect(JSON.parse(run.outputs.record).extra.verify['10m'].dimensionSets).toBe(1);
  });

  it('warns on the step when the worker metric has no data at all', () => {
    expect(fixed.verify.stdout).toMatch(/::warning::.*MessageDeleteFailed has no data for the window/);
    expect(fixed.verify.summary).toContain('MessageDeleteFailed has no data for the window');
  });
});
