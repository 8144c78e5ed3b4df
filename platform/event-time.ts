/**
 * The event times the pipeline accepts. A record's time outside this range is a unit mistake (micro- or
 * nanoseconds read as milliseconds, seconds read as ms) or garbage, never market data; letting it through
 * moves event-time clocks (expiries, sessions) and breaks stores whose time type is narrower than a JS Date
 * (PostgreSQL rejects ISO years above 9999, so one such bar would stop a projection's COPY).
 */
const EARLIEST_EVENT_TIME_MS = 0;
/** 2200-01-01T00:00:00Z (exclusive). */
export const LATEST_EVENT_TIME_MS = Date.UTC(2200, 0, 1);

/** Why `ms` is not a plausible event time (integer ms in 1970..2200), or undefined when it is. */
export function eventTimeProblem(ms: number): string | undefined {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return `is not a finite number (${String(ms)})`;
  if (!Number.isInteger(ms)) return `is not a whole number of milliseconds (${ms})`;
  if (ms < EARLIEST_EVENT_TIME_MS) return `is before 1970-01-01 (${ms} ms)`;
  if (ms >= LATEST_EVENT_TIME_MS) return `is after 2200-01-01 (${ms} ms; micro- or nanoseconds?)`;
  return undefined;
}

/** True for an integer ms time in 1970..2200 (see eventTimeProblem). */
export function isPlausibleEventTime(ms: number): boolean {
  return Number.isInteger(ms) && ms >= EARLIEST_EVENT_TIME_MS && ms < LATEST_EVENT_TIME_MS;
}

/** Default bound on how far one record may move an event-time clock ahead (see aheadOfWatermark). */
export const DEFAULT_MAX_EVENT_TIME_SKEW_MS = 7 * 86_400_000;

/**
 * How far `timeMs` lies beyond what may move an event-time clock at `watermarkMs`, or 0 when it may: a time
 * at most `maxSkewMs` ahead of the watermark, or vouched for by its own ingestion time (`ingestedAtMs`, stamped
 * by ingest's wall clock: a record no later than that plus the skew is not from the future, whatever gap in the
 * stream preceded it, so a feed that resumes after a pause is accepted). No watermark yet (negative): 0.
 */
export function aheadOfWatermark(timeMs: number, watermarkMs: number, maxSkewMs: number, ingestedAtMs?: number): number {
  if (watermarkMs < 0 || timeMs - watermarkMs <= maxSkewMs) return 0;
  if (ingestedAtMs !== undefined && Number.isFinite(ingestedAtMs) && timeMs - ingestedAtMs <= maxSkewMs) return 0;
  return timeMs - watermarkMs;
}
