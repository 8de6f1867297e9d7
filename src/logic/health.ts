// The canary's GO / NO-GO, from evidence only: pure functions, no I/O.
//
// GO needs every health pattern seen at least once, no error pattern, the service active and not
// restarted, and (when read) a zero metric sum. A canary that saw no work at all is inconclusive,
// which is a NO-GO unless the user allowed it. Anything we could not read is never a GO.
import type { WatchReport } from '../remote/results.js';
import { describeExit, isScriptVerdict, ScriptExit } from '../remote/scripts.js';

import type { CanaryDecision } from '../record.js';

// The decision's type is the record's (the canary keeps it in its evidence).
export type { CanaryDecision };

/** One watch poll as it came back from SSM. */
export interface PollObservation {
  at: string;
  commandId: string;
  /** SSM invocation status and details */
  status: string;
  statusDetails: string;
  responseCode: number;
  stderr: string;
  report: WatchReport;
}

export interface PollJudgement {
  /** Evidence that the canary is broken: any of it ends the watch at once. */
  failures: string[];
  /** Set when the poll told us nothing (SSM could not run or return it). */
  unreadable?: string;
}

export interface Patterns {
  health: string[];
  errors: string[];
}

/** Consecutive unreadable polls tolerated before the canary counts as unobservable. */
export const MAX_UNREADABLE_POLLS = 3;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** What one poll says. The exit code is the verdict; the output, when there is any, says why. */
export function judgePoll(obs: PollObservation, patterns: Patterns, restartsBaseline = 0): PollJudgement {
  const ourVerdict = obs.status === 'Failed' && isScriptVerdict(obs.responseCode);
  if (obs.status !== 'Success' && !ourVerdict) {
    const err = obs.stderr.trim().split('\n').slice(-2).join(' ').slice(0, 200);
    return {
      failures: [],
      unreadable: `SSM ${obs.status}${obs.statusDetails && obs.statusDetails !== obs.status ? ` (${obs.statusDetails})` : ''}${obs.responseCode >= 0 ? `, exit code ${obs.responseCode}` : ''}${err ? `: ${err}` : ''}`,
    };
  }
  const r = obs.report;
  const code = obs.status === 'Success' ? ScriptExit.Ok : obs.responseCode;
  const failures: string[] = [];
  if (code === ScriptExit.Inactive || (r.service !== undefined && r.service !== 'active')) {
    failures.push(`the service is ${r.service ?? 'not active'}`);
  }
  if (r.restarts !== undefined && r.restarts > restartsBaseline) {
    failures.push(
      `the service restarted ${plural(r.restarts - restartsBaseline, 'time')} on its own (crash loop)`,
    );
  } else if (code === ScriptExit.Restarted) {
    failures.push('the service restarted on its own (crash loop)');
  }
  let errorNamed = false;
  r.errors.forEach((n, i) => {
    if (n !== undefined && n > 0) {
      errorNamed = true;
      failures.push(`error pattern ${JSON.stringify(patterns.errors[i])} appeared ${plural(n, 'time')}`);
    }
  });
  if (code === ScriptExit.ErrorPattern && !errorNamed) {
    failures.push('an error pattern appeared in the journal (no output to say which)');
  }
  for (const bad of r.invalid) {
    const list = bad.kind === 'health' ? patterns.health : patterns.errors;
    failures.push(
      `${bad.kind} pattern ${JSON.stringify(list[bad.index])} was rejected by grep -E on the instance`,
    );
  }
  if (code === ScriptExit.BadPattern && r.invalid.length === 0) {
    failures.push(describeExit(ScriptExit.BadPattern));
  }
  if (failures.length === 0 && code !== ScriptExit.Ok) failures.push(describeExit(code));
  return { failures };
}

/**
 * Whether the watch must end now: at the first failure, or once the canary has been unreadable
 * for MAX_UNREADABLE_POLLS polls in a row.
 */
export function failFastReason(judgements: PollJudgement[]): string | undefined {
  const last = judgements[judgements.length - 1];
  if (!last) return undefined;
  if (last.failures.length > 0) return last.failures.join('; ');
  let unreadable = 0;
  for (let i = judgements.length - 1; i >= 0 && judgements[i].unreadable; i--) unreadable++;
  if (unreadable >= MAX_UNREADABLE_POLLS) {
    return `the canary could not be read ${unreadable} times in a row (last: ${last.unreadable})`;
  }
  return undefined;
}

