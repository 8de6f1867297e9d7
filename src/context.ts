// What every mode receives, and what it hands back to main.ts.
import type { AwsApi } from './aws/api.js';
import type { AwsClients } from './aws/clients.js';
import type { OutputName, Verdict } from './constants.js';
import type { Inputs } from './inputs.js';
import { keepWarning, writeRecord, type DeploymentRecord, type GithubInfo } from './record.js';
import type { Reporter } from './report.js';
import type { Runtime } from './runtime.js';

export interface ModeContext {
  inputs: Inputs;
  clients: AwsClients;
  api: AwsApi;
  runtime: Runtime;
  report: Reporter;
  github: GithubInfo;
  /** GITHUB_WORKSPACE: where a workspace artifact path is resolved. */
  workspace: string;
  /** Where the record is also written as a file (the `record-file` output), for large fleets. */
  recordFile?: string;
}

export interface ModeOutcome {
  verdict: Verdict;
  record: DeploymentRecord;
  /** This mode's job-summary section, Markdown with every foreign value escaped. */
  summary: string;
  outputs?: Partial<Record<OutputName, string>>;
  /** When set the step fails with this message (after outputs and summary are written). */
  failure?: string;
}

export type ModeRunner = (ctx: ModeContext) => Promise<ModeOutcome>;

/**
 * Writes the record output now. Modes call this as they go, so a failure or cancellation
 * mid-way still leaves a true record for rollback (a later write of the same output wins).
 */
export function publishRecord(ctx: ModeContext, record: DeploymentRecord): void {
  writeRecord(record, {
    at: ctx.runtime.clock.now(),
    setOutput: (name, value) => ctx.report.setOutput(name, value),
    file: ctx.recordFile,
  });
}

/** Logs a warning and keeps it in the record's "issues encountered". */
export function warn(ctx: ModeContext, record: DeploymentRecord, message: string): void {
  ctx.report.warning(message);
  keepWarning(record, message);
}
