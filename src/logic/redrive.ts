// The DLQ review's judgement, without AWS: what the sampled messages are (S3 object events, S3 test
// events, something else), how old, whether they were first sent before or after the fleet ran the
// fix, and which are duplicates of the same object event. Also the redrive's preconditions: the
// record's verify verdict and the DLQ's RedriveAllowPolicy.
import type { PeekedMessageWithBody } from '../observed.js';
import type { DeploymentRecord, RedriveEntry } from '../record.js';
import { num, outcome, parseTime, phases, str } from './record-facts.js';

/** One S3 object event record (the S3 event message structure, notification-content-structure). */
export interface S3ObjectEvent {
  bucket: string;
  key: string;
  size?: number;
  eventName: string;
  eventTime?: string;
  sequencer?: string;
}

export type ParsedBody =
  | { kind: 's3'; events: S3ObjectEvent[] }
  | { kind: 'test'; bucket?: string }
  | { kind: 'other'; why: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** S3 event keys are URL-encoded, spaces as '+' (notification-content-structure). */
function decodeKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}

function s3Events(records: unknown[]): S3ObjectEvent[] | undefined {
  const events: S3ObjectEvent[] = [];
  for (const r of records) {
    if (!isObject(r) || r.eventSource !== 'aws:s3' || !isObject(r.s3)) return undefined;
    const bucket = isObject(r.s3.bucket) ? r.s3.bucket.name : undefined;
    const object = isObject(r.s3.object) ? r.s3.object : undefined;
    if (typeof bucket !== 'string' || !object || typeof object.key !== 'string') return undefined;
    events.push({
      bucket: bucket.slice(0, 63),
      key: decodeKey(object.key).slice(0, 1024),
      size: num(object.size),
      eventName: str(r.eventName, 80) ?? '?',
      eventTime: str(r.eventTime, 40),
      sequencer: str(object.sequencer, 64),
    });
  }
  return events;
}

/**
 * What one message body is: an S3 event notification (directly, or wrapped in an SNS notification
 * when the bucket notifies a topic the queue subscribes to), S3's s3:TestEvent (sent when a
 * notification configuration is saved), or something else.
 */
export function parseBody(body: string): ParsedBody {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { kind: 'other', why: 'not JSON' };
  }
  if (isObject(value) && value.Type === 'Notification' && typeof value.Message === 'string') {
    const inner = parseBody(value.Message);
    return inner.kind === 'other' ? { kind: 'other', why: `SNS notification: ${inner.why}` } : inner;
  }
  if (!isObject(value)) return { kind: 'other', why: 'JSON that is not an object' };
  if (value.Event === 's3:TestEvent') {
    return { kind: 'test', bucket: str(value.Bucket, 63) };
  }
  if (!Array.isArray(value.Records)) return { kind: 'other', why: 'no Records list' };
  if (value.Records.length === 0) return { kind: 'other', why: 'an empty Records list' };
  const events = s3Events(value.Records);
  return events ? { kind: 's3', events } : { kind: 'other', why: 'Records that are not S3 events' };
}

/** One row of the review's sample table. */
export interface ReviewRow {
  messageId: string;
  kind: ParsedBody['kind'];
  sentAt?: number;
  receiveCount?: number;
  bucket?: string;
  key?: string;
  size?: number;
  eventName?: string;
  eventTime?: string;
  sequencer?: string;
  duplicate: boolean;
  note?: string;
}

export interface Review {
  sampled: number;
  s3Events: number;
  duplicates: number;
  testEvents: number;
  notS3: number;
  oldestSentAt?: number;
  newestSentAt?: number;
  /** When the fleet ran the fix, from the record; undefined when the record does not say. */
  fixAt?: number;
  sentBeforeFix?: number;
  sentAfterFix?: number;
  maxReceiveCount?: number;
  rows: ReviewRow[];
}

/**
 * When the whole fleet ran the fix: the end of the last rollout that passed, else (a one-instance
 * fleet) the canary's GO. A message first sent after that was dead-lettered by fixed workers.
 */
export function fixTime(record: DeploymentRecord | undefined): number | undefined {
  if (!record) return undefined;
  const all = phases(record);
  const rollout = [...all].reverse().find((p) => p.mode === 'rollout' && p.verdict === 'pass');
  const canary = [...all].reverse().find((p) => p.mode === 'canary' && p.verdict === 'go');
  return parseTime(rollout?.endedAt ?? canary?.endedAt)?.getTime();
}

