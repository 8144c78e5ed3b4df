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
  emaValue,
  historyAt,
  macdLine,
  macdSignal,
  movingMean,
  movingStdDev,
  pushHistory,
  smaValue,
  rsiValue,
  stepAtr,
  stepEma,
  stepMacd,
  stepMovingStats,
  stepRollingExtreme,
  stepRsi,
  stepSma,
  stepVwap,
  type Atr,
  type Ema,
  type History,
  type Macd,
  type MovingStats,
  type RollingExtreme,
  type Rsi,
  type Sma,
  type Vwap,
} from './indicators.js';

export type Direction = 'BULLISH' | 'BEARISH' | 'NEUTRAL';

/** Thresholds of the catalog for one tier (see processors/PATTERNS.md). */
export interface SeriesParams {
  readonly breakoutBars: number;
  readonly volumeAverageBars: number;
  readonly breakoutRelativeVolume: number;
  readonly volumeSpikeRatio: number;
  readonly momentumBars: number;
  readonly momentumThresholdPct: number;
  readonly momentumRelativeVolume: number;
  readonly dojiBodyRatio: number;
  readonly shadowBodyRatio: number;
  readonly engulfRatio: number;
  readonly starBodyRatio: number;
  readonly longBodyRatio: number;
  readonly trendBars: number;
  readonly minRangeAtr: number;
  readonly gapPct: number;
  readonly rsiOverbought: number;
  readonly rsiOversold: number;
  readonly doubleTolerancePct: number;
  readonly doubleMinDepthPct: number;
  readonly doubleMinSeparation: number;
  readonly doubleMaxBars: number;
}

export const INTRADAY_PARAMS: SeriesParams = {
  breakoutBars: 25,
  volumeAverageBars: 20,
  breakoutRelativeVolume: 1.5,
  volumeSpikeRatio: 2,
  momentumBars: 5,
  momentumThresholdPct: 1,
  momentumRelativeVolume: 1.5,
  dojiBodyRatio: 0.1,
  shadowBodyRatio: 2,
  engulfRatio: 1.1,
  starBodyRatio: 0.3,
  longBodyRatio: 0.6,
  trendBars: 5,
  minRangeAtr: 0.25,
  gapPct: 1,
  rsiOverbought: 70,
  rsiOversold: 30,
  doubleTolerancePct: 0.3,
  doubleMinDepthPct: 0.5,
  doubleMinSeparation: 5,
  doubleMaxBars: 60,
};

export const DAILY_PARAMS: SeriesParams = {
  ...INTRADAY_PARAMS,
  momentumThresholdPct: 8,
  doubleTolerancePct: 1.5,
  doubleMinDepthPct: 3,
  doubleMaxBars: 40,
};

/** All indicator and pattern state of one symbol's bar series (minute or daily). */
export interface SeriesState {
  bars: number;
  lastStartMs: number;
  // The current bar (0) and the two before it.
  o0: number;
  h0: number;
  l0: number;
  c0: number;
  v0: number;
  o1: number;
  h1: number;
  l1: number;
  c1: number;
  v1: number;
  o2: number;
  h2: number;
  l2: number;
  c2: number;
  v2: number;
  closes: History;
  highs: History;
  lows: History;
  ema12: Ema;
  ema26: Ema;
  sma50: Sma;
  sma200: Sma;
  macd: Macd;
  bands: MovingStats;
  rsi: Rsi;
  atr: Atr;
  volumeAverage: Sma;
  highest: RollingExtreme;
  lowest: RollingExtreme;
  vwap: Vwap;
  // Values of the previous bar for cross detection (NaN when not ready). The spreads are the last
  // non-zero ones: a spread of exactly 0 (a flat stretch) keeps the side it had, so leaving it is a cross
  // only back to the other side, and the first move out of a series flat since its start is none.
  lastEmaSpread: number;
  lastSmaSpread: number;
  lastMacdSpread: number;
  previousRsi: number;
  previousUpper: number;
  previousLower: number;
  rsiExtreme: number;
  // Current values (NaN when not ready).
  relativeVolume: number;
  rsiNow: number;
  // Pivots (fractals with two bars each side) and the levels they make.
  pivotHigh: number;
  pivotHighBar: number;
  pivotLow: number;
  pivotLowBar: number;
  resistance: number;
  support: number;
  doubleBottomNeck: number;
  doubleBottomFirst: number;
  doubleBottomSecond: number;
  doubleBottomBar: number;
  doubleTopNeck: number;
  doubleTopFirst: number;
  doubleTopSecond: number;
  doubleTopBar: number;
}

