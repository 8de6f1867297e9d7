import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeploymentRecord } from '../../src/record.js';
import { parseApprovals, pickLatestRecord, runRecordTool, type ToolIo } from '../../src/record-tool.js';
import { at, completedRecord, preflightRecord, rolledBackRecord } from '../support/sample-record.js';

let dir: string;
let lines: string[];
let io: ToolIo;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'record-tool-'));
  lines = [];
  io = {
    env: { GITHUB_OUTPUT: join(dir, 'output'), GITHUB_STEP_SUMMARY: join(dir, 'summary') },
    now: () => new Date(at(100)),
    log: (l) => lines.push(l),
  };
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** Parses the runner's `name<<DELIM … DELIM` output file. */
async function outputs(): Promise<Record<string, string>> {
  const text = await readFile(join(dir, 'output'), 'utf8');
  const out: Record<string, string> = {};
  const re = /^([\w-]+)<<(\S+)\n([\s\S]*?)\n?\2$/gm;
  for (const m of text.matchAll(re)) out[m[1]] = m[3];
  return out;
}

describe('record-tool report', () => {
  it('writes the record, the deployment log and both notifications, and the summary', async () => {
    const recordFile = join(dir, 'in.json');
    await writeFile(recordFile, JSON.stringify(completedRecord()));
    const approvals = join(dir, 'approvals.json');
    await writeFile(
      approvals,
      JSON.stringify([
        {
          state: 'approved',
          comment: 'go',
          user: { login: 'lead-sre' },
          environments: [{ name: 'production' }],
        },
      ]),
    );
    const out = join(dir, 'report');
    const code = await runRecordTool(
      ['report', '--record', recordFile, '--out', out, '--approvals', approvals, '--summary'],
      io,
    );
    expect(code).toBe(0);
    expect(JSON.parse(await readFile(join(out, 'deployment-record.json'), 'utf8')).deploymentId).toBe(
      'dep-20261129t053000z-4242-1',
    );
    const log = await readFile(join(out, 'deployment-log.md'), 'utf8');
    expect(log).toContain('| Approver | @lead-sre approved for production — “go” |');
    // The notifications use the record's own times, not the time the report job ran.
    expect(await readFile(join(out, 'notification-before.txt'), 'utf8')).toContain(
      '開始: 2026年11月29日(日) 14:30 JST',
    );
    expect(await readFile(join(out, 'notification-after.txt'), 'utf8')).toContain(
      '終了: 2026年11月29日(日) 15:00 JST',
    );
    const summary = await readFile(join(dir, 'summary'), 'utf8');
    expect(summary).toContain('## Deployment log: dep-20261129t053000z-4242-1');
    expect(summary).toContain('<pre>件名: 【完了のご報告】');
  });

  it('refuses a record that is not one, naming the problem', async () => {
    const recordFile = join(dir, 'in.json');
    await writeFile(recordFile, '{"kind":"something-else"}');
    expect(await runRecordTool(['report', '--record', recordFile, '--out', join(dir, 'r')], io)).toBe(1);
    expect(lines.join('\n')).toContain('is not a emergency-worker-deploy record');
  });

  it('keeps going without approvals it cannot read', async () => {
    const recordFile = join(dir, 'in.json');
    await writeFile(recordFile, JSON.stringify(rolledBackRecord()));
    await writeFile(join(dir, 'approvals.json'), '{"message":"Resource not accessible by integration"');
    const code = await runRecordTool(
      ['report', '--record', recordFile, '--out', join(dir, 'r'), '--approvals', join(dir, 'approvals.json')],
      io,
    );
    expect(code).toBe(0);
    expect(lines.join('\n')).toContain('approvals not read');
    expect(await readFile(join(dir, 'r', 'deployment-log.md'), 'utf8')).toContain(
      '| Rollback required | YES',
    );
  });

  it('rejects bad usage with exit code 2', async () => {
    expect(await runRecordTool(['report', '--out', dir], io)).toBe(2);
    expect(await runRecordTool(['report', '--bogus', 'x'], io)).toBe(2);
    expect(await runRecordTool(['nope'], io)).toBe(2);
    expect(await runRecordTool([], io)).toBe(2);
  });
});

