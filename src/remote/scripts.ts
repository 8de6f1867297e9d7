// Every shell script that runs on an instance is built here, and only here. Each value that goes
// into a script is first held to a strict pattern (validate) and then single-quoted (shellQuote):
// a value that could break out of its quotes never gets that far, and the quoting is still there
// in case a pattern is ever loosened.
//
// The scripts report through result lines on stdout, `EWD key=value` (parsed by results.ts), and
// through their exit code, which carries the verdict even where the output is lost or empty (the
// emulator returns no output at all). The codes are the ScriptExit constants below.
import { Input } from '../constants.js';
import { InputError } from '../errors.js';
import { ereProblem } from './ere.js';
import {
  DIGITS,
  GREP_PATTERN,
  isPlainAbsolutePath,
  FILE_NAME,
  isPlainS3Key,
  MAX_PATTERN_LENGTH,
  MAX_PATTERNS,
  REGION,
  BUCKET,
  S3_URI,
  SERVICE_NAME,
  SHA256,
} from '../patterns.js';
import { backupPathFor, checkBackupPath as checkRecordBackupPath, DEPLOYMENT_ID_PATTERN } from '../record.js';

/** Prefix of every machine-readable line the scripts print. */
export const RESULT_PREFIX = 'EWD ';

/**
 * Exit codes. 0 is success; 1 and 2 are left to bash and its tools (set -e), 126/127 to the shell,
 * 168/169 to the SSM agent (reboot requests), so ours sit in 10–20.
 */
export const ScriptExit = {
  Ok: 0,
  /** watch / health check: an error pattern appeared in the unit's journal */
  ErrorPattern: 10,
  /** the service is not active (after the restart, or at a check) */
  Inactive: 11,
  /** the service restarted on its own since our restart (a crash loop) */
  Restarted: 12,
  /** worker-dir or target-file does not exist */
  TargetMissing: 13,
  /** the fetched artifact (or the file in place) does not have the expected SHA-256 */
  ChecksumMismatch: 14,
  /** the backup could not be made or verified, or the restored copy differs from the backup */
  BackupFailed: 15,
  /** restore: this deployment's backup is not on the instance */
  BackupMissing: 16,
  /** the artifact could not be fetched (or the aws CLI is missing) */
  FetchFailed: 17,
  /** the target is a symbolic link: replacing it would silently change what it points to */
  UnsafeTarget: 18,
  /** grep rejected a pattern (an ERE the instance's grep does not accept) */
  BadPattern: 19,
  /** restore: no backup, and the file is not the artifact: the install never changed this instance */
  Untouched: 20,
} as const;
export type ScriptExitCode = (typeof ScriptExit)[keyof typeof ScriptExit];

const EXIT_MEANING: Record<number, string> = {
  [ScriptExit.Ok]: 'ok',
  [ScriptExit.ErrorPattern]: 'an error pattern appeared in the journal',
  [ScriptExit.Inactive]: 'the service is not active',
  [ScriptExit.Restarted]: 'the service restarted on its own (crash loop)',
  [ScriptExit.TargetMissing]: 'the worker directory or target file does not exist',
  [ScriptExit.ChecksumMismatch]: 'SHA-256 mismatch (the target was left untouched)',
  [ScriptExit.BackupFailed]: 'the backup could not be made or verified',
  [ScriptExit.BackupMissing]: 'backup missing on the instance',
  [ScriptExit.FetchFailed]: 'the artifact could not be fetched',
  [ScriptExit.UnsafeTarget]: 'the target is a symbolic link',
  [ScriptExit.BadPattern]: "a pattern was rejected by the instance's grep -E",
  [ScriptExit.Untouched]: 'never changed by this deployment (no backup, and the file is not the artifact)',
};

/** What an exit code of these scripts means, for messages. */
export function describeExit(code: number): string {
  return EXIT_MEANING[code] ?? `exit code ${code}`;
}

/** True when the code is one of ours (a verdict), not an SSM or shell failure. */
export function isScriptVerdict(code: number): boolean {
  return code !== 0 && code in EXIT_MEANING;
}

// The patterns are src/inputs.ts's (one copy, src/patterns.ts), checked again here because values
// also come from the record, which is untrusted JSON, and because this is the last gate.

