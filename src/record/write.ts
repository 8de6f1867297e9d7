// Writing the record out: the `record` output and, on a runner, the `record-file` output's file.
import { renameSync, writeFileSync } from 'node:fs';
import { Output, type OutputName } from '../constants.js';
import type { DeploymentRecord } from './schema.js';
import { serializeRecord } from './size.js';

/**
 * Stamps the record, checks it against the output limit and writes it: to the `record` output
 * and, when `file` is set, whole to a temporary name renamed over `file`, so a reader never sees
 * half a record. A later write of the same output wins, so modes write as they go.
 */
export function writeRecord(
  record: DeploymentRecord,
  to: { at: Date; setOutput: (name: OutputName, value: string) => void; file?: string },
): void {
  record.updatedAt = to.at.toISOString();
  const json = serializeRecord(record);
  to.setOutput(Output.Record, json);
  if (to.file) {
    writeFileSync(`${to.file}.tmp`, json);
    renameSync(`${to.file}.tmp`, to.file);
    to.setOutput(Output.RecordFile, to.file);
  }
}
