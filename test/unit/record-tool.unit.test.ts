import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseApprovals, runRecordTool, type ToolIo } from '../../src/record-tool.js';
import { at, completedRecord, rolledBackRecord } from '../support/sample-record.js';

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

  it('finds the records one folder per artifact and sets the outputs of a due checkpoint', async () => {
    await artifact('run-1', JSON.stringify(completedRecord()));
    await artifact('run-0', 'not json');
    const code = await runRecordTool(
      ['plan-checkpoint', '--records', join(dir, 'records'), '--now', at(85)],
      io,
    );
    expect(code).toBe(0);
    const o = await outputs();
    expect(o.checkpoint).toBe('1h');
    expect(o['deployment-id']).toBe('dep-20261129t053000z-4242-1');
    expect(o.sha).toBe('0123456789abcdef0123456789abcdef01234567');
    expect(JSON.parse(o.record).deploymentId).toBe('dep-20261129t053000z-4242-1');
    expect(lines.some((l) => l.startsWith('skipped') && l.includes('run-0'))).toBe(true);
    expect(await readFile(join(dir, 'summary'), 'utf8')).toContain(
      'the 1h checkpoint is due. Records read: 1.',
    );
  });

  it('sets an empty checkpoint and record when nothing is due', async () => {
    await artifact('run-1', JSON.stringify(completedRecord()));
    await runRecordTool(['plan-checkpoint', '--records', join(dir, 'records'), '--now', at(30)], io);
    const o = await outputs();
    expect(o.checkpoint).toBe('');
    expect(o.record).toBe('');
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
