// The deployment record: the JSON handed from job to job (the `record` output and input) and the
// source of the runbook's deployment log. Compact per-instance entries keep a 5,000-instance record
// well under GitHub's 1 MB job-output limit; bulky evidence goes to the job summary instead.
import { MAX_RECORD_BYTES, type Mode, type Verdict } from './constants.js';
import { InputError } from './errors.js';

export const RECORD_KIND = 'emergency-worker-deploy';
export const RECORD_VERSION = 1;

export const INSTANCE_ID_PATTERN = /^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;
export const DEPLOYMENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{2,63}$/;

export type CheckpointName = 'before' | '10m' | '1h' | '24h';
export const CHECKPOINTS: CheckpointName[] = ['before', '10m', '1h', '24h'];

/** One column of the runbook's Metrics Comparison table. Absent fields were not measured. */
export interface MetricsSnapshot {
  at: string;
  visible?: number;
  inFlight?: number;
  delayed?: number;
  dlqVisible?: number;
  instances?: number;
  filesPerHour?: number;
  oldestAgeSeconds?: number;
  deleteFailed?: number;
}

export interface GithubInfo {
  actor: string;
  repository: string;
  sha: string;
  ref: string;
  workflow: string;
  runId: number;
  runAttempt: number;
  serverUrl: string;
}

export interface QueueInfo {
  url: string;
  name: string;
  arn: string;
  visibilityTimeout: number;
  dlqUrl?: string;
  dlqName?: string;
  dlqArn?: string;
  maxReceiveCount?: number;
}

/** Where an instance stands. Short keys: this entry repeats up to 5,000 times. */
export interface InstanceEntry {
  /** phase that touched it: c canary, r rollout */
  p: 'c' | 'r';
  /** batch number (0 for the canary) */
  b: number;
  /** install status */
  s: 'sent' | 'installed' | 'failed' | 'cancelled';
  /** index into record.commands, -1 when no command was sent */
  c: number;
  /** seconds the install took */
  t?: number;
  /** short error, when it failed */
  e?: string;
  /** rollback result (untouched: tagged, but the install never changed it) */
  rb?: 'restored' | 'already' | 'failed' | 'untouched';
  /** short rollback error */
  re?: string;
}

export interface PhaseEntry {
  mode: Mode;
  startedAt: string;
  endedAt?: string;
  verdict?: Verdict;
  reason?: string;
  dryRun?: boolean;
}

/**
 * What strategy asg did to the launch template, enough for rollback to undo exactly that. Fields
 * after newVersion are absent in records written before they existed: such a rollout always made
 * its version from the default and moved the default.
 */
export interface LaunchTemplateChange {
  id: string;
  name: string;
  /** The template's default version before the rollout. */
  previousDefault: number;
  /** The version this deployment made (0 while only intended). */
  newVersion: number;
  /** The version the new one was made from: the one the group launched. */
  sourceVersion?: number;
  /** What the group named before the rollout: a version number, `$Default` or `$Latest`. */
  groupVersion?: string;
  /** The group names its template inside a mixed instances policy. */
  mixed?: boolean;
  /** Whether the rollout moves (true, written before the call) the template's default. */
  movedDefault?: boolean;
}

/** The instance refresh the rollout started. */
export interface RefreshChange {
  id: string;
  asgName: string;
  status: string;
  percentComplete?: number;
  /**
   * The desired configuration it was started with: Auto Scaling can roll back only such a refresh
   * of a group that names a version number (API_RollbackInstanceRefresh); none: it cannot.
   */
  desired?: 'launch-template' | 'mixed-instances-policy' | 'none';
}

/**
 * The DLQ review and redrive (mode redrive), kept small: counts, not messages. verify's 24-hour
 * "DLQ reviewed and cleared" criterion reads reviewedAt, sampled, moved and status.
 */
