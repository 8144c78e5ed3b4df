import { describe, expect, it } from 'vitest';
import { BollingerBands, EMA, MACD, RSI, SMA } from 'technicalindicators';
import { atrValue, createAtr, stepAtr } from './indicators.js';
import {
  DAILY_PARAMS,
  DETECTION,
  INTRADAY_PARAMS,
  createSeries,
  levelsOf,
  updateSeries,
  type Direction,
  type SeriesParams,
} from './series.js';

type Bar = [open: number, high: number, low: number, close: number, volume: number];

interface Fired {
  readonly pattern: string;
  readonly direction: Direction;
  readonly confidence: number;
  readonly levels: Record<string, number>;
}

interface FeedOptions {
  readonly params?: SeriesParams;
  readonly firstBarOfSession?: boolean;
  readonly previousSessionClose?: number;
}

/** Feeds bars to a fresh series; returns what fired on each bar. */
function feed(bars: readonly Bar[], options: FeedOptions = {}): Fired[][] {
  const params = options.params ?? INTRADAY_PARAMS;
  const series = createSeries(params);
  const fired: Fired[][] = [];
  bars.forEach(([open, high, low, close, volume], index) => {
    const onBar: Fired[] = [];
    const last = index === bars.length - 1;
    updateSeries(
      series,
      params,
      open,
      high,
      low,
      close,
      volume,
      1,
      last && (options.firstBarOfSession ?? false),
      options.previousSessionClose ?? Number.NaN,
      {
        fire: (pattern, direction, ...keys) => onBar.push({ pattern, direction, confidence: DETECTION[0]!, levels: levelsOf(...keys) }),
      },
    );
    fired.push(onBar);
  });
  return fired;
}

function lastFired(bars: readonly Bar[], options?: FeedOptions): Fired[] {
  return feed(bars, options).at(-1)!;
}

function names(fired: readonly Fired[]): string[] {
  return fired.map((entry) => entry.pattern);
}

/** Quiet alternating bars around 100: no pattern of the catalog fires on them. */
function warmup(count = 30, volume = 1000): Bar[] {
  const bars: Bar[] = [];
  for (let i = 0; i < count; i += 1) bars.push(i % 2 === 0 ? [100, 100.4, 99.9, 100.3, volume] : [100.3, 100.4, 99.9, 100, volume]);
  return bars;
}

/** Bars that walk from the last close through the given closes (open = previous close). */
function path(start: number, closes: readonly number[], volume = 1000, wick = 0.05): Bar[] {
  let previous = start;
  return closes.map((close) => {
    const bar: Bar = [previous, Math.max(previous, close) + wick, Math.min(previous, close) - wick, close, volume];
    previous = close;
    return bar;
  });
}

function steps(from: number, to: number, step: number): number[] {
  const values: number[] = [];
  const direction = to > from ? 1 : -1;
  for (let value = from + direction * step; direction > 0 ? value <= to + 1e-9 : value >= to - 1e-9; value += direction * step)
    values.push(Math.round(value * 1000) / 1000);
  return values;
}

const decline = path(100, [99.7, 99.4, 99.1, 98.8, 98.5, 98.2]);
const advance = path(100, [100.3, 100.6, 100.9, 101.2, 101.5, 101.8]);

