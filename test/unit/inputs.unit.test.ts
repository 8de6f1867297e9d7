import { DEFAULT_ERROR_PATTERNS, DEFAULT_HEALTH_PATTERNS } from '../../src/constants.js';
import {
  parseBatchSize,
  parseFilters,
  parseInputs,
  parseLines,
  parsePatterns,
  parseS3Uri,
} from '../../src/inputs.js';
import { newRecord, serializeRecord } from '../../src/record.js';
import { reader, TEST_GITHUB, type RawInputs } from '../support/context.js';

const base: RawInputs = {
  mode: 'preflight',
  region: 'ap-northeast-1',
  'queue-name': 'file-processing-queue-production',
};
const parse = (raw: RawInputs) => parseInputs(reader({ ...base, ...raw }));

describe('parseInputs defaults', () => {
  it('fills the runbook defaults', () => {
    const i = parse({});
    expect(i).toMatchObject({
      mode: 'preflight',
      region: 'ap-northeast-1',
      queueName: 'file-processing-queue-production',
      instanceFilters: [{ Name: 'tag:Name', Values: ['cis-file-processor'] }],
      ssmCheck: true,
      serviceName: 'file-processor',
      workerDir: '/opt/file-processor',
      targetFile: 'worker.py',
      healthPatterns: DEFAULT_HEALTH_PATTERNS,
      errorPatterns: DEFAULT_ERROR_PATTERNS,
      canaryMinutes: 5,
      pollSeconds: 30,
      strategy: 'ssm',
      batchSize: { kind: 'count', value: 1 },
      pauseSeconds: 120,
      maxErrors: 0,
      verifyMinutes: 10,
      sampleSeconds: 60,
      metricNamespace: 'CISFileSearch/Worker',
      metricName: 'MessageDeleteFailed',
      dryRun: false,
      checkpoint: '10m',
    });
    expect(i.visibilityTimeout).toBeUndefined();
  });

  it('takes the region from AWS_REGION when the input is empty', () => {
    expect(parseInputs(reader({ ...base, region: '' }), { AWS_REGION: 'us-east-1' }).region).toBe(
      'us-east-1',
    );
  });

  it('accepts the contract ranges at their edges', () => {
    const low = parse({
      'canary-minutes': '0',
      'poll-seconds': '1',
      'pause-seconds': '0',
      'verify-minutes': '1',
      'sample-seconds': '5',
      'visibility-timeout': '0',
    });
    expect([
      low.canaryMinutes,
      low.pollSeconds,
      low.pauseSeconds,
      low.verifyMinutes,
      low.sampleSeconds,
      low.visibilityTimeout,
    ]).toEqual([0, 1, 0, 1, 5, 0]);
    const high = parse({
      'canary-minutes': '180',
      'poll-seconds': '600',
      'pause-seconds': '3600',
      'verify-minutes': '1440',
      'sample-seconds': '3600',
      'visibility-timeout': '43200',
    });
    expect([
      high.canaryMinutes,
      high.pollSeconds,
      high.pauseSeconds,
      high.verifyMinutes,
      high.sampleSeconds,
      high.visibilityTimeout,
    ]).toEqual([180, 600, 3600, 1440, 3600, 43200]);
  });

  it('reads `none` as an empty pattern list and as "leave the visibility timeout alone"', () => {
    const i = parse({ 'health-patterns': 'none', 'error-patterns': ' none ', 'visibility-timeout': 'none' });
    expect(i.healthPatterns).toEqual([]);
    expect(i.errorPatterns).toEqual([]);
    expect(i.visibilityTimeout).toBeUndefined();
  });

  it('parses strict booleans like core.getBooleanInput', () => {
    expect(parse({ 'dry-run': 'True', 'ssm-check': 'FALSE' })).toMatchObject({
      dryRun: true,
      ssmCheck: false,
    });
  });
});

