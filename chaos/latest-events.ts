/**
 * The Redis reader's rule for a symbol's latest events (`symbolEvents`: a sorted set scored by detected-at ms,
 * trimmed to the highest `cap` scores). Pure, so the readers of every chaos suite share one tested rule.
 */

/** One pattern event of the topic, as much of it as the rule needs. */
export interface TopicEventRef {
  readonly eventId: string;
  readonly detectedAtMs: number;
}

/** How one symbol's held events differ from what the topic says it must hold. */
export interface LatestEventsDiff {
  /** Events the set must hold and does not (or fewer events held than the cap asks for). */
  readonly missing: number;
  /** Members held more than once. */
  readonly duplicates: number;
  /** Members that are not among the events the set may hold. */
  readonly extra: number;
}

/**
 * Compares the event ids a symbol's set holds with the topic's events of that symbol. With at most `cap` events the
 * set holds exactly them. With more, it holds `cap` of them: every event later than the `cap`-th latest one, and the
 * rest from the events tied with it (which of the tied ones is up to Redis's member order, so either is right).
 */
export function diffLatestEvents(topicEvents: readonly TopicEventRef[], held: readonly string[], cap: number): LatestEventsDiff {
  const heldUnique = new Set(held);
  const duplicates = held.length - heldUnique.size;
  const latestFirst = [...topicEvents].sort((a, b) => b.detectedAtMs - a.detectedAtMs);
  const boundary = latestFirst.length > cap ? latestFirst[cap - 1]!.detectedAtMs : Number.NEGATIVE_INFINITY;
  const required = latestFirst.filter((event) => event.detectedAtMs > boundary).map((event) => event.eventId);
  const allowed = new Set(latestFirst.filter((event) => event.detectedAtMs >= boundary).map((event) => event.eventId));
  const extra = [...heldUnique].filter((id) => !allowed.has(id)).length;
  const heldAllowed = heldUnique.size - extra;
  const requiredMissing = required.filter((id) => !heldUnique.has(id)).length;
  const missing = Math.max(requiredMissing, Math.min(cap, latestFirst.length) - heldAllowed);
  return { missing, duplicates, extra };
}

/** True when the set holds what the rule asks for: nothing missing, duplicated or extra. */
export function holdsLatestEvents(topicEvents: readonly TopicEventRef[], held: readonly string[], cap: number): boolean {
  const diff = diffLatestEvents(topicEvents, held, cap);
  return diff.missing === 0 && diff.duplicates === 0 && diff.extra === 0;
}
