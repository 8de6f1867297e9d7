// The artifact: s3:// used as it is (with a checksum from the input, the record or our own upload
// metadata), or a workspace file read, checksummed and uploaded under its SHA-256.
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifactKey, resolveArtifact, sha256Hex } from '../../src/artifact.js';
import { InputError } from '../../src/errors.js';
import { awsError, testContext, type RawInputs } from '../support/context.js';

const FIXED = Buffer.from('print("fixed worker")\n');
const SHA = sha256Hex(FIXED);
let workspace: string;

beforeEach(() => {
  workspace = mkdtempSync(join(tmpdir(), 'ewd-workspace-'));
  mkdirSync(join(workspace, 'build'));
  writeFileSync(join(workspace, 'build', 'worker.py'), FIXED);
});
afterEach(() => rmSync(workspace, { recursive: true, force: true }));

function setup(raw: RawInputs) {
  const t = testContext({ mode: 'canary', ...raw });
  t.ctx.workspace = workspace;
  const s3 = mockClient(t.ctx.clients.s3);
  return { ...t, s3 };
}

describe('a workspace artifact', () => {
  it('is checksummed and uploaded under prefix + SHA-256, with S3 verifying the body', async () => {
    const { ctx, s3 } = setup({
      artifact: 'build/worker.py',
      'artifact-bucket': 'deploy-artifacts',
      'artifact-prefix': 'fixes',
    });
    s3.on(PutObjectCommand).resolves({});
    const a = await resolveArtifact(ctx);
    expect(a).toEqual({
      s3Uri: `s3://deploy-artifacts/fixes/${SHA}`,
      bucket: 'deploy-artifacts',
      key: `fixes/${SHA}`,
      sha256: SHA,
      uploaded: true,
      shaSource: 'computed',
      size: FIXED.length,
    });
    const put = s3.commandCalls(PutObjectCommand)[0].args[0].input;
    expect(put).toMatchObject({
      Bucket: 'deploy-artifacts',
      Key: `fixes/${SHA}`,
      ChecksumSHA256: Buffer.from(SHA, 'hex').toString('base64'),
      Metadata: { sha256: SHA },
    });
    expect(Buffer.from(put.Body as Buffer).equals(FIXED)).toBe(true);
    expect(artifactKey('emergency-deploy/', SHA)).toBe(`emergency-deploy/${SHA}`);
  });

  it('is not uploaded in a dry run', async () => {
    const { ctx, s3 } = setup({
      artifact: 'build/worker.py',
      'artifact-bucket': 'deploy-artifacts',
      'dry-run': 'true',
    });
    const a = await resolveArtifact(ctx);
    expect(a.s3Uri).toBe(`s3://deploy-artifacts/emergency-deploy/${SHA}`);
    expect(s3.calls()).toHaveLength(0);
  });

  it('must match artifact-sha256 when both are given', async () => {
    const { ctx, s3 } = setup({
      artifact: 'build/worker.py',
      'artifact-bucket': 'b-artifacts',
      'artifact-sha256': 'b'.repeat(64),
    });
    await expect(resolveArtifact(ctx)).rejects.toThrow(
      `Input 'artifact-sha256' is ${'b'.repeat(64)}, but build/worker.py has SHA-256 ${SHA}`,
    );
    expect(s3.calls()).toHaveLength(0);
  });

  it('must exist, be a non-empty file and stay inside the workspace (symlinks included)', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'ewd-outside-'));
    writeFileSync(join(outside, 'secret'), 'x');
    symlinkSync(join(outside, 'secret'), join(workspace, 'link.py'));
    writeFileSync(join(workspace, 'empty.py'), '');
    try {
      for (const [path, message] of [
        ['missing.py', /does not exist in the workspace/],
        ['build', /is not a file/],
        ['empty.py', /is empty/],
        ['link.py', /resolves outside the workspace/],
      ] as const) {
        const { ctx } = setup({ artifact: path, 'artifact-bucket': 'b-artifacts' });
        const err = await resolveArtifact(ctx).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InputError);
        expect((err as Error).message).toMatch(message);
      }
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe('an s3:// artifact', () => {
  const uri = 's3://deploy-artifacts/fixes/worker.py';

  it('is used as it is with the given SHA-256, after checking it exists', async () => {
    const { ctx, s3 } = setup({ artifact: uri, 'artifact-sha256': SHA });
    s3.on(HeadObjectCommand).resolves({ ContentLength: 22 });
    expect(await resolveArtifact(ctx)).toMatchObject({
      s3Uri: uri,
      sha256: SHA,
      uploaded: false,
      shaSource: 'input',
      size: 22,
    });
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('takes the SHA-256 this action stored when it uploaded the object, or the record’s', async () => {
    const { ctx, s3 } = setup({ artifact: uri });
    s3.on(HeadObjectCommand).resolves({ ContentLength: 22, Metadata: { sha256: SHA } });
    expect(await resolveArtifact(ctx)).toMatchObject({ sha256: SHA, shaSource: 'object-metadata' });
    const other = setup({ artifact: uri });
    other.s3.on(HeadObjectCommand).resolves({ ContentLength: 22 });
    expect(await resolveArtifact(other.ctx, { s3Uri: uri, sha256: SHA })).toMatchObject({
      sha256: SHA,
      shaSource: 'record',
    });
  });

  it('refuses without any SHA-256, when it does not exist, or when the given SHA-256 contradicts the upload', async () => {
    const a = setup({ artifact: uri });
    a.s3.on(HeadObjectCommand).resolves({ ContentLength: 22 });
    await expect(resolveArtifact(a.ctx)).rejects.toThrow(
      /Input 'artifact-sha256' is required for s3:\/\/deploy-artifacts/,
    );
    const b = setup({ artifact: uri, 'artifact-sha256': SHA });
    b.s3.on(HeadObjectCommand).rejects(awsError('NotFound', 404));
    await expect(resolveArtifact(b.ctx)).rejects.toThrow(/does not exist/);
    const c = setup({ artifact: uri, 'artifact-sha256': SHA });
    c.s3.on(HeadObjectCommand).resolves({ ContentLength: 22, Metadata: { sha256: 'c'.repeat(64) } });
    await expect(resolveArtifact(c.ctx)).rejects.toThrow(/was uploaded with SHA-256 c{64}/);
  });
});

describe('no artifact input', () => {
  it('uses the record’s artifact, or says it is required', async () => {
    const { ctx } = setup({});
    expect(
      await resolveArtifact(ctx, { s3Uri: `s3://deploy-artifacts/x/${SHA}`, sha256: SHA }),
    ).toMatchObject({
      bucket: 'deploy-artifacts',
      key: `x/${SHA}`,
      shaSource: 'record',
    });
    await expect(resolveArtifact(ctx)).rejects.toThrow(/Input 'artifact' is required/);
  });
});
