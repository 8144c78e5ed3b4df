import { describe, expect, it } from 'vitest';
import type { PatternCounts } from './api.js';
import { seriesOf } from './breakdown.js';
import { concernsScan, directionsOf, filtersFromSearch, liveFilterOf, searchFromFilters } from './filters.js';
import { barTimeOf, bollinger } from './indicators.js';
import { symbolsFromText } from './lists.js';
import { describeRecovery } from './live.js';

describe('scanner filters in the URL', () => {
  it('keeps known, non-empty fields as text, in a stable order', () => {
    const filters = filtersFromSearch('?sort_by=rs&confidence_min=0.7&unknown=1&symbols=&timeframe=Daily');
    expect(filters).toEqual({ sort_by: 'rs', confidence_min: '0.7', timeframe: 'Daily' });
    expect(searchFromFilters(filters)).toBe('?timeframe=Daily&confidence_min=0.7&sort_by=rs');
    expect(searchFromFilters({})).toBe('');
    expect(filtersFromSearch(searchFromFilters(filters))).toEqual(filters);
  });

  it('gives the gateway the filters it can express', () => {
    expect(
      liveFilterOf({ symbols: 'aapl, msft', pattern_types: 'Volume_Spike', timeframe: 'intraday', universe: 'tech', rs_min: '1.2' }),
    ).toEqual({
      symbols: ['AAPL', 'MSFT'],
      universe: 'tech',
      patterns: ['volume_spike'],
      tiers: ['INTRADAY'],
    });
    expect(liveFilterOf({ timeframe: 'all' })).toEqual({});
    // Direction is not a gateway filter: it is applied to the events (concernsScan).
    expect(liveFilterOf({ direction: 'bearish' })).toEqual({});
  });

  it('carries direction, both bounds, status, definition versions and the preset in the URL', () => {
    const search = '?direction=bearish&rs_max=1.5&vol_max=3&status=all&definition_version=2&preset=mine&rs_min=1';
    expect(filtersFromSearch(search)).toEqual({
      direction: 'bearish',
      rs_min: '1',
      rs_max: '1.5',
      vol_max: '3',
      status: 'all',
      definition_version: '2',
      preset: 'mine',
    });
    expect(searchFromFilters(filtersFromSearch(search))).toBe(
      '?preset=mine&direction=bearish&status=all&rs_min=1&rs_max=1.5&vol_max=3&definition_version=2',
    );
  });

  it("keeps the live events of the scan's directions, in any case, and every event without a direction filter", () => {
    const bearish = directionsOf({ direction: 'Bearish, neutral' });
    expect(bearish).toEqual(new Set(['BEARISH', 'NEUTRAL']));
    expect(concernsScan(bearish, { direction: 'BEARISH' })).toBe(true);
    expect(concernsScan(bearish, { direction: 'NEUTRAL' })).toBe(true);
    expect(concernsScan(bearish, { direction: 'BULLISH' })).toBe(false);
    expect(concernsScan(bearish, {})).toBe(true);
    expect(directionsOf({})).toBeUndefined();
    expect(directionsOf({ direction: ' , ' })).toBeUndefined();
    expect(concernsScan(undefined, { direction: 'BULLISH' })).toBe(true);
  });
});

describe('detections over time', () => {
  const counts = {
    since: '2026-11-25T10:00:00.000Z',
    until: '2026-11-25T14:00:00.000Z',
    bucket: '1h',
    buckets_by_direction: [
      { bucket: '2026-11-25T10:00:00.000Z', key: 'BULLISH', count: 2 },
      { bucket: '2026-11-25T12:00:00.000Z', key: 'BEARISH', count: 5 },
      { bucket: '2026-11-25T13:00:00.000Z', key: 'BULLISH', count: 1 },
    ],
    buckets_by_pattern: [],
    buckets_by_tier: [{ bucket: '2026-11-25T11:00:00.000Z', key: 'DAILY', count: 4 }],
  } as unknown as PatternCounts;

  it('gives one series per key over every bucket of the window, zero where it had none, most detections first', () => {
    const hour = (h: number) => Date.parse(`2026-11-25T${h}:00:00Z`) / 1000;
    expect(seriesOf(counts, 'direction')).toEqual([
      { key: 'BEARISH', total: 5, points: [10, 11, 12, 13].map((h) => ({ time: hour(h), value: h === 12 ? 5 : 0 })) },
      { key: 'BULLISH', total: 3, points: [10, 11, 12, 13].map((h) => ({ time: hour(h), value: h === 10 ? 2 : h === 13 ? 1 : 0 })) },
    ]);
    expect(seriesOf(counts, 'tier').map((line) => [line.key, line.points.map((point) => point.value)])).toEqual([['DAILY', [0, 4, 0, 0]]]);
    expect(seriesOf(counts, 'pattern')).toEqual([]);
  });
});

describe('chart overlays', () => {
  it('computes SMA 20 and Bollinger bands 20/2', () => {
    const closes = Array.from({ length: 21 }, (_, index) => ({ time: index, value: index < 20 ? 10 : 30 }));
    const bands = bollinger(closes);
    expect(bands.middle).toEqual([
      { time: 19, value: 10 },
      { time: 20, value: 11 },
    ]);
    expect(bands.upper[0]!.value).toBe(10);
    const deviation = Math.sqrt((19 * 1 + 19 * 19) / 20);
    expect(bands.upper[1]!.value).toBeCloseTo(11 + 2 * deviation);
    expect(bands.lower[1]!.value).toBeCloseTo(11 - 2 * deviation);
  });

  it('puts a detection on the bar it falls in', () => {
    const times = [60, 120, 180];
    expect(barTimeOf(times, 30)).toBeUndefined();
    expect(barTimeOf(times, 60)).toBe(60);
    expect(barTimeOf(times, 179)).toBe(120);
    expect(barTimeOf(times, 500)).toBe(180);
  });
});

describe('screens', () => {
  it('reads a typed symbol list: any separator, upper case, each once', () => {
    expect(symbolsFromText(' aapl, MSFT\nnvda;aapl  ')).toEqual(['AAPL', 'MSFT', 'NVDA']);
    expect(symbolsFromText('  ')).toEqual([]);
  });

  it('says what a recovery did in plain words', () => {
    const report = { count: 1204, range: { '0': [10, 1214] as [number, number] }, fromRing: 1204, fromKafka: 0, lagRecords: 0, lagMs: 0 };
    expect(describeRecovery({ awayMs: 35_200, fromSaved: true, report })).toBe('back after 35 s: 1,204 events replayed, nothing missed');
    expect(describeRecovery({ awayMs: undefined, fromSaved: true, report: { ...report, count: 1 } })).toBe(
      'resumed from the saved position: 1 event replayed, nothing missed',
    );
    expect(describeRecovery({ awayMs: 90_000, fromSaved: false, report: { ...report, count: 3 }, snapshotItems: 42 })).toBe(
      'back after 90 s: the log no longer held our position, so the view was reloaded from a snapshot (42 items); events from the gap were not replayed, 3 events since',
    );
    expect(describeRecovery({ awayMs: undefined, fromSaved: false, report: { ...report, count: 0 } })).toBe(
      'caught up with the log: 0 events replayed, nothing missed',
    );
  });
});
