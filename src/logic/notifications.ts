// Duplicate S3 event notifications: two configurations that would deliver the same object event to
// the same destination. Each duplicate doubles the work the workers see, so preflight stops on it.

import type { NotificationConfig } from '../observed.js';

export type { NotificationConfig };

export interface DuplicatePair {
  target: string;
  ids: [string, string];
  events: string[];
  why: string;
}

/** `s3:ObjectCreated:*` covers `s3:ObjectCreated:Put`; equal names overlap; nothing else does. */
export function eventsOverlap(a: string, b: string): boolean {
  if (a === b) return true;
  const covers = (wild: string, other: string) => wild.endsWith(':*') && other.startsWith(wild.slice(0, -1));
  return covers(a, b) || covers(b, a);
}

/** The events both configurations would deliver, written as the narrower name of each pair. */
export function sharedEvents(a: string[], b: string[]): string[] {
  const shared = new Set<string>();
  for (const x of a) {
    for (const y of b) {
      if (!eventsOverlap(x, y)) continue;
      shared.add(x.endsWith(':*') && !y.endsWith(':*') ? y : x);
    }
  }
  return [...shared].sort();
}

/**
 * Some key matches both filters exactly when one prefix extends the other and one suffix extends
 * the other (the key "longer prefix + longer suffix" then matches both). Disjoint prefixes or
 * suffixes never overlap.
 */
export function keyFiltersOverlap(
  a: { prefix: string; suffix: string },
  b: { prefix: string; suffix: string },
): boolean {
  const prefixes = a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix);
  const suffixes = a.suffix.endsWith(b.suffix) || b.suffix.endsWith(a.suffix);
  return prefixes && suffixes;
}

function describeFilter(c: NotificationConfig): string {
  const parts = [];
  if (c.prefix) parts.push(`prefix '${c.prefix}'`);
  if (c.suffix) parts.push(`suffix '${c.suffix}'`);
  return parts.length ? parts.join(' and ') : 'every key';
}

export function findDuplicates(configs: NotificationConfig[]): DuplicatePair[] {
  const pairs: DuplicatePair[] = [];
  for (let i = 0; i < configs.length; i++) {
    for (let j = i + 1; j < configs.length; j++) {
      const a = configs[i];
      const b = configs[j];
      if (a.kind !== b.kind || a.target !== b.target) continue;
      const events = sharedEvents(a.events, b.events);
      if (events.length === 0 || !keyFiltersOverlap(a, b)) continue;
      pairs.push({
        target: a.target,
        ids: [a.id, b.id],
        events,
        why: `both deliver ${events.join(', ')} to the same ${a.kind}; key filters overlap (${describeFilter(a)} vs ${describeFilter(b)})`,
      });
    }
  }
  return pairs;
}

// ---------------------------------------------------------------------------------------------
// Delivery paths into the queue. S3 refuses two configurations of one bucket whose event types and
// key filters overlap, whatever their destinations (S3 User Guide, "Configuring event notifications
// using object key name filtering": overlapping prefixes/suffixes for the same event type are not
// supported), so on real S3 the pairs findDuplicates looks for cannot exist. What does deliver one
// object event to the queue twice: a path that is not a configuration of this bucket's queue
// destinations. The paths are listed, and the overlap reasoning above decides which pairs can
// carry the same event.

export type PathKind = 'direct' | 'sns' | 'eventbridge';

export interface DeliveryPath {
  kind: PathKind;
  /** the configuration id (direct, sns) or the rule name (eventbridge) */
  id: string;
  /** what the events pass through: the queue, the topic ARN, or the rule ARN */
  via: string;
  events: string[];
  prefix: string;
  suffix: string;
  /** false for a disabled rule: listed, never counted */
  active: boolean;
}

export function describePath(p: DeliveryPath): string {
  if (p.kind === 'direct') return `queue configuration ${p.id}`;
  if (p.kind === 'sns') return `topic configuration ${p.id} via SNS topic ${p.via}`;
  return `EventBridge rule ${p.id}${p.active ? '' : ' (disabled)'}`;
}

function describeKeys(p: { prefix: string; suffix: string }): string {
  const parts = [];
  if (p.prefix) parts.push(`prefix '${p.prefix}'`);
  if (p.suffix) parts.push(`suffix '${p.suffix}'`);
  return parts.length ? parts.join(' and ') : 'every key';
}

/**
 * Pairs of active paths that would carry the same object event into the queue. Two queue
 * configurations (or two configurations through one topic) are findDuplicates' business and are
 * skipped here.
 */
export function findPathDuplicates(paths: DeliveryPath[]): DuplicatePair[] {
  const pairs: DuplicatePair[] = [];
  const active = paths.filter((p) => p.active);
  for (let i = 0; i < active.length; i++) {
    for (let j = i + 1; j < active.length; j++) {
      const a = active[i];
      const b = active[j];
      if (a.kind === b.kind && a.kind !== 'eventbridge' && a.via === b.via) continue;
      const events = sharedEvents(a.events, b.events);
      if (events.length === 0 || !keyFiltersOverlap(a, b)) continue;
      pairs.push({
        target: 'the queue',
        ids: [a.id, b.id],
        events,
        why: `${describePath(a)} and ${describePath(b)} both deliver ${events.join(', ')} to the queue; key filters overlap (${describeKeys(a)} vs ${describeKeys(b)}), so each such object event arrives twice`,
      });
    }
  }
  return pairs;
}

/**
 * EventBridge's detail-type for each S3 event family (S3 User Guide, "Using EventBridge": "Object
 * Created", "Object Deleted", …), as the S3 notification event name the overlap test understands.
 */
