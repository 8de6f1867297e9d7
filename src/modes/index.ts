// One runner per mode; each file reads like the runbook step it replaces.
import type { Mode } from '../constants.js';
import type { ModeRunner } from '../context.js';
import { canary } from './canary.js';
import { preflight } from './preflight.js';
import { redrive } from './redrive.js';
import { rollback } from './rollback.js';
import { rollout } from './rollout.js';
import { verify } from './verify.js';

export const RUNNERS: Partial<Record<Mode, ModeRunner>> = {
  canary,
  preflight,
  redrive,
  rollback,
  rollout,
  verify,
};
