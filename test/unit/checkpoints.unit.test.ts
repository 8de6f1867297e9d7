import { deployedAt, latestPerDeployment, planCheckpoint } from '../../src/logic/checkpoints.js';
import type { DeploymentRecord } from '../../src/record.js';
import { at, completedRecord, preflightRecord, rolledBackRecord } from '../support/sample-record.js';

// completedRecord(): the rollout ended at minute 20.
const afterRollout = (minutes: number) => new Date(at(20 + minutes));

function withColumn(record: DeploymentRecord, checkpoint: '1h' | '24h', minute: number): DeploymentRecord {
  record.metrics[checkpoint] = { at: at(minute), visible: 5 };
  record.phases.push({ mode: 'verify', startedAt: at(minute - 10), endedAt: at(minute), verdict: 'pass' });
  record.updatedAt = at(minute);
  return record;
}

describe('when is a later checkpoint due', () => {
  it('counts from the end of the rollout', () => {
    expect(deployedAt(completedRecord())?.toISOString()).toBe(at(20));
  });

  it('is not due before 1 hour, and says when it will be', () => {
    const plan = planCheckpoint([completedRecord()], afterRollout(59));
    expect(plan.due).toBeUndefined();
    expect(plan.reason).toBe(
      'deployment dep-20261129t053000z-4242-1: the 1h checkpoint is due at 2026-11-29T06:50:00Z',
    );
  });

  it('is due at 1 hour, and stays due while the schedule runs late', () => {
    expect(planCheckpoint([completedRecord()], afterRollout(60)).due).toBe('1h');
    expect(planCheckpoint([completedRecord()], afterRollout(6 * 60)).due).toBe('1h');
  });

  it('after the 1 h column, waits for 24 hours', () => {
    const record = withColumn(completedRecord(), '1h', 90);
    expect(planCheckpoint([record], afterRollout(120)).due).toBeUndefined();
    expect(planCheckpoint([record], afterRollout(24 * 60)).due).toBe('24h');
  });

  it('reports 1 h as missed and goes on to 24 h when the schedule never ran in time', () => {
    const plan = planCheckpoint([completedRecord()], afterRollout(24 * 60 + 5));
    expect(plan.due).toBe('24h');
    expect(plan.missed).toEqual(['1h']);
  });

  it('stops when both are judged, or too late for both', () => {
    const both = withColumn(withColumn(completedRecord(), '1h', 90), '24h', 24 * 60 + 30);
    const done = planCheckpoint([both], afterRollout(25 * 60));
    expect(done.due).toBeUndefined();
    expect(done.reason).toContain('no checkpoint left to judge (judged: 1h, 24h)');
    const late = planCheckpoint([completedRecord()], afterRollout(49 * 60));
    expect(late.due).toBeUndefined();
    expect(late.missed).toEqual(['1h', '24h']);
  });
});

describe('which record it looks at', () => {
  it('takes the most advanced record of a deployment (the checkpoint artifacts carry more columns)', () => {
    const base = completedRecord();
    const with1h = withColumn(completedRecord(), '1h', 90);
    expect(latestPerDeployment([with1h, base])).toEqual([with1h]);
    expect(planCheckpoint([base, with1h], afterRollout(120)).due).toBeUndefined();
  });

  it('lets a later rollback of the same deployment win over a verified record with more columns', () => {
    const verified = withColumn(completedRecord(), '1h', 90);
    const rollback = rolledBackRecord();
    rollback.deploymentId = verified.deploymentId;
    rollback.metrics = {};
    expect(latestPerDeployment([verified, rollback])).toEqual([rollback]);
    expect(latestPerDeployment([rollback, verified])).toEqual([rollback]);
    const plan = planCheckpoint([verified, rollback], afterRollout(24 * 60 + 5));
    expect(plan.due).toBeUndefined();
    expect(plan.reason).toContain('is rolled-back');
  });

  it('looks only at the newest deployment, and never judges one that was rolled back', () => {
    const older = completedRecord();
    const newer = rolledBackRecord();
    newer.deploymentId = 'dep-20261130t000000z-5000-1';
    newer.createdAt = '2026-11-30T00:00:00.000Z';
    const plan = planCheckpoint([older, newer], new Date('2026-11-30T02:00:00Z'));
    expect(plan.due).toBeUndefined();
    expect(plan.record?.deploymentId).toBe('dep-20261130t000000z-5000-1');
    expect(plan.reason).toContain('is rolled-back');
  });

  it('ignores a newer run that stopped before touching any instance', () => {
    const failedPreflight = preflightRecord();
    failedPreflight.deploymentId = 'dep-20261129t060000z-4300-1';
    failedPreflight.createdAt = at(40);
    failedPreflight.phases[0].verdict = 'fail';
    const plan = planCheckpoint([completedRecord(), failedPreflight], afterRollout(60));
    expect(plan.due).toBe('1h');
    expect(plan.record?.deploymentId).toBe('dep-20261129t053000z-4242-1');
  });

  it('ignores dry runs', () => {
    const dry = completedRecord();
    dry.phases.forEach((p) => (p.dryRun = true));
    const plan = planCheckpoint([dry], afterRollout(60));
    expect(plan.due).toBeUndefined();
    expect(plan.reason).toContain('no deployment record found');
  });

  it('does not judge a deployment whose 1 h checkpoint failed', () => {
    const record = withColumn(completedRecord(), '1h', 90);
    record.phases[record.phases.length - 1].verdict = 'fail';
    expect(planCheckpoint([record], afterRollout(24 * 60)).due).toBeUndefined();
  });
});