export interface CanaryEvidence {
  patterns: Patterns;
  polls: PollObservation[];
  judgements: PollJudgement[];
  /** Sum of metric-name for the canary over the window; undefined when not read or no data. */
  metricSum?: number;
  metricName?: string;
  /** Why the watch ended before the window did, when it did (cancellation, fail-fast). */
  stoppedEarly?: string;
}

export interface CanaryJudgement {
  decision: CanaryDecision;
  reasons: string[];
  /** Highest count seen per pattern (the journal is read since the restart, so counts only grow). */
  healthCounts: (number | undefined)[];
  errorCounts: (number | undefined)[];
}

function highest(
  polls: PollObservation[],
  pick: (r: WatchReport) => (number | undefined)[],
  n: number,
): (number | undefined)[] {
  return Array.from({ length: n }, (_, i) => {
    let best: number | undefined;
    for (const p of polls) {
      const v = pick(p.report)[i];
      if (v !== undefined) best = Math.max(best ?? 0, v);
    }
    return best;
  });
}

export function judgeCanary(e: CanaryEvidence): CanaryJudgement {
  const healthCounts = highest(e.polls, (r) => r.health, e.patterns.health.length);
  const errorCounts = highest(e.polls, (r) => r.errors, e.patterns.errors.length);
  const base = { healthCounts, errorCounts };

  const failures = [...new Set(e.judgements.flatMap((j) => j.failures))];
  if (e.metricSum !== undefined && e.metricSum > 0) {
    failures.push(`${e.metricName ?? 'the metric'} summed to ${e.metricSum} for the canary (must stay 0)`);
  }
  if (failures.length > 0) return { decision: 'no-go', reasons: failures, ...base };
  if (e.stoppedEarly) return { decision: 'no-go', reasons: [e.stoppedEarly], ...base };

  const last = e.judgements[e.judgements.length - 1];
  if (!last) return { decision: 'no-go', reasons: ['the canary was never checked'], ...base };
  if (last.unreadable) {
    return {
      decision: 'no-go',
      reasons: [`the canary's state could not be read at the end of the watch: ${last.unreadable}`],
      ...base,
    };
  }
  const readable = e.judgements.filter((j) => !j.unreadable).length;
  const checked = `service active and not restarted, no error pattern, in ${plural(readable, 'check')}`;

  const health = e.patterns.health;
  if (health.length === 0) {
    return {
      decision: 'go',
      reasons: [`${checked} (no health patterns: judged on service state and errors alone)`],
      ...base,
    };
  }
  if (healthCounts.every((c) => c === undefined)) {
    return {
      decision: 'inconclusive',
      reasons: [
        `${checked}, but the instance returned no output, so the health patterns could not be counted`,
      ],
      ...base,
    };
  }
  const seen = health.filter((_, i) => (healthCounts[i] ?? 0) > 0);
  const missing = health.filter((_, i) => (healthCounts[i] ?? 0) === 0);
  if (seen.length === 0) {
    return {
      decision: 'inconclusive',
      reasons: [
        `${checked}, but the canary saw no work: none of the ${plural(health.length, 'health pattern')} appeared`,
      ],
      ...base,
    };
  }
  if (missing.length > 0) {
    return {
      decision: 'no-go',
      reasons: [
        `health ${missing.length === 1 ? 'pattern' : 'patterns'} ${missing.map((p) => JSON.stringify(p)).join(', ')} never appeared while ${seen.map((p) => JSON.stringify(p)).join(', ')} did`,
      ],
      ...base,
    };
  }
  return { decision: 'go', reasons: [`${checked}; every health pattern seen`], ...base };
}

/** The step's verdict: an inconclusive canary passes only when the user allowed it. */
export function canaryVerdict(decision: CanaryDecision, allowInconclusive: boolean): 'go' | 'no-go' {
  if (decision === 'inconclusive') return allowInconclusive ? 'go' : 'no-go';
  return decision;
}
