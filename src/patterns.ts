// The validation patterns, once. src/inputs.ts holds every input to them before any AWS call, and
// src/remote/scripts.ts holds every value bound for a shell on an instance to them again right
// before quoting it (values also come from the record, which is untrusted JSON, and that check is
// the last gate). Two copies would drift apart, and a loosened copy in one place would let through
// what the other refuses. Anything that reaches a shell is restricted to characters that need no
// escaping at all; the scripts module still quotes every value.
//
// Instance and deployment ids live with the record (src/record.ts: INSTANCE_ID_PATTERN,
// DEPLOYMENT_ID_PATTERN), which validates them when it parses; both modules import them from there.

export const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;
export const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}(?:\.fifo)?$/;
export const QUEUE_URL = /^https?:\/\/[A-Za-z0-9.:-]+\/\d{12}\/[A-Za-z0-9_-]{1,80}(?:\.fifo)?$/;
export const BUCKET = /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
export const S3_KEY = /^[A-Za-z0-9!_.*'()/+=@-]{1,1024}$/;
/** s3://BUCKET/KEY split in two; the parts are then held to BUCKET and plainS3Key. */
export const S3_URI = /^s3:\/\/([^/]+)\/(.+)$/;
export const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$/;
export const PATH_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
export const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
export const SHA256 = /^[0-9a-f]{64}$/;
export const FILTER_NAME = /^[A-Za-z0-9][A-Za-z0-9:._/-]{0,127}$/;
export const FILTER_VALUE = /^[\x20-\x7e]{1,255}$/;
export const ASG_NAME = /^[A-Za-z0-9._:/@+=-]{1,255}$/;
export const LAUNCH_TEMPLATE_NAME = /^[A-Za-z0-9()./_-]{3,128}$/;
export const LAUNCH_TEMPLATE_ID = /^lt-[A-Za-z0-9]{1,32}$/;
export const IMAGE_ID = /^ami-[A-Za-z0-9]{1,32}$/;
export const REFRESH_ID = /^[A-Za-z0-9-]{1,64}$/;
export const METRIC_TOKEN = /^[A-Za-z0-9._/#:-]{1,255}$/;
export const DIMENSION = /^[A-Za-z0-9._/#:-]{1,255}$/;
export const PREFIX = /^(?:[A-Za-z0-9_.-]+\/)*$/;
export const WHOLE = /^(?:0|[1-9]\d{0,8})$/;
export const DIGITS = /^[0-9]{1,20}$/;

/** health-patterns / error-patterns: at most this many, each at most this long. */
export const MAX_PATTERNS = 20;
export const MAX_PATTERN_LENGTH = 200;
/** One grep pattern: printable ASCII only (no control or non-ASCII character reaches grep). */
export const GREP_PATTERN = new RegExp(`^[\\x20-\\x7e]{1,${MAX_PATTERN_LENGTH}}$`);

/** A worker directory: absolute, at most 512 characters, every segment plain (no '..', no root). */
export function isPlainAbsolutePath(v: unknown): v is string {
  if (typeof v !== 'string' || !v.startsWith('/') || v.length > 512) return false;
  const segments = v.split('/');
  return segments.length >= 2 && segments.slice(1).every((s) => PATH_SEGMENT.test(s));
}

/** A plain file name: FILE_NAME, and not . or .. */
export function isPlainFileName(v: unknown): v is string {
  return typeof v === 'string' && FILE_NAME.test(v) && v !== '.' && v !== '..';
}

/** An S3 key with no unsafe characters and no empty, . or .. segment (so no trailing slash). */
export function isPlainS3Key(key: string): boolean {
  return S3_KEY.test(key) && !key.split('/').some((s) => s === '' || s === '.' || s === '..');
}
