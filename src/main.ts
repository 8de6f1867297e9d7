// Parses the inputs once, builds the clients, runs the mode, and reports: outputs, job summary,
// and the step's failure. Every error ends here, in one place.
import * as core from '@actions/core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AwsApi } from './aws/api.js';
import { createClients, type AwsClients } from './aws/clients.js';
import { Output, VERSION, type InputName, type OutputName } from './constants.js';
import { publishRecord, type ModeContext, type ModeOutcome } from './context.js';
import { errorMessage, InputError } from './errors.js';
import { parseInputs, type InputReader } from './inputs.js';
import { RUNNERS } from './modes/index.js';
import { sendNotifications } from './notify.js';
import type { GithubInfo } from './record.js';
import type { Reporter } from './report.js';
import { systemRuntime, type Runtime } from './runtime.js';
import { escapeHtml, heading } from './summary/markdown.js';

export interface MainDeps {
  readInput: InputReader;
  env: NodeJS.ProcessEnv;
  runtime: () => Runtime;
  clients: (region: string) => AwsClients;
  report: Reporter;
  writeSummary: (markdown: string) => Promise<void>;
  setFailed: (message: string) => void;
  github: () => GithubInfo;
}

export const coreReporter: Reporter = {
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  error: (m) => core.error(m),
  group: (name, fn) => core.group(name, fn),
  setOutput: (name, value) => core.setOutput(name, value),
};

// The runner's default environment variables are what @actions/github's context reads too; reading
// them directly keeps octokit (about 2 MB) out of the bundle.
export function githubInfo(env: NodeJS.ProcessEnv = process.env): GithubInfo {
  return {
    actor: env.GITHUB_ACTOR || 'unknown',
    repository: env.GITHUB_REPOSITORY ?? '',
    sha: env.GITHUB_SHA || '',
    ref: env.GITHUB_REF || '',
    workflow: env.GITHUB_WORKFLOW || '',
    runId: Number(env.GITHUB_RUN_ID || 0) || 0,
    runAttempt: Number(env.GITHUB_RUN_ATTEMPT || 1) || 1,
    serverUrl: env.GITHUB_SERVER_URL || 'https://github.com',
  };
}

function defaultDeps(): MainDeps {
  return {
    readInput: (name: InputName) => core.getInput(name),
    env: process.env,
    runtime: () => systemRuntime(),
    clients: (region) => createClients(region, VERSION),
    report: coreReporter,
    writeSummary: async (md) => {
      if (!process.env.GITHUB_STEP_SUMMARY) return;
      await core.summary.addRaw(md, true).write();
    },
    setFailed: (m) => core.setFailed(m),
    github: () => githubInfo(),
  };
}

export async function run(overrides: Partial<MainDeps> = {}): Promise<ModeOutcome | undefined> {
  const deps = { ...defaultDeps(), ...overrides };
  let outcome: ModeOutcome | undefined;
  let ctx: ModeContext | undefined;
  try {
    // Validation first: a bad input never reaches AWS.
    const inputs = parseInputs(deps.readInput, deps.env);
    const runner = RUNNERS[inputs.mode];
    if (!runner) throw new InputError('mode', `${inputs.mode} is not available in this version`);
    const runtime = deps.runtime();
    ctx = {
      inputs,
      clients: deps.clients(inputs.region),
      api: new AwsApi(runtime.sleep),
      runtime,
      report: deps.report,
      github: deps.github(),
      workspace: deps.env.GITHUB_WORKSPACE ?? process.cwd(),
      recordFile: recordFilePath(deps.env),
    };
    if (inputs.dryRun) deps.report.info('dry-run: nothing will be changed');
    outcome = await runner(ctx);
    // Where the client notifications become outputs, they are also sent (notify-topic-arn).
    await sendNotifications(ctx, outcome);
    publishRecord(ctx, outcome.record);
    deps.report.setOutput(Output.Verdict, outcome.verdict);
    for (const [name, value] of Object.entries(outcome.outputs ?? {})) {
      if (value !== undefined) deps.report.setOutput(name as OutputName, value);
    }
    await deps.writeSummary(`${outcome.summary}\n\n${callsFooter(ctx.api)}\n`);
    deps.report.info(`verdict: ${outcome.verdict}; AWS calls: ${ctx.api.totalCalls()}`);
    if (outcome.failure) deps.setFailed(outcome.failure);
    return outcome;
  } catch (e) {
    const message = errorMessage(e);
    try {
      deps.report.setOutput(Output.Verdict, 'fail');
    } catch {
      // Outputs are best effort here; the failure below is what matters.
    }
    try {
      await deps.writeSummary(`${heading(2, 'Deployment step failed')}\n\n${escapeHtml(message)}\n`);
    } catch {
      // The summary is best effort; the failure below is what matters.
    }
    deps.setFailed(message);
    return outcome;
  }
}

/** On a runner, the record is also kept as a file in RUNNER_TEMP (see the `record-file` output). */
function recordFilePath(env: NodeJS.ProcessEnv): string | undefined {
  if (!env.RUNNER_TEMP) return undefined;
  const dir = join(env.RUNNER_TEMP, 'emergency-deploy');
  mkdirSync(dir, { recursive: true });
  return join(dir, 'deployment-record.json');
}

function callsFooter(api: AwsApi): string {
  const parts = [...api.calls.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([op, n]) => `${op} ×${n}`);
  return `<sub>AWS calls: ${api.totalCalls()} (${escapeHtml(parts.join(', '))})</sub>`;
}