/** Single-quotes a value for bash: the only character needing care inside '' is ' itself. */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new Error('a shell value cannot contain a NUL byte');
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function check(input: string, value: string, pattern: RegExp, what: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new InputError(
      input,
      `must be ${what} to be used on an instance, got ${JSON.stringify(String(value).slice(0, 80))}`,
    );
  }
  return value;
}

function checkServiceName(v: string): string {
  return check(Input.ServiceName, v, SERVICE_NAME, 'a systemd unit name (letters, digits, _ . @ : -)');
}

function checkWorkerDir(v: string): string {
  if (!isPlainAbsolutePath(v)) {
    throw new InputError(
      Input.WorkerDir,
      `must be an absolute path of plain segments to be used on an instance, got ${JSON.stringify(String(v).slice(0, 80))}`,
    );
  }
  return v;
}

function checkTargetFile(v: string): string {
  check(Input.TargetFile, v, FILE_NAME, 'a plain file name (letters, digits, . _ -)');
  if (v === '.' || v === '..') throw new InputError(Input.TargetFile, 'must be a file name, not . or ..');
  return v;
}

function checkDeploymentId(v: string): string {
  return check(Input.DeploymentId, v, DEPLOYMENT_ID_PATTERN, 'a deployment id (letters, digits and dashes)');
}

function checkSha256(v: string): string {
  return check(Input.ArtifactSha256, v, SHA256, 'a SHA-256 in lower-case hex');
}

function checkRegion(v: string): string {
  return check(Input.Region, v, REGION, 'an AWS region name');
}

function checkS3Uri(v: string): string {
  const m = typeof v === 'string' ? S3_URI.exec(v) : null;
  if (!m || !BUCKET.test(m[1]) || !isPlainS3Key(m[2])) {
    throw new InputError(
      Input.Artifact,
      `must be a plain s3://bucket/key to be used on an instance, got ${JSON.stringify(String(v).slice(0, 80))}`,
    );
  }
  return v;
}

function checkPatterns(input: string, patterns: string[]): string[] {
  if (!Array.isArray(patterns) || patterns.length > MAX_PATTERNS) {
    throw new InputError(input, `must be a list of at most ${MAX_PATTERNS} patterns`);
  }
  for (const p of patterns) {
    check(input, p, GREP_PATTERN, `printable ASCII of 1 to ${MAX_PATTERN_LENGTH} characters`);
    const problem = ereProblem(p);
    if (problem !== undefined) throw new InputError(input, `pattern ${JSON.stringify(p)} ${problem}`);
  }
  return patterns;
}

function checkWhole(input: string, n: number, min: number, max: number): number {
  if (!Number.isInteger(n) || n < min || n > max)
    throw new InputError(input, `must be a whole number from ${min} to ${max}, got ${n}`);
  return n;
}

/** The backup path from the record must be exactly the one this deployment would make. */
function checkBackupPath(v: string, workerDir: string, targetFile: string, deploymentId: string): string {
  return checkRecordBackupPath(v, { workerDir, targetFile }, deploymentId, Input.Record);
}

// ---------------------------------------------------------------------------------------------
// Shared bash pieces. Everything below is fixed text; values arrive only as quoted assignments.

// SSM's AWS-RunShellScript may hand the script to sh: re-run it under bash when that happens.
const HEADER = `#!/bin/bash
if [ -z "\${BASH_VERSION:-}" ]; then exec /bin/bash "$0" "$@"; fi
set -euo pipefail
export LC_ALL=C
umask 077`;

