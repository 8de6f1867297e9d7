import { commentVerdict, decideGate, parseApprovers, parseComments } from '../../src/logic/gate.js';

describe('a comment’s verdict', () => {
  it.each([
    ['GO', 'go'],
    ['go', 'go'],
    ['GO.', 'go'],
    ['GO: canary log is clean', 'go'],
    ['GO - approved by on-call lead', 'go'],
    ['  GO\nlooks good to me', 'go'],
    ['NO-GO', 'no-go'],
    ['no go', 'no-go'],
    ['NOGO!', 'no-go'],
    ['NO-GO: Traceback in the log', 'no-go'],
    ['NO-GO — DLQ grew', 'no-go'],
  ])('%j is %s', (body, verdict) => {
    expect(commentVerdict(body)).toBe(verdict);
  });

  it.each(['go ahead?', 'good', 'GOOD', 'Is this a GO?', 'let us go', '', 'ok\nGO', 'GO-live tomorrow'])(
    '%j is only talk',
    (body) => {
      expect(commentVerdict(body)).toBeUndefined();
    },
  );
});

describe('the gate’s decision', () => {
  const policy = { approvers: ['lead-sre', 'second'], deployer: 'sre-on-call', allowSelf: false };

  it('is pending until an approver answers', () => {
    expect(decideGate([], policy)).toEqual({
      state: 'pending',
      reason: 'waiting for GO or NO-GO from an approver',
    });
    expect(decideGate([{ user: 'passer-by', body: 'GO' }], policy).state).toBe('pending');
  });

  it('counts approvers only, matching logins without regard to case', () => {
    expect(decideGate([{ user: 'Lead-SRE', body: 'GO' }], policy)).toEqual({
      state: 'go',
      by: 'Lead-SRE',
      reason: 'GO from @Lead-SRE',
    });
  });

  it('does not let the deployer approve their own deployment unless allowed', () => {
    const own = [{ user: 'sre-on-call', body: 'GO' }];
    const withSelf = { ...policy, approvers: ['sre-on-call'] };
    expect(decideGate(own, withSelf).state).toBe('pending');
    expect(decideGate(own, { ...withSelf, allowSelf: true }).state).toBe('go');
  });

  it('stops when approvers disagree: NO-GO wins', () => {
    const comments = [
      { user: 'second', body: 'GO' },
      { user: 'lead-sre', body: 'NO-GO: errors in the canary log' },
    ];
    expect(decideGate(comments, policy)).toEqual({
      state: 'no-go',
      by: 'lead-sre',
      reason: 'NO-GO from @lead-sre',
    });
  });

  it('refuses to open without approvers', () => {
    expect(decideGate([{ user: 'x', body: 'GO' }], { ...policy, approvers: [] }).state).toBe('no-go');
  });
});

describe('inputs from variables and the API', () => {
  it('reads approvers separated by commas or spaces, with or without @, dropping malformed names', () => {
    expect(parseApprovers(' @lead-sre, second  third,,bad;name, -x ')).toEqual([
      'lead-sre',
      'second',
      'third',
    ]);
    expect(parseApprovers('')).toEqual([]);
  });

  it('keeps only well-formed comments', () => {
    expect(
      parseComments([
        { user: { login: 'a' }, body: 'GO', extra: 1 },
        { user: null, body: 'GO' },
        { user: { login: 'b' } },
        7,
      ]),
    ).toEqual([{ user: 'a', body: 'GO' }]);
    expect(parseComments({ message: 'Not Found' })).toEqual([]);
  });
});