describe('parseInputs refuses bad values, naming the input', () => {
  it.each<[RawInputs, RegExp]>([
    [{ mode: '' }, /Input 'mode' is required: one of preflight, canary, rollout, verify, rollback/],
    [{ mode: 'deploy' }, /Input 'mode' must be one of preflight, canary, rollout, verify, rollback/],
    [{ region: 'tokyo' }, /Input 'region' is not an AWS region/],
    [{ 'queue-name': 'q;rm -rf /' }, /Input 'queue-name'/],
    [
      { 'queue-url': 'https://sqs.ap-northeast-1.amazonaws.com/123456789012/q' },
      /Input 'queue-url' and 'queue-name' are both set/,
    ],
    [{ 'queue-name': '', 'queue-url': 'ftp://x/1/q' }, /Input 'queue-url'/],
    [{ bucket: 'Bad_Bucket' }, /Input 'bucket'/],
    [{ 'ssm-check': 'yes' }, /Input 'ssm-check' must be true or false/],
    [{ 'dry-run': '1' }, /Input 'dry-run' must be true or false/],
    [{ 'canary-minutes': '-1' }, /Input 'canary-minutes' must be a whole number/],
    [{ 'canary-minutes': '181' }, /Input 'canary-minutes' must be from 0 to 180/],
    [{ 'poll-seconds': '0' }, /Input 'poll-seconds' must be from 1 to 600/],
    [{ 'poll-seconds': '1.5' }, /Input 'poll-seconds' must be a whole number/],
    [{ 'pause-seconds': '3601' }, /Input 'pause-seconds'/],
    [{ 'verify-minutes': '0' }, /Input 'verify-minutes'/],
    [{ 'sample-seconds': '4' }, /Input 'sample-seconds'/],
    [{ 'visibility-timeout': '43201' }, /Input 'visibility-timeout' must be from 0 to 43200/],
    [{ 'batch-size': '0' }, /Input 'batch-size'/],
    [{ 'batch-size': '101%' }, /Input 'batch-size' percent/],
    [{ strategy: 'ansible' }, /Input 'strategy' must be one of ssm, asg/],
    [{ mode: 'rollout', strategy: 'asg' }, /Input 'asg-name' is required with strategy asg/],
    [{ 'service-name': 'file-processor; reboot' }, /Input 'service-name'/],
    [{ 'service-name': '-file' }, /Input 'service-name'/],
    [{ 'worker-dir': 'opt/file-processor' }, /Input 'worker-dir' must be an absolute path/],
    [{ 'worker-dir': '/opt/../etc' }, /Input 'worker-dir'/],
    [{ 'worker-dir': '/opt/file processor' }, /Input 'worker-dir'/],
    [{ 'worker-dir': '/' }, /Input 'worker-dir'/],
    [{ 'target-file': '../worker.py' }, /Input 'target-file'/],
    [{ 'target-file': 'worker.py\nrm' }, /Input 'target-file'/],
    [{ artifact: 's3://bucket' }, /Input 'artifact' must be s3:\/\/bucket\/key/],
    [{ artifact: 's3://b/../../etc/passwd' }, /Input 'artifact'/],
    [{ artifact: 's3://bucket/key$(reboot)' }, /Input 'artifact'/],
    [{ artifact: 'build/worker.py' }, /Input 'artifact-bucket' is required/],
    [{ artifact: '/etc/passwd', 'artifact-bucket': 'b-1' }, /Input 'artifact'/],
    [{ 'artifact-sha256': 'abc' }, /Input 'artifact-sha256'/],
    [{ 'canary-instance-id': 'i-xyz' }, /Input 'canary-instance-id'/],
    [{ 'instance-filters': 'tag:Name' }, /Input 'instance-filters' line "tag:Name" is not NAME=VALUE/],
    [
      { 'instance-filters': 'instance-state-name=stopped' },
      /Input 'instance-filters' must not filter on instance state/,
    ],
    [{ 'instance-filters': 'none' }, /Input 'instance-filters' must name at least one filter/],
    [{ 'health-patterns': 'Received \\d+' }, /Input 'health-patterns' pattern .* grep -E/],
    [{ 'error-patterns': '(unclosed' }, /Input 'error-patterns' pattern .* not a valid regular expression/],
    [{ 'metric-name': 'Message Delete' }, /Input 'metric-name'/],
    [{ record: '{not json' }, /Input 'record' is not valid JSON/],
    [{ record: '{"kind":"emergency-worker-deploy","version":99}' }, /Input 'record' has version 99/],
    [{ 'deployment-id': 'x' }, /Input 'deployment-id'/],
  ])('%j', (raw, message) => {
    expect(() => parse(raw)).toThrow(message);
  });

  it('refuses a record from another deployment or region', () => {
    const record = newRecord({
      deploymentId: 'dep-a',
      now: new Date(),
      region: 'ap-northeast-1',
      github: TEST_GITHUB,
      serviceName: 's',
      workerDir: '/opt/w',
      targetFile: 'w.py',
    });
    const json = serializeRecord(record);
    expect(() => parse({ record: json, 'deployment-id': 'dep-b' })).toThrow(
      /Input 'record' belongs to deployment dep-a/,
    );
    expect(() => parse({ record: json, region: 'us-east-1' })).toThrow(/Input 'record' was made in region/);
    expect(parse({ record: json }).record?.deploymentId).toBe('dep-a');
  });
});

