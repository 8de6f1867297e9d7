// `node dist/index.js record-tool <command> …`: what the workflows' report and checkpoint jobs need
// from a deployment record, without AWS. It lives in the action's own bundle so the workflows run
// the same, tested renderers as the modes (no second build, no npm install in an emergency).
//
//   report --record FILE --out DIR [--approvals FILE] [--summary]
//     writes DIR/deployment-record.json, DIR/deployment-log.md, DIR/incident-report.md,
//     DIR/notification-before.txt and DIR/notification-after.txt; with --summary also appends the
//     log to the job summary. writeReport() is the same, for the rehearsal.
//   incident-report --record FILE --out FILE [--approvals FILE]
//     writes the incident report (timeline, approvals, metrics, issues, DLQ review and redrive,
//     rollback, leftovers) as Markdown.
//   plan-checkpoint --records DIR [--now ISO] [--out FILE]
//     finds every deployment-record.json under DIR, decides which later checkpoint (1h, 24h) is due
//     and sets the step outputs checkpoint, deployment-id, sha and reason; when one is due, writes
//     that deployment's record to FILE and sets record-file to it.
//   pick-latest --records DIR --deployment-id ID --out FILE [--required]
//     finds every deployment-record.json under DIR (one folder per downloaded artifact), copies the
//     latest record of deployment ID to FILE and sets the step output record-file (empty when there
//     is none; with --required, none is an error).
//   gate --comments FILE --approvers LIST --deployer LOGIN --out FILE [--allow-self]
//     the fallback GO/NO-GO gate: writes go, no-go or pending to FILE from an issue's comments.
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MODES } from './constants.js';
import { errorMessage } from './errors.js';
import { planCheckpoint } from './logic/checkpoints.js';
import { decideGate, parseApprovers, parseComments } from './logic/gate.js';
import { parseTime, phases, timeSpan } from './logic/record-facts.js';
import { DEPLOYMENT_ID_PATTERN, parseRecord, type DeploymentRecord } from './record.js';
import { renderDeploymentLog, type Approval } from './summary/deployment-log.js';
import { renderIncidentReport } from './summary/incident-report.js';
import { escapeHtml } from './summary/markdown.js';
import {
  notificationsSection,
  renderNotificationAfter,
  renderNotificationBefore,
} from './summary/notifications.js';

export const RECORD_TOOL_COMMAND = 'record-tool';
export const RECORD_FILE = 'deployment-record.json';
export const LOG_FILE = 'deployment-log.md';
export const INCIDENT_FILE = 'incident-report.md';

export interface ToolIo {
  env: NodeJS.ProcessEnv;
  now: () => Date;
  log: (line: string) => void;
}

const defaultIo: ToolIo = { env: process.env, now: () => new Date(), log: (l) => console.log(l) };

class UsageError extends Error {}

function options(args: string[], allowed: string[], flags: string[] = []): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const name = args[i].replace(/^--/, '');
    if (!args[i].startsWith('--') || (!allowed.includes(name) && !flags.includes(name))) {
      throw new UsageError(`unknown argument ${JSON.stringify(args[i])}`);
    }
    if (flags.includes(name)) out.set(name, 'true');
    else if (i + 1 >= args.length) throw new UsageError(`--${name} needs a value`);
    else out.set(name, args[++i]);
  }
  return out;
}

function required(opts: Map<string, string>, name: string): string {
  const v = opts.get(name);
  if (!v) throw new UsageError(`--${name} is required`);
  return v;
}

/** Appends a step output in the runner's multi-line form, with a delimiter no value can contain. */
async function setOutput(io: ToolIo, name: string, value: string): Promise<void> {
  const file = io.env.GITHUB_OUTPUT;
  if (!file) {
    io.log(`${name}=${value.length > 200 ? `${value.slice(0, 200)}…` : value}`);
    return;
  }
  const delimiter = `ghadelimiter_${randomUUID()}`;
  await appendFile(file, `${name}<<${delimiter}\n${value}\n${delimiter}\n`, 'utf8');
}

async function appendSummary(io: ToolIo, markdown: string): Promise<void> {
  if (io.env.GITHUB_STEP_SUMMARY) await appendFile(io.env.GITHUB_STEP_SUMMARY, `${markdown}\n`, 'utf8');
}

const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$/;

/**
 * The reviews of a run's deployment gates, from `GET /repos/{owner}/{repo}/actions/runs/{id}/approvals`.
 * Anything that does not look like that answer is dropped rather than trusted.
 */
export function parseApprovals(json: unknown): Approval[] {
  if (!Array.isArray(json)) return [];
  return json.slice(0, 50).flatMap((a: unknown) => {
    if (typeof a !== 'object' || a === null) return [];
    const { user, state, comment, environments } = a as Record<string, unknown>;
    const login =
      typeof user === 'object' && user !== null ? (user as Record<string, unknown>).login : undefined;
    if (typeof login !== 'string' || !LOGIN.test(login)) return [];
    if (state !== 'approved' && state !== 'rejected') return [];
    const envs = (Array.isArray(environments) ? environments : []).flatMap((e: unknown) => {
      const name = typeof e === 'object' && e !== null ? (e as Record<string, unknown>).name : undefined;
      return typeof name === 'string' ? [name.slice(0, 100)] : [];
    });
    const note =
      typeof comment === 'string' && comment.trim() !== '' ? comment.trim().slice(0, 300) : undefined;
    return [{ user: login, state, comment: note, environments: envs }];
  });
}

