// `npm run rehearse`: the whole deployment, on this machine, through the twin (twin/, a stand-in in
// front of moto_server that runs the action's scripts for real on simulated instances).
//
// Per scenario: starts moto_server on 127.0.0.1 (a free port) and the twin in front of it, seeds the
// runbook's world (the broken worker running on every instance), an upload producer, and runs the
// bundled dist/index.js through preflight, canary, rollout and verify in the workflow's order,
// exactly as the runner would, with the action's defaults (health and error patterns, ssm-check,
// check-services); only the windows are shortened, and the summary says by how much. When a step
// fails, rollback runs with the latest record, as the workflow's rollback job does.
//
//   npm run rehearse                        every scenario, 5 instances
//   npm run rehearse -- --scenario loop     the "fix" still never deletes: no GO, rollback
//   npm run rehearse -- --scenario crash    the fix dies at start: crash loop, NO-GO, rollback
//   npm run rehearse -- --scenario agent-lost   one agent drops mid-rollout
//   npm run rehearse -- --fleet 10 --out .rehearsal
import { PutMetricDataCommand, CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startTwin, workerPath, type Twin, type WorkerKind } from '../twin/twin.js';
import { motoAvailable, motoEnv, startMoto, type Moto } from '../test/support/moto.js';
import { runDist, type DistRun } from '../test/support/run-dist.js';
import { seedWorld, WORLD } from '../test/support/world.js';
import { parseRecord } from '../src/record.js';
import { writeReport } from '../src/record-tool.js';
import type { Approval } from '../src/summary/deployment-log.js';
import { renderHtmlPage } from './html.js';
import { UploadProducer } from './stand-ins.js';

export const SCENARIOS = ['healthy', 'loop', 'crash', 'agent-lost'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface Options {
  scenarios: Scenario[];
  fleet: number;
  out: string;
  serial: boolean;
}

const USAGE = `usage: npm run rehearse -- [--scenario all|${SCENARIOS.join('|')}] [--fleet 2..50] [--out DIR] [--serial]`;
const HELP = `${USAGE}

Rehearses the whole chain (preflight, canary, rollout, verify, rollback when a step fails) on this
machine: moto_server and the twin on 127.0.0.1, simulated instances that run the action's real
scripts, dist/index.js run exactly as the runner does. About 3 minutes for every scenario.

  --scenario  healthy     the fix deletes what it processes: GO, rollout, verify passes
              loop        the "fix" still never deletes: no GO, rollback restores the original
              crash       the fix exits at start: crash loop, NO-GO, rollback
              agent-lost  one SSM agent drops mid-rollout: counted against the error budget
              all         every scenario (the default), side by side
  --fleet N   instances in the fleet (default 5)
  --out DIR   where the pages, records and reports go (default .rehearsal)
  --serial    run the scenarios one after another instead of side by side
  --help      this text
`;

/** A bad command line: one line of usage, no stack trace. */
class UsageError extends Error {}

function parseArgs(argv: string[]): Options | 'help' {
  if (argv.includes('--help') || argv.includes('-h')) return 'help';
  const opts: Options = { scenarios: [...SCENARIOS], fleet: 5, out: '.rehearsal', serial: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--serial') {
      opts.serial = true;
      continue;
    }
    if (flag === '--scenario' && value === 'all') opts.scenarios = [...SCENARIOS];
    else if (flag === '--scenario' && (SCENARIOS as readonly string[]).includes(value ?? ''))
      opts.scenarios = [value as Scenario];
    else if (flag === '--fleet' && /^\d+$/.test(value ?? '') && Number(value) >= 2 && Number(value) <= 50)
      opts.fleet = Number(value);
    else if (flag === '--out' && value) opts.out = value;
    else throw new UsageError(`unknown or bad argument: ${[flag, value].filter(Boolean).join(' ')}`);
    i++;
  }
  return opts;
}