describe('record-tool plan-checkpoint', () => {
  async function artifact(name: string, content: string) {
    await mkdir(join(dir, 'records', name), { recursive: true });
    await writeFile(join(dir, 'records', name, 'deployment-record.json'), content);
  }

  it('finds the records one folder per artifact, writes the due one to a file and sets the outputs', async () => {
    await artifact('run-1', JSON.stringify(completedRecord()));
    await artifact('run-0', 'not json');
    const out = join(dir, 'plan', 'deployment-record.json');
    const code = await runRecordTool(
      ['plan-checkpoint', '--records', join(dir, 'records'), '--now', at(85), '--out', out],
      io,
    );
    expect(code).toBe(0);
    const o = await outputs();
    expect(o.checkpoint).toBe('1h');
    expect(o['deployment-id']).toBe('dep-20261129t053000z-4242-1');
    expect(o.sha).toBe('0123456789abcdef0123456789abcdef01234567');
    // The record travels as a file (an artifact to the verify job), never as a step output.
    expect(o['record-file']).toBe(out);
    expect(o.record).toBeUndefined();
    expect(JSON.parse(await readFile(out, 'utf8'))).toEqual(completedRecord());
    expect(lines.some((l) => l.startsWith('skipped') && l.includes('run-0'))).toBe(true);
    expect(await readFile(join(dir, 'summary'), 'utf8')).toContain(
      'the 1h checkpoint is due. Records read: 1.',
    );
  });

  it('sets an empty checkpoint and record file, and writes no file, when nothing is due', async () => {
    await artifact('run-1', JSON.stringify(completedRecord()));
    const out = join(dir, 'plan', 'deployment-record.json');
    await runRecordTool(
      ['plan-checkpoint', '--records', join(dir, 'records'), '--now', at(30), '--out', out],
      io,
    );
    const o = await outputs();
    expect(o.checkpoint).toBe('');
    expect(o['record-file']).toBe('');
    await expect(readFile(out, 'utf8')).rejects.toThrow(/ENOENT/);
    expect(o.reason).toContain('the 1h checkpoint is due at');
  });

  it('handles a folder with no records at all', async () => {
    expect(await runRecordTool(['plan-checkpoint', '--records', join(dir, 'missing')], io)).toBe(0);
    expect((await outputs()).reason).toContain('no deployment record found');
  });

  it('rejects a --now that is not a time', async () => {
    expect(await runRecordTool(['plan-checkpoint', '--records', dir, '--now', 'soon'], io)).toBe(2);
  });
});