const HELPERS = `say() { printf '${RESULT_PREFIX}%s\\n' "$1"; }
# Instance text (journal lines) is shipped short and without control characters.
clean() { tr -d '\\000-\\010\\013-\\037\\177' | cut -c1-160; }
# The reason line is kept short: with the journal after it, it must fit the fan-out's 2,500
# characters of output (SSM agent agent/contracts/plugin.go keeps stdout's head).
fail() { say "error=\${2:0:200}"; printf 'emergency-deploy: %s\\n' "$2" >&2; exit "$1"; }
# A failure with the unit's journal: the verdict lines (error, service) first, the journal after,
# since the fan-out's output is cut from its end.
fail_with_journal() {
  # The restart counter and main start too: a crash loop is judged by them, failed or not.
  say "error=\${2:0:200}"; say "service=$3"; report_service; journal_tail
  printf 'emergency-deploy: %s\\n' "$2" >&2; exit "$1"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
journal_tail() {
  journalctl -u "$svc" -n 30 --no-pager -o short-iso 2>/dev/null | tail -n 30 | clean | while IFS= read -r line; do say "journal=$line"; done || true
}
service_fact() { systemctl show -p "$1" "$svc" 2>/dev/null | sed -n "s/^$1=//p" | head -n 1 || true; }
report_service() {
  local restarts main_start
  restarts=$(service_fact NRestarts)
  main_start=$(service_fact ExecMainStartTimestampMonotonic)
  say "restarts=\${restarts:-unknown}"
  say "main_start=\${main_start:-unknown}"
}
# Waits (bounded) for the unit to be active, then for it to stay active through the settle time.
wait_active() {
  local waited=0 state=''
  while :; do
    state=$(systemctl is-active "$svc" 2>/dev/null) || true
    if [ "$state" = active ]; then break; fi
    if [ "$waited" -ge "$wait_seconds" ]; then
      fail_with_journal ${ScriptExit.Inactive} "$svc is \${state:-unknown} \${wait_seconds}s after the restart" "\${state:-unknown}"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  if [ "$settle_seconds" -gt 0 ]; then
    sleep "$settle_seconds"
    state=$(systemctl is-active "$svc" 2>/dev/null) || true
    if [ "$state" != active ]; then
      fail_with_journal ${ScriptExit.Inactive} "$svc stopped within \${settle_seconds}s of starting (now \${state:-unknown})" "\${state:-unknown}"
    fi
  fi
  say "service=active"
  report_service
}
restart_and_wait() {
  say "restarted_at=$(date +%s)"
  if ! systemctl restart "$svc"; then
    fail_with_journal ${ScriptExit.Inactive} "systemctl restart $svc failed" failed
  fi
  wait_active
}
# Epoch microseconds when the unit's main process started, or empty when not known. systemd gives
# the start in CLOCK_MONOTONIC microseconds; /proc/uptime (centiseconds) maps it onto the epoch, so
# the estimate is at most 10 ms late. Whole seconds were too coarse: a restart right after the mv
# fell in the same second as the file's ctime and a healthy worker was restarted again.
main_started_us() {
  local mono up now
  mono=$(service_fact ExecMainStartTimestampMonotonic)
  case "$mono" in ''|0|*[!0-9]*) return 0 ;; esac
  up=$(cut -d' ' -f1 /proc/uptime 2>/dev/null | tr -d .) || true
  case "$up" in ''|*[!0-9]*) return 0 ;; esac
  now=$(date +%s%6N)
  case "$now" in *[!0-9]*) return 0 ;; esac
  echo $((now - up * 10000 + mono))
}
# The file's ctime (when it was put in place) in epoch microseconds, or empty when not known.
placed_us() {
  local z
  z=$(stat -c %z "$target" 2>/dev/null) || return 0
  z=$(date -d "$z" +%s%6N 2>/dev/null) || return 0
  case "$z" in ''|*[!0-9]*) return 0 ;; esac
  echo "$z"
}
# The file is already what it should be: restart only when the running process predates it (a
# previous attempt may have died between the replace and the restart) or the unit is not active.
# The 20 ms margin covers the start estimate's 10 ms: a skip means the process surely started after.
ensure_running_current() {
  local state started placed
  state=$(systemctl is-active "$svc" 2>/dev/null) || true
  started=$(main_started_us)
  placed=$(placed_us)
  if [ "$state" = active ] && [ -n "$started" ] && [ -n "$placed" ] && [ "$started" -gt $((placed + 20000)) ]; then
    say "restart=skipped"
    wait_active
  else
    say "restart=needed"
    restart_and_wait
  fi
}`;

const TARGET_CHECKS = `if [ ! -d "$dir" ]; then fail ${ScriptExit.TargetMissing} "worker directory $dir does not exist"; fi
if [ -L "$target" ]; then fail ${ScriptExit.UnsafeTarget} "$target is a symbolic link; refusing to replace it"; fi`;

