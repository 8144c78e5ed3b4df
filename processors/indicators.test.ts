import { describe, expect, it } from 'vitest';
import { ATR, AverageGain, AverageLoss, EMA, Highest, Lowest, MACD, SD, SMA, VWAP, WEMA } from 'technicalindicators';
import {
  atrValue,
  createAtr,
  createEma,
  createHistory,
  createMacd,
  createMovingStats,
  createRollingExtreme,
  createRsi,
  createSma,
  createVwap,
  createWilder,
  historyAt,
  macdLine,
  macdSignal,
  movingMean,
  movingStdDev,
  pushHistory,
  emaValue,
  rollingExtremeValue,
  rsiValue,
  smaValue,
  stepAtr,
  stepEma,
  stepMacd,
  stepMovingStats,
  stepRollingExtreme,
  stepRsi,
  stepSma,
  stepVwap,
  vwapValue,
} from './indicators.js';

/** A step and its getter as one call (state and input in, current value out), the way the series reads them. */
function valueAfter<State, Input extends unknown[]>(step: (state: State, ...input: Input) => void, value: (state: State) => number) {
  return (state: State, ...input: Input): number => {
    step(state, ...input);
    return value(state);
  };
}
const updateSma = valueAfter(stepSma, smaValue);
const updateEma = valueAfter(stepEma, emaValue);
const updateRsi = valueAfter(stepRsi, rsiValue);
const updateAtr = valueAfter(stepAtr, atrValue);
const updateVwap = valueAfter(stepVwap, vwapValue);
const updateRollingExtreme = valueAfter(stepRollingExtreme, rollingExtremeValue);

/** A long deterministic random walk (mulberry32), with OHLCV around it. */
function randomSeries(length: number, seed = 42) {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const open: number[] = [];
  const high: number[] = [];
  const low: number[] = [];
  const close: number[] = [];
  const volume: number[] = [];
  let price = 100;
  for (let i = 0; i < length; i += 1) {
    const o = price;
    price = Math.max(1, price * (1 + (random() - 0.5) * 0.02));
    const c = price;
    open.push(o);
    close.push(c);
    high.push(Math.max(o, c) * (1 + random() * 0.005));
    low.push(Math.min(o, c) * (1 - random() * 0.005));
    volume.push(Math.round(1000 + random() * 100_000));
  }
  return { open, high, low, close, volume };
}

const LENGTH = 20_000;
const series = randomSeries(LENGTH);
const TOLERANCE = 1e-9;

/** Compares our per-bar outputs (NaN while warming up) with a reference aligned to the series end. */
function expectAligned(ours: number[], reference: number[]) {
  const offset = ours.length - reference.length;
  expect(offset).toBeGreaterThanOrEqual(0);
  for (let i = 0; i < offset; i += 1) expect(Number.isNaN(ours[i]!)).toBe(true);
  let worst = 0;
  for (let i = 0; i < reference.length; i += 1) worst = Math.max(worst, Math.abs(ours[i + offset]! - reference[i]!));
  expect(worst).toBeLessThan(TOLERANCE);
}

