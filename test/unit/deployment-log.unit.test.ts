import { parseRecord } from '../../src/record.js';
import { jstAndUtc } from '../../src/summary/time.js';
import { recordedJudgement, renderDeploymentLog } from '../../src/summary/deployment-log.js';
import { at, completedRecord, FLEET, preflightRecord, rolledBackRecord } from '../support/sample-record.js';

/** The value of a `| Field | Value |` row. */
function field(md: string, name: string): string | undefined {
  const line = md.split('\n').find((l) => l.startsWith(`| ${name} |`));
  return line?.slice(`| ${name} | `.length, -2);
}

describe('the deployment log of a completed deployment', () => {
  const md = renderDeploymentLog(completedRecord(), {
    approvals: [
      { user: 'lead-sre', state: 'approved', comment: 'canary looks good', environments: ['production'] },
    ],
    metricLabel: 'CISFileSearch/Worker MessageDeleteFailed',
  });

  it('answers every field of the runbook log, with no blank', () => {
    // Issue 16: the date in JST and UTC, the instances as a figure, and why no rollback.
    expect(field(md, 'Date')).toBe('2026-11-29 (JST), 2026-11-29 (UTC)');
    expect(field(md, 'Start time')).toBe('2026-11-29 14:30:00 JST (2026-11-29 05:30:00 UTC)');
    expect(field(md, 'End time')).toBe('2026-11-29 15:00:00 JST (2026-11-29 06:00:00 UTC)');
    expect(field(md, 'Duration')).toBe('30 min 00 s');
    expect(field(md, 'Deployer')).toBe('@sre-on-call');
    expect(field(md, 'Approver')).toBe('@lead-sre approved for production — “canary looks good”');
    expect(field(md, 'Commit')).toBe('0123456789abcdef0123456789abcdef01234567 (refs/heads/main)');
    expect(field(md, 'Instances deployed')).toBe('5 (of 5; canary i-0a1b2c3d4e5f60001)');
    expect(field(md, 'Rollback required')).toBe('NO — verify passed');
  });

  it('links the workflow run', () => {
    expect(field(md, 'Workflow run')).toBe('run 4242, attempt 1 (link below)');
    expect(md).toContain('[Open the workflow run](https://github.com/acme/workers/actions/runs/4242)');
  });

  it('has the metrics comparison with the columns not yet measured marked so', () => {
    expect(md).toContain('| Metric | Before | After 10 min | After 1 h | After 24 h |');
    expect(md).toContain('| SQS messages (visible) | 12,345 | 2,100 | not yet measured | not yet measured |');
    expect(md).toContain('| DLQ messages | 67 | 67 | not yet measured | not yet measured |');
    expect(md).toContain('CISFileSearch/Worker MessageDeleteFailed (sum) | not measured | 0 |');
  });

  it('lists every warning as an issue encountered', () => {
    expect(md).toMatch(
      /### Issues encountered\n\n- bucket cis-filesearch-storage-production also sends events to EventBridge/,
    );
  });

  it('shows the judged 10 min checklist with figures and the pending 1 h and 24 h ones', () => {
    expect(md).toContain('#### Immediate (10 minutes after) — PASS at 2026-11-29 15:00:00 JST');
    expect(md).toContain('- ✅ **All workers running** (pass): 5 of 5 running');
    expect(md).toContain(
      '- ⚪ **No messages reappearing (no receive/delete loop)** (not judged): CloudWatch has no data yet',
    );
    expect(md).toContain('#### 1 hour after: not yet judged');
    expect(md).toContain('- ⏳ Processing above the threshold (50 files/hour) (not yet judged)');
    expect(md).toContain('#### 24 hours after: not yet judged');
    expect(md).toContain('- ⏳ Indexing lag under the threshold (5 minutes) (not yet judged)');
  });

  it('has the phases and the instances touched', () => {
    expect(md).toContain(
      '| rollout | 2026-11-29 14:42:00 JST (2026-11-29 05:42:00 UTC) | 2026-11-29 14:50:00 JST (2026-11-29 05:50:00 UTC) | 8 min 00 s | pass | 4 of 4 installed |',
    );
    expect(md).toContain('<summary>Instances touched (5)</summary>');
    expect(md).toContain(`| ${FLEET[0]} | canary | installed | 21 | — | — |`);
  });
});