export function createSeries(params: SeriesParams): SeriesState {
  return {
    bars: 0,
    lastStartMs: -1,
    o0: 0,
    h0: 0,
    l0: 0,
    c0: 0,
    v0: 0,
    o1: 0,
    h1: 0,
    l1: 0,
    c1: 0,
    v1: 0,
    o2: 0,
    h2: 0,
    l2: 0,
    c2: 0,
    v2: 0,
    closes: createHistory(Math.max(params.momentumBars, params.trendBars) + 2),
    highs: createHistory(5),
    lows: createHistory(5),
    ema12: createEma(12),
    ema26: createEma(26),
    sma50: createSma(50),
    sma200: createSma(200),
    macd: createMacd(12, 26, 9),
    bands: createMovingStats(20),
    rsi: createRsi(14),
    atr: createAtr(14),
    volumeAverage: createSma(params.volumeAverageBars),
    highest: createRollingExtreme(params.breakoutBars, 'max'),
    lowest: createRollingExtreme(params.breakoutBars, 'min'),
    vwap: createVwap(),
    lastEmaSpread: Number.NaN,
    lastSmaSpread: Number.NaN,
    lastMacdSpread: Number.NaN,
    previousRsi: Number.NaN,
    previousUpper: Number.NaN,
    previousLower: Number.NaN,
    rsiExtreme: 50,
    relativeVolume: Number.NaN,
    rsiNow: Number.NaN,
    pivotHigh: Number.NaN,
    pivotHighBar: -1,
    pivotLow: Number.NaN,
    pivotLowBar: -1,
    resistance: Number.NaN,
    support: Number.NaN,
    doubleBottomNeck: Number.NaN,
    doubleBottomFirst: 0,
    doubleBottomSecond: 0,
    doubleBottomBar: -1,
    doubleTopNeck: Number.NaN,
    doubleTopFirst: 0,
    doubleTopSecond: 0,
    doubleTopBar: -1,
  };
}

/**
 * The numbers of the detection being reported, written just before each fire() call and valid only
 * during it: [0] the base confidence, [1..5] the values of the named levels k1..k5. A double passed as
 * an argument to a call V8 does not inline is boxed (a heap allocation); one stored in a Float64Array
 * is not, so reporting a detection allocates nothing until the sink decides to emit it.
 */
export const DETECTION = new Float64Array(6);

/**
 * Receives the patterns a bar completes, with the names of up to five key levels (their values and the
 * confidence are in DETECTION): the sink builds a levels object only for what it emits, so a repeat
 * it absorbs allocates nothing.
 */
export interface PatternSink {
  fire(pattern: string, direction: Direction, k1?: string, k2?: string, k3?: string, k4?: string, k5?: string): void;
}

/** The levels object of the fire() call in progress. */
export function levelsOf(k1?: string, k2?: string, k3?: string, k4?: string, k5?: string): Record<string, number> {
  const d = DETECTION;
  const levels: Record<string, number> = {};
  if (k1 !== undefined) levels[k1] = d[1]!;
  if (k2 !== undefined) levels[k2] = d[2]!;
  if (k3 !== undefined) levels[k3] = d[3]!;
  if (k4 !== undefined) levels[k4] = d[4]!;
  if (k5 !== undefined) levels[k5] = d[5]!;
  return levels;
}

function clamp01(value: number): number {
  return value < 0 ? 0 : value > 1 ? 1 : value;
}

/** Confidence bonus for volume confirmation. */
function volumeBonus(relativeVolume: number, threshold: number): number {
  return relativeVolume >= threshold ? 0.1 : 0;
}

/**
 * Folds one bar into the series and reports the patterns it completes. O(1): every indicator is
 * incremental and every pattern reads a fixed number of values. `sessionDay` resets the VWAP;
 * `previousSessionClose` (NaN when unknown) drives the gap pattern when `firstBarOfSession`.
 */
export function updateSeries(
  s: SeriesState,
  params: SeriesParams,
  open: number,
  high: number,
  low: number,
  close: number,
  volume: number,
  sessionDay: number,
  firstBarOfSession: boolean,
  previousSessionClose: number,
  sink: PatternSink | undefined,
): void {
  const input = SERIES_INPUT;
  input[0] = open;
  input[1] = high;
  input[2] = low;
  input[3] = close;
  input[4] = volume;
  input[5] = previousSessionClose;
  updateSeriesFromInput(s, params, sessionDay, firstBarOfSession, sink);
}

