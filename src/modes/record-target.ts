// The record a canary or rollout job continues from, checked against this job's target. One copy
// for both modes: the backup path and the earlier install came from the record's target, so a
// different service, directory or file now would replace another file than the one the earlier
// job proved, and rollback would look for the wrong backup.
import { Input } from '../constants.js';
import { InputError } from '../errors.js';
import type { Inputs } from '../inputs.js';
import { backupPathFor, type DeploymentRecord } from '../record.js';

/** The record the mode needs (from the job before it), with the same target as this job's inputs. */
export function requireRecord(
  inputs: Inputs,
  mode: 'canary' | 'rollout',
  previousJob: 'preflight' | 'canary',
): DeploymentRecord {
  const record = inputs.record;
  if (!record) {
    throw new InputError(
      Input.Record,
      `is required for ${mode}: pass the ${previousJob} job’s record output`,
    );
  }
  const t = record.target;
  const madeFor = `the record was made for ${JSON.stringify(t.serviceName)} and ${JSON.stringify(`${t.workerDir}/${t.targetFile}`)}. Use the same service-name, worker-dir and target-file in every job`;
  // Named by the input that differs, so the operator knows which one to change.
  for (const [input, mine, theirs] of [
    [Input.ServiceName, inputs.serviceName, t.serviceName],
    [Input.WorkerDir, inputs.workerDir, t.workerDir],
    [Input.TargetFile, inputs.targetFile, t.targetFile],
  ] as const) {
    if (mine !== theirs) {
      throw new InputError(
        input,
        `is ${JSON.stringify(mine)} but deployment ${record.deploymentId} targets ${JSON.stringify(theirs)}: ${madeFor}`,
      );
    }
  }
  const expected = backupPathFor(inputs.workerDir, inputs.targetFile, record.deploymentId);
  if (t.backupPath !== expected) {
    throw new InputError(
      Input.Record,
      `names backup path ${JSON.stringify(t.backupPath)}, but deployment ${record.deploymentId} backs up to ${expected}`,
    );
  }
  return record;
}