const ARTIFACT_BUCKET = 'cis-deploy-artifacts';
/** What each scenario deploys (twin/workers/): the fix, or a "fix" that is not one. */
const ARTIFACT: Record<Scenario, WorkerKind> = {
  healthy: 'fixed',
  loop: 'looping',
  crash: 'crash',
  'agent-lost': 'fixed',
};
// The windows, shortened from the action's defaults; everything else is the action's default.
export const SHORTENED: [string, string, string][] = [
  ['canary-minutes', '5', '0'],
  ['poll-seconds', '30', '5'],
  ['pause-seconds', '120', '0'],
  ['verify-minutes', '10', '1'],
  ['sample-seconds', '60', '10'],
];
/** SSM's delivery timeout (the action asks for 300 s) as the twin applies it to a dropped agent. */
const DELIVERY_TIMEOUT_S = 15;

function log(message: string): void {
  process.stdout.write(`[rehearse ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export interface Step {
  name: string;
  run: DistRun;
  seconds: number;
}

export interface ScenarioResult {
  scenario: Scenario;
  steps: Step[];
  asExpected: boolean;
  why: string;
  seconds: number;
  notes: string[];
}

/** What each scenario must end as (README, "Rehearsal"). */
export function judge(scenario: Scenario, steps: Step[]): { ok: boolean; why: string } {
  const get = (n: string) => steps.find((s) => s.name === n);
  const verdict = (n: string) => get(n)?.run.outputs.verdict;
  const rolledBack = verdict('rollback') === 'pass';
  switch (scenario) {
    case 'healthy':
      return verdict('canary') === 'go' && verdict('verify') === 'pass' && !get('rollback')
        ? { ok: true, why: 'GO, rollout, verify passed, nothing rolled back' }
        : {
            ok: false,
            why: `expected GO and a passing verify; got canary ${verdict('canary')}, verify ${verdict('verify')}`,
          };
    case 'loop':
      return (verdict('canary') !== 'go' || verdict('verify') === 'fail') && rolledBack
        ? {
            ok: true,
            why: `canary ${verdict('canary')}${get('verify') ? `, verify ${verdict('verify')}` : ''}, rollback restored`,
          }
        : {
            ok: false,
            why: `expected no GO (or a failed verify) and a rollback; got canary ${verdict('canary')}, rollback ${verdict('rollback')}`,
          };
    case 'crash':
      return verdict('canary') === 'no-go' && rolledBack
        ? { ok: true, why: 'crash loop: NO-GO, rollback restored' }
        : {
            ok: false,
            why: `expected NO-GO and a rollback; got canary ${verdict('canary')}, rollback ${verdict('rollback')}`,
          };
    case 'agent-lost': {
      const rollout = get('rollout')?.run;
      const reported = rollout
        ? /ConnectionLost|Delivery Timed Out|undeliver|not online|unreachable/i.test(
            rollout.summary + rollout.stdout,
          )
        : false;
      // Mid-rollout: at least one batch was sent before the agent dropped (not refused up front).
      const batches = Number(/\| Batches this run \| (\d+) \|/.exec(rollout?.summary ?? '')?.[1] ?? 0);
      return verdict('canary') === 'go' && rollout && reported && batches > 0
        ? {
            ok: true,
            why: `the agent dropped after ${batches} batch(es) were sent; rollout reported it (verdict ${verdict('rollout')})${get('rollback') ? `; rollback ${verdict('rollback')} (the lost instance is named on the rollback page)` : ''}`,
          }
        : {
            ok: false,
            why: `expected the rollout to send a batch and then report the dropped agent; got rollout ${verdict('rollout')}, ${batches} batch(es), ${reported ? 'reported' : 'not reported'}`,
          };
    }
  }
}

/**
 * The production environment's review as GitHub's run-approvals API would return it: the rehearsal
 * has no GitHub, so whoever rehearses is the approver of the gated rollout (a stand-in, named so);
 * where no rollout ran, no gate was reached and there is no review.
 */
export function rehearsalApprovals(steps: Step[]): Approval[] {
  return steps.some((s) => s.name === 'rollout')
    ? [
        {
          user: 'rehearsal-approver',
          state: 'approved',
          comment: 'rehearsal stand-in for the production environment review',
          environments: ['production'],
        },
      ]
    : [];
}

export async function runScenario(
  scenario: Scenario,
  opts: Pick<Options, 'fleet'> & {
    /** Windows other than SHORTENED's (a test's, e.g. a canary that watches one minute). */
    windows?: Record<string, string>;
  },
  stop: { stopping: boolean; pids: Set<number> },
): Promise<ScenarioResult> {
  const started = Date.now();
  const steps: Step[] = [];
  const notes: string[] = [];
  let moto: Moto | undefined;
  let twin: Twin | undefined;
  let producer: UploadProducer | undefined;
  let producing: Promise<void> | undefined;
  let metricTimer: NodeJS.Timeout | undefined;
  try {
    log(`scenario ${scenario}, fleet of ${opts.fleet}: starting moto_server and the twin on 127.0.0.1`);
    moto = await startMoto();
    // Messages the broken fleet leaves in flight come back after 30 s, as in the incident.
    const world = await seedWorld(moto.endpoint, {
      fleetSize: opts.fleet,
      messages: 40,
      inFlight: 0,
      visibilityTimeout: 30,
    });
    twin = await startTwin({
      motoEndpoint: moto.endpoint,
      region: WORLD.region,
      instanceFilters: { 'tag:Name': [WORLD.tagName] },
      queueName: WORLD.queueName,
      initialWorker: 'broken',
      deliveryTimeoutMs: DELIVERY_TIMEOUT_S * 1000,
      log,
    });
    notes.push(
      twin.isolated ? `twin: ${twin.isolationNote}` : `twin: scripts not isolated (${twin.isolationNote})`,
    );
    const env = motoEnv(twin.endpoint);
    const creds = { accessKeyId: 'testing', secretAccessKey: 'testing' };
    const s3 = new S3Client({
      region: WORLD.region,
      endpoint: twin.endpoint,
      credentials: creds,
      forcePathStyle: true,
    });
    await s3.send(
      new CreateBucketCommand({
        Bucket: ARTIFACT_BUCKET,
        CreateBucketConfiguration: { LocationConstraint: 'ap-northeast-1' },
      }),
    );
    const cloudwatch = new CloudWatchClient({
      region: WORLD.region,
      endpoint: twin.endpoint,
      credentials: creds,
    });
    // The workers' own deletion-failure metric, as the fleet's metric agent publishes it: a count
    // every 20 s (zero: the stand-in workers' deletes do not fail), so verify's window holds data.
    const putDeleteFailed = () =>
      cloudwatch.send(
        new PutMetricDataCommand({
          Namespace: 'CISFileSearch/Worker',
          MetricData: [{ MetricName: 'MessageDeleteFailed', Value: 0, Unit: 'Count' }],
        }),
      );
    await putDeleteFailed();
    metricTimer = setInterval(() => void putDeleteFailed().catch(() => undefined), 20_000);
    // Uploads keep arriving through the twin: S3 notifications into the queue, counted as sent.
    producer = new UploadProducer(s3, WORLD.bucket);
    producing = producer.run(5, 1000, 1500).catch((e) => log(`producer stopped: ${(e as Error).message}`));

    let record = '';
    // `during` is polled while the step runs until it says it is done (returns true).
    const step = async (
      name: string,
      inputs: Record<string, string>,
      during?: () => boolean,
    ): Promise<DistRun> => {
      if (stop.stopping) throw new Error(`not starting ${name}: the rehearsal is stopping`);
      log(`▶ ${scenario}: ${name}`);
      const t0 = Date.now();
      const timer = during
        ? setInterval(() => {
            if (during()) clearInterval(timer);
          }, 200)
        : undefined;
      let pid: number | undefined;
      const run = await runDist({ ...inputs, ...(record ? { record } : {}) }, env, {
        timeoutMs: 15 * 60_000,
        onSpawn: (p) => {
          pid = p;
          stop.pids.add(p);
        },
      });
      clearInterval(timer);
      if (pid) stop.pids.delete(pid);
      const seconds = (Date.now() - t0) / 1000;
      steps.push({ name, run, seconds });
      if (run.outputs.record) record = run.outputs.record;
      for (const line of run.stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('::')))
        process.stdout.write(`    [${scenario}] ${line}\n`);
      log(
        `◀ ${scenario}: ${name}: ${run.outputs.verdict ?? 'no verdict'} (exit ${run.code}) in ${seconds.toFixed(1)} s`,
      );
      return run;
    };
    const windows = { ...Object.fromEntries(SHORTENED.map(([k, , v]) => [k, v])), ...opts.windows };
    // agent-lost: once the rollout's first batch is sent (a command the twin had not seen before
    // the rollout), the agent of an instance that batch does not hold stops answering, so a later
    // batch meets it: mid-rollout, as the scenario says.
    let commandsBefore = new Set<string>();
    let dropped = '';
    const dropMidRollout = (): boolean => {
      if (!twin) return true;
      const snap = twin.ssm.snapshot();
      const fresh = snap.filter((x) => !commandsBefore.has(x.commandId));
      if (fresh.length === 0) return false;
      const touched = new Set(snap.map((x) => x.instanceId));
      const target = [...world.instanceIds].sort().find((id) => !touched.has(id));
      if (!target) {
        log('agent-lost: every instance already had a command: no agent left to drop');
        return true;
      }
      dropped = target;
      log(
        `agent-lost: the rollout sent its first batch; the SSM agent of ${target} stops answering (PingStatus ConnectionLost)`,
      );
      twin.dropAgent(target);
      return true;
    };
    const plan: [string, Record<string, string>, (() => boolean)?][] = [
      ['preflight', { mode: 'preflight', 'queue-name': WORLD.queueName, bucket: WORLD.bucket }],
      [
        'canary',
        {
          mode: 'canary',
          artifact: workerPath(ARTIFACT[scenario]).slice(process.cwd().length + 1),
          'artifact-bucket': ARTIFACT_BUCKET,
          'canary-minutes': windows['canary-minutes'],
          'poll-seconds': windows['poll-seconds'],
        },
      ],
      [
        'rollout',
        { mode: 'rollout', 'batch-size': '50%', 'pause-seconds': windows['pause-seconds'] },
        scenario === 'agent-lost' ? dropMidRollout : undefined,
      ],
      [
        'verify',
        {
          mode: 'verify',
          'verify-minutes': windows['verify-minutes'],
          'sample-seconds': windows['sample-seconds'],
        },
      ],
    ];
    let failed = false;
    for (const [name, inputs, during] of plan) {
      if (name === 'rollout') commandsBefore = new Set(twin.ssm.snapshot().map((x) => x.commandId));
      const run = await step(name, inputs, during);
      if (run.code !== 0) {
        failed = true;
        break;
      }
    }
    if (failed) {
      log(`${scenario}: a step failed: running rollback with the latest record, as the workflow does`);
      await step('rollback', { mode: 'rollback' });
    }
    const o = twin.overhead();
    notes.push(`twin overhead: ${o.calls} calls answered by the twin in ${o.ms.toFixed(0)} ms`);
    if (dropped) notes.push(`agent dropped mid-rollout: ${dropped}`);
    const verdict = judge(scenario, steps);
    return {
      scenario,
      steps,
      asExpected: verdict.ok,
      why: verdict.why,
      seconds: (Date.now() - started) / 1000,
      notes,
    };
  } finally {
    clearInterval(metricTimer);
    producer?.stop();
    if (producing) await Promise.race([producing, new Promise((r) => setTimeout(r, 3000))]);
    await twin?.stop();
    await moto?.stop();
  }
}

async function main(): Promise<number> {
  const parsed = parseArgs(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const opts = parsed;
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
  const stop: { stopping: boolean; pids: Set<number> } = { stopping: false, pids: new Set() };
  // Ctrl-C or a kill must not leave an emulator, the twin's instances or an action process behind:
  // the scenario's finally stops them once the action it waits on has gone.
  const killAction = () => {
    for (const pid of stop.pids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', killAction);
  const onSignal = (signal: NodeJS.Signals) => {
    stop.stopping = true;
    log(`${signal}: stopping everything this rehearsal started`);
    killAction();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const started = Date.now();
  const one = async (scenario: Scenario): Promise<ScenarioResult> => {
    let r: ScenarioResult;
    try {
      r = await runScenario(scenario, opts, stop);
    } catch (e) {
      log(`${scenario}: ${(e as Error).message}`);
      r = { scenario, steps: [], asExpected: false, why: (e as Error).message, seconds: 0, notes: [] };
    }
    log(`${scenario}: ${r.asExpected ? 'as expected' : 'NOT as expected'}: ${r.why}`);
    return r;
  };
  // The scenarios are independent worlds (a moto_server and a twin each): side by side by default,
  // which is what keeps the whole rehearsal within a few minutes; --serial runs one after another.
  const results: ScenarioResult[] = [];
  if (opts.serial) {
    for (const scenario of opts.scenarios) if (!stop.stopping) results.push(await one(scenario));
  } else {
    results.push(...(await Promise.all(opts.scenarios.map(one))));
  }
  const logs = await deploymentLogs(outDir, results);
  writeReports(outDir, opts, results, (Date.now() - started) / 1000, logs);
  return results.every((r) => r.asExpected) && results.length === opts.scenarios.length ? 0 : 1;
}

/**
 * The report job's step at the end of each scenario: `record-tool report` on its last record writes
 * the runbook's Deployment Log, the incident report and both notifications to report-<scenario>/.
 */
export async function deploymentLogs(
  outDir: string,
  results: ScenarioResult[],
): Promise<Map<string, string>> {
  const logs = new Map<string, string>();
  for (const r of results) {
    const last = [...r.steps].reverse().find((s) => s.run.outputs.record);
    if (!last) continue;
    const raw = last.run.outputs.record;
    const written = await writeReport(parseRecord(raw), raw, join(outDir, `report-${r.scenario}`), {
      now: new Date(),
      approvals: rehearsalApprovals(r.steps),
    });
    logs.set(r.scenario, written.log);
  }
  return logs;
}

function writeReports(
  outDir: string,
  opts: Options,
  results: ScenarioResult[],
  seconds: number,
  logs: Map<string, string>,
): void {
  const shortened = SHORTENED.map(([k, from, to]) => `| \`${k}\` | ${from} | ${to} |`).join('\n');
  const header = `# Rehearsal: ${results.map((r) => r.scenario).join(', ')}; ${opts.fleet} instances, ${seconds.toFixed(0)} s

Run through the twin (a stand-in for the fleet in front of moto_server: the action's scripts run for
real on simulated instances). The action's defaults apply (health patterns, error patterns,
\`ssm-check: true\`, \`check-services: true\`); only the windows are shortened:

| input | default | in this rehearsal |
| --- | --- | --- |
${shortened}
| SSM delivery timeout of a dropped agent (twin) | 300 s | ${DELIVERY_TIMEOUT_S} s |

The production environment's review that gates the rollout is played by a stand-in
(\`rehearsal-approver\` in the Deployment Log): the rehearsal has no GitHub to ask.

${results
  .map(
    (r) =>
      `- **${r.scenario}**: ${r.asExpected ? 'as expected' : '**NOT as expected**'} (${r.why}; ${r.seconds.toFixed(0)} s): ${r.steps
        .map((s) => `${s.name} ${s.run.outputs.verdict ?? 'no verdict'} (${s.seconds.toFixed(0)} s)`)
        .join(' → ')}${r.notes.length ? `\n  - ${r.notes.join('\n  - ')}` : ''}`,
  )
  .join('\n')}
`;
  const sections = results.map((r) =>
    [
      `# Scenario ${r.scenario}`,
      ...r.steps.map((s) => s.run.summary),
      ...(logs.has(r.scenario) ? [logs.get(r.scenario) as string] : []),
    ].join('\n\n---\n\n'),
  );
  const markdown = [header, ...sections].join('\n\n---\n\n');
  writeFileSync(join(outDir, 'summary.md'), markdown);
  writeFileSync(
    join(outDir, 'summary.html'),
    renderHtmlPage(`Rehearsal (${results.map((r) => r.scenario).join(', ')})`, markdown),
  );
  for (const r of results) {
    const last = [...r.steps].reverse().find((s) => s.run.outputs.record);
    if (last) writeFileSync(join(outDir, `record-${r.scenario}.json`), last.run.outputs.record);
  }
  log(`wrote ${join(outDir, 'summary.md')} and ${join(outDir, 'summary.html')}`);
}

// Run as `npm run rehearse`; imported (the rehearsal's tests), it only exports its parts.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href)
  main().then(
    (code) => {
      if (!process.argv.includes('--help') && !process.argv.includes('-h'))
        log(code === 0 ? 'rehearsal finished as expected' : 'rehearsal did NOT end as the scenarios expect');
      process.exit(code);
    },
    (e) => {
      if (e instanceof UsageError) {
        process.stderr.write(`${e.message}\n${USAGE}\n`);
        process.exit(2);
      }
      process.stderr.write(`rehearsal failed: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
