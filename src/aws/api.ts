// Every AWS call goes through AwsApi.call: one place for bounded retries of throttling and
// transient faults (with the injected sleep, so tests never wait), and for counting calls by
// operation (the benchmark's figures). The SDK's own retries are off (maxAttempts 1 in the client
// factory) so the two never multiply.
import type { Sleep } from '../runtime.js';

export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  capMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseMs: 500, capMs: 20_000 };

const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
  'ThrottlingError',
]);
const TRANSIENT = new Set([
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'InternalServerError',
  'InternalServerException',
  'TimeoutError',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
]);

// Errors a request signed with a skewed clock gets (the SDK's own list, @smithy/core
// service-error-classification CLOCK_SKEW_ERROR_CODES, without AccessDeniedException: that one is
// nearly always a missing permission, and is retried only when the SDK says it corrected its clock).
const CLOCK_SKEW = new Set([
  'AuthFailure',
  'InvalidSignatureException',
  'RequestExpired',
  'RequestInTheFuture',
  'RequestTimeTooSkewed',
  'SignatureDoesNotMatch',
]);

interface AwsErrorShape {
  name?: string;
  code?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number; clockSkewCorrected?: boolean };
}

/**
 * A request refused for its signing time. The SDK reads the server's Date header from every answer
 * (errors included) and moves the client's clock offset; when the move is 4 minutes or more it marks
 * the error `$metadata.clockSkewCorrected` (@aws-sdk/core AwsSdkSigV4Signer.errorHandler). Its own
 * retry strategy would then retry, but its retries are off here (maxAttempts 1): without this, a
 * runner whose clock is off fails every client's first call.
 */
export function isClockSkewError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const err = e as AwsErrorShape;
  return err.$metadata?.clockSkewCorrected === true || CLOCK_SKEW.has(err.name ?? '');
}

/** Throttling, 5xx and dropped connections are worth another try; anything else fails at once. */
export function isRetryable(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const err = e as AwsErrorShape;
  const name = err.name ?? '';
  if (THROTTLING.has(name) || TRANSIENT.has(name) || (err.code && TRANSIENT.has(err.code))) return true;
  if (err.$retryable) return true;
  const status = err.$metadata?.httpStatusCode;
  return status === 429 || (status !== undefined && status >= 500 && status <= 599);
}

export class AwsApi {
  readonly calls = new Map<string, number>();
  constructor(
    private readonly sleep: Sleep,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * Runs one AWS operation. `operation` is the IAM action name (service:Action); the policy test
   * reads these names from the source.
   */
  async call<T>(operation: string, send: () => Promise<T>): Promise<T> {
    let skewRetried = false;
    for (let attempt = 1; ; attempt++) {
      this.calls.set(operation, (this.calls.get(operation) ?? 0) + 1);
      try {
        return await send();
      } catch (e) {
        // Once, at once, outside the attempt budget: the SDK has just taken the server's time, so
        // the same request signed again carries a time the service accepts. A second refusal is a
        // real one (bad credentials, or a clock the server's answer did not correct) and fails.
        if (!skewRetried && isClockSkewError(e)) {
          skewRetried = true;
          attempt--;
          continue;
        }
        if (attempt >= this.retry.attempts || !isRetryable(e)) {
          if (e instanceof Error && !e.message.includes(operation)) {
            e.message = `${operation} failed: ${e.message || e.name}`;
          }
          throw e;
        }
        // Full jitter: spreads a fleet's worth of retries instead of synchronising them.
        const ceiling = Math.min(this.retry.capMs, this.retry.baseMs * 2 ** (attempt - 1));
        await this.sleep(Math.round(ceiling * (0.5 + this.random() / 2)));
      }
    }
  }

  totalCalls(): number {
    let n = 0;
    for (const v of this.calls.values()) n += v;
    return n;
  }
}

/**
 * The one page cap for every NextToken-paged read. It guards against an answer that never stops
 * giving a NextToken, not a size we expect to reach: 1,000 pages is 1,000,000 instances at
 * DescribeInstances' 1,000 a page, and far past any topic, rule list or metric set we read.
 */
export const MAX_PAGES = 1000;

/** A paged read that still had a NextToken after MAX_PAGES pages. */
export class PageCapReached extends Error {
  constructor(operation: string) {
    super(`${operation} still had more pages after ${MAX_PAGES}; stopped rather than use a partial list`);
    this.name = 'PageCapReached';
  }
}

/**
 * Every page of a NextToken-paged read, in order. `fetchPage` makes one call through AwsApi.call
 * (so each page is counted and retried) with the token it is given (undefined for the first page).
 * A caller that has what it needs stops early with `break`. At the cap the read fails, naming the
 * operation: a partial list (a fleet missing instances, a sum missing points) is never used as if
 * it were whole. (Before there was one cap policy each loop stopped at its own cap and went on
 * silently with what it had; failing is the safer of the two.)
 */
export async function* pages<P extends { NextToken?: string }>(
  operation: string,
  fetchPage: (nextToken: string | undefined) => Promise<P>,
): AsyncGenerator<P, void, undefined> {
  let token: string | undefined;
  for (let n = 1; ; n++) {
    const page = await fetchPage(token);
    yield page;
    token = page.NextToken;
    if (!token) return;
    if (n >= MAX_PAGES) throw new PageCapReached(operation);
  }
}
