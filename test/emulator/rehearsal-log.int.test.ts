// Issue #16, "Done when": the Deployment Log of the healthy and the loop rehearsal has every runbook
// field filled in. Runs both scenarios through the rehearsal's own code (rehearsal/rehearse.ts:
// moto_server and the twin, the bundled action through preflight, canary, rollout, verify, and
// rollback where a step fails, then the report step's `writeReport`), side by side as `npm run
// rehearse` does, with the rehearsal's windows but a one-minute canary (verify 1 min: the
// shortest the inputs allow; a 0-minute canary is one look, too soon on a loaded machine). Then
// reads the one Deployment Log block field by field: a real value everywhere, "not yet" only for
// the checkpoints the scenario never reaches, no "not reported", no blank.
// Skipped with the twin's one-line reason where it cannot isolate instances (as the twin tests are).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { motoAvailable } from '../support/moto.js';
import { probeIsolation } from '../../twin/twin.js';
import { deploymentLogs, runScenario, type ScenarioResult } from '../../rehearsal/rehearse.js';

const isolation = probeIsolation();
const available = motoAvailable() && isolation.ok;
const describeRehearsal = available ? describe : describe.skip;
if (!available)
  process.stdout.write(
    `rehearsal deployment-log test skipped: ${isolation.ok ? 'moto_server not installed' : isolation.note}\n`,
  );

const TIMEOUT = 8 * 60_000;
// The rehearsal's canary window is 0 min (one check right after the install): on a loaded machine
// the fixed worker's Python may not have logged its first lines by then, and the canary is rightly
// inconclusive (NO-GO). One minute is the shortest window that is not a single look.
const CANARY = { 'canary-minutes': '1' };

