// Duplicate S3 event notifications: two configurations that would deliver the same object event to
// the same destination. Each duplicate doubles the work the workers see, so preflight stops on it.

export interface NotificationConfig {
  id: string;
  kind: 'queue' | 'topic' | 'function';
  target: string;
  events: string[];
  prefix: string;
  suffix: string;
}

export interface DuplicatePair {
  target: string;
  ids: [string, string];
  events: string[];
  why: string;
}

/** `s3:ObjectCreated:*` covers `s3:ObjectCreated:Put`; equal names overlap; nothing else does. */
export function eventsOverlap(a: string, b: string): boolean {
  if (a === b) return true;
  const covers = (wild: string, other: string) => wild.endsWith(':*') && other.startsWith(wild.slice(0, -1));
  return covers(a, b) || covers(b, a);
}

/** The events both configurations would deliver, written as the narrower name of each pair. */
export function sharedEvents(a: string[], b: string[]): string[] {
  const shared = new Set<string>();
  for (const x of a) {
    for (const y of b) {
      if (!eventsOverlap(x, y)) continue;
      shared.add(x.endsWith(':*') && !y.endsWith(':*') ? y : x);
    }
  }
  return [...shared].sort();
}

/**
 * Some key matches both filters exactly when one prefix extends the other and one suffix extends
 * the other (the key "longer prefix + longer suffix" then matches both). Disjoint prefixes or
 * suffixes never overlap.
 */
export function keyFiltersOverlap(
  a: { prefix: string; suffix: string },
  b: { prefix: string; suffix: string },
): boolean {
  const prefixes = a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix);
  const suffixes = a.suffix.endsWith(b.suffix) || b.suffix.endsWith(a.suffix);
  return prefixes && suffixes;
}

function describeFilter(c: NotificationConfig): string {
  const parts = [];
  if (c.prefix) parts.push(`prefix '${c.prefix}'`);
  if (c.suffix) parts.push(`suffix '${c.suffix}'`);
  return parts.length ? parts.join(' and ') : 'every key';
}

export function findDuplicates(configs: NotificationConfig[]): DuplicatePair[] {
  const pairs: DuplicatePair[] = [];
  for (let i = 0; i < configs.length; i++) {
    for (let j = i + 1; j < configs.length; j++) {
      const a = configs[i];
      const b = configs[j];
      if (a.kind !== b.kind || a.target !== b.target) continue;
      const events = sharedEvents(a.events, b.events);
      if (events.length === 0 || !keyFiltersOverlap(a, b)) continue;
      pairs.push({
        target: a.target,
        ids: [a.id, b.id],
        events,
        why: `both deliver ${events.join(', ')} to the same ${a.kind}; key filters overlap (${describeFilter(a)} vs ${describeFilter(b)})`,
      });
    }
  }
  return pairs;
}
