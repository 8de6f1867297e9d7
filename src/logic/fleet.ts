// Fleet ordering and reconciliation: pure functions.
import type { FleetMemberNow } from '../observed.js';
import { installStatus, type InstanceEntry } from '../record.js';

export type { FleetInstance, FleetMemberNow } from '../observed.js';

/** The stable order every mode uses: by instance id, so reruns pick the same canary and batches. */
export function stableOrder<T extends { id: string }>(instances: T[]): T[] {
  const seen = new Set<string>();
  const unique = instances.filter((i) => (seen.has(i.id) ? false : (seen.add(i.id), true)));
  return unique.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export interface Reconciliation {
  /** In the fleet now and not in the earlier list. */
  appeared: string[];
  /** In the earlier list, no longer running. */
  vanished: string[];
  /** In both. */
  kept: string[];
}

export function reconcile(earlier: string[], now: string[]): Reconciliation {
  const before = new Set(earlier);
  const current = new Set(now);
  return {
    appeared: now.filter((id) => !before.has(id)),
    vanished: earlier.filter((id) => !current.has(id)),
    kept: now.filter((id) => before.has(id)),
  };
}

/** What says that an instance runs this deployment's fix. */
export interface FixEvidence {
  deploymentId: string;
  /** Per-instance install status from the record (canary and rollout). */
  entries: Readonly<Record<string, Pick<InstanceEntry, 's'>>>;
  /** strategy asg: the image baked from the canary and the launch template version made for it. */
  imageId?: string;
  launchTemplateVersion?: number;
}

export interface FleetFixReading {
  /** Running fleet instances (filters, and InService when a group is named). */
  running: string[];
  runsFix: string[];
  /** Running instances that joined after preflight and do not run the fix. */
  newcomers: string[];
  /** Running instances preflight saw that do not run the fix, with why. */
  notFixed: { id: string; why: string }[];
  /** Instances preflight saw (or the deployment touched) that are no longer in the fleet. */
  gone: string[];
  /** Running instances the group is bringing in or taking out (Pending, Terminating, Standby…). */
  transitioning: string[];
  /** Nothing in the record says the fix was installed anywhere: only "running" can be judged. */
  noInstall: boolean;
}

// Auto Scaling lifecycle states in which an instance serves the group; the others are on their way
// in or out (API_Instance, LifecycleState).
const SERVING = new Set(['InService']);

/**
 * Judges the fleet as it is now, not as preflight saw it: every running fleet instance must run the
 * fix. For an in-place (ssm) install the evidence is the deployment tag, written before the install,
 * together with the record's "installed" for that instance; for strategy asg it is the baked image
 * or the new launch template version the instance was launched from. Instances preflight saw that
 * are gone (scale-in, a refresh) are reported, never failed.
 */
export function classifyFleet(earlier: string[], now: FleetMemberNow[], fix: FixEvidence): FleetFixReading {
  // Only a stated lifecycle other than InService takes an instance out of the judgement.
  const inTransition = (m: FleetMemberNow) =>
    m.group?.lifecycle !== undefined && !SERVING.has(m.group.lifecycle);
  const transitioning = now.filter(inTransition).map((m) => m.id);
  const serving = now.filter((m) => !inTransition(m));
  const before = new Set(earlier);
  const present = new Set(now.map((m) => m.id));
  const noInstall =
    fix.imageId === undefined &&
    fix.launchTemplateVersion === undefined &&
    !Object.values(fix.entries).some((e) => installStatus(e) === 'installed');
  const out: FleetFixReading = {
    running: serving.map((m) => m.id),
    runsFix: [],
    newcomers: [],
    notFixed: [],
    gone: earlier.filter((id) => !present.has(id)),
    transitioning,
    noInstall,
  };
  for (const m of serving) {
    const why = whyNotFixed(m, fix);
    if (why === undefined) out.runsFix.push(m.id);
    else if (!before.has(m.id) && fix.entries[m.id] === undefined) out.newcomers.push(m.id);
    else out.notFixed.push({ id: m.id, why });
  }
  return out;
}

/** undefined when the instance runs the fix; otherwise the reason it does not (or is not known to). */
function whyNotFixed(m: FleetMemberNow, fix: FixEvidence): string | undefined {
  if (fix.imageId !== undefined && m.imageId === fix.imageId) return undefined;
  const version = m.group?.launchTemplateVersion;
  if (fix.launchTemplateVersion !== undefined && version === String(fix.launchTemplateVersion))
    return undefined;
  const entry = fix.entries[m.id];
  const status = entry && installStatus(entry);
  const tagged = m.deploymentTag === fix.deploymentId;
  if (status === 'installed' && tagged) return undefined;
  if (status === 'installed') return 'the record says installed but the instance lacks the deployment tag';
  if (entry) return `install ${status}`;
  if (tagged) return 'tagged for this deployment but no install result in the record';
  return 'never deployed to';
}
