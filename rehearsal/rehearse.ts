// `npm run rehearse`: the whole deployment, on this machine, against an emulator.
//
// Starts moto_server on 127.0.0.1 (a free port), seeds the runbook's world, starts stand-in workers
// and an upload producer, and runs the bundled dist/index.js through preflight, canary, rollout and
// verify in the workflow's order, exactly as the runner would (INPUT_* variables, the record passed
// from step to step, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files). When a step fails, rollback runs
// with the latest record, as the workflow's rollback job does. Everything it started is stopped,
// whatever happens.
//
//   npm run rehearse                       healthy scenario, 5 instances
//   npm run rehearse -- --scenario loop    messages never deleted: verify fails, rollback runs
//   npm run rehearse -- --fleet 50 --out .rehearsal
import { PutMetricDataCommand, CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { motoAvailable, motoEnv, startMoto, type Moto } from '../test/support/moto.js';
import { runDist, type DistRun } from '../test/support/run-dist.js';
import { seedWorld, worldClients, WORLD } from '../test/support/world.js';
import { renderHtmlPage } from './html.js';
import { StandInWorker, UploadProducer, type WorkerBehaviour } from './stand-ins.js';

interface Options {
  scenario: 'healthy' | 'loop';
  fleet: number;
  out: string;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { scenario: 'healthy', fleet: 5, out: '.rehearsal' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--scenario' && (value === 'healthy' || value === 'loop')) opts.scenario = value;
    else if (flag === '--fleet' && /^\d+$/.test(value ?? '') && Number(value) >= 1 && Number(value) <= 2000)
      opts.fleet = Number(value);
    else if (flag === '--out' && value) opts.out = value;
    else
      throw new Error(
        `unknown or bad argument ${flag} ${value ?? ''}: use --scenario healthy|loop, --fleet 1..2000, --out DIR`,
      );
    i++;
  }
  return opts;
}

const ARTIFACT_BUCKET = 'cis-deploy-artifacts';

function log(message: string): void {
  process.stdout.write(`[rehearse ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

interface Step {
  name: string;
  run: DistRun;
  seconds: number;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  let available = false;
  try {
    available = motoAvailable();
  } catch {
    available = false;
  }
  if (!available) {
    process.stderr.write(
      'moto_server was not found. Install the emulator with:\n  python3 -m pip install -r requirements-test.txt\n',
    );
    return 2;
  }
  const outDir = resolve(opts.out);
  mkdirSync(outDir, { recursive: true });
  const steps: Step[] = [];
  let moto: Moto | undefined;
  const workers: StandInWorker[] = [];
  let producer: UploadProducer | undefined;
  const background: Promise<void>[] = [];
  // Ctrl-C or a kill must not leave an emulator or an action process behind.
  let actionPid: number | undefined;
  let stopping = false;
  const killAction = () => {
    if (!actionPid) return;
    try {
      process.kill(actionPid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  process.once('exit', killAction);
  const onSignal = (signal: NodeJS.Signals) => {
    stopping = true;
    log(`${signal}: stopping everything this rehearsal started`);
    producer?.stop();
    for (const w of workers) w.stop();
    killAction();
    void (moto?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log(`scenario ${opts.scenario}, fleet of ${opts.fleet}: starting moto_server on 127.0.0.1`);
    moto = await startMoto();
    const env = motoEnv(moto.endpoint);
    log(`emulator at ${moto.endpoint}; seeding the runbook's world`);
    const world = await seedWorld(moto.endpoint, {
      fleetSize: opts.fleet,
      messages: 40,
      inFlight: 0,
      visibilityTimeout: 30,
    });
    const clients = worldClients(moto.endpoint);
    await clients.s3.send(
      new CreateBucketCommand({
        Bucket: ARTIFACT_BUCKET,
        CreateBucketConfiguration: { LocationConstraint: 'ap-northeast-1' },
      }),
    );
    const cloudwatch = new CloudWatchClient({
      region: WORLD.region,
      endpoint: moto.endpoint,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    await cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: 'CISFileSearch/Worker',
        MetricData: [{ MetricName: 'MessageDeleteFailed', Value: 0, Unit: 'Count' }],
      }),
    );

    // The buggy fleet is running when the incident starts: messages come back again and again.
    const behaviour: WorkerBehaviour = 'looping';
    for (let i = 0; i < 3; i++) {
      const w = new StandInWorker(clients.sqs, world.queueUrl, behaviour);
      workers.push(w);
      background.push(w.run().catch((e) => log(`stand-in worker stopped: ${(e as Error).message}`)));
    }
    producer = new UploadProducer(clients.s3, WORLD.bucket);
    background.push(
      producer.run(2, 1000, 400).catch((e) => log(`producer stopped: ${(e as Error).message}`)),
    );

    const common = { 'ssm-check': 'false', 'health-patterns': 'none' };
    let record = '';
    const step = async (name: string, inputs: Record<string, string>): Promise<DistRun> => {
      if (stopping) throw new Error(`not starting ${name}: the rehearsal is stopping`);
      log(`▶ ${name}`);
      const started = Date.now();
      const run = await runDist({ ...common, ...inputs, ...(record ? { record } : {}) }, env, {
        timeoutMs: 30 * 60_000,
        onSpawn: (pid) => (actionPid = pid),
      });
      actionPid = undefined;
      const seconds = (Date.now() - started) / 1000;
      steps.push({ name, run, seconds });
      if (run.outputs.record) record = run.outputs.record;
      for (const line of run.stdout.split('\n').filter((l) => l.trim() !== ''))
        process.stdout.write(`    ${line}\n`);
      log(`◀ ${name}: ${run.outputs.verdict ?? 'no verdict'} (exit ${run.code}) in ${seconds.toFixed(1)} s`);
      return run;
    };

    const plan: [string, Record<string, string>][] = [
      ['preflight', { mode: 'preflight', 'queue-name': WORLD.queueName, bucket: WORLD.bucket }],
      [
        'canary',
        {
          mode: 'canary',
          artifact: 'rehearsal/fixtures/worker.py',
          'artifact-bucket': ARTIFACT_BUCKET,
          'canary-minutes': '0',
        },
      ],
      [
        'rollout',
        { mode: 'rollout', 'batch-size': '25%', 'pause-seconds': '0', 'visibility-timeout': '900' },
      ],
    ];
    let failed = false;
    for (const [name, inputs] of plan) {
      const run = await step(name, inputs);
      if (run.code !== 0) {
        failed = true;
        break;
      }
    }
    if (!failed) {
      // The fleet now runs the fix: in the healthy scenario the stand-ins start deleting.
      const after: WorkerBehaviour = opts.scenario === 'healthy' ? 'fixed' : 'looping';
      for (const w of workers) w.setBehaviour(after);
      log(`stand-in workers now behave as ${after}`);
      // Messages the old workers had already received maxReceiveCount times move to the DLQ on
      // their next receive, whatever the new code does: let that tail pass before the window opens.
      await new Promise((r) => setTimeout(r, 10_000));
      const run = await step('verify', {
        mode: 'verify',
        'verify-minutes': '1',
        'sample-seconds': '10',
        'check-services': 'false',
      });
      failed = run.code !== 0;
    }
    if (failed) {
      log('a step failed: running rollback with the latest record, as the workflow does');
      await step('rollback', { mode: 'rollback' });
    }
    log(
      `stand-ins: ${workers.reduce((n, w) => n + w.received, 0)} received, ${workers.reduce((n, w) => n + w.deleted, 0)} deleted; ${producer.uploaded} uploads`,
    );
    // healthy: every step passes and nothing is rolled back. loop: verify fails on the evidence and
    // the rollback that follows restores every instance.
    const rollback = steps.find((s) => s.name === 'rollback');
    if (opts.scenario === 'healthy') return failed ? 1 : 0;
    const verifyFailed = steps.find((s) => s.name === 'verify')?.run.outputs.verdict === 'fail';
    return verifyFailed && rollback?.run.outputs.verdict === 'pass' ? 0 : 1;
  } finally {
    producer?.stop();
    for (const w of workers) w.stop();
    await Promise.race([Promise.all(background), new Promise((r) => setTimeout(r, 5000))]);
    await moto?.stop();
    writeReports(outDir, opts, steps);
  }
}

