import { aheadOfWatermark, eventTimeProblem } from '../platform/event-time.js';
import type { BarInterval } from '../platform/records.js';

/**
 * Pure admission checks of the processors' inputs: what a bar or a trade must satisfy before it may touch a
 * partition's state. A rejected record changes nothing; the shell dead-letters it with this reason.
 */
export interface Rejection {
  /** `invalid`: impossible values; `implausible-time`: a time outside 1970..2200 or a window of the wrong
   * length; `ahead-of-watermark`: too far ahead of the partition's event time (see aheadOfWatermark);
   * `symbol-limit`: a new symbol when the partition's engine already holds its cap of symbols. */
  readonly reason: 'invalid' | 'implausible-time' | 'ahead-of-watermark' | 'symbol-limit';
  readonly details: string;
}

/** The fields of an aggregate the checks read. */
export interface GuardedBar {
  readonly symbol: string;
  readonly interval: BarInterval;
  readonly windowStartMs: number;
  readonly windowEndMs: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  readonly ingestedAtMs?: number;
}

/** The fields of a trade the checks read. */
export interface GuardedTrade {
  readonly symbol: string;
  readonly price: number;
  readonly size: number;
  readonly sipTimestampMs: number;
  readonly ingestedAtMs?: number;
}

/** Longest window of the intervals the engine folds (a day is 25 h on the autumn DST switch; second bars are ignored). */
const MAX_WINDOW_MS: Partial<Record<BarInterval, number>> = { MINUTE: 60_000, DAY: 25 * 3_600_000 };

const invalid = (details: string): Rejection => ({ reason: 'invalid', details });

function describeDays(ms: number): string {
  return `${(ms / 86_400_000).toFixed(1)} days`;
}

function aheadRejection(
  field: string,
  timeMs: number,
  watermarkMs: number,
  maxSkewMs: number,
  ingestedAtMs: number | undefined,
): Rejection | undefined {
  const ahead = aheadOfWatermark(timeMs, watermarkMs, maxSkewMs, ingestedAtMs);
  if (ahead === 0) return undefined;
  return {
    reason: 'ahead-of-watermark',
    details: `${field} ${new Date(timeMs).toISOString()} is ${describeDays(ahead)} ahead of the partition's event time ${new Date(watermarkMs).toISOString()} (max skew ${describeDays(maxSkewMs)}) and of its own ingestion time`,
  };
}

/**
 * Why a bar must not be folded, or undefined. `watermarkMs` is the partition's event time (the latest bar
 * start folded; negative before the first), `maxSkewMs` how far ahead of it one bar may move it.
 */
export function barRejection(bar: GuardedBar, watermarkMs: number, maxSkewMs: number): Rejection | undefined {
  if (typeof bar.symbol !== 'string' || bar.symbol.length === 0) return invalid('symbol is empty');
  for (const field of ['open', 'high', 'low', 'close', 'volume'] as const) {
    if (!Number.isFinite(bar[field])) return invalid(`${field} is not a finite number (${bar[field]})`);
  }
  if (!(bar.low > 0)) return invalid(`low ${bar.low} is not positive`);
  if (bar.volume < 0) return invalid(`volume ${bar.volume} is negative`);
  if (!(bar.high >= bar.low)) return invalid(`low ${bar.low} is above high ${bar.high}`);
  if (bar.open < bar.low || bar.open > bar.high || bar.close < bar.low || bar.close > bar.high) {
    return invalid(`open ${bar.open} or close ${bar.close} lies outside low ${bar.low}..high ${bar.high}`);
  }
  for (const field of ['windowStartMs', 'windowEndMs'] as const) {
    const problem = eventTimeProblem(bar[field]);
    if (problem !== undefined) return { reason: 'implausible-time', details: `${field} ${problem}` };
  }
  const length = bar.windowEndMs - bar.windowStartMs;
  if (!(length > 0)) return invalid(`windowEndMs ${bar.windowEndMs} is not after windowStartMs ${bar.windowStartMs}`);
  const longest = MAX_WINDOW_MS[bar.interval];
  if (longest !== undefined && length > longest) {
    return { reason: 'implausible-time', details: `a ${bar.interval} window of ${length} ms (at most ${longest})` };
  }
  return aheadRejection('windowStartMs', bar.windowStartMs, watermarkMs, maxSkewMs, bar.ingestedAtMs);
}

/** Why a trade must not be folded into trade bars, or undefined (same rules as bars; see barRejection). */
export function tradeRejection(trade: GuardedTrade, watermarkMs: number, maxSkewMs: number): Rejection | undefined {
  if (typeof trade.symbol !== 'string' || trade.symbol.length === 0) return invalid('symbol is empty');
  if (!Number.isFinite(trade.price) || !(trade.price > 0)) return invalid(`price ${trade.price} is not a positive number`);
  if (!Number.isFinite(trade.size) || trade.size < 0) return invalid(`size ${trade.size} is not a non-negative number`);
  const problem = eventTimeProblem(trade.sipTimestampMs);
  if (problem !== undefined) return { reason: 'implausible-time', details: `sipTimestampMs ${problem}` };
  return aheadRejection('sipTimestampMs', trade.sipTimestampMs, watermarkMs, maxSkewMs, trade.ingestedAtMs);
}
