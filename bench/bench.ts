// `npm run bench`: measures the action, it asserts nothing.
//
// For fleets of 5, 100 and 1,000 instances in moto_server (127.0.0.1, a free port, a fresh
// emulator per fleet): each mode's wall time, peak memory (max RSS of the action's process) and AWS
// calls by operation (the action counts them itself and prints them in its summary footer). Beside
// it, the runbook's own phase 1 and phase 4 AWS CLI commands on the same emulator and fleet, timed in
// the same run. Then bundle size and cold start of dist/index.js. Writes bench/RESULTS.md.
//
// The action talks to the twin (twin/, a stand-in in front of moto_server), so its scripts run for
// real on simulated instances. Per mode the time is split: waiting on AWS calls (moto's answers as
// the twin forwarded them), the twin's own handling (its overhead: SSM, metrics), and the rest,
// the action's own time (its work and its poll sleeps). Fleets of up to 30 run one real worker
// process per instance; larger fleets run their services inside the twin (no process per
// instance, as issue #15 allows), while every script the action sends still runs for real on every
// instance, at most --parallel-scripts at once on this machine (default 16: on AWS each instance
// has its own CPU, here a thousand share two cores). Memory of the twin and its instances is read
// from /proc every half second (bench/proc-memory.ts): the bench process, where the twin runs, and
// every process below it except moto_server and the action's own process.
//
//   npm run bench                   all fleets
//   npm run bench -- --fleets 5,100
//   npm run bench -- --fleets 1000 --parallel-scripts 8
//   npm run bench -- --fleets 100 --out /tmp/bench-100.md   (elsewhere than bench/RESULTS.md)
//   npm run bench -- --note "the machine was shared with other work"   (a line atop RESULTS.md)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { motoAvailable, motoEnv, startMoto } from '../test/support/moto.js';
import { runDist } from '../test/support/run-dist.js';
import { seedWorld, worldClients, WORLD } from '../test/support/world.js';
import { startTwin, workerPath } from '../twin/twin.js';
import { MemorySampler } from './proc-memory.js';

interface ModeResult {
  mode: string;
  verdict: string;
  seconds: number;
  /** Time in the action's requests that the twin forwarded to moto while this mode ran. */
  awsSeconds: number;
  /** The twin's own handling time while this mode ran (its lookups in moto apart), and per SSM call. */
  twinSeconds: number;
  /** The time the twin's answers waited on its own lookups in moto (the fleet, tag targets). */
  twinMotoSeconds: number;
  twinMsPerSsmCall: number;
  maxRssMb: number;
  calls: number;
  byOperation: string;
  /** SSM calls the twin answered while this mode ran. */
  ssmCalls: number;
  /** Peak memory of the twin and its instances while this mode ran (MiB), from /proc. */
  twinPeakMb: number;
  instancesPeakMb: number;
  peakProcesses: number;
}

interface FleetResult {
  fleet: number;
  /** RSS of this process (the twin runs in it) at the end of the fleet's run, MiB. */
  twinRssMb: number;
  /** Peaks over the whole fleet run, from /proc (MiB): the twin's process, its children, both. */
  memory: MemorySampler['peak'];
  servicesInTwin: boolean;
  parallelScripts: number;
  setupSeconds: number;
  /** 1-minute load average at the fleet's start and end: how shared the machine was. */
  load: [number, number];
  modes: ModeResult[];
  runbook: { phase: string; commands: number; seconds: number }[];
}

const RSS_PRELOAD = `process.on('exit', () => { require('fs').writeSync(2, '\\nBENCH_MAXRSS_KB=' + process.resourceUsage().maxRSS + '\\n'); });`;

function parseParallel(argv: string[]): number {
  const i = argv.indexOf('--parallel-scripts');
  const n = i < 0 ? 16 : Number(argv[i + 1]);
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : 16;
}

function parseFleets(argv: string[]): number[] {
  const i = argv.indexOf('--fleets');
  if (i < 0) return [5, 100, 1000];
  return (argv[i + 1] ?? '')
    .split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n >= 1 && n <= 5000);
}

