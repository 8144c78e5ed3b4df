import { describe, expect, it } from 'vitest';
import { sumMetric } from '../platform/metrics-exposition.js';
import { DEFAULT_RESTART_POLICY, formatLogLine, ratePerSecond, restartDelay, statusLine } from './supervisor-core.js';

describe('restartDelay', () => {
  it('backs off exponentially on consecutive crashes, capped', () => {
    let crashes = 0;
    const delays: number[] = [];
    for (let i = 0; i < 8; i += 1) {
      const next = restartDelay(DEFAULT_RESTART_POLICY, crashes, 100);
      crashes = next.consecutiveCrashes;
      delays.push(next.delayMs);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  it('resets after a healthy run', () => {
    expect(restartDelay(DEFAULT_RESTART_POLICY, 6, 120_000)).toEqual({ delayMs: 500, consecutiveCrashes: 1 });
  });
});

describe('formatLogLine', () => {
  it('prefixes plain lines and shows pino lines compactly', () => {
    expect(formatLogLine('api', 'listening')).toBe('[api]       listening');
    const line = JSON.stringify({
      level: 40,
      time: '2026-11-26T10:11:12.345Z',
      stage: 'api',
      pid: 1,
      msg: 'slow query',
      ms: 31,
      q: { a: 1 },
    });
    expect(formatLogLine('api', line)).toBe('[api]       10:11:12 WARN  slow query  ms=31 q={"a":1}');
    expect(formatLogLine('api', '{not json')).toBe('[api]       {not json');
  });
});

describe('metrics and the status line', () => {
  const exposition = [
    '# HELP x_total x',
    '# TYPE x_total counter',
    'x_total{topic="a"} 10',
    'x_total{topic="b"} 5',
    'y 3',
    'x_totally 100',
    '',
  ].join('\n');

  it('sums the samples of named metrics', () => {
    expect(sumMetric(exposition, ['x_total'])).toBe(15);
    expect(sumMetric(exposition, ['x_total', 'y'])).toBe(18);
    expect(sumMetric(exposition, ['missing'])).toBeUndefined();
    expect(sumMetric(exposition, [{ name: 'x_total', label: 'topic="b"' }])).toBe(5);
  });

  it('derives rates and prints one line', () => {
    expect(ratePerSecond(100, 300, 2000)).toBe(100);
    expect(ratePerSecond(undefined, 300, 2000)).toBeUndefined();
    expect(ratePerSecond(300, 100, 2000)).toBe(0);
    const line = statusLine(
      [
        { stage: 'ingest', up: true, events: 1 },
        { stage: 'processors', up: true, lag: 12_345, patterns: 1200 },
        { stage: 'api', up: false },
      ],
      new Map([
        ['ingest', 52_000],
        ['processors', 1500],
      ]),
    );
    expect(line).toBe('ingest 52k/s | processors 1.5k/s lag 12k | api DOWN | patterns 1.2k');
  });

  it('shows skipped input next to what was processed, when there is some', () => {
    const samples = [
      { stage: 'ingest', up: true, events: 1 },
      { stage: 'processors', up: true, events: 5, skipped: 70_000, patterns: 83 },
    ];
    expect(
      statusLine(
        samples,
        new Map([
          ['ingest', 7000],
          ['processors', 0],
          ['processors:skipped', 7000],
        ]),
      ),
    ).toBe('ingest 7.0k/s | processors 0/s (skipped 7.0k/s) | patterns 83');
    expect(
      statusLine(
        samples,
        new Map([
          ['ingest', 7000],
          ['processors', 7000],
          ['processors:skipped', 0],
        ]),
      ),
    ).toBe('ingest 7.0k/s | processors 7.0k/s | patterns 83');
  });
});