describe('record-tool pick-latest', () => {
  const ID = 'dep-20261129t053000z-4242-1';
  /** The chain's records as each job leaves it: preflight, canary, rollout, verify. */
  function chain(): Record<string, DeploymentRecord> {
    const done = completedRecord();
    const preflight = preflightRecord();
    preflight.updatedAt = at(1);
    const canary: DeploymentRecord = { ...done, phases: done.phases.slice(0, 2), updatedAt: at(7) };
    const rollout: DeploymentRecord = { ...done, phases: done.phases.slice(0, 3), updatedAt: at(20) };
    return { preflight, canary, rollout, verify: done };
  }
  const found = (records: Record<string, DeploymentRecord>) =>
    Object.entries(records).map(([job, record]) => ({
      file: `record-${job}-1/deployment-record.json`,
      record,
    }));

  it('takes the furthest record along the chain: verify, else rollout, else canary, else preflight', () => {
    const all = chain();
    const without = (...jobs: string[]) =>
      Object.fromEntries(Object.entries(all).filter(([job]) => !jobs.includes(job)));
    expect(pickLatestRecord(found(all), ID)?.file).toBe('record-verify-1/deployment-record.json');
    expect(pickLatestRecord(found(without('verify')), ID)?.file).toBe(
      'record-rollout-1/deployment-record.json',
    );
    expect(pickLatestRecord(found(without('verify', 'rollout')), ID)?.file).toBe(
      'record-canary-1/deployment-record.json',
    );
    expect(pickLatestRecord(found(without('verify', 'rollout', 'canary')), ID)?.file).toBe(
      'record-preflight-1/deployment-record.json',
    );
    // The order the artifacts were found in does not matter.
    expect(pickLatestRecord(found(all).reverse(), ID)?.file).toBe('record-verify-1/deployment-record.json');
  });

  it('prefers a re-run attempt’s record, and breaks a tie with the record that has more phases', () => {
    const { preflight, canary } = chain();
    const rollback1 = rolledBackRecord();
    const canary2: DeploymentRecord = { ...canary, updatedAt: at(40) };
    const candidates = [
      { file: 'record-preflight-1', record: preflight },
      { file: 'record-rollback-1', record: rollback1 },
      { file: 'record-canary-2', record: canary2 },
    ];
    // After "Re-run failed jobs", the canary of attempt 2 says what the fleet is now.
    expect(pickLatestRecord(candidates, ID)?.file).toBe('record-canary-2');
    const sameTime: DeploymentRecord = { ...preflight, updatedAt: rollback1.updatedAt };
    expect(
      pickLatestRecord(
        [
          { file: 'short', record: sameTime },
          { file: 'long', record: rollback1 },
        ],
        ID,
      )?.file,
    ).toBe('long');
  });

  it('ignores other deployments, and finds nothing when none is of this one', () => {
    const other = completedRecord();
    other.deploymentId = 'dep-20261129t053000z-4242-2';
    other.updatedAt = at(90);
    const { preflight } = chain();
    expect(
      pickLatestRecord(
        [
          { file: 'a', record: other },
          { file: 'b', record: preflight },
        ],
        ID,
      )?.file,
    ).toBe('b');
    expect(pickLatestRecord([{ file: 'a', record: other }], ID)).toBeUndefined();
  });

  async function artifact(name: string, content: string) {
    await mkdir(join(dir, 'records', name), { recursive: true });
    await writeFile(join(dir, 'records', name, 'deployment-record.json'), content);
  }

  it('copies the latest record of the deployment to --out and sets record-file', async () => {
    const records = chain();
    for (const [job, record] of Object.entries(records))
      await artifact(`record-${job}-1`, JSON.stringify(record));
    await artifact('record-broken-1', '{"kind":');
    const other = completedRecord();
    other.deploymentId = 'dep-20261201t000000z-5000-1';
    other.updatedAt = at(999);
    await artifact('record-verify-9', JSON.stringify(other));
    const out = join(dir, 'picked', 'deployment-record.json');
    const code = await runRecordTool(
      ['pick-latest', '--records', join(dir, 'records'), '--deployment-id', ID, '--out', out],
      io,
    );
    expect(code).toBe(0);
    expect((await outputs())['record-file']).toBe(out);
    // Byte for byte what the verify job left.
    expect((await readFile(out, 'utf8')).trim()).toBe(JSON.stringify(records.verify));
    const log = lines.join('\n');
    expect(log).toContain(`${ID}: the latest of 4 record(s) is `);
    expect(log).toContain('record-verify-1/deployment-record.json');
    expect(log).toContain('phases: preflight, canary, rollout, verify');
    expect(log).toContain('1 record(s) of other deployments ignored');
    expect(lines.some((l) => l.startsWith('skipped') && l.includes('record-broken-1'))).toBe(true);
  });

  it('sets an empty record-file when there is no record, and fails only when one is --required', async () => {
    const out = join(dir, 'picked.json');
    const args = ['pick-latest', '--records', join(dir, 'none'), '--deployment-id', ID, '--out', out];
    expect(await runRecordTool(args, io)).toBe(0);
    expect((await outputs())['record-file']).toBe('');
    await expect(readFile(out, 'utf8')).rejects.toThrow(/ENOENT/);
    expect(await runRecordTool([...args, '--required'], io)).toBe(1);
    expect(lines.join('\n')).toContain(`no record of ${ID} among 0 record(s) found`);
  });

  it('keeps what a record says out of the log unless it is checked', async () => {
    const record = preflightRecord();
    record.updatedAt = '2026-11-29T05:31:00Z\n::error::forged';
    (record.phases[0] as { mode: string }).mode = '::warning::x';
    await artifact('record-preflight-1', JSON.stringify(record));
    const code = await runRecordTool(
      ['pick-latest', '--records', join(dir, 'records'), '--deployment-id', ID, '--out', join(dir, 'o.json')],
      io,
    );
    expect(code).toBe(0);
    const log = lines.join('\n');
    expect(log).not.toContain('::');
    expect(log).toContain('updated at an unknown time; phases: none');
  });

  it('rejects a deployment id that is not one, and missing arguments', async () => {
    const base = ['pick-latest', '--records', dir, '--out', join(dir, 'o.json')];
    expect(await runRecordTool([...base, '--deployment-id', '../x'], io)).toBe(2);
    expect(await runRecordTool(base, io)).toBe(2);
    expect(await runRecordTool(['pick-latest', '--records', dir, '--deployment-id', ID], io)).toBe(2);
  });
});