/**
 * The bar for updateSeriesFromInput(), written by its caller just before the call: open, high, low,
 * close, volume, previous session close. Doubles passed as arguments of a call that is not inlined are
 * boxed (heap allocations); in a Float64Array they are not.
 */
export const SERIES_INPUT = new Float64Array(6);

/** updateSeries() with the bar's numbers in SERIES_INPUT. */
export function updateSeriesFromInput(
  s: SeriesState,
  params: SeriesParams,
  sessionDay: number,
  firstBarOfSession: boolean,
  sink: PatternSink | undefined,
): void {
  const input = SERIES_INPUT;
  const open = input[0]!;
  const high = input[1]!;
  const low = input[2]!;
  const close = input[3]!;
  const volume = input[4]!;
  const previousSessionClose = input[5]!;
  // Shift the bar window.
  s.o2 = s.o1;
  s.h2 = s.h1;
  s.l2 = s.l1;
  s.c2 = s.c1;
  s.v2 = s.v1;
  s.o1 = s.o0;
  s.h1 = s.h0;
  s.l1 = s.l0;
  s.c1 = s.c0;
  s.v1 = s.v0;
  s.o0 = open;
  s.h0 = high;
  s.l0 = low;
  s.c0 = close;
  s.v0 = volume;
  s.bars += 1;

  // Values over the previous bars, read before this bar enters them. Read here field by field, not
  // through rollingExtremeValue()/smaValue(): V8 did not inline those getters at this point (the profile
  // showed them boxing their results, ~2.5 % of the engine's CPU); the expressions are the getters'.
  const highest = s.highest;
  const lowest = s.lowest;
  const volumeAverage = s.volumeAverage;
  const priorHigh = highest.pushed >= highest.period ? highest.values[highest.head]! : Number.NaN;
  const priorLow = lowest.pushed >= lowest.period ? lowest.values[lowest.head]! : Number.NaN;
  const averageVolume = volumeAverage.count >= volumeAverage.period ? volumeAverage.sum / volumeAverage.period : Number.NaN;
  const relativeVolume = averageVolume > 0 ? volume / averageVolume : Number.NaN;
  s.relativeVolume = relativeVolume;

  pushHistory(s.closes, close);
  pushHistory(s.highs, high);
  pushHistory(s.lows, low);
  // Step forms (no result) and getters: see "Step functions" in indicators.ts.
  stepRollingExtreme(s.highest, high);
  stepRollingExtreme(s.lowest, low);
  stepSma(s.volumeAverage, volume);
  stepEma(s.ema12, close);
  stepEma(s.ema26, close);
  stepSma(s.sma50, close);
  stepSma(s.sma200, close);
  stepMacd(s.macd, close);
  stepMovingStats(s.bands, close);
  stepRsi(s.rsi, close);
  const ema12 = emaValue(s.ema12);
  const ema26 = emaValue(s.ema26);
  const sma50 = smaValue(s.sma50);
  const sma200 = smaValue(s.sma200);
  const rsi = rsiValue(s.rsi);
  s.rsiNow = rsi;
  stepAtr(s.atr, high, low, close);
  stepVwap(s.vwap, sessionDay, high, low, close, volume);

  const emaSpread = ema12 - ema26;
  const smaSpread = sma50 - sma200;
  const macdSpread = macdLine(s.macd) - macdSignal(s.macd);
  const middle = movingMean(s.bands);
  const deviation = movingStdDev(s.bands);
  const upper = middle + 2 * deviation;
  const lower = middle - 2 * deviation;

  if (sink !== undefined) {
    // One reused scratch object instead of an allocation per bar.
    const v = scratch;
    v.priorHigh = priorHigh;
    v.priorLow = priorLow;
    v.relativeVolume = relativeVolume;
    v.emaSpread = emaSpread;
    v.smaSpread = smaSpread;
    v.macdSpread = macdSpread;
    v.rsi = rsi;
    v.middle = middle;
    v.upper = upper;
    v.lower = lower;
    v.firstBarOfSession = firstBarOfSession;
    v.previousSessionClose = previousSessionClose;
    detect(s, params, sink, v);
  }

  if (emaSpread !== 0) s.lastEmaSpread = emaSpread;
  if (smaSpread !== 0) s.lastSmaSpread = smaSpread;
  if (macdSpread !== 0) s.lastMacdSpread = macdSpread;
  s.previousRsi = rsi;
  s.previousUpper = upper;
  s.previousLower = lower;
  // The most extreme RSI of the current excursion below (or above) 50, for the RSI cross confidence.
  if (!(rsi === rsi)) s.rsiExtreme = 50;
  else if (rsi < 50) s.rsiExtreme = s.rsiExtreme < 50 ? Math.min(s.rsiExtreme, rsi) : rsi;
  else s.rsiExtreme = s.rsiExtreme >= 50 ? Math.max(s.rsiExtreme, rsi) : rsi;
}

