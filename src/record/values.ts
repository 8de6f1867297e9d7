// The record's values held to the inputs' patterns. The record came through job outputs and is
// untrusted: every value in it that later reaches an AWS call or an instance is held to the pattern
// the matching input is held to, so a forged or corrupted record is refused before any AWS call,
// naming the record. Which values are checked, and how the refusal reads, is decided here; the
// patterns are the inputs' own (src/inputs.ts passes them in, so there is one copy of each).
import { InputError } from '../errors.js';
import { IMAGE_ID, LAUNCH_TEMPLATE_ID, REFRESH_ID } from '../patterns.js';
import { checkBackupPath } from './parse.js';
import { INSTANCE_ID_PATTERN, type DeploymentRecord } from './schema.js';

/** The inputs' checks, by the kind of value they hold. */
export interface RecordValueChecks {
  serviceName(v: string): boolean;
  workerDir(v: string): boolean;
  /** A plain file name (not . or ..). */
  fileName(v: string): boolean;
  queueUrl(v: string): boolean;
  s3Uri(v: string): boolean;
  sha256(v: string): boolean;
  launchTemplateName(v: string): boolean;
  asgName(v: string): boolean;
  /** Quotes a value for an error message (cut short, invisible characters made visible). */
  show(v: string): string;
}

// Values only the record carries (no input names them) are held to AWS's id formats, from the one
// pattern module.
const GROUP_VERSION = /^(?:[1-9][0-9]{0,9}|\$Default|\$Latest)$/;
const DESIRED = ['launch-template', 'mixed-instances-policy', 'none'];

type Value = string | number | boolean | undefined;

export function checkRecordValues(r: DeploymentRecord, input: string, checks: RecordValueChecks): void {
  const refuse = (what: string, value: Value): never => {
    throw new InputError(input, `has ${what} that is not valid: ${checks.show(String(value))}`);
  };
  const is = (value: Value, ok: (v: string) => boolean) => typeof value === 'string' && ok(value);
  const pattern = (p: RegExp) => (v: string) => p.test(v);
  const t = r.target;
  if (!is(t.serviceName, checks.serviceName)) refuse('a target service name', t.serviceName);
  if (typeof t.workerDir !== 'string' || t.workerDir === '') refuse('a target directory', t.workerDir);
  if (!checks.workerDir(t.workerDir)) refuse('a target directory', t.workerDir);
  if (!is(t.targetFile, checks.fileName)) refuse('a target file name', t.targetFile);
  checkBackupPath(t.backupPath, t, r.deploymentId, input);
  if (r.queue !== undefined) {
    if (!is(r.queue.url, checks.queueUrl)) refuse('a queue URL', r.queue.url);
    if (r.queue.dlqUrl !== undefined && !is(r.queue.dlqUrl, checks.queueUrl))
      refuse('a DLQ URL', r.queue.dlqUrl);
  }
  if (r.artifact !== undefined) {
    if (!is(r.artifact.s3Uri, checks.s3Uri)) refuse('an artifact location', r.artifact.s3Uri);
    if (!is(r.artifact.sha256, checks.sha256)) refuse('an artifact SHA-256', r.artifact.sha256);
  }
  const { launchTemplate, refresh, image } = r.settings;
  if (launchTemplate !== undefined) {
    if (!is(launchTemplate.id, pattern(LAUNCH_TEMPLATE_ID)))
      refuse('a launch template id', launchTemplate.id);
    if (!is(launchTemplate.name, checks.launchTemplateName))
      refuse('a launch template name', launchTemplate.name);
    for (const v of [launchTemplate.previousDefault, launchTemplate.newVersion]) {
      if (!Number.isInteger(v) || v < 0) refuse('a launch template version', v);
    }
    const src = launchTemplate.sourceVersion;
    if (src !== undefined && (!Number.isInteger(src) || src < 1)) refuse('a launch template version', src);
    const gv = launchTemplate.groupVersion;
    if (gv !== undefined && !is(gv, pattern(GROUP_VERSION))) refuse('a group launch template version', gv);
    for (const flag of [launchTemplate.mixed, launchTemplate.movedDefault]) {
      if (flag !== undefined && typeof flag !== 'boolean') refuse('a launch template flag', flag);
    }
  }
  for (const rf of [refresh, r.settings.revertRefresh]) {
    if (rf === undefined) continue;
    if (!is(rf.asgName, checks.asgName)) refuse('an Auto Scaling group name', rf.asgName);
    // '' is the rollout's intent, recorded before StartInstanceRefresh answered.
    if (!(rf === refresh && rf.id === '') && !is(rf.id, pattern(REFRESH_ID)))
      refuse('an instance refresh id', rf.id);
  }
  const desired = refresh?.desired;
  if (desired !== undefined && !DESIRED.includes(desired)) refuse('a desired configuration kind', desired);
  if (image !== undefined) {
    if (!is(image.id, pattern(IMAGE_ID))) refuse('an image id', image.id);
    if (!is(image.sourceInstanceId, pattern(INSTANCE_ID_PATTERN)))
      refuse('an image source instance', image.sourceInstanceId);
  }
}
