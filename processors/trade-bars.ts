import { gunzipSync, gzipSync } from 'node:zlib';
import { DEFAULT_SIDE_TABLE_MAX_SYMBOLS } from './fundamentals.js';
import { DEFAULT_MAX_EVENT_TIME_SKEW_MS, isPlausibleEventTime } from '../platform/event-time.js';
import type { AggregateRecord } from '../platform/records.js';
import { tradeRejection, type Rejection } from './input-guard.js';

const MINUTE_MS = 60_000;
const BUILDER_VERSION = 1;

/** The fields of schemas/trade.avsc the builder reads. */
export interface TradeInput {
  readonly symbol: string;
  readonly price: number;
  readonly size: number;
  readonly sipTimestampMs: number;
  /** Ingest's wall clock when the trade was read (vouches for a trade far ahead of the watermark). */
  readonly ingestedAtMs?: number;
}

/**
 * A minute bar built from trades: a value of the minute-aggregates topic (schemas/aggregate.avsc), marked
 * `source = trades`. Its `ingestedAtMs` is the event time at which the bar closed (not the wall clock, so the
 * output stays deterministic); the day-level fields of native bars stay null.
 */
export type TradeBar = AggregateRecord & {
  interval: 'MINUTE';
  accumulatedVolume: null;
  officialOpen: null;
  dayVwap: null;
  source: 'trades';
};

/** Where the builder learns which symbols have native minute bars (a side table of the minute topic). */
export interface NativeBarsLookup {
  /** `windowStartMs` of the symbol's earliest native (not trade-built) minute bar, or undefined when it has none. */
  nativeSince(symbol: string): number | undefined;
}

/** Earliest native minute bar per symbol, fed from the minute topic (bars with `source = trades` are not native). */
export class NativeBarsTable implements NativeBarsLookup {
  private readonly since = new Map<string, number>();

  /** `maxSymbols` (PROCESSOR_SIDE_TABLE_MAX_SYMBOLS): further symbols are not recorded (they keep trade-built bars). */
  constructor(readonly maxSymbols = DEFAULT_SIDE_TABLE_MAX_SYMBOLS) {}

  /** Records a minute bar; returns true when it made the symbol native earlier than known. */
  record(symbol: string, windowStartMs: number, source: string): boolean {
    // An implausible time (a unit mistake) would mark the symbol native from 1970 on, or never.
    if (source === 'trades' || !isPlausibleEventTime(windowStartMs)) return false;
    const known = this.since.get(symbol);
    if (known !== undefined && known <= windowStartMs) return false;
    if (known === undefined && this.since.size >= this.maxSymbols) return false;
    this.since.set(symbol, windowStartMs);
    return true;
  }

  nativeSince(symbol: string): number | undefined {
    return this.since.get(symbol);
  }

  get size(): number {
    return this.since.size;
  }
}

interface OpenBar {
  symbol: string;
  startMs: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  priceVolume: number;
  trades: number;
}

/**
 * Builds minute bars from the trades of one partition, on event time: a symbol's minute closes when
 * one of its trades falls in a later minute, or when the partition's latest trade time passes the
 * minute's end plus the allowed lateness. Later trades for a closed minute are dropped (counted).
 * A closed minute is not returned when the symbol has native minute bars from that minute or earlier
 * (`native`): trade-built bars are only for symbols that have only trades. The filter touches only the
 * output, never the state, so snapshots do not depend on it.
 */
export class TradeBarBuilder {
  private bars = new Map<string, OpenBar>();
  private closedUntil = new Map<string, number>();
  private watermark = -1;
  private earliestOpen = Number.POSITIVE_INFINITY;
  lateTrades = 0;
  /** Closed minutes not returned because the symbol has native bars (not part of the snapshot). */
  nativeSkipped = 0;

  constructor(
    private readonly latenessMs = 2_000,
    private readonly native?: NativeBarsLookup,
    /** How far ahead of the watermark one trade may move it (see input-guard.ts). */
    private readonly maxSkewMs = DEFAULT_MAX_EVENT_TIME_SKEW_MS,
  ) {}

  /** Why `onTrade` would reject `trade` (state untouched), or undefined. */
  rejectionOf(trade: TradeInput): Rejection | undefined {
    return tradeRejection(trade, this.watermark, this.maxSkewMs);
  }

  /** The latest trade time folded (-1 before any): trades of minutes closed before it are late. */
  get watermarkMs(): number {
    return this.watermark;
  }

