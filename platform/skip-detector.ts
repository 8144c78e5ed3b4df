/**
 * Notices when a stage drops (nearly) all of its input by design for a while, e.g. a processor whose input
 * is older than its partition's event-time clock, so that it can say so once instead of skipping silently.
 * Pure: time comes from the caller. Counts go into one-second buckets over a sliding window; the state is
 * re-evaluated when a bucket closes, and a change of state is returned once.
 */

/** Why a record was dropped, and by how much it was behind the clock that rejected it (when that applies). */
export interface SkipCause {
  readonly reason: SkipReason;
  readonly behindMs?: number;
}

export type SkipReason = 'older-than-clock' | 'older-than-latest' | 'outside-session' | 'late' | 'duplicate' | 'filtered';

export interface SkipDetectorOptions {
  /** The window the share of skipped records is measured over. */
  readonly windowMs?: number;
  /** Fewer records than this in the window never count as skipping everything. */
  readonly minRecords?: number;
  /** Skipping starts at this share of skipped records in the window... */
  readonly startShare?: number;
  /** ...and ends below this one (hysteresis: one warning per episode, not one per wobble). */
  readonly endShare?: number;
}

export interface SkipStatus {
  readonly skipping: boolean;
  /** In the window. */
  readonly seen: number;
  readonly skipped: number;
  /** The commonest reason in the window, and the largest lag behind the clock seen with it. */
  readonly reason: SkipReason | undefined;
  readonly behindMs: number | undefined;
  /** When the current episode started (ms), while skipping. */
  readonly sinceMs: number | undefined;
  /** One sentence for a log line or /ready. */
  readonly message: string;
}

/** A change of state, to be logged once. */
export type SkipTransition =
  { readonly kind: 'started'; readonly status: SkipStatus } | { readonly kind: 'ended'; readonly status: SkipStatus };

interface Bucket {
  second: number;
  seen: number;
  skipped: number;
  readonly reasons: Map<SkipReason, { count: number; behindMs: number | undefined }>;
}

const SECOND_MS = 1000;

/** "2 h 10 min", "3 min 5 s", "40 s", "12 d 3 h". */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (days > 0) return hours > 0 ? `${days} d ${hours} h` : `${days} d`;
  if (hours > 0) return minutes > 0 ? `${hours} h ${minutes} min` : `${hours} h`;
  if (minutes > 0) return seconds % 60 > 0 ? `${minutes} min ${seconds % 60} s` : `${minutes} min`;
  return `${seconds} s`;
}

/** Why the records are skipped, in words a user can act on. */
export function describeSkipping(
  subject: string,
  reason: SkipReason | undefined,
  behindMs: number | undefined,
  skipped: number,
  seen: number,
  windowMs: number,
): string {
  const share = `${skipped} of ${seen} records in the last ${formatDuration(windowMs)} skipped`;
  switch (reason) {
    case 'older-than-clock':
      return `${subject}: input is older than the partition's clock${behindMs === undefined ? '' : ` by ${formatDuration(behindMs)}`}; is a feed replaying old data? (${share})`;
    case 'older-than-latest':
      return `${subject}: bars are older than the latest one already held for their symbol${behindMs === undefined ? '' : ` by ${formatDuration(behindMs)}`}, so the latest prices do not move; is a feed replaying old data? (${share})`;
    case 'late':
      return `${subject}: input arrives after its minute was closed${behindMs === undefined ? '' : ` (${formatDuration(behindMs)} behind the watermark)`}; is a feed replaying old data? (${share})`;
    case 'outside-session':
      return `${subject}: input lies outside the regular trading session, so no intraday pattern can form (${share})`;
    case 'duplicate':
      return `${subject}: input was delivered already (${share})`;
    case 'filtered':
      return `${subject}: input is filtered out by design (${share})`;
    default:
      return `${subject}: ${share}`;
  }
}

export class SkipDetector {
  private readonly windowMs: number;
  private readonly minRecords: number;
  private readonly startShare: number;
  private readonly endShare: number;
  private readonly buckets: Bucket[] = [];
  private current: Bucket | undefined;
  private skipping = false;
  private sinceMs: number | undefined;

  constructor(
    private readonly subject: string,
    options: SkipDetectorOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 30_000;
    this.minRecords = options.minRecords ?? 50;
    this.startShare = options.startShare ?? 0.95;
    this.endShare = options.endShare ?? 0.5;
  }

  /** One record: kept (`undefined` cause) or skipped. Returns a transition when a closed second changed the state. */
  observe(nowMs: number, cause: SkipCause | undefined): SkipTransition | undefined {
    const second = Math.floor(nowMs / SECOND_MS);
    let transition: SkipTransition | undefined;
    if (this.current === undefined || this.current.second !== second) {
      transition = this.evaluate(nowMs);
      this.current = { second, seen: 0, skipped: 0, reasons: new Map() };
      this.buckets.push(this.current);
    }
    const bucket = this.current;
    bucket.seen += 1;
    if (cause !== undefined) {
      bucket.skipped += 1;
      const entry = bucket.reasons.get(cause.reason);
      if (entry === undefined) bucket.reasons.set(cause.reason, { count: 1, behindMs: cause.behindMs });
      else {
        entry.count += 1;
        if (cause.behindMs !== undefined && (entry.behindMs === undefined || cause.behindMs > entry.behindMs))
          entry.behindMs = cause.behindMs;
      }
    }
    return transition;
  }

  /** Re-evaluates at `nowMs` (also when no input arrives: an episode ends when the window empties). */
  evaluate(nowMs: number): SkipTransition | undefined {
    const status = this.status(nowMs);
    if (!this.skipping && status.skipped >= this.minRecords && status.skipped >= this.startShare * status.seen) {
      this.skipping = true;
      this.sinceMs = nowMs;
      return { kind: 'started', status: { ...status, skipping: true, sinceMs: nowMs } };
    }
    if (this.skipping && (status.seen < this.minRecords || status.skipped < this.endShare * status.seen)) {
      this.skipping = false;
      this.sinceMs = undefined;
      return { kind: 'ended', status: { ...status, skipping: false, sinceMs: undefined } };
    }
    return undefined;
  }

  /** The window's counts (complete seconds and the current one) and the state as last evaluated. */
  status(nowMs: number): SkipStatus {
    const oldest = Math.floor((nowMs - this.windowMs) / SECOND_MS);
    while (this.buckets.length > 0 && this.buckets[0]!.second <= oldest) this.buckets.shift();
    if (this.current !== undefined && this.current.second <= oldest) this.current = undefined;
    let seen = 0;
    let skipped = 0;
    const reasons = new Map<SkipReason, { count: number; behindMs: number | undefined }>();
    for (const bucket of this.buckets) {
      seen += bucket.seen;
      skipped += bucket.skipped;
      for (const [reason, entry] of bucket.reasons) {
        const total = reasons.get(reason);
        if (total === undefined) reasons.set(reason, { ...entry });
        else {
          total.count += entry.count;
          if (entry.behindMs !== undefined && (total.behindMs === undefined || entry.behindMs > total.behindMs))
            total.behindMs = entry.behindMs;
        }
      }
    }
    let reason: SkipReason | undefined;
    let behindMs: number | undefined;
    let best = 0;
    for (const [candidate, entry] of reasons) {
      if (entry.count > best) {
        best = entry.count;
        reason = candidate;
        behindMs = entry.behindMs;
      }
    }
    return {
      skipping: this.skipping,
      seen,
      skipped,
      reason,
      behindMs,
      sinceMs: this.sinceMs,
      message: describeSkipping(this.subject, reason, behindMs, skipped, seen, this.windowMs),
    };
  }
}
