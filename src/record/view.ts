// Readable names for the per-instance entry. The JSON keeps its short keys (p, b, s, c, t, e, rb,
// re: the entry repeats up to 5,000 times under a 1 MB limit); code outside the record module reads
// and writes an entry only through these, so no mode, decision or renderer spells a short key.
import type {
  CriterionStatus,
  InstanceEntry,
  RecordedCriterion,
  SampleColumns,
  VisibilityTimeoutChange,
} from './schema.js';

/** The phase that touched an instance. */
export type InstancePhase = 'canary' | 'rollout';
/** Where the install stands on an instance. */
export type InstallStatus = InstanceEntry['s'];
/** What rollback did to an instance (untouched: tagged, but the install never changed it). */
export type RollbackResult = NonNullable<InstanceEntry['rb']>;

/** An instance entry under its readable names. */
export interface InstanceView {
  phase: InstancePhase;
  /** Rollout batch number; 0 for the canary. */
  batch: number;
  status: InstallStatus;
  /** Index into record.commands; -1 when no command was sent. */
  commandIndex: number;
  /** Seconds the install took. */
  installSeconds?: number;
  /** Short install error. */
  error?: string;
  rollback?: RollbackResult;
  /** Short rollback error. */
  rollbackError?: string;
}

const PHASE_KEY = { canary: 'c', rollout: 'r' } as const;

export function instancePhase(entry: Pick<InstanceEntry, 'p'>): InstancePhase {
  return entry.p === 'c' ? 'canary' : 'rollout';
}

export function installStatus(entry: Pick<InstanceEntry, 's'>): InstallStatus {
  return entry.s;
}

export function rollbackResult(entry: Pick<InstanceEntry, 'rb'>): RollbackResult | undefined {
  return entry.rb;
}

/** The entry under readable names (a copy: write through the setters below). */
export function viewInstance(entry: InstanceEntry): InstanceView {
  return {
    phase: instancePhase(entry),
    batch: entry.b,
    status: entry.s,
    commandIndex: entry.c,
    installSeconds: entry.t,
    error: entry.e,
    rollback: entry.rb,
    rollbackError: entry.re,
  };
}

/** A new entry for an instance a phase is about to touch. */
export function newInstanceEntry(init: {
  phase: InstancePhase;
  batch: number;
  status: InstallStatus;
  commandIndex: number;
}): InstanceEntry {
  return { p: PHASE_KEY[init.phase], b: init.batch, s: init.status, c: init.commandIndex };
}

/** Records the install's progress on an entry; an absent field is left as it is, error null clears it. */
export function setInstall(
  entry: InstanceEntry,
  update: { status?: InstallStatus; commandIndex?: number; installSeconds?: number; error?: string | null },
): void {
  if (update.status !== undefined) entry.s = update.status;
  if (update.commandIndex !== undefined) entry.c = update.commandIndex;
  if (update.installSeconds !== undefined) entry.t = update.installSeconds;
  if (update.error === null) delete entry.e;
  else if (update.error !== undefined) entry.e = update.error;
}

/** Records what rollback did on an entry; an absent field is left as it is, null clears it. */
export function setRollback(
  entry: InstanceEntry,
  update: { result?: RollbackResult | null; error?: string | null },
): void {
  if (update.result === null) delete entry.rb;
  else if (update.result !== undefined) entry.rb = update.result;
  if (update.error === null) delete entry.re;
  else if (update.error !== undefined) entry.re = update.error;
}

/**
 * settings.visibilityTimeout under readable names: `state` is kept as `s`. The fields keep the
 * caller's order, so the JSON reads as it always has.
 */
export function visibilityTimeoutChange(
  change: Omit<VisibilityTimeoutChange, 's'> & { state: NonNullable<VisibilityTimeoutChange['s']> },
): VisibilityTimeoutChange {
  const { state, ...rest } = change;
  return { ...rest, s: state };
}

/** Verify's sample columns (extra.verify[checkpoint].samples) under readable names. */
export interface SampleSeries {
  /** Seconds since the window opened. */
  seconds: number[];
  visible: (number | null)[];
  inFlight: (number | null)[];
  delayed: (number | null)[];
  dlq: (number | null)[];
  running: (number | null)[];
}

export function toSampleColumns(s: SampleSeries): SampleColumns {
  return { t: s.seconds, v: s.visible, f: s.inFlight, d: s.delayed, l: s.dlq, r: s.running };
}

export function viewSamples(c: SampleColumns): SampleSeries {
  return { seconds: c.t, visible: c.v, inFlight: c.f, delayed: c.d, dlq: c.l, running: c.r };
}

/** A judged criterion as verify keeps it: status as `s`, the figures as `d`. */
export function recordedCriterion(c: {
  id: string;
  status: CriterionStatus;
  detail: string;
}): RecordedCriterion {
  return { id: c.id, s: c.status, d: c.detail };
}

export function viewCriterion(c: RecordedCriterion): { id: string; status: CriterionStatus; detail: string } {
  return { id: c.id, status: c.s, detail: c.d };
}
