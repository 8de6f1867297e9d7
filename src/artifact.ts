// The new worker file: an s3:// object used as it is, or a workspace file the action reads,
// checksums and uploads under a key named with its SHA-256. Either way every instance verifies
// that SHA-256 before it installs anything.
import { createHash } from 'node:crypto';
import { readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { headObject, putArtifact } from './aws/s3.js';
import { Input } from './constants.js';
import type { ModeContext } from './context.js';
import { InputError } from './errors.js';
import { S3_URI } from './patterns.js';

/** A worker file larger than this is surely the wrong file. */
export const MAX_ARTIFACT_BYTES = 100 * 1024 * 1024;

export interface ResolvedArtifact {
  s3Uri: string;
  bucket: string;
  key: string;
  sha256: string;
  /** true when this run read it from the workspace (and uploaded it, unless dry-run) */
  uploaded: boolean;
  /** where the SHA-256 came from */
  shaSource: 'input' | 'computed' | 'object-metadata' | 'record';
  size?: number;
}

export function sha256Hex(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

/** The key an uploaded artifact gets: the prefix, then its SHA-256. */
export function artifactKey(prefix: string, sha256: string): string {
  return `${prefix}${sha256}`;
}

/** Reads a workspace file, refusing anything that resolves outside the workspace (symlinks too). */
export async function readWorkspaceFile(workspace: string, path: string): Promise<Buffer> {
  const root = await realpath(workspace);
  let full: string;
  try {
    full = await realpath(resolve(root, path));
  } catch {
    throw new InputError(
      Input.Artifact,
      `names ${JSON.stringify(path)}, which does not exist in the workspace`,
    );
  }
  const rel = relative(root, full);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new InputError(
      Input.Artifact,
      `names ${JSON.stringify(path)}, which resolves outside the workspace`,
    );
  }
  const info = await stat(full);
  if (!info.isFile())
    throw new InputError(Input.Artifact, `names ${JSON.stringify(path)}, which is not a file`);
  if (info.size === 0) throw new InputError(Input.Artifact, `names ${JSON.stringify(path)}, which is empty`);
  if (info.size > MAX_ARTIFACT_BYTES) {
    throw new InputError(
      Input.Artifact,
      `names a file of ${info.size} bytes; at most ${MAX_ARTIFACT_BYTES} are accepted`,
    );
  }
  return readFile(full);
}

/**
 * Resolves the `artifact` input to an S3 location and a SHA-256. With dry-run nothing is uploaded
 * (the location is where it would go). An s3:// artifact needs `artifact-sha256`, unless the
 * object carries the checksum this action stores when it uploads, or the record already has it.
 */
export async function resolveArtifact(
  ctx: ModeContext,
  known?: { s3Uri: string; sha256: string },
): Promise<ResolvedArtifact> {
  const { inputs, api, clients } = ctx;
  const source = inputs.artifact;
  if (source.kind === 'none') {
    if (known) {
      const m = S3_URI.exec(known.s3Uri);
      if (m)
        return {
          s3Uri: known.s3Uri,
          bucket: m[1],
          key: m[2],
          sha256: known.sha256,
          uploaded: false,
          shaSource: 'record',
        };
    }
    throw new InputError(Input.Artifact, 'is required: s3://bucket/key, or a path in the workspace');
  }

  if (source.kind === 's3') {
    const head = await headObject(api, clients, source.bucket, source.key);
    if (!head)
      throw new InputError(Input.Artifact, `names ${source.uri}, which does not exist (or cannot be read)`);
    if (head.size > MAX_ARTIFACT_BYTES) {
      throw new InputError(
        Input.Artifact,
        `is ${head.size} bytes; at most ${MAX_ARTIFACT_BYTES} are accepted`,
      );
    }
    let sha256 = inputs.artifactSha256;
    let shaSource: ResolvedArtifact['shaSource'] = 'input';
    if (!sha256 && known && known.s3Uri === source.uri) {
      sha256 = known.sha256;
      shaSource = 'record';
    }
    if (!sha256 && head.sha256 && /^[0-9a-f]{64}$/.test(head.sha256)) {
      sha256 = head.sha256;
      shaSource = 'object-metadata';
    }
    if (!sha256) {
      throw new InputError(
        Input.ArtifactSha256,
        `is required for ${source.uri}: the object carries no checksum from this action, and every instance must verify one`,
      );
    }
    if (inputs.artifactSha256 && head.sha256 && head.sha256 !== inputs.artifactSha256) {
      throw new InputError(
        Input.ArtifactSha256,
        `is ${inputs.artifactSha256}, but ${source.uri} was uploaded with SHA-256 ${head.sha256}`,
      );
    }
    return {
      s3Uri: source.uri,
      bucket: source.bucket,
      key: source.key,
      sha256,
      uploaded: false,
      shaSource,
      size: head.size,
    };
  }

  const body = await readWorkspaceFile(ctx.workspace, source.path);
  const sha256 = sha256Hex(body);
  if (inputs.artifactSha256 && inputs.artifactSha256 !== sha256) {
    throw new InputError(
      Input.ArtifactSha256,
      `is ${inputs.artifactSha256}, but ${source.path} has SHA-256 ${sha256}`,
    );
  }
  // inputs.ts requires artifact-bucket for a workspace artifact.
  const bucket = inputs.artifactBucket ?? '';
  const key = artifactKey(inputs.artifactPrefix, sha256);
  const s3Uri = `s3://${bucket}/${key}`;
  if (!inputs.dryRun) {
    // Content-addressed: uploading the same file again writes the same object. S3 checks the body
    // against the SHA-256 on the way in.
    await putArtifact(api, clients, bucket, key, body, sha256);
    ctx.report.info(`Uploaded ${source.path} (${body.length} bytes, SHA-256 ${sha256}) to ${s3Uri}`);
  }
  return { s3Uri, bucket, key, sha256, uploaded: true, shaSource: 'computed', size: body.length };
}