describe('helpers', () => {
  it('parseLines trims, drops blanks, and reads `none`', () => {
    expect(parseLines(' a \n\n b\r\n')).toEqual(['a', 'b']);
    expect(parseLines('none')).toEqual([]);
    expect(parseLines('  ')).toBeUndefined();
  });
  it('parseFilters takes several values and several lines', () => {
    expect(parseFilters('f', 'tag:Name=a,b\ntag:Env=prod')).toEqual([
      { Name: 'tag:Name', Values: ['a', 'b'] },
      { Name: 'tag:Env', Values: ['prod'] },
    ]);
  });
  it('parseBatchSize reads counts and percents', () => {
    expect(parseBatchSize('b', '25%')).toEqual({ kind: 'percent', value: 25 });
    expect(parseBatchSize('b', '50')).toEqual({ kind: 'count', value: 50 });
  });
  it('parsePatterns accepts POSIX classes and caps the list', () => {
    expect(parsePatterns('p', 'Received [0-9]+ messages?\n[[:space:]]ERROR', [])).toHaveLength(2);
    expect(() => parsePatterns('p', Array.from({ length: 21 }, (_, i) => `p${i}`).join('\n'), [])).toThrow(
      /at most 20/,
    );
  });
  it('parseS3Uri splits bucket and key', () => {
    expect(parseS3Uri('a', 's3://my-bucket/fixes/worker.py')).toEqual({
      bucket: 'my-bucket',
      key: 'fixes/worker.py',
      uri: 's3://my-bucket/fixes/worker.py',
    });
  });
});

describe('record-file', () => {
  const json = serializeRecord(
    newRecord({
      deploymentId: 'dep-file',
      now: new Date(),
      region: 'ap-northeast-1',
      github: TEST_GITHUB,
      serviceName: 's',
      workerDir: '/opt/w',
      targetFile: 'w.py',
    }),
  );

  it('reads a record from a file, for records too large for an input', () => {
    const files: string[] = [];
    const i = parseInputs(reader({ ...base, 'record-file': 'records/deployment-record.json' }), {}, (p) => {
      files.push(p);
      return json;
    });
    expect(files).toEqual(['records/deployment-record.json']);
    expect(i.record?.deploymentId).toBe('dep-file');
    expect(() =>
      parseInputs(reader({ ...base, 'record-file': 'r.json', 'deployment-id': 'dep-other' }), {}, () => json),
    ).toThrow(/Input 'record-file' belongs to deployment dep-file/);
  });

  it('refuses both record and record-file, an unreadable file and a bad path', () => {
    expect(() =>
      parseInputs(reader({ ...base, record: json, 'record-file': 'r.json' }), {}, () => json),
    ).toThrow(/Input 'record-file' and 'record' are both set/);
    expect(() => parseInputs(reader({ ...base, 'record-file': '/no/such/file.json' }))).toThrow(
      /Input 'record-file' cannot be read/,
    );
    expect(() => parseInputs(reader({ ...base, 'record-file': 'a\u0007b' }), {}, () => json)).toThrow(
      /Input 'record-file' is not a usable path/,
    );
    expect(() => parseInputs(reader({ ...base, 'record-file': 'r.json' }), {}, () => '{"kind":"x"}')).toThrow(
      /Input 'record-file' is not a/,
    );
  });
});