describe('candle patterns: golden positives and near misses', () => {
  it('the warm-up fires no candle, volume or structure pattern (only the oscillating EMA/MACD crosses)', () => {
    const fired = feed(warmup(40))
      .flat()
      .map((entry) => entry.pattern);
    expect(fired.filter((name) => !/^(ema|macd)_/.test(name))).toEqual([]);
  });

  it('doji: body <= 10% of the range', () => {
    const hit = lastFired([...warmup(), [100, 100.5, 99.5, 100.05, 1000]]);
    expect(names(hit)).toContain('doji');
    expect(hit.find((entry) => entry.pattern === 'doji')!.direction).toBe('NEUTRAL');
    expect(names(lastFired([...warmup(), [100, 100.5, 99.5, 100.15, 1000]]))).not.toContain('doji');
  });

  it('hammer after a decline; hanging man after an advance', () => {
    const shape = (x: number): Bar => [x, x + 0.15, x - 0.5, x + 0.1, 1000];
    const hammer = lastFired([...warmup(), ...decline, shape(98.2)]);
    expect(names(hammer)).toContain('hammer');
    expect(hammer.find((entry) => entry.pattern === 'hammer')!.levels.support).toBeCloseTo(97.7, 9);
    expect(names(lastFired([...warmup(), ...decline, [98.2, 98.35, 98.05, 98.3, 1000]]))).not.toContain('hammer');
    expect(names(lastFired([...warmup(), ...advance, shape(101.8)]))).toContain('hanging_man');
    // Same shape without a prior trend: neither.
    const flat = names(lastFired([...warmup(), [100, 100.15, 99.5, 100.1, 1000]]));
    expect(flat).not.toContain('hammer');
    expect(flat).not.toContain('hanging_man');
  });

  it('shooting star after an advance only', () => {
    const shape = (x: number): Bar => [x, x + 0.5, x - 0.15, x - 0.1, 1000];
    expect(names(lastFired([...warmup(), ...advance, shape(101.8)]))).toContain('shooting_star');
    expect(names(lastFired([...warmup(), ...decline, shape(98.2)]))).not.toContain('shooting_star');
    expect(names(lastFired([...warmup(), ...advance, [101.8, 101.95, 101.65, 101.7, 1000]]))).not.toContain('shooting_star');
  });

  it('bullish and bearish engulfing (>= 1.1x the previous body)', () => {
    const bullish = lastFired([...warmup(), [100.3, 100.35, 99.95, 100, 1000], [99.95, 100.45, 99.9, 100.4, 1000]]);
    expect(names(bullish)).toContain('bullish_engulfing');
    expect(names(lastFired([...warmup(), [100.3, 100.35, 99.95, 100, 1000], [99.95, 100.35, 99.9, 100.28, 1000]]))).not.toContain(
      'bullish_engulfing',
    );
    // Engulfs, but the body is only 1.0x.
    expect(names(lastFired([...warmup(), [100.3, 100.35, 99.95, 100, 1000], [100, 100.35, 99.9, 100.3, 1000]]))).not.toContain(
      'bullish_engulfing',
    );
    const bearish = lastFired([...warmup(), [100, 100.35, 99.95, 100.3, 1000], [100.35, 100.4, 99.85, 99.9, 1000]]);
    expect(names(bearish)).toContain('bearish_engulfing');
    expect(names(lastFired([...warmup(), [100, 100.35, 99.95, 100.3, 1000], [100.35, 100.4, 99.95, 100.05, 1000]]))).not.toContain(
      'bearish_engulfing',
    );
  });

  it('morning and evening star', () => {
    const morning: Bar[] = [
      [100, 100.05, 98.95, 99, 1000],
      [98.9, 99, 98.8, 98.95, 1000],
      [99, 99.85, 98.95, 99.8, 1000],
    ];
    expect(names(lastFired([...warmup(), ...morning]))).toContain('morning_star');
    const weak: Bar[] = [morning[0]!, morning[1]!, [99, 99.45, 98.95, 99.4, 1000]];
    expect(names(lastFired([...warmup(), ...weak]))).not.toContain('morning_star');
    const evening: Bar[] = [
      [100, 101.05, 99.95, 101, 1000],
      [101.1, 101.2, 101, 101.05, 1000],
      [101, 101.05, 100.15, 100.2, 1000],
    ];
    expect(names(lastFired([...warmup(), ...evening]))).toContain('evening_star');
    const bigStar: Bar[] = [evening[0]!, [101.1, 101.6, 101, 101.5, 1000], evening[2]!];
    expect(names(lastFired([...warmup(), ...bigStar]))).not.toContain('evening_star');
  });
});

