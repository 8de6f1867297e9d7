// Making and updating a record: a new one for a deployment, its phase list and command ids.
import type { DeploymentRecord, GithubInfo, PhaseEntry } from './schema.js';
import { RECORD_KIND, RECORD_VERSION } from './schema.js';

export function backupPathFor(workerDir: string, targetFile: string, deploymentId: string): string {
  // Unique per deployment, never a glob: rollback restores exactly this file.
  return `${workerDir.replace(/\/+$/, '')}/${targetFile}.backup.${deploymentId}`;
}

export function newRecord(init: {
  deploymentId: string;
  now: Date;
  region: string;
  github: GithubInfo;
  serviceName: string;
  workerDir: string;
  targetFile: string;
}): DeploymentRecord {
  const at = init.now.toISOString();
  return {
    kind: RECORD_KIND,
    version: RECORD_VERSION,
    deploymentId: init.deploymentId,
    createdAt: at,
    updatedAt: at,
    region: init.region,
    github: init.github,
    target: {
      serviceName: init.serviceName,
      workerDir: init.workerDir,
      targetFile: init.targetFile,
      backupPath: backupPathFor(init.workerDir, init.targetFile, init.deploymentId),
    },
    metrics: {},
    commands: [],
    instances: {},
    settings: {},
    phases: [],
    warnings: [],
    extra: {},
  };
}

/** A deployment id that sorts by time and is unique per run attempt. */
export function newDeploymentId(now: Date, runId: number, runAttempt: number): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `dep-${stamp}-${runId}-${runAttempt}`.toLowerCase();
}

/** Adds or updates the entry for `mode` in the record's phase list. */
export function markPhase(record: DeploymentRecord, entry: PhaseEntry): void {
  const existing = record.phases.findIndex((p) => p.mode === entry.mode && p.startedAt === entry.startedAt);
  if (existing >= 0) record.phases[existing] = entry;
  else record.phases.push(entry);
}

/** Index of a command id in record.commands (appended when new). */
export function commandIndex(record: DeploymentRecord, commandId: string): number {
  const i = record.commands.indexOf(commandId);
  if (i >= 0) return i;
  record.commands.push(commandId);
  return record.commands.length - 1;
}

/**
 * The record a mode starts when no earlier job handed it one (preflight; verify and redrive run
 * alone too): the deployment id from the input, else a new one. Takes the mode context's fields it
 * needs, so any ModeContext fits.
 */
export function startRecord(ctx: {
  inputs: {
    deploymentId?: string;
    region: string;
    serviceName: string;
    workerDir: string;
    targetFile: string;
  };
  github: GithubInfo;
  runtime: { clock: { now(): Date } };
}): DeploymentRecord {
  const { inputs, github } = ctx;
  const now = ctx.runtime.clock.now();
  return newRecord({
    deploymentId: inputs.deploymentId ?? newDeploymentId(now, github.runId, github.runAttempt),
    now,
    region: inputs.region,
    github,
    serviceName: inputs.serviceName,
    workerDir: inputs.workerDir,
    targetFile: inputs.targetFile,
  });
}
