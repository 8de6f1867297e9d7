// Every input is parsed and validated here, once, before any AWS call. Values that later reach a
// shell on an instance are held to strict patterns here (src/patterns.ts, shared with the scripts
// module, which checks them again) and quoted in src/remote/scripts.ts.
import {
  DEFAULT_ERROR_PATTERNS,
  DEFAULT_FILTERS,
  DEFAULT_HEALTH_PATTERNS,
  Input,
  MAX_REDRIVE_RATE,
  MAX_REDRIVE_SAMPLE,
  MAX_VISIBILITY_TIMEOUT,
  MODES,
  type InputName,
  type Mode,
} from './constants.js';
import { readFileSync, statSync } from 'node:fs';
import { InputError } from './errors.js';
import { ereProblem } from './remote/ere.js';
import {
  ASG_NAME,
  BUCKET,
  DIMENSION,
  FILE_NAME,
  FILTER_NAME,
  FILTER_VALUE,
  GREP_PATTERN,
  isPlainAbsolutePath,
  isPlainFileName,
  isPlainS3Key,
  LAUNCH_TEMPLATE_NAME,
  MAX_PATTERN_LENGTH,
  MAX_PATTERNS,
  METRIC_TOKEN,
  PREFIX,
  QUEUE_NAME,
  QUEUE_URL,
  REGION,
  S3_URI,
  SERVICE_NAME,
  SHA256,
  WHOLE,
} from './patterns.js';
import {
  checkRecordBytes,
  checkRecordValues,
  DEPLOYMENT_ID_PATTERN,
  INSTANCE_ID_PATTERN,
  parseRecord,
  type DeploymentRecord,
  type RecordValueChecks,
} from './record.js';

export type Strategy = 'ssm' | 'asg';
export type Checkpoint = '10m' | '1h' | '24h';
export type BatchSize = { kind: 'count'; value: number } | { kind: 'percent'; value: number };
export interface Ec2Filter {
  Name: string;
  Values: string[];
}
export type ArtifactSource =
  | { kind: 's3'; bucket: string; key: string; uri: string }
  | { kind: 'file'; path: string }
  | { kind: 'none' };

export interface Inputs {
  mode: Mode;
  region: string;
  queueName?: string;
  queueUrl?: string;
  dlqName?: string;
  bucket?: string;
  instanceFilters: Ec2Filter[];
  ssmCheck: boolean;
  canaryInstanceId?: string;
  serviceName: string;
  workerDir: string;
  targetFile: string;
  artifact: ArtifactSource;
  artifactSha256?: string;
  artifactBucket?: string;
  artifactPrefix: string;
  healthPatterns: string[];
  errorPatterns: string[];
  allowInconclusive: boolean;
  canaryMinutes: number;
  pollSeconds: number;
  canaryMetricDimension?: string;
  commandTimeoutSeconds: number;
  strategy: Strategy;
  batchSize: BatchSize;
  pauseSeconds: number;
  /** The AWS session the canary / rollout job gets, in seconds; undefined: not checked. */
  canarySessionSeconds?: number;
  rolloutSessionSeconds?: number;
  /** SNS topic the client notifications are published to; undefined: shown only. */
  notifyTopicArn?: string;
  maxErrors: number;
  asgName?: string;
  launchTemplateName?: string;
  minHealthyPercentage: number;
  refreshCheckpoints: number[];
  imageNoReboot: boolean;
  /** undefined: leave the queue's visibility timeout alone */
  visibilityTimeout?: number;
  verifyMinutes: number;
  sampleSeconds: number;
  checkpoint: Checkpoint;
  drainedThreshold: number;
  dlqTolerance: number;
  minDepthReductionPercent: number;
  minFilesPerHour: number;
  maxDepth24h: number;
  maxLagSeconds: number;
  maxReceiveRatio: number;
  checkServices: boolean;
  metricNamespace: string;
  metricName: string;
  /** Dimension names whose combination verify sums; undefined: every combination. */
  metricDimensions?: string[];
  record?: DeploymentRecord;
  deploymentId?: string;
  dryRun: boolean;
  /** DLQ messages the redrive review reads (never deletes). */
  redriveSample: number;
  /** MaxNumberOfMessagesPerSecond of the message move task. */
  redriveRate: number;
  /** Redrive although the record does not show verify passing for this deployment. */
  redriveForce: boolean;
}

