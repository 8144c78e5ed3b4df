/** Pure parts of `tickflow soak`: duration parsing and memory-growth estimation. */
import jstat from 'jstat';
import { defineEnv, env } from '../platform/config.js';

export const loadSoakConfig = defineEnv('soak', {
  SOAK_MAX_HEAP_SLOPE_MIB_PER_HOUR: env.number(
    'Heap slope (MiB/h, fitted over the last two thirds of a soak) above which `tickflow soak` flags a stage (the goal of issue 26: ±1)',
    1,
  ),
});

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
  /** Heap in use just after the latest major GC (`tickflow_nodejs_heap_after_major_gc_bytes`): the live heap. */
  readonly liveHeapBytes?: number;
}

/** An ordinary least-squares slope with its t-based confidence interval, in units per hour. */
export interface SlopeFit {
  readonly points: number;
  readonly perHour: number;
  /** Half-width of the confidence interval (undefined below three points, or with no spread in time). */
  readonly ciHalfWidth: number | undefined;
  readonly confidence: number;
}

/**
 * OLS slope of y over time with its `confidence` (95 %) interval: slope ± t(1 − α/2, n − 2) · SE, where
 * SE = sqrt(Σ residual² / (n − 2) / Σ (x − x̄)²). Samples of a soak are autocorrelated (GC cycles), so the
 * interval is optimistic; it still tells a plateau from a trend far better than a bare slope.
 */
export function fitSlope(points: readonly { atMs: number; value: number }[], confidence = 0.95): SlopeFit {
  const n = points.length;
  if (n < 2) return { points: n, perHour: 0, ciHalfWidth: undefined, confidence };
  const meanX = points.reduce((sum, point) => sum + point.atMs, 0) / n;
  const meanY = points.reduce((sum, point) => sum + point.value, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const point of points) {
    sxy += (point.atMs - meanX) * (point.value - meanY);
    sxx += (point.atMs - meanX) ** 2;
  }
  if (sxx === 0) return { points: n, perHour: 0, ciHalfWidth: undefined, confidence };
  const slope = sxy / sxx;
  if (n < 3) return { points: n, perHour: slope * 3_600_000, ciHalfWidth: undefined, confidence };
  const intercept = meanY - slope * meanX;
  const residuals = points.reduce((sum, point) => sum + (point.value - intercept - slope * point.atMs) ** 2, 0);
  const standardError = Math.sqrt(residuals / (n - 2) / sxx);
  const t = jstat.jStat.studentt.inv(1 - (1 - confidence) / 2, n - 2);
  return { points: n, perHour: slope * 3_600_000, ciHalfWidth: t * standardError * 3_600_000, confidence };
}

/** Least-squares slope of y over time, in units per hour (0 for fewer than two points). */
export function growthPerHour(points: readonly { atMs: number; value: number }[]): number {
  return fitSlope(points).perHour;
}

/**
 * growing: the whole interval is above the threshold; flat: the whole interval lies within ± threshold;
 * undecided: neither (a longer run is needed).
 */
export type SlopeVerdict = 'growing' | 'flat' | 'undecided';

export function slopeVerdict(fit: SlopeFit, thresholdPerHour: number): SlopeVerdict {
  if (fit.ciHalfWidth === undefined) return 'undecided';
  if (fit.perHour - fit.ciHalfWidth > thresholdPerHour) return 'growing';
  if (fit.perHour - fit.ciHalfWidth >= -thresholdPerHour && fit.perHour + fit.ciHalfWidth <= thresholdPerHour) return 'flat';
  return 'undecided';
}

export interface StageMemoryReport {
  readonly stage: string;
  readonly samples: number;
  readonly rssStartMiB: number;
  readonly rssEndMiB: number;
  readonly rssGrowthMiBPerHour: number;
  /** Which heap figure the heap fields are: the live heap after major GCs when the stage reports it, else heap used. */
  readonly heapMeasure: 'after-major-gc' | 'used' | undefined;
  /** Mean heap over the first tenth of the fitted part (just after warm-up). */
  readonly heapAfterWarmUpMiB: number | undefined;
  readonly heapEndMiB: number | undefined;
  /** Heap slope over the last two thirds of the run, ± its 95 % interval. */
  readonly heapGrowthMiBPerHour: number | undefined;
  readonly heapGrowthCiMiBPerHour: number | undefined;
  /** Slope of heap used (between collections, so noisier), for comparison with earlier soaks. */
  readonly heapUsedGrowthMiBPerHour: number | undefined;
  readonly heapVerdict: SlopeVerdict | undefined;
  /** The slope is above the threshold (a stage to look at; `heapVerdict` says whether the interval confirms it). */
  readonly flagged: boolean;
}

