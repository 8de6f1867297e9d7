// The bundled action against moto_server, seeded with the runbook's world.
import { motoAvailable, motoEnv, startMoto, type Moto } from '../support/moto.js';
import { runDist } from '../support/run-dist.js';
import { seedWorld, WORLD, type SeededWorld } from '../support/world.js';

const enabled = motoAvailable();
const describeMoto = enabled ? describe : describe.skip;

describeMoto('preflight against moto_server', () => {
  let moto: Moto;
  let world: SeededWorld;

  beforeAll(async () => {
    moto = await startMoto();
    world = await seedWorld(moto.endpoint, { fleetSize: 4, messages: 25, inFlight: 5 });
  }, 60_000);
  afterAll(async () => moto?.stop());

  it('passes, finds the DLQ from the redrive policy and records the baseline and the fleet', async () => {
    const run = await runDist(
      { mode: 'preflight', 'queue-name': WORLD.queueName, bucket: WORLD.bucket, 'ssm-check': 'false' },
      motoEnv(moto.endpoint),
    );
    expect(run.stderr).not.toMatch(/TypeError|ReferenceError/);
    expect(run.code).toBe(0);
    expect(run.outputs.verdict).toBe('pass');
    expect(run.outputs['queue-depth']).toBe('20');
    expect(run.outputs['dlq-depth']).toBe('0');
    expect(run.outputs['instance-count']).toBe('4');
    const record = JSON.parse(run.outputs.record);
    expect(record.queue.dlqName).toBe(WORLD.dlqName);
    expect(record.queue.dlqArn).toBe(world.dlqArn);
    expect(record.metrics.before).toMatchObject({
      visible: 20,
      inFlight: 5,
      delayed: 0,
      dlqVisible: 0,
      instances: 4,
    });
    // Stopped and unrelated instances are not in the fleet; the order is stable.
    expect(record.fleet.instanceIds).toEqual(world.instanceIds);
    expect(record.github.actor).toBe('sre-on-call');
    expect(run.summary).toContain('Preflight passed');
    expect(run.summary).toContain('uploads-to-processing');
    for (const id of world.instanceIds) expect(run.summary).toContain(id);
  }, 60_000);

  it('fails on an unknown queue, naming it', async () => {
    const run = await runDist(
      { mode: 'preflight', 'queue-name': 'no-such-queue', 'ssm-check': 'false' },
      motoEnv(moto.endpoint),
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('no-such-queue');
    expect(run.outputs.verdict).toBe('fail');
  }, 60_000);

  it('fails when no instance matches the filters', async () => {
    const run = await runDist(
      {
        mode: 'preflight',
        'queue-name': WORLD.queueName,
        'instance-filters': 'tag:Name=nobody',
        'ssm-check': 'false',
      },
      motoEnv(moto.endpoint),
    );
    expect(run.code).toBe(1);
    expect(run.outputs.verdict).toBe('fail');
    expect(run.stdout).toMatch(/no running instance matches/);
    expect(JSON.parse(run.outputs.record).fleet.instanceIds).toEqual([]);
  }, 60_000);

  it('refuses bad input before any AWS call', async () => {
    const run = await runDist(
      { mode: 'preflight', 'queue-name': 'q; rm -rf /', 'ssm-check': 'false' },
      motoEnv(moto.endpoint),
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("Input 'queue-name'");
    expect(run.outputs.record).toBeUndefined();
  }, 60_000);
});

describeMoto('preflight with duplicate notifications', () => {
  let moto: Moto;
  beforeAll(async () => {
    moto = await startMoto();
    await seedWorld(moto.endpoint, { fleetSize: 2, duplicateNotification: true });
  }, 60_000);
  afterAll(async () => moto?.stop());

  it('fails, listing both configuration ids and why they overlap', async () => {
    const run = await runDist(
      { mode: 'preflight', 'queue-name': WORLD.queueName, bucket: WORLD.bucket, 'ssm-check': 'false' },
      motoEnv(moto.endpoint),
    );
    expect(run.code).toBe(1);
    expect(run.outputs.verdict).toBe('fail');
    expect(run.stdout).toContain('uploads-to-processing');
    expect(run.stdout).toContain('legacy-put-notification');
    expect(run.stdout).toContain('s3:ObjectCreated:Put');
    expect(JSON.parse(run.outputs.record).phases[0].verdict).toBe('fail');
  }, 60_000);
});
