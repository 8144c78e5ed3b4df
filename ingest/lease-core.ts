/**
 * The pure decisions of ingest's active/standby lease (the Kafka shell is lease.ts). Ingest is a singleton by nature
 * (Massive allows one socket per API key): every instance joins one consumer group on a one-partition topic, and the
 * member assigned that partition is the active instance. Who gets it is decided here, by the group's leader, from what
 * each member says when it joins (its claim): the holder keeps the lease across rebalances (a standby joining never
 * moves it), and when the holder is gone the longest-waiting standby takes over. An instance that froze (a long pause,
 * a partition) and comes back still claiming the lease loses it to the newer holder, whose producer has fenced its own.
 */

/** What a member tells the group when it joins (the user data of its subscription). */
export interface LeaseClaim {
  /** The instance's name (logs, /ready, metrics). */
  readonly instance: string;
  /** Since when it holds the lease (ms since the epoch; null when it does not): the newest holder is the one Kafka lets write. */
  readonly holdingSinceMs: number | null;
  /** When it started waiting for the lease (ms since the epoch): the longest-waiting standby takes over first. */
  readonly waitingSinceMs: number;
}

export interface LeaseCandidate {
  readonly memberId: string;
  /** Undefined when the member's claim could not be read (an instance of another version): it gets the lease last. */
  readonly claim: LeaseClaim | undefined;
}

/** The claim as bytes (JSON), and back; anything unreadable is undefined. */
export function encodeClaim(claim: LeaseClaim): Buffer {
  return Buffer.from(JSON.stringify(claim));
}

export function decodeClaim(bytes: Buffer | null | undefined): LeaseClaim | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  try {
    const value = JSON.parse(bytes.toString('utf8')) as Partial<LeaseClaim>;
    const holding = value.holdingSinceMs;
    if (typeof value.instance !== 'string' || typeof value.waitingSinceMs !== 'number' || (holding !== null && typeof holding !== 'number'))
      return undefined;
    return { instance: value.instance, holdingSinceMs: holding, waitingSinceMs: value.waitingSinceMs };
  } catch {
    return undefined;
  }
}

const byMemberId = (a: LeaseCandidate, b: LeaseCandidate) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0);

/** Longest waiting first. */
function longestWaiting(a: LeaseCandidate, b: LeaseCandidate): number {
  const since = (candidate: LeaseCandidate) => candidate.claim?.waitingSinceMs ?? Number.POSITIVE_INFINITY;
  return since(a) - since(b) || byMemberId(a, b);
}

/** Newest holder first. */
function newestHolder(a: LeaseCandidate, b: LeaseCandidate): number {
  return (b.claim?.holdingSinceMs ?? 0) - (a.claim?.holdingSinceMs ?? 0) || byMemberId(a, b);
}

/**
 * The member that gets the lease: the member that holds it keeps it. Two claiming it (one froze, was taken over, and
 * came back) resolve to the newest holder: its producer has fenced the older one's, which steps down. Without a
 * holder, the longest-waiting member. Ties by member id, so every leader decides the same. None when no member.
 */
export function chooseLeaseHolder(candidates: readonly LeaseCandidate[]): string | undefined {
  const holders = candidates.filter((candidate) => typeof candidate.claim?.holdingSinceMs === 'number');
  if (holders.length > 0) return [...holders].sort(newestHolder)[0]!.memberId;
  return [...candidates].sort(longestWaiting)[0]?.memberId;
}

/** Where an instance is: joining the group, waiting, writing, or done (it lost the lease and must stop). */
export type LeaseRole = 'joining' | 'standby' | 'active' | 'lost';

export const LEASE_ROLES: readonly LeaseRole[] = ['joining', 'standby', 'active', 'lost'];

export type LeaseEvent =
  /** The group's (re)assignment: whether this member was given the lease partition. */
  | { readonly kind: 'assigned'; readonly holds: boolean }
  /** Kafka refused this instance's writes: another instance has initialised the lease's transactional producer. */
  | { readonly kind: 'fenced' }
  /** The group membership failed for good (the consumer crashed and will not rejoin). */
  | { readonly kind: 'group-failed' };

/**
 * What the shell does on a step: `activate` opens the fenced producer (which fences any previous holder) and starts
 * the feed; `deactivate` stops the feed and ends the process's part (its supervisor restarts it as a standby).
 */
export type LeaseAction = 'none' | 'activate' | 'deactivate';

export interface LeaseStep {
  readonly role: LeaseRole;
  readonly action: LeaseAction;
  /** A standby became active (counted as a takeover). */
  readonly takeover: boolean;
}

/** The next role and action of an instance in `role` on `event`. `lost` is final. */
export function stepLease(role: LeaseRole, event: LeaseEvent): LeaseStep {
  if (role === 'lost') return { role, action: 'none', takeover: false };
  if (event.kind === 'assigned') {
    if (event.holds)
      return role === 'active'
        ? { role, action: 'none', takeover: false }
        : { role: 'active', action: 'activate', takeover: role === 'standby' };
    // A holder that is not given the lease again has lost it: it stops writing before anything else.
    return role === 'active'
      ? { role: 'lost', action: 'deactivate', takeover: false }
      : { role: 'standby', action: 'none', takeover: false };
  }
  // Fenced, or out of the group for good: nothing more may be written; the process ends and comes back as a standby.
  return { role: 'lost', action: 'deactivate', takeover: false };
}
