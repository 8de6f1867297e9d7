import {
  classifyRestore,
  planRollback,
  plannedIds,
  refreshReversible,
  recordSaysTouched,
  refreshDecision,
  rollbackReasons,
  type TaggedInstance,
} from '../../src/logic/rollback-plan.js';
import { backupPathFor, newRecord, type DeploymentRecord, type InstanceEntry } from '../../src/record.js';
import { ScriptExit } from '../../src/remote/scripts.js';
import { TEST_GITHUB } from '../support/context.js';
import { canaryInstalled } from '../support/records.js';

const DEP = 'dep-20261129t000000z-4242-1';
const TARGET = { serviceName: 'file-processor', workerDir: '/opt/file-processor', targetFile: 'worker.py' };
const BACKUP = backupPathFor(TARGET.workerDir, TARGET.targetFile, DEP);

/** planRollback for this deployment and target; the tests give what differs. */
const planFor = (p: Omit<Parameters<typeof planRollback>[0], 'deploymentId' | 'target'>) =>
  planRollback({ deploymentId: DEP, target: TARGET, ...p });
const A = 'i-0000000000000000a';
const B = 'i-0000000000000000b';
const C = 'i-0000000000000000c';
const D = 'i-0000000000000000d';

function record(instances: Record<string, InstanceEntry> = {}): DeploymentRecord {
  const r = newRecord({
    deploymentId: DEP,
    now: new Date('2026-11-29T00:00:00Z'),
    region: 'ap-northeast-1',
    github: TEST_GITHUB,
    ...TARGET,
  });
  r.instances = instances;
  return r;
}

const installed = (p: 'c' | 'r', b: number): InstanceEntry => ({ p, b, s: 'installed', c: 0 });

