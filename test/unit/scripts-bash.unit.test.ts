// The generated scripts, run under real bash in a temporary directory, with stub `systemctl`,
// `journalctl`, `aws` and `sleep` on PATH. The stubs keep their state in files and log every call.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstStderrLine, splitPluginOutput } from '../../src/aws/ssm.js';
import { backupPathFor } from '../../src/record.js';
import { parseInstallOutput, parseRestoreOutput, parseWatchOutput } from '../../src/remote/results.js';
import { agentOutput } from '../support/ssm-fleet.js';
import {
  buildHealthCheckScript,
  buildInstallScript,
  buildRestoreScript,
  buildServiceStatusScript,
  buildWatchScript,
  ScriptExit,
} from '../../src/remote/scripts.js';

const STUBS: Record<string, string> = {
  // state: the unit's is-active answer; after_restart: the state a restart leaves it in.
  systemctl: `#!/bin/bash
echo "systemctl $*" >>"$STUB/calls"
case "$1" in
  is-active) s=$(cat "$STUB/state"); echo "$s"; [ "$s" = active ] ;;
  restart)
    [ -e "$STUB/restart_fails" ] && exit 1
    [ -e "$STUB/after_restart" ] && cp "$STUB/after_restart" "$STUB/state"
    exit 0 ;;
  show)
    prop=$3
    if [ -e "$STUB/show_$prop" ]; then echo "$prop=$(cat "$STUB/show_$prop")"; else echo "$prop=0"; fi ;;
  *) exit 0 ;;
esac`,
  // journal: one entry a line; "@SECONDS.MICROS message" stamps an entry with its monotonic time
  // (default 1000000.000000, after any main-process start the tests set). With -o short-monotonic
  // the stub prints what journalctl prints, "[ SECONDS.MICROS] host ident[pid]: message"
  // (journalctl(1), OUTPUT OPTIONS, short-monotonic), plus the "-- ..." note journalctl begins with.
  journalctl: `#!/bin/bash
echo "journalctl $*" >>"$STUB/calls"
case " $* " in
  *" short-monotonic "*)
    echo "-- Logs begin at Mon 2026-11-30 00:00:00 UTC. --"
    while IFS= read -r line; do
      stamp=1000000.000000
      if [ "\${line#@}" != "$line" ]; then stamp=\${line%% *}; stamp=\${stamp#@}; line=\${line#* }; fi
      printf '[%14s] ip-10-0-0-1 python3[4242]: %s\\n' "$stamp" "$line"
    done <"$STUB/journal" 2>/dev/null || true ;;
  *) sed 's/^@[0-9.]* //' "$STUB/journal" 2>/dev/null || true ;;
esac`,
  aws: `#!/bin/bash
echo "aws $*" >>"$STUB/calls"
[ "$1 $2" = "s3 cp" ] || exit 2
args=("$@"); n=\${#args[@]}
src=\${args[$((n - 2))]}; dest=\${args[$((n - 1))]}
path="$STUB/s3/\${src#s3://}"
[ -f "$path" ] || { echo "fatal error: An error occurred (404) when calling the HeadObject operation: Not Found" >&2; exit 1; }
cp "$path" "$dest"`,
  sleep: `#!/bin/bash
echo "sleep $*" >>"$STUB/calls"`,
  // The real cp, except that once, when a test leaves $STUB/race, the commands in it run first:
  // another run of the same deployment doing its work at that very moment.
  cp: `#!/bin/bash
if [ -e "$STUB/race" ]; then mv "$STUB/race" "$STUB/race.ran"; . "$STUB/race.ran"; fi
exec /bin/cp "$@"`,
};

const ORIGINAL = 'print("old worker: forgets to delete messages")\n';
const FIXED = 'print("fixed worker: deletes every message")\n';
const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const DEP = 'dep-20261129t000000z-4242-1';
const URI = 's3://artifacts-bucket/emergency-deploy/fixed-worker.py';

interface Sandbox {
  root: string;
  stub: string;
  dir: string;
  target: string;
  backup: string;
  run(script: string): { code: number | null; stdout: string; stderr: string };
  calls(): string[];
  set(name: string, value: string): void;
}

