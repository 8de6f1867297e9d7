// No secret or credential value ever reaches the log, the job summary or an output. The bundle runs
// against moto_server with distinctive credentials, a session token, a GitHub token and a runner
// token in its environment, with debug logging on, through passing runs, failing runs (a bad input,
// an AWS error) and the modes that change things; then every byte it wrote is searched.
import { motoAvailable, motoEnv, startMoto, type Moto } from '../support/moto.js';
import { runDist, type DistRun } from '../support/run-dist.js';
import { seedWorld, WORLD, quickCanaryInputs } from '../support/world.js';

const enabled = motoAvailable();
const describeMoto = enabled ? describe : describe.skip;
const TIMEOUT = 180_000;

const SECRETS = {
  AWS_SECRET_ACCESS_KEY: 'ewdSecretAccessKey/NeverInTheLog+9f8e7d6c5b4a3',
  AWS_SESSION_TOKEN: 'IQoJb3JpZ2luX2VjEwdSessionTokenNeverInTheLog0123456789abcdefABCDEF==',
  GITHUB_TOKEN: 'ghp_EwdGithubTokenNeverInTheLog0123456789',
  ACTIONS_RUNTIME_TOKEN: 'ewd-actions-runtime-token-never-in-the-log',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'ewd-oidc-request-token-never-in-the-log',
};

/** Every secret, and pieces of it long enough to matter (a value cut short still leaks). */
function fragments(): string[] {
  return Object.values(SECRETS).flatMap((s) => [s, s.slice(0, 16), s.slice(-16)]);
}

function leaks(run: DistRun): string[] {
  const written = [run.stdout, run.stderr, run.summary, ...Object.values(run.outputs)].join('\n');
  const encoded = [written, Buffer.from(written).toString('base64')].join('\n');
  return fragments().filter((f) => encoded.includes(f) || written.includes(encodeURIComponent(f)));
}

describeMoto('secrets never reach the log, the summary or the outputs', () => {
  let moto: Moto;
  let env: Record<string, string>;
  const runs: { name: string; run: DistRun }[] = [];
  const common = { 'queue-name': WORLD.queueName, 'ssm-check': 'false' };

  beforeAll(async () => {
    moto = await startMoto();
    await seedWorld(moto.endpoint, { fleetSize: 3 });
    env = {
      ...motoEnv(moto.endpoint),
      AWS_ACCESS_KEY_ID: 'AKIAEWDTESTNOTSECRET',
      ...SECRETS,
      // core.debug prints only with RUNNER_DEBUG: on, so debug output is searched too.
      RUNNER_DEBUG: '1',
      ACTIONS_STEP_DEBUG: 'true',
    };
  }, TIMEOUT);
  afterAll(async () => moto?.stop());

  it(
    'through preflight, canary, a dry-run rollout, rollback, a bad input and an AWS error',
    async () => {
      const pre = await runDist({ mode: 'preflight', ...common, bucket: WORLD.bucket }, env);
      runs.push({ name: 'preflight', run: pre });
      expect(pre.code).toBe(0);

      const canary = await runDist({ ...common, ...quickCanaryInputs(pre.outputs.record) }, env);
      runs.push({ name: 'canary', run: canary });
      expect(canary.outputs.record).toContain('"canary"');

      const rollout = await runDist(
        { mode: 'rollout', ...common, record: canary.outputs.record, 'dry-run': 'true' },
        env,
      );
      runs.push({ name: 'rollout dry-run', run: rollout });

      const rollback = await runDist({ mode: 'rollback', ...common, record: canary.outputs.record }, env);
      runs.push({ name: 'rollback', run: rollback });
      expect(rollback.outputs.record).toContain('"rollback"');

      const badInput = await runDist({ mode: 'preflight', ...common, 'service-name': 'x; reboot' }, env);
      runs.push({ name: 'bad input', run: badInput });
      expect(badInput.code).not.toBe(0);

      const awsError = await runDist({ mode: 'preflight', 'queue-name': 'no-such-queue' }, env);
      runs.push({ name: 'AWS error', run: awsError });
      expect(awsError.code).not.toBe(0);
      expect(awsError.stdout).toContain('no-such-queue');

      for (const { name, run } of runs) expect({ name, leaks: leaks(run) }).toEqual({ name, leaks: [] });
      // The search does find a value that is written: the checker is not blind.
      expect(leaks({ ...pre, stdout: `${pre.stdout}${SECRETS.GITHUB_TOKEN.slice(0, 16)}` })).toHaveLength(1);
    },
    TIMEOUT,
  );
});
