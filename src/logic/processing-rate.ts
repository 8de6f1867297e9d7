// The processing rate where CloudWatch has none: verify keeps its queue samples in the record, and
// the deletions they show are a rate too (issue 16: never "not measured" when the data exists).
import { viewSamples, type DeploymentRecord, type JudgedCheckpoint } from '../record.js';
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
  const { seconds: t, visible, inFlight, delayed, dlq } = viewSamples(cols);
  const total = (i: number): number | undefined => {
    const v = num(visible[i]);
    return v === undefined ? undefined : v + (num(inFlight[i]) ?? 0) + (num(delayed[i]) ?? 0);
  };
  const read = t.map((_, i) => i).filter((i) => total(i) !== undefined && num(t[i]) !== undefined);
  if (read.length < 2) return undefined;
  const a = read[0];
  const b = read[read.length - 1];
  const seconds = (num(t[b]) ?? 0) - (num(t[a]) ?? 0);
  if (seconds <= 0) return undefined;
  const dlqGrowth = Math.max(0, (num(dlq[b]) ?? 0) - (num(dlq[a]) ?? 0));
  const deleted = Math.max(0, (total(a) ?? 0) - (total(b) ?? 0) - dlqGrowth);
  return Math.round((deleted / seconds) * 3600 * 10) / 10;
}
