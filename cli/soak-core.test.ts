import { describe, expect, it } from 'vitest';
import {
  fitSlope,
  growthPerHour,
  isLoudLine,
  memoryReport,
  missingCaps,
  parseDuration,
  quietFailures,
  REQUIRED_CAPS,
  slopeVerdict,
} from './soak-core.js';
import { formatLogLine } from './supervisor-core.js';

describe('soak core', () => {
  it('parses durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(() => parseDuration('soon')).toThrow(/--duration/);
  });

  it('fits growth per hour', () => {
    const points = Array.from({ length: 10 }, (_, i) => ({ atMs: i * 60_000, value: 100 + i }));
    expect(growthPerHour(points)).toBeCloseTo(60, 9);
    expect(growthPerHour([{ atMs: 0, value: 1 }])).toBe(0);
    expect(
      growthPerHour([
        { atMs: 5, value: 1 },
        { atMs: 5, value: 2 },
      ]),
    ).toBe(0);
  });

  it('reports memory after a warm-up', () => {
    const MIB = 1024 * 1024;
    // A start-up jump in the first fifth, then flat: no growth.
    const samples = Array.from({ length: 50 }, (_, i) => ({
      atMs: i * 10_000,
      rssBytes: (i < 5 ? 50 + i * 20 : 150) * MIB,
      heapUsedBytes: 40 * MIB,
    }));
    const report = memoryReport('api', samples);
    expect(report.rssStartMiB).toBe(50);
    expect(report.rssEndMiB).toBe(150);
    expect(report.rssGrowthMiBPerHour).toBeCloseTo(0, 9);
    expect(report.heapGrowthMiBPerHour).toBeCloseTo(0, 9);
    expect(memoryReport('x', [{ atMs: 0, rssBytes: MIB }]).heapGrowthMiBPerHour).toBeUndefined();
  });

  it('fits an OLS slope with its t-based 95 % interval (checked by hand)', () => {
    const hour = 3_600_000;
    const fit = fitSlope([
      { atMs: 0, value: 0 },
      { atMs: hour, value: 1 },
      { atMs: 2 * hour, value: 3 },
      { atMs: 3 * hour, value: 3 },
    ]);
    // slope = Sxy/Sxx = 5.5/5; SE = sqrt(0.7 / 2 / 5); t(0.975, 2) = 4.302653
    expect(fit.perHour).toBeCloseTo(1.1, 12);
    expect(fit.ciHalfWidth).toBeCloseTo(4.302653 * Math.sqrt(0.07), 5);
    expect(fitSlope([{ atMs: 0, value: 1 }]).ciHalfWidth).toBeUndefined();
    expect(
      fitSlope([
        { atMs: 0, value: 1 },
        { atMs: hour, value: 2 },
      ]).ciHalfWidth,
    ).toBeUndefined();
    // A perfect line has no uncertainty.
    expect(fitSlope([0, 1, 2, 3].map((i) => ({ atMs: i * hour, value: 5 * i }))).ciHalfWidth).toBeCloseTo(0, 12);
  });

  it('the interval covers the true slope about 95 % of the time (seeded simulation)', () => {
    let seed = 42;
    const uniform = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) + 0.5) / 2 ** 31;
    const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    let covered = 0;
    const runs = 2_000;
    for (let run = 0; run < runs; run += 1) {
      const fit = fitSlope(Array.from({ length: 12 }, (_, i) => ({ atMs: i * 600_000, value: 100 + 0.5 * (i / 6) + normal() })));
      if (Math.abs(fit.perHour - 0.5) <= fit.ciHalfWidth!) covered += 1;
    }
    expect(covered / runs).toBeGreaterThan(0.93);
    expect(covered / runs).toBeLessThan(0.97);
  });

  it('calls a slope growing, flat or undecided against the threshold', () => {
    const fit = (perHour: number, ciHalfWidth: number | undefined) => ({ points: 10, perHour, ciHalfWidth, confidence: 0.95 });
    expect(slopeVerdict(fit(5, 1), 1)).toBe('growing');
    expect(slopeVerdict(fit(0.2, 0.5), 1)).toBe('flat');
    expect(slopeVerdict(fit(-0.2, 0.5), 1)).toBe('flat');
    expect(slopeVerdict(fit(0.8, 0.5), 1)).toBe('undecided');
    expect(slopeVerdict(fit(0, undefined), 1)).toBe('undecided');
  });

  it('fits the live heap (after major GCs) when the stage reports it, and flags a slope above the threshold', () => {
    const MIB = 1024 * 1024;
    const samples = Array.from({ length: 60 }, (_, i) => ({
      atMs: i * 60_000,
      rssBytes: 200 * MIB,
      heapUsedBytes: (100 + (i % 2) * 40) * MIB,
      liveHeapBytes: (50 + i * 0.1) * MIB,
    }));
    const report = memoryReport('ingest', samples, 1);
    expect(report.heapMeasure).toBe('after-major-gc');
    expect(report.heapGrowthMiBPerHour).toBeCloseTo(6, 9);
    expect(report.heapGrowthCiMiBPerHour).toBeCloseTo(0, 9);
    expect(report.heapVerdict).toBe('growing');
    expect(report.flagged).toBe(true);
    // The fit starts after the first third: its first tenth averages the live heap of samples 20 to 23.
    expect(report.heapAfterWarmUpMiB).toBeCloseTo(52.15, 9);
    const flat = memoryReport(
      'api',
      samples.map((sample) => ({ ...sample, liveHeapBytes: 50 * MIB })),
      1,
    );
    expect(flat.flagged).toBe(false);
    expect(flat.heapVerdict).toBe('flat');
    expect(
      memoryReport(
        'x',
        samples.map(({ liveHeapBytes: _, ...rest }) => rest),
      ).heapMeasure,
    ).toBe('used');
  });

  it('names each required cap that a stage did not report, or reported without a cap', () => {
    const reading = (structure: string, cap: number | undefined) => ({ structure, entries: 1, cap });
    const tracked = new Map([
      ['projector', [reading('projector.redis.commands-in-flight.peak', 5_000)]],
      ['gateway', [reading('gateway.rings.events', 120_000), reading('gateway.connections', undefined)]],
    ]);
    expect(missingCaps(tracked, ['projector', 'gateway', 'api', 'simulator'])).toEqual([
      'gateway: gateway.connections',
      ...REQUIRED_CAPS.api!.map((structure) => `api: ${structure}`),
    ]);
  });
});

describe('soak: normal operation is quiet', () => {
  it('tells lines at WARN or above, and crashes, from the rest (as the supervisor prints them)', () => {
    const line = (level: number, msg: string) =>
      formatLogLine('processors', JSON.stringify({ level, time: '2026-12-07T01:52:28.275Z', msg }));
    expect([20, 30, 40, 50, 60].map((level) => isLoudLine(line(level, 'a message')))).toEqual([false, false, true, true, true]);
    expect(isLoudLine(formatLogLine('supervisor', 'gateway crashed (exit 1) after 3.2 s; restart #1 in 1000 ms'))).toBe(true);
    expect(isLoudLine(line(30, 'WARNING is a word here, not a level'))).toBe(false);
  });

  it('fails on any loud line and on any restart', () => {
    expect(quietFailures(0, { ingest: 0, processors: 0 })).toEqual([]);
    expect(quietFailures(2, { ingest: 0, processors: 1 })).toEqual(['2 line(s) at WARN or above', 'processors restarted 1 time(s)']);
  });
});