describe('the deployment log of a rolled-back deployment', () => {
  const md = renderDeploymentLog(rolledBackRecord());

  it('says rollback YES with the reason and what was restored', () => {
    expect(field(md, 'Rollback required')).toBe(
      'YES — 1 restored; reason: canary NO-GO: Traceback seen 3 times',
    );
    expect(field(md, 'Instances deployed')).toBe(
      '1 (of 5; canary i-0a1b2c3d4e5f60001; 1 since restored by the rollback)',
    );
    expect(md).toContain('- canary no-go: Traceback seen 3 times');
  });

  it('gives the cause as the reason, not the rollback’s own tally', () => {
    // The rollback mode records its tally as its phase reason and the causes in extra.rollback.
    const record = rolledBackRecord();
    const rollback = record.phases.find((p) => p.mode === 'rollback')!;
    rollback.reason = '1 restored, 0 already at the backup, 0 gone';
    expect(field(renderDeploymentLog(record), 'Rollback required')).toBe(
      'YES — 1 restored; reason: canary NO-GO: Traceback seen 3 times',
    );
    record.extra.rollback = {
      at: rollback.startedAt,
      dryRun: false,
      reasons: [`canary ${FLEET[0]} was NO-GO: Traceback seen 3 times`],
      counts: { restored: 1 },
      settings: [],
    };
    expect(field(renderDeploymentLog(record), 'Rollback required')).toBe(
      `YES — 1 restored; reason: canary ${FLEET[0]} was NO-GO: Traceback seen 3 times`,
    );
  });

  it('says where the approver is when the caller could not read the approvals', () => {
    expect(field(md, 'Approver')).toBe('not recorded here: see the workflow run’s deployment review history');
    expect(field(renderDeploymentLog(rolledBackRecord(), { approvals: [] }), 'Approver')).toMatch(
      /^no review/,
    );
  });
});

describe('a hostile or damaged record', () => {
  it('escapes everything that came from instances, AWS or users', () => {
    const record = completedRecord();
    record.warnings.push('<img src=x onerror=alert(1)> | broken [link](javascript:alert(1))');
    record.instances[FLEET[1]].s = 'failed';
    record.instances[FLEET[1]].e = '</details><script>x</script>';
    record.github.actor = 'evil<b>';
    const md = renderDeploymentLog(record, {
      approvals: [{ user: 'x', state: 'rejected', comment: '**NO** <i>', environments: ['prod|uction'] }],
    });
    expect(md).not.toMatch(/<img|<script|<b>|<i>|\]\(javascript/);
    expect(md).toContain(
      '&lt;img src=x onerror=alert(1)&gt; &#124; broken &#91;link&#93;(javascript:alert(1))',
    );
    expect(md).toContain('&lt;/details&gt;&lt;script&gt;x&lt;/script&gt;');
    expect(field(md, 'Deployer')).toBe('@evil&lt;b&gt;');
    expect(field(md, 'Approver')).toBe(
      '@x rejected for prod&#124;uction — “&#42;&#42;NO&#42;&#42; &lt;i&gt;”',
    );
    // A failed instance is listed first.
    const rows = md.split('\n').filter((l) => l.startsWith('| i-'));
    expect(rows[0]).toContain(FLEET[1]);
  });

  it('does not link a run whose server or repository is not plain', () => {
    const record = completedRecord();
    record.github.serverUrl = 'javascript:alert(1)//';
    const md = renderDeploymentLog(record);
    expect(md).not.toContain('[Open the workflow run]');
    expect(field(md, 'Workflow run')).toBe('run 4242, attempt 1');
  });

  it('reads only well-formed criteria from the record', () => {
    // The malformed parts are dropped when the record is read (parseRecord), as every reader gets it.
    const written = completedRecord();
    Object.assign(written.extra, {
      verify: {
        '10m': {
          verdict: 'maybe',
          criteria: [
            { id: 'workers', s: 'pass', d: 'ok' },
            { id: 7, s: 'pass' },
            { id: 'lag', s: 'bogus' },
            null,
          ],
        },
        '1h': 'not an object',
      },
    });
    const record = parseRecord(JSON.stringify(written));
    expect(recordedJudgement(record, '10m')).toEqual({
      verdict: undefined,
      endedAt: undefined,
      criteria: [{ id: 'workers', status: 'pass', detail: 'ok' }],
    });
    expect(recordedJudgement(record, '1h')).toBeUndefined();
    expect(recordedJudgement(preflightRecord(), '10m')).toBeUndefined();
  });

  it('never prints undefined or NaN when times and figures are missing', () => {
    const record = preflightRecord();
    record.createdAt = 'not a time';
    record.updatedAt = 'nor this';
    record.phases = [{ mode: 'preflight', startedAt: 'x' }];
    record.metrics.before = { at: at(0), visible: Number.NaN };
    const md = renderDeploymentLog(record);
    expect(md).not.toMatch(/undefined|NaN|Invalid Date/);
    expect(field(md, 'Start time')).toBe('—');
    expect(md).toContain('| SQS messages (visible) | not measured |');
  });

  it('stays small for a 5,000-instance fleet', () => {
    const record = completedRecord();
    for (let i = 0; i < 5000; i++) {
      const id = `i-${i.toString(16).padStart(17, '0')}`;
      record.instances[id] = {
        p: 'r',
        b: 1 + Math.floor(i / 50),
        s: i % 997 === 0 ? 'failed' : 'installed',
        c: 1,
        t: 20,
        e: i % 997 === 0 ? 'service inactive' : undefined,
      };
    }
    const md = renderDeploymentLog(record);
    expect(Buffer.byteLength(md)).toBeLessThan(100_000);
    expect(md).toContain('more rows are in the record');
  });
});