/** Reads one raw input; the runner passes every input as a string ('' when unset). */
export type InputReader = (name: InputName) => string;

/** Strict YAML 1.2 core-schema booleans, as core.getBooleanInput accepts them. */
export function parseBoolean(input: string, raw: string, fallback: boolean): boolean {
  if (raw === '') return fallback;
  if (['true', 'True', 'TRUE'].includes(raw)) return true;
  if (['false', 'False', 'FALSE'].includes(raw)) return false;
  throw new InputError(input, `must be true or false, got ${show(raw)}`);
}

export function parseWhole(input: string, raw: string, fallback: number, min: number, max: number): number {
  if (raw === '') return fallback;
  if (!WHOLE.test(raw))
    throw new InputError(input, `must be a whole number from ${min} to ${max}, got ${show(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw new InputError(input, `must be from ${min} to ${max}, got ${n}`);
  return n;
}

// arn:PARTITION:sns:REGION:ACCOUNT:NAME; topic names are 1-256 of A-Z a-z 0-9 - _
// (https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html).
const TOPIC_ARN =
  /^arn:aws(?:-[a-z]+)*:sns:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):([A-Za-z0-9_-]{1,256}(\.fifo)?)$/;

/** The topic's ARN, in the deployment's region (the SNS client is that region's), standard type only. */
function parseTopicArn(raw: string, region: string): string | undefined {
  if (raw === '') return undefined;
  const m = TOPIC_ARN.exec(raw);
  if (!m)
    throw new InputError(
      Input.NotifyTopicArn,
      `must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), got ${show(raw)}`,
    );
  // E-mail subscriptions exist on standard topics only, and a FIFO topic would need a group id.
  if (m[4])
    throw new InputError(Input.NotifyTopicArn, 'must be a standard topic: FIFO topics cannot deliver e-mail');
  if (m[1] !== region)
    throw new InputError(
      Input.NotifyTopicArn,
      `is in ${m[1]}, but the deployment's region is ${region}: use a topic in ${region}`,
    );
  return raw;
}

/** A whole number in range, or undefined when the input is empty. */
function optionalWhole(input: string, raw: string, min: number, max: number): number | undefined {
  return raw === '' ? undefined : parseWhole(input, raw, min, min, max);
}

export function parseBatchSize(input: string, raw: string): BatchSize {
  if (raw === '') return { kind: 'count', value: 1 };
  const percent = /^(\d{1,3})%$/.exec(raw);
  if (percent) {
    const value = Number(percent[1]);
    if (value < 1 || value > 100)
      throw new InputError(input, `percent must be from 1% to 100%, got ${show(raw)}`);
    return { kind: 'percent', value };
  }
  return { kind: 'count', value: parseWhole(input, raw, 1, 1, 5000) };
}

/** Lines of a list input: trimmed, blanks dropped; the single word `none` is the empty list. */
export function parseLines(raw: string): string[] | undefined {
  const lines = raw
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (lines.length === 0) return undefined;
  if (lines.length === 1 && lines[0] === 'none') return [];
  return lines;
}

/**
 * Patterns are counted with GNU `grep -E` on the instance, so each must be a POSIX extended regular
 * expression (GNU's \w \s \b and back-references work): Perl-only syntax (\d, lookarounds, lazy
 * quantifiers) is refused, with its POSIX spelling, rather than silently matching something else.
 */
