import type { WireAggregate, WireTrade } from './market.js';

const DAY_MS = 86_400_000;

interface OpenBar {
  start: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  notional: number;
  trades: number;
}

interface DayState {
  day: number;
  officialOpen: number;
  volume: number;
  notional: number;
}

const round4 = (value: number): number => Math.round(value * 10_000) / 10_000;

/**
 * Builds Massive `A` (1 s) and `AM` (1 min) bars from the trades it is given, exactly as the wire
 * shows them: window volume/VWAP/OHLC plus the day's accumulated volume (`av`), official open (`op`),
 * day VWAP (`a`) and average trade size (`z`). A bar exists only for windows with trades. The day is
 * the UTC day (a US session never crosses UTC midnight). Pure.
 */
export class BarBuilder {
  private readonly open = new Map<string, { second?: OpenBar; minute?: OpenBar }>();
  private readonly days = new Map<string, DayState>();

  constructor(private readonly emitSeconds = true) {}

  /** Adds a trade; returns the bars its time closed for that symbol (a trade past a window closes it). */
  add(trade: WireTrade): WireAggregate[] {
    const closed: WireAggregate[] = [];
    let bars = this.open.get(trade.sym);
    if (!bars) {
      bars = {};
      this.open.set(trade.sym, bars);
    }
    if (this.emitSeconds) {
      const start = trade.t - (trade.t % 1000);
      if (bars.second && bars.second.start !== start) {
        closed.push(this.toWire('A', trade.sym, bars.second, 1000));
        bars.second = undefined;
      }
      bars.second = accumulate(bars.second, start, trade);
    }
    const minuteStart = trade.t - (trade.t % 60_000);
    if (bars.minute && bars.minute.start !== minuteStart) {
      closed.push(this.toWire('AM', trade.sym, bars.minute, 60_000));
      bars.minute = undefined;
    }
    bars.minute = accumulate(bars.minute, minuteStart, trade);
    // Windows close before the trade is counted in the day, so a closed bar's `av`/`a` are as of its end.
    const day = Math.floor(trade.t / DAY_MS);
    let dayState = this.days.get(trade.sym);
    if (!dayState || dayState.day !== day) {
      dayState = { day, officialOpen: trade.p, volume: 0, notional: 0 };
      this.days.set(trade.sym, dayState);
    }
    dayState.volume += trade.s;
    dayState.notional += trade.p * trade.s;
    return closed;
  }

  /** Closes every window that ended at or before `timeMs` (time moved on without a trade). */
  closeUntil(timeMs: number): WireAggregate[] {
    const closed: WireAggregate[] = [];
    for (const [symbol, bars] of this.open) {
      if (bars.second && bars.second.start + 1000 <= timeMs) {
        closed.push(this.toWire('A', symbol, bars.second, 1000));
        bars.second = undefined;
      }
      if (bars.minute && bars.minute.start + 60_000 <= timeMs) {
        closed.push(this.toWire('AM', symbol, bars.minute, 60_000));
        bars.minute = undefined;
      }
    }
    return closed;
  }

  private toWire(ev: 'A' | 'AM', symbol: string, bar: OpenBar, length: number): WireAggregate {
    const day = this.days.get(symbol)!;
    return {
      ev,
      sym: symbol,
      v: bar.volume,
      av: day.volume,
      op: day.officialOpen,
      vw: round4(bar.notional / bar.volume),
      o: bar.open,
      c: bar.close,
      h: bar.high,
      l: bar.low,
      a: round4(day.notional / day.volume),
      z: Math.round(bar.volume / bar.trades),
      s: bar.start,
      e: bar.start + length,
    };
  }
}

function accumulate(bar: OpenBar | undefined, start: number, trade: WireTrade): OpenBar {
  if (!bar)
    return { start, open: trade.p, high: trade.p, low: trade.p, close: trade.p, volume: trade.s, notional: trade.p * trade.s, trades: 1 };
  bar.high = Math.max(bar.high, trade.p);
  bar.low = Math.min(bar.low, trade.p);
  bar.close = trade.p;
  bar.volume += trade.s;
  bar.notional += trade.p * trade.s;
  bar.trades += 1;
  return bar;
}