function assignments(values: [string, string][]): string {
  return values.map(([name, value]) => `${name}=${shellQuote(value)}`).join('\n');
}

export interface InstallScriptParams {
  deploymentId: string;
  serviceName: string;
  workerDir: string;
  targetFile: string;
  artifactS3Uri: string;
  sha256: string;
  region: string;
  /** How long to wait for `systemctl is-active` after the restart (default 60 s). */
  restartWaitSeconds?: number;
  /** How long the unit must stay active after it first is (default 5 s): catches an instant crash. */
  settleSeconds?: number;
  /** Where the restart's main-process start is left for the health check (default STATE_DIR). */
  stateDir?: string;
}

/** Instance-side state of this action: only the main-process start of each deployment's restart. */
export const STATE_DIR = '/run/emergency-deploy';

/** The file where the install leaves its restart's main-process start for the health check. */
export function mainStartFile(deploymentId: string, stateDir = STATE_DIR): string {
  return `${checkWorkerDir(stateDir)}/${checkDeploymentId(deploymentId)}.main-start`;
}

/**
 * Backs the target up (once per deployment, verified byte for byte), fetches the artifact next to
 * it, verifies its SHA-256, replaces the target atomically, restarts the service and waits for it.
 * A re-run of the same deployment keeps the first backup (the original file) and, when the target
 * already has the new checksum, only makes sure the service runs it.
 */
export function buildInstallScript(p: InstallScriptParams): string {
  const deploymentId = checkDeploymentId(p.deploymentId);
  const workerDir = checkWorkerDir(p.workerDir);
  const targetFile = checkTargetFile(p.targetFile);
  const values: [string, string][] = [
    ['deployment', deploymentId],
    ['svc', checkServiceName(p.serviceName)],
    ['dir', workerDir],
    ['file', targetFile],
    ['backup', backupPathFor(workerDir, targetFile, deploymentId)],
    ['uri', checkS3Uri(p.artifactS3Uri)],
    ['want', checkSha256(p.sha256)],
    ['region', checkRegion(p.region)],
    ['wait_seconds', String(checkWhole('restart-wait-seconds', p.restartWaitSeconds ?? 60, 1, 3600))],
    ['settle_seconds', String(checkWhole('settle-seconds', p.settleSeconds ?? 5, 0, 300))],
    ['state_dir', checkWorkerDir(p.stateDir ?? STATE_DIR)],
    ['main_start_file', mainStartFile(deploymentId, p.stateDir)],
  ];
  return `${HEADER}
# emergency-deploy install, deployment $deployment
${assignments(values)}
target="$dir/$file"
tmp=''
partial=''
trap 'rm -f -- "$tmp" "$partial"' EXIT
${HELPERS}
# Where the rollout's health check finds this restart's main-process start (tmpfs: gone at reboot).
# systemd before 235 (Amazon Linux 2) has no NRestarts; a later start time is how a crash loop shows.
remember_main_start() {
  local mono
  mono=$(service_fact ExecMainStartTimestampMonotonic)
  case "$mono" in ''|0|*[!0-9]*) return 0 ;; esac
  if mkdir -p "$state_dir" 2>/dev/null && printf '%s\n' "$mono" >"$main_start_file" 2>/dev/null; then
    say "main_start_saved=$main_start_file"
  fi
}

${TARGET_CHECKS}
if [ ! -f "$target" ]; then fail ${ScriptExit.TargetMissing} "target file $target does not exist"; fi
before=$(sha "$target")
say "sha256_before=$before"

# The backup: made once per deployment, never overwritten (a re-run must keep the original file).
if [ -e "$backup" ] || [ -L "$backup" ]; then
  if [ -L "$backup" ] || [ ! -f "$backup" ]; then fail ${ScriptExit.BackupFailed} "$backup exists but is not a regular file"; fi
  say "backup_state=kept"
else
  # Copied under a temporary name and verified against the checksum read above (a crash never
  # leaves a partial backup that a re-run would keep), then hard-linked to the backup name. ln
  # refuses a name that exists, so a concurrent run of this deployment that got there first keeps
  # its backup, the original file, where a rename would have replaced it with a copy of the new one.
  partial=$(mktemp "$dir/.$file.backup-partial.XXXXXX")
  cp -p "$target" "$partial"
  if [ "$(sha "$partial")" != "$before" ]; then
    fail ${ScriptExit.BackupFailed} "$target changed while it was being backed up (another run of this deployment?); nothing replaced"
  fi
  if ln -- "$partial" "$backup" 2>/dev/null; then
    if ! cmp -s "$target" "$backup"; then fail ${ScriptExit.BackupFailed} "$backup differs from $target"; fi
    say "backup_state=created"
  elif [ -f "$backup" ] && [ ! -L "$backup" ]; then
    say "backup_state=kept"
  else
    fail ${ScriptExit.BackupFailed} "could not create $backup"
  fi
  rm -f -- "$partial"
  partial=''
fi
say "backup=$backup"
say "backup_sha256=$(sha "$backup")"

if [ "$before" = "$want" ]; then
  say "sha256_after=$before"
  say "result=already"
  ensure_running_current
  remember_main_start
  exit 0
fi

# Fetch next to the target (same filesystem, so the rename below is atomic), verify, replace.
if ! command -v aws >/dev/null 2>&1; then fail ${ScriptExit.FetchFailed} "the aws CLI is not installed on this instance"; fi
tmp=$(mktemp "$dir/.$file.new.XXXXXX")
if ! aws s3 cp --only-show-errors --region "$region" "$uri" "$tmp" >&2; then
  fail ${ScriptExit.FetchFailed} "could not fetch $uri; $target left untouched"
fi
got=$(sha "$tmp")
say "sha256_fetched=$got"
if [ "$got" != "$want" ]; then
  # Both sums are on the sha256_fetched line and in the record: the reason line names their heads.
  fail ${ScriptExit.ChecksumMismatch} "checksum mismatch: expected \${want:0:12}..., fetched \${got:0:12}...; $target left untouched"
fi
chown --reference="$target" "$tmp"
chmod --reference="$target" "$tmp"
mv -f "$tmp" "$target"
tmp=''
after=$(sha "$target")
say "sha256_after=$after"
if [ "$after" != "$want" ]; then fail ${ScriptExit.ChecksumMismatch} "$target has $after after the replace, expected $want"; fi
say "result=installed"
restart_and_wait
remember_main_start
`;
}