interface BarValues {
  priorHigh: number;
  priorLow: number;
  relativeVolume: number;
  emaSpread: number;
  smaSpread: number;
  macdSpread: number;
  rsi: number;
  middle: number;
  upper: number;
  lower: number;
  firstBarOfSession: boolean;
  previousSessionClose: number;
}

const scratch: BarValues = {
  priorHigh: 0,
  priorLow: 0,
  relativeVolume: 0,
  emaSpread: 0,
  smaSpread: 0,
  macdSpread: 0,
  rsi: 0,
  middle: 0,
  upper: 0,
  lower: 0,
  firstBarOfSession: false,
  previousSessionClose: 0,
};

function detect(s: SeriesState, p: SeriesParams, sink: PatternSink, v: BarValues): void {
  const d = DETECTION;
  const { o0, h0, l0, c0, o1, c1, h1, l1, o2, c2, h2, l2 } = s;
  const relVol = v.relativeVolume;
  const atr = atrValue(s.atr);
  const range = h0 - l0;
  const body = Math.abs(c0 - o0);
  const upperShadow = h0 - Math.max(o0, c0);
  const lowerShadow = Math.min(o0, c0) - l0;
  // Candles need a real range: at least a fraction of the ATR once the ATR exists. Every candle pattern
  // applies it to the current bar, and the stars to their first (long) bar as well.
  const minRange = atr === atr ? p.minRangeAtr * atr : 0;
  const candleOk = range > 0 && range >= minRange;
  const trendBase = historyAt(s.closes, p.trendBars);
  const downtrend = historyAt(s.closes, 1) < trendBase;
  const uptrend = historyAt(s.closes, 1) > trendBase;

  // --- single candles
  if (candleOk && body <= p.dojiBodyRatio * range) {
    d[0] = clamp01(0.5 + 0.3 * (1 - body / (p.dojiBodyRatio * range)));
    d[1] = h0;
    d[2] = l0;
    sink.fire('doji', 'NEUTRAL', 'high', 'low');
  }
  if (candleOk && body > 0 && lowerShadow >= p.shadowBodyRatio * body && upperShadow <= body) {
    const strength = 0.55 + Math.min(0.2, (lowerShadow / body - p.shadowBodyRatio) * 0.05) + volumeBonus(relVol, p.breakoutRelativeVolume);
    if (downtrend) {
      d[0] = clamp01(strength);
      d[1] = l0;
      d[2] = l0;
      d[3] = h0;
      sink.fire('hammer', 'BULLISH', 'support', 'stop', 'resistance');
    } else if (uptrend) {
      d[0] = clamp01(strength);
      d[1] = h0;
      d[2] = h0;
      d[3] = l0;
      sink.fire('hanging_man', 'BEARISH', 'resistance', 'stop', 'support');
    }
  }
  if (candleOk && body > 0 && uptrend && upperShadow >= p.shadowBodyRatio * body && lowerShadow <= body) {
    const strength = 0.55 + Math.min(0.2, (upperShadow / body - p.shadowBodyRatio) * 0.05) + volumeBonus(relVol, p.breakoutRelativeVolume);
    d[0] = clamp01(strength);
    d[1] = h0;
    d[2] = h0;
    d[3] = l0;
    sink.fire('shooting_star', 'BEARISH', 'resistance', 'stop', 'support');
  }

  // --- two and three candles
  if (s.bars >= 2) {
    const body1 = Math.abs(c1 - o1);
    if (candleOk && body1 > 0 && c1 < o1 && c0 > o0 && o0 <= c1 && c0 >= o1 && body >= p.engulfRatio * body1) {
      const strength =
        0.6 + Math.min(0.2, (body / body1 - p.engulfRatio) * 0.2) + (downtrend ? 0.1 : 0) + volumeBonus(relVol, p.breakoutRelativeVolume);
      d[0] = clamp01(strength);
      d[1] = Math.min(l0, l1);
      d[2] = Math.min(l0, l1);
      d[3] = o1;
      sink.fire('bullish_engulfing', 'BULLISH', 'support', 'stop', 'engulfed');
    }
    if (candleOk && body1 > 0 && c1 > o1 && c0 < o0 && o0 >= c1 && c0 <= o1 && body >= p.engulfRatio * body1) {
      const strength =
        0.6 + Math.min(0.2, (body / body1 - p.engulfRatio) * 0.2) + (uptrend ? 0.1 : 0) + volumeBonus(relVol, p.breakoutRelativeVolume);
      d[0] = clamp01(strength);
      d[1] = Math.max(h0, h1);
      d[2] = Math.max(h0, h1);
      d[3] = o1;
      sink.fire('bearish_engulfing', 'BEARISH', 'resistance', 'stop', 'engulfed');
    }
  }
  if (candleOk && s.bars >= 3) {
    const body1 = Math.abs(c1 - o1);
    const body2 = Math.abs(c2 - o2);
    const range2 = h2 - l2;
    const longFirst = range2 > 0 && range2 >= minRange && body2 >= p.longBodyRatio * range2;
    const smallStar = body1 <= p.starBodyRatio * body2;
    const midFirst = (o2 + c2) / 2;
    if (longFirst && smallStar && c2 < o2 && (o1 + c1) / 2 <= c2 && c0 > o0 && c0 > midFirst) {
      const strength = 0.65 + Math.min(0.15, ((c0 - midFirst) / body2) * 0.3) + volumeBonus(relVol, p.breakoutRelativeVolume);
      d[0] = clamp01(strength);
      d[1] = Math.min(l0, l1, l2);
      d[2] = Math.min(l0, l1, l2);
      d[3] = o2;
      sink.fire('morning_star', 'BULLISH', 'support', 'stop', 'resistance');
    }
    if (longFirst && smallStar && c2 > o2 && (o1 + c1) / 2 >= c2 && c0 < o0 && c0 < midFirst) {
      const strength = 0.65 + Math.min(0.15, ((midFirst - c0) / body2) * 0.3) + volumeBonus(relVol, p.breakoutRelativeVolume);
      d[0] = clamp01(strength);
      d[1] = Math.max(h0, h1, h2);
      d[2] = Math.max(h0, h1, h2);
      d[3] = o2;
      sink.fire('evening_star', 'BEARISH', 'resistance', 'stop', 'support');
    }
  }

  // --- volume, gap, momentum
  if (relVol >= p.volumeSpikeRatio) {
    const direction: Direction = c0 > o0 ? 'BULLISH' : c0 < o0 ? 'BEARISH' : 'NEUTRAL';
    d[0] = clamp01(0.5 + Math.min(0.4, (relVol - p.volumeSpikeRatio) * 0.1));
    d[1] = relVol;
    d[2] = h0;
    d[3] = l0;
    sink.fire('volume_spike', direction, 'relativeVolume', 'high', 'low');
  }
  if (v.firstBarOfSession && v.previousSessionClose > 0) {
    const gapPct = ((o0 - v.previousSessionClose) / v.previousSessionClose) * 100;
    if (gapPct >= p.gapPct) {
      d[0] = clamp01(0.5 + Math.min(0.4, (gapPct - p.gapPct) * 0.1));
      d[1] = v.previousSessionClose;
      d[2] = o0;
      d[3] = gapPct;
      sink.fire('gap_up', 'BULLISH', 'previousClose', 'open', 'gapPct');
    } else if (gapPct <= -p.gapPct) {
      d[0] = clamp01(0.5 + Math.min(0.4, (-gapPct - p.gapPct) * 0.1));
      d[1] = v.previousSessionClose;
      d[2] = o0;
      d[3] = gapPct;
      sink.fire('gap_down', 'BEARISH', 'previousClose', 'open', 'gapPct');
    }
  }
  const momentumBase = historyAt(s.closes, p.momentumBars);
  if (momentumBase > 0 && range > 0 && relVol >= p.momentumRelativeVolume) {
    const rocPct = ((c0 - momentumBase) / momentumBase) * 100;
    const strength =
      0.5 +
      Math.min(0.3, (Math.abs(rocPct) / p.momentumThresholdPct - 1) * 0.15) +
      Math.min(0.2, (relVol - p.momentumRelativeVolume) * 0.1);
    if (rocPct >= p.momentumThresholdPct && c0 >= l0 + (2 / 3) * range) {
      d[0] = clamp01(strength);
      d[1] = rocPct;
      d[2] = momentumBase;
      d[3] = h0;
      sink.fire('momentum_spike', 'BULLISH', 'momentumPct', 'base', 'high');
    } else if (rocPct <= -p.momentumThresholdPct && c0 <= l0 + range / 3) {
      d[0] = clamp01(strength);
      d[1] = rocPct;
      d[2] = momentumBase;
      d[3] = l0;
      sink.fire('momentum_spike', 'BEARISH', 'momentumPct', 'base', 'low');
    }
  }

  // --- indicator crosses
  if (s.lastEmaSpread < 0 && v.emaSpread > 0) {
    d[0] = clamp01(0.6 + volumeBonus(relVol, p.breakoutRelativeVolume) + (v.rsi > 50 && v.rsi < 70 ? 0.1 : 0));
    d[1] = emaValue(s.ema12);
    d[2] = emaValue(s.ema26);
    sink.fire('ema_golden_cross', 'BULLISH', 'ema12', 'ema26');
  } else if (s.lastEmaSpread > 0 && v.emaSpread < 0) {
    d[0] = clamp01(0.6 + volumeBonus(relVol, p.breakoutRelativeVolume) + (v.rsi < 50 && v.rsi > 30 ? 0.1 : 0));
    d[1] = emaValue(s.ema12);
    d[2] = emaValue(s.ema26);
    sink.fire('ema_death_cross', 'BEARISH', 'ema12', 'ema26');
  }
  if (s.lastSmaSpread < 0 && v.smaSpread > 0) {
    d[0] = clamp01(0.7 + volumeBonus(relVol, p.breakoutRelativeVolume));
    d[1] = smaValue(s.sma50);
    d[2] = smaValue(s.sma200);
    sink.fire('sma_golden_cross', 'BULLISH', 'sma50', 'sma200');
  } else if (s.lastSmaSpread > 0 && v.smaSpread < 0) {
    d[0] = clamp01(0.7 + volumeBonus(relVol, p.breakoutRelativeVolume));
    d[1] = smaValue(s.sma50);
    d[2] = smaValue(s.sma200);
    sink.fire('sma_death_cross', 'BEARISH', 'sma50', 'sma200');
  }
  if (s.lastMacdSpread < 0 && v.macdSpread > 0) {
    const line = macdLine(s.macd);
    d[0] = clamp01(0.55 + (line < 0 ? 0.15 : 0) + volumeBonus(relVol, p.breakoutRelativeVolume));
    d[1] = line;
    d[2] = macdSignal(s.macd);
    sink.fire('macd_bullish_cross', 'BULLISH', 'macd', 'signal');
  } else if (s.lastMacdSpread > 0 && v.macdSpread < 0) {
    const line = macdLine(s.macd);
    d[0] = clamp01(0.55 + (line > 0 ? 0.15 : 0) + volumeBonus(relVol, p.breakoutRelativeVolume));
    d[1] = line;
    d[2] = macdSignal(s.macd);
    sink.fire('macd_bearish_cross', 'BEARISH', 'macd', 'signal');
  }
  if (s.previousRsi < p.rsiOversold && v.rsi >= p.rsiOversold) {
    d[0] = clamp01(0.55 + Math.min(0.3, (p.rsiOversold - s.rsiExtreme) * 0.03));
    d[1] = v.rsi;
    d[2] = s.rsiExtreme;
    d[3] = p.rsiOversold;
    sink.fire('rsi_oversold_cross', 'BULLISH', 'rsi', 'rsiLow', 'threshold');
  } else if (s.previousRsi > p.rsiOverbought && v.rsi <= p.rsiOverbought) {
    d[0] = clamp01(0.55 + Math.min(0.3, (s.rsiExtreme - p.rsiOverbought) * 0.03));
    d[1] = v.rsi;
    d[2] = s.rsiExtreme;
    d[3] = p.rsiOverbought;
    sink.fire('rsi_overbought_cross', 'BEARISH', 'rsi', 'rsiHigh', 'threshold');
  }
  const deviation = (v.upper - v.middle) / 2;
  // A breakout starts inside the previous bands (a jump from below the lower band to above the upper is
  // no breakout up), and those bands must have width: after a flat stretch (σ = 0) any tick would "break" them.
  const wasInside = s.previousUpper > s.previousLower && c1 <= s.previousUpper && c1 >= s.previousLower;
  if (wasInside && c0 > v.upper) {
    const strength = 0.55 + Math.min(0.25, ((c0 - v.upper) / deviation) * 0.25) + volumeBonus(relVol, p.breakoutRelativeVolume);
    d[0] = clamp01(strength);
    d[1] = v.upper;
    d[2] = v.middle;
    d[3] = v.lower;
    sink.fire('bollinger_breakout_up', 'BULLISH', 'upper', 'middle', 'lower');
  } else if (wasInside && c0 < v.lower) {
    const strength = 0.55 + Math.min(0.25, ((v.lower - c0) / deviation) * 0.25) + volumeBonus(relVol, p.breakoutRelativeVolume);
    d[0] = clamp01(strength);
    d[1] = v.upper;
    d[2] = v.middle;
    d[3] = v.lower;
    sink.fire('bollinger_breakout_down', 'BEARISH', 'upper', 'middle', 'lower');
  }

  // --- N-bar breakout with volume confirmation
  if (c0 > v.priorHigh && relVol >= p.breakoutRelativeVolume) {
    const strength = 0.6 + Math.min(0.2, (relVol - p.breakoutRelativeVolume) * 0.1) + Math.min(0.2, (c0 / v.priorHigh - 1) * 10);
    d[0] = clamp01(strength);
    d[1] = v.priorHigh;
    d[2] = v.priorLow;
    d[3] = relVol;
    sink.fire('breakout_high', 'BULLISH', 'breakout', 'stop', 'relativeVolume');
  } else if (c0 < v.priorLow && relVol >= p.breakoutRelativeVolume) {
    const strength = 0.6 + Math.min(0.2, (relVol - p.breakoutRelativeVolume) * 0.1) + Math.min(0.2, (1 - c0 / v.priorLow) * 10);
    d[0] = clamp01(strength);
    d[1] = v.priorLow;
    d[2] = v.priorHigh;
    d[3] = relVol;
    sink.fire('breakdown_low', 'BEARISH', 'breakdown', 'stop', 'relativeVolume');
  }

  detectStructure(s, p, sink, v);
}