  /** Folds a trade; returns the bars it closed (often none), or undefined for an invalid trade. */
  onTrade(trade: TradeInput): TradeBar[] | undefined {
    if (tradeRejection(trade, this.watermark, this.maxSkewMs) !== undefined) return undefined;
    const closed: TradeBar[] = [];
    const time = trade.sipTimestampMs;
    const minute = Math.floor(time / MINUTE_MS) * MINUTE_MS;
    if (time > this.watermark) this.watermark = time;
    const bar = this.bars.get(trade.symbol);
    if (
      minute < (this.closedUntil.get(trade.symbol) ?? Number.NEGATIVE_INFINITY) ||
      (bar !== undefined && minute < bar.startMs) ||
      // A minute already due is closed for every symbol, whether or not it had a bar (so closedUntil may forget it).
      (bar === undefined && minute + MINUTE_MS + this.latenessMs <= this.watermark)
    ) {
      this.lateTrades += 1;
    } else if (bar !== undefined && minute === bar.startMs) {
      if (trade.price > bar.high) bar.high = trade.price;
      if (trade.price < bar.low) bar.low = trade.price;
      bar.close = trade.price;
      bar.volume += trade.size;
      bar.priceVolume += trade.price * trade.size;
      bar.trades += 1;
    } else {
      if (bar !== undefined) this.close(bar, closed);
      this.bars.set(trade.symbol, {
        symbol: trade.symbol,
        startMs: minute,
        open: trade.price,
        high: trade.price,
        low: trade.price,
        close: trade.price,
        volume: trade.size,
        priceVolume: trade.price * trade.size,
        trades: 1,
      });
      if (minute < this.earliestOpen) this.earliestOpen = minute;
    }
    if (this.earliestOpen + MINUTE_MS + this.latenessMs <= this.watermark) this.closeDue(closed);
    return closed;
  }

  private closeDue(closed: TradeBar[]): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const bar of [...this.bars.values()]) {
      if (bar.startMs + MINUTE_MS + this.latenessMs <= this.watermark) this.close(bar, closed);
      else if (bar.startMs < earliest) earliest = bar.startMs;
    }
    this.earliestOpen = earliest;
    // A symbol's closedUntil matters only while it is later than the minutes due for everyone: otherwise every symbol
    // ever traded would stay here for good (a flood of distinct symbols would grow it without bound).
    for (const [symbol, until] of this.closedUntil) if (until + this.latenessMs <= this.watermark) this.closedUntil.delete(symbol);
  }

  private close(bar: OpenBar, closed: TradeBar[]): void {
    this.bars.delete(bar.symbol);
    this.closedUntil.set(bar.symbol, bar.startMs + MINUTE_MS);
    const nativeSince = this.native?.nativeSince(bar.symbol);
    if (nativeSince !== undefined && nativeSince <= bar.startMs) {
      this.nativeSkipped += 1;
      return;
    }
    closed.push({
      symbol: bar.symbol,
      interval: 'MINUTE',
      windowStartMs: bar.startMs,
      windowEndMs: bar.startMs + MINUTE_MS,
      open: bar.open,
      high: bar.high,
      low: bar.low,
      close: bar.close,
      volume: bar.volume,
      vwap: bar.volume > 0 ? bar.priceVolume / bar.volume : null,
      transactions: bar.trades,
      accumulatedVolume: null,
      officialOpen: null,
      dayVwap: null,
      averageTradeSize: bar.trades > 0 ? bar.volume / bar.trades : null,
      otc: false,
      source: 'trades',
      ingestedAtMs: Math.max(this.watermark, bar.startMs + MINUTE_MS),
    });
  }

  get openBars(): number {
    return this.bars.size;
  }

  /** Symbols whose last closed minute is still recent enough to matter (see closeDue). */
  get closedSymbols(): number {
    return this.closedUntil.size;
  }

  snapshot(): Buffer {
    const state = {
      version: BUILDER_VERSION,
      watermark: this.watermark,
      lateTrades: this.lateTrades,
      bars: [...this.bars.values()],
      closedUntil: [...this.closedUntil],
    };
    return gzipSync(Buffer.from(JSON.stringify(state), 'utf8'));
  }

  static restore(snapshot: Buffer, latenessMs?: number, native?: NativeBarsLookup, maxSkewMs?: number): TradeBarBuilder {
    const state = JSON.parse(gunzipSync(snapshot).toString('utf8')) as {
      version: number;
      watermark: number;
      lateTrades: number;
      bars: OpenBar[];
      closedUntil: [string, number][];
    };
    if (state.version !== BUILDER_VERSION) throw new Error(`trade-bar snapshot version ${state.version} is not ${BUILDER_VERSION}`);
    const builder = new TradeBarBuilder(latenessMs, native, maxSkewMs);
    builder.watermark = state.watermark;
    builder.lateTrades = state.lateTrades;
    for (const bar of state.bars) {
      builder.bars.set(bar.symbol, bar);
      if (bar.startMs < builder.earliestOpen) builder.earliestOpen = bar.startMs;
    }
    builder.closedUntil = new Map(state.closedUntil);
    return builder;
  }
}
