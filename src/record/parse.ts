// Reading a record back. Everything in it is untrusted (it passed through job outputs, artifacts
// and files): shape, version, ids and paths are checked before anything uses them, and so is every
// typed part of canary.evidence and extra. A part the modes act on that is malformed refuses the
// record, naming the input; a part that is only history (verify's entries, rollback's summary, the
// canary's evidence) keeps what is well-formed and drops the rest, saying so in record.warnings.
import { MODES } from '../constants.js';
import { InputError } from '../errors.js';
import { backupPathFor } from './build.js';
import {
  CHECKPOINTS,
  DEPLOYMENT_ID_PATTERN,
  INSTANCE_ID_PATTERN,
  RECORD_KIND,
  RECORD_VERSION,
  type CanaryEvidenceRecord,
  type DeploymentRecord,
  type RecordedVerifyEntry,
  type RecordExtra,
} from './schema.js';
import { checkRecordBytes, keepWarning } from './size.js';

/** A JSON value as JSON.parse returns it (what the checks below narrow). */
type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isString = (v: Json | undefined): v is string => typeof v === 'string';
const isNumber = (v: Json | undefined): v is number => typeof v === 'number' && Number.isFinite(v);
const isBoolean = (v: Json | undefined): v is boolean => typeof v === 'boolean';
const isNumberOrNull = (v: Json | undefined): v is number | null => v === null || isNumber(v);
const listOf =
  <T extends Json>(item: (v: Json | undefined) => v is T) =>
  (v: Json | undefined): v is T[] =>
    Array.isArray(v) && v.every((x) => item(x));
const oneOf =
  <T extends string>(...allowed: T[]) =>
  (v: Json | undefined): v is T =>
    typeof v === 'string' && (allowed as string[]).includes(v);

/** Field checks of one part: each field, when present, must pass its check. */
type Fields = Record<string, (v: Json | undefined) => boolean>;

