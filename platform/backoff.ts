/** How long to wait before a retry: exponential in the attempt, capped, optionally jittered. */
export interface BackoffPolicy {
  /** Delay of the first retry (attempt 0), before jitter. */
  readonly baseMs: number;
  /** Cap of the exponential delay (applied before the jitter). */
  readonly maxMs: number;
  /**
   * 'equal': half of the delay fixed and half uniformly random, so clients that failed together do not retry
   * together; 'none': the plain exponential (one process retrying its own work).
   */
  readonly jitter: 'equal' | 'none';
}

/**
 * min(maxMs, baseMs * 2^attempt), then the jitter; `random` is uniform in [0, 1) (a pure core passes its seeded
 * draw). The exponent stops growing at 30, so a long outage never overflows to Infinity (or NaN for a zero base).
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: number = Math.random()): number {
  const exponential = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return policy.jitter === 'equal' ? exponential / 2 + (exponential / 2) * random : exponential;
}
