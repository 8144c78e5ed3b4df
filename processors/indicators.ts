/**
 * Incremental indicators. Each state is a plain object of numbers and fixed-size number arrays (so a
 * snapshot is a JSON round trip) and each update is O(1) with no allocation. Values that are not ready
 * yet read as NaN; states never hold NaN or Infinity (JSON could not carry them).
 *
 * Step functions: each `stepX` takes one input and returns nothing; the value is read through a small
 * getter (`smaValue`, `emaValue`, ...). V8 boxes a double returned from a call it did not inline (a heap
 * allocation), and a step that returns nothing cannot box, whatever the optimiser decides to inline.
 */

/** Simple moving average over a ring buffer with a running sum. */
export interface Sma {
  period: number;
  ring: number[];
  index: number;
  count: number;
  sum: number;
}

export function createSma(period: number): Sma {
  return { period, ring: new Array<number>(period).fill(0), index: 0, count: 0, sum: 0 };
}

/** One value into the average: see "Step functions" above. */
export function stepSma(state: Sma, value: number): void {
  if (state.count < state.period) {
    state.count += 1;
    state.sum += value;
  } else {
    state.sum = state.sum - state.ring[state.index]! + value;
  }
  state.ring[state.index] = value;
  state.index = state.index + 1 === state.period ? 0 : state.index + 1;
}

export function smaValue(state: Sma): number {
  return state.count >= state.period ? state.sum / state.period : Number.NaN;
}

/**
 * Exponential average seeded with the simple average of the first `period` values; `alpha` is
 * 2/(n+1) for an EMA and 1/n for Wilder's smoothing (RMA).
 */
export interface Ema {
  period: number;
  alpha: number;
  count: number;
  seedSum: number;
  value: number;
}

export function createEma(period: number): Ema {
  return { period, alpha: 2 / (period + 1), count: 0, seedSum: 0, value: 0 };
}

export function createWilder(period: number): Ema {
  return { period, alpha: 1 / period, count: 0, seedSum: 0, value: 0 };
}

export function stepEma(state: Ema, input: number): void {
  if (state.count < state.period) {
    state.count += 1;
    state.seedSum += input;
    if (state.count === state.period) state.value = state.seedSum / state.period;
  } else {
    state.value = (input - state.value) * state.alpha + state.value;
  }
}

export function emaValue(state: Ema): number {
  return state.count >= state.period ? state.value : Number.NaN;
}

/** RSI with Wilder's averages of gains and losses (seeded by their simple averages); 50 when both are 0. */
export interface Rsi {
  period: number;
  count: number;
  last: number;
  gainSum: number;
  lossSum: number;
  avgGain: number;
  avgLoss: number;
}

export function createRsi(period = 14): Rsi {
  return { period, count: 0, last: 0, gainSum: 0, lossSum: 0, avgGain: 0, avgLoss: 0 };
}

/** One close into the RSI (`rsiValue` is NaN until the state has seen period + 1 closes). */
export function stepRsi(state: Rsi, close: number): void {
  const n = state.period;
  if (state.count === 0) {
    state.count = 1;
    state.last = close;
    return;
  }
  const change = close - state.last;
  state.last = close;
  const gain = change > 0 ? change : 0;
  const loss = change < 0 ? -change : 0;
  if (state.count < n) {
    state.gainSum += gain;
    state.lossSum += loss;
    state.count += 1;
    return;
  }
  if (state.count === n) {
    state.avgGain = (state.gainSum + gain) / n;
    state.avgLoss = (state.lossSum + loss) / n;
    state.count += 1;
  } else {
    state.avgGain = (state.avgGain * (n - 1) + gain) / n;
    state.avgLoss = (state.avgLoss * (n - 1) + loss) / n;
  }
}

export function rsiValue(state: Rsi): number {
  if (state.count <= state.period) return Number.NaN;
  // No gains and no losses (a flat stretch) is no momentum either way: 50, not the 100 of 100 − 100/(1 + 0/0).
  if (state.avgLoss === 0) return state.avgGain === 0 ? 50 : 100;
  if (state.avgGain === 0) return 0;
  return 100 - 100 / (1 + state.avgGain / state.avgLoss);
}

/** MACD line (EMA fast − EMA slow), its signal EMA and the histogram. */
export interface Macd {
  fast: Ema;
  slow: Ema;
  signal: Ema;
  line: number;
  ready: boolean;
}

export function createMacd(fast = 12, slow = 26, signal = 9): Macd {
  return { fast: createEma(fast), slow: createEma(slow), signal: createEma(signal), line: 0, ready: false };
}

export function stepMacd(state: Macd, close: number): void {
  stepEma(state.fast, close);
  stepEma(state.slow, close);
  const fast = emaValue(state.fast);
  const slow = emaValue(state.slow);
  if (slow === slow && fast === fast) {
    state.line = fast - slow;
    state.ready = true;
    stepEma(state.signal, state.line);
  }
}

export function macdLine(state: Macd): number {
  return state.ready ? state.line : Number.NaN;
}

export function macdSignal(state: Macd): number {
  return emaValue(state.signal);
}

/**
 * Moving mean and population standard deviation over a window (Bollinger bands), updated with the
 * sliding form of Welford's recurrence, which keeps its precision on long series unlike sum of squares.
 * A window of one repeated value is exact (σ = 0, mean = the value): the sliding update alone leaves a
 * rounding residue there (σ near 1e-6 at a price of 100), and zero-width bands must be recognisable.
 */