describe('planRollback', () => {
  it('restores every instance a full record lists, canary and rollout, whatever its install status', () => {
    const rec = record({
      [A]: installed('c', 0),
      [B]: { p: 'r', b: 1, s: 'sent', c: 1 },
      [C]: { p: 'r', b: 1, s: 'failed', c: 1, e: 'service inactive' },
    });
    const states = new Map([
      [A, 'running'],
      [B, 'running'],
      [C, 'running'],
    ]);
    const plan = planFor({ record: rec, tagged: [], states });
    expect(plan.restore.map((r) => [r.id, r.backupPath, r.source])).toEqual([
      [A, BACKUP, 'record'],
      [B, BACKUP, 'record'],
      [C, BACKUP, 'record'],
    ]);
    expect(plan.gone).toEqual([]);
    expect(plan.refused).toEqual([]);
  });

  it('adds instances tagged for the deployment that a partial record lacks', () => {
    const rec = record({ [A]: installed('c', 0) });
    const tagged: TaggedInstance[] = [
      { id: A, state: 'running', backupPath: BACKUP },
      { id: C, state: 'running', backupPath: BACKUP },
      { id: B, state: 'running', backupPath: BACKUP },
    ];
    const plan = planFor({ record: rec, tagged, states: new Map() });
    expect(plan.restore.map((r) => [r.id, r.source])).toEqual([
      [A, 'record+tag'],
      [B, 'tag'],
      [C, 'tag'],
    ]);
    expect(plan.notes.join(' ')).toMatch(/2 instance\(s\) are tagged .* missing from the record/);
  });

  it('with no record, restores what the tags say, and refuses a tag whose backup path is not this deployment’s', () => {
    const tagged: TaggedInstance[] = [
      { id: A, state: 'running', backupPath: BACKUP },
      { id: B, state: 'running', backupPath: '/opt/file-processor/worker.py.backup.*' },
      { id: C, state: 'running' },
      { id: D, state: 'running', backupPath: '/etc/passwd' },
    ];
    const plan = planFor({ tagged, states: new Map() });
    expect(plan.restore.map((r) => r.id)).toEqual([A]);
    expect(plan.refused.map((r) => r.id)).toEqual([B, C, D]);
    expect(plan.refused[0].why).toMatch(/not this deployment's/);
    expect(plan.refused[1].why).toMatch(/no backup-path tag/);
  });

  it('reports terminated and vanished instances as gone, and stopped ones as unreachable', () => {
    const rec = record({
      [A]: installed('c', 0),
      [B]: installed('r', 1),
      [C]: installed('r', 1),
      [D]: installed('r', 2),
    });
    const states = new Map([
      [A, 'running'],
      [B, 'terminated'],
      [D, 'stopped'],
    ]);
    const plan = planFor({ record: rec, tagged: [], states });
    expect(plan.restore.map((r) => r.id)).toEqual([A]);
    expect(plan.gone.map((g) => [g.id, g.state])).toEqual([
      [B, 'terminated'],
      [C, 'not found'],
    ]);
    expect(plan.unreachable.map((u) => u.id)).toEqual([D]);
    expect(plan.unreachable[0].why).toMatch(/still holds the new file/);
  });

  it('skips only what the record shows was cancelled before any command was sent', () => {
    const cancelledUnsent: InstanceEntry = { p: 'r', b: 3, s: 'cancelled', c: -1 };
    expect(recordSaysTouched(cancelledUnsent)).toBe(false);
    expect(recordSaysTouched({ p: 'r', b: 3, s: 'sent', c: -1 })).toBe(true);
    expect(recordSaysTouched({ p: 'r', b: 3, s: 'cancelled', c: 2 })).toBe(true);
    const rec = record({ [A]: cancelledUnsent, [B]: cancelledUnsent });
    const plan = planFor({
      record: rec,
      tagged: [{ id: B, state: 'running', backupPath: BACKUP }],
      states: new Map([[A, 'running']]),
    });
    expect(plan.untouched.map((u) => u.id)).toEqual([A]);
    // Tagged: the tag is written before the file is replaced, so it may have been.
    expect(plan.restore.map((r) => r.id)).toEqual([B]);
  });

  it('refuses a record whose backup path is not this deployment’s (never a glob)', () => {
    const rec = record({ [A]: installed('c', 0) });
    rec.target.backupPath = '/opt/file-processor/worker.py.backup.*';
    expect(() =>
      planFor({
        record: rec,
        tagged: [],
        states: new Map([[A, 'running']]),
      }),
    ).toThrow(/refusing to restore from it/);
  });

  it('never sends a restore to Auto Scaling group members the record and tags do not know: they are left to the refresh undo', () => {
    const rec = record({ [A]: installed('c', 0) });
    const plan = planFor({
      record: rec,
      tagged: [],
      states: new Map([
        [A, 'running'],
        [B, 'running'],
      ]),
      groupIds: [B, A],
    });
    // A (the canary) ran the in-place install and is still there: restored over SSM. B was
    // launched by Auto Scaling (from the image with the fix, or the previous configuration): the
    // refresh's rollback or a refresh back replaces it; a restore would race its termination.
    expect(plan.restore.map((r) => [r.id, r.source])).toEqual([[A, 'record']]);
    expect(plan.leftToAutoScaling).toEqual([
      expect.objectContaining({ id: B, source: 'asg', state: 'running' }),
    ]);
    expect(plannedIds(plan)).toEqual([A, B]);
  });

  it('still restores a canary that is a member of the group', () => {
    const rec = record({ [A]: installed('c', 0) });
    const plan = planFor({
      record: rec,
      tagged: [],
      states: new Map([[A, 'running']]),
      groupIds: [A],
    });
    expect(plan.restore.map((r) => r.id)).toEqual([A]);
    expect(plan.leftToAutoScaling).toEqual([]);
  });
});

describe('rollbackReasons', () => {
  it('gives the canary NO-GO with its reason, and does not refuse it', () => {
    const rec = record({ [A]: canaryInstalled() });
    rec.canary = {
      instanceId: A,
      verdict: 'no-go',
      reason: 'error pattern Traceback matched 3 times',
      startedAt: rec.createdAt,
    };
    rec.phases.push({ mode: 'canary', startedAt: rec.createdAt, verdict: 'no-go', reason: 'error pattern' });
    expect(rollbackReasons(rec, DEP)).toEqual([
      `canary ${A} was NO-GO: error pattern Traceback matched 3 times`,
    ]);
  });

  it('names the failed batch and its instances, and the failed verify criterion', () => {
    const rec = record({
      [A]: installed('c', 0),
      [B]: { p: 'r', b: 2, s: 'failed', c: 1, e: 'inactive after restart' },
    });
    rec.phases.push({
      mode: 'rollout',
      startedAt: 'x',
      endedAt: 'y',
      verdict: 'fail',
      reason: 'batch 2 broke the error budget',
    });
    rec.phases.push({
      mode: 'verify',
      startedAt: 'x',
      endedAt: 'y',
      verdict: 'fail',
      reason: 'DLQ grew by 12',
    });
    const reasons = rollbackReasons(rec, DEP);
    expect(reasons).toContain('rollout failed: batch 2 broke the error budget');
    expect(reasons).toContain('verify failed: DLQ grew by 12');
    expect(reasons).toContain(
      `rollout batch 2: 1 instance(s) failed to install: ${B} (inactive after restart)`,
    );
  });

  it('says which phase died without finishing (the record a cancelled job left)', () => {
    const rec = record({ [A]: installed('c', 0) });
    rec.phases.push({ mode: 'rollout', startedAt: '2026-11-29T00:10:00.000Z' });
    expect(rollbackReasons(rec, DEP)).toEqual(['rollout did not finish (started 2026-11-29T00:10:00.000Z)']);
  });

  it('says when nothing failed, and when there is no record', () => {
    expect(rollbackReasons(record(), DEP)).toEqual([
      'no failure is recorded: rollback requested by the operator',
    ]);
    expect(rollbackReasons(undefined, DEP)[0]).toMatch(/no record was given/);
  });
});

describe('classifyRestore', () => {
  const item = { backupPath: BACKUP, source: 'record' as const };
  const ok = { status: 'Success', statusDetails: 'Success', responseCode: 0, stderr: '' };

  it('reads exit 0 with empty output (the emulator, or unread output) as restored', () => {
    expect(classifyRestore({ ...ok, stdout: '' }, item)).toEqual({ result: 'restored' });
  });

  it('tells already from restored by the script’s own result line', () => {
    expect(classifyRestore({ ...ok, stdout: 'EWD restore=already\nEWD service=active\n' }, item).result).toBe(
      'already',
    );
    expect(
      classifyRestore({ ...ok, stdout: 'EWD restore=restored\nEWD service=active\n' }, item).result,
    ).toBe('restored');
  });

  it('carries the restore’s proof for the summary: the checksum against the backup’s, the service after', () => {
    const original = 'a'.repeat(64);
    const fix = 'b'.repeat(64);
    const stdout = [
      `EWD backup=${BACKUP}`,
      `EWD backup_sha256=${original}`,
      `EWD sha256_before=${fix}`,
      'EWD restore=restored',
      `EWD sha256_after=${original}`,
      'EWD service=active',
      'EWD restarts=0',
      '',
    ].join('\n');
    expect(classifyRestore({ ...ok, stdout }, item)).toEqual({
      result: 'restored',
      evidence: 'sha256 aaaaaaaaaaaa…, equal to the backup (was bbbbbbbbbbbb…); service active, NRestarts 0',
    });
    const again = `EWD backup_sha256=${original}\nEWD restore=already\nEWD sha256_after=${original}\nEWD restart=skipped\nEWD service=active\n`;
    expect(classifyRestore({ ...ok, stdout: again }, item)).toEqual({
      result: 'already',
      evidence:
        'sha256 aaaaaaaaaaaa…, equal to the backup; service active, not restarted (already running it)',
    });
  });

  it('makes a missing backup a clear failure naming the path, except on a group member from the old image', () => {
    const missing = {
      status: 'Failed',
      statusDetails: 'Failed',
      responseCode: ScriptExit.BackupMissing,
      stdout: 'EWD restore=missing\n',
      stderr: '',
    };
    expect(classifyRestore(missing, item)).toEqual({
      result: 'failed',
      detail: `backup ${BACKUP} is missing on the instance: nothing to restore from`,
    });
    expect(classifyRestore(missing, { backupPath: BACKUP, source: 'asg' }).result).toBe('not touched');
  });

  it('fails a restore whose result differs from the backup, with the script’s words', () => {
    const out = classifyRestore(
      {
        status: 'Failed',
        statusDetails: 'Failed',
        responseCode: ScriptExit.BackupFailed,
        stdout: `EWD error=/opt/file-processor/worker.py differs from ${BACKUP} after the restore\n`,
        stderr: '',
      },
      item,
    );
    expect(out.result).toBe('failed');
    expect(out.detail).toMatch(/differs from .* after the restore/);
  });

  it('marks SSM delivery failures so the caller can check whether the instance went away', () => {
    const out = classifyRestore(
      { status: 'Failed', statusDetails: 'Undeliverable', responseCode: -1, stdout: '', stderr: '' },
      item,
    );
    expect(out).toMatchObject({ result: 'failed', undelivered: true });
  });
});

describe('refreshDecision', () => {
  it('undoes a running refresh and leaves ended ones', () => {
    expect(refreshDecision('InProgress')).toBe('undo');
    expect(refreshDecision('Pending')).toBe('undo');
    expect(refreshDecision('Baking')).toBe('undo');
    expect(refreshDecision('RollbackInProgress')).toBe('already');
    expect(refreshDecision('Cancelling')).toBe('already');
    expect(refreshDecision('Successful')).toBe('follow-up');
    expect(refreshDecision(undefined)).toBe('follow-up');
  });
});

describe('refreshReversible', () => {
  // API_RollbackInstanceRefresh: no rollback without a desired configuration, or for a group on
  // $Latest/$Default; rollout records 'none' for exactly those refreshes.
  it('knows AWS refuses to roll back a refresh started without a desired configuration', () => {
    expect(refreshReversible('none')).toBe(false);
    expect(refreshReversible('launch-template')).toBe(true);
    expect(refreshReversible('mixed-instances-policy')).toBe(true);
    // Older records do not say: rollback is tried, and a refusal cancels.
    expect(refreshReversible(undefined)).toBeUndefined();
  });
});