/** A record's text for a message: cut short, control and non-ASCII characters made visible. */
function visible(text: string, max = 200): string {
  return JSON.stringify(text.slice(0, max)).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * The backup path a record names must be exactly the one its deployment makes: rollback restores
 * from it and no other file. Checked when a mode takes the record as its input (src/inputs.ts) and
 * again where a script is built (src/remote/scripts.ts); the record tool reads such a record to
 * report on it.
 */
export function checkBackupPath(
  backupPath: string,
  target: { workerDir: string; targetFile: string },
  deploymentId: string,
  input = 'record',
): string {
  const expected = backupPathFor(target.workerDir, target.targetFile, deploymentId);
  if (backupPath !== expected) {
    throw new InputError(
      input,
      `names backup path ${visible(String(backupPath))}, but deployment ${deploymentId} backs up to ${expected}`,
    );
  }
  return backupPath;
}

/** A key from the record, to repeat in a warning: plain as it is, else quoted and made visible. */
function keyName(key: string): string {
  return /^[\w-]{1,20}$/.test(key) ? key : visible(key, 20);
}

/** Drops every field of `part` that fails its check, noting each in `dropped`. */
function keepWellFormed(part: JsonObject, fields: Fields, where: string, dropped: string[]): void {
  for (const [key, ok] of Object.entries(fields)) {
    if (key in part && !ok(part[key])) {
      delete part[key];
      dropped.push(`${where}.${key}`);
    }
  }
}

const CRITERION_STATUS = oneOf('pass', 'fail', 'not-judged');
const SAMPLE_COLUMNS = ['t', 'v', 'f', 'd', 'l', 'r'] as const;

function isCriterion(v: Json | undefined): v is JsonObject {
  return isObject(v) && isString(v.id) && CRITERION_STATUS(v.s);
}

function isSampleColumns(v: Json | undefined): boolean {
  return isObject(v) && SAMPLE_COLUMNS.every((k) => listOf(isNumberOrNull)(v[k])) && listOf(isNumber)(v.t);
}

const METRIC_FIELDS: Fields = {
  deleteFailed: isNumber,
  received: isNumber,
  deleted: isNumber,
  filesPerHour: isNumber,
  oldestAgeSeconds: isNumber,
  sent: isNumber,
  dataThrough: isString,
  windowEnd: isString,
  deleteFailedDimensions: listOf(isString),
};

/** One verify entry: the well-formed fields and criteria, or undefined when it is not an object. */
function verifyEntry(v: Json | undefined, where: string, dropped: string[]): RecordedVerifyEntry | undefined {
  if (!isObject(v)) {
    dropped.push(where);
    return undefined;
  }
  keepWellFormed(
    v,
    {
      startedAt: isString,
      endedAt: isString,
      sampleSeconds: isNumber,
      planned: isNumber,
      taken: isNumber,
      samples: isSampleColumns,
      metrics: isObject,
      dimensionSets: isNumber,
      criteria: Array.isArray,
      verdict: oneOf('pass', 'fail'),
    },
    where,
    dropped,
  );
  if (isObject(v.metrics)) keepWellFormed(v.metrics, METRIC_FIELDS, `${where}.metrics`, dropped);
  if (Array.isArray(v.criteria)) {
    const criteria = v.criteria.filter(isCriterion);
    if (criteria.length < v.criteria.length)
      dropped.push(`${where}.criteria (${v.criteria.length - criteria.length})`);
    // A criterion's figures are text; one without is kept with none.
    v.criteria = criteria.map((c) => ({ id: c.id, s: c.s, d: isString(c.d) ? c.d : '' }));
  }
  return v as RecordedVerifyEntry & JsonObject;
}

const PATTERN_COUNTS = listOf(
  (v): v is JsonObject => isObject(v) && isString(v.pattern) && isNumberOrNull(v.count),
);

const EVIDENCE_FIELDS: Fields = {
  decision: oneOf('go', 'no-go', 'inconclusive'),
  error: isString,
  artifact: (v) => isObject(v) && isString(v.s3Uri) && isString(v.sha256),
  install: (v) => isObject(v) && isString(v.commandId) && isString(v.status),
  watch: (v) => isObject(v) && isNumber(v.polls),
  health: PATTERN_COUNTS,
  errors: PATTERN_COUNTS,
  excerpts: listOf(
    (v): v is JsonObject => isObject(v) && isString(v.kind) && isString(v.pattern) && isString(v.line),
  ),
  service: isString,
  restarts: isNumber,
  tail: listOf(isString),
  metric: (v) => isObject(v) && isString(v.name) && isString(v.dimension) && isNumberOrNull(v.sum),
};

function canaryEvidence(v: Json | undefined, dropped: string[]): CanaryEvidenceRecord | undefined {
  if (!isObject(v)) {
    dropped.push('canary.evidence');
    return undefined;
  }
  keepWellFormed(v, EVIDENCE_FIELDS, 'canary.evidence', dropped);
  return v as CanaryEvidenceRecord & JsonObject;
}

const JUDGED: readonly string[] = CHECKPOINTS.filter((c) => c !== 'before');

const VERDICT = oneOf('pass', 'go', 'no-go', 'fail');

/** A phase entry the phase list can keep: which mode, when it started. */
function isPhase(v: Json | undefined): v is JsonObject {
  return isObject(v) && oneOf(...MODES)(v.mode) && isString(v.startedAt);
}

const PHASE_FIELDS: Fields = { endedAt: isString, verdict: VERDICT, reason: isString, dryRun: isBoolean };

const SNAPSHOT_FIELDS: Fields = {
  at: isString,
  visible: isNumber,
  inFlight: isNumber,
  delayed: isNumber,
  dlqVisible: isNumber,
  instances: isNumber,
  filesPerHour: isNumber,
  oldestAgeSeconds: isNumber,
  deleteFailed: isNumber,
};

/**
 * The phase list and the metrics columns: history the log and the notifications read. A phase that
 * names no mode or start, or a column of no checkpoint, is dropped; so is a field of the wrong kind.
 */
function checkHistory(record: JsonObject, dropped: string[]): void {
  const list = record.phases as Json[];
  const kept = list.filter(isPhase);
  if (kept.length < list.length) dropped.push(`phases (${list.length - kept.length})`);
  kept.forEach((p, i) => keepWellFormed(p, PHASE_FIELDS, `phases.${i}`, dropped));
  record.phases = kept;
  const metrics = record.metrics as JsonObject;
  for (const key of Object.keys(metrics)) {
    const column = metrics[key];
    if (!(CHECKPOINTS as string[]).includes(key) || !isObject(column)) {
      dropped.push(`metrics.${keyName(key)}`);
      delete metrics[key];
    } else keepWellFormed(column, SNAPSHOT_FIELDS, `metrics.${key}`, dropped);
  }
}

const ROLLBACK_FIELDS: Fields = {
  at: isString,
  dryRun: isBoolean,
  reasons: listOf(isString),
  counts: (v) => isObject(v) && Object.values(v).every(isNumber),
  settings: listOf(
    (v): v is JsonObject =>
      isObject(v) && isString(v.setting) && isString(v.action) && (v.now === undefined || isString(v.now)),
  ),
};

/**
 * extra's typed parts. rollout and rolloutAsg decide what a rerun and rollback do: malformed, the
 * record is refused. verify and rollback are history: what is malformed in them is dropped.
 */
function checkExtra(extra: JsonObject, input: string, dropped: string[]): RecordExtra {
  const { rollout, rolloutAsg, verify, rollback, rollbackCommands } = extra;
  if (rollout !== undefined) {
    const rows = isObject(rollout) ? rollout.batches : undefined;
    if (
      !isObject(rollout) ||
      !isString(rollout.startedAt) ||
      !Array.isArray(rows) ||
      !rows.every((row) => Array.isArray(row) && row.length === 5 && row.every(isNumber)) ||
      (rollout.unlisted !== undefined && !isNumber(rollout.unlisted))
    ) {
      throw new InputError(input, 'has a malformed rollout batch history (extra.rollout)');
    }
  }
  if (rolloutAsg !== undefined) {
    if (
      !isObject(rolloutAsg) ||
      (rolloutAsg.groupVersion !== undefined && !isString(rolloutAsg.groupVersion))
    ) {
      throw new InputError(input, 'has a malformed group version (extra.rolloutAsg)');
    }
  }
  if (verify !== undefined) {
    if (!isObject(verify)) {
      delete extra.verify;
      dropped.push('extra.verify');
    } else {
      for (const key of Object.keys(verify)) {
        const entry = JUDGED.includes(key)
          ? verifyEntry(verify[key], `extra.verify.${key}`, dropped)
          : undefined;
        if (entry === undefined) {
          if (!JUDGED.includes(key)) dropped.push(`extra.verify.${keyName(key)}`);
          delete verify[key];
        }
      }
    }
  }
  if (rollback !== undefined) {
    if (!isObject(rollback)) {
      delete extra.rollback;
      dropped.push('extra.rollback');
    } else keepWellFormed(rollback, ROLLBACK_FIELDS, 'extra.rollback', dropped);
  }
  if (rollbackCommands !== undefined && !listOf(isString)(rollbackCommands)) {
    delete extra.rollbackCommands;
    dropped.push('extra.rollbackCommands');
  }
  return extra as RecordExtra & JsonObject;
}

/**
 * Parses the `record` input (or a record file; `input` names it in every error). Returns the
 * record with its typed parts checked; what was dropped is listed in its warnings.
 */
export function parseRecord(raw: string, input = 'record'): DeploymentRecord {
  checkRecordBytes(Buffer.byteLength(raw, 'utf8'), input);
  let value: Json;
  try {
    value = JSON.parse(raw) as Json;
  } catch (e) {
    // Not the parser's message: it quotes the text it choked on, and a record file could be any
    // file the runner can read. Only where it failed is reported.
    const at = /position (\d+)/.exec((e as Error).message);
    throw new InputError(input, `is not valid JSON${at ? ` (at position ${at[1]})` : ''}`);
  }
  if (!isObject(value)) throw new InputError(input, 'must be a JSON object');
  if (value.kind !== RECORD_KIND) throw new InputError(input, `is not a ${RECORD_KIND} record`);
  if (value.version !== RECORD_VERSION) {
    throw new InputError(
      input,
      `has version ${JSON.stringify(value.version)}; this action reads version ${RECORD_VERSION}`,
    );
  }
  const deploymentId = value.deploymentId;
  if (!isString(deploymentId) || !DEPLOYMENT_ID_PATTERN.test(deploymentId)) {
    throw new InputError(input, 'has a missing or malformed deploymentId');
  }
  if (!isString(value.region)) throw new InputError(input, 'has no region');
  const target = value.target;
  if (
    !isObject(target) ||
    !isString(target.backupPath) ||
    !isString(target.workerDir) ||
    !isString(target.targetFile) ||
    !isString(target.serviceName)
  ) {
    throw new InputError(input, 'has no target (service, directory, file, backup path)');
  }
  const instances = value.instances;
  if (!isObject(instances)) throw new InputError(input, 'has no instances map');
  for (const [id, entry] of Object.entries(instances)) {
    if (!INSTANCE_ID_PATTERN.test(id))
      throw new InputError(input, `names a malformed instance id ${JSON.stringify(id)}`);
    if (!isObject(entry) || (entry.p !== 'c' && entry.p !== 'r')) {
      throw new InputError(input, `has a malformed entry for ${id}`);
    }
  }
  for (const key of ['commands', 'phases', 'warnings'] as const) {
    if (!Array.isArray(value[key])) throw new InputError(input, `has no ${key} list`);
  }
  for (const key of ['metrics', 'settings', 'extra'] as const) {
    if (!isObject(value[key])) throw new InputError(input, `has no ${key} object`);
  }
  const fleet = value.fleet;
  if (fleet !== undefined) {
    if (!isObject(fleet) || !Array.isArray(fleet.instanceIds))
      throw new InputError(input, 'has a malformed fleet');
    for (const id of fleet.instanceIds) {
      if (!isString(id) || !INSTANCE_ID_PATTERN.test(id)) {
        throw new InputError(input, `lists a malformed fleet instance id ${JSON.stringify(id)}`);
      }
    }
  }
  const redrive = value.redrive;
  if (redrive !== undefined && (!isObject(redrive) || !isString(redrive.reviewedAt))) {
    throw new InputError(input, 'has a malformed redrive review (reviewedAt missing)');
  }
  const canary = value.canary;
  if (
    canary !== undefined &&
    (!isObject(canary) || !isString(canary.instanceId) || !INSTANCE_ID_PATTERN.test(canary.instanceId))
  ) {
    const id = isObject(canary) ? canary.instanceId : canary;
    throw new InputError(input, `has a canary instance id that is not valid: ${visible(String(id), 60)}`);
  }
  const dropped: string[] = [];
  checkHistory(value, dropped);
  checkExtra(value.extra as JsonObject, input, dropped);
  if (isObject(canary) && canary.evidence !== undefined && !canaryEvidence(canary.evidence, dropped)) {
    delete canary.evidence;
  }
  // The parts the modes act on were checked above, and their values are held to the inputs'
  // patterns by checkRecordValues where a mode takes the record; metrics, phases and settings'
  // other fields are read defensively where they are read (logic/record-facts.ts).
  const record = value as unknown as DeploymentRecord;
  if (dropped.length > 0) {
    keepWarning(
      record,
      `the record had malformed parts, left out: ${dropped.slice(0, 10).join(', ')}${dropped.length > 10 ? ', …' : ''}`,
    );
  }
  return record;
}