export interface MovingStats {
  period: number;
  ring: number[];
  index: number;
  count: number;
  mean: number;
  m2: number;
  /** How many of the newest values are equal (at most `period`). */
  run: number;
}

export function createMovingStats(period: number): MovingStats {
  return { period, ring: new Array<number>(period).fill(0), index: 0, count: 0, mean: 0, m2: 0, run: 0 };
}

export function stepMovingStats(state: MovingStats, value: number): void {
  const newest = state.ring[state.index === 0 ? state.period - 1 : state.index - 1]!;
  state.run = state.count > 0 && value === newest ? Math.min(state.run + 1, state.period) : 1;
  if (state.count < state.period) {
    state.count += 1;
    const delta = value - state.mean;
    state.mean += delta / state.count;
    state.m2 += delta * (value - state.mean);
  } else {
    const old = state.ring[state.index]!;
    const oldMean = state.mean;
    state.mean = oldMean + (value - old) / state.period;
    state.m2 += (value - old) * (value - state.mean + old - oldMean);
    if (state.m2 < 0) state.m2 = 0;
  }
  if (state.run >= state.period) {
    state.mean = value;
    state.m2 = 0;
  }
  state.ring[state.index] = value;
  state.index = state.index + 1 === state.period ? 0 : state.index + 1;
}

export function movingMean(state: MovingStats): number {
  return state.count >= state.period ? state.mean : Number.NaN;
}

export function movingStdDev(state: MovingStats): number {
  return state.count >= state.period ? Math.sqrt(state.m2 / state.period) : Number.NaN;
}

/** Average true range: Wilder's smoothing of the true range, which starts at the second bar. */
export interface Atr {
  hasPrevious: boolean;
  previousClose: number;
  smoothing: Ema;
}

export function createAtr(period = 14): Atr {
  return { hasPrevious: false, previousClose: 0, smoothing: createWilder(period) };
}

export function stepAtr(state: Atr, high: number, low: number, close: number): void {
  if (!state.hasPrevious) {
    state.hasPrevious = true;
    state.previousClose = close;
    return;
  }
  const trueRange = Math.max(high - low, Math.abs(high - state.previousClose), Math.abs(low - state.previousClose));
  state.previousClose = close;
  stepEma(state.smoothing, trueRange);
}

export function atrValue(state: Atr): number {
  return emaValue(state.smoothing);
}

/** Session VWAP from the typical price (h+l+c)/3, reset at each session start. */
export interface Vwap {
  sessionDay: number;
  priceVolume: number;
  volume: number;
}

export function createVwap(): Vwap {
  return { sessionDay: -1, priceVolume: 0, volume: 0 };
}

export function stepVwap(state: Vwap, sessionDay: number, high: number, low: number, close: number, volume: number): void {
  if (state.sessionDay !== sessionDay) {
    state.sessionDay = sessionDay;
    state.priceVolume = 0;
    state.volume = 0;
  }
  state.priceVolume += ((high + low + close) / 3) * volume;
  state.volume += volume;
}

export function vwapValue(state: Vwap): number {
  return state.volume > 0 ? state.priceVolume / state.volume : Number.NaN;
}

/**
 * Highest (or lowest) of the last `period` values: a monotonic deque in a ring, amortised O(1).
 * `sign` 1 tracks the maximum, −1 the minimum.
 */
export interface RollingExtreme {
  period: number;
  sign: number;
  values: number[];
  positions: number[];
  head: number;
  size: number;
  pushed: number;
}

export function createRollingExtreme(period: number, kind: 'max' | 'min'): RollingExtreme {
  return {
    period,
    sign: kind === 'max' ? 1 : -1,
    values: new Array<number>(period).fill(0),
    positions: new Array<number>(period).fill(0),
    head: 0,
    size: 0,
    pushed: 0,
  };
}

export function stepRollingExtreme(state: RollingExtreme, value: number): void {
  const capacity = state.period;
  const position = state.pushed;
  state.pushed += 1;
  // Drop the front when it left the window.
  if (state.size > 0 && state.positions[state.head]! <= position - capacity) {
    state.head = state.head + 1 === capacity ? 0 : state.head + 1;
    state.size -= 1;
  }
  // Drop from the back every value the new one dominates.
  const signed = value * state.sign;
  while (state.size > 0) {
    const back = (state.head + state.size - 1) % capacity;
    if (state.values[back]! * state.sign > signed) break;
    state.size -= 1;
  }
  const slot = (state.head + state.size) % capacity;
  state.values[slot] = value;
  state.positions[slot] = position;
  state.size += 1;
}

export function rollingExtremeValue(state: RollingExtreme): number {
  return state.pushed >= state.period ? state.values[state.head]! : Number.NaN;
}

/** A fixed-length history of the last values (index 0 = newest). */
export interface History {
  ring: number[];
  index: number;
  count: number;
}

export function createHistory(length: number): History {
  return { ring: new Array<number>(length).fill(0), index: 0, count: 0 };
}

export function pushHistory(state: History, value: number): void {
  state.ring[state.index] = value;
  state.index = state.index + 1 === state.ring.length ? 0 : state.index + 1;
  if (state.count < state.ring.length) state.count += 1;
}

/** The value `back` pushes ago (0 = the newest); NaN when not that deep yet. */
export function historyAt(state: History, back: number): number {
  if (back >= state.count) return Number.NaN;
  const length = state.ring.length;
  return state.ring[(state.index - 1 - back + length * 2) % length]!;
}