export function parsePatterns(input: string, raw: string, fallback: string[]): string[] {
  const lines = parseLines(raw) ?? fallback;
  if (lines.length > MAX_PATTERNS)
    throw new InputError(input, `has ${lines.length} patterns; at most ${MAX_PATTERNS}`);
  for (const p of lines) {
    if (p.length > MAX_PATTERN_LENGTH) {
      throw new InputError(input, `has a pattern longer than ${MAX_PATTERN_LENGTH} characters`);
    }
    if (!GREP_PATTERN.test(p)) {
      throw new InputError(input, `has a pattern with a control or non-ASCII character: ${show(p)}`);
    }
    const problem = ereProblem(p);
    if (problem !== undefined) throw new InputError(input, `pattern ${show(p)} ${problem}`);
    try {
      new RegExp(p);
    } catch (e) {
      throw new InputError(
        input,
        `pattern ${show(p)} is not a valid regular expression (${(e as Error).message})`,
      );
    }
  }
  return lines;
}

/** Comma-separated CloudWatch dimension names (e.g. `InstanceId`); empty: undefined. */
export function parseDimensionNames(input: string, raw: string | undefined): string[] | undefined {
  const text = (raw ?? '').trim();
  if (text === '') return undefined;
  const names = text.split(',').map((n) => n.trim());
  for (const n of names) {
    if (!DIMENSION.test(n)) {
      throw new InputError(
        input,
        `must be CloudWatch dimension names separated by commas; got ${JSON.stringify(n)}`,
      );
    }
  }
  return [...new Set(names)].sort();
}

export function parseFilters(input: string, raw: string): Ec2Filter[] {
  const lines = parseLines(raw === '' ? DEFAULT_FILTERS : raw) ?? [];
  if (lines.length === 0) {
    throw new InputError(input, 'must name at least one filter (an empty filter would match every instance)');
  }
  if (lines.length > 25) throw new InputError(input, 'has more than 25 filters');
  const filters: Ec2Filter[] = [];
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq <= 0) throw new InputError(input, `line ${show(line)} is not NAME=VALUE[,VALUE]`);
    const name = line.slice(0, eq).trim();
    const values = line
      .slice(eq + 1)
      .split(',')
      .map((v) => v.trim());
    if (!FILTER_NAME.test(name)) throw new InputError(input, `filter name ${show(name)} is not valid`);
    if (name === 'instance-state-name' || name === 'instance-state-code') {
      throw new InputError(input, 'must not filter on instance state: only running instances count, always');
    }
    if (values.length === 0 || values.some((v) => !FILTER_VALUE.test(v))) {
      throw new InputError(input, `filter ${show(name)} has an empty or non-printable value`);
    }
    if (filters.some((f) => f.Name === name)) throw new InputError(input, `names filter ${show(name)} twice`);
    filters.push({ Name: name, Values: values });
  }
  return filters;
}

export function parseWorkerDir(input: string, raw: string): string {
  const value = raw === '' ? '/opt/file-processor' : raw.replace(/\/+$/, '');
  const segments = value.split('/');
  if (!isPlainAbsolutePath(value)) {
    throw new InputError(
      input,
      `must be an absolute path of plain segments (letters, digits, . _ -; no '..', spaces or quotes), got ${show(raw)}`,
    );
  }
  if (segments.length < 2 || value === '/') throw new InputError(input, 'must not be the root directory');
  return value;
}

function parseFileName(input: string, raw: string, fallback: string): string {
  const value = raw === '' ? fallback : raw;
  if (!isPlainFileName(value)) {
    throw new InputError(input, `must be a plain file name (letters, digits, . _ -), got ${show(raw)}`);
  }
  return value;
}

export function parseS3Uri(input: string, raw: string): { bucket: string; key: string; uri: string } {
  const m = S3_URI.exec(raw);
  if (!m) throw new InputError(input, `must be s3://bucket/key, got ${show(raw)}`);
  const [, bucket, key] = m;
  if (!BUCKET.test(bucket)) throw new InputError(input, `has an invalid bucket name ${show(bucket)}`);
  if (!isPlainS3Key(key)) {
    throw new InputError(input, `has a key with unsafe characters or path segments: ${show(key)}`);
  }
  return { bucket, key, uri: raw };
}