describe('incremental indicators vs technicalindicators (20,000 random bars, 1e-9)', () => {
  it('SMA 20, 50 and 200', () => {
    for (const period of [20, 50, 200]) {
      const state = createSma(period);
      expectAligned(
        series.close.map((value) => updateSma(state, value)),
        SMA.calculate({ period, values: series.close }),
      );
    }
  });

  it('EMA 12 and 26, Wilder 14', () => {
    for (const period of [12, 26]) {
      const state = createEma(period);
      expectAligned(
        series.close.map((value) => updateEma(state, value)),
        EMA.calculate({ period, values: series.close }),
      );
    }
    const wilder = createWilder(14);
    expectAligned(
      series.close.map((value) => updateEma(wilder, value)),
      WEMA.calculate({ period: 14, values: series.close }),
    );
  });

  it('RSI 14 (Wilder) from the reference average gain and loss', () => {
    const state = createRsi(14);
    const ours = series.close.map((value) => updateRsi(state, value));
    const gains = AverageGain.calculate({ period: 14, values: series.close });
    const losses = AverageLoss.calculate({ period: 14, values: series.close });
    const reference = gains.map((gain, i) => {
      const loss = losses[i]!;
      if (loss === 0) return gain === 0 ? 50 : 100;
      if (gain === 0) return 0;
      return 100 - 100 / (1 + gain / loss);
    });
    expectAligned(ours, reference);
  });

  it('RSI of a flat stretch is 50 (no gain, no loss); a rise alone is 100 and a fall alone 0', () => {
    const flat = createRsi(14);
    const values = new Array<number>(30).fill(100).map((value) => updateRsi(flat, value));
    expect(values.slice(14)).toEqual(new Array<number>(16).fill(50));
    const rising = createRsi(14);
    let last = Number.NaN;
    for (let i = 0; i < 20; i += 1) last = updateRsi(rising, 100 + i);
    expect(last).toBe(100);
    const falling = createRsi(14);
    for (let i = 0; i < 20; i += 1) last = updateRsi(falling, 100 - i);
    expect(last).toBe(0);
  });

  it('MACD 12/26/9 (EMA oscillator and signal)', () => {
    const state = createMacd(12, 26, 9);
    const lines: number[] = [];
    const signals: number[] = [];
    for (const value of series.close) {
      stepMacd(state, value);
      lines.push(macdLine(state));
      signals.push(macdSignal(state));
    }
    const reference = MACD.calculate({
      values: series.close,
      fastPeriod: 12,
      slowPeriod: 26,
      signalPeriod: 9,
      SimpleMAOscillator: false,
      SimpleMASignal: false,
    });
    expectAligned(
      lines,
      reference.map((row) => row.MACD!),
    );
    const referenceSignals = reference.filter((row) => row.signal !== undefined).map((row) => row.signal!);
    expectAligned(signals, referenceSignals);
  });

  it('Bollinger 20/2σ: moving mean and population standard deviation', () => {
    const state = createMovingStats(20);
    const means: number[] = [];
    const deviations: number[] = [];
    for (const value of series.close) {
      stepMovingStats(state, value);
      means.push(movingMean(state));
      deviations.push(movingStdDev(state));
    }
    expectAligned(means, SMA.calculate({ period: 20, values: series.close }));
    expectAligned(deviations, SD.calculate({ period: 20, values: series.close }));
  });

  it('Bollinger: a window of one repeated value has exactly zero deviation, however the values before it moved', () => {
    const state = createMovingStats(20);
    for (const value of series.close.slice(0, 500)) stepMovingStats(state, value);
    for (let i = 0; i < 19; i += 1) stepMovingStats(state, 101.23);
    expect(movingStdDev(state)).toBeGreaterThan(0);
    stepMovingStats(state, 101.23);
    expect(movingStdDev(state)).toBe(0);
    expect(movingMean(state)).toBe(101.23);
    // And it moves on from there like the reference.
    const tail = [...new Array<number>(20).fill(101.23), 101.5, 100.9, 101.1];
    for (const value of tail.slice(20)) stepMovingStats(state, value);
    const reference = SD.calculate({ period: 20, values: tail }).at(-1)!;
    expect(movingStdDev(state)).toBeCloseTo(reference, 9);
  });

  it('ATR 14', () => {
    const state = createAtr(14);
    const ours = series.close.map((close, i) => {
      updateAtr(state, series.high[i]!, series.low[i]!, close);
      return atrValue(state);
    });
    expectAligned(ours, ATR.calculate({ period: 14, high: series.high, low: series.low, close: series.close }));
  });

  it('session VWAP (one session) and its reset at a new session', () => {
    const length = 390;
    const state = createVwap();
    const ours = series.close
      .slice(0, length)
      .map((close, i) => updateVwap(state, 7, series.high[i]!, series.low[i]!, close, series.volume[i]!));
    const reference = VWAP.calculate({
      high: series.high.slice(0, length),
      low: series.low.slice(0, length),
      close: series.close.slice(0, length),
      volume: series.volume.slice(0, length),
    });
    expectAligned(ours, reference);
    updateVwap(state, 8, 11, 9, 10, 100);
    expect(vwapValue(state)).toBe(10);
    expect(Number.isNaN(vwapValue(createVwap()))).toBe(true);
  });

  it('25-bar highest high and lowest low', () => {
    const highs = createRollingExtreme(25, 'max');
    const lows = createRollingExtreme(25, 'min');
    expectAligned(
      series.high.map((value) => updateRollingExtreme(highs, value)),
      Highest.calculate({ period: 25, values: series.high }),
    );
    expectAligned(
      series.low.map((value) => updateRollingExtreme(lows, value)),
      Lowest.calculate({ period: 25, values: series.low }),
    );
  });

  it('rolling extremes with ties and monotone runs', () => {
    const highs = createRollingExtreme(3, 'max');
    const values = [1, 1, 1, 2, 3, 4, 3, 2, 1, 1];
    const ours = values.map((value) => updateRollingExtreme(highs, value));
    expect(ours.slice(2)).toEqual([1, 2, 3, 4, 4, 4, 3, 2]);
  });

  it('history reads back the last values', () => {
    const history = createHistory(3);
    expect(Number.isNaN(historyAt(history, 0))).toBe(true);
    for (const value of [1, 2, 3, 4]) pushHistory(history, value);
    expect([historyAt(history, 0), historyAt(history, 1), historyAt(history, 2)]).toEqual([4, 3, 2]);
    expect(Number.isNaN(historyAt(history, 3))).toBe(true);
  });

  it('states survive a JSON round trip mid-series (snapshots) and continue identically', () => {
    const first = createMacd();
    const values = series.close.slice(0, 500);
    for (const value of values.slice(0, 250)) stepMacd(first, value);
    const copy = JSON.parse(JSON.stringify(first)) as typeof first;
    for (const value of values.slice(250)) {
      stepMacd(first, value);
      stepMacd(copy, value);
    }
    expect(macdLine(copy)).toBe(macdLine(first));
    expect(macdSignal(copy)).toBe(macdSignal(first));
  });
});