/** ATR(14) after the given bars (to state a bar's range as a multiple of it). */
function atrAfter(bars: readonly Bar[]): number {
  const state = createAtr(14);
  for (const [, high, low, close] of bars) stepAtr(state, high, low, close);
  return atrValue(state);
}

describe('the candle-size gate (range >= 0.25 x ATR) applies to every candle pattern', () => {
  it('engulfing: the engulfing bar must be a real candle', () => {
    const black: Bar = [100.05, 100.07, 99.99, 100, 1000];
    const white: Bar = [99.99, 100.2, 99.98, 100.07, 1000];
    const tinyWhite: Bar = [99.99, 100.08, 99.98, 100.07, 1000];
    expect(names(lastFired([...warmup(), black, white]))).toContain('bullish_engulfing');
    const tiny = [...warmup(), black, tinyWhite];
    const ratio = (tinyWhite[1] - tinyWhite[2]) / atrAfter(tiny);
    expect(ratio).toBeGreaterThan(0.15);
    expect(ratio).toBeLessThan(0.25);
    expect(names(lastFired(tiny))).not.toContain('bullish_engulfing');
    const white2: Bar = [99.95, 100.01, 99.93, 100, 1000];
    expect(names(lastFired([...warmup(), white2, [100.01, 100.02, 99.8, 99.93, 1000]]))).toContain('bearish_engulfing');
    expect(names(lastFired([...warmup(), white2, [100.01, 100.02, 99.92, 99.93, 1000]]))).not.toContain('bearish_engulfing');
  });

  it('stars: the first (long) bar and the last bar must be real candles; the star itself is small by definition', () => {
    // The golden morning star of the catalog test, scaled by 0.3 around 100.
    const scaled = (bars: readonly Bar[], factor: number): Bar[] =>
      bars.map(([o, h, l, c, v]) => [
        100 + (o - 100) * factor,
        100 + (h - 100) * factor,
        100 + (l - 100) * factor,
        100 + (c - 100) * factor,
        v,
      ]);
    const morning: Bar[] = [
      [100, 100.05, 98.95, 99, 1000],
      [98.9, 99, 98.8, 98.95, 1000],
      [99, 99.85, 98.95, 99.8, 1000],
    ];
    expect(names(lastFired([...warmup(), ...scaled(morning, 0.3)]))).toContain('morning_star');
    // At 0.1 both outer bars are about 0.2 x ATR: no candle.
    const tiny = [...warmup(), ...scaled(morning, 0.1)];
    expect(0.09 / atrAfter(tiny)).toBeLessThan(0.25);
    expect(names(lastFired(tiny))).not.toContain('morning_star');
    // A real last bar does not make up for a tiny first one (0.11 against 0.25 x ATR = 0.109 fires, 0.088 does not).
    const withFirst = (factor: number): Bar[] => [...warmup(), ...scaled(morning, factor).slice(0, 2), [99.9, 100.3, 99.89, 100.25, 1000]];
    expect(names(lastFired(withFirst(0.1)))).toContain('morning_star');
    expect(0.25 * atrAfter(withFirst(0.08))).toBeGreaterThan(0.1 * 0.88);
    expect(names(lastFired(withFirst(0.08)))).not.toContain('morning_star');
    const evening: Bar[] = [
      [100, 101.05, 99.95, 101, 1000],
      [101.1, 101.2, 101, 101.05, 1000],
      [101, 101.05, 100.15, 100.2, 1000],
    ];
    expect(names(lastFired([...warmup(), ...scaled(evening, 0.3)]))).toContain('evening_star');
    expect(names(lastFired([...warmup(), ...scaled(evening, 0.1)]))).not.toContain('evening_star');
  });
});

