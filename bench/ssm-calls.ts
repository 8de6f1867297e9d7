// `npm run bench:ssm`: SSM calls per rollout batch at 100, 1,000 and 5,000 instances.
//
// moto cannot hold a 5,000-instance fleet behind Run Command (it reports every instance of the
// region as a target, accepts any id and implements neither ListCommandInvocations nor
// DescribeInstanceInformation), so the fleet is mocked with aws-sdk-client-mock as the SSM API
// reference describes it (test/support/ssm-fleet.ts). The fan-out runs as the rollout runs it
// (runOnFleet), on the fake clock: the figures are the calls the action makes, not timings.
// Each batch runs twice: every instance reachable, and with one instance per 500 terminated
// between discovery and the send (SendCommand answers InvalidInstanceId for its whole chunk).
// Writes its own section of bench/RESULTS.md, between the ssm-calls markers.
import { readFileSync, writeFileSync } from 'node:fs';
import { AwsApi } from '../src/aws/api.js';
import { createClients } from '../src/aws/clients.js';
import { fateOf, runOnFleet } from '../src/remote/fan-out.js';
import { fakeRuntime } from '../test/support/fakes.js';
import { ssmFleet } from '../test/support/ssm-fleet.js';

interface Row {
  batch: number;
  terminated: number;
  sends: number;
  sendBound: number;
  rounds: number;
  maxReadsPerRound: number;
  endReads: number;
  otherReads: string;
  total: number;
  succeeded: number;
  gone: number;
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `i-${i.toString(16).padStart(17, '0')}`);

async function measure(batch: number, withTerminated: boolean): Promise<Row> {
  const runtime = fakeRuntime();
  const clients = createClients('ap-northeast-1', 'bench');
  const fleet = ids(batch);
  const states = new Map<string, string>();
  const terminated = withTerminated ? fleet.filter((_, i) => i % 500 === 250) : [];
  for (const id of terminated) states.set(id, 'terminated');
  // Commands take 40 s on the instances: several poll rounds.
  ssmFleet({ clients, clock: runtime.clock, fleet, states, runMs: 40_000 });
  // Poll rounds: the ListCommands calls between two sleeps of the fan-out.
  const perRound: number[] = [];
  let inRound = 0;
  const sleep = runtime.sleep;
  runtime.sleep = async (ms) => {
    if (inRound > 0) perRound.push(inRound);
    inRound = 0;
    return sleep(ms);
  };
  const fanOutApi = new AwsApi(runtime.sleep);
  const counting = {
    call: <T>(op: string, send: () => Promise<T>) => {
      if (op === 'ssm:ListCommands') inRound++;
      return fanOutApi.call(op, send);
    },
  } as unknown as AwsApi;
  const out = await runOnFleet(counting, clients, runtime, fleet, 'true', {
    comment: 'bench',
    timeoutSeconds: 600,
    maxConcurrency: String(batch),
    maxErrors: '0',
  });
  if (inRound > 0) perRound.push(inRound);
  const calls = fanOutApi.calls;
  const sends = calls.get('ssm:SendCommand') ?? 0;
  const fates = [...out.results.values()].map(fateOf);
  const other = [...calls.entries()]
    .filter(([op]) => !['ssm:SendCommand', 'ssm:ListCommands', 'ssm:ListCommandInvocations'].includes(op))
    .map(([op, n]) => `${op} ×${n}`)
    .join(', ');
  return {
    batch,
    terminated: terminated.length,
    sends,
    sendBound: Math.ceil(batch / 50),
    rounds: perRound.length,
    maxReadsPerRound: Math.max(0, ...perRound),
    endReads: calls.get('ssm:ListCommandInvocations') ?? 0,
    otherReads: other || '—',
    total: fanOutApi.totalCalls(),
    succeeded: fates.filter((f) => f === 'success').length,
    gone: fates.filter((f) => f === 'gone').length,
  };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const batch of [100, 1000, 5000]) {
    rows.push(await measure(batch, false));
    rows.push(await measure(batch, true));
  }
  const lines = [
    '<!-- ssm-calls: written by `npm run bench:ssm` (bench/ssm-calls.ts); bench.ts leaves it alone -->',
    '## SSM calls per rollout batch',
    '',
    `Measured ${new Date().toISOString()} with \`npm run bench:ssm\`. The fleet is mocked with aws-sdk-client-mock as the SSM API reference describes it (test/support/ssm-fleet.ts): moto cannot hold it. Commands run 40 s on the instances; polls start at 2 s and grow by half. "Terminated" instances were terminated between discovery and the send: SendCommand refuses their whole chunk with InvalidInstanceId, the fan-out finds them (one DescribeInstances and one DescribeInstanceInformation per refused chunk) and sends the rest.`,
    '',
    '| batch | terminated | SendCommand | bound ⌈batch/50⌉ (+1 per refused chunk) | poll rounds | most ListCommands in a round | ListCommandInvocations (once per command, at its end) | other calls | all calls | succeeded | gone |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.batch} | ${r.terminated} | ${r.sends} | ${r.sendBound + r.terminated} | ${r.rounds} | ${r.maxReadsPerRound} | ${r.endReads} | ${r.otherReads} | ${r.total} | ${r.succeeded} | ${r.gone} |`,
    ),
    '',
    'Before this change a poll round cost one ListCommands per command (100 at 5,000 instances) and six throttled attempts of one of them ended the rollout; now a round is one listing of 50 commands a page plus at most five direct lookups, and a throttled round only delays the next.',
    '<!-- /ssm-calls -->',
  ];
  const section = lines.join('\n');
  for (const r of rows) {
    if (r.sends > r.sendBound + r.terminated) throw new Error(`batch ${r.batch}: ${r.sends} sends`);
  }
  const file = 'bench/RESULTS.md';
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf('<!-- ssm-calls');
  const end = text.indexOf('<!-- /ssm-calls -->');
  const next =
    start >= 0 && end > start
      ? `${text.slice(0, start)}${section}${text.slice(end + '<!-- /ssm-calls -->'.length)}`
      : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
  console.log(section);
}

await main();
