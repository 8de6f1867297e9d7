import {
  eventsOverlap,
  findDuplicates,
  findPathDuplicates,
  keyFiltersOverlap,
  otherSourcesInPolicy,
  s3EventsOfRule,
  sharedEvents,
  type DeliveryPath,
  type NotificationConfig,
} from '../../src/logic/notifications.js';

const queue = 'arn:aws:sqs:ap-northeast-1:123456789012:file-processing-queue-production';
function config(
  id: string,
  events: string[],
  prefix = '',
  suffix = '',
  target = queue,
  kind: NotificationConfig['kind'] = 'queue',
): NotificationConfig {
  return { id, kind, target, events, prefix, suffix };
}

describe('event overlap', () => {
  it.each([
    ['s3:ObjectCreated:*', 's3:ObjectCreated:Put', true],
    ['s3:ObjectCreated:Put', 's3:ObjectCreated:*', true],
    ['s3:ObjectCreated:Put', 's3:ObjectCreated:Put', true],
    ['s3:ObjectCreated:*', 's3:ObjectCreated:*', true],
    ['s3:ObjectCreated:Put', 's3:ObjectCreated:Post', false],
    ['s3:ObjectCreated:*', 's3:ObjectRemoved:Delete', false],
    ['s3:ObjectRemoved:*', 's3:ObjectCreated:Put', false],
    ['s3:ObjectCreated:CompleteMultipartUpload', 's3:ObjectCreated:*', true],
  ])('%s vs %s → %s', (a, b, expected) => {
    expect(eventsOverlap(a, b)).toBe(expected);
  });

  it('names the narrower event of each overlapping pair', () => {
    expect(sharedEvents(['s3:ObjectCreated:*'], ['s3:ObjectCreated:Put', 's3:ObjectRemoved:*'])).toEqual([
      's3:ObjectCreated:Put',
    ]);
  });
});

describe('key filter overlap', () => {
  it.each([
    [{ prefix: '', suffix: '' }, { prefix: 'uploads/', suffix: '' }, true, 'no filter covers every key'],
    [{ prefix: 'uploads/', suffix: '' }, { prefix: 'uploads/pdf/', suffix: '' }, true, 'nested prefixes'],
    [{ prefix: 'uploads/', suffix: '' }, { prefix: 'archive/', suffix: '' }, false, 'disjoint prefixes'],
    [{ prefix: '', suffix: '.pdf' }, { prefix: '', suffix: '.docx' }, false, 'disjoint suffixes'],
    [{ prefix: '', suffix: '.pdf' }, { prefix: '', suffix: 'report.pdf' }, true, 'nested suffixes'],
    [
      { prefix: 'uploads/', suffix: '' },
      { prefix: '', suffix: '.pdf' },
      true,
      'a prefix and a suffix meet in uploads/x.pdf',
    ],
    [
      { prefix: 'uploads/', suffix: '.pdf' },
      { prefix: 'uploads/', suffix: '.txt' },
      false,
      'same prefix, disjoint suffixes',
    ],
    [
      { prefix: 'a/', suffix: '.pdf' },
      { prefix: 'b/', suffix: '.pdf' },
      false,
      'disjoint prefixes, same suffix',
    ],
  ])('%j vs %j → %s (%s)', (a, b, expected) => {
    expect(keyFiltersOverlap(a, b)).toBe(expected);
    expect(keyFiltersOverlap(b, a)).toBe(expected);
  });
});

describe('findDuplicates', () => {
  it('finds a wildcard and a specific event to the same queue with overlapping prefixes', () => {
    const dups = findDuplicates([
      config('all-created', ['s3:ObjectCreated:*'], 'uploads/'),
      config('put-only', ['s3:ObjectCreated:Put'], 'uploads/'),
    ]);
    expect(dups).toHaveLength(1);
    expect(dups[0].ids).toEqual(['all-created', 'put-only']);
    expect(dups[0].events).toEqual(['s3:ObjectCreated:Put']);
    expect(dups[0].why).toMatch(/prefix 'uploads\/' vs prefix 'uploads\/'/);
  });

  it('ignores configurations with different targets, kinds, events or disjoint filters', () => {
    const other = 'arn:aws:sqs:ap-northeast-1:123456789012:other';
    expect(
      findDuplicates([
        config('a', ['s3:ObjectCreated:*'], 'uploads/'),
        config('b', ['s3:ObjectCreated:*'], 'uploads/', '', other),
        config('c', ['s3:ObjectRemoved:*'], 'uploads/'),
        config('d', ['s3:ObjectCreated:*'], 'archive/'),
        config('e', ['s3:ObjectCreated:*'], 'uploads/', '', queue, 'topic'),
      ]),
    ).toEqual([]);
  });

  it('reports every overlapping pair among three', () => {
    const dups = findDuplicates([
      config('x', ['s3:ObjectCreated:*']),
      config('y', ['s3:ObjectCreated:Put']),
      config('z', ['s3:ObjectCreated:Post', 's3:ObjectCreated:Put']),
    ]);
    expect(dups.map((d) => d.ids.join('+'))).toEqual(['x+y', 'x+z', 'y+z']);
  });
});