describe('approvals from the GitHub API', () => {
  it('keeps well-formed reviews and drops the rest', () => {
    expect(
      parseApprovals([
        {
          state: 'approved',
          comment: '  ok  ',
          user: { login: 'a-b' },
          environments: [{ name: 'production' }],
        },
        { state: 'rejected', comment: '', user: { login: 'dependabot[bot]' }, environments: [] },
        { state: 'pending', user: { login: 'c' } },
        { state: 'approved', user: { login: 'bad login; rm -rf' } },
        'junk',
      ]),
    ).toEqual([
      { user: 'a-b', state: 'approved', comment: 'ok', environments: ['production'] },
      { user: 'dependabot[bot]', state: 'rejected', comment: undefined, environments: [] },
    ]);
    expect(parseApprovals({ message: 'Not Found' })).toEqual([]);
  });
});

describe('record-tool incident-report', () => {
  it('writes the timeline, approvals, metrics, issues, DLQ review, rollback and leftovers, escaped', async () => {
    const record = rolledBackRecord();
    record.warnings.push('a <script>alert(1)</script> | warning');
    record.redrive = { reviewedAt: at(9), sampled: 12, dlqDepth: 40, duplicates: 2, dryRun: true };
    const recordFile = join(dir, 'in.json');
    await writeFile(recordFile, JSON.stringify(record));
    const approvals = join(dir, 'approvals.json');
    await writeFile(
      approvals,
      JSON.stringify([
        {
          user: { login: 'lead-sre' },
          state: 'rejected',
          comment: 'no',
          environments: [{ name: 'production' }],
        },
      ]),
    );
    const out = join(dir, 'reports', 'incident.md');
    expect(
      await runRecordTool(
        ['incident-report', '--record', recordFile, '--out', out, '--approvals', approvals],
        io,
      ),
    ).toBe(0);
    const md = await readFile(out, 'utf8');
    for (const section of [
      '### Timeline',
      '### Approvals',
      '### Metrics',
      '### Issues encountered',
      '### DLQ review and redrive',
      '### Rollback',
      '### Left behind (to clean up)',
      '### Deployment log',
    ]) {
      expect(md).toContain(section);
    }
    expect(md).toContain('Rolled back: the fleet was returned to its previous state');
    // The phases in time order, with their decisions.
    expect(md.indexOf('| canary | no-go |')).toBeGreaterThan(0);
    expect(md.indexOf('| canary | no-go |')).toBeLessThan(md.indexOf('| rollback | pass |'));
    expect(md.indexOf('| rollback | pass |')).toBeLessThan(
      md.indexOf('| DLQ review and redrive | review only |'),
    );
    expect(md).toContain('- @lead-sre rejected for production: “no”');
    expect(md).toContain('1 instance(s) restored from their backups');
    expect(md).not.toContain('<script>');
    expect(md).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &#124; warning');
  });

  it('says the DLQ review is still to do when the record has none', async () => {
    const recordFile = join(dir, 'in.json');
    await writeFile(recordFile, JSON.stringify(completedRecord()));
    const out = join(dir, 'incident.md');
    expect(await runRecordTool(['incident-report', '--record', recordFile, '--out', out], io)).toBe(0);
    expect(await readFile(out, 'utf8')).toContain('Not done yet: run the DLQ review');
  });

  it('is also written by report, beside the deployment log', async () => {
    const recordFile = join(dir, 'in.json');
    await writeFile(recordFile, JSON.stringify(completedRecord()));
    expect(await runRecordTool(['report', '--record', recordFile, '--out', join(dir, 'r')], io)).toBe(0);
    expect(await readFile(join(dir, 'r', 'incident-report.md'), 'utf8')).toContain('## Incident report:');
  });
});
