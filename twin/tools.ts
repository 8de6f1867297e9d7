// What twin/bin/systemctl and twin/bin/journalctl do, on one simulated instance: exactly the verbs
// and options the action's scripts use (src/remote/scripts.ts), with systemd's output formats and
// exit codes. Anything else is refused with a message naming it, so a new use in the scripts shows
// up as a failure here rather than as a silent pass.
import type { JournalEntry, SimInstance } from './instance.js';

export interface ToolResult {
  stdout: string;
  stderr?: string;
  exit: number;
}

/** systemctl is-active | restart | start | stop | show [-p P[,P]]... [--value] UNIT */
export async function systemctl(inst: SimInstance, args: string[]): Promise<ToolResult> {
  const props: string[] = [];
  let value = false;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-p' || a === '--property') props.push(...(args[++i] ?? '').split(','));
    else if (a.startsWith('--property=')) props.push(...a.slice(11).split(','));
    else if (a === '-P') {
      props.push(...(args[++i] ?? '').split(','));
      value = true;
    } else if (a === '--value') value = true;
    else if (a === '--no-pager' || a === '-q' || a === '--quiet') continue;
    else rest.push(a);
  }
  const [verb, unitName] = rest;
  if (!verb) return { stdout: '', stderr: 'systemctl (twin): no verb\n', exit: 1 };
  const known = unitName !== undefined && inst.isUnit(unitName);
  switch (verb) {
    case 'is-active': {
      // systemd: prints the state; exit 0 only when active, 3 otherwise (also for unknown units).
      const state = known ? inst.activeState() : 'inactive';
      return { stdout: `${state}\n`, exit: state === 'active' ? 0 : 3 };
    }
    case 'restart':
    case 'start':
    case 'stop': {
      if (!known)
        return {
          stdout: '',
          stderr: `Failed to ${verb} ${unitName}.service: Unit ${unitName}.service not found.\n`,
          exit: 5,
        };
      if (verb === 'restart') await inst.restart();
      else if (verb === 'start') inst.start();
      else await inst.stop();
      // Type=simple: the job is done once the process is forked; a start refused by the start limit fails.
      return inst.activeState() === 'failed' && verb !== 'stop'
        ? { stdout: '', stderr: `Job for ${unitName}.service failed.\n`, exit: 1 }
        : { stdout: '', exit: 0 };
    }
    case 'show': {
      const names = props.filter((p) => p !== '');
      const lines = names.map((p) => {
        // Unknown units still answer show with defaults (systemd prints the properties of a not-found unit).
        const v = known ? (inst.property(p) ?? '') : p === 'ActiveState' ? 'inactive' : '';
        return value ? v : `${p}=${v}`;
      });
      return { stdout: lines.length ? `${lines.join('\n')}\n` : '', exit: 0 };
    }
    default:
      return { stdout: '', stderr: `systemctl (twin): verb ${verb} is not simulated\n`, exit: 1 };
  }
}

/**
 * Parses what `journalctl --since` accepts (systemd.time(7)): "YYYY-MM-DD HH:MM:SS[.ffffff]",
 * "YYYY-MM-DD", "@EPOCH", the format systemd prints ("Tue 2026-12-01 10:32:37 UTC"), ISO 8601 with
 * a T and an offset, "now", "today". Local time unless a zone is given. Microseconds, or undefined.
 */
export function parseSince(raw: string): number | undefined {
  const s = raw.trim();
  if (s === 'now') return Date.now() * 1000;
  if (s === 'today') {
    const d = new Date();
    d.setHours(0, 0, 0, 0);
    return d.getTime() * 1000;
  }
  const epoch = /^@(\d+(?:\.\d+)?)$/.exec(s);
  if (epoch) return Math.round(Number(epoch[1]) * 1e6);
  const m =
    /^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]* )?(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?(?: ?(UTC|Z|[+-]\d{2}:?\d{2}))?$/.exec(
      s,
    );
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', zone] = m;
  const micros = Number(frac.padEnd(6, '0') || '0');
  let ms: number;
  if (zone) {
    const off = zone === 'UTC' || zone === 'Z' ? '+00:00' : zone.replace(/^([+-]\d{2}):?(\d{2})$/, '$1:$2');
    ms = Date.parse(`${y}-${mo}-${d}T${h.padStart(2, '0')}:${mi}:${sec.padStart(2, '0')}${off}`);
  } else {
    ms = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec)).getTime();
  }
  if (Number.isNaN(ms)) return undefined;
  return ms * 1000 + micros;
}

