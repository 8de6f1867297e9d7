// Named record parts shared by the unit tests: one spelling of each, so a change of the record's
// shape is made here once (test/support/sample-record.ts holds whole sample records).
import type { InstanceEntry, LaunchTemplateChange } from '../../src/record.js';

/** The canary's entry after a clean install: canary phase, batch 0, installed, first command. */
export function canaryInstalled(): InstanceEntry {
  return { p: 'c', b: 0, s: 'installed', c: 0 };
}

/**
 * The launch template change an asg rollout records: cis-file-processor-lt's default was 3, the
 * rollout made version 4 with the fix; `more` adds what newer rollouts record (source version,
 * the group's version, mixed instances policy, whether the default moved).
 */
export function launchTemplateChange(more: Partial<LaunchTemplateChange> = {}): LaunchTemplateChange {
  return {
    id: 'lt-0123456789abcdef0',
    name: 'cis-file-processor-lt',
    previousDefault: 3,
    newVersion: 4,
    ...more,
  };
}
