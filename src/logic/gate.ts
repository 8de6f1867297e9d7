// The fallback GO/NO-GO gate, for plans where a GitHub environment cannot have required reviewers
// (private repositories below GitHub Enterprise): the deploy run opens an issue after the canary and
// waits for a named approver to comment GO or NO-GO. This decides from the comments.

/** A comment as `GET /repos/{owner}/{repo}/issues/{n}/comments` returns it, reduced to what counts. */
export interface GateComment {
  user: string;
  body: string;
}

export interface GatePolicy {
  /** GitHub logins allowed to decide (repository variable GO_NO_GO_APPROVERS). */
  approvers: string[];
  /** Who dispatched the deployment. */
  deployer: string;
  /** Whether the deployer may decide on their own deployment (off: a second person decides). */
  allowSelf: boolean;
}

export interface GateDecision {
  state: 'go' | 'no-go' | 'pending';
  by?: string;
  reason: string;
}

const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;

/** The approver list from a comma- or space-separated variable; malformed names are dropped. */
export function parseApprovers(raw: string): string[] {
  return raw
    .split(/[\s,]+/)
    .map((s) => s.replace(/^@/, ''))
    .filter((s) => LOGIN.test(s));
}

/**
 * GO or NO-GO when the comment's first line is that word (any case), alone or followed by a reason
 * after a colon or dash ("NO-GO: errors in the log"). Anything else ("go ahead?", "good") is talk.
 */
export function commentVerdict(body: string): 'go' | 'no-go' | undefined {
  const first = body.trim().split(/\r?\n/)[0].trim();
  const m = /^(NO[- ]?GO|GO)[.!]*(?:\s*[:—–]|\s+-\s|$)/i.exec(first);
  if (!m) return undefined;
  return m[1].toUpperCase() === 'GO' ? 'go' : 'no-go';
}

/**
 * Only approvers' comments count, and not the deployer's own unless allowed. A NO-GO from any
 * approver wins over a GO: stopping is the safe side when two people disagree.
 */
export function decideGate(comments: GateComment[], policy: GatePolicy): GateDecision {
  const approvers = new Set(policy.approvers.map((a) => a.toLowerCase()));
  if (approvers.size === 0)
    return { state: 'no-go', reason: 'no approver is configured (GO_NO_GO_APPROVERS)' };
  const deployer = policy.deployer.toLowerCase();
  const counted = comments.flatMap((c) => {
    const verdict = commentVerdict(c.body);
    const user = c.user.toLowerCase();
    if (!verdict || !approvers.has(user)) return [];
    if (user === deployer && !policy.allowSelf) return [];
    return [{ verdict, by: c.user }];
  });
  const noGo = counted.find((c) => c.verdict === 'no-go');
  if (noGo) return { state: 'no-go', by: noGo.by, reason: `NO-GO from @${noGo.by}` };
  const go = counted.find((c) => c.verdict === 'go');
  if (go) return { state: 'go', by: go.by, reason: `GO from @${go.by}` };
  return { state: 'pending', reason: 'waiting for GO or NO-GO from an approver' };
}

/** The issue comments from the GitHub API; anything that does not look like one is dropped. */
export function parseComments(json: unknown): GateComment[] {
  if (!Array.isArray(json)) return [];
  return json.flatMap((c: unknown) => {
    if (typeof c !== 'object' || c === null) return [];
    const { user, body } = c as Record<string, unknown>;
    const login =
      typeof user === 'object' && user !== null ? (user as Record<string, unknown>).login : undefined;
    if (typeof login !== 'string' || typeof body !== 'string') return [];
    return [{ user: login, body: body.slice(0, 2000) }];
  });
}
