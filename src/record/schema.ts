// The record's schema: every part of the JSON handed from job to job, typed. The JSON keeps its
// keys (records written by earlier builds still parse); where it uses short keys to stay small
// (the per-instance entries), view.ts gives them readable names.
import type { Mode, Verdict } from '../constants.js';

export const RECORD_KIND = 'emergency-worker-deploy';
export const RECORD_VERSION = 1;

export const INSTANCE_ID_PATTERN = /^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;
export const DEPLOYMENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{2,63}$/;

export type CheckpointName = 'before' | '10m' | '1h' | '24h';
export const CHECKPOINTS: CheckpointName[] = ['before', '10m', '1h', '24h'];
/** The checkpoints verify judges (before is the baseline preflight measures). */
export type JudgedCheckpoint = Exclude<CheckpointName, 'before'>;

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

/**
 * The queue's visibility timeout change (settings.visibilityTimeout). `s` intended: written before
 * SetQueueAttributes (after is the value being set); done, or absent in older records: after is the
 * value read back. view.ts visibilityTimeoutChange writes it under readable names.
 */
export interface VisibilityTimeoutChange {
  /** The deployment that intends the change (written with the intent). */
  deploymentId?: string;
  before: number;
  after: number;
  at: string;
  s?: 'intended' | 'done';
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
    evidence?: CanaryEvidenceRecord;
  };
  commands: string[];
  instances: Record<string, InstanceEntry>;
  settings: {
    visibilityTimeout?: VisibilityTimeoutChange;
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
  extra: RecordExtra;
}

// ---------------------------------------------------------------------------------------------
// The canary's evidence (record.canary.evidence).

export type CanaryDecision = 'go' | 'no-go' | 'inconclusive';

/** A pattern's count in the canary's window; null when the instance could not count it. */
export interface PatternCount {
  pattern: string;
  count: number | null;
}

/** Compact evidence, kept in the record (the summaries render it, escaped). */
export interface CanaryEvidenceRecord {
  /** The judgement's decision: set on the evidence kept in the record, not on the summary's copy. */
  decision?: CanaryDecision;
  error?: string;
  artifact?: { s3Uri: string; sha256: string };
  install?: {
    commandId: string;
    status: string;
    responseCode: number;
    result?: string;
    backupPath?: string;
    backupState?: string;
    sha256Before?: string;
    sha256After?: string;
    service?: string;
    restarts?: number;
    restart?: string;
    journal?: string[];
    seconds: number;
  };
  watch?: {
    polls: number;
    unreadable: number;
    since: number;
    sinceSource: 'instance' | 'runner';
    /** what the instance read from: the new main process's start, or `since` (no start known) */
    window?: 'main-start' | 'since';
    /** old-process lines left out of the window, at the last poll that said */
    windowBefore?: number;
    firstCommandId?: string;
    lastCommandId?: string;
    seconds: number;
    stoppedEarly?: string;
  };
  health?: PatternCount[];
  errors?: PatternCount[];
  excerpts?: { kind: 'health' | 'error'; pattern: string; line: string }[];
  service?: string;
  restarts?: number;
  tail?: string[];
  metric?: { name: string; dimension: string; sum: number | null };
}

// ---------------------------------------------------------------------------------------------
// record.extra: the modes' compact results, one optional typed part each.

/** One batch in record.extra.rollout: [batch, start offset s, duration s, installed, failed]. */
export type RolloutBatchRow = [
  batch: number,
  startOffset: number,
  seconds: number,
  ok: number,
  failed: number,
];

/** Compact per-batch history carried in the record (extra.rollout). */
export interface RolloutExtra {
  startedAt: string;
  batches: RolloutBatchRow[];
  /** batches run but not listed (past MAX_RECORDED_BATCHES) */
  unlisted?: number;
}

/**
 * What the Auto Scaling group named before the first rollout run (extra.rolloutAsg), kept so a
 * rerun and rollback see the version the group had before this deployment touched it. Newer
 * records also carry it as settings.launchTemplate.groupVersion.
 */
