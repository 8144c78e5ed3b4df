/** Indicator overlays of the symbol view, computed from the bars shown (the processors' definitions: SMA 20, Bollinger 20/2σ). */
export interface Point {
  readonly time: number;
  readonly value: number;
}

/** Simple moving average and Bollinger bands over `period` closes (population standard deviation). */
export function bollinger(closes: readonly Point[], period = 20, width = 2): { middle: Point[]; upper: Point[]; lower: Point[] } {
  const middle: Point[] = [];
  const upper: Point[] = [];
  const lower: Point[] = [];
  for (let end = period; end <= closes.length; end += 1) {
    const window = closes.slice(end - period, end);
    const mean = window.reduce((sum, point) => sum + point.value, 0) / period;
    const deviation = Math.sqrt(window.reduce((sum, point) => sum + (point.value - mean) ** 2, 0) / period);
    const time = closes[end - 1]!.time;
    middle.push({ time, value: mean });
    upper.push({ time, value: mean + width * deviation });
    lower.push({ time, value: mean - width * deviation });
  }
  return { middle, upper, lower };
}

/** The time of the bar a detection falls in: the latest bar starting at or before it (times ascending). */
export function barTimeOf(times: readonly number[], at: number): number | undefined {
  let low = 0;
  let high = times.length - 1;
  let found: number | undefined;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (times[mid]! <= at) {
      found = times[mid];
      low = mid + 1;
    } else high = mid - 1;
  }
  return found;
}