export interface RedriveEntry {
  /** When the review read the DLQ (ISO). */
  reviewedAt: string;
  /** Messages read (never deleted). */
  sampled: number;
  /** DLQ visible messages when the review started. */
  dlqDepth?: number;
  s3Events?: number;
  /** Object events seen more than once (same bucket, key and sequencer). */
  duplicates?: number;
  testEvents?: number;
  notS3?: number;
  oldestSentAt?: string;
  newestSentAt?: string;
  /** When the fleet ran the fix, as the record says; undefined when it does not. */
  fixAt?: string;
  sentBeforeFix?: number;
  sentAfterFix?: number;
  dryRun?: boolean;
  /** Why the redrive did not run, when it was refused. */
  refused?: string;
  forced?: boolean;
  /** The move task, when one was started or found running. */
  taskHandle?: string;
  /** Move task status: RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED (or NOT-STARTED). */
  status?: string;
  moved?: number;
  toMove?: number;
  rate?: number;
  startedAt?: string;
  endedAt?: string;
  failureReason?: string;
  /** The watch after the move: depths at its end, and whether the DLQ grew during it. */
  after?: { at: string; queue?: number; dlq?: number; dlqRose?: boolean };
  verdict?: 'pass' | 'fail';
}

export interface DeploymentRecord {
  kind: typeof RECORD_KIND;
  version: typeof RECORD_VERSION;
  deploymentId: string;
  createdAt: string;
  updatedAt: string;
  region: string;
  github: GithubInfo;
  identity?: { account: string; arn: string };
  target: { serviceName: string; workerDir: string; targetFile: string; backupPath: string };
  queue?: QueueInfo;
  metrics: Partial<Record<CheckpointName, MetricsSnapshot>>;
  fleet?: { filters: string[]; instanceIds: string[]; discoveredAt: string };
  artifact?: { s3Uri: string; sha256: string; uploaded: boolean };
  canary?: {
    instanceId: string;
    verdict: Verdict;
    reason: string;
    startedAt: string;
    endedAt?: string;
    evidence?: unknown;
  };
  commands: string[];
  instances: Record<string, InstanceEntry>;
  settings: {
    /**
     * `s` intended: written before SetQueueAttributes (after is the value being set); done, or
     * absent in older records: after is the value read back.
     */
    visibilityTimeout?: { before: number; after: number; at: string; s?: 'intended' | 'done' };
    launchTemplate?: LaunchTemplateChange;
    image?: { id: string; sourceInstanceId: string; state: string };
    refresh?: RefreshChange;
    /** Rollback's own refresh that puts the group's instances back on the previous configuration. */
    revertRefresh?: { id: string; asgName: string; status: string; percentComplete?: number };
  };
  phases: PhaseEntry[];
  warnings: string[];
  /**
   * The DLQ review and redrive of `mode: redrive` for this deployment (the 24 h checkpoint's "DLQ
   * reviewed and cleared" reads reviewedAt and sampled).
   */
  redrive?: RedriveEntry;
  /** Mode-specific results too large for the log but small enough to carry (verify samples etc.). */
  extra: Record<string, unknown>;
}

export function backupPathFor(workerDir: string, targetFile: string, deploymentId: string): string {
  // Unique per deployment, never a glob: rollback restores exactly this file.
  return `${workerDir.replace(/\/+$/, '')}/${targetFile}.backup.${deploymentId}`;
}

export function newRecord(init: {
  deploymentId: string;
  now: Date;
  region: string;
  github: GithubInfo;
  serviceName: string;
  workerDir: string;
  targetFile: string;
}): DeploymentRecord {
  const at = init.now.toISOString();
  return {
    kind: RECORD_KIND,
    version: RECORD_VERSION,
    deploymentId: init.deploymentId,
    createdAt: at,
    updatedAt: at,
    region: init.region,
    github: init.github,
    target: {
      serviceName: init.serviceName,
      workerDir: init.workerDir,
      targetFile: init.targetFile,
      backupPath: backupPathFor(init.workerDir, init.targetFile, init.deploymentId),
    },
    metrics: {},
    commands: [],
    instances: {},
    settings: {},
    phases: [],
    warnings: [],
    extra: {},
  };
}

/** A deployment id that sorts by time and is unique per run attempt. */
export function newDeploymentId(now: Date, runId: number, runAttempt: number): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `dep-${stamp}-${runId}-${runAttempt}`.toLowerCase();
}

