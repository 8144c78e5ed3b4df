import { describe, expect, it } from 'vitest';
import { BarBuilder } from './bars.js';
import { SimulatorFeed, minuteOfSession } from './feed.js';
import { SyntheticMarket, intradaySizeFactor, type WireAggregate, type WireEvent, type WireTrade } from './market.js';
import { buildUniverse } from './universe.js';

const START = Date.UTC(2025, 5, 2, 13, 30); // 09:30 New York (EDT)

/** Recomputes bars from trades, independently of BarBuilder. */
function expectedBars(trades: readonly WireTrade[], length: number) {
  const groups = new Map<string, WireTrade[]>();
  for (const trade of trades) {
    const key = `${trade.sym}|${trade.t - (trade.t % length)}`;
    const list = groups.get(key) ?? [];
    list.push(trade);
    groups.set(key, list);
  }
  return groups;
}

/** One symbol's trades in time order: their times, and volume and notional summed over the first i trades at [i]. */
interface DayTotals {
  readonly times: number[];
  readonly volume: number[];
  readonly notional: number[];
  readonly open: number;
}

/** How many of the (ascending) times are before `end`. */
function tradesBefore(times: readonly number[], end: number): number {
  let low = 0;
  let high = times.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (times[middle]! < end) low = middle + 1;
    else high = middle;
  }
  return low;
}

