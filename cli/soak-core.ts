/** Pure parts of `tickflow soak`: duration parsing and memory-growth estimation. */

export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!match) throw new Error(`--duration: expected e.g. 90s, 30m or 24h, got "${text}"`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * factor;
}

export interface MemorySample {
  readonly atMs: number;
  readonly rssBytes: number;
  readonly heapUsedBytes?: number;
}

/** Least-squares slope of y over time, in units per hour (0 for fewer than two points). */
export function growthPerHour(points: readonly { atMs: number; value: number }[]): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const meanX = points.reduce((sum, point) => sum + point.atMs, 0) / n;
  const meanY = points.reduce((sum, point) => sum + point.value, 0) / n;
  let numerator = 0;
  let denominator = 0;
  for (const point of points) {
    numerator += (point.atMs - meanX) * (point.value - meanY);
    denominator += (point.atMs - meanX) ** 2;
  }
  return denominator === 0 ? 0 : (numerator / denominator) * 3_600_000;
}

export interface StageMemoryReport {
  readonly stage: string;
  readonly samples: number;
  readonly rssStartMiB: number;
  readonly rssEndMiB: number;
  readonly rssGrowthMiBPerHour: number;
  readonly heapGrowthMiBPerHour: number | undefined;
}

const MIB = 1024 * 1024;

/**
 * Growth is fitted over the samples after a warm-up (the first fifth of the run), when JIT, caches and
 * rings have filled, so that start-up allocation is not mistaken for a leak.
 */
export function memoryReport(stage: string, samples: readonly MemorySample[]): StageMemoryReport {
  const warm = samples.slice(Math.floor(samples.length / 5));
  const heap = warm
    .filter((sample) => sample.heapUsedBytes !== undefined)
    .map((sample) => ({ atMs: sample.atMs, value: sample.heapUsedBytes! / MIB }));
  return {
    stage,
    samples: samples.length,
    rssStartMiB: (samples[0]?.rssBytes ?? 0) / MIB,
    rssEndMiB: (samples[samples.length - 1]?.rssBytes ?? 0) / MIB,
    rssGrowthMiBPerHour: growthPerHour(warm.map((sample) => ({ atMs: sample.atMs, value: sample.rssBytes / MIB }))),
    heapGrowthMiBPerHour: heap.length >= 2 ? growthPerHour(heap) : undefined,
  };
}
