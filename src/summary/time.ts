// Times as the runbook's readers need them: the client is in Japan (JST, Asia/Tokyo), AWS and the
// logs speak UTC. JST is UTC+9 all year (no daylight saving), so it is computed, not looked up.

const JST_OFFSET_MS = 9 * 60 * 60 * 1000;
const WEEKDAYS_JA = ['日', '月', '火', '水', '木', '金', '土'];
const WEEKDAYS_EN = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number) => String(n).padStart(2, '0');

interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

function partsOf(date: Date, offsetMs: number): Parts {
  const d = new Date(date.getTime() + offsetMs);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    weekday: d.getUTCDay(),
  };
}

const jst = (date: Date) => partsOf(date, JST_OFFSET_MS);
const utc = (date: Date) => partsOf(date, 0);

/** `2026-11-29` in JST. */
export function jstDate(date: Date): string {
  const p = jst(date);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}

/** `2026-11-29 09:00:05 JST (2026-11-29 00:00:05 UTC)`, for the deployment log. */
export function jstAndUtc(date: Date): string {
  const j = jst(date);
  const u = utc(date);
  return (
    `${j.year}-${pad(j.month)}-${pad(j.day)} ${pad(j.hour)}:${pad(j.minute)}:${pad(j.second)} JST ` +
    `(${u.year}-${pad(u.month)}-${pad(u.day)} ${pad(u.hour)}:${pad(u.minute)}:${pad(u.second)} UTC)`
  );
}

/** `2026年11月29日(日) 09:00 JST（UTC 2026-11-29 00:00）`, for the Japanese notification. */
export function formatJa(date: Date): string {
  const j = jst(date);
  const u = utc(date);
  return (
    `${j.year}年${j.month}月${j.day}日(${WEEKDAYS_JA[j.weekday]}) ${pad(j.hour)}:${pad(j.minute)} JST` +
    `（UTC ${u.year}-${pad(u.month)}-${pad(u.day)} ${pad(u.hour)}:${pad(u.minute)}）`
  );
}

/** `Sun 29 Nov 2026 09:00 JST (2026-11-29 00:00 UTC)`, for the English notification. */
export function formatEn(date: Date): string {
  const j = jst(date);
  const u = utc(date);
  return (
    `${WEEKDAYS_EN[j.weekday]} ${j.day} ${MONTHS_EN[j.month - 1]} ${j.year} ${pad(j.hour)}:${pad(j.minute)} JST ` +
    `(${u.year}-${pad(u.month)}-${pad(u.day)} ${pad(u.hour)}:${pad(u.minute)} UTC)`
  );
}

// Durations, in the two styles the runbook's readers see: the long one for the deployment log, the
// incident report and the notifications (from milliseconds between two timestamps), the short one
// for the run log's progress and wait lines (from seconds, the unit of the inputs and waits).

/** `1 h 02 min 05 s`, `42 min 10 s`, `35 s`. Negative spans (clock skew) read as 0 s. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h} h ${pad(m)} min ${pad(s)} s`;
  if (m > 0) return `${m} min ${pad(s)} s`;
  return `${s} s`;
}

/** `1時間2分`, `42分`, `1分未満`, for the Japanese notification. */
export function formatDurationJa(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  if (minutes === 0) return '1分未満';
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return `${m}分`;
  return m === 0 ? `${h}時間` : `${h}時間${m}分`;
}

/** The run log's short style, from seconds: 3725 → `1h 2m`, 250 → `4m 10s`, 12 → `12s`. */
export function formatSecondsShort(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${r}s`;
  return `${r}s`;
}