export interface WatchScriptParams {
  serviceName: string;
  /** Journal entries from this moment (epoch seconds, instance clock preferred) are read. */
  sinceEpochSeconds: number;
  healthPatterns: string[];
  errorPatterns: string[];
  /** Matching lines shipped per pattern (default 2; 0 ships counts only). */
  maxExcerptLines?: number;
  /** NRestarts right after our restart (default 0: a manual restart resets the counter). */
  restartsBaseline?: number;
  /** ExecMainStartTimestampMonotonic right after our restart: any change means a restart. */
  mainStartBaseline?: string;
  /** Without mainStartBaseline: the deployment whose install left it on the instance. */
  deploymentId?: string;
  stateDir?: string;
}

/**
 * One poll of a restarted service: counts each pattern in the unit's journal since the restart,
 * ships a few matching lines, and reads `systemctl is-active` and the restart counter. The exit
 * code is the verdict: Ok, Inactive, Restarted, ErrorPattern (in that order of precedence).
 */
export function buildWatchScript(p: WatchScriptParams): string {
  const health = checkPatterns(Input.HealthPatterns, p.healthPatterns);
  const errors = checkPatterns(Input.ErrorPatterns, p.errorPatterns);
  const excerpts = checkWhole('max-excerpt-lines', p.maxExcerptLines ?? 2, 0, 5);
  const since = checkWhole('since', Math.floor(p.sinceEpochSeconds), 0, 32_503_680_000);
  const mainStart =
    p.mainStartBaseline === undefined ? '' : check('main-start', p.mainStartBaseline, DIGITS, 'digits');
  const values: [string, string][] = [
    ['svc', checkServiceName(p.serviceName)],
    ['since_epoch', String(since)],
    ['restarts_baseline', String(checkWhole('restarts-baseline', p.restartsBaseline ?? 0, 0, 1_000_000_000))],
    ['main_start_baseline', mainStart],
    ['main_start_file', p.deploymentId === undefined ? '' : mainStartFile(p.deploymentId, p.stateDir)],
  ];
  // One call per pattern, generated here: no arrays (bash 4.2 with set -u), no pattern files.
  const counts = [
    ...health.map((pat, i) => `count health ${i} ${shellQuote(pat)} ${Math.min(excerpts, 1)}`),
    ...errors.map((pat, i) => `count error ${i} ${shellQuote(pat)} ${excerpts}`),
  ];
  return `${HEADER}
# emergency-deploy watch
${assignments(values)}
log=$(mktemp)
trap 'rm -f -- "$log" "$log.dropped"' EXIT
${HELPERS}

# The window opens at the new main process's start, not at a time taken before the restart: the old
# worker's lines while it stopped (up to the unit's stop timeout) are not the fix's. The start is
# ExecMainStartTimestampMonotonic (microseconds since boot): the one taken right after our restart
# (passed in, or saved by the install), else the running process's own. The journal is read in
# monotonic form for this boot and cut at that start to the microsecond; a coarse --since (the
# instance's own clock, 2 s early) only bounds how much is read.
if [ -z "$main_start_baseline" ] && [ -n "$main_start_file" ] && [ -r "$main_start_file" ]; then
  main_start_baseline=$(head -c 32 "$main_start_file" | tr -cd '0-9')
  say "main_start_baseline=\${main_start_baseline:-unreadable}"
fi
window_mono=$main_start_baseline
case "$window_mono" in ''|0|*[!0-9]*) window_mono=$(service_fact ExecMainStartTimestampMonotonic) ;; esac
case "$window_mono" in ''|0|*[!0-9]*) window_mono='' ;; esac
window_epoch=''
if [ -n "$window_mono" ]; then
  up=$(cut -d' ' -f1 /proc/uptime 2>/dev/null | cut -d. -f1) || true
  case "$up" in ''|*[!0-9]*) ;; *) window_epoch=$(( $(date +%s) - up + window_mono / 1000000 - 2 )) ;; esac
fi
if [ -n "$window_mono" ]; then
  # Never later than the caller's time: that one was taken before the restart.
  if [ -z "$window_epoch" ] || [ "$window_epoch" -gt "$since_epoch" ]; then window_epoch=$since_epoch; fi
  since=$(date -d "@$window_epoch" '+%Y-%m-%d %H:%M:%S')
  # short-monotonic lines are "[ SECONDS.MICROS] host ident[pid]: message"; continuation lines of a
  # multi-line entry are indented and follow their entry's fate; journalctl's "-- ..." notes go.
  journalctl -u "$svc" -b --since "$since" --no-pager -o short-monotonic 2>/dev/null \\
    | awk -v start="$window_mono" '
        /^-- / { next }
        match($0, /^\\[ *[0-9]+\\.[0-9]+\\]/) {
          stamp = substr($0, 2, RLENGTH - 2); gsub(/ /, "", stamp); split(stamp, p, ".")
          us = p[1] * 1000000 + substr(p[2] "000000", 1, 6)
          keep = (us >= start + 0)
          if (!keep) { dropped++; next }
          rest = substr($0, RLENGTH + 2); i = index(rest, ": ")
          print (i > 0 ? substr(rest, i + 2) : rest); next
        }
        { if (keep) print; else dropped++ }
        END { printf "%d\\n", dropped > "/dev/stderr" }' >"$log" 2>"$log.dropped" || true
  say "window=main-start"
  say "window_mono=$window_mono"
  say "window_before=$(head -c 20 "$log.dropped" 2>/dev/null | tr -cd '0-9')"
  rm -f -- "$log.dropped"
else
  # No main-process start known (the unit reports none): the caller's time, taken before the restart.
  since=$(date -d "@$since_epoch" '+%Y-%m-%d %H:%M:%S')
  journalctl -u "$svc" --since "$since" --no-pager -o cat >"$log" 2>/dev/null || true
  say "window=since"
fi
say "lines=$(wc -l <"$log" | tr -d ' ')"
error_hits=0
bad_pattern=0
# count KIND INDEX PATTERN EXCERPTS: prints KIND.INDEX=<count> and up to EXCERPTS matching lines.
count() {
  local n=''
  n=$(grep -E -c -e "$3" "$log" 2>/dev/null) || true
  case "$n" in
    ''|*[!0-9]*) say "$1.$2=invalid"; bad_pattern=1; return 0 ;;
  esac
  say "$1.$2=$n"
  if [ "$n" -gt 0 ] && [ "$1" = error ]; then error_hits=$((error_hits + n)); fi
  # Kept for excerpt (names are ours: KIND and INDEX); the pattern is not written out twice.
  printf -v "pattern_$1_$2" '%s' "$3"
  return 0
}
# excerpt KIND INDEX EXCERPTS: up to EXCERPTS lines matching count's pattern, printed after every
# count and service fact, so a cut output (2,500 characters in the fan-out) loses excerpts, not
# verdicts.
excerpt() {
  local name="pattern_$1_$2"
  if [ "$3" -gt 0 ] && [ -n "\${!name+set}" ]; then
    { grep -E -m "$3" -e "\${!name}" "$log" 2>/dev/null || true; } | clean | while IFS= read -r line; do say "excerpt.$1.$2=$line"; done
  fi
  return 0
}
${counts.join('\n')}

state=$(systemctl is-active "$svc" 2>/dev/null) || true
say "service=\${state:-unknown}"
restarts=$(service_fact NRestarts)
main_start=$(service_fact ExecMainStartTimestampMonotonic)
say "restarts=\${restarts:-unknown}"
say "main_start=\${main_start:-unknown}"
restarted=0
case "$restarts" in
  ''|*[!0-9]*) ;;
  *) if [ "$restarts" -gt "$restarts_baseline" ]; then restarted=1; fi ;;
esac
if [ -n "$main_start_baseline" ] && [ -n "$main_start" ] && [ "$main_start" != "$main_start_baseline" ]; then restarted=1; fi
${[
  ...health.map((_, i) => `excerpt health ${i} ${Math.min(excerpts, 1)}`),
  ...errors.map((_, i) => `excerpt error ${i} ${excerpts}`),
].join('\n')}

code=${ScriptExit.Ok}
if [ "$state" != active ]; then code=${ScriptExit.Inactive}
elif [ "$restarted" -eq 1 ]; then code=${ScriptExit.Restarted}
elif [ "$error_hits" -gt 0 ]; then code=${ScriptExit.ErrorPattern}
elif [ "$bad_pattern" -eq 1 ]; then code=${ScriptExit.BadPattern}
fi
if [ "$code" -ne 0 ]; then
  journalctl -u "$svc" -n 10 --no-pager -o short-iso 2>/dev/null | tail -n 10 | clean | while IFS= read -r line; do say "tail=$line"; done || true
fi
exit "$code"
`;
}