export interface RolloutAsgExtra {
  /** A version number, `$Default` or `$Latest` (held to that pattern where it is used). */
  groupVersion?: string;
}

export type CriterionStatus = 'pass' | 'fail' | 'not-judged';

export type CriterionId =
  | 'window'
  | 'workers'
  | 'services'
  | 'depth-trend'
  | 'depth-reduced'
  | 'processing-rate'
  | 'depth-under'
  | 'no-loop'
  | 'dlq-stable'
  | 'dlq-new'
  | 'dlq-empty'
  | 'uploads'
  | 'delete-failures'
  | 'lag';

/** What CloudWatch said about the window. Absent: no data points at all. */
export interface WindowMetrics {
  /** Sum of the worker's metric (MessageDeleteFailed). */
  deleteFailed?: number;
  /** Sums of AWS/SQS NumberOfMessagesReceived / NumberOfMessagesDeleted. */
  received?: number;
  deleted?: number;
  /** Messages deleted per hour, over the periods CloudWatch reported. */
  filesPerHour?: number;
  /** AWS/SQS ApproximateAgeOfOldestMessage, the most recent point (the indexing lag now). */
  oldestAgeSeconds?: number;
  /** AWS/SQS NumberOfMessagesSent sum: uploads arriving at the source queue. */
  sent?: number;
  /** The newest AWS/SQS data point's time: SQS metrics arrive minutes late. */
  dataThrough?: string;
  /** When the window closed, to say how old `dataThrough` is. */
  windowEnd?: string;
  /** The dimension sets the worker's metric was found under (each a separate metric in CloudWatch). */
  deleteFailedDimensions?: string[];
}

/** One judged criterion in the record: id, status (s) and the figures behind it (d). */
export interface RecordedCriterion {
  /** A CriterionId when verify wrote it; the record is untrusted, so readers treat it as text. */
  id: string;
  s: CriterionStatus;
  d: string;
}

/** Columns of up to 120 samples: seconds since the window opened, visible, in flight, delayed, DLQ, running. */
export interface SampleColumns {
  t: number[];
  v: (number | null)[];
  f: (number | null)[];
  d: (number | null)[];
  l: (number | null)[];
  r: (number | null)[];
}

/** The compact result verify keeps in record.extra.verify[checkpoint]. */
export interface VerifyRecordEntry {
  startedAt: string;
  endedAt: string;
  sampleSeconds: number;
  planned: number;
  taken: number;
  samples: SampleColumns;
  metrics: WindowMetrics;
  /** How many dimension combinations of the worker's metric had data. */
  dimensionSets?: number;
  criteria: RecordedCriterion[];
  verdict: 'pass' | 'fail';
}

/**
 * A verify entry as read back from a record: every field is optional, since an entry written by
 * an older or a foreign job may lack any of them (parseRecord keeps the well-formed ones).
 */
export type RecordedVerifyEntry = Partial<VerifyRecordEntry>;

export type SettingAction =
  | 'restored'
  | 'already'
  | 'failed'
  | 'would restore'
  | 'not changed by this deployment'
  | 'not known without a record'
  | 'rolled back'
  | 'cancelled'
  | 'would undo'
  | 'needs follow-up';

/** What the last rollback run did (extra.rollback). */
export interface RollbackExtra {
  at: string;
  dryRun: boolean;
  reasons: string[];
  /** Instance results by kind (restored, already, gone, failed, ...). */
  counts: Record<string, number>;
  settings: { setting: string; action: SettingAction; now?: string }[];
}

/** The mode-specific parts of record.extra, each written by one mode. */
export interface RecordExtra {
  /** rollout, strategy ssm: the batch history. */
  rollout?: RolloutExtra;
  /** rollout, strategy asg: what the group named before the first run. */
  rolloutAsg?: RolloutAsgExtra;
  /** verify: one entry per checkpoint judged. */
  verify?: Partial<Record<JudgedCheckpoint, RecordedVerifyEntry>>;
  /** rollback: its last run's summary. */
  rollback?: RollbackExtra;
  /** rollback: the restore commands it sent (SSM command ids). */
  rollbackCommands?: string[];
}
