import { aheadOfWatermark, eventTimeProblem, isPlausibleEventTime } from '../platform/event-time.js';
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
function longestWindowMs(interval: BarInterval): number | undefined {
  // Comparisons instead of a keyed table lookup: this runs for every bar.
  return interval === 'MINUTE' ? 60_000 : interval === 'DAY' ? 25 * 3_600_000 : undefined;
}

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
  if (isAdmissibleBar(bar, watermarkMs, maxSkewMs)) return undefined;
  if (typeof bar.symbol !== 'string' || bar.symbol.length === 0) return invalid('symbol is empty');
  const { open, high, low, close, volume } = bar;
  if (!Number.isFinite(open)) return notFinite('open', open);
  if (!Number.isFinite(high)) return notFinite('high', high);
  if (!Number.isFinite(low)) return notFinite('low', low);
  if (!Number.isFinite(close)) return notFinite('close', close);
  if (!Number.isFinite(volume)) return notFinite('volume', volume);
  if (!(low > 0)) return invalid(`low ${low} is not positive`);
  if (volume < 0) return invalid(`volume ${volume} is negative`);
  if (!(high >= low)) return invalid(`low ${low} is above high ${high}`);
  if (open < low || open > high || close < low || close > high) {
    return invalid(`open ${open} or close ${close} lies outside low ${low}..high ${high}`);
  }
  const { windowStartMs, windowEndMs } = bar;
  if (!isPlausibleEventTime(windowStartMs)) return implausibleTime('windowStartMs', windowStartMs);
  if (!isPlausibleEventTime(windowEndMs)) return implausibleTime('windowEndMs', windowEndMs);
  const length = windowEndMs - windowStartMs;
  if (!(length > 0)) return invalid(`windowEndMs ${windowEndMs} is not after windowStartMs ${windowStartMs}`);
  const longest = longestWindowMs(bar.interval);
  if (longest !== undefined && length > longest) {
    return { reason: 'implausible-time', details: `a ${bar.interval} window of ${length} ms (at most ${longest})` };
  }
  return aheadRejection('windowStartMs', windowStartMs, watermarkMs, maxSkewMs, bar.ingestedAtMs);
}

/**
 * barRejection(...) === undefined, without building a reason: the engine's per-bar check. Small and free of
 * allocations and keyed accesses so that it inlines into the engine's bar path (the reasons' text, built there,
 * pushed the engine's own steps out of the optimiser's inlining budget and cost ~1 µs per bar).
 */
export function isAdmissibleBar(bar: GuardedBar, watermarkMs: number, maxSkewMs: number): boolean {
  const { open, high, low, close, volume, windowStartMs, windowEndMs } = bar;
  const length = windowEndMs - windowStartMs;
  const longest = longestWindowMs(bar.interval);
  return (
    typeof bar.symbol === 'string' &&
    bar.symbol.length > 0 &&
    Number.isFinite(open) &&
    Number.isFinite(high) &&
    Number.isFinite(low) &&
    Number.isFinite(close) &&
    Number.isFinite(volume) &&
    low > 0 &&
    volume >= 0 &&
    high >= low &&
    open >= low &&
    open <= high &&
    close >= low &&
    close <= high &&
    isPlausibleEventTime(windowStartMs) &&
    isPlausibleEventTime(windowEndMs) &&
    length > 0 &&
    (longest === undefined || length <= longest) &&
    aheadOfWatermark(windowStartMs, watermarkMs, maxSkewMs, bar.ingestedAtMs) === 0
  );
}

function notFinite(field: string, value: number): Rejection {
  return invalid(`${field} is not a finite number (${value})`);
}

function implausibleTime(field: string, ms: number): Rejection {
  return { reason: 'implausible-time', details: `${field} ${eventTimeProblem(ms)}` };
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