function isoLocal(usec: number): string {
  const d = new Date(usec / 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${sign}${p(Math.floor(Math.abs(off) / 60))}${p(Math.abs(off) % 60)}`;
}

function shortLocal(usec: number): string {
  const d = new Date(usec / 1000);
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][
    d.getMonth()
  ];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${mon} ${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** journalctl [-u UNIT] [-b] [--since T] [--until T] [-n N] [--no-pager] [-q] [-o cat|short|short-iso|short-monotonic|json] [_PID=N]... */
export function journalctl(inst: SimInstance, args: string[]): ToolResult {
  let unit: string | undefined;
  let since: number | undefined;
  let until: number | undefined;
  let lines: number | undefined;
  let output = 'short';
  const pids = new Set<number>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const takeValue = (flag: string): string | undefined => {
      if (a === flag) return args[++i];
      if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1);
      return undefined;
    };
    let v: string | undefined;
    if ((v = takeValue('-u') ?? takeValue('--unit')) !== undefined) unit = v;
    else if ((v = takeValue('-S') ?? takeValue('--since')) !== undefined) {
      since = parseSince(v);
      if (since === undefined) return { stdout: '', stderr: `Failed to parse timestamp: ${v}\n`, exit: 1 };
    } else if ((v = takeValue('-U') ?? takeValue('--until')) !== undefined) {
      until = parseSince(v);
      if (until === undefined) return { stdout: '', stderr: `Failed to parse timestamp: ${v}\n`, exit: 1 };
    } else if ((v = takeValue('-n') ?? takeValue('--lines')) !== undefined) {
      if (!/^\d+$/.test(v)) return { stdout: '', stderr: `Failed to parse lines '${v}'\n`, exit: 1 };
      lines = Number(v);
    } else if ((v = takeValue('-o') ?? takeValue('--output')) !== undefined) output = v;
    else if (/^_PID=\d+$/.test(a)) pids.add(Number(a.slice(5)));
    // -b: this boot's entries; a simulated instance never reboots, so that is every entry.
    else if (a === '-b' || a === '--boot') continue;
    else if (a === '--no-pager' || a === '-q' || a === '--quiet' || a === '--no-hostname') continue;
    else return { stdout: '', stderr: `journalctl (twin): option ${a} is not simulated\n`, exit: 1 };
  }
  if (!['cat', 'short', 'short-iso', 'short-monotonic', 'json'].includes(output))
    return { stdout: '', stderr: `journalctl (twin): output ${output} is not simulated\n`, exit: 1 };
  let entries: JournalEntry[] = inst.journal.filter(
    (e) =>
      (unit === undefined || inst.isUnit(unit)) &&
      (since === undefined || e.usec >= since) &&
      (until === undefined || e.usec <= until) &&
      (pids.size === 0 || pids.has(e.pid)),
  );
  if (unit !== undefined && !inst.isUnit(unit)) entries = [];
  if (lines !== undefined) entries = lines === 0 ? [] : entries.slice(-lines);
  const host = inst.hostName();
  const format = (e: JournalEntry): string => {
    switch (output) {
      case 'cat':
        return e.message;
      case 'short-iso':
        return `${isoLocal(e.usec)} ${host} ${e.identifier}[${e.pid}]: ${e.message}`;
      case 'short-monotonic':
        // "[ SECONDS.MICROS] host ident[pid]: message", seconds right-aligned as journalctl does.
        return `[${String(Math.floor(e.mono / 1e6)).padStart(5)}.${String(e.mono % 1e6).padStart(6, '0')}] ${host} ${e.identifier}[${e.pid}]: ${e.message}`;
      case 'json':
        return JSON.stringify({
          __REALTIME_TIMESTAMP: String(e.usec),
          _PID: String(e.pid),
          SYSLOG_IDENTIFIER: e.identifier,
          _SYSTEMD_UNIT: `${inst.unit.name}.service`,
          MESSAGE: e.message,
        });
      default:
        return `${shortLocal(e.usec)} ${host} ${e.identifier}[${e.pid}]: ${e.message}`;
    }
  };
  // journalctl prints "-- No entries --" (to stdout) for an empty short listing; -o cat prints nothing.
  if (entries.length === 0)
    return { stdout: output === 'cat' || output === 'json' ? '' : '-- No entries --\n', exit: 0 };
  return { stdout: `${entries.map(format).join('\n')}\n`, exit: 0 };
}
