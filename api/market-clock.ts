import type { Queryable } from '../store/queryable.js';

/** How long (wall time) a read of the market clock is reused before the next request reads it again. */
export const MARKET_CLOCK_REFRESH_MS = 1_000;

/**
 * The market clock: how far event time has got, taken as the detection time of the newest active pattern.
 * Patterns expire on the processors' event-time clock, not the wall clock, so `age_seconds` and
 * `expires_in_seconds` measured against this clock agree with `status` whatever the wall clock says (a replay,
 * a simulator running faster or slower than real time, a night without market data).
 *
 * One index read (the active detected-at index) at most once per `refreshMs` of wall time, shared by concurrent
 * requests. With no active pattern the last value read stands; before any, `fallback` (the wall clock) does.
 */
export class MarketClock {
  private value: number | undefined;
  private readAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly db: Queryable,
    private readonly fallback: () => number,
    private readonly refreshMs: number = MARKET_CLOCK_REFRESH_MS,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** The market time in epoch ms. */
  async now(): Promise<number> {
    if (performance.now() - this.readAt >= this.refreshMs) {
      this.reading ??= this.read().finally(() => {
        this.reading = undefined;
      });
      await this.reading;
    }
    return this.value ?? this.fallback();
  }

  private async read(): Promise<void> {
    try {
      const { rows } = await this.db.query<{ latest: Date | string | null }>(
        `SELECT max(detected_at) AS latest FROM patterns WHERE status = 'active'`,
      );
      const latest = rows[0]?.latest;
      if (latest !== null && latest !== undefined) this.value = new Date(latest).getTime();
      this.readAt = performance.now();
    } catch (error) {
      // The previous value (or the wall clock) stands; the next request tries again.
      this.onError(error);
    }
  }
}
