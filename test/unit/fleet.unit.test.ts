import { reconcile, stableOrder } from '../../src/logic/fleet.js';

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
