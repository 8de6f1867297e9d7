// The bundle receiving SIGTERM (a cancelled workflow run) in the middle of each long-running mode,
// against moto_server: the canary during its watch window, the rollout during the bake between
// batches, verify during its sampling window. Each must exit non-zero soon after, with the record
// output written and true, and start no new work after the signal. The moment to signal is read
// from the record the run itself writes (GITHUB_OUTPUT is polled), not guessed from timing.
// That no file is left half-replaced on an instance is the install script's own guarantee (an
// atomic rename after a verified backup), proven under bash in scripts-bash.unit.test.ts.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeploymentRecord } from '../../src/record.js';
import { motoAvailable, motoEnv, startMoto, type Moto } from '../support/moto.js';
import { parseOutputFile, runDist, type DistRun } from '../support/run-dist.js';
import { seedWorld, WORLD, type SeededWorld, listEmulatorCommands } from '../support/world.js';

const enabled = motoAvailable();
const describeMoto = enabled ? describe : describe.skip;
const TIMEOUT = 180_000;
/** How long after SIGTERM the process may take to write its record and exit. */
const EXIT_WITHIN_MS = 15_000;
/** A request already on the wire when the signal lands reaches the emulator a moment later. */
const IN_FLIGHT_GRACE_MS = 1_000;

/** The last record the running process wrote to its GITHUB_OUTPUT, if any yet. */
function recordIn(outputFile: string): DeploymentRecord | undefined {
  if (!existsSync(outputFile)) return undefined;
  const raw = parseOutputFile(readFileSync(outputFile, 'utf8')).record;
  return raw ? (JSON.parse(raw) as DeploymentRecord) : undefined;
}

interface Interrupted {
  run: DistRun;
  record: DeploymentRecord;
  summary: string;
  /** ms from the signal to the exit */
  exitedAfterMs: number;
  signalledAt: number;
}

/**
 * Runs the bundle, waits until the record it writes satisfies `ready` (the run is where the signal
 * should land), sends SIGTERM, and waits for the exit.
 */