export interface HealthCheckScriptParams {
  serviceName: string;
  sinceEpochSeconds: number;
  errorPatterns: string[];
  restartsBaseline?: number;
  /** The deployment whose install saved the restart's main-process start on each instance. */
  deploymentId?: string;
  stateDir?: string;
}

/** The rollout's post-batch check: active, not restarted, no error pattern since the restart. */
export function buildHealthCheckScript(p: HealthCheckScriptParams): string {
  return buildWatchScript({
    serviceName: p.serviceName,
    sinceEpochSeconds: p.sinceEpochSeconds,
    healthPatterns: [],
    errorPatterns: p.errorPatterns,
    maxExcerptLines: 1,
    restartsBaseline: p.restartsBaseline,
    deploymentId: p.deploymentId,
    stateDir: p.stateDir,
  });
}

/** Is the unit active? Exit Ok when it is, Inactive when not; prints `service=<state>`. */
export function buildServiceStatusScript(serviceName: string): string {
  return `${HEADER}
# emergency-deploy service status
svc=${shellQuote(checkServiceName(serviceName))}
state=$(systemctl is-active "$svc" 2>/dev/null) || true
printf '${RESULT_PREFIX}service=%s\\n' "\${state:-unknown}"
if [ "$state" = active ]; then exit ${ScriptExit.Ok}; fi
exit ${ScriptExit.Inactive}
`;
}

