// Parses the `EWD key=value` lines the scripts of scripts.ts print. Everything here came from an
// instance: values are cut short, stripped of control characters, and numbers are only numbers
// when they are plain digits. Renderers still escape every value.
import { RESULT_PREFIX } from './scripts.js';

const MAX_VALUE = 300;

export type ResultLines = Map<string, string[]>;

/** Every result line, grouped by key, in order (a key may repeat: journal lines, excerpts). */
export function parseResultLines(stdout: string): ResultLines {
  const lines: ResultLines = new Map();
  for (const raw of stdout.split(/\r?\n/)) {
    if (!raw.startsWith(RESULT_PREFIX)) continue;
    const body = raw.slice(RESULT_PREFIX.length);
    const eq = body.indexOf('=');
    if (eq <= 0) continue;
    const key = body.slice(0, eq);
    if (!/^[a-z0-9_.]{1,64}$/.test(key)) continue;
    const value = sanitize(body.slice(eq + 1));
    const list = lines.get(key);
    if (list) list.push(value);
    else lines.set(key, [value]);
  }
  return lines;
}

/** Control characters dropped, cut to a readable length. */
export function sanitize(text: string, max = MAX_VALUE): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

function last(lines: ResultLines, key: string): string | undefined {
  const list = lines.get(key);
  return list && list.length > 0 ? list[list.length - 1] : undefined;
}

function whole(value: string | undefined): number | undefined {
  return value !== undefined && /^[0-9]{1,15}$/.test(value) ? Number(value) : undefined;
}

function sha(value: string | undefined): string | undefined {
  return value !== undefined && /^[0-9a-f]{64}$/.test(value) ? value : undefined;
}

function digits(value: string | undefined): string | undefined {
  return value !== undefined && /^[0-9]{1,20}$/.test(value) ? value : undefined;
}

/** Facts about the unit after a restart (install and restore print them the same way). */
export interface ServiceFacts {
  /** `systemctl is-active` as printed ('active', 'failed', …) */
  service?: string;
  /** NRestarts (absent where systemd does not have the property) */
  restarts?: number;
  /** ExecMainStartTimestampMonotonic: changes whenever the main process starts again */
  mainStart?: string;
  /** Instance clock (epoch seconds) just before `systemctl restart` */
  restartedAt?: number;
  /** 'skipped' when the file was already in place and the running process already had it */
  restart?: 'skipped' | 'needed';
  /** The unit's last journal lines, printed when it did not come up */
  journal: string[];
  /** The script's own error line, when it failed */
  error?: string;
}

function serviceFacts(lines: ResultLines): ServiceFacts {
  const restart = last(lines, 'restart');
  return {
    service: last(lines, 'service'),
    restarts: whole(last(lines, 'restarts')),
    mainStart: digits(last(lines, 'main_start')),
    restartedAt: whole(last(lines, 'restarted_at')),
    restart: restart === 'skipped' || restart === 'needed' ? restart : undefined,
    journal: lines.get('journal') ?? [],
    error: last(lines, 'error'),
  };
}

export interface InstallReport extends ServiceFacts {
  /** installed: the file was replaced; already: it had the new checksum before we came */
  result?: 'installed' | 'already';
  backupPath?: string;
  /** created by this run, or kept from an earlier run of the same deployment */
  backupState?: 'created' | 'kept';
  backupSha256?: string;
  sha256Before?: string;
  sha256Fetched?: string;
  sha256After?: string;
}

export function parseInstallOutput(stdout: string): InstallReport {
  const lines = parseResultLines(stdout);
  const result = last(lines, 'result');
  const backupState = last(lines, 'backup_state');
  return {
    ...serviceFacts(lines),
    result: result === 'installed' || result === 'already' ? result : undefined,
    backupPath: last(lines, 'backup'),
    backupState: backupState === 'created' || backupState === 'kept' ? backupState : undefined,
    backupSha256: sha(last(lines, 'backup_sha256')),
    sha256Before: sha(last(lines, 'sha256_before')),
    sha256Fetched: sha(last(lines, 'sha256_fetched')),
    sha256After: sha(last(lines, 'sha256_after')),
  };
}

export interface RestoreReport extends ServiceFacts {
  /**
   * restored: the backup was put back; already: the target equalled it; missing: no backup;
   * untouched: no backup and the target is not the artifact (never changed)
   */
  restore?: 'restored' | 'already' | 'missing' | 'untouched';
  backupPath?: string;
  backupSha256?: string;
  /** 'missing' when the target file was not there */
  sha256Before?: string;
  sha256After?: string;
}

export function parseRestoreOutput(stdout: string): RestoreReport {
  const lines = parseResultLines(stdout);
  const restore = last(lines, 'restore');
  const before = last(lines, 'sha256_before');
  return {
    ...serviceFacts(lines),
    restore:
      restore === 'restored' || restore === 'already' || restore === 'missing' || restore === 'untouched'
        ? restore
        : undefined,
    backupPath: last(lines, 'backup'),
    backupSha256: sha(last(lines, 'backup_sha256')),
    sha256Before: before === 'missing' ? 'missing' : sha(before),
    sha256After: sha(last(lines, 'sha256_after')),
  };
}

export interface Excerpt {
  kind: 'health' | 'error';
  /** index of the pattern in its list */
  index: number;
  line: string;
}

export interface WatchReport {
  /** journal lines read since the restart */
  lines?: number;
  /** per health pattern: its count, undefined when not reported (empty output) */
  health: (number | undefined)[];
  /** per error pattern */
  errors: (number | undefined)[];
  /** patterns the instance's grep rejected */
  invalid: { kind: 'health' | 'error'; index: number }[];
  excerpts: Excerpt[];
  service?: string;
  restarts?: number;
  mainStart?: string;
  /**
   * Where the journal was read from: `main-start` (the new main process's start, to the
   * microsecond) or `since` (a time taken before the restart: the unit reported no start).
   */
  window?: 'main-start' | 'since';
  /** journal lines before the main process's start that were left out (the old worker stopping) */
  windowBefore?: number;
  /** last journal lines, printed when the check failed */
  tail: string[];
  /** false when the output had no result line at all (an emulator, or lost output) */
  reported: boolean;
}

export function parseWatchOutput(stdout: string, healthCount: number, errorCount: number): WatchReport {
  const lines = parseResultLines(stdout);
  const invalid: WatchReport['invalid'] = [];
  const counts = (kind: 'health' | 'error', n: number) =>
    Array.from({ length: n }, (_, i) => {
      const v = last(lines, `${kind}.${i}`);
      if (v === 'invalid') invalid.push({ kind, index: i });
      return whole(v);
    });
  const health = counts('health', healthCount);
  const errors = counts('error', errorCount);
  const excerpts: Excerpt[] = [];
  for (const [key, values] of lines) {
    const m = /^excerpt\.(health|error)\.([0-9]{1,2})$/.exec(key);
    if (!m) continue;
    for (const line of values)
      excerpts.push({ kind: m[1] as Excerpt['kind'], index: Number(m[2]), line: sanitize(line, 160) });
  }
  return {
    lines: whole(last(lines, 'lines')),
    health,
    errors,
    invalid,
    excerpts,
    service: last(lines, 'service'),
    restarts: whole(last(lines, 'restarts')),
    mainStart: digits(last(lines, 'main_start')),
    window: windowOf(last(lines, 'window')),
    windowBefore: whole(last(lines, 'window_before')),
    tail: lines.get('tail') ?? [],
    reported: lines.size > 0,
  };
}

function windowOf(v: string | undefined): WatchReport['window'] {
  return v === 'main-start' || v === 'since' ? v : undefined;
}
