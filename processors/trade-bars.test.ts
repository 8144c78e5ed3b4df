import { describe, expect, it } from 'vitest';
import { NativeBarsTable, TradeBarBuilder, type TradeBar, type TradeInput } from './trade-bars.js';

const T0 = Date.parse('2026-11-24T14:30:00Z');

function trade(symbol: string, secondsAfter: number, price: number, size = 100): TradeInput {
  return { symbol, price, size, sipTimestampMs: T0 + secondsAfter * 1000 };
}

describe('minute bars from trades', () => {
  it('closes a symbol minute on its next minute, with OHLC, volume, VWAP and trade count', () => {
    const builder = new TradeBarBuilder(2_000);
    expect(builder.onTrade(trade('AAA', 1, 10, 100))).toEqual([]);
    builder.onTrade(trade('AAA', 20, 12, 50));
    builder.onTrade(trade('AAA', 40, 9, 50));
    builder.onTrade(trade('AAA', 59, 11, 100));
    const [bar] = builder.onTrade(trade('AAA', 60, 11.5))!;
    expect(bar).toMatchObject({
      symbol: 'AAA',
      interval: 'MINUTE',
      windowStartMs: T0,
      windowEndMs: T0 + 60_000,
      open: 10,
      high: 12,
      low: 9,
      close: 11,
      volume: 300,
      transactions: 4,
      source: 'trades',
    });
    expect(bar!.vwap).toBeCloseTo((10 * 100 + 12 * 50 + 9 * 50 + 11 * 100) / 300, 12);
    expect(bar!.averageTradeSize).toBe(75);
    expect(bar!.ingestedAtMs).toBe(T0 + 60_000);
  });

  it('closes quiet symbols once the partition event time passes the minute end plus lateness', () => {
    const builder = new TradeBarBuilder(2_000);
    builder.onTrade(trade('QUIET', 5, 20));
    expect(builder.onTrade(trade('BUSY', 61, 30))).toEqual([]);
    const closed = builder.onTrade(trade('BUSY', 62, 30))!;
    expect(closed.map((bar) => bar.symbol)).toEqual(['QUIET']);
    expect(builder.openBars).toBe(1);
  });

  it('drops late trades for a closed minute and rejects invalid trades', () => {
    const builder = new TradeBarBuilder(0);
    builder.onTrade(trade('AAA', 1, 10));
    builder.onTrade(trade('AAA', 61, 10));
    expect(builder.onTrade(trade('AAA', 30, 10))).toEqual([]);
    expect(builder.lateTrades).toBe(1);
    expect(builder.onTrade({ ...trade('AAA', 62, 10), price: Number.NaN })).toBeUndefined();
    expect(builder.onTrade({ ...trade('AAA', 62, 10), size: -1 })).toBeUndefined();
    expect(builder.onTrade({ ...trade('', 62, 10) })).toBeUndefined();
  });

  it('is deterministic across a snapshot and restore', () => {
    const trades: TradeInput[] = [];
    for (let i = 0; i < 600; i += 1)
      trades.push(trade(i % 3 === 0 ? 'AAA' : i % 3 === 1 ? 'BBB' : 'CCC', i * 0.7, 10 + (i % 17) * 0.01, 10 + (i % 5)));
    const straight = new TradeBarBuilder();
    const expected: TradeBar[] = trades.flatMap((entry) => straight.onTrade(entry)!);
    const first = new TradeBarBuilder();
    const before = trades.slice(0, 300).flatMap((entry) => first.onTrade(entry)!);
    const restored = TradeBarBuilder.restore(first.snapshot());
    const after = trades.slice(300).flatMap((entry) => restored.onTrade(entry)!);
    expect(JSON.stringify([...before, ...after])).toBe(JSON.stringify(expected));
    expect(expected.length).toBeGreaterThan(10);
  });

  it('returns no bar for a symbol from the minute of its first native bar on; the state does not depend on it', () => {
    const native = new NativeBarsTable();
    expect(native.record('NATV', T0 + 120_000, 'massive')).toBe(true);
    expect(native.record('NATV', T0 + 180_000, 'massive')).toBe(false);
    expect(native.record('ONLYT', T0, 'trades')).toBe(false);
    expect(native.nativeSince('NATV')).toBe(T0 + 120_000);
    expect(native.nativeSince('ONLYT')).toBeUndefined();
    expect(native.size).toBe(1);

    const trades: TradeInput[] = [];
    for (let second = 0; second < 6 * 60; second += 15)
      trades.push(trade('NATV', second, 10 + second / 1000), trade('ONLYT', second + 1, 20));
    const filtered = new TradeBarBuilder(0, native);
    const unfiltered = new TradeBarBuilder(0);
    const kept = trades.flatMap((entry) => filtered.onTrade(entry)!);
    const all = trades.flatMap((entry) => unfiltered.onTrade(entry)!);
    const minutes = (bars: TradeBar[], symbol: string) =>
      bars.filter((bar) => bar.symbol === symbol).map((bar) => (bar.windowStartMs - T0) / 60_000);
    expect(minutes(all, 'NATV')).toEqual([0, 1, 2, 3, 4]);
    expect(minutes(kept, 'NATV')).toEqual([0, 1]);
    expect(minutes(kept, 'ONLYT')).toEqual(minutes(all, 'ONLYT'));
    expect(filtered.nativeSkipped).toBe(3);
    expect(filtered.snapshot().equals(unfiltered.snapshot())).toBe(true);
    // A restored builder keeps filtering.
    const restored = TradeBarBuilder.restore(filtered.snapshot(), 0, native);
    expect(restored.onTrade(trade('NATV', 6 * 60 + 1, 10))!.map((bar) => bar.symbol)).toEqual(['ONLYT']);
  });

  it("a trade stamped a year ahead or in microseconds is rejected and does not close other symbols' minutes (issue 18 item 14 sibling)", () => {
    const builder = new TradeBarBuilder(0);
    builder.onTrade(trade('AAA', 1, 10));
    builder.onTrade(trade('BBB', 2, 20));
    const yearAhead = { ...trade('BBB', 3, 20), sipTimestampMs: T0 + 365 * 86_400_000, ingestedAtMs: T0 + 3_000 };
    expect(builder.onTrade(yearAhead)).toBeUndefined();
    expect(builder.rejectionOf(yearAhead)?.reason).toBe('ahead-of-watermark');
    const micro = { ...trade('BBB', 3, 20), sipTimestampMs: (T0 + 3_000) * 1000 };
    expect(builder.onTrade(micro)).toBeUndefined();
    expect(builder.rejectionOf(micro)?.reason).toBe('implausible-time');
    // Nothing was closed: both minutes are still open and take their next trades.
    expect(builder.openBars).toBe(2);
    expect(builder.onTrade(trade('AAA', 30, 11))).toEqual([]);
    expect(builder.lateTrades).toBe(0);
    // An implausible native bar time does not mark a symbol native.
    const native = new NativeBarsTable();
    expect(native.record('NATV', T0 * 1000, 'massive')).toBe(false);
    expect(native.record('NATV', -60_000, 'massive')).toBe(false);
    expect(native.nativeSince('NATV')).toBeUndefined();
  });
});