async function readApprovals(file: string | undefined, io: ToolIo): Promise<Approval[] | undefined> {
  if (!file) return undefined;
  try {
    return parseApprovals(JSON.parse(await readFile(file, 'utf8')));
  } catch (e) {
    io.log(`approvals not read (${errorMessage(e)}): the log says where to find them`);
    return undefined;
  }
}

export interface WrittenReport {
  log: string;
  incident: string;
  before: string;
  after: string;
}

/**
 * The report step's files from one record: the record, the deployment log, the incident report and
 * both notifications (the after one from the last mode that ran, as the record says). Used by
 * `record-tool report`, the workflows' report jobs and the end of the rehearsal.
 */
export async function writeReport(
  record: DeploymentRecord,
  raw: string,
  out: string,
  opts: { approvals?: Approval[]; now: Date },
): Promise<WrittenReport> {
  await mkdir(out, { recursive: true });
  const { start, end } = timeSpan(record);
  const log = renderDeploymentLog(record, { approvals: opts.approvals });
  const incident = renderIncidentReport(record, { approvals: opts.approvals });
  const before = renderNotificationBefore(record, start ?? opts.now);
  const after = renderNotificationAfter(record, end ?? opts.now);
  await writeFile(join(out, RECORD_FILE), `${raw}\n`, 'utf8');
  await writeFile(join(out, LOG_FILE), `${log}\n`, 'utf8');
  await writeFile(join(out, INCIDENT_FILE), `${incident}\n`, 'utf8');
  await writeFile(join(out, 'notification-before.txt'), `${before}\n`, 'utf8');
  await writeFile(join(out, 'notification-after.txt'), `${after}\n`, 'utf8');
  return { log, incident, before, after };
}

async function report(args: string[], io: ToolIo): Promise<void> {
  const opts = options(args, ['record', 'out', 'approvals'], ['summary']);
  const raw = (await readFile(required(opts, 'record'), 'utf8')).trim();
  const record = parseRecord(raw);
  const approvals = await readApprovals(opts.get('approvals'), io);
  const out = required(opts, 'out');
  const { log, before, after } = await writeReport(record, raw, out, { approvals, now: io.now() });
  if (opts.has('summary')) await appendSummary(io, `${log}\n\n${notificationsSection({ before, after })}`);
  io.log(
    `deployment ${record.deploymentId}: wrote ${RECORD_FILE}, ${LOG_FILE}, ${INCIDENT_FILE} and the notifications to ${out}`,
  );
}

async function incidentReportCommand(args: string[], io: ToolIo): Promise<void> {
  const opts = options(args, ['record', 'out', 'approvals']);
  const record = parseRecord((await readFile(required(opts, 'record'), 'utf8')).trim());
  const approvals = await readApprovals(opts.get('approvals'), io);
  const out = required(opts, 'out');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${renderIncidentReport(record, { approvals })}\n`, 'utf8');
  io.log(`deployment ${record.deploymentId}: wrote the incident report to ${out}`);
}

/** Every deployment-record.json under `dir`, a few levels deep (one folder per downloaded artifact). */
async function findRecordFiles(dir: string, depth = 3): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, e.name);
    if (e.isFile() && e.name === RECORD_FILE) found.push(path);
    else if (e.isDirectory() && depth > 0) found.push(...(await findRecordFiles(path, depth - 1)));
    if (found.length >= 200) break;
  }
  return found;
}

interface FoundRecord {
  file: string;
  raw: string;
  record: DeploymentRecord;
}

/** The readable records under `dir`; a file that is not one is logged and skipped. */
async function readRecords(dir: string, io: ToolIo): Promise<FoundRecord[]> {
  const found: FoundRecord[] = [];
  for (const file of await findRecordFiles(dir)) {
    try {
      const raw = (await readFile(file, 'utf8')).trim();
      found.push({ file, raw, record: parseRecord(raw, file) });
    } catch (e) {
      io.log(`skipped ${file}: ${errorMessage(e)}`);
    }
  }
  return found;
}

async function writeRecordFile(path: string, json: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${json}\n`, 'utf8');
}