function sandbox(): Sandbox {
  const root = mkdtempSync(join(tmpdir(), 'ewdscripts'));
  const stub = join(root, 'stub');
  const bin = join(root, 'bin');
  const dir = join(root, 'opt', 'file-processor');
  for (const d of [stub, bin, dir, join(stub, 's3', 'artifacts-bucket', 'emergency-deploy')])
    mkdirSync(d, { recursive: true });
  for (const [name, body] of Object.entries(STUBS)) {
    writeFileSync(join(bin, name), `${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  const target = join(dir, 'worker.py');
  writeFileSync(target, ORIGINAL);
  chmodSync(target, 0o640);
  writeFileSync(join(stub, 's3', 'artifacts-bucket', 'emergency-deploy', 'fixed-worker.py'), FIXED);
  writeFileSync(join(stub, 'state'), 'active\n');
  writeFileSync(join(stub, 'after_restart'), 'active\n');
  writeFileSync(join(stub, 'calls'), '');
  return {
    root,
    stub,
    dir,
    target,
    backup: backupPathFor(dir, 'worker.py', DEP),
    run(script: string) {
      const file = join(root, 'script.sh');
      writeFileSync(file, script);
      const r = spawnSync('bash', [file], {
        encoding: 'utf8',
        env: { PATH: `${bin}:${process.env.PATH}`, STUB: stub, HOME: root },
        timeout: 20_000,
      });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    },
    calls: () => readFileSync(join(stub, 'calls'), 'utf8').split('\n').filter(Boolean),
    set: (name, value) => writeFileSync(join(stub, name), value),
  };
}

const leftovers = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('.'));

function install(s: Sandbox, over: Partial<Parameters<typeof buildInstallScript>[0]> = {}) {
  return s.run(
    buildInstallScript({
      deploymentId: DEP,
      serviceName: 'file-processor',
      workerDir: s.dir,
      targetFile: 'worker.py',
      artifactS3Uri: URI,
      sha256: sha256(FIXED),
      region: 'ap-northeast-1',
      restartWaitSeconds: 3,
      settleSeconds: 1,
      stateDir: join(s.root, 'run', 'emergency-deploy'),
      ...over,
    }),
  );
}

function restore(s: Sandbox, artifactSha256?: string) {
  return s.run(
    buildRestoreScript({
      deploymentId: DEP,
      serviceName: 'file-processor',
      workerDir: s.dir,
      targetFile: 'worker.py',
      backupPath: s.backup,
      artifactSha256,
      restartWaitSeconds: 3,
      settleSeconds: 0,
    }),
  );
}

let boxes: Sandbox[] = [];
function box(): Sandbox {
  const s = sandbox();
  boxes.push(s);
  return s;
}
afterEach(() => {
  for (const s of boxes) rmSync(s.root, { recursive: true, force: true });
  boxes = [];
});

describe('install script under bash', () => {
  it('backs up (mode kept, byte for byte), verifies the artifact, replaces atomically and restarts', () => {
    const s = box();
    const inodeBefore = statSync(s.target).ino;
    const r = install(s);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(s.backup, 'utf8')).toBe(ORIGINAL);
    expect(statSync(s.backup).mode & 0o777).toBe(0o640);
    expect(readFileSync(s.target, 'utf8')).toBe(FIXED);
    // The new file took the original's mode, and arrived by rename (a new inode), not by rewrite.
    expect(statSync(s.target).mode & 0o777).toBe(0o640);
    expect(statSync(s.target).ino).not.toBe(inodeBefore);
    expect(leftovers(s.dir)).toEqual([]);
    const calls = s.calls();
    expect(calls).toContain('systemctl restart file-processor');
    expect(
      calls.some((c) =>
        c.startsWith(`aws s3 cp --only-show-errors --region ap-northeast-1 ${URI} ${s.dir}/.worker.py.new.`),
      ),
    ).toBe(true);
    const report = parseInstallOutput(r.stdout);
    expect(report).toMatchObject({
      result: 'installed',
      backupPath: s.backup,
      backupState: 'created',
      backupSha256: sha256(ORIGINAL),
      sha256Before: sha256(ORIGINAL),
      sha256Fetched: sha256(FIXED),
      sha256After: sha256(FIXED),
      service: 'active',
      restarts: 0,
    });
    expect(report.restartedAt).toBeGreaterThan(1_700_000_000);
  });

  it('refuses an artifact whose checksum differs, leaving the target untouched and not restarting', () => {
    const s = box();
    const r = install(s, { sha256: sha256('something else') });
    expect(r.code).toBe(ScriptExit.ChecksumMismatch);
    expect(r.stderr).toContain('checksum mismatch');
    expect(readFileSync(s.target, 'utf8')).toBe(ORIGINAL);
    expect(leftovers(s.dir)).toEqual([]);
    expect(s.calls()).not.toContain('systemctl restart file-processor');
    expect(parseInstallOutput(r.stdout).error).toMatch(/left untouched/);
  });

  it('fails clearly when the artifact cannot be fetched', () => {
    const s = box();
    const r = install(s, { artifactS3Uri: 's3://artifacts-bucket/emergency-deploy/missing.py' });
    expect(r.code).toBe(ScriptExit.FetchFailed);
    expect(readFileSync(s.target, 'utf8')).toBe(ORIGINAL);
    expect(leftovers(s.dir)).toEqual([]);
  });

  it('fails with the last journal lines when the service does not come back', () => {
    const s = box();
    s.set('after_restart', 'failed\n');
    s.set('journal', 'Traceback (most recent call last):\nImportError: no module named boto4\n');
    const r = install(s);
    expect(r.code).toBe(ScriptExit.Inactive);
    const report = parseInstallOutput(r.stdout);
    expect(report.service).toBe('failed');
    expect(report.journal).toEqual([
      'Traceback (most recent call last):',
      'ImportError: no module named boto4',
    ]);
    expect(report.error).toMatch(/file-processor is failed 3s after the restart/);
    expect(s.calls()).toContain('journalctl -u file-processor -n 30 --no-pager -o short-iso');
    // The wait is bounded: three one-second sleeps.
    expect(s.calls().filter((c) => c === 'sleep 1')).toHaveLength(3);
  });

  it('puts the reason and service lines before the journal, so 2,500 characters of fan-out output still carry them', () => {
    const s = box();
    s.set('after_restart', 'failed\n');
    s.set('show_NRestarts', '4');
    // 30 long journal lines: about 5,000 characters, twice what ListCommandInvocations returns.
    s.set('journal', `${Array.from({ length: 30 }, (_, i) => `line ${i} ${'x'.repeat(150)}`).join('\n')}\n`);
    const r = install(s);
    expect(r.code).toBe(ScriptExit.Inactive);
    expect(r.stdout.length).toBeGreaterThan(2500);
    // The agent's cut (agent/contracts/plugin.go TruncateOutput), then the fan-out's split.
    const { stdout, stderr } = splitPluginOutput(agentOutput(r.stdout, r.stderr));
    const cut = parseInstallOutput(stdout);
    expect(cut.error).toMatch(/file-processor is failed 3s after the restart/);
    expect(cut.service).toBe('failed');
    expect(cut.result).toBe('installed');
    // The crash loop's restart counter travels with the failure (before the journal, so it survives the cut).
    expect(cut.restarts).toBe(4);
    expect(cut.journal.length).toBeGreaterThan(0);
    expect(firstStderrLine(stderr)).toMatch(/^emergency-deploy: file-processor is failed/);
  });

  it('fails when the service dies right after it started (the settle check)', () => {
    const s = box();
    // active at the first look, failed after the settle sleep
    const script = install(s).stdout; // first run, to get a backup in place
    expect(script).toContain('result=installed');
    writeFileSync(s.target, ORIGINAL);
    writeFileSync(
      join(s.root, 'bin', 'sleep'),
      `#!/bin/bash\necho "sleep $*" >>"$STUB/calls"\n[ "$1" = 1 ] || echo failed >"$STUB/state"\n`,
    );
    const r = install(s, { settleSeconds: 2 });
    expect(r.code).toBe(ScriptExit.Inactive);
    expect(parseInstallOutput(r.stdout).error).toMatch(/stopped within 2s/);
  });

  it('fails clearly when the worker directory or the target is missing, or the target is a symlink', () => {
    const s = box();
    const noDir = install(s, { workerDir: join(s.root, 'opt', 'nowhere') });
    expect(noDir.code).toBe(ScriptExit.TargetMissing);
    expect(noDir.stderr).toMatch(/worker directory .* does not exist/);
    const noFile = install(s, { targetFile: 'other.py' });
    expect(noFile.code).toBe(ScriptExit.TargetMissing);
    expect(noFile.stderr).toMatch(/target file .*other\.py does not exist/);
    symlinkSync(s.target, join(s.dir, 'linked.py'));
    const link = install(s, { targetFile: 'linked.py' });
    expect(link.code).toBe(ScriptExit.UnsafeTarget);
    expect(readFileSync(s.target, 'utf8')).toBe(ORIGINAL);
  });

  it('on a re-run keeps the original backup and only makes sure the service runs the new file', () => {
    const s = box();
    expect(install(s).code).toBe(0);
    const again = install(s);
    expect(again.code).toBe(0);
    const report = parseInstallOutput(again.stdout);
    expect(report).toMatchObject({ result: 'already', backupState: 'kept', sha256Before: sha256(FIXED) });
    // The backup still holds the original file, not the fixed one.
    expect(readFileSync(s.backup, 'utf8')).toBe(ORIGINAL);
    // The stub's main process start is unknown (0), so the service is restarted to be sure.
    expect(report.restart).toBe('needed');
    expect(s.calls().filter((c) => c.startsWith('aws '))).toHaveLength(1);
  });

  it('skips the restart on a re-run when the running process started after the file was put in place', () => {
    const s = box();
    expect(install(s).code).toBe(0);
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    // A main process that started 100 s from now: certainly after the file was placed.
    s.set('show_ExecMainStartTimestampMonotonic', String(Math.round((uptime + 100) * 1e6)));
    writeFileSync(join(s.stub, 'calls'), '');
    const again = install(s);
    expect(again.code).toBe(0);
    expect(parseInstallOutput(again.stdout).restart).toBe('skipped');
    expect(s.calls()).not.toContain('systemctl restart file-processor');
  });

  // The main-process start that systemd would report (CLOCK_MONOTONIC microseconds) for a process
  // that started at epoch millisecond `atMs`, as the script maps it back through /proc/uptime.
  function monotonicStartAt(atMs: number): string {
    const uptimeMs = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
    return String(Math.round((atMs - (Date.now() - uptimeMs)) * 1000));
  }

  it('skips the restart when the process started a fraction of a second after the file was placed', () => {
    // A rollback or install restarts right after its mv, often within the same second as the
    // file's ctime: whole seconds made the next run restart a healthy worker.
    const s = box();
    expect(install(s).code).toBe(0);
    s.set('show_ExecMainStartTimestampMonotonic', monotonicStartAt(statSync(s.target).ctimeMs + 200));
    writeFileSync(join(s.stub, 'calls'), '');
    const again = install(s);
    expect(parseInstallOutput(again.stdout).restart).toBe('skipped');
    expect(s.calls()).not.toContain('systemctl restart file-processor');
  });

  it('restarts when the process started a fraction of a second before the file was placed', () => {
    // An earlier run died between its mv and its restart: the process still runs the old file.
    const s = box();
    expect(install(s).code).toBe(0);
    s.set('show_ExecMainStartTimestampMonotonic', monotonicStartAt(statSync(s.target).ctimeMs - 200));
    writeFileSync(join(s.stub, 'calls'), '');
    const again = install(s);
    expect(parseInstallOutput(again.stdout).restart).toBe('needed');
    expect(s.calls()).toContain('systemctl restart file-processor');
  });

  it('keeps an existing backup when an earlier run died before the replace', () => {
    const s = box();
    writeFileSync(s.backup, ORIGINAL);
    const r = install(s);
    expect(r.code).toBe(0);
    expect(parseInstallOutput(r.stdout)).toMatchObject({ result: 'installed', backupState: 'kept' });
    expect(readFileSync(s.target, 'utf8')).toBe(FIXED);
  });
});