function parseArtifact(input: string, raw: string): ArtifactSource {
  if (raw === '') return { kind: 'none' };
  if (raw.startsWith('s3:')) return { kind: 's3', ...parseS3Uri(input, raw) };
  // A path in the workspace: relative, no traversal. It is read by the action, never by a shell.
  if (
    raw.startsWith('/') ||
    raw.split(/[\\/]/).includes('..') ||
    !/^[\x21-\x7e][\x20-\x7e]{0,1023}$/.test(raw)
  ) {
    throw new InputError(
      input,
      `must be s3://bucket/key or a relative path inside the workspace, got ${show(raw)}`,
    );
  }
  return { kind: 'file', path: raw };
}

function optional(input: string, raw: string, pattern: RegExp, what: string): string | undefined {
  if (raw === '') return undefined;
  if (!pattern.test(raw)) throw new InputError(input, `must be ${what}, got ${show(raw)}`);
  return raw;
}

function oneOf<T extends string>(input: string, raw: string, allowed: readonly T[], fallback: T): T {
  if (raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new InputError(input, `must be one of ${allowed.join(', ')}; got ${show(raw)}`);
  }
  return raw as T;
}

/**
 * Quotes a user value for an error message, cut short, with control and non-ASCII characters made
 * visible as \uXXXX: a right-to-left override or a zero-width joiner must not reach the log as is.
 */