async function planCheckpointCommand(args: string[], io: ToolIo): Promise<void> {
  const opts = options(args, ['records', 'now', 'out']);
  const nowRaw = opts.get('now');
  const now = nowRaw ? new Date(nowRaw) : io.now();
  if (!Number.isFinite(now.getTime())) throw new UsageError(`--now ${JSON.stringify(nowRaw)} is not a time`);
  const records = (await readRecords(required(opts, 'records'), io)).map((r) => r.record);
  const plan = planCheckpoint(records, now);
  io.log(plan.reason);
  // The record itself goes to a file (the verify job gets it as an artifact): a large fleet's
  // record is too big for a job output read back as an action input.
  const out = opts.get('out');
  let recordFile = '';
  if (out && plan.due && plan.record) {
    await writeRecordFile(out, JSON.stringify(plan.record));
    recordFile = out;
  }
  await setOutput(io, 'checkpoint', plan.due ?? '');
  await setOutput(io, 'deployment-id', plan.record?.deploymentId ?? '');
  await setOutput(io, 'sha', plan.record?.github?.sha ?? '');
  await setOutput(io, 'reason', plan.reason);
  await setOutput(io, 'record-file', recordFile);
  const missed =
    plan.missed.length > 0 ? ` Missed (too late to mean what they say): ${plan.missed.join(', ')}.` : '';
  await appendSummary(
    io,
    `### Checkpoint plan\n\n${escapeHtml(plan.reason)}.${escapeHtml(missed)} Records read: ${records.length}.`,
  );
}

const updated = (r: DeploymentRecord) => parseTime(r.updatedAt)?.getTime() ?? 0;

/**
 * The record to carry on from, among those a run's jobs left for one deployment: the one published
 * last. Each job starts from the record the job before it left and publishes it again, later, so
 * within a run the latest is the furthest along (verify, else rollout, else canary, else preflight;
 * rollback's after them all); after "Re-run failed jobs", the re-run job's record, which says what
 * the fleet is now, is later than the one of the attempt that failed. Two copies of one record (a
 * job's artifact and the report's) tie; the one with more phases wins a tie.
 */
export function pickLatestRecord<T extends { record: DeploymentRecord }>(
  found: T[],
  deploymentId: string,
): T | undefined {
  let best: T | undefined;
  for (const candidate of found) {
    if (candidate.record.deploymentId !== deploymentId) continue;
    const r = candidate.record;
    if (
      !best ||
      updated(r) > updated(best.record) ||
      (updated(r) === updated(best.record) && phases(r).length > phases(best.record).length)
    ) {
      best = candidate;
    }
  }
  return best;
}

async function pickLatestCommand(args: string[], io: ToolIo): Promise<void> {
  const opts = options(args, ['records', 'deployment-id', 'out'], ['required']);
  const deploymentId = required(opts, 'deployment-id');
  if (!DEPLOYMENT_ID_PATTERN.test(deploymentId)) {
    throw new UsageError(`--deployment-id ${JSON.stringify(deploymentId)} is not a deployment id`);
  }
  const out = required(opts, 'out');
  const found = await readRecords(required(opts, 'records'), io);
  const best = pickLatestRecord(found, deploymentId);
  const others = found.filter((f) => f.record.deploymentId !== deploymentId).length;
  if (!best) {
    await setOutput(io, 'record-file', '');
    const message = `no record of ${deploymentId} among ${found.length} record(s) found`;
    if (opts.has('required')) throw new Error(message);
    io.log(message);
    return;
  }
  await writeRecordFile(out, best.raw);
  await setOutput(io, 'record-file', out);
  // Only checked values reach the log: a line of the log can be a workflow command.
  const modes = phases(best.record)
    .map((p) => p.mode)
    .filter((m) => (MODES as readonly string[]).includes(m));
  const file = best.file.replace(/[^\w./@+-]/g, '?');
  io.log(
    `${deploymentId}: the latest of ${found.length - others} record(s) is ${file} ` +
      `(updated ${parseTime(best.record.updatedAt)?.toISOString() ?? 'at an unknown time'}; phases: ${modes.join(', ') || 'none'})` +
      (others > 0 ? `; ${others} record(s) of other deployments ignored` : ''),
  );
}

async function gateCommand(args: string[], io: ToolIo): Promise<void> {
  const opts = options(args, ['comments', 'approvers', 'deployer', 'out'], ['allow-self']);
  let comments: unknown = [];
  try {
    comments = JSON.parse(await readFile(required(opts, 'comments'), 'utf8'));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    io.log(`comments not read (${errorMessage(e)}): still pending`);
  }
  const decision = decideGate(parseComments(comments), {
    approvers: parseApprovers(opts.get('approvers') ?? ''),
    deployer: required(opts, 'deployer'),
    allowSelf: opts.has('allow-self'),
  });
  await writeFile(required(opts, 'out'), decision.state, 'utf8');
  io.log(decision.reason);
}

/** Runs one command; returns the process exit code (0 done, 1 failed, 2 bad usage). */
export async function runRecordTool(args: string[], io: ToolIo = defaultIo): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === 'report') await report(rest, io);
    else if (command === 'incident-report') await incidentReportCommand(rest, io);
    else if (command === 'plan-checkpoint') await planCheckpointCommand(rest, io);
    else if (command === 'pick-latest') await pickLatestCommand(rest, io);
    else if (command === 'gate') await gateCommand(rest, io);
    else
      throw new UsageError(
        `unknown command ${JSON.stringify(command ?? '')}: use report, incident-report, plan-checkpoint, pick-latest or gate`,
      );
    return 0;
  } catch (e) {
    io.log(`record-tool: ${errorMessage(e)}`);
    return e instanceof UsageError ? 2 : 1;
  }
}
