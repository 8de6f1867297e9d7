// The record's size policy, in one place. The record travels as a job output, and GitHub limits a
// job's outputs to 1 MB in all; so does the `record` input it comes back as. Compact per-instance
// entries keep a 5,000-instance record well under that; what can still grow without bound (one
// error text per instance) is cut here, never elsewhere.
import { InputError } from '../errors.js';
import type { DeploymentRecord } from './schema.js';

/** GitHub's job-output limit: a record larger than this is neither written nor read. */
export const MAX_RECORD_BYTES = 1_000_000;
/** Room under the 1 MB output limit kept for the phases that follow (verify, rollback). */
export const RECORD_SOFT_LIMIT_BYTES = 900_000;
/** Rows of extra.rollout.batches; batches beyond this many stay in the summary only. */
export const MAX_RECORDED_BATCHES = 500;
/** A warning kept in record.warnings is cut to this many characters (the log has it in full). */
export const MAX_WARNING_CHARS = 500;
/** Per-instance texts (e, re) are cut to this many characters when the record nears its limit. */
const SHORT_TEXT = 40;

/** The record's size as a job output: its JSON in UTF-8 bytes. */
export function recordBytes(record: DeploymentRecord): number {
  return Buffer.byteLength(JSON.stringify(record), 'utf8');
}

/** Refuses an incoming record (text or file) of more than MAX_RECORD_BYTES, naming the input. */
export function checkRecordBytes(bytes: number, input: string): void {
  if (bytes > MAX_RECORD_BYTES) throw new InputError(input, `is larger than ${MAX_RECORD_BYTES} bytes`);
}

export function serializeRecord(record: DeploymentRecord): string {
  const json = JSON.stringify(record);
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > MAX_RECORD_BYTES) {
    throw new Error(
      `the deployment record is ${bytes} bytes, over the ${MAX_RECORD_BYTES}-byte job-output limit`,
    );
  }
  return json;
}

/**
 * Keeps the record under `limitBytes` whatever the failures said: per-instance error texts (the
 * install's `e`, the rollback's `re`) are the only part that can grow without bound (up to 5,000
 * of them), so when the record passes the limit they are cut short, and dropped if that is not
 * enough. The status of every instance stays; the full texts are in the log. Returns what it did.
 */
export function fitInstanceErrors(
  record: { instances: Record<string, { e?: string; re?: string }> },
  sizeOf: () => number,
  limitBytes: number,
): 'fits' | 'shortened' | 'dropped' {
  if (sizeOf() <= limitBytes) return 'fits';
  const cut = (text: string) => (text.length > SHORT_TEXT ? `${text.slice(0, SHORT_TEXT - 1)}…` : text);
  for (const entry of Object.values(record.instances)) {
    if (entry.e) entry.e = cut(entry.e);
    if (entry.re) entry.re = cut(entry.re);
  }
  if (sizeOf() <= limitBytes) return 'shortened';
  for (const entry of Object.values(record.instances)) {
    delete entry.e;
    delete entry.re;
  }
  return 'dropped';
}

/** Keeps a warning in the record once, cut to MAX_WARNING_CHARS. */
export function keepWarning(record: DeploymentRecord, message: string): void {
  if (!record.warnings.includes(message)) record.warnings.push(message.slice(0, MAX_WARNING_CHARS));
}
