import {
  backupPathFor,
  commandIndex,
  newDeploymentId,
  newRecord,
  parseRecord,
  serializeRecord,
} from '../../src/record.js';
import { TEST_GITHUB } from '../support/context.js';

function record() {
  return newRecord({
    deploymentId: 'dep-20261129t010000z-4242-1',
    now: new Date('2026-11-29T01:00:00Z'),
    region: 'ap-northeast-1',
    github: TEST_GITHUB,
    serviceName: 'file-processor',
    workerDir: '/opt/file-processor',
    targetFile: 'worker.py',
  });
}

describe('record', () => {
  it('names the backup after the deployment, never a glob', () => {
    expect(backupPathFor('/opt/file-processor/', 'worker.py', 'dep-1')).toBe(
      '/opt/file-processor/worker.py.backup.dep-1',
    );
    expect(record().target.backupPath).toBe(
      '/opt/file-processor/worker.py.backup.dep-20261129t010000z-4242-1',
    );
  });

  it('makes sortable, unique deployment ids', () => {
    expect(newDeploymentId(new Date('2026-11-29T01:02:03.456Z'), 4242, 2)).toBe(
      'dep-20261129t010203z-4242-2',
    );
  });

  it('round-trips through serialize and parse', () => {
    const r = record();
    expect(parseRecord(serializeRecord(r))).toEqual(r);
  });

  it('keeps a 5,000-instance deployment under the 1 MB job-output limit', () => {
    const r = record();
    const ids = Array.from(
      { length: 5000 },
      (_, i) => `i-${(0x10000000000000000n + BigInt(i) * 7919n).toString(16).slice(-17)}`,
    );
    r.fleet = { filters: ['tag:Name=cis-file-processor'], instanceIds: ids, discoveredAt: r.createdAt };
    ids.forEach((id, i) => {
      const c = commandIndex(
        r,
        `cmd-${String(Math.floor(i / 50)).padStart(8, '0')}-aaaa-bbbb-cccc-123456789012`,
      );
      r.instances[id] = {
        p: 'r',
        b: Math.floor(i / 50) + 1,
        s: i % 97 === 0 ? 'failed' : 'installed',
        c,
        t: 41,
        e: i % 97 === 0 ? 'Failed: exit 3 backup could not be verified' : undefined,
        rb: 'restored',
      };
    });
    const bytes = Buffer.byteLength(serializeRecord(r));
    expect(bytes).toBeLessThan(700_000);
  });

  it('refuses malformed instance ids and fleets in an incoming record', () => {
    const r = record();
    const bad = { ...r, instances: { 'i-$(reboot)': { p: 'c', b: 0, s: 'sent', c: -1 } } };
    expect(() => parseRecord(JSON.stringify(bad))).toThrow(/malformed instance id/);
    const badFleet = { ...r, fleet: { filters: [], instanceIds: ['; rm -rf /'], discoveredAt: '' } };
    expect(() => parseRecord(JSON.stringify(badFleet))).toThrow(/malformed fleet instance id/);
    expect(() => parseRecord('[]')).toThrow(/must be a JSON object/);
    expect(() => parseRecord(JSON.stringify({ ...r, kind: 'other' }))).toThrow(
      /is not a emergency-worker-deploy record/,
    );
    expect(() => parseRecord('x'.repeat(1_000_001))).toThrow(/larger than/);
  });

  it('commandIndex reuses known command ids', () => {
    const r = record();
    expect(commandIndex(r, 'a')).toBe(0);
    expect(commandIndex(r, 'b')).toBe(1);
    expect(commandIndex(r, 'a')).toBe(0);
  });
});

describe('publishRecord', () => {
  it('writes the output and, on a runner, the record file atomically', async () => {
    const { mkdtempSync, readFileSync, existsSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { publishRecord } = await import('../../src/context.js');
    const { testContext } = await import('../support/context.js');
    const { ctx, report } = testContext({ mode: 'canary' });
    const file = join(mkdtempSync(join(tmpdir(), 'rec-')), 'deployment-record.json');
    ctx.recordFile = file;
    const r = record();
    publishRecord(ctx, r);
    expect(JSON.parse(readFileSync(file, 'utf8')).deploymentId).toBe(r.deploymentId);
    expect(existsSync(`${file}.tmp`)).toBe(false);
    expect(report.outputs['record-file']).toBe(file);
    expect(JSON.parse(report.outputs.record ?? '')).toEqual(JSON.parse(readFileSync(file, 'utf8')));
  });
});