async function interrupt(
  inputs: Record<string, string>,
  env: Record<string, string>,
  ready: (r: DeploymentRecord) => boolean,
): Promise<Interrupted> {
  const dir = mkdtempSync(join(tmpdir(), 'ewd-sigterm-'));
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  let pid = 0;
  let exited = 0;
  const running = runDist(
    inputs,
    { ...env, GITHUB_OUTPUT: outputFile, GITHUB_STEP_SUMMARY: summaryFile },
    { timeoutMs: 150_000, onSpawn: (p) => (pid = p) },
  ).then((r) => {
    exited = Date.now();
    return r;
  });
  const deadline = Date.now() + 90_000;
  for (;;) {
    const r = recordIn(outputFile);
    if (r && ready(r)) break;
    if (exited || Date.now() > deadline) {
      const run = await running;
      throw new Error(
        `the run ended (or took too long) before the moment to signal:\n${run.stdout}\n${run.stderr}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const signalledAt = Date.now();
  process.kill(pid, 'SIGTERM');
  const run = await running;
  const record = recordIn(outputFile);
  if (!record) throw new Error('no record after the signal');
  return {
    run,
    record,
    summary: readFileSync(summaryFile, 'utf8'),
    exitedAfterMs: exited - signalledAt,
    signalledAt,
  };
}

describeMoto('SIGTERM in the middle of a mode, against moto_server', () => {
  let moto: Moto;
  let world: SeededWorld;
  let env: Record<string, string>;
  let preflightRecord: string;
  const common = { 'queue-name': WORLD.queueName, 'ssm-check': 'false' };

  beforeAll(async () => {
    moto = await startMoto();
    world = await seedWorld(moto.endpoint, { fleetSize: 4 });
    env = motoEnv(moto.endpoint);
    const pre = await runDist({ mode: 'preflight', ...common }, env);
    expect(pre.code).toBe(0);
    preflightRecord = pre.outputs.record;
  }, TIMEOUT);
  afterAll(async () => moto?.stop());

  let canaryRecord: DeploymentRecord;

  it(
    'canary, during its watch window: exits non-zero at once, NO-GO, record written, no watch poll after the signal',
    async () => {
      const r = await interrupt(
        {
          mode: 'canary',
          ...common,
          record: preflightRecord,
          artifact: 'package.json',
          'artifact-bucket': WORLD.bucket,
          'health-patterns': 'none',
          'canary-minutes': '10',
          'poll-seconds': '60',
        },
        env,
        // Installed: the watch has begun (its first poll runs, then it waits a minute).
        (rec) => Object.values(rec.instances).some((e) => e.s === 'installed'),
      );
      expect(r.run.code).not.toBe(0);
      expect(r.run.code).not.toBeNull(); // exited by itself, not killed by the signal
      expect(r.exitedAfterMs).toBeLessThan(EXIT_WITHIN_MS);
      expect(r.run.stderr).toContain('Received SIGTERM: finishing in-flight work, starting nothing new.');
      const canaryId = r.record.canary?.instanceId ?? '';
      expect(world.instanceIds).toContain(canaryId);
      expect(r.record.instances[canaryId]).toMatchObject({ p: 'c', s: 'installed' });
      expect(r.record.canary?.verdict).toBe('no-go');
      expect(JSON.stringify(r.record.canary?.evidence)).toContain('the run was cancelled during the watch');
      expect(r.record.phases.at(-1)).toMatchObject({ mode: 'canary', verdict: 'no-go' });
      // No watch poll was started after the signal: the first poll follows the install at once and
      // may be on the wire when the signal lands; the next was due a minute later and never came.
      const watches = (await listEmulatorCommands(moto.endpoint)).filter((c) =>
        c.Comment?.includes('canary watch'),
      );
      expect(watches.length).toBeLessThanOrEqual(1);
      for (const c of watches) {
        expect(c.RequestedDateTime!.getTime()).toBeLessThan(r.signalledAt + IN_FLIGHT_GRACE_MS);
      }
      expect(r.summary).toContain(canaryId);
      canaryRecord = r.record;
    },
    TIMEOUT,
  );

  it(
    'rollout, during the bake between batches: exits non-zero at once, no new batch, the record says what was touched',
    async () => {
      // The interrupted canary was NO-GO; what matters here is the rollout's own interruption, so it
      // rolls out from a record whose canary is GO (as after a canary that finished).
      const go: DeploymentRecord = {
        ...canaryRecord,
        canary: {
          ...(canaryRecord.canary as NonNullable<DeploymentRecord['canary']>),
          verdict: 'go',
          reason: 'healthy',
        },
      };
      const r = await interrupt(
        {
          mode: 'rollout',
          ...common,
          record: JSON.stringify(go),
          'batch-size': '1',
          'pause-seconds': '600',
          'visibility-timeout': '900',
        },
        env,
        (rec) => Object.values(rec.instances).some((e) => e.p === 'r' && e.s === 'installed'),
      );
      expect(r.run.code).not.toBe(0);
      expect(r.run.code).not.toBeNull();
      expect(r.exitedAfterMs).toBeLessThan(EXIT_WITHIN_MS);
      const rolled = Object.entries(r.record.instances).filter(([, e]) => e.p === 'r');
      // Batch 1 only: installed, and nothing else touched.
      expect(rolled).toHaveLength(1);
      expect(rolled[0][1]).toMatchObject({ b: 1, s: 'installed' });
      expect(r.record.phases.at(-1)).toMatchObject({ mode: 'rollout', verdict: 'fail' });
      expect(r.record.phases.at(-1)?.reason).toMatch(/cancelled/i);
      // The queue's visibility timeout is raised only after the whole fleet: not here.
      expect(r.record.settings.visibilityTimeout).toBeUndefined();
      // No install (or health check) was sent after the signal.
      const batches = (await listEmulatorCommands(moto.endpoint)).filter((c) =>
        c.Comment?.includes('rollout batch'),
      );
      // One command: batch 1's install (moto's ListCommands lists odd instance ids, so only the
      // count is read).
      expect(batches).toHaveLength(1);
      expect(batches[0].Comment).toContain('rollout batch 1');
      for (const c of batches) {
        expect(c.RequestedDateTime!.getTime()).toBeLessThan(r.signalledAt + IN_FLIGHT_GRACE_MS);
      }
      const health = (await listEmulatorCommands(moto.endpoint)).filter((c) =>
        c.Comment?.includes('health batch'),
      );
      expect(health).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'verify, during its sampling window: exits non-zero at once, the samples taken are in the record, nothing judged on absence',
    async () => {
      const r = await interrupt(
        {
          mode: 'verify',
          ...common,
          record: preflightRecord,
          'verify-minutes': '30',
          'sample-seconds': '5',
          'check-services': 'true',
        },
        env,
        (rec) => rec.phases.some((p) => p.mode === 'verify'),
      );
      expect(r.run.code).not.toBe(0);
      expect(r.run.code).not.toBeNull();
      expect(r.exitedAfterMs).toBeLessThan(EXIT_WITHIN_MS);
      const entry = (r.record.extra.verify as Record<string, { planned: number; taken: number }>)['10m'];
      expect(entry.planned).toBe(361);
      expect(entry.taken).toBeLessThan(entry.planned);
      expect(r.record.phases.at(-1)).toMatchObject({ mode: 'verify', verdict: 'fail' });
      expect(r.record.warnings.join('\n')).toMatch(/verify was cancelled after \d+ of 361 samples/);
      // A cancelled window sends no service check.
      const checks = (await listEmulatorCommands(moto.endpoint)).filter((c) =>
        c.Comment?.startsWith('verify'),
      );
      expect(checks).toEqual([]);
    },
    TIMEOUT,
  );
});
