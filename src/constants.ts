// Names fixed by the contract (../shared/CONTRACT.md) and the extensions documented in README.md.
// action.yml declares the same names; test/unit/action-yml.unit.test.ts keeps them in step.

export const MODES = ['preflight', 'canary', 'rollout', 'verify', 'rollback', 'redrive'] as const;
export type Mode = (typeof MODES)[number];

export const Input = {
  Mode: 'mode',
  Region: 'region',
  QueueName: 'queue-name',
  QueueUrl: 'queue-url',
  DlqName: 'dlq-name',
  Bucket: 'bucket',
  InstanceFilters: 'instance-filters',
  SsmCheck: 'ssm-check',
  CanaryInstanceId: 'canary-instance-id',
  ServiceName: 'service-name',
  WorkerDir: 'worker-dir',
  TargetFile: 'target-file',
  Artifact: 'artifact',
  ArtifactSha256: 'artifact-sha256',
  ArtifactBucket: 'artifact-bucket',
  ArtifactPrefix: 'artifact-prefix',
  HealthPatterns: 'health-patterns',
  ErrorPatterns: 'error-patterns',
  AllowInconclusive: 'allow-inconclusive',
  CanaryMinutes: 'canary-minutes',
  PollSeconds: 'poll-seconds',
  CanaryMetricDimension: 'canary-metric-dimension',
  CommandTimeoutSeconds: 'command-timeout-seconds',
  Strategy: 'strategy',
  BatchSize: 'batch-size',
  PauseSeconds: 'pause-seconds',
  CanarySessionSeconds: 'canary-session-seconds',
  RolloutSessionSeconds: 'rollout-session-seconds',
  NotifyTopicArn: 'notify-topic-arn',
  MaxErrors: 'max-errors',
  AsgName: 'asg-name',
  LaunchTemplateName: 'launch-template-name',
  MinHealthyPercentage: 'min-healthy-percentage',
  RefreshCheckpoints: 'refresh-checkpoints',
  ImageNoReboot: 'image-no-reboot',
  VisibilityTimeout: 'visibility-timeout',
  VerifyMinutes: 'verify-minutes',
  SampleSeconds: 'sample-seconds',
  Checkpoint: 'checkpoint',
  DrainedThreshold: 'drained-threshold',
  DlqTolerance: 'dlq-tolerance',
  MinDepthReductionPercent: 'min-depth-reduction-percent',
  MinFilesPerHour: 'min-files-per-hour',
  MaxDepth24h: 'max-depth-24h',
  MaxLagSeconds: 'max-lag-seconds',
  MaxReceiveRatio: 'max-receive-ratio',
  CheckServices: 'check-services',
  MetricNamespace: 'metric-namespace',
  MetricName: 'metric-name',
  MetricDimensions: 'metric-dimensions',
  Record: 'record',
  RecordFile: 'record-file',
  DeploymentId: 'deployment-id',
  DryRun: 'dry-run',
  RedriveSample: 'redrive-sample',
  RedriveRate: 'redrive-rate',
  RedriveForce: 'redrive-force',
} as const;
export type InputName = (typeof Input)[keyof typeof Input];

export const Output = {
  Record: 'record',
  RecordFile: 'record-file',
  Verdict: 'verdict',
  QueueDepth: 'queue-depth',
  DlqDepth: 'dlq-depth',
  InstanceCount: 'instance-count',
  CanaryInstanceId: 'canary-instance-id',
  DeploymentId: 'deployment-id',
  NotificationBefore: 'notification-before',
  NotificationAfter: 'notification-after',
} as const;
export type OutputName = (typeof Output)[keyof typeof Output];

export type Verdict = 'pass' | 'go' | 'no-go' | 'fail';

export const DEFAULT_FILTERS = 'tag:Name=cis-file-processor';
// The runbook's success lines, as POSIX extended regular expressions (they are counted with grep -E
// on the instance).
export const DEFAULT_HEALTH_PATTERNS = [
  'Received [0-9]+ messages?',
  'Successfully processed',
  'Deleted message',
];
export const DEFAULT_ERROR_PATTERNS = ['Traceback', 'ERROR', 'CRITICAL'];

export const USER_AGENT = 'emergency-worker-deploy';
export const VERSION = '0.1.0';
// SQS accepts 0 to 43,200 seconds (12 hours) for VisibilityTimeout.
export const MAX_VISIBILITY_TIMEOUT = 43_200;
// SendCommand accepts at most 50 instance ids.
export const SSM_MAX_TARGETS = 50;
// StartMessageMoveTask: MaxNumberOfMessagesPerSecond is at most 500 (API_StartMessageMoveTask).
export const MAX_REDRIVE_RATE = 500;
// The review reads at most this many DLQ messages (ReceiveMessage returns 10 at a time).
export const MAX_REDRIVE_SAMPLE = 1000;

// Tags written on an instance before its file is replaced, so rollback can find what a deployment
// touched even when the job that touched it died before writing its record.
export const TAG_DEPLOYMENT_ID = 'emergency-deploy:deployment-id';
export const TAG_BACKUP_PATH = 'emergency-deploy:backup-path';
// The artifact's checksum: rollback without a record tells an instance tagged but never changed
// (its file is not the artifact) from one whose backup is lost.
export const TAG_ARTIFACT_SHA256 = 'emergency-deploy:artifact-sha256';