describe('install backup against a concurrent run of the same deployment', () => {
  it('keeps the backup a concurrent run made first, never replacing it with a copy of the new file', () => {
    // The other run creates the backup (the original file) between this run's existence check
    // and its copy; a rename (mv -f) over the name would have replaced it.
    const s = box();
    s.set('race', `printf '%s' '${ORIGINAL.replace(/'/g, `'\\''`)}' >'${s.backup}'\n`);
    const r = install(s);
    expect(existsSync(join(s.stub, 'race.ran'))).toBe(true);
    expect(r.code).toBe(0);
    expect(parseInstallOutput(r.stdout)).toMatchObject({ backupState: 'kept', result: 'installed' });
    expect(readFileSync(s.backup, 'utf8')).toBe(ORIGINAL);
    expect(leftovers(s.dir)).toEqual([]);
  });

  it('refuses to back up a target that a concurrent run replaced while it was being copied', () => {
    // The other run backed the original up and put the new file in place before this run's copy:
    // the copy no longer has the checksum this run read, and the backup must stay the original.
    const s = box();
    s.set(
      'race',
      `printf '%s' '${ORIGINAL.replace(/'/g, `'\\''`)}' >'${s.backup}'\nprintf '%s' '${FIXED.replace(/'/g, `'\\''`)}' >'${s.target}'\n`,
    );
    const r = install(s);
    expect(r.code).toBe(ScriptExit.BackupFailed);
    expect(r.stderr).toContain('changed while it was being backed up');
    expect(readFileSync(s.backup, 'utf8')).toBe(ORIGINAL);
    expect(leftovers(s.dir)).toEqual([]);
    expect(s.calls().filter((c) => c.startsWith('aws '))).toHaveLength(0);
  });

  it('creates the backup as a hard link of the verified copy, and leaves no temporary file', () => {
    const s = box();
    const r = install(s);
    expect(r.code).toBe(0);
    expect(parseInstallOutput(r.stdout)).toMatchObject({
      backupState: 'created',
      backupSha256: sha256(ORIGINAL),
    });
    expect(statSync(s.backup).nlink).toBe(1);
    expect(leftovers(s.dir)).toEqual([]);
  });
});

