import { describe, expect, it } from 'vitest';
import { growthPerHour, memoryReport, parseDuration } from './soak-core.js';

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
});