// EventBridge event patterns (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html)
// against S3's events on EventBridge (source "aws.s3", detail-type "Object Created" …,
// detail.bucket.name, detail.object.key: https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).
describe('s3EventsOfRule', () => {
  const B = 'cis-filesearch-storage-production';
  it('reads source, detail-type, bucket name and key prefix/suffix as S3 notification terms', () => {
    expect(
      s3EventsOfRule(
        JSON.stringify({
          source: ['aws.s3'],
          'detail-type': ['Object Created', 'Object Deleted'],
          detail: { bucket: { name: [B] }, object: { key: [{ prefix: 'uploads/' }] } },
        }),
        B,
      ),
    ).toEqual({ events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'], prefix: 'uploads/', suffix: '' });
  });
  it('a pattern without detail-type or bucket matches every event of every bucket', () => {
    expect(s3EventsOfRule(JSON.stringify({ source: ['aws.s3'] }), B)).toEqual({
      events: ['s3:*'],
      prefix: '',
      suffix: '',
    });
    expect(sharedEvents(['s3:*'], ['s3:ObjectCreated:Put'])).toEqual(['s3:ObjectCreated:Put']);
  });
  it('does not match another source, another bucket, another family, or a scheduled rule', () => {
    expect(s3EventsOfRule(JSON.stringify({ source: ['aws.ec2'] }), B)).toBeUndefined();
    expect(s3EventsOfRule(JSON.stringify({ detail: { bucket: { name: ['other'] } } }), B)).toBeUndefined();
    expect(
      s3EventsOfRule(JSON.stringify({ detail: { bucket: { name: [{ prefix: 'cis-' }] } } }), B),
    ).toBeDefined();
    expect(
      s3EventsOfRule(JSON.stringify({ 'detail-type': ['AWS API Call via CloudTrail'] }), B),
    ).toBeUndefined();
    expect(s3EventsOfRule(undefined, B)).toBeUndefined();
  });
  it('takes content filters it does not evaluate as matching (listed rather than missed)', () => {
    expect(
      s3EventsOfRule(JSON.stringify({ detail: { bucket: { name: [{ 'anything-but': 'x' }] } } }), B),
    ).toBeDefined();
    expect(s3EventsOfRule('{not json', B)).toEqual({ events: ['s3:*'], prefix: '', suffix: '' });
  });
});

describe('findPathDuplicates', () => {
  const path = (over: Partial<DeliveryPath>): DeliveryPath => ({
    kind: 'direct',
    id: 'direct',
    via: 'q',
    events: ['s3:ObjectCreated:*'],
    prefix: '',
    suffix: '',
    active: true,
    ...over,
  });
  it('pairs paths of different kinds whose events and keys overlap, and leaves disjoint or disabled ones', () => {
    const direct = path({ prefix: 'uploads/' });
    const rule = path({ kind: 'eventbridge', id: 'r', via: 'arn:rule', events: ['s3:*'] });
    expect(findPathDuplicates([direct, rule]).map((d) => d.ids)).toEqual([['direct', 'r']]);
    expect(findPathDuplicates([direct, { ...rule, prefix: 'archive/' }])).toEqual([]);
    expect(findPathDuplicates([direct, { ...rule, events: ['s3:ObjectRemoved:*'] }])).toEqual([]);
    expect(findPathDuplicates([direct, { ...rule, active: false }])).toEqual([]);
    // Two queue configurations are findDuplicates' pair, not reported twice.
    expect(findPathDuplicates([direct, path({ id: 'direct-2' })])).toEqual([]);
  });
});

// IAM policy grammar: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html
describe('otherSourcesInPolicy', () => {
  const B = 'cis-filesearch-storage-production';
  it('lists the aws:SourceArn senders other than this bucket and its topics, whatever the operator or key case', () => {
    const policy = JSON.stringify({
      Statement: [
        { Effect: 'Allow', Condition: { ArnEquals: { 'aws:SourceArn': `arn:aws:s3:::${B}` } } },
        {
          Effect: 'Allow',
          Condition: {
            ArnLike: { 'AWS:SourceArn': ['arn:aws:s3:::replica', 'arn:aws:sns:ap-northeast-1:1:t'] },
          },
        },
        {
          Effect: 'Allow',
          Condition: { StringEquals: { 'aws:SourceArn': 'arn:aws:events:ap-northeast-1:1:rule/r' } },
        },
        { Effect: 'Deny', Condition: { ArnEquals: { 'aws:SourceArn': 'arn:aws:s3:::denied' } } },
      ],
    });
    expect(otherSourcesInPolicy(policy, B, ['arn:aws:sns:ap-northeast-1:1:t'])).toEqual([
      { arn: 'arn:aws:s3:::replica', kind: 'bucket' },
      { arn: 'arn:aws:events:ap-northeast-1:1:rule/r', kind: 'rule' },
    ]);
    expect(otherSourcesInPolicy(undefined, B, [])).toEqual([]);
    expect(otherSourcesInPolicy('{bad', B, [])).toEqual([]);
    expect(
      otherSourcesInPolicy(
        JSON.stringify({
          Statement: { Effect: 'Allow', Condition: { ArnLike: { 'aws:SourceArn': 'arn:aws:s3:::x' } } },
        }),
        B,
        [],
      ),
    ).toEqual([{ arn: 'arn:aws:s3:::x', kind: 'bucket' }]);
  });
});