export function serializeRecord(record: DeploymentRecord): string {
  const json = JSON.stringify(record);
  if (Buffer.byteLength(json, 'utf8') > MAX_RECORD_BYTES) {
    throw new Error(
      `the deployment record is ${Buffer.byteLength(json, 'utf8')} bytes, over the ${MAX_RECORD_BYTES}-byte job-output limit`,
    );
  }
  return json;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses the `record` input. Everything in it is untrusted (it passed through job outputs): shape,
 * version, ids and paths are checked before anything uses them.
 */
export function parseRecord(raw: string, input = 'record'): DeploymentRecord {
  if (Buffer.byteLength(raw, 'utf8') > MAX_RECORD_BYTES) {
    throw new InputError(input, `is larger than ${MAX_RECORD_BYTES} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (e) {
    // Not the parser's message: it quotes the text it choked on, and a record file could be any
    // file the runner can read. Only where it failed is reported.
    const at = /position (\d+)/.exec((e as Error).message);
    throw new InputError(input, `is not valid JSON${at ? ` (at position ${at[1]})` : ''}`);
  }
  if (!isObject(value)) throw new InputError(input, 'must be a JSON object');
  if (value.kind !== RECORD_KIND) throw new InputError(input, `is not a ${RECORD_KIND} record`);
  if (value.version !== RECORD_VERSION) {
    throw new InputError(
      input,
      `has version ${JSON.stringify(value.version)}; this action reads version ${RECORD_VERSION}`,
    );
  }
  if (typeof value.deploymentId !== 'string' || !DEPLOYMENT_ID_PATTERN.test(value.deploymentId)) {
    throw new InputError(input, 'has a missing or malformed deploymentId');
  }
  if (typeof value.region !== 'string') throw new InputError(input, 'has no region');
  const target = value.target;
  if (!isObject(target) || typeof target.backupPath !== 'string') {
    throw new InputError(input, 'has no target (service, directory, file, backup path)');
  }
  const instances = value.instances;
  if (!isObject(instances)) throw new InputError(input, 'has no instances map');
  for (const [id, entry] of Object.entries(instances)) {
    if (!INSTANCE_ID_PATTERN.test(id))
      throw new InputError(input, `names a malformed instance id ${JSON.stringify(id)}`);
    if (!isObject(entry) || (entry.p !== 'c' && entry.p !== 'r')) {
      throw new InputError(input, `has a malformed entry for ${id}`);
    }
  }
  for (const key of ['commands', 'phases', 'warnings'] as const) {
    if (!Array.isArray(value[key])) throw new InputError(input, `has no ${key} list`);
  }
  for (const key of ['metrics', 'settings', 'extra'] as const) {
    if (!isObject(value[key])) throw new InputError(input, `has no ${key} object`);
  }
  const fleet = value.fleet;
  if (fleet !== undefined) {
    if (!isObject(fleet) || !Array.isArray(fleet.instanceIds))
      throw new InputError(input, 'has a malformed fleet');
    for (const id of fleet.instanceIds) {
      if (typeof id !== 'string' || !INSTANCE_ID_PATTERN.test(id)) {
        throw new InputError(input, `lists a malformed fleet instance id ${JSON.stringify(id)}`);
      }
    }
  }
  const redrive = value.redrive;
  if (redrive !== undefined && (!isObject(redrive) || typeof redrive.reviewedAt !== 'string')) {
    throw new InputError(input, 'has a malformed redrive review (reviewedAt missing)');
  }
  return value as unknown as DeploymentRecord;
}

/** Adds or updates the entry for `mode` in the record's phase list. */
export function markPhase(record: DeploymentRecord, entry: PhaseEntry): void {
  const existing = record.phases.findIndex((p) => p.mode === entry.mode && p.startedAt === entry.startedAt);
  if (existing >= 0) record.phases[existing] = entry;
  else record.phases.push(entry);
}

/** Index of a command id in record.commands (appended when new). */
export function commandIndex(record: DeploymentRecord, commandId: string): number {
  const i = record.commands.indexOf(commandId);
  if (i >= 0) return i;
  record.commands.push(commandId);
  return record.commands.length - 1;
}