describe('trade-bar memory', () => {
  it('forgets closed symbols once their minute is due for everyone, so a flood of distinct symbols does not accumulate', () => {
    const builder = new TradeBarBuilder(2_000);
    for (let second = 0; second < 3_600; second += 1) builder.onTrade(trade(`FLOOD${second}`, second, 10));
    // Only symbols of the last minute or so are held (open, or closed within the lateness), not the 3,600 seen.
    expect(builder.openBars + builder.closedSymbols).toBeLessThanOrEqual(70);
  });

  it('still drops a late trade of a minute already due, for a symbol it has forgotten', () => {
    const builder = new TradeBarBuilder(2_000);
    builder.onTrade(trade('AAA', 1, 10));
    for (let second = 60; second < 300; second += 1) builder.onTrade(trade('BBB', second, 10));
    expect(builder.closedSymbols).toBeLessThanOrEqual(1);
    const late = builder.lateTrades;
    expect(builder.onTrade(trade('AAA', 2, 10))).toEqual([]);
    expect(builder.lateTrades).toBe(late + 1);
    expect(builder.openBars).toBe(1);
  });

  it('the native-bars table holds at most maxSymbols symbols', () => {
    const table = new NativeBarsTable(50);
    for (let index = 0; index < 1_000; index += 1) table.record(`N${index}`, T0, 'massive');
    expect(table.size).toBe(50);
    expect(table.nativeSince('N999')).toBeUndefined();
  });
});