describe('restore script under bash', () => {
  it('restores the backup atomically, restarts, keeps the backup, and is idempotent', () => {
    const s = box();
    expect(install(s).code).toBe(0);
    writeFileSync(join(s.stub, 'calls'), '');
    const r = restore(s);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(s.target, 'utf8')).toBe(ORIGINAL);
    expect(statSync(s.target).mode & 0o777).toBe(0o640);
    expect(existsSync(s.backup)).toBe(true);
    expect(leftovers(s.dir)).toEqual([]);
    expect(s.calls()).toContain('systemctl restart file-processor');
    expect(parseRestoreOutput(r.stdout)).toMatchObject({
      restore: 'restored',
      backupPath: s.backup,
      sha256Before: sha256(FIXED),
      sha256After: sha256(ORIGINAL),
      service: 'active',
    });
    const again = restore(s);
    expect(again.code).toBe(0);
    expect(parseRestoreOutput(again.stdout).restore).toBe('already');
    expect(readFileSync(s.target, 'utf8')).toBe(ORIGINAL);
    expect(existsSync(s.backup)).toBe(true);
  });

  it('restores a target that disappeared', () => {
    const s = box();
    expect(install(s).code).toBe(0);
    rmSync(s.target);
    const r = restore(s);
    expect(r.code).toBe(0);
    expect(parseRestoreOutput(r.stdout)).toMatchObject({ restore: 'restored', sha256Before: 'missing' });
    expect(readFileSync(s.target, 'utf8')).toBe(ORIGINAL);
  });

  it('fails with "backup missing" and its own exit code when there is no backup', () => {
    const s = box();
    const r = restore(s);
    expect(r.code).toBe(ScriptExit.BackupMissing);
    expect(r.stderr).toContain('backup missing');
    expect(parseRestoreOutput(r.stdout).restore).toBe('missing');
    expect(readFileSync(s.target, 'utf8')).toBe(ORIGINAL);
    expect(s.calls()).not.toContain('systemctl restart file-processor');
  });

  it('reports an instance tagged but never changed (no backup, the file is not the artifact) as untouched', () => {
    // A rollout killed after tagging a batch and before sending it leaves exactly this.
    const s = box();
    const r = restore(s, sha256(FIXED));
    expect(r.code).toBe(ScriptExit.Untouched);
    expect(parseRestoreOutput(r.stdout)).toMatchObject({
      restore: 'untouched',
      sha256Before: sha256(ORIGINAL),
    });
    expect(r.stdout).not.toContain('EWD error=');
    expect(readFileSync(s.target, 'utf8')).toBe(ORIGINAL);
    expect(s.calls()).not.toContain('systemctl restart file-processor');
  });

  it('fails saying so when the file is the artifact but the backup is missing', () => {
    const s = box();
    writeFileSync(s.target, FIXED);
    const r = restore(s, sha256(FIXED));
    expect(r.code).toBe(ScriptExit.BackupMissing);
    expect(parseRestoreOutput(r.stdout)).toMatchObject({ restore: 'missing', sha256Before: sha256(FIXED) });
    expect(r.stderr).toMatch(/is the artifact but .* is not on this instance/);
    expect(readFileSync(s.target, 'utf8')).toBe(FIXED);
  });

  it('without the artifact checksum, a missing backup stays a failure that says why', () => {
    const s = box();
    const r = restore(s);
    expect(r.code).toBe(ScriptExit.BackupMissing);
    expect(r.stderr).toContain("the artifact's checksum is not known");
  });

  it('fails with the journal when the restored service does not come up', () => {
    const s = box();
    expect(install(s).code).toBe(0);
    s.set('after_restart', 'failed\n');
    s.set('journal', 'worker crashed\n');
    const r = restore(s);
    expect(r.code).toBe(ScriptExit.Inactive);
    expect(parseRestoreOutput(r.stdout).journal).toEqual(['worker crashed']);
    expect(readFileSync(s.target, 'utf8')).toBe(ORIGINAL);
  });
});

