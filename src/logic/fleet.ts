// Fleet ordering and reconciliation: pure functions.

export interface FleetInstance {
  id: string;
  privateIp?: string;
  zone?: string;
  launchTime?: string;
  name?: string;
}

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