export function show(raw: string): string {
  const cut = raw.length > 60 ? `${raw.slice(0, 60)}…` : raw;
  return JSON.stringify(cut).replace(
    /[^\x20-\x7e…]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * The inputs' patterns, for the record's values (src/record/values.ts decides which of the record's
 * values each one holds): a value from the record is held to the pattern its input is held to.
 */
const RECORD_VALUE_CHECKS: RecordValueChecks = {
  serviceName: (v) => SERVICE_NAME.test(v),
  workerDir: (v) => {
    try {
      return parseWorkerDir(Input.Record, v) === v;
    } catch {
      return false;
    }
  },
  fileName: (v) => FILE_NAME.test(v) && v !== '.' && v !== '..',
  queueUrl: (v) => QUEUE_URL.test(v),
  s3Uri: (v) => {
    try {
      parseS3Uri(Input.Record, v);
      return true;
    } catch {
      return false;
    }
  },
  sha256: (v) => SHA256.test(v),
  launchTemplateName: (v) => LAUNCH_TEMPLATE_NAME.test(v),
  asgName: (v) => ASG_NAME.test(v),
  show,
};

function readFileOrExplain(path: string): string {
  try {
    checkRecordBytes(statSync(path).size, Input.RecordFile);
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(Input.RecordFile, `cannot be read: ${(e as Error).message}`);
  }
}

export function parseInputs(
  read: InputReader,
  env: NodeJS.ProcessEnv = {},
  readRecordFile: (path: string) => string = readFileOrExplain,
): Inputs {
  const get = (name: InputName): string => read(name).trim();

  const modeRaw = get(Input.Mode);
  if (modeRaw === '') throw new InputError(Input.Mode, `is required: one of ${MODES.join(', ')}`);
  const mode = oneOf(Input.Mode, modeRaw, MODES, 'preflight');

  const regionRaw = get(Input.Region) || env.AWS_REGION || env.AWS_DEFAULT_REGION || '';
  if (regionRaw === '') throw new InputError(Input.Region, 'is required (or set AWS_REGION)');
  if (!REGION.test(regionRaw))
    throw new InputError(Input.Region, `is not an AWS region name: ${show(regionRaw)}`);

  const queueName = optional(Input.QueueName, get(Input.QueueName), QUEUE_NAME, 'an SQS queue name');
  const queueUrl = optional(Input.QueueUrl, get(Input.QueueUrl), QUEUE_URL, 'an SQS queue URL');
  if (queueName && queueUrl) {
    throw new InputError(Input.QueueUrl, `and '${Input.QueueName}' are both set; give one`);
  }

  const artifact = parseArtifact(Input.Artifact, get(Input.Artifact));
  const shaRaw = get(Input.ArtifactSha256).toLowerCase();
  const artifactSha256 = optional(Input.ArtifactSha256, shaRaw, SHA256, 'a SHA-256 in hex (64 characters)');
  const artifactBucket = optional(
    Input.ArtifactBucket,
    get(Input.ArtifactBucket),
    BUCKET,
    'an S3 bucket name',
  );
  if (artifact.kind === 'file' && !artifactBucket) {
    throw new InputError(
      Input.ArtifactBucket,
      'is required when artifact is a workspace path (it is uploaded there)',
    );
  }
  const prefixRaw = get(Input.ArtifactPrefix);
  const artifactPrefix =
    prefixRaw === '' ? 'emergency-deploy/' : prefixRaw.endsWith('/') ? prefixRaw : `${prefixRaw}/`;
  if (!PREFIX.test(artifactPrefix) || artifactPrefix.split('/').some((s) => s === '..' || s === '.')) {
    throw new InputError(Input.ArtifactPrefix, `must be a plain S3 key prefix, got ${show(prefixRaw)}`);
  }

  const visibilityRaw = get(Input.VisibilityTimeout);
  const visibilityTimeout =
    // The runner passes action.yml's default (900) unless the user sets '' or 'none'.
    visibilityRaw === '' || visibilityRaw === 'none'
      ? undefined
      : parseWhole(Input.VisibilityTimeout, visibilityRaw, 900, 0, MAX_VISIBILITY_TIMEOUT);

  // A record reaches the action as an input (an environment variable, which Linux caps at 128 KiB:
  // about 1,300 instances) or, for larger fleets, as a file the workflow downloaded.
  const recordRaw = read(Input.Record);
  const recordFile = get(Input.RecordFile);
  if (recordRaw.trim() !== '' && recordFile !== '') {
    throw new InputError(Input.RecordFile, `and '${Input.Record}' are both set; give one`);
  }
  let record: DeploymentRecord | undefined;
  if (recordRaw.trim() !== '') record = parseRecord(recordRaw, Input.Record);
  if (recordFile !== '') {
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(recordFile) || recordFile.length > 1024) {
      throw new InputError(Input.RecordFile, `is not a usable path: ${show(recordFile)}`);
    }
    record = parseRecord(readRecordFile(recordFile), Input.RecordFile);
  }
  if (record)
    checkRecordValues(record, recordFile !== '' ? Input.RecordFile : Input.Record, RECORD_VALUE_CHECKS);
  const deploymentId = optional(
    Input.DeploymentId,
    get(Input.DeploymentId),
    DEPLOYMENT_ID_PATTERN,
    'a deployment id (letters, digits and dashes)',
  );
  const recordInput = recordFile !== '' ? Input.RecordFile : Input.Record;
  if (record && deploymentId && record.deploymentId !== deploymentId) {
    throw new InputError(
      recordInput,
      `belongs to deployment ${record.deploymentId}, not to '${Input.DeploymentId}' ${deploymentId}`,
    );
  }
  if (record && record.region !== regionRaw) {
    throw new InputError(recordInput, `was made in region ${show(record.region)}, not ${regionRaw}`);
  }
  // preflight, verify and redrive read the queue first thing: without one they would fail after an
  // AWS call.
  if (
    (mode === 'preflight' || mode === 'verify' || mode === 'redrive') &&
    !queueName &&
    !queueUrl &&
    !record?.queue?.url
  ) {
    throw new InputError(
      Input.QueueName,
      `or '${Input.QueueUrl}' is required for ${mode} (or a record that names the queue)`,
    );
  }

  const dlqName = optional(Input.DlqName, get(Input.DlqName), QUEUE_NAME, 'an SQS queue name');
  // A redrive moves the DLQ's messages: a dlq-name that is not the DLQ the record found for this
  // queue would move another queue's messages, so it is refused before anything is read.
  if (mode === 'redrive' && dlqName && record?.queue?.dlqName && record.queue.dlqName !== dlqName) {
    throw new InputError(
      Input.DlqName,
      `names ${show(dlqName)}, but the dead-letter queue of ${show(record.queue.name ?? '')} in the record is ${show(record.queue.dlqName)}`,
    );
  }

  const refreshRaw = get(Input.RefreshCheckpoints);
  const refreshCheckpoints =
    refreshRaw === '' || refreshRaw === 'none'
      ? []
      : refreshRaw
          .split(/[\s,]+/)
          .map((p) => parseWhole(Input.RefreshCheckpoints, p.replace(/%$/, ''), 100, 1, 100));
  for (let i = 1; i < refreshCheckpoints.length; i++) {
    if (refreshCheckpoints[i] <= refreshCheckpoints[i - 1]) {
      throw new InputError(Input.RefreshCheckpoints, 'must be increasing percentages, e.g. 20,50,100');
    }
  }
  // A refresh whose last checkpoint is under 100 ends Successful there, with the rest of the group
  // still on the old version (API_RefreshPreferences: "To replace all instances in the Auto Scaling
  // group, the last number in the array must be 100"). Refused rather than silently extended, so
  // the plan that runs is the one the operator wrote.
  const lastCheckpoint = refreshCheckpoints[refreshCheckpoints.length - 1];
  if (lastCheckpoint !== undefined && lastCheckpoint !== 100) {
    throw new InputError(
      Input.RefreshCheckpoints,
      `must end at 100 (ends at ${lastCheckpoint}): Auto Scaling ends the refresh at its last checkpoint and leaves the other instances on the old version, e.g. ${refreshCheckpoints.join(',')},100`,
    );
  }

  const strategy = oneOf<Strategy>(Input.Strategy, get(Input.Strategy), ['ssm', 'asg'], 'ssm');
  const asgName = optional(Input.AsgName, get(Input.AsgName), ASG_NAME, 'an Auto Scaling group name');
  const launchTemplateName = optional(
    Input.LaunchTemplateName,
    get(Input.LaunchTemplateName),
    LAUNCH_TEMPLATE_NAME,
    'a launch template name',
  );
  if (mode === 'rollout' && strategy === 'asg') {
    if (!asgName) throw new InputError(Input.AsgName, 'is required with strategy asg');
    if (!launchTemplateName) throw new InputError(Input.LaunchTemplateName, 'is required with strategy asg');
  }

  return {
    mode,
    region: regionRaw,
    queueName,
    queueUrl,
    dlqName,
    bucket: optional(Input.Bucket, get(Input.Bucket), BUCKET, 'an S3 bucket name'),
    instanceFilters: parseFilters(Input.InstanceFilters, read(Input.InstanceFilters)),
    ssmCheck: parseBoolean(Input.SsmCheck, get(Input.SsmCheck), true),
    canaryInstanceId: optional(
      Input.CanaryInstanceId,
      get(Input.CanaryInstanceId),
      INSTANCE_ID_PATTERN,
      'an instance id (i-…)',
    ),
    serviceName:
      optional(Input.ServiceName, get(Input.ServiceName), SERVICE_NAME, 'a systemd unit name') ??
      'file-processor',
    workerDir: parseWorkerDir(Input.WorkerDir, get(Input.WorkerDir)),
    targetFile: parseFileName(Input.TargetFile, get(Input.TargetFile), 'worker.py'),
    artifact,
    artifactSha256,
    artifactBucket,
    artifactPrefix,
    healthPatterns: parsePatterns(Input.HealthPatterns, read(Input.HealthPatterns), DEFAULT_HEALTH_PATTERNS),
    errorPatterns: parsePatterns(Input.ErrorPatterns, read(Input.ErrorPatterns), DEFAULT_ERROR_PATTERNS),
    allowInconclusive: parseBoolean(Input.AllowInconclusive, get(Input.AllowInconclusive), false),
    canaryMinutes: parseWhole(Input.CanaryMinutes, get(Input.CanaryMinutes), 5, 0, 180),
    pollSeconds: parseWhole(Input.PollSeconds, get(Input.PollSeconds), 30, 1, 600),
    canaryMetricDimension: optional(
      Input.CanaryMetricDimension,
      get(Input.CanaryMetricDimension),
      DIMENSION,
      'a CloudWatch dimension name',
    ),
    commandTimeoutSeconds: parseWhole(
      Input.CommandTimeoutSeconds,
      get(Input.CommandTimeoutSeconds),
      600,
      30,
      3600,
    ),
    strategy,
    batchSize: parseBatchSize(Input.BatchSize, get(Input.BatchSize)),
    pauseSeconds: parseWhole(Input.PauseSeconds, get(Input.PauseSeconds), 120, 0, 3600),
    // STS sessions last 900 s to 12 h (the role's MaxSessionDuration caps them).
    canarySessionSeconds: optionalWhole(
      Input.CanarySessionSeconds,
      get(Input.CanarySessionSeconds),
      900,
      43200,
    ),
    notifyTopicArn: parseTopicArn(get(Input.NotifyTopicArn), regionRaw),
    rolloutSessionSeconds: optionalWhole(
      Input.RolloutSessionSeconds,
      get(Input.RolloutSessionSeconds),
      900,
      43200,
    ),
    maxErrors: parseWhole(Input.MaxErrors, get(Input.MaxErrors), 0, 0, 5000),
    asgName,
    launchTemplateName,
    minHealthyPercentage: parseWhole(Input.MinHealthyPercentage, get(Input.MinHealthyPercentage), 90, 0, 100),
    refreshCheckpoints,
    imageNoReboot: parseBoolean(Input.ImageNoReboot, get(Input.ImageNoReboot), true),
    visibilityTimeout,
    verifyMinutes: parseWhole(Input.VerifyMinutes, get(Input.VerifyMinutes), 10, 1, 1440),
    sampleSeconds: parseWhole(Input.SampleSeconds, get(Input.SampleSeconds), 60, 5, 3600),
    checkpoint: oneOf<Checkpoint>(Input.Checkpoint, get(Input.Checkpoint), ['10m', '1h', '24h'], '10m'),
    drainedThreshold: parseWhole(Input.DrainedThreshold, get(Input.DrainedThreshold), 10, 0, 1_000_000),
    dlqTolerance: parseWhole(Input.DlqTolerance, get(Input.DlqTolerance), 0, 0, 1_000_000),
    minDepthReductionPercent: parseWhole(
      Input.MinDepthReductionPercent,
      get(Input.MinDepthReductionPercent),
      50,
      0,
      100,
    ),
    minFilesPerHour: parseWhole(Input.MinFilesPerHour, get(Input.MinFilesPerHour), 50, 0, 100_000_000),
    maxDepth24h: parseWhole(Input.MaxDepth24h, get(Input.MaxDepth24h), 10, 0, 100_000_000),
    maxLagSeconds: parseWhole(Input.MaxLagSeconds, get(Input.MaxLagSeconds), 300, 0, 1_209_600),
    maxReceiveRatio: parseWhole(Input.MaxReceiveRatio, get(Input.MaxReceiveRatio), 3, 1, 1000),
    checkServices: parseBoolean(Input.CheckServices, get(Input.CheckServices), true),
    metricNamespace:
      optional(Input.MetricNamespace, get(Input.MetricNamespace), METRIC_TOKEN, 'a CloudWatch namespace') ??
      'CISFileSearch/Worker',
    metricName:
      optional(Input.MetricName, get(Input.MetricName), METRIC_TOKEN, 'a CloudWatch metric name') ??
      'MessageDeleteFailed',
    metricDimensions: parseDimensionNames(Input.MetricDimensions, get(Input.MetricDimensions)),
    record,
    deploymentId,
    dryRun: parseBoolean(Input.DryRun, get(Input.DryRun), false),
    redriveSample: parseWhole(Input.RedriveSample, get(Input.RedriveSample), 100, 1, MAX_REDRIVE_SAMPLE),
    redriveRate: parseWhole(Input.RedriveRate, get(Input.RedriveRate), 50, 1, MAX_REDRIVE_RATE),
    redriveForce: parseBoolean(Input.RedriveForce, get(Input.RedriveForce), false),
  };
}