const DETAIL_TYPES: Record<string, string> = {
  'Object Created': 's3:ObjectCreated:*',
  'Object Deleted': 's3:ObjectRemoved:*',
  'Object Restore Initiated': 's3:ObjectRestore:Post',
  'Object Restore Completed': 's3:ObjectRestore:Completed',
  'Object Restore Expired': 's3:ObjectRestore:Delete',
  'Object Tags Added': 's3:ObjectTagging:Put',
  'Object Tags Deleted': 's3:ObjectTagging:Delete',
  'Object ACL Updated': 's3:ObjectAcl:Put',
  'Object Storage Class Changed': 's3:LifecycleTransition',
  'Object Access Tier Changed': 's3:IntelligentTiering',
};

type Matchers = unknown[];

/**
 * Could a field with `value` match this list of EventBridge matchers? Plain values must be equal;
 * prefix, suffix and equals-ignore-case are evaluated; any other content filter (anything-but,
 * wildcard, numeric, exists…) is taken as matching: a path is listed rather than missed.
 */
function couldMatch(matchers: unknown, value: string): boolean {
  if (!Array.isArray(matchers)) return true;
  return (matchers as Matchers).some((m) => {
    if (typeof m === 'string') return m === value;
    if (m === null || typeof m !== 'object') return false;
    const o = m as Record<string, unknown>;
    if (typeof o.prefix === 'string') return value.startsWith(o.prefix);
    if (typeof o.suffix === 'string') return value.endsWith(o.suffix);
    if (typeof o['equals-ignore-case'] === 'string')
      return (o['equals-ignore-case'] as string).toLowerCase() === value.toLowerCase();
    return true;
  });
}

function field(o: unknown, ...path: string[]): unknown {
  let v = o;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/**
 * What an EventBridge rule's pattern lets through from this bucket, in S3 notification terms; or
 * undefined when it cannot match the bucket's S3 events (another source, another bucket, or
 * another event family). EventBridge event patterns:
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html; S3's events on
 * EventBridge carry source "aws.s3" and detail.bucket.name / detail.object.key
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).
 */
export function s3EventsOfRule(
  eventPattern: string | undefined,
  bucket: string,
): { events: string[]; prefix: string; suffix: string } | undefined {
  if (eventPattern === undefined) return undefined; // a scheduled rule
  let pattern: unknown;
  try {
    pattern = JSON.parse(eventPattern);
  } catch {
    return { events: ['s3:*'], prefix: '', suffix: '' }; // unreadable: listed, not missed
  }
  const source = field(pattern, 'source');
  if (source !== undefined && !couldMatch(source, 'aws.s3')) return undefined;
  const bucketName = field(pattern, 'detail', 'bucket', 'name');
  if (bucketName !== undefined && !couldMatch(bucketName, bucket)) return undefined;
  const detailType = field(pattern, 'detail-type');
  let events: string[] = ['s3:*'];
  if (Array.isArray(detailType)) {
    if (detailType.some((d) => typeof d !== 'string')) events = ['s3:*'];
    else events = [...new Set((detailType as string[]).map((d) => DETAIL_TYPES[d]).filter((e) => e))];
    if (events.length === 0) return undefined;
  }
  let prefix = '';
  let suffix = '';
  const key = field(pattern, 'detail', 'object', 'key');
  if (Array.isArray(key) && key.length === 1 && key[0] !== null && typeof key[0] === 'object') {
    const k = key[0] as Record<string, unknown>;
    if (typeof k.prefix === 'string') prefix = k.prefix;
    if (typeof k.suffix === 'string') suffix = k.suffix;
  }
  return { events, prefix, suffix };
}

export interface OtherSource {
  arn: string;
  kind: 'bucket' | 'topic' | 'rule' | 'other';
}

/**
 * The senders a queue policy allows by aws:SourceArn, other than this bucket and the topics the
 * bucket notifies: another bucket (or the replication target of this one) notifying the queue sends
 * its own copy of each file's event. IAM policy grammar: Condition → operator → key → value or list;
 * condition keys are case-insensitive
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html).
 */
export function otherSourcesInPolicy(
  policy: string | undefined,
  bucket: string,
  topics: string[],
): OtherSource[] {
  if (!policy) return [];
  let doc: unknown;
  try {
    doc = JSON.parse(policy);
  } catch {
    return [];
  }
  const raw = field(doc, 'Statement');
  const statements = Array.isArray(raw) ? raw : raw ? [raw] : [];
  const own = new Set([`arn:aws:s3:::${bucket}`, ...topics]);
  const found = new Map<string, OtherSource>();
  for (const st of statements) {
    if (field(st, 'Effect') !== 'Allow') continue;
    const condition = field(st, 'Condition');
    if (condition === null || typeof condition !== 'object') continue;
    for (const [operator, keys] of Object.entries(condition as Record<string, unknown>)) {
      if (!/^(?:ForAnyValue:|ForAllValues:)?(?:Arn|String)(?:Equals|Like)(?:IfExists)?$/i.test(operator))
        continue;
      if (keys === null || typeof keys !== 'object') continue;
      for (const [key, value] of Object.entries(keys as Record<string, unknown>)) {
        if (key.toLowerCase() !== 'aws:sourcearn') continue;
        for (const arn of Array.isArray(value) ? value : [value]) {
          if (typeof arn !== 'string' || own.has(arn)) continue;
          const kind = arn.startsWith('arn:aws:s3:::')
            ? 'bucket'
            : /^arn:aws[a-z-]*:sns:/.test(arn)
              ? 'topic'
              : /^arn:aws[a-z-]*:events:/.test(arn)
                ? 'rule'
                : 'other';
          found.set(arn, { arn, kind });
        }
      }
    }
  }
  return [...found.values()];
}