describe('volume, gap and momentum', () => {
  it('volume spike above 2x the 20-bar average', () => {
    const hit = lastFired([...warmup(), [100, 100.4, 99.9, 100.3, 2500]]);
    expect(names(hit)).toContain('volume_spike');
    const spike = hit.find((entry) => entry.pattern === 'volume_spike')!;
    expect(spike.direction).toBe('BULLISH');
    expect(spike.levels.relativeVolume).toBeCloseTo(2.5, 9);
    expect(names(lastFired([...warmup(), [100, 100.4, 99.9, 100.3, 1900]]))).not.toContain('volume_spike');
  });

  it('gap up / down on the first bar of a session (>= 1%)', () => {
    expect(
      names(lastFired([...warmup(), [101.5, 101.6, 101.4, 101.5, 1000]], { firstBarOfSession: true, previousSessionClose: 100 })),
    ).toContain('gap_up');
    expect(
      names(lastFired([...warmup(), [98.5, 98.6, 98.4, 98.5, 1000]], { firstBarOfSession: true, previousSessionClose: 100 })),
    ).toContain('gap_down');
    expect(
      names(lastFired([...warmup(), [100.8, 100.9, 100.7, 100.8, 1000]], { firstBarOfSession: true, previousSessionClose: 100 })),
    ).not.toContain('gap_up');
    // The same open later in the session is no gap.
    expect(
      names(lastFired([...warmup(), [101.5, 101.6, 101.4, 101.5, 1000]], { firstBarOfSession: false, previousSessionClose: 100 })),
    ).not.toContain('gap_up');
  });

  it('momentum spike: 5-bar change >= 1%, relative volume >= 1.5, close in the top third', () => {
    const run = path(100, [100.2, 100.4, 100.6, 100.8]);
    const spike: Bar = [100.8, 101.25, 100.75, 101.2, 2000];
    const hit = lastFired([...warmup(), ...run, spike]);
    expect(hit.find((entry) => entry.pattern === 'momentum_spike')?.direction).toBe('BULLISH');
    expect(names(lastFired([...warmup(), ...run, [100.8, 101.25, 100.75, 101.2, 1200]]))).not.toContain('momentum_spike');
    // Closes in the middle of its range.
    expect(names(lastFired([...warmup(), ...run, [100.8, 101.6, 100.75, 101.15, 2000]]))).not.toContain('momentum_spike');
    const down = lastFired([...warmup(), ...path(100, [99.8, 99.6, 99.4, 99.2]), [99.2, 99.25, 98.75, 98.8, 2000]]);
    expect(down.find((entry) => entry.pattern === 'momentum_spike')?.direction).toBe('BEARISH');
  });
});