function writeReports(outDir: string, opts: Options, steps: Step[]): void {
  const header = `# Rehearsal: scenario ${opts.scenario}, ${opts.fleet} instance(s)\n\n${steps
    .map(
      (s) =>
        `- **${s.name}**: ${s.run.outputs.verdict ?? 'no verdict'} (exit ${s.run.code}, ${s.seconds.toFixed(1)} s)`,
    )
    .join('\n')}\n`;
  const markdown = [header, ...steps.map((s) => s.run.summary)].join('\n\n---\n\n');
  writeFileSync(join(outDir, 'summary.md'), markdown);
  writeFileSync(join(outDir, 'summary.html'), renderHtmlPage(`Rehearsal (${opts.scenario})`, markdown));
  const last = [...steps].reverse().find((s) => s.run.outputs.record);
  if (last) writeFileSync(join(outDir, 'record.json'), last.run.outputs.record);
  log(
    `wrote ${join(outDir, 'summary.md')}, ${join(outDir, 'summary.html')}${last ? ` and ${join(outDir, 'record.json')}` : ''}`,
  );
}

main().then(
  (code) => {
    log(code === 0 ? 'rehearsal finished as expected' : 'rehearsal did NOT end as the scenario expects');
    process.exit(code);
  },
  (e) => {
    process.stderr.write(`rehearsal failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