/** Pivots, support/resistance breaks and double bottoms/tops. */
function detectStructure(s: SeriesState, p: SeriesParams, sink: PatternSink, v: BarValues): void {
  // Numbers are read here rather than passed in: a double argument of a call that is not inlined is boxed.
  const d = DETECTION;
  const relVol = v.relativeVolume;
  const atr = atrValue(s.atr);
  const { h2, l2 } = s;
  const bar = s.bars - 1;
  const { c0, c1 } = s;
  // Support/resistance breaks use levels known before this bar.
  if (s.resistance === s.resistance && c1 <= s.resistance && c0 > s.resistance) {
    const push = atr > 0 ? (c0 - s.resistance) / atr : 0;
    d[0] = clamp01(0.6 + volumeBonus(relVol, p.breakoutRelativeVolume) + Math.min(0.2, push * 0.2));
    d[1] = s.resistance;
    d[2] = s.support === s.support ? s.support : s.l0;
    sink.fire('resistance_break', 'BULLISH', 'resistance', 'stop');
    s.resistance = Number.NaN;
  }
  if (s.support === s.support && c1 >= s.support && c0 < s.support) {
    const push = atr > 0 ? (s.support - c0) / atr : 0;
    d[0] = clamp01(0.6 + volumeBonus(relVol, p.breakoutRelativeVolume) + Math.min(0.2, push * 0.2));
    d[1] = s.support;
    d[2] = s.resistance === s.resistance ? s.resistance : s.h0;
    sink.fire('support_break', 'BEARISH', 'support', 'stop');
    s.support = Number.NaN;
  }

  // Double bottom / top confirmation: the close crosses the neckline within doubleMaxBars bars of arming
  // (the window is checked first, so the bar after the last one cannot confirm).
  if (s.doubleBottomBar >= 0) {
    const floor = Math.min(s.doubleBottomFirst, s.doubleBottomSecond);
    if (bar - s.doubleBottomBar > p.doubleMaxBars) {
      s.doubleBottomBar = -1;
    } else if (c1 <= s.doubleBottomNeck && c0 > s.doubleBottomNeck) {
      // The measure that armed it: relative to the first low.
      const similarity = (Math.abs(s.doubleBottomFirst - s.doubleBottomSecond) / s.doubleBottomFirst) * 100;
      d[0] = clamp01(0.65 + volumeBonus(relVol, p.breakoutRelativeVolume) + (similarity <= p.doubleTolerancePct / 2 ? 0.1 : 0));
      d[1] = s.doubleBottomFirst;
      d[2] = s.doubleBottomSecond;
      d[3] = s.doubleBottomNeck;
      d[4] = s.doubleBottomNeck + (s.doubleBottomNeck - floor);
      d[5] = floor;
      sink.fire('double_bottom', 'BULLISH', 'firstBottom', 'secondBottom', 'neckline', 'target', 'stop');
      s.doubleBottomBar = -1;
    } else if (c0 < floor * (1 - p.doubleTolerancePct / 100)) {
      s.doubleBottomBar = -1;
    }
  }
  if (s.doubleTopBar >= 0) {
    const ceiling = Math.max(s.doubleTopFirst, s.doubleTopSecond);
    if (bar - s.doubleTopBar > p.doubleMaxBars) {
      s.doubleTopBar = -1;
    } else if (c1 >= s.doubleTopNeck && c0 < s.doubleTopNeck) {
      const similarity = (Math.abs(s.doubleTopFirst - s.doubleTopSecond) / s.doubleTopFirst) * 100;
      d[0] = clamp01(0.65 + volumeBonus(relVol, p.breakoutRelativeVolume) + (similarity <= p.doubleTolerancePct / 2 ? 0.1 : 0));
      d[1] = s.doubleTopFirst;
      d[2] = s.doubleTopSecond;
      d[3] = s.doubleTopNeck;
      d[4] = s.doubleTopNeck - (ceiling - s.doubleTopNeck);
      d[5] = ceiling;
      sink.fire('double_top', 'BEARISH', 'firstTop', 'secondTop', 'neckline', 'target', 'stop');
      s.doubleTopBar = -1;
    } else if (c0 > ceiling * (1 + p.doubleTolerancePct / 100)) {
      s.doubleTopBar = -1;
    }
  }

  // A pivot at bar-2 is confirmed once two later bars did not exceed it.
  if (s.bars < 5) return;
  const pivotBar = bar - 2;
  const highs = s.highs;
  const lows = s.lows;
  const candidateHigh = h2;
  if (
    candidateHigh > historyAt(highs, 3) &&
    candidateHigh > historyAt(highs, 4) &&
    candidateHigh >= historyAt(highs, 1) &&
    candidateHigh >= historyAt(highs, 0)
  ) {
    const previous = s.pivotHigh;
    const previousBar = s.pivotHighBar;
    if (previous === previous && pivotBar - previousBar >= p.doubleMinSeparation && s.pivotLowBar > previousBar) {
      const similarity = (Math.abs(candidateHigh - previous) / previous) * 100;
      const depth = ((Math.min(candidateHigh, previous) - s.pivotLow) / Math.min(candidateHigh, previous)) * 100;
      if (similarity <= p.doubleTolerancePct && depth >= p.doubleMinDepthPct) {
        s.doubleTopFirst = previous;
        s.doubleTopSecond = candidateHigh;
        s.doubleTopNeck = s.pivotLow;
        s.doubleTopBar = bar;
      }
    }
    s.pivotHigh = candidateHigh;
    s.pivotHighBar = pivotBar;
    s.resistance = candidateHigh;
  }
  const candidateLow = l2;
  if (
    candidateLow < historyAt(lows, 3) &&
    candidateLow < historyAt(lows, 4) &&
    candidateLow <= historyAt(lows, 1) &&
    candidateLow <= historyAt(lows, 0)
  ) {
    const previous = s.pivotLow;
    const previousBar = s.pivotLowBar;
    if (previous === previous && pivotBar - previousBar >= p.doubleMinSeparation && s.pivotHighBar > previousBar) {
      const similarity = (Math.abs(candidateLow - previous) / previous) * 100;
      const depth = ((s.pivotHigh - Math.max(candidateLow, previous)) / s.pivotHigh) * 100;
      if (similarity <= p.doubleTolerancePct && depth >= p.doubleMinDepthPct) {
        s.doubleBottomFirst = previous;
        s.doubleBottomSecond = candidateLow;
        s.doubleBottomNeck = s.pivotHigh;
        s.doubleBottomBar = bar;
      }
    }
    s.pivotLow = candidateLow;
    s.pivotLowBar = pivotBar;
    s.support = candidateLow;
  }
}
