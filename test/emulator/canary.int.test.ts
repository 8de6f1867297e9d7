// Preflight, then canary, with the bundled action against moto_server: the artifact is a file in
// the workspace, uploaded to a moto bucket under its SHA-256; the canary is tagged and the install
// and one watch poll go through SSM Run Command. moto returns empty command output with Success,
// so the canary runs with `health-patterns: none` (judged on exit codes alone).
import { DescribeTagsCommand } from '@aws-sdk/client-ec2';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import { ListCommandsCommand, SSMClient } from '@aws-sdk/client-ssm';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { motoAvailable, motoEnv, startMoto, type Moto } from '../support/moto.js';
import { runDist } from '../support/run-dist.js';
import { seedWorld, WORLD, worldClients, type SeededWorld } from '../support/world.js';

const enabled = motoAvailable();
const describeMoto = enabled ? describe : describe.skip;

const ARTIFACT_BUCKET = 'deploy-artifacts';
const FIXED = 'import boto3\n# fixed worker: deletes every message it processed\n';
const SHA = createHash('sha256').update(FIXED).digest('hex');

describeMoto('canary against moto_server', () => {
  let moto: Moto;
  let world: SeededWorld;
  let workspace: string;
  let preflightRecord: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    moto = await startMoto();
    world = await seedWorld(moto.endpoint, { fleetSize: 3 });
    const { s3 } = worldClients(moto.endpoint);
    await s3.send(
      new CreateBucketCommand({
        Bucket: ARTIFACT_BUCKET,
        CreateBucketConfiguration: { LocationConstraint: 'ap-northeast-1' },
      }),
    );
    workspace = mkdtempSync(join(tmpdir(), 'ewd-canary-ws-'));
    writeFileSync(join(workspace, 'worker.py'), FIXED);
    env = { ...motoEnv(moto.endpoint), GITHUB_WORKSPACE: workspace };
    const pre = await runDist(
      { mode: 'preflight', 'queue-name': WORLD.queueName, 'ssm-check': 'false' },
      env,
    );
    expect(pre.code).toBe(0);
    preflightRecord = pre.outputs.record;
  }, 90_000);
  afterAll(async () => {
    await moto?.stop();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  });

  const canaryInputs = (extra: Record<string, string> = {}) => ({
    mode: 'canary',
    record: preflightRecord,
    'ssm-check': 'false',
    artifact: 'worker.py',
    'artifact-bucket': ARTIFACT_BUCKET,
    'health-patterns': 'none',
    'canary-minutes': '0',
    ...extra,
  });

  const tagsOf = async (id: string) => {
    const { ec2 } = worldClients(moto.endpoint);
    const out = await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [id] }] }));
    return Object.fromEntries((out.Tags ?? []).map((t) => [t.Key, t.Value]));
  };
  const ssmCommands = async () => {
    const ssm = new SSMClient({
      region: WORLD.region,
      endpoint: moto.endpoint,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    return (await ssm.send(new ListCommandsCommand({}))).Commands ?? [];
  };

  it('dry-run prints the script and the chosen canary, and changes nothing', async () => {
    const run = await runDist(canaryInputs({ 'dry-run': 'true' }), env);
    expect(run.stderr).not.toMatch(/TypeError|ReferenceError/);
    expect(run.code).toBe(0);
    expect(run.outputs.verdict).toBe('pass');
    expect(run.outputs['canary-instance-id']).toBe(world.instanceIds[0]);
    expect(run.stdout).toContain('# emergency-deploy install');
    expect(run.stdout).toContain(`uri='s3://${ARTIFACT_BUCKET}/emergency-deploy/${SHA}'`);
    expect(run.summary).toContain('Canary (dry-run)');
    const { s3 } = worldClients(moto.endpoint);
    expect((await s3.send(new ListObjectsV2Command({ Bucket: ARTIFACT_BUCKET }))).KeyCount ?? 0).toBe(0);
    expect(await tagsOf(world.instanceIds[0])).not.toHaveProperty('emergency-deploy:deployment-id');
    expect(await ssmCommands()).toEqual([]);
  }, 60_000);

  it('uploads the artifact, tags and installs the canary, watches it and says GO', async () => {
    const run = await runDist(canaryInputs(), env);
    expect(run.stderr).not.toMatch(/TypeError|ReferenceError/);
    expect(run.code).toBe(0);
    expect(run.outputs.verdict).toBe('go');
    const canaryId = world.instanceIds[0];
    expect(run.outputs['canary-instance-id']).toBe(canaryId);

    const record = JSON.parse(run.outputs.record);
    const key = `emergency-deploy/${SHA}`;
    expect(record.artifact).toEqual({ s3Uri: `s3://${ARTIFACT_BUCKET}/${key}`, sha256: SHA, uploaded: true });
    expect(record.instances[canaryId]).toMatchObject({ p: 'c', b: 0, s: 'installed', c: 0 });
    expect(record.commands).toHaveLength(1);
    expect(record.canary).toMatchObject({ instanceId: canaryId, verdict: 'go' });
    expect(record.canary.evidence).toMatchObject({
      decision: 'go',
      watch: { polls: 1, sinceSource: 'runner' },
    });
    expect(record.phases.map((p: { mode: string }) => p.mode)).toEqual(['preflight', 'canary']);

    const { s3 } = worldClients(moto.endpoint);
    const object = await s3.send(new GetObjectCommand({ Bucket: ARTIFACT_BUCKET, Key: key }));
    expect(await object.Body?.transformToString()).toBe(FIXED);
    expect((await s3.send(new HeadObjectCommand({ Bucket: ARTIFACT_BUCKET, Key: key }))).Metadata).toEqual({
      sha256: SHA,
    });

    expect(await tagsOf(canaryId)).toMatchObject({
      'emergency-deploy:deployment-id': record.deploymentId,
      'emergency-deploy:backup-path': `/opt/file-processor/worker.py.backup.${record.deploymentId}`,
    });
    // Only the canary was touched.
    for (const other of world.instanceIds.slice(1))
      expect(await tagsOf(other)).not.toHaveProperty('emergency-deploy:deployment-id');
    const commands = await ssmCommands();
    expect(commands.map((c) => c.Comment).sort()).toEqual([
      `emergency-deploy ${record.deploymentId} canary install`,
      `emergency-deploy ${record.deploymentId} canary watch`,
    ]);
    // (moto's ListCommands lists every instance it knows as a target, so the ids are not checked here;
    // the unit tests check that only the canary is sent to.)

    expect(run.summary).toContain(`Canary GO: ${canaryId}`);
    expect(run.summary).toContain('No health patterns');
    expect(run.summary).toContain('Approve the deployment gate');
  }, 60_000);

  it('with the default health patterns the empty output is inconclusive: NO-GO, and the record still says what was touched', async () => {
    const run = await runDist(canaryInputs({ 'health-patterns': '' }), env);
    expect(run.code).toBe(1);
    expect(run.outputs.verdict).toBe('no-go');
    expect(run.stdout).toMatch(/Canary NO-GO on i-[0-9a-f]+: .*returned no output.*inconclusive is a NO-GO/);
    const record = JSON.parse(run.outputs.record);
    expect(record.canary).toMatchObject({ instanceId: world.instanceIds[0], verdict: 'no-go' });
    expect(record.instances[world.instanceIds[0]]).toMatchObject({ p: 'c', s: 'installed' });
    expect(run.summary).toContain('Canary NO-GO');
    expect(run.summary).toContain('The rollback job restores');
  }, 60_000);

  it('refuses a canary outside the fleet before touching anything', async () => {
    const run = await runDist(canaryInputs({ 'canary-instance-id': world.otherIds[0] }), env);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`Input 'canary-instance-id' ${world.otherIds[0]} is not in the fleet`);
    expect(await tagsOf(world.otherIds[0])).not.toHaveProperty('emergency-deploy:deployment-id');
  }, 60_000);
});
