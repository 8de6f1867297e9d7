import { reconcile, stableOrder, classifyFleet, type FixEvidence } from '../../src/logic/fleet.js';

describe('stableOrder', () => {
  it('sorts by instance id and drops repeats, whatever the API order', () => {
    const a = stableOrder([{ id: 'i-0c' }, { id: 'i-0a' }, { id: 'i-0b' }, { id: 'i-0a' }]);
    expect(a.map((i) => i.id)).toEqual(['i-0a', 'i-0b', 'i-0c']);
  });
});

describe('reconcile', () => {
  it('splits appeared, vanished and kept', () => {
    expect(reconcile(['i-1', 'i-2', 'i-3'], ['i-2', 'i-3', 'i-4'])).toEqual({
      appeared: ['i-4'],
      vanished: ['i-1'],
      kept: ['i-2', 'i-3'],
    });
  });
});

describe('classifyFleet: the fleet now against the fix', () => {
  const fix: FixEvidence = {
    deploymentId: 'dep-1',
    entries: { 'i-a': { s: 'installed' }, 'i-b': { s: 'installed' }, 'i-f': { s: 'failed' } },
  };
  it('tag and record together mean installed; newcomers and failures are told apart; the gone listed', () => {
    const r = classifyFleet(
      ['i-a', 'i-b', 'i-f', 'i-x'],
      [
        { id: 'i-a', deploymentTag: 'dep-1' },
        { id: 'i-b' },
        { id: 'i-f', deploymentTag: 'dep-1' },
        { id: 'i-n' },
      ],
      fix,
    );
    expect(r.runsFix).toEqual(['i-a']);
    expect(r.newcomers).toEqual(['i-n']);
    expect(r.notFixed).toEqual([
      { id: 'i-b', why: 'the record says installed but the instance lacks the deployment tag' },
      { id: 'i-f', why: 'install failed' },
    ]);
    expect(r.gone).toEqual(['i-x']);
    expect(r.noInstall).toBe(false);
  });
  it('asg: the baked image or the new launch template version is the fix; Pending is in transition', () => {
    const r = classifyFleet(
      ['i-a'],
      [
        { id: 'i-1', imageId: 'ami-fix', group: { lifecycle: 'InService', launchTemplateVersion: '3' } },
        { id: 'i-2', imageId: 'ami-x', group: { lifecycle: 'InService', launchTemplateVersion: '4' } },
        { id: 'i-3', imageId: 'ami-x', group: { lifecycle: 'Pending', launchTemplateVersion: '3' } },
        { id: 'i-4', imageId: 'ami-x', group: { lifecycle: 'InService', launchTemplateVersion: '3' } },
      ],
      { deploymentId: 'dep-1', entries: {}, imageId: 'ami-fix', launchTemplateVersion: 4 },
    );
    expect(r.running).toEqual(['i-1', 'i-2', 'i-4']);
    expect(r.runsFix).toEqual(['i-1', 'i-2']);
    expect(r.newcomers).toEqual(['i-4']);
    expect(r.transitioning).toEqual(['i-3']);
    expect(r.gone).toEqual(['i-a']);
  });
  it('a record with no install at all judges only running', () => {
    const r = classifyFleet(['i-a'], [{ id: 'i-a' }], { deploymentId: 'dep-1', entries: {} });
    expect(r.noInstall).toBe(true);
  });
});