describe('breakouts and structure', () => {
  it('25-bar breakout needs relative volume >= 1.5', () => {
    const hit = lastFired([...warmup(), [100.3, 100.65, 100.25, 100.6, 2000]]);
    const breakout = hit.find((entry) => entry.pattern === 'breakout_high')!;
    expect(breakout.levels.breakout).toBe(100.4);
    expect(names(lastFired([...warmup(), [100.3, 100.65, 100.25, 100.6, 1400]]))).not.toContain('breakout_high');
    expect(names(lastFired([...warmup(), [100.3, 100.4, 100.25, 100.35, 2000]]))).not.toContain('breakout_high');
    expect(names(lastFired([...warmup(), [99.95, 100, 99.7, 99.75, 2000]]))).toContain('breakdown_low');
    expect(names(lastFired([...warmup(), [99.95, 100, 99.7, 99.75, 1400]]))).not.toContain('breakdown_low');
  });

  it('resistance break: close crosses the last pivot high', () => {
    const peak = path(100, [100.5, 100.7, 100.95, 100.7, 100.5, 100.6]);
    const hit = lastFired([...warmup(), ...peak, [100.6, 101.1, 100.55, 101.05, 1000]]);
    expect(hit.find((entry) => entry.pattern === 'resistance_break')?.levels.resistance).toBe(101);
    expect(names(lastFired([...warmup(), ...peak, [100.6, 100.99, 100.55, 100.95, 1000]]))).not.toContain('resistance_break');
    const trough = path(100, [99.5, 99.3, 99.05, 99.3, 99.5, 99.4]);
    expect(names(lastFired([...warmup(), ...trough, [99.4, 99.45, 98.9, 98.95, 1000]]))).toContain('support_break');
    expect(names(lastFired([...warmup(), ...trough, [99.4, 99.45, 99.0, 99.05, 1000]]))).not.toContain('support_break');
  });

  it('double bottom confirmed at the neckline; a lower second low is not one', () => {
    const closes = [...steps(100, 99.05, 0.1), ...steps(99.05, 99.75, 0.1), ...steps(99.75, 99.15, 0.1), ...steps(99.15, 99.85, 0.1)];
    const fired = feed([...warmup(), ...path(100, closes)]);
    const hits = fired.flat().filter((entry) => entry.pattern === 'double_bottom');
    expect(hits).toHaveLength(1);
    const levels = hits[0]!.levels;
    expect(levels.firstBottom).toBeCloseTo(99.05, 9);
    expect(levels.secondBottom).toBeCloseTo(99.1, 9);
    expect(levels.neckline).toBeCloseTo(99.8, 9);
    expect(levels.target).toBeCloseTo(99.8 + (99.8 - 99.05), 9);
    const deeper = [...steps(100, 99.05, 0.1), ...steps(99.05, 99.75, 0.1), ...steps(99.75, 98.55, 0.1), ...steps(98.55, 99.85, 0.1)];
    expect(
      feed([...warmup(), ...path(100, deeper)])
        .flat()
        .map((entry) => entry.pattern),
    ).not.toContain('double_bottom');
  });

  it('double bottom: the neckline must be crossed within 60 bars of arming (the 60th fires, the 61st does not)', () => {
    const lead = [...warmup(), ...path(100, [...steps(100, 99.05, 0.1), ...steps(99.05, 99.75, 0.1), ...steps(99.75, 99.15, 0.1)])];
    const armedAt = lead.length - 1 + 2; // the second low's pivot is confirmed two bars later
    const withHover = (hover: number): Bar[] => [...lead, ...path(99.15, [99.25, 99.35, ...new Array<number>(hover).fill(99.4), 99.85])];
    const at59 = feed(withHover(59));
    expect(firedAt(at59, 'double_bottom')).toEqual([armedAt + 60]);
    expect(firedAt(feed(withHover(60)), 'double_bottom')).toEqual([]);
    const top = [...warmup(), ...path(100, [...steps(100, 100.95, 0.1), ...steps(100.95, 100.25, 0.1), ...steps(100.25, 100.85, 0.1)])];
    const topHover = (hover: number): Bar[] => [...top, ...path(100.85, [100.75, 100.65, ...new Array<number>(hover).fill(100.6), 100.15])];
    expect(firedAt(feed(topHover(59)), 'double_top')).toEqual([top.length - 1 + 2 + 60]);
    expect(firedAt(feed(topHover(60)), 'double_top')).toEqual([]);
  });

  it('double top mirrors it', () => {
    const closes = [
      ...steps(100, 100.95, 0.1),
      ...steps(100.95, 100.25, 0.1),
      ...steps(100.25, 100.85, 0.1),
      ...steps(100.85, 100.15, 0.1),
    ];
    const hits = feed([...warmup(), ...path(100, closes)])
      .flat()
      .filter((entry) => entry.pattern === 'double_top');
    expect(hits).toHaveLength(1);
    expect(hits[0]!.levels.neckline).toBe(100.2);
    const shallow = [
      ...steps(100, 100.95, 0.1),
      ...steps(100.95, 100.75, 0.1),
      ...steps(100.75, 100.85, 0.1),
      ...steps(100.85, 100.15, 0.1),
    ];
    expect(
      feed([...warmup(), ...path(100, shallow)])
        .flat()
        .map((entry) => entry.pattern),
    ).not.toContain('double_top');
  });
});