describe('simulator feed', () => {
  it('its second and minute aggregates match the trades it sent', () => {
    const feed = new SimulatorFeed(buildUniverse(30, 1), { seed: 3 });
    const events: WireEvent[] = [];
    // 5 simulated minutes in 100 ms steps, then one step far ahead to close every window.
    for (let step = 0; step < 3000; step += 1) events.push(...feed.generate(START + step * 100, START + (step + 1) * 100, 20));
    events.push(...feed.generate(START + 3_000_000, START + 3_000_001, 0));
    const trades = events.filter((event): event is WireTrade => event.ev === 'T');
    const bars = events.filter((event): event is WireAggregate => event.ev === 'A' || event.ev === 'AM');
    expect(trades.length).toBeGreaterThan(10_000);
    // Day figures per symbol as prefix sums over its trades in time order, so each bar's check is a binary search:
    // filtering every symbol's trades per bar was quadratic (past the 30 s limit on a loaded machine).
    const bySymbol = new Map<string, DayTotals>();
    for (const trade of trades) {
      let totals = bySymbol.get(trade.sym);
      if (!totals) bySymbol.set(trade.sym, (totals = { times: [], volume: [0], notional: [0], open: trade.p }));
      totals.times.push(trade.t);
      totals.volume.push(totals.volume.at(-1)! + trade.s);
      totals.notional.push(totals.notional.at(-1)! + trade.p * trade.s);
    }

    for (const [ev, length] of [
      ['A', 1000],
      ['AM', 60_000],
    ] as const) {
      const groups = expectedBars(trades, length);
      const emitted = bars.filter((bar) => bar.ev === ev);
      expect(emitted.length).toBe(groups.size);
      for (const bar of emitted) {
        const group = groups.get(`${bar.sym}|${bar.s}`)!;
        expect(group, `${ev} ${bar.sym} ${bar.s}`).toBeDefined();
        const volume = group.reduce((sum, trade) => sum + trade.s, 0);
        expect(bar.e - bar.s).toBe(length);
        expect(bar.o).toBe(group[0]!.p);
        expect(bar.c).toBe(group.at(-1)!.p);
        expect(bar.h).toBe(Math.max(...group.map((trade) => trade.p)));
        expect(bar.l).toBe(Math.min(...group.map((trade) => trade.p)));
        expect(bar.v).toBe(volume);
        expect(bar.vw).toBeCloseTo(group.reduce((sum, trade) => sum + trade.p * trade.s, 0) / volume, 3);
        expect(bar.z).toBe(Math.round(volume / group.length));
        // Day figures as of the bar's end: every trade of that symbol up to the window end.
        const totals = bySymbol.get(bar.sym)!;
        const count = tradesBefore(totals.times, bar.e);
        expect(count).toBeGreaterThan(0);
        expect(bar.av).toBe(totals.volume[count]);
        expect(bar.op).toBe(totals.open);
        expect(bar.a).toBeCloseTo(totals.notional[count]! / bar.av, 3);
      }
    }
  });

  it('each bar comes after its last trade, and timestamps never go backwards per symbol', () => {
    const feed = new SimulatorFeed(buildUniverse(10, 1), { seed: 5, secondAggregates: false });
    const events: WireEvent[] = [];
    for (let step = 0; step < 200; step += 1) events.push(...feed.generate(START + step * 1000, START + (step + 1) * 1000, 50));
    const lastTime = new Map<string, number>();
    const lastSequence = new Map<string, number>();
    events.forEach((event, index) => {
      if (event.ev === 'AM') {
        const later = events.slice(index + 1).filter((other) => other.ev === 'T' && other.sym === event.sym && other.t < event.e);
        expect(later).toEqual([]);
        return;
      }
      expect(event.ev).not.toBe('A');
      if (event.ev !== 'T' && event.ev !== 'Q') return;
      expect(event.t).toBeGreaterThanOrEqual(lastTime.get(event.sym) ?? 0);
      expect(event.q).toBeGreaterThan(lastSequence.get(event.sym) ?? 0);
      lastTime.set(event.sym, event.t);
      lastSequence.set(event.sym, event.q);
    });
  });

  it('quotes have a positive spread and trades print inside the quote', () => {
    const market = new SyntheticMarket(buildUniverse(20, 2), { seed: 9 });
    const lastQuote = new Map<string, { bp: number; ap: number }>();
    for (let index = 0; index < 20_000; index += 1) {
      const event = market.next(START + index * 10);
      if (event.ev === 'Q') {
        expect(event.ap).toBeGreaterThan(event.bp);
        expect(event.bs % 100).toBe(0);
        lastQuote.set(event.sym, event);
      } else {
        expect(event.s).toBeGreaterThan(0);
        if (event.s < 100) expect(event.c).toEqual([37]);
        expect(event.p).toBeGreaterThan(0);
      }
    }
    expect(lastQuote.size).toBe(20);
  });

  it('prices cluster in volatility: big moves follow big moves more than calm ones', () => {
    const market = new SyntheticMarket(buildUniverse(1, 4), { seed: 11, tradeShare: 1 });
    const returns: number[] = [];
    let previous: number | undefined;
    for (let index = 0; index < 50_000; index += 1) {
      const trade = market.next(START + index * 1000) as WireTrade;
      if (previous !== undefined) returns.push(Math.log(trade.p / previous));
      previous = trade.p;
    }
    const squared = returns.map((value) => value * value);
    const mean = squared.reduce((sum, value) => sum + value, 0) / squared.length;
    let covariance = 0;
    let variance = 0;
    for (let index = 1; index < squared.length; index += 1) {
      covariance += (squared[index]! - mean) * (squared[index - 1]! - mean);
      variance += (squared[index]! - mean) ** 2;
    }
    // Autocorrelation of squared returns is the signature of volatility clustering.
    expect(covariance / variance).toBeGreaterThan(0.02);
  });

  it('builds a U-shaped intraday size profile on New York time', () => {
    expect(minuteOfSession(START)).toBe(0);
    expect(minuteOfSession(START + 390 * 60_000)).toBe(390);
    expect(intradaySizeFactor(0)).toBeGreaterThan(intradaySizeFactor(200));
    expect(intradaySizeFactor(389)).toBeGreaterThan(intradaySizeFactor(200));
    expect(intradaySizeFactor(-10)).toBe(0.2);
  });

  it('closes a day properly: the first bar of a new day restarts av and op', () => {
    const builder = new BarBuilder(false);
    const trade = (t: number, p: number, s: number): WireTrade => ({ ev: 'T', sym: 'X', x: 1, i: '1', z: 1, p, s, t, q: t });
    const day1 = Date.UTC(2025, 0, 2, 20, 59);
    builder.add(trade(day1, 10, 100));
    const closed = builder.add(trade(day1 + 86_400_000, 20, 50));
    expect(closed).toEqual([expect.objectContaining({ ev: 'AM', av: 100, op: 10, v: 100 })]);
    expect(builder.closeUntil(day1 + 86_400_000 + 60_000)).toEqual([expect.objectContaining({ av: 50, op: 20, a: 20 })]);
  });
});

describe('universe', () => {
  it('has the requested size, SPY first, unique tickers, deterministic per seed', () => {
    const universe = buildUniverse(500, 42);
    expect(universe).toHaveLength(500);
    expect(universe[0]!.symbol).toBe('SPY');
    expect(new Set(universe.map((profile) => profile.symbol)).size).toBe(500);
    expect(buildUniverse(500, 42)).toEqual(universe);
    expect(buildUniverse(3, 1, 'QQQ').map((profile) => profile.symbol)).toEqual(['QQQ', 'SPY', 'IWM']);
  });

  it('rejects an empty universe for the market', () => {
    expect(() => new SyntheticMarket([])).toThrow(RangeError);
  });
});
