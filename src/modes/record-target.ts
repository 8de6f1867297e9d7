// The record a canary or rollout job continues from, checked against this job's target. One copy
// for both modes: the backup path and the earlier install came from the record's target, so a
// different service, directory or file now would replace another file than the one the earlier
// job proved, and rollback would look for the wrong backup.
import { Input } from '../constants.js';
import { InputError } from '../errors.js';
import type { Inputs } from '../inputs.js';
import { backupPathFor, type DeploymentRecord } from '../record.js';

/**
 * The record the mode needs (from the job before it), with the same target as this job's inputs.
 * A different target is refused naming the record in canary (the record is what carries the
 * target on from preflight) and naming the input that differs in rollout; both errors say what
 * the record was made for.
 */
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
  const madeFor = `was made for ${JSON.stringify(t.serviceName)} and ${JSON.stringify(`${t.workerDir}/${t.targetFile}`)}`;
  const sameEverywhere = 'Use the same service-name, worker-dir and target-file in every job';
  const expected = backupPathFor(inputs.workerDir, inputs.targetFile, record.deploymentId);
  const differs = (
    [
      [Input.ServiceName, inputs.serviceName, t.serviceName],
      [Input.WorkerDir, inputs.workerDir, t.workerDir],
      [Input.TargetFile, inputs.targetFile, t.targetFile],
    ] as const
  ).find(([, mine, theirs]) => mine !== theirs);
  if (differs && mode === 'rollout') {
    const [input, mine, theirs] = differs;
    throw new InputError(
      input,
      `is ${JSON.stringify(mine)} but deployment ${record.deploymentId} targets ${JSON.stringify(theirs)}: the record ${madeFor}. ${sameEverywhere}`,
    );
  }
  if (differs || t.backupPath !== expected) {
    throw new InputError(
      Input.Record,
      `${madeFor}; the inputs say ${inputs.serviceName} and ${inputs.workerDir}/${inputs.targetFile}. ${sameEverywhere}`,
    );
  }
  return record;
}