describe('Bollinger breakouts start inside the bands; RSI of a flat series', () => {
  /** The bands after the bars, from technicalindicators. */
  function bandsAfter(bars: readonly Bar[]): { upper: number; lower: number } {
    const all = BollingerBands.calculate({ period: 20, stdDev: 2, values: bars.map((bar) => bar[3]) });
    return all.at(-1)!;
  }

  it('a close above the upper band after a close inside fires; after a close below the lower band it does not', () => {
    const inside = [...warmup(), [100.3, 100.35, 99.95, 100, 1000] as Bar];
    const up: Bar = [100, 101.3, 99.95, 101.2, 1000];
    expect(bandsAfter(inside).lower).toBeLessThan(100);
    expect(up[3]).toBeGreaterThan(bandsAfter([...inside, up]).upper);
    expect(names(lastFired([...inside, up]))).toContain('bollinger_breakout_up');
    const below = [...warmup(), [100.3, 100.35, 98.75, 98.8, 1000] as Bar];
    expect(below.at(-1)![3]).toBeLessThan(bandsAfter(below).lower);
    const jump: Bar = [98.8, 101.3, 98.75, 101.2, 1000];
    expect(jump[3]).toBeGreaterThan(bandsAfter([...below, jump]).upper);
    expect(names(lastFired([...below, jump]))).not.toContain('bollinger_breakout_up');
    // Mirror: from above the upper band straight through the lower one.
    const above = [...warmup(), [100, 101.55, 99.95, 101.5, 1000] as Bar];
    expect(above.at(-1)![3]).toBeGreaterThan(bandsAfter(above).upper);
    const drop: Bar = [101.5, 101.55, 98.65, 98.7, 1000];
    expect(drop[3]).toBeLessThan(bandsAfter([...above, drop]).lower);
    expect(names(lastFired([...above, drop]))).not.toContain('bollinger_breakout_down');
    expect(names(lastFired([...warmup(), [100.3, 100.35, 98.65, 98.7, 1000]]))).toContain('bollinger_breakout_down');
  });

  it('bands of zero width (a flat stretch) are not broken by the first tick', () => {
    const flat: Bar[] = Array.from({ length: 30 }, () => [100, 100.05, 99.95, 100, 1000] as Bar);
    expect(names(lastFired([...flat, [100, 100.06, 99.99, 100.01, 1000]]))).not.toContain('bollinger_breakout_up');
    expect(names(lastFired([...flat, [100, 100.01, 99.94, 99.99, 1000]]))).not.toContain('bollinger_breakout_down');
    // Also when the flat stretch follows moves (the sliding deviation must come back to exactly 0).
    const movedThenFlat: Bar[] = [
      ...warmup(40),
      ...path(100, [100.7, 99.4, 101.3, 99.9]),
      ...Array.from({ length: 25 }, () => [99.9, 99.95, 99.85, 99.9, 1000] as Bar),
    ];
    expect(names(lastFired([...movedThenFlat, [99.9, 99.96, 99.89, 99.91, 1000]]))).not.toContain('bollinger_breakout_up');
    expect(names(lastFired([...movedThenFlat, [99.9, 99.91, 99.84, 99.89, 1000]]))).not.toContain('bollinger_breakout_down');
    // Once a tick has given the bands width, a close back inside and then out of them is a breakout.
    expect(
      names(
        lastFired([...flat, [100, 100.05, 99.95, 100.01, 1000], [100.01, 100.05, 99.95, 100, 1000], [100, 100.08, 99.99, 100.05, 1000]]),
      ),
    ).toContain('bollinger_breakout_up');
  });

  it('moving-average and MACD crosses: the first move out of a flat series is no cross; a flat stretch keeps the side it had', () => {
    const crosses = /^(ema|sma|macd)_/;
    for (const flatBar of [
      [100, 100, 100, 100, 1000],
      [100, 100.05, 99.95, 100, 1000],
    ] as Bar[]) {
      const flat: Bar[] = new Array<Bar>(250).fill(flatBar);
      for (const tick of [
        [100, 100.01, 100, 100.01, 1000],
        [100, 100, 99.99, 99.99, 1000],
      ] as Bar[]) {
        expect(
          feed([...flat, tick, tick])
            .flat()
            .map((entry) => entry.pattern)
            .filter((name) => crosses.test(name)),
        ).toEqual([]);
      }
    }
    // Golden: below (a decline), then flat, then up: the spreads were negative before the flat, so the rise crosses.
    const declineThenFlat: Bar[] = [
      ...new Array<Bar>(200).fill([101, 101, 101, 101, 1000]),
      ...path(101, steps(101, 100, 0.02)),
      ...new Array<Bar>(300).fill([100, 100, 100, 100, 1000]),
    ];
    const risen = feed([...declineThenFlat, ...path(100, steps(100, 100.5, 0.05))])
      .slice(declineThenFlat.length)
      .flat()
      .map((entry) => entry.pattern);
    // (MACD's own cross came during the flat stretch, where its line recovers faster than its signal.)
    expect(risen).toEqual(expect.arrayContaining(['ema_golden_cross', 'sma_golden_cross']));
  });

  it('a flat stretch has RSI 50: a tick down after it is no fall back through 70', () => {
    const flat: Bar[] = Array.from({ length: 30 }, () => [100, 100.05, 99.95, 100, 1000] as Bar);
    const fired = feed([...flat, [100, 100.05, 99.9, 99.95, 1000]]);
    expect(
      fired
        .flat()
        .map((entry) => entry.pattern)
        .filter((name) => name.startsWith('rsi_')),
    ).toEqual([]);
    // Golden: a real advance, then a decline back through 70.
    const advance = path(100, steps(100, 103, 0.2));
    const decline = path(103, steps(103, 101, 0.4));
    const crossed = feed([...warmup(), ...advance, ...decline])
      .flat()
      .filter((entry) => entry.pattern === 'rsi_overbought_cross');
    expect(crossed).toHaveLength(1);
    expect(crossed[0]!.levels.rsiHigh).toBeGreaterThan(75);
    expect(crossed[0]!.confidence).toBeCloseTo(0.55 + Math.min(0.3, (crossed[0]!.levels.rsiHigh! - 70) * 0.03), 12);
  });
});