const MIB = 1024 * 1024;

/**
 * The first third of the run is warm-up (JIT, pools, rings and caches filling towards their caps) and is not
 * fitted, so that start-up allocation is not mistaken for a leak; the slope is fitted over the last two thirds.
 */
export function memoryReport(stage: string, samples: readonly MemorySample[], thresholdMiBPerHour = 1): StageMemoryReport {
  const warm = samples.slice(Math.floor(samples.length / 3));
  const series = (pick: (sample: MemorySample) => number | undefined) =>
    warm.flatMap((sample) => {
      const value = pick(sample);
      return value === undefined ? [] : [{ atMs: sample.atMs, value: value / MIB }];
    });
  const used = series((sample) => sample.heapUsedBytes);
  const live = series((sample) => sample.liveHeapBytes);
  const heapMeasure = live.length >= 2 && live.length >= used.length / 2 ? 'after-major-gc' : used.length > 0 ? 'used' : undefined;
  const heap = heapMeasure === 'after-major-gc' ? live : used;
  const heapFit = heap.length >= 2 ? fitSlope(heap) : undefined;
  const head = heap.slice(0, Math.max(1, Math.ceil(heap.length / 10)));
  return {
    stage,
    samples: samples.length,
    rssStartMiB: (samples[0]?.rssBytes ?? 0) / MIB,
    rssEndMiB: (samples[samples.length - 1]?.rssBytes ?? 0) / MIB,
    rssGrowthMiBPerHour: growthPerHour(warm.map((sample) => ({ atMs: sample.atMs, value: sample.rssBytes / MIB }))),
    heapMeasure,
    heapAfterWarmUpMiB: heap.length > 0 ? head.reduce((sum, point) => sum + point.value, 0) / head.length : undefined,
    heapEndMiB: heap[heap.length - 1]?.value,
    heapGrowthMiBPerHour: heapFit?.perHour,
    heapGrowthCiMiBPerHour: heapFit?.ciHalfWidth,
    heapUsedGrowthMiBPerHour: used.length >= 2 ? fitSlope(used).perHour : undefined,
    heapVerdict: heapFit === undefined ? undefined : slopeVerdict(heapFit, thresholdMiBPerHour),
    flagged: heapFit !== undefined && heapFit.perHour > thresholdMiBPerHour,
  };
}

/**
 * The structures the CI memory check insists on, per stage: each must be reported with a finite cap, so a cap
 * that stops being exported (or is set to none) fails the check instead of passing unread. The others a stage
 * reports are checked against their caps too.
 */
export const REQUIRED_CAPS: Readonly<Record<string, readonly string[]>> = {
  ingest: ['ingest.dedup.keys', 'ingest.dedup.sequences'],
  processors: ['processors.engine.symbols', 'processors.engine.active-patterns', 'processors.engine.expiry-queue'],
  projector: ['projector.redis.commands-in-flight.peak'],
  gateway: ['gateway.rings.events', 'gateway.connections'],
  api: ['api.cache.local-values'],
};

/** The required structures no reading named with a cap: `stage: structure` (a stage without readings names all its own). */
export function missingCaps(
  tracked: ReadonlyMap<string, readonly { readonly structure: string; readonly cap: number | undefined }[]>,
  stages: readonly string[],
): string[] {
  return stages.flatMap((stage) =>
    (REQUIRED_CAPS[stage] ?? [])
      .filter((structure) => tracked.get(stage)?.find((reading) => reading.structure === structure)?.cap === undefined)
      .map((structure) => `${stage}: ${structure}`),
  );
}

/** A stage's log line at WARN or above, or the supervisor's word of a crash: none belongs in normal operation. */
export function isLoudLine(line: string): boolean {
  return / (WARN|ERROR|FATAL) |crashed/.test(line);
}

/** What a soak with --check-quiet fails on: lines at WARN or above, and stage restarts; empty when it was quiet. */
export function quietFailures(loudLineCount: number, restarts: Readonly<Record<string, number>>): string[] {
  const failures = loudLineCount > 0 ? [`${loudLineCount} line(s) at WARN or above`] : [];
  for (const [stage, count] of Object.entries(restarts)) if (count > 0) failures.push(`${stage} restarted ${count} time(s)`);
  return failures;
}
