import { AwsApi, isRetryable } from '../../src/aws/api.js';
import { FakeClock } from '../support/fakes.js';
import { awsError } from '../support/context.js';

describe('isRetryable', () => {
  it.each([
    ['ThrottlingException', 400, true],
    ['RequestLimitExceeded', 503, true],
    ['InternalError', 500, true],
    ['SomethingNew', 503, true],
    ['TooManyRequestsException', 429, true],
    ['AccessDeniedException', 403, false],
    ['QueueDoesNotExist', 400, false],
    ['ValidationException', 400, false],
  ])('%s (%d) → %s', (name, status, expected) => {
    expect(isRetryable(awsError(name, status))).toBe(expected);
  });
  it('treats dropped connections as transient and plain values as not', () => {
    expect(isRetryable(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryable('boom')).toBe(false);
  });
});

describe('AwsApi.call', () => {
  it('retries throttling with bounded, growing waits on the injected clock, then succeeds', async () => {
    const clock = new FakeClock();
    const api = new AwsApi(clock.sleep, { attempts: 5, baseMs: 100, capMs: 250 }, () => 1);
    let n = 0;
    const result = await api.call('sqs:GetQueueAttributes', async () => {
      if (++n < 4) throw awsError('ThrottlingException');
      return 'ok';
    });
    expect(result).toBe('ok');
    expect(clock.sleeps).toEqual([100, 200, 250]);
    expect(api.calls.get('sqs:GetQueueAttributes')).toBe(4);
  });

  it('gives up after the attempt bound, naming the operation', async () => {
    const clock = new FakeClock();
    const api = new AwsApi(clock.sleep, { attempts: 3, baseMs: 10, capMs: 10 }, () => 0);
    await expect(
      api.call('ec2:DescribeInstances', async () => Promise.reject(awsError('ServiceUnavailable', 503))),
    ).rejects.toThrow(/ec2:DescribeInstances failed/);
    expect(clock.sleeps).toHaveLength(2);
  });

  it('fails at once on an error that retrying cannot fix', async () => {
    const clock = new FakeClock();
    const api = new AwsApi(clock.sleep);
    await expect(
      api.call('sts:GetCallerIdentity', async () => Promise.reject(awsError('AccessDenied', 403))),
    ).rejects.toThrow(/AccessDenied/);
    expect(clock.sleeps).toEqual([]);
    expect(api.totalCalls()).toBe(1);
  });
});