describe('the deployment log has no blanks (issue 16)', () => {
  /** The text of the one Deployment Log block, unescaped enough to read its lines. */
  function block(md: string): string {
    const m = /<pre>(Deployment Log[\s\S]*?)<\/pre>/.exec(md);
    expect(m).not.toBeNull();
    // The block is escaped for the summary; the entities it uses are turned back to read it.
    return m![1].replace(/&#91;/g, '[').replace(/&#93;/g, ']').replace(/&#95;/g, '_').replace(/&#42;/g, '*');
  }
  const value = (text: string, label: string) =>
    text
      .split('\n')
      .find((l) => l.startsWith(`${label}:`))
      ?.slice(label.length + 1)
      .trim();

  it.each([
    ['completed', completedRecord()],
    ['rolled back', rolledBackRecord()],
  ])('writes every runbook field in one block, none blank (%s)', (_, record) => {
    const text = block(renderDeploymentLog(record));
    for (const label of [
      'Date',
      'Start Time',
      'End Time',
      'Duration',
      'Deployer',
      'Approver',
      'Approval Time',
      'Commit',
      'Instances Deployed',
      'Rollback Required',
    ]) {
      expect({ label, value: value(text, label) }).toEqual({ label, value: expect.stringMatching(/\S/) });
      expect({ label, value: value(text, label) }).not.toEqual({ label, value: 'not recorded' });
    }
    for (const section of [
      'Metrics Comparison:',
      'Issues Encountered:',
      'Success Criteria:',
      'Left Behind',
    ]) {
      expect(text).toContain(section);
    }
    expect(text).toMatch(/SQS Messages\s+12,345/);
    expect(text).toContain(
      '[x] No worker errors in logs'.replace('x', record.canary?.verdict === 'go' ? 'x' : '!'),
    );
  });

  it('ends at the rollback, the last mode that ran, and says why a rollback was required', () => {
    const text = block(renderDeploymentLog(rolledBackRecord()));
    expect(value(text, 'End Time')).toBe(jstAndUtc(new Date(at(7))));
    expect(value(text, 'Rollback Required')).toBe(
      'YES — 1 restored; reason: canary NO-GO: Traceback seen 3 times',
    );
    expect(value(text, 'Instances Deployed')).toMatch(/^1 \(of 5;/);
  });

  it('measures the processing rate from the queue samples when CloudWatch had none (a lower bound)', () => {
    const record = completedRecord();
    delete record.metrics['10m']!.filesPerHour;
    (record.extra.verify as Record<string, Record<string, unknown>>)['10m'].samples = {
      // 600 s: 1,000 messages left the queue, 10 of them to the DLQ: 990 deleted → 5,940/h.
      t: [0, 300, 600],
      v: [3000, 2500, 2000],
      f: [0, 0, 0],
      d: [0, 0, 0],
      l: [67, 70, 77],
      r: [5, 5, 5],
    };
    const md = renderDeploymentLog(record);
    expect(md).toContain('| Processing rate (files/hour) | not measured | 5,940 |');
    expect(md).toContain('CloudWatch had no figure, so it is the deletions the queue samples show');
    expect(block(md)).toMatch(/Processing Rate\/h\s+not measured\s+5,940/);
  });

  it('lists what the deployment left behind, and each issue once', () => {
    const record = completedRecord();
    record.warnings.push(record.warnings[0]);
    record.settings.image = { id: 'ami-0abc', sourceInstanceId: FLEET[0], state: 'available' };
    record.settings.launchTemplate = { id: 'lt-0abc', name: 'cis-lt', previousDefault: 3, newVersion: 4 };
    const md = renderDeploymentLog(record);
    expect(md).toContain('### Left behind (clean up once the fix is trusted)');
    expect(md).toMatch(/Backup file \/opt\/file-processor\/worker\.py\.backup\.[^ ]+ on 5 instance\(s\)/);
    expect(md).toContain('Image ami-0abc');
    expect(md).toContain('Launch template cis-lt version 4');
    expect(md).toContain('Uploaded artifact s3://cis-deploy-artifacts/emergency-deploy/abc.py');
    expect(md.match(/also sends events to EventBridge/g)?.length).toBe(2); // the block and the list, once each
  });

  it('shows "no worker errors in logs" among the immediate criteria', () => {
    expect(renderDeploymentLog(completedRecord())).toContain(
      '- ✅ **No worker errors in logs (the canary’s error patterns)** (pass)',
    );
    expect(renderDeploymentLog(rolledBackRecord())).toContain(
      '- ❌ **No worker errors in logs (the canary’s error patterns)** (FAIL)',
    );
  });
});