/** "AWS calls: 12 (ec2:DescribeInstances ×1, …)" from the action's summary footer. */
function callsFromSummary(summary: string): { calls: number; byOperation: string } {
  const m = /AWS calls: (\d+) \(([^)]*)\)/.exec(summary);
  return m
    ? { calls: Number(m[1]), byOperation: m[2].replace(/&#95;/g, '_') }
    : { calls: 0, byOperation: '' };
}

function aws(env: Record<string, string>, args: string[]): string {
  return execFileSync(
    'aws',
    ['--endpoint-url', env.AWS_ENDPOINT_URL, '--region', WORLD.region, '--output', 'json', ...args],
    {
      env: { ...process.env, ...env },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
}

/** The runbook's phase 1 and phase 4 commands, as written there (first reservation only and all). */
function runbookPhases(env: Record<string, string>): FleetResult['runbook'] {
  const queueUrl = JSON.parse(aws(env, ['sqs', 'get-queue-url', '--queue-name', WORLD.queueName]))
    .QueueUrl as string;
  const dlqUrl = JSON.parse(aws(env, ['sqs', 'get-queue-url', '--queue-name', WORLD.dlqName]))
    .QueueUrl as string;
  const phase1: string[][] = [
    ['sts', 'get-caller-identity'],
    ['sqs', 'get-queue-url', '--queue-name', WORLD.queueName],
    ['sqs', 'get-queue-attributes', '--queue-url', queueUrl, '--attribute-names', 'All'],
    [
      'sqs',
      'get-queue-attributes',
      '--queue-url',
      dlqUrl,
      '--attribute-names',
      'ApproximateNumberOfMessages',
    ],
    ['s3api', 'get-bucket-notification-configuration', '--bucket', WORLD.bucket],
    [
      'ec2',
      'describe-instances',
      '--filters',
      `Name=tag:Name,Values=${WORLD.tagName}`,
      'Name=instance-state-name,Values=running',
      '--query',
      'Reservations[0].Instances[*].[InstanceId,PrivateIpAddress,State.Name]',
    ],
  ];
  const now = new Date();
  const phase4: string[][] = [
    [
      'sqs',
      'get-queue-attributes',
      '--queue-url',
      queueUrl,
      '--attribute-names',
      'ApproximateNumberOfMessages',
      'ApproximateNumberOfMessagesNotVisible',
    ],
    [
      'sqs',
      'get-queue-attributes',
      '--queue-url',
      dlqUrl,
      '--attribute-names',
      'ApproximateNumberOfMessages',
    ],
    [
      'cloudwatch',
      'get-metric-statistics',
      '--namespace',
      'CISFileSearch/Worker',
      '--metric-name',
      'MessageDeleteFailed',
      '--start-time',
      new Date(now.getTime() - 600_000).toISOString(),
      '--end-time',
      now.toISOString(),
      '--period',
      '300',
      '--statistics',
      'Sum',
    ],
    [
      'ec2',
      'describe-instances',
      '--filters',
      `Name=tag:Name,Values=${WORLD.tagName}`,
      'Name=instance-state-name,Values=running',
      '--query',
      'Reservations[*].Instances[*].InstanceId',
    ],
  ];
  return [
    ['runbook phase 1 (AWS CLI)', phase1],
    ['runbook phase 4, one sample (AWS CLI)', phase4],
  ].map(([phase, commands]) => {
    const started = process.hrtime.bigint();
    for (const c of commands as string[][]) aws(env, c);
    return {
      phase: phase as string,
      commands: (commands as string[][]).length,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
    };
  });
}

async function benchFleet(fleet: number, preload: string, parallelScripts: number): Promise<FleetResult> {
  const setupStarted = process.hrtime.bigint();
  const loadAtStart = loadavg()[0];
  const moto = await startMoto();
  const servicesInTwin = fleet > 30;
  const isMoto = (cmdline: string) => cmdline.includes('moto_server') && cmdline.includes(`\0${moto.port}`);
  const actionPids = new Set<number>();
  const whole = new MemorySampler(process.pid, isMoto, actionPids);
  whole.start();
  const twin = await startTwin({
    motoEndpoint: moto.endpoint,
    region: WORLD.region,
    instanceFilters: { 'tag:Name': [WORLD.tagName] },
    queueName: WORLD.queueName,
    // The fleet starts on the fix, so verify judges a healthy deployment as before.
    initialWorker: 'fixed',
    servicesInTwin,
    maxParallelScripts: parallelScripts,
  }).catch(async (e) => {
    whole.stop();
    await moto.stop();
    throw e;
  });
  try {
    const env = motoEnv(twin.endpoint);
    const world = await seedWorld(moto.endpoint, { fleetSize: fleet, messages: 50, inFlight: 10 });
    void world;
    await twin.instances();
    const clients = worldClients(twin.endpoint);
    await clients.s3.send(
      new CreateBucketCommand({
        Bucket: 'cis-deploy-artifacts',
        CreateBucketConfiguration: { LocationConstraint: 'ap-northeast-1' },
      }),
    );
    // The fleet runs the fix from the start and drains the seeded queue before the canary, and idle
    // stand-ins log nothing: the canary has no work to show, so the bench (which measures time, not
    // verdicts) judges it on service state and error patterns. The rehearsal judges the patterns.
    const common = { 'queue-name': WORLD.queueName, 'health-patterns': 'none' };
    const plan: [string, Record<string, string>][] = [
      ['preflight', { mode: 'preflight', bucket: WORLD.bucket }],
      [
        'canary',
        {
          mode: 'canary',
          artifact: workerPath('fixed').slice(process.cwd().length + 1),
          'artifact-bucket': 'cis-deploy-artifacts',
          'canary-minutes': '0',
        },
      ],
      ['rollout', { mode: 'rollout', 'batch-size': '25%', 'pause-seconds': '0' }],
      ['verify', { mode: 'verify', 'verify-minutes': '1', 'sample-seconds': '30' }],
      ['rollback', { mode: 'rollback' }],
    ];
    let record = '';
    const modes: ModeResult[] = [];
    const setupSeconds = Number(process.hrtime.bigint() - setupStarted) / 1e9;
    for (const [mode, inputs] of plan) {
      const before = { ...twin.overhead() };
      const ssmBefore = ssmCalls(twin.overhead().byAction);
      const sampler = new MemorySampler(process.pid, isMoto, actionPids);
      sampler.start();
      const started = process.hrtime.bigint();
      const run = await runDist({ ...common, ...inputs, ...(record ? { record } : {}) }, env, {
        nodeArgs: ['--require', preload],
        timeoutMs: 40 * 60_000,
        // The action's own process is measured by its max RSS, not counted as the twin's.
        onSpawn: (pid) => actionPids.add(pid),
      });
      const mem = sampler.stop();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const after = twin.overhead();
      const ssmAfter = ssmCalls(after.byAction);
      if (run.outputs.record) record = run.outputs.record;
      const rss = /BENCH_MAXRSS_KB=(\d+)/.exec(run.stderr);
      modes.push({
        mode,
        verdict: run.outputs.verdict ?? `exit ${run.code}`,
        seconds,
        awsSeconds: (after.actionForwardMs - before.actionForwardMs) / 1000,
        twinSeconds: (after.ms - after.motoMs - (before.ms - before.motoMs)) / 1000,
        twinMotoSeconds: (after.motoMs - before.motoMs) / 1000,
        twinMsPerSsmCall:
          ssmAfter.calls > ssmBefore.calls
            ? (ssmAfter.ms - ssmAfter.motoMs - (ssmBefore.ms - ssmBefore.motoMs)) /
              (ssmAfter.calls - ssmBefore.calls)
            : 0,
        maxRssMb: rss ? Number(rss[1]) / 1024 : NaN,
        ...callsFromSummary(run.summary),
        ssmCalls: ssmAfter.calls - ssmBefore.calls,
        twinPeakMb: mem.selfMb,
        instancesPeakMb: mem.childrenMb,
        peakProcesses: mem.childCount,
      });
      process.stdout.write(
        `fleet ${fleet} ${mode}: ${run.outputs.verdict ?? run.code} in ${seconds.toFixed(2)} s; twin + instances peak ${(mem.selfMb + mem.childrenMb).toFixed(0)} MiB (${mem.childCount} processes)\n`,
      );
    }
    return {
      fleet,
      twinRssMb: process.memoryUsage().rss / 2 ** 20,
      memory: whole.stop(),
      load: [loadAtStart, loadavg()[0]],
      servicesInTwin,
      parallelScripts,
      setupSeconds,
      modes,
      // The AWS CLI straight at moto: execFileSync blocks this process, where the twin runs.
      runbook: runbookPhases(motoEnv(moto.endpoint)),
    };
  } finally {
    whole.stop();
    await twin.stop();
    await moto.stop();
  }
}

function ssmCalls(byAction: Record<string, { calls: number; ms: number; motoMs: number }>): {
  calls: number;
  ms: number;
  motoMs: number;
} {
  return Object.entries(byAction)
    .filter(([k]) => k.startsWith('ssm:'))
    .reduce((a, [, v]) => ({ calls: a.calls + v.calls, ms: a.ms + v.ms, motoMs: a.motoMs + v.motoMs }), {
      calls: 0,
      ms: 0,
      motoMs: 0,
    });
}

function coldStart(preload: string): { bundleKb: number; medianMs: number; runs: number } {
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const started = process.hrtime.bigint();
    // An input error exits right after loading and parsing: that is the cold start.
    spawnSync(process.execPath, ['--require', preload, 'dist/index.js'], {
      env: { PATH: process.env.PATH, INPUT_MODE: '' },
      encoding: 'utf8',
    });
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  return {
    bundleKb: statSync('dist/index.js').size / 1024,
    medianMs: times[Math.floor(times.length / 2)],
    runs: times.length,
  };
}

function version(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return (r.stdout || r.stderr || 'unknown').trim().split('\n')[0];
}

/** `--note TEXT`: how the machine was used while measuring (shared, other work), for the reader. */
function parseNote(argv: string[]): string | undefined {
  const i = argv.indexOf('--note');
  return i < 0 ? undefined : argv[i + 1];
}

function render(results: FleetResult[], cold: ReturnType<typeof coldStart>, note?: string): string {
  const lines: string[] = [];
  lines.push('# Benchmark results', '');
  if (note) lines.push(`> ${note.replace(/\s+/g, ' ')}`, '');
  lines.push(
    `Measured ${new Date().toISOString()} with \`npm run bench\` (reproduce: \`npm ci && npm run bench\`; moto_server must be installed, see requirements-test.txt).`,
    '',
  );
  lines.push('| machine | value |', '|---|---|');
  lines.push(`| CPU | ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length} |`);
  lines.push(`| memory | ${(totalmem() / 2 ** 30).toFixed(1)} GiB |`);
  lines.push(`| node | ${process.version} |`);
  lines.push(`| moto | ${version('python3', ['-c', 'import moto; print(moto.__version__)'])} |`);
  lines.push(`| aws cli | ${version('aws', ['--version'])} |`, '');
  lines.push(
    'Everything runs against moto_server on 127.0.0.1 through the twin, so the times measure the action, the twin and the emulator, not AWS latency. Pauses and windows are zero except verify, whose shortest window is 1 minute (so its wall time is the window). AWS calls are counted by the action itself (`AwsApi.call`, retries included).',
    '',
    'Per mode the wall time is split three ways: **waiting on AWS** is the time the action’s own requests spent in moto as the twin forwarded them (requests carrying the action’s user agent; the workers’ and the `aws` CLI’s are not counted); plus the time the calls the twin answers itself waited on the twin’s own lookups in moto (the fleet’s DescribeInstances, tag targets: the emulator’s share, which at 1,000 instances is seconds per listing); **the twin’s own** is the rest of the time the twin spent in the calls it answers (SSM, AWS/SQS metrics), with its cost per SSM call: still an upper bound, since it includes waiting for the event loop the twin shares with the instances’ bookkeeping; the rest is **the action’s own** time (its work and its poll sleeps). Memory of the twin and its instances is read from /proc every 0.5 s: the bench process (the twin runs in it) and every process below it (instance scripts and the `aws` CLI they run, worker processes), not moto_server and not the action’s process (its peak RSS is its own column).',
    '',
  );
  for (const r of results) {
    lines.push(`## Fleet of ${r.fleet}`, '');
    lines.push(
      '| mode | verdict | wall time (s) | waiting on AWS (s: the action’s requests + the twin’s lookups for it) | twin’s own (s) | SSM calls | twin ms per SSM call | action’s own (s) | twin + instances peak (MiB: twin, instances; processes) | action peak RSS (MiB) | AWS calls | by operation |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const m of r.modes) {
      lines.push(
        `| ${m.mode} | ${m.verdict} | ${m.seconds.toFixed(2)} | ${(m.awsSeconds + m.twinMotoSeconds).toFixed(2)} (${m.awsSeconds.toFixed(2)} + ${m.twinMotoSeconds.toFixed(2)}) | ${m.twinSeconds.toFixed(2)} | ${m.ssmCalls} | ${m.ssmCalls > 0 ? m.twinMsPerSsmCall.toFixed(1) : '(none)'} | ${Math.max(0, m.seconds - m.awsSeconds - m.twinMotoSeconds - m.twinSeconds).toFixed(2)} | ${(m.twinPeakMb + m.instancesPeakMb).toFixed(0)} (${m.twinPeakMb.toFixed(0)}, ${m.instancesPeakMb.toFixed(0)}; ${m.peakProcesses}) | ${m.maxRssMb.toFixed(0)} | ${m.calls} | ${m.byOperation} |`,
      );
    }
    lines.push(
      '',
      `Load average (1 min) at the fleet's start and end: ${r.load[0].toFixed(1)} and ${r.load[1].toFixed(1)} on ${cpus().length} cores (above the core count, other work shared the machine and the times are longer for it).`,
      '',
      `Twin and its instances over the whole fleet run (setup ${r.setupSeconds.toFixed(0)} s included): peak **${r.memory.totalMb.toFixed(0)} MiB** (the twin’s process ${r.memory.selfMb.toFixed(0)} MiB, its children ${r.memory.childrenMb.toFixed(0)} MiB, at most ${r.memory.childCount} processes at once); moto_server beside it ${r.memory.motoMb.toFixed(0)} MiB. ${r.servicesInTwin ? 'Services run inside the twin (no worker process per instance)' : 'One real worker process per instance'}; scripts run for real on every instance, at most ${r.parallelScripts} at once on this machine.`,
    );
    const pre = r.modes.find((m) => m.mode === 'preflight');
    lines.push(
      '',
      '| runbook (AWS CLI) | commands | wall time (s) | action equivalent | ratio (runbook / action) |',
      '|---|---|---|---|---|',
    );
    for (const p of r.runbook) {
      const action = p.phase.includes('phase 1') ? pre : undefined;
      lines.push(
        `| ${p.phase} | ${p.commands} | ${p.seconds.toFixed(2)} | ${action ? `preflight ${action.seconds.toFixed(2)} s` : 'one verify sample (inside the 60 s window)'} | ${action ? (p.seconds / action.seconds).toFixed(2) : '—'} |`,
      );
    }
    lines.push('');
  }
  lines.push('## Bundle', '', '| measure | value |', '|---|---|');
  lines.push(`| dist/index.js size | ${cold.bundleKb.toFixed(0)} KiB |`);
  lines.push(
    `| cold start (load, parse inputs, fail on a missing input; median of ${cold.runs}) | ${cold.medianMs.toFixed(0)} ms |`,
    '',
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (!motoAvailable()) {
    process.stderr.write(
      'moto_server was not found. Install it with: python3 -m pip install -r requirements-test.txt\n',
    );
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  const preload = join(dir, 'rss.cjs');
  writeFileSync(preload, RSS_PRELOAD);
  const results: FleetResult[] = [];
  const parallel = parseParallel(process.argv.slice(2));
  for (const fleet of parseFleets(process.argv.slice(2)))
    results.push(await benchFleet(fleet, preload, parallel));
  const cold = coldStart(preload);
  const text = render(results, cold, parseNote(process.argv.slice(2)));
  // The SSM-calls section belongs to bench/ssm-calls.ts: kept as it is.
  const argv = process.argv.slice(2);
  const file = argv.includes('--out')
    ? (argv[argv.indexOf('--out') + 1] ?? 'bench/RESULTS.md')
    : 'bench/RESULTS.md';
  let previous = '';
  try {
    previous = readFileSync(file, 'utf8');
  } catch {
    previous = '';
  }
  const kept = /<!-- ssm-calls[\s\S]*?<!-- \/ssm-calls -->\n?/.exec(previous)?.[0];
  writeFileSync(file, kept ? `${text}\n${kept}` : text);
  process.stdout.write(`${text}\nwrote ${file}\n`);
}

main().catch((e) => {
  process.stderr.write(`benchmark failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