export interface RestoreScriptParams {
  deploymentId: string;
  serviceName: string;
  workerDir: string;
  targetFile: string;
  /** From the record (untrusted): must be exactly backupPathFor(workerDir, targetFile, deploymentId). */
  backupPath: string;
  /**
   * The artifact's SHA-256, when known: an instance without the backup whose file is not the
   * artifact was tagged but never changed (the install backs up before it replaces anything).
   */
  artifactSha256?: string;
  region?: string;
  restartWaitSeconds?: number;
  settleSeconds?: number;
}

/**
 * Rollback of one instance: puts this deployment's backup back in place atomically and restarts
 * the service. Idempotent (an instance already restored only has its service checked), and the
 * backup is never deleted.
 */
export function buildRestoreScript(p: RestoreScriptParams): string {
  const deploymentId = checkDeploymentId(p.deploymentId);
  const workerDir = checkWorkerDir(p.workerDir);
  const targetFile = checkTargetFile(p.targetFile);
  if (p.region !== undefined) checkRegion(p.region);
  const values: [string, string][] = [
    ['deployment', deploymentId],
    ['svc', checkServiceName(p.serviceName)],
    ['dir', workerDir],
    ['file', targetFile],
    ['backup', checkBackupPath(p.backupPath, workerDir, targetFile, deploymentId)],
    ['artifact_sha', p.artifactSha256 === undefined ? '' : checkSha256(p.artifactSha256)],
    ['wait_seconds', String(checkWhole('restart-wait-seconds', p.restartWaitSeconds ?? 60, 1, 3600))],
    ['settle_seconds', String(checkWhole('settle-seconds', p.settleSeconds ?? 5, 0, 300))],
  ];
  return `${HEADER}
# emergency-deploy restore, deployment $deployment
${assignments(values)}
target="$dir/$file"
tmp=''
trap 'rm -f -- "$tmp"' EXIT
${HELPERS}

${TARGET_CHECKS}
if [ -L "$backup" ] || [ ! -f "$backup" ]; then
  # The install makes the backup before it replaces anything: without one, the file is the
  # original unless it is the artifact (the backup was lost after the replace).
  if [ ! -f "$target" ]; then
    say "sha256_before=missing"; say "restore=missing"
    fail ${ScriptExit.BackupMissing} "backup missing: $backup is not on this instance, and neither is $target"
  fi
  now_sum=$(sha "$target")
  say "sha256_before=$now_sum"
  if [ -z "$artifact_sha" ]; then
    say "restore=missing"
    fail ${ScriptExit.BackupMissing} "backup missing: $backup is not on this instance, and the artifact's checksum is not known to tell whether $target was replaced"
  fi
  if [ "$now_sum" = "$artifact_sha" ]; then
    say "restore=missing"
    fail ${ScriptExit.BackupMissing} "backup missing: $target is the artifact but $backup is not on this instance; nothing to restore from"
  fi
  say "restore=untouched"
  printf 'emergency-deploy: %s\n' "no backup and $target is not the artifact: never changed by this deployment, left as it is" >&2
  exit ${ScriptExit.Untouched}
fi
backup_sum=$(sha "$backup")
say "backup=$backup"
say "backup_sha256=$backup_sum"
if [ -f "$target" ]; then say "sha256_before=$(sha "$target")"; else say "sha256_before=missing"; fi

if [ -f "$target" ] && cmp -s "$backup" "$target"; then
  say "sha256_after=$backup_sum"
  say "restore=already"
  ensure_running_current
  exit 0
fi

# A verified copy of the backup next to the target, renamed over it: the old file or the restored
# one, never half. The backup itself stays.
tmp=$(mktemp "$dir/.$file.restore.XXXXXX")
cp -p "$backup" "$tmp"
if ! cmp -s "$backup" "$tmp"; then fail ${ScriptExit.BackupFailed} "the copy of $backup differs from it; $target left untouched"; fi
mv -f "$tmp" "$target"
tmp=''
after=$(sha "$target")
say "sha256_after=$after"
if [ "$after" != "$backup_sum" ] || ! cmp -s "$backup" "$target"; then
  fail ${ScriptExit.BackupFailed} "$target differs from $backup after the restore"
fi
say "restore=restored"
restart_and_wait
`;
}