/** A sine-wave walk: indicator crosses happen at known bars, found with technicalindicators. */
function wave(length: number, period: number, amplitude = 5): number[] {
  return Array.from({ length }, (_, i) => 100 + amplitude * Math.sin((2 * Math.PI * i) / period) + i * 0.001);
}

function crossings(spread: readonly number[], offset: number): { up: number[]; down: number[] } {
  const up: number[] = [];
  const down: number[] = [];
  for (let i = 1; i < spread.length; i += 1) {
    if (spread[i - 1]! <= 0 && spread[i]! > 0) up.push(i + offset);
    if (spread[i - 1]! >= 0 && spread[i]! < 0) down.push(i + offset);
  }
  return { up, down };
}

function firedAt(fired: readonly Fired[][], pattern: string): number[] {
  return fired.flatMap((onBar, index) => (onBar.some((entry) => entry.pattern === pattern) ? [index] : []));
}

describe('indicator crosses fire exactly where the reference indicators cross', () => {
  const closes = wave(1200, 120);
  const bars = path(100, closes, 1000, 0.2);
  const fired = feed(bars, { params: DAILY_PARAMS });

  it('EMA 12/26 golden and death crosses', () => {
    const fast = EMA.calculate({ period: 12, values: closes });
    const slow = EMA.calculate({ period: 26, values: closes });
    const spread = slow.map((value, i) => fast[i + 14]! - value);
    const expected = crossings(spread, 25);
    expect(expected.up.length).toBeGreaterThan(5);
    expect(firedAt(fired, 'ema_golden_cross')).toEqual(expected.up);
    expect(firedAt(fired, 'ema_death_cross')).toEqual(expected.down);
  });

  it('SMA 50/200 golden and death crosses', () => {
    const slowCloses = wave(3000, 600, 10);
    const slowFired = feed(path(100, slowCloses, 1000, 0.2), { params: DAILY_PARAMS });
    const fast = SMA.calculate({ period: 50, values: slowCloses });
    const slow = SMA.calculate({ period: 200, values: slowCloses });
    const expected = crossings(
      slow.map((value, i) => fast[i + 150]! - value),
      199,
    );
    expect(expected.up.length).toBeGreaterThan(2);
    expect(firedAt(slowFired, 'sma_golden_cross')).toEqual(expected.up);
    expect(firedAt(slowFired, 'sma_death_cross')).toEqual(expected.down);
  });

  it('MACD signal crosses', () => {
    const reference = MACD.calculate({
      values: closes,
      fastPeriod: 12,
      slowPeriod: 26,
      signalPeriod: 9,
      SimpleMAOscillator: false,
      SimpleMASignal: false,
    })
      .filter((row) => row.signal !== undefined)
      .map((row) => row.MACD! - row.signal!);
    const expected = crossings(reference, closes.length - reference.length);
    expect(expected.up.length).toBeGreaterThan(5);
    expect(firedAt(fired, 'macd_bullish_cross')).toEqual(expected.up);
    expect(firedAt(fired, 'macd_bearish_cross')).toEqual(expected.down);
  });

  it('RSI back through 30 and 70', () => {
    const reference = RSI.calculate({ period: 14, values: closes });
    const offset = closes.length - reference.length;
    const up: number[] = [];
    const down: number[] = [];
    for (let i = 1; i < reference.length; i += 1) {
      if (reference[i - 1]! < 30 && reference[i]! >= 30) up.push(i + offset);
      if (reference[i - 1]! > 70 && reference[i]! <= 70) down.push(i + offset);
    }
    expect(up.length).toBeGreaterThan(2);
    expect(firedAt(fired, 'rsi_oversold_cross')).toEqual(up);
    expect(firedAt(fired, 'rsi_overbought_cross')).toEqual(down);
  });

  it('Bollinger breakouts', () => {
    const jumpy = closes.map((close, i) => close + (i % 97 === 0 ? 3 : i % 89 === 0 ? -3 : 0));
    const jumpyFired = feed(path(100, jumpy, 1000, 0.2), { params: DAILY_PARAMS });
    const bands = BollingerBands.calculate({ period: 20, stdDev: 2, values: jumpy });
    const offset = jumpy.length - bands.length;
    const up: number[] = [];
    const down: number[] = [];
    for (let i = 1; i < bands.length; i += 1) {
      const at = i + offset;
      if (jumpy[at - 1]! <= bands[i - 1]!.upper && jumpy[at]! > bands[i]!.upper) up.push(at);
      else if (jumpy[at - 1]! >= bands[i - 1]!.lower && jumpy[at]! < bands[i]!.lower) down.push(at);
    }
    expect(up.length).toBeGreaterThan(3);
    expect(firedAt(jumpyFired, 'bollinger_breakout_up')).toEqual(up);
    expect(firedAt(jumpyFired, 'bollinger_breakout_down')).toEqual(down);
  });

  it('every confidence lies in [0, 1]', () => {
    for (const entry of fired.flat()) {
      expect(entry.confidence).toBeGreaterThanOrEqual(0);
      expect(entry.confidence).toBeLessThanOrEqual(1);
    }
  });
});