/** Summarises the sampled messages. Duplicates: the same object event (bucket, key, sequencer). */
export function reviewMessages(messages: PeekedMessageWithBody[], fixAt?: number): Review {
  const seen = new Set<string>();
  const rows: ReviewRow[] = [];
  let s3 = 0;
  let duplicates = 0;
  let testEvents = 0;
  let notS3 = 0;
  for (const m of messages) {
    const parsed = parseBody(m.body);
    const base = { messageId: m.messageId, sentAt: m.sentAt, receiveCount: m.receiveCount };
    if (parsed.kind === 'test') {
      testEvents++;
      rows.push({ ...base, kind: 'test', bucket: parsed.bucket, duplicate: false, note: 's3:TestEvent' });
      continue;
    }
    if (parsed.kind === 'other') {
      notS3++;
      rows.push({ ...base, kind: 'other', duplicate: false, note: parsed.why });
      continue;
    }
    for (const e of parsed.events) {
      s3++;
      // Without a sequencer two events of one object cannot be told apart from two real uploads.
      const identity = e.sequencer ? `${e.bucket}\u0000${e.key}\u0000${e.sequencer}` : undefined;
      const duplicate = identity !== undefined && seen.has(identity);
      if (identity) seen.add(identity);
      if (duplicate) duplicates++;
      rows.push({ ...base, kind: 's3', ...e, duplicate });
    }
  }
  const sent = messages.map((m) => m.sentAt).filter((t): t is number => t !== undefined);
  const counts = messages.map((m) => m.receiveCount).filter((n): n is number => n !== undefined);
  return {
    sampled: messages.length,
    s3Events: s3,
    duplicates,
    testEvents,
    notS3,
    oldestSentAt: sent.length > 0 ? Math.min(...sent) : undefined,
    newestSentAt: sent.length > 0 ? Math.max(...sent) : undefined,
    fixAt,
    sentBeforeFix: fixAt === undefined ? undefined : sent.filter((t) => t < fixAt).length,
    sentAfterFix: fixAt === undefined ? undefined : sent.filter((t) => t >= fixAt).length,
    maxReceiveCount: counts.length > 0 ? Math.max(...counts) : undefined,
    rows,
  };
}

/**
 * Why the redrive must not run, or undefined when it may. Messages sent back to workers that have
 * not been shown to work go around the loop again and return to the DLQ.
 */
export function redriveRefusal(record: DeploymentRecord | undefined): string | undefined {
  if (!record) return 'there is no record: nothing shows that verify passed for this deployment';
  const state = outcome(record);
  if (state === 'rolled-back') return `deployment ${record.deploymentId} was rolled back`;
  if (state === 'completed') {
    // A dry-run deployment installed nothing: its verify passing says nothing about the fix.
    const installed = phases(record).some(
      (p) =>
        !p.dryRun &&
        ((p.mode === 'rollout' && p.verdict === 'pass') || (p.mode === 'canary' && p.verdict === 'go')),
    );
    return installed
      ? undefined
      : `the record of ${record.deploymentId} shows no fix installed (only dry runs)`;
  }
  const verify = [...phases(record)].reverse().find((p) => p.mode === 'verify');
  if (!verify) return `the record of ${record.deploymentId} has no verify phase`;
  return `verify of ${record.deploymentId} did not pass (${verify.verdict ?? 'not finished'})`;
}

/**
 * Whether the DLQ's RedriveAllowPolicy lets `sourceArn` use it as its dead-letter queue. No policy
 * means allowAll (the default, SQS SetQueueAttributes RedriveAllowPolicy).
 */
export function allowPolicyProblem(raw: string | undefined, sourceArn: string): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  let policy: unknown;
  try {
    policy = JSON.parse(raw);
  } catch {
    return 'the DLQ has a RedriveAllowPolicy that is not JSON';
  }
  if (!isObject(policy)) return 'the DLQ has a RedriveAllowPolicy that is not an object';
  const permission = policy.redrivePermission;
  if (permission === 'allowAll' || permission === undefined) return undefined;
  if (permission === 'denyAll') return 'the DLQ’s RedriveAllowPolicy is denyAll';
  if (permission === 'byQueue') {
    const arns = Array.isArray(policy.sourceQueueArns) ? policy.sourceQueueArns : [];
    return arns.includes(sourceArn)
      ? undefined
      : `the DLQ’s RedriveAllowPolicy (byQueue) does not list ${sourceArn}`;
  }
  return `the DLQ has a RedriveAllowPolicy with an unknown redrivePermission ${JSON.stringify(permission).slice(0, 40)}`;
}

/** The redrive entry of a record, checked field by field (the record crossed job boundaries). */
export function readRedriveEntry(record: DeploymentRecord): RedriveEntry | undefined {
  const r = (record as { redrive?: unknown }).redrive;
  if (!isObject(r)) return undefined;
  const reviewedAt = parseTime(r.reviewedAt);
  const sampled = num(r.sampled);
  if (!reviewedAt || sampled === undefined) return undefined;
  return { ...(r as unknown as RedriveEntry), reviewedAt: reviewedAt.toISOString(), sampled };
}
