import {
  eventsOverlap,
  findDuplicates,
  keyFiltersOverlap,
  sharedEvents,
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