describe('watch and health-check scripts under bash', () => {
  const JOURNAL = [
    'Received 3 messages',
    'Successfully processed uploads/file-1.pdf',
    'Deleted message 1',
    'Received 1 message',
  ].join('\n');
  const watch = (s: Sandbox, over: Partial<Parameters<typeof buildWatchScript>[0]> = {}) =>
    s.run(
      buildWatchScript({
        serviceName: 'file-processor',
        sinceEpochSeconds: 1_795_910_400,
        healthPatterns: ['Received [0-9]+ messages?', 'Successfully processed', 'Deleted message'],
        errorPatterns: ['Traceback', 'ERROR', 'CRITICAL'],
        ...over,
      }),
    );

  it('counts each pattern since the restart and exits 0 when healthy', () => {
    const s = box();
    s.set('journal', `${JOURNAL}\n`);
    const r = watch(s);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const w = parseWatchOutput(r.stdout, 3, 3);
    expect(w).toMatchObject({
      lines: 4,
      health: [2, 1, 1],
      errors: [0, 0, 0],
      service: 'active',
      restarts: 0,
      reported: true,
    });
    expect(w.excerpts).toContainEqual({ kind: 'health', index: 0, line: 'Received 3 messages' });
    const since = new Date(1_795_910_400_000);
    const local = spawnSync('date', ['-d', `@${since.getTime() / 1000}`, '+%Y-%m-%d %H:%M:%S'], {
      encoding: 'utf8',
    }).stdout.trim();
    expect(s.calls()).toContain(`journalctl -u file-processor --since ${local} --no-pager -o cat`);
  });

  it('exits ErrorPattern with excerpts and the journal tail when an error pattern appears', () => {
    const s = box();
    s.set(
      'journal',
      `${JOURNAL}\nTraceback (most recent call last):\nERROR could not delete message\nERROR again\nERROR third\n`,
    );
    const r = watch(s);
    expect(r.code).toBe(ScriptExit.ErrorPattern);
    const w = parseWatchOutput(r.stdout, 3, 3);
    expect(w.errors).toEqual([1, 3, 0]);
    expect(w.excerpts.filter((e) => e.kind === 'error' && e.index === 1).map((e) => e.line)).toEqual([
      'ERROR could not delete message',
      'ERROR again',
    ]);
    expect(w.tail.length).toBeGreaterThan(0);
  });

  it('prints every count and service fact before any excerpt, so a cut output loses excerpts only', () => {
    const s = box();
    const long = `ERROR ${'y'.repeat(150)}`;
    s.set('journal', `${JOURNAL}\n${Array.from({ length: 50 }, () => long).join('\n')}\n`);
    const r = watch(s, { maxExcerptLines: 5, errorPatterns: ['Traceback', 'ERROR', 'E', 'R', 'O'] });
    expect(r.stdout.length).toBeGreaterThan(2500);
    const w = parseWatchOutput(splitPluginOutput(agentOutput(r.stdout, r.stderr)).stdout, 3, 5);
    expect(w.errors).toEqual([0, 50, 50, 52, 50]); // "R" also matches the two "Received" lines
    expect(w.health).toEqual([2, 1, 1]);
    expect(w.service).toBe('active');
    expect(w.excerpts.length).toBeGreaterThan(0);
  });

  it('exits Inactive when the unit is not active, before anything else', () => {
    const s = box();
    s.set('state', 'failed\n');
    s.set('journal', 'ERROR boom\n');
    const r = watch(s);
    expect(r.code).toBe(ScriptExit.Inactive);
    expect(parseWatchOutput(r.stdout, 3, 3).service).toBe('failed');
  });

  it('exits Restarted when the restart counter rose above the baseline, or the main process changed', () => {
    const s = box();
    s.set('show_NRestarts', '2');
    expect(watch(s, { restartsBaseline: 0 }).code).toBe(ScriptExit.Restarted);
    expect(watch(s, { restartsBaseline: 2 }).code).toBe(0);
    s.set('show_ExecMainStartTimestampMonotonic', '999');
    expect(watch(s, { restartsBaseline: 2, mainStartBaseline: '998' }).code).toBe(ScriptExit.Restarted);
    expect(watch(s, { restartsBaseline: 2, mainStartBaseline: '999' }).code).toBe(0);
  });

  it('counts hostile-looking patterns literally, never runs them', () => {
    const s = box();
    const marker = join(s.root, 'pwned');
    s.set('journal', `it's "quoted" $(touch ${marker}) \`x\`\n`);
    const patterns = [`it's "quoted"`, `\\$\\(touch`, `'; touch ${marker}; echo '`, '`x`'];
    const r = watch(s, { healthPatterns: patterns, errorPatterns: [] });
    expect(r.code).toBe(0);
    expect(parseWatchOutput(r.stdout, 4, 0).health).toEqual([1, 1, 0, 1]);
    expect(existsSync(marker)).toBe(false);
  });

  it('reports a pattern grep -E rejects', () => {
    const s = box();
    s.set('journal', 'x\n');
    const r = watch(s, { healthPatterns: [], errorPatterns: ['a{1'] });
    // GNU grep accepts some odd intervals; a clearly broken bracket is refused everywhere.
    const r2 = watch(s, { healthPatterns: [], errorPatterns: ['[[:nope:]]'] });
    expect([r.code, r2.code]).toContain(ScriptExit.BadPattern);
    expect(parseWatchOutput(r2.stdout, 0, 1).invalid).toEqual([{ kind: 'error', index: 0 }]);
  });

  it('keeps its output well under SSM’s 24,000 characters with 20 busy patterns', () => {
    const s = box();
    const long = 'ERROR '.padEnd(5000, 'x');
    s.set('journal', `${Array.from({ length: 200 }, () => long).join('\n')}\n`);
    const errors = Array.from({ length: 20 }, (_, i) => `ERROR${i === 0 ? '' : ` ?x{0,${i}}`}`);
    const health = Array.from({ length: 20 }, () => 'x+');
    const r = watch(s, { healthPatterns: health, errorPatterns: errors });
    expect(r.code).toBe(ScriptExit.ErrorPattern);
    expect(r.stdout.length).toBeLessThan(16_000);
  });

  it('health check: active and clean exits 0; an error since the restart fails it', () => {
    const s = box();
    const check = (p: Partial<Parameters<typeof buildHealthCheckScript>[0]> = {}) =>
      s.run(
        buildHealthCheckScript({
          serviceName: 'file-processor',
          sinceEpochSeconds: 1_795_910_400,
          errorPatterns: ['ERROR'],
          ...p,
        }),
      );
    s.set('journal', 'Received 2 messages\n');
    expect(check().code).toBe(0);
    s.set('journal', 'ERROR boom\n');
    expect(check().code).toBe(ScriptExit.ErrorPattern);
    expect(check({ errorPatterns: [] }).code).toBe(0);
  });

  it('health check without a restart counter (systemd < 235): the main-process start saved by the install is the baseline', () => {
    const s = sandbox();
    const stateDir = join(s.root, 'run', 'emergency-deploy');
    s.set('show_ExecMainStartTimestampMonotonic', '5000000');
    const r = install(s);
    expect(r.code).toBe(0);
    const saved = join(stateDir, `${DEP}.main-start`);
    expect(readFileSync(saved, 'utf8')).toBe('5000000\n');
    expect(r.stdout).toContain(`EWD main_start_saved=${saved}`);
    const check = () =>
      s.run(
        buildHealthCheckScript({
          serviceName: 'file-processor',
          sinceEpochSeconds: 1_795_910_400,
          errorPatterns: ['ERROR'],
          deploymentId: DEP,
          stateDir,
        }),
      );
    s.set('journal', 'Received 2 messages\n');
    expect(check().code).toBe(0);
    // systemd restarted the crashing worker on its own: a later main-process start.
    s.set('show_ExecMainStartTimestampMonotonic', '9000000');
    const after = check();
    expect(after.code).toBe(ScriptExit.Restarted);
    expect(after.stdout).toContain('EWD main_start_baseline=5000000');
  });

  // The restart as systemd does it: the old worker is stopped (its last lines, stamped before the new
  // main process starts) and the new one started. ExecMainStartTimestampMonotonic is the new main
  // process's start in microseconds since boot (systemd.exec(5)/org.freedesktop.systemd1(5): the
  // ExecMain* properties describe the main process), the same clock journalctl's short-monotonic
  // output shows (journalctl(1), OUTPUT OPTIONS).
  const STOPPING = [
    '@199.250000 ERROR could not delete message (the old worker, while it stops)',
    '@199.900000 Successfully processed uploads/old.pdf',
    '@199.999999 Traceback (most recent call last):',
  ];
  const STARTED = ['@200.000001 Received 1 message', '@200.100000 Deleted message 7'];

  it('watch: the old worker’s lines while it stopped count neither as errors nor as health', () => {
    const s = box();
    s.set('journal', `${[...STOPPING, ...STARTED].join('\n')}\n`);
    s.set('show_ExecMainStartTimestampMonotonic', '200000000');
    const r = watch(s, { mainStartBaseline: '200000000' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const w = parseWatchOutput(r.stdout, 3, 3);
    expect(w).toMatchObject({ lines: 2, health: [1, 0, 1], errors: [0, 0, 0] });
    expect(r.stdout).toContain('EWD window=main-start\n');
    expect(r.stdout).toContain('EWD window_before=3\n');
    expect(
      s.calls().some((c) => c.includes('-u file-processor -b --since') && c.endsWith('-o short-monotonic')),
    ).toBe(true);
    // The same journal read from the time before the restart (what the watch did before) fails it.
    s.set('show_ExecMainStartTimestampMonotonic', '0');
    const old = watch(s);
    expect(old.code).toBe(ScriptExit.ErrorPattern);
    expect(old.stdout).toContain('EWD window=since\n');
  });

  it('watch: without a baseline the running main process’s start opens the window; its own errors count', () => {
    const s = box();
    s.set(
      'journal',
      `${[...STOPPING, ...STARTED, '@260.5 ERROR the fix broke too', '  continued'].join('\n')}\n`,
    );
    s.set('show_ExecMainStartTimestampMonotonic', '200000000');
    const r = watch(s);
    expect(r.code).toBe(ScriptExit.ErrorPattern);
    const w = parseWatchOutput(r.stdout, 3, 3);
    expect(w.errors).toEqual([0, 1, 0]);
    expect(w.lines).toBe(4);
    expect(w.excerpts.filter((e) => e.kind === 'error').map((e) => e.line)).toEqual([
      'ERROR the fix broke too',
    ]);
  });

  it('health check: the window opens at the main-process start the install saved, not the runner’s time', () => {
    const s = sandbox();
    boxes.push(s);
    const stateDir = join(s.root, 'run', 'emergency-deploy');
    s.set('show_ExecMainStartTimestampMonotonic', '200000000');
    expect(install(s).code).toBe(0);
    s.set('journal', `${[...STOPPING, ...STARTED].join('\n')}\n`);
    const r = s.run(
      buildHealthCheckScript({
        serviceName: 'file-processor',
        // A runner time well after the restart: the instance's own start decides, so nothing the new
        // worker said between the restart and this time is missed either.
        sinceEpochSeconds: 32_000_000_000,
        errorPatterns: ['ERROR', 'Traceback'],
        deploymentId: DEP,
        stateDir,
      }),
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('EWD main_start_baseline=200000000');
    expect(r.stdout).toContain('EWD window_before=3');
    expect(parseWatchOutput(r.stdout, 0, 2)).toMatchObject({ lines: 2, errors: [0, 0] });
    const since = s.calls().find((c) => c.includes(' -b --since '));
    expect(since).toBeDefined();
    // The coarse --since is the instance's clock at the main-process start (2 s early), not the year 2984.
    expect(since).not.toContain('2984');
  });

  it('service status: 0 when active, Inactive otherwise', () => {
    const s = box();
    expect(s.run(buildServiceStatusScript('file-processor')).code).toBe(0);
    s.set('state', 'inactive\n');
    const r = s.run(buildServiceStatusScript('file-processor'));
    expect(r.code).toBe(ScriptExit.Inactive);
    expect(r.stdout).toBe('EWD service=inactive\n');
  });
});