/** The block's text as the runbook shows it: the <pre> of the log, HTML entities undone. */
function logBlock(markdown: string): string {
  const m = /<pre>(Deployment Log[\s\S]*?)<\/pre>/.exec(markdown);
  if (!m) throw new Error('no Deployment Log block in the log');
  return m[1]
    .replace(/<br>/g, '\n')
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** "Label:   value" lines of the block's head. */
function field(block: string, label: string): string {
  const m = new RegExp(`^${label}:\\s+(.*)$`, 'm').exec(block);
  if (!m) throw new Error(`no "${label}" field in the Deployment Log block`);
  return m[1].trim();
}

/** The lines of one section: from its title line to the next blank line. */
function section(block: string, title: string): string[] {
  const lines = block.split('\n');
  const at = lines.findIndex((l) => l === title);
  if (at < 0) throw new Error(`no "${title}" section in the Deployment Log block`);
  const end = lines.findIndex((l, i) => i > at && l.trim() === '');
  return lines.slice(at + 1, end < 0 ? undefined : end);
}

const COLUMNS = ['Before', 'After 10 min', 'After 1 h', 'After 24 h'] as const;
/** One Metrics Comparison row: its four cells (15 characters each, as the block lays them out). */
function metricRow(block: string, name: string): Record<(typeof COLUMNS)[number], string> {
  const row = section(block, 'Metrics Comparison:').find((l) => l.startsWith(`  ${name}`));
  if (!row) throw new Error(`no "${name}" row in the Metrics Comparison`);
  const cells = row.slice(22).match(/.{1,15}/g) ?? [];
  return Object.fromEntries(COLUMNS.map((c, i) => [c, (cells[i] ?? '').trim()])) as Record<
    (typeof COLUMNS)[number],
    string
  >;
}

const STAMP = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) JST \((\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC\)$/;
const utcMs = (stamp: string) => Date.parse(`${STAMP.exec(stamp)?.[2].replace(' ', 'T')}Z`);
const FIGURE = /^\d[\d,]*(\.\d+)?$/;

describeRehearsal('the rehearsal’s Deployment Log has every runbook field filled in', () => {
  const out = mkdtempSync(join(tmpdir(), 'rehearsal-log-'));
  const results = new Map<string, { result: ScenarioResult; startedAt: number; block: string }>();

  beforeAll(async () => {
    const stop = { stopping: false, pids: new Set<number>() };
    const startedAt = Date.now();
    const runs = await Promise.all(
      (['healthy', 'loop'] as const).map((s) => runScenario(s, { fleet: 3, windows: CANARY }, stop)),
    );
    const logs = await deploymentLogs(out, runs);
    for (const r of runs)
      results.set(r.scenario, { result: r, startedAt, block: logBlock(logs.get(r.scenario) ?? '') });
  }, TIMEOUT);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  const get = (s: string) => {
    const r = results.get(s);
    if (!r) throw new Error(`scenario ${s} did not run`);
    return r;
  };

  it.each(['healthy', 'loop'])('%s: ends as the scenario says', (s) => {
    const { result } = get(s);
    expect(result.why).toBeTruthy();
    expect(result.asExpected).toBe(true);
  });

  it.each(['healthy', 'loop'])('%s: no field is blank, "not reported", "not recorded" or "—"', (s) => {
    const { block } = get(s);
    expect(block).not.toMatch(/not reported|not recorded|undefined|NaN|\?\?/i);
    for (const line of block.split('\n')) {
      // A "Label:" line with no value: only the section titles end so.
      if (/^[A-Z][A-Za-z ]+:\s*$/.test(line))
        expect(line).toMatch(/^(Metrics Comparison|Issues Encountered|Success Criteria):$/);
      // A bare dash for a value.
      expect(line).not.toMatch(/:\s+—\s*$/);
    }
  });

  it.each(['healthy', 'loop'])('%s: date (JST and UTC), start, end of the last mode, duration', (s) => {
    const { block, result, startedAt } = get(s);
    expect(field(block, 'Date')).toMatch(/^\d{4}-\d\d-\d\d \(JST\) \/ \d{4}-\d\d-\d\d \(UTC\)$/);
    const start = field(block, 'Start Time');
    const end = field(block, 'End Time');
    expect(start).toMatch(STAMP);
    expect(end).toMatch(STAMP);
    // The end is the end of the last mode that ran (rollback included, for the loop): after that
    // step began and before the scenario was over (second precision, a second of slack).
    const last = result.steps.at(-1);
    expect(last?.name).toBe(s === 'loop' ? 'rollback' : 'verify');
    const scenarioEnd = startedAt + result.seconds * 1000 + 1000;
    expect(utcMs(end)).toBeGreaterThanOrEqual(scenarioEnd - (last?.seconds ?? 0) * 1000 - 3000);
    expect(utcMs(end)).toBeLessThanOrEqual(scenarioEnd + 1000);
    expect(utcMs(start)).toBeGreaterThanOrEqual(startedAt - 1000);
    const duration = field(block, 'Duration');
    const m = /^(?:(\d+) h )?(?:(\d+) min)? ?(?:(\d+) s)?$/.exec(duration);
    expect(m).not.toBeNull();
    const secs = Number(m?.[1] ?? 0) * 3600 + Number(m?.[2] ?? 0) * 60 + Number(m?.[3] ?? 0);
    expect(Math.abs(secs - (utcMs(end) - utcMs(start)) / 1000)).toBeLessThanOrEqual(1);
  });

  it.each(['healthy', 'loop'])('%s: deployer, approver and approval time, commit', (s) => {
    const { block } = get(s);
    // runDist sets the runner's GITHUB_ACTOR and GITHUB_SHA as the runner would.
    expect(field(block, 'Deployer')).toBe('@sre-on-call');
    expect(field(block, 'Commit')).toMatch(/^[0-9a-f]{40}/);
    if (s === 'healthy') {
      // The production environment gates the rollout: its review (the rehearsal's stand-in).
      expect(field(block, 'Approver')).toMatch(/^@rehearsal-approver approved for production/);
      expect(field(block, 'Approval Time')).toMatch(
        /^just before \d{4}-\d\d-\d\d \d\d:\d\d:\d\d JST \(.* UTC\) \(when the gated rollout started\)$/,
      );
    } else {
      // No GO: the gated rollout never ran, so no review was reached, and the log says so.
      expect(field(block, 'Approver')).toMatch(/^no review/);
      expect(field(block, 'Approval Time')).toBe('no gated phase ran');
    }
  });

  it.each(['healthy', 'loop'])(
    '%s: instances deployed as a figure; rollback required YES/NO and why',
    (s) => {
      const { block } = get(s);
      const deployed = field(block, 'Instances Deployed');
      const rollback = field(block, 'Rollback Required');
      if (s === 'healthy') {
        expect(deployed).toMatch(/^3 \(of 3; canary i-[0-9a-f]+\)$/);
        expect(rollback).toBe('NO — verify passed');
      } else {
        // The canary alone was installed, and the rollback restored it.
        expect(deployed).toMatch(/^1 \(of 3; canary i-[0-9a-f]+; 1 since restored by the rollback\)$/);
        expect(rollback).toMatch(/^YES — 1 restored; reason: .+/);
      }
    },
  );

  it.each(['healthy', 'loop'])('%s: the Metrics Comparison has a figure where the scenario reached', (s) => {
    const { block } = get(s);
    for (const name of ['SQS Messages', 'DLQ Messages', 'Worker Instances']) {
      const row = metricRow(block, name);
      expect(row.Before).toMatch(FIGURE);
      // Verify's 10-minute checkpoint: the healthy run reached it, the loop (no GO) did not.
      if (s === 'healthy') expect(row['After 10 min']).toMatch(FIGURE);
      else expect(row['After 10 min']).toBe('not yet');
      expect(row['After 1 h']).toBe('not yet');
      expect(row['After 24 h']).toBe('not yet');
    }
    const rate = metricRow(block, 'Processing Rate/h');
    if (s === 'healthy') {
      // The fixed workers deleted what they received: a measured rate, not "not measured".
      expect(rate['After 10 min']).toMatch(FIGURE);
      expect(Number(rate['After 10 min'].replace(/,/g, ''))).toBeGreaterThan(0);
    } else expect(rate['After 10 min']).toBe('not yet');
  });

  // Preflight reads the hour before from CloudWatch's AWS/SQS NumberOfMessagesDeleted (the twin
  // serves it): the broken fleet deletes nothing, so Before is the figure 0, never "not measured".
  it('healthy: the processing rate Before is measured', () => {
    expect(metricRow(get('healthy').block, 'Processing Rate/h').Before).toMatch(FIGURE);
  });

  // The why is the cause (the canary's NO-GO, as the rollback recorded it), not the rollback's
  // own tally ("1 restored, 0 already at the backup, 0 gone").
  it('loop: the rollback’s why names the canary NO-GO', () => {
    expect(field(get('loop').block, 'Rollback Required')).toMatch(/reason: canary .*no-go/i);
  });

  it.each(['healthy', 'loop'])('%s: Issues Encountered is a section of its own', (s) => {
    const { block } = get(s);
    const issues = section(block, 'Issues Encountered:');
    expect(issues.length).toBeGreaterThan(0);
    for (const line of issues) expect(line).toMatch(/^ {2}(- \S.*|None\.)$/);
    // The loop's canary NO-GO is an issue of the deployment, named with its reason.
    if (s === 'loop')
      expect(issues.join('\n')).toMatch(/canary no-go: health pattern "Deleted message" never appeared/);
  });

  it.each(['healthy', 'loop'])('%s: the three success-criteria checklists', (s) => {
    const { block } = get(s);
    const criteria = section(block, 'Success Criteria:');
    const heads = criteria.filter((l) => /^ {2}\S/.test(l));
    expect(heads.map((h) => h.replace(/:.*$/, '').trim())).toEqual([
      'Immediate (10 minutes after)',
      '1 hour after',
      '24 hours after',
    ]);
    for (const l of criteria.filter((x) => /^ {4}/.test(x))) expect(l).toMatch(/^ {4}\[[x! ]\] \S/);
    const immediate = criteria.slice(1, criteria.indexOf(heads[1]));
    expect(immediate.length).toBeGreaterThan(1);
    if (s === 'healthy') {
      expect(heads[0]).toBe('  Immediate (10 minutes after): PASS');
      // Every immediate criterion judged and met, "no worker errors in logs" among them.
      expect(immediate).toContain('    [x] No worker errors in logs');
      for (const l of immediate) expect(l).toMatch(/^ {4}\[x\] /);
    } else {
      expect(heads[0]).toBe('  Immediate (10 minutes after): not yet judged');
      // The canary's error patterns were judged, and the canary was NO-GO.
      expect(immediate).toContain('    [!] No worker errors in logs');
    }
    expect(heads[1]).toBe('  1 hour after: not yet judged');
    expect(heads[2]).toBe('  24 hours after: not yet judged');
  });

  it.each(['healthy', 'loop'])('%s: what the deployment left behind', (s) => {
    const { block } = get(s);
    const left = section(block, 'Left Behind (clean up once the fix is trusted):').join('\n');
    const n = s === 'healthy' ? 3 : 1;
    expect(left).toMatch(
      new RegExp(`- Backup file /opt/file-processor/worker\\.py\\.backup\\.dep-\\S+ on ${n} instance\\(s\\)`),
    );
    expect(left).toMatch(
      new RegExp(
        `- Tags emergency-deploy:deployment-id and emergency-deploy:backup-path on ${n} instance\\(s\\)`,
      ),
    );
    expect(left).toMatch(/- Uploaded artifact s3:\/\/cis-deploy-artifacts\/emergency-deploy\/[0-9a-f]{64}/);
  });
});
