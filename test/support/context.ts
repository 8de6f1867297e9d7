// A ModeContext for unit tests: real AWS clients whose `send` aws-sdk-client-mock replaces, a fake
// clock (sleep advances time instantly), and a reporter that keeps everything in memory.
import { AwsApi } from '../../src/aws/api.js';
import { createClients } from '../../src/aws/clients.js';
import type { InputName } from '../../src/constants.js';
import type { ModeContext } from '../../src/context.js';
import { parseInputs } from '../../src/inputs.js';
import { newRecord, type DeploymentRecord, type GithubInfo } from '../../src/record.js';
import { MemoryReporter, fakeRuntime } from './fakes.js';

export const TEST_GITHUB: GithubInfo = {
  actor: 'sre-on-call',
  repository: 'acme/workers',
  sha: '0123456789abcdef0123456789abcdef01234567',
  ref: 'refs/heads/main',
  workflow: 'Emergency deploy',
  runId: 4242,
  runAttempt: 1,
  serverUrl: 'https://github.com',
};

export type RawInputs = Partial<Record<InputName, string>>;

export function reader(raw: RawInputs) {
  return (name: InputName) => raw[name] ?? '';
}

export function testContext(raw: RawInputs) {
  const inputs = parseInputs(reader({ region: 'ap-northeast-1', ...raw }));
  const runtime = fakeRuntime();
  const report = new MemoryReporter();
  // Tests never wait: retries sleep on the fake clock, and jitter is fixed.
  const api = new AwsApi(runtime.sleep, { attempts: 4, baseMs: 100, capMs: 1000 }, () => 0.5);
  const ctx: ModeContext = {
    inputs,
    clients: createClients(inputs.region, 'test'),
    api,
    runtime,
    report,
    github: TEST_GITHUB,
    workspace: process.cwd(),
  };
  return { ctx, runtime, report, api };
}

/** An AWS-style error, as the SDK throws it. */
export function awsError(name: string, status = 400, message = name): Error {
  const e = new Error(message) as Error & { $metadata: { httpStatusCode: number }; $fault: string };
  e.name = name;
  e.$metadata = { httpStatusCode: status };
  e.$fault = status >= 500 ? 'server' : 'client';
  return e;
}

/** A fresh record for the runbook's world (file-processor in /opt/file-processor/worker.py). */
export function runbookRecord(
  deploymentId: string,
  now = new Date('2026-11-29T00:00:00Z'),
): DeploymentRecord {
  return newRecord({
    deploymentId,
    now,
    region: 'ap-northeast-1',
    github: TEST_GITHUB,
    serviceName: 'file-processor',
    workerDir: '/opt/file-processor',
    targetFile: 'worker.py',
  });
}
