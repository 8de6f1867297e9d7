// The processing rate where CloudWatch has none: verify keeps its queue samples in the record, and
// the deletions they show are a rate too (issue 16: never "not measured" when the data exists).
import type { DeploymentRecord, JudgedCheckpoint, SampleColumns } from '../record.js';
import { num } from './record-facts.js';

/**
 * Files per hour at a checkpoint from verify's queue samples, for when CloudWatch gave none: the
 * messages that left the queue without reaching the DLQ were deleted, and new uploads only add to
 * the queue, so this is a lower bound.
 */
export function sampledRate(record: DeploymentRecord, checkpoint: JudgedCheckpoint): number | undefined {
  // parseRecord kept the samples only when every column is a list of numbers (or nulls).
  const cols = record.extra.verify?.[checkpoint]?.samples;
  if (!cols) return undefined;
  const col = (k: keyof SampleColumns): (number | null)[] => cols[k] ?? [];
  const t = col('t');
  const total = (i: number): number | undefined => {
    const v = num(col('v')[i]);
    return v === undefined ? undefined : v + (num(col('f')[i]) ?? 0) + (num(col('d')[i]) ?? 0);
  };
  const read = t.map((_, i) => i).filter((i) => total(i) !== undefined && num(t[i]) !== undefined);
  if (read.length < 2) return undefined;
  const a = read[0];
  const b = read[read.length - 1];
  const seconds = (num(t[b]) ?? 0) - (num(t[a]) ?? 0);
  if (seconds <= 0) return undefined;
  const dlqGrowth = Math.max(0, (num(col('l')[b]) ?? 0) - (num(col('l')[a]) ?? 0));
  const deleted = Math.max(0, (total(a) ?? 0) - (total(b) ?? 0) - dlqGrowth);
  return Math.round((deleted / seconds) * 3600 * 10) / 10;
}
