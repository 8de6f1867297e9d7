import { readdirSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import {
  AwsApi,
  isClockSkewError,
  isRetryable,
  MAX_PAGES,
  pages,
  PageCapReached,
} from '../../src/aws/api.js';
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

// A runner whose clock is an hour slow, against a real SDK client (retries off, as createClients
// sets them) and a stand-in HTTP handler that judges the signature's time the way AWS does: a
// request signed more than 15 minutes from the server's time is refused (SigV4 "Signature expired";
// STS answers SignatureDoesNotMatch, 403, https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html),
// and every answer carries the server's Date header, from which the SDK corrects its offset.
describe('AwsApi.call with a skewed runner clock', () => {
  const SERVER_NOW = Date.parse('2026-12-01T11:40:00Z');
  const SKEW_MS = -60 * 60_000; // the runner is an hour behind
  const amzDate = (h: Record<string, string>) => {
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(h['x-amz-date'] ?? '');
    return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : NaN;
  };
  function stsWith(answers: { signedAt: number }[]) {
    const requestHandler = {
      handle: async (req: { headers: Record<string, string> }) => {
        const signedAt = amzDate(req.headers);
        answers.push({ signedAt });
        const ok = Math.abs(signedAt - SERVER_NOW) <= 15 * 60_000;
        const body = ok
          ? '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:sts::123456789012:assumed-role/deploy/gha</Arn><UserId>AROAEXAMPLE:gha</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></GetCallerIdentityResponse>'
          : `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>Signature expired: ${req.headers['x-amz-date']} is now earlier than 20261201T112500Z (20261201T114000Z - 15 min.)</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`;
        return {
          // The shape of an HttpResponse (statusCode, headers, body), as a request handler returns it.
          response: {
            statusCode: ok ? 200 : 403,
            headers: { 'content-type': 'text/xml', date: new Date(SERVER_NOW).toUTCString() },
            body: Readable.from([Buffer.from(body)]),
          },
        };
      },
    };
    return new STSClient({
      region: 'ap-northeast-1',
      maxAttempts: 1,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      requestHandler,
      systemClockOffset: 0,
    });
  }

  let realNow: () => number;
  beforeEach(() => {
    realNow = Date.now;
    Date.now = () => SERVER_NOW + SKEW_MS;
  });
  afterEach(() => {
    Date.now = realNow;
  });

  it('retries once, at once, after the SDK corrected its clock offset, and succeeds', async () => {
    const answers: { signedAt: number }[] = [];
    const sts = stsWith(answers);
    const clock = new FakeClock();
    const api = new AwsApi(clock.sleep);
    const who = await api.call('sts:GetCallerIdentity', () => sts.send(new GetCallerIdentityCommand({})));
    expect(who.Account).toBe('123456789012');
    expect(answers).toHaveLength(2);
    expect(SERVER_NOW - answers[0].signedAt).toBeGreaterThan(15 * 60_000);
    expect(Math.abs(answers[1].signedAt - SERVER_NOW)).toBeLessThan(60_000);
    expect(clock.sleeps).toEqual([]);
    // The client keeps the offset: its next call is signed right the first time.
    await api.call('sts:GetCallerIdentity', () => sts.send(new GetCallerIdentityCommand({})));
    expect(answers).toHaveLength(3);
  });

  it('without the retry (the old behaviour) the first call fails, and the error says the clock was corrected', async () => {
    const sts = stsWith([]);
    const e = (await sts.send(new GetCallerIdentityCommand({})).catch((x: unknown) => x)) as {
      name: string;
      $metadata: { clockSkewCorrected?: boolean };
    };
    expect(e.name).toBe('SignatureDoesNotMatch');
    expect(e.$metadata.clockSkewCorrected).toBe(true);
    expect(isClockSkewError(e)).toBe(true);
  });

  it('retries a clock-skew error only once: a second refusal fails, naming the operation', async () => {
    const clock = new FakeClock();
    const api = new AwsApi(clock.sleep);
    let n = 0;
    await expect(
      api.call('ec2:DescribeInstances', async () => {
        n++;
        return Promise.reject(awsError('AuthFailure', 401));
      }),
    ).rejects.toThrow(/ec2:DescribeInstances failed/);
    expect(n).toBe(2);
    expect(clock.sleeps).toEqual([]);
    // A permission error is not a clock error unless the SDK says it corrected the clock.
    expect(isClockSkewError(awsError('AccessDeniedException', 400))).toBe(false);
    const corrected = awsError('AccessDeniedException', 400) as Error & {
      $metadata: Record<string, unknown>;
    };
    corrected.$metadata.clockSkewCorrected = true;
    expect(isClockSkewError(corrected)).toBe(true);
  });

  it('a skew retry does not use up the throttling budget', async () => {
    const clock = new FakeClock();
    const api = new AwsApi(clock.sleep, { attempts: 2, baseMs: 10, capMs: 10 }, () => 1);
    let n = 0;
    const r = await api.call('sqs:GetQueueAttributes', async () => {
      n++;
      if (n === 1) throw awsError('RequestExpired', 400);
      if (n === 2) throw awsError('ThrottlingException', 400);
      return 'ok';
    });
    expect(r).toBe('ok');
    expect(n).toBe(3);
    expect(clock.sleeps).toEqual([10]);
  });
});

// NextToken paging as the AWS APIs the gateways page describe it (e.g. DescribeInstances' NextToken:
// "The token to include in another request to get the next page of items. This value is null when
// there are no more items to return.",
// https://docs.aws.amazon.com/sdk-for-ruby/v3/api/Aws/EC2/Types/DescribeInstancesResult.html, as in
// API_DescribeInstances): the first request without a token, each next with the token the last
// answer gave, until an answer has none.
describe('pages', () => {
  const api = () => new AwsApi(new FakeClock().sleep);

  it('reads every page through AwsApi.call, handing each answer’s NextToken to the next request', async () => {
    const a = api();
    const asked: (string | undefined)[] = [];
    const answers: Record<string, { Items: number[]; NextToken?: string }> = {
      first: { Items: [1, 2], NextToken: 't2' },
      t2: { Items: [3], NextToken: 't3' },
      t3: { Items: [4] },
    };
    const got: number[] = [];
    for await (const page of pages('ec2:DescribeInstances', (token) =>
      a.call('ec2:DescribeInstances', async () => {
        asked.push(token);
        return answers[token ?? 'first'];
      }),
    )) {
      got.push(...page.Items);
    }
    expect(got).toEqual([1, 2, 3, 4]);
    expect(asked).toEqual([undefined, 't2', 't3']);
    expect(a.calls.get('ec2:DescribeInstances')).toBe(3);
  });

  it('lets the caller stop early: no further page is asked for', async () => {
    const a = api();
    let n = 0;
    for await (const page of pages('ssm:ListCommands', () =>
      a.call('ssm:ListCommands', async () => ({ n: ++n, NextToken: 'more' })),
    )) {
      if (page.n === 2) break;
    }
    expect(a.calls.get('ssm:ListCommands')).toBe(2);
  });

  it('fails at the page cap, naming the operation, rather than hand back a partial list', async () => {
    const a = api();
    const read = async () => {
      for await (const page of pages('sns:ListSubscriptionsByTopic', () =>
        a.call('sns:ListSubscriptionsByTopic', async () => ({ NextToken: 'again' })),
      ))
        void page;
    };
    await expect(read()).rejects.toThrow(PageCapReached);
    await expect(read()).rejects.toThrow(/^sns:ListSubscriptionsByTopic still had more pages after 1000/);
    expect(a.calls.get('sns:ListSubscriptionsByTopic')).toBe(2 * MAX_PAGES);
  });

  it('a last page exactly at the cap is a whole list, not a failure', async () => {
    const a = api();
    let n = 0;
    let pagesRead = 0;
    for await (const page of pages('cloudwatch:ListMetrics', () =>
      a.call('cloudwatch:ListMetrics', async () => (++n < MAX_PAGES ? { NextToken: `t${n}` } : {})),
    ))
      if (page) pagesRead++;
    expect(pagesRead).toBe(MAX_PAGES);
  });

  it('is named, in every gateway, for the operation its page call sends (the cap error names it)', () => {
    const uses: string[] = [];
    for (const file of readdirSync('src/aws').filter((f) => f.endsWith('.ts') && f !== 'api.ts')) {
      const text = readFileSync(`src/aws/${file}`, 'utf8');
      const calls = [...text.matchAll(/\bpages\(/g)].length;
      const named = [...text.matchAll(/\bpages\('([^']+)',\s*\(NextToken\)\s*=>\s*api\.call\('([^']+)'/g)];
      expect({ file, paged: named.length }).toEqual({ file, paged: calls });
      for (const [, label, op] of named) {
        expect({ file, label }).toEqual({ file, label: op });
        uses.push(op);
      }
    }
    // The paged reads: DescribeInstances, DescribeInstanceInformation, ListCommandInvocations,
    // ListCommands, GetMetricData, ListMetrics, ListSubscriptionsByTopic, ListRuleNamesByTarget.
    expect(uses.sort()).toEqual([
      'cloudwatch:GetMetricData',
      'cloudwatch:ListMetrics',
      'ec2:DescribeInstances',
      'events:ListRuleNamesByTarget',
      'sns:ListSubscriptionsByTopic',
      'ssm:DescribeInstanceInformation',
      'ssm:ListCommandInvocations',
      'ssm:ListCommands',
    ]);
  });
});
