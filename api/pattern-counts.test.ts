import { describe, expect, it } from 'vitest';
import {
  BY_BUCKET,
  BY_BUCKET_DIRECTION,
  BY_BUCKET_PATTERN,
  BY_BUCKET_TIER,
  BY_DIRECTION,
  BY_SYMBOL,
  buildCountsSql,
  countsOf,
  MAX_COUNT_BUCKETS,
  normaliseCountQuery,
} from './pattern-counts.js';
import { ScanInputError } from './scan.js';

const MARKET_NOW = Date.parse('2026-11-25T15:42:10Z');
const base = { timeframe: 'all', bucket: '1h', top: 10 } as const;

const fieldOf = (work: () => unknown): string | undefined => {
  try {
    work();
  } catch (error) {
    if (error instanceof ScanInputError) return error.field;
    throw error;
  }
  return undefined;
};

describe('normaliseCountQuery', () => {
  it('defaults to the 24 hours up to the end of the market clock hour, the window of /api/patterns/stats?hours=24', () => {
    const query = normaliseCountQuery(base, undefined, MARKET_NOW);
    expect(new Date(query.until).toISOString()).toBe('2026-11-25T16:00:00.000Z');
    expect(new Date(query.since).toISOString()).toBe('2026-11-24T16:00:00.000Z');
    expect(query).toMatchObject({ patternTypes: [], symbols: undefined, tiers: [], bucket: '1h', top: 10 });
  });

  it('takes hours, or since and until, and normalises pattern types and the timeframe', () => {
    const hours = normaliseCountQuery({ ...base, hours: 6, until: '2026-11-25T12:00:00Z' }, ['AAPL'], MARKET_NOW);
    expect(new Date(hours.since).toISOString()).toBe('2026-11-25T06:00:00.000Z');
    expect(hours.symbols).toEqual(['AAPL']);
    const explicit = normaliseCountQuery(
      { ...base, timeframe: 'daily', pattern_types: ['Hammer', 'doji', 'hammer'], since: '2026-11-20', until: '2026-11-21' },
      undefined,
      MARKET_NOW,
    );
    expect(explicit).toMatchObject({
      patternTypes: ['doji', 'hammer'],
      tiers: ['DAILY'],
      since: Date.parse('2026-11-20T00:00:00Z'),
      until: Date.parse('2026-11-21T00:00:00Z'),
    });
  });

  it('names the field of a window it refuses', () => {
    expect(fieldOf(() => normaliseCountQuery({ ...base, since: '2026-11-20', hours: 2 }, undefined, MARKET_NOW))).toBe('hours');
    expect(fieldOf(() => normaliseCountQuery({ ...base, since: '2026-11-21', until: '2026-11-21' }, undefined, MARKET_NOW))).toBe('until');
    expect(fieldOf(() => normaliseCountQuery({ ...base, since: 'yesterday' }, undefined, MARKET_NOW))).toBe('since');
    expect(fieldOf(() => normaliseCountQuery({ ...base, until: '2026-02-30' }, undefined, MARKET_NOW))).toBe('until');
    // A year of 5-minute buckets is too many; of days it is not.
    const year = { since: '2025-11-25', until: '2026-11-25' };
    expect(fieldOf(() => normaliseCountQuery({ ...base, ...year, bucket: '5m' }, undefined, MARKET_NOW))).toBe('bucket');
    expect(fieldOf(() => normaliseCountQuery({ ...base, ...year, bucket: '1d' }, undefined, MARKET_NOW))).toBeUndefined();
    // The bound itself: exactly MAX_COUNT_BUCKETS aligned buckets pass, one more is refused.
    const until = new Date(Date.parse('2026-01-01T00:00:00Z') + MAX_COUNT_BUCKETS * 3_600_000).toISOString();
    expect(fieldOf(() => normaliseCountQuery({ ...base, since: '2026-01-01', until }, undefined, MARKET_NOW))).toBeUndefined();
    expect(fieldOf(() => normaliseCountQuery({ ...base, since: '2025-12-31T23:59:59Z', until }, undefined, MARKET_NOW))).toBe('bucket');
    // The text names what set the window too, so a client that sent only `since` or `hours` learns which to change.
    expect(() => normaliseCountQuery({ ...base, since: '1970-01-01' }, undefined, MARKET_NOW)).toThrow(/window set by since spans/);
    expect(() => normaliseCountQuery({ ...base, hours: 24 * 365 * 10, bucket: '5m' }, undefined, MARKET_NOW)).toThrow(
      /window set by hours spans/,
    );
    expect(() => normaliseCountQuery({ ...base, ...year, bucket: '5m' }, undefined, MARKET_NOW)).toThrow(
      /window set by since and until spans/,
    );
  });
});

describe('buildCountsSql', () => {
  it('counts DETECTED events in the window on the partition key, with each filter as a parameter', () => {
    const query = normaliseCountQuery(
      { ...base, timeframe: 'intraday', pattern_types: ['doji'], since: '2026-11-25', until: '2026-11-26', bucket: '15m', top: 5 },
      ['AAPL', 'MSFT'],
      MARKET_NOW,
    );
    const { text, values } = buildCountsSql(query);
    expect(text).toContain(`e.kind = 'DETECTED'`);
    expect(text).toContain('e.detected_at >= $1::timestamptz AND e.detected_at < $2::timestamptz');
    expect(text).toContain('GROUPING SETS ((e.direction), (e.symbol), (date_bin($6::interval');
    expect(text).toMatch(
      /\(date_bin\(\$6::interval, [^)]*\), e\.direction\), \(date_bin\(\$6::interval, [^)]*\), e\.pattern\), \(date_bin\(\$6::interval, [^)]*\), e\.tier\)\)/,
    );
    expect(text).toContain('GROUPING(e.direction, e.symbol, date_bin($6::interval');
    expect(values).toEqual([
      '2026-11-25T00:00:00.000Z',
      '2026-11-26T00:00:00.000Z',
      ['doji'],
      ['INTRADAY'],
      ['AAPL', 'MSFT'],
      '900 seconds',
      5,
    ]);
    const unfiltered = buildCountsSql(normaliseCountQuery(base, undefined, MARKET_NOW));
    expect(unfiltered.text).not.toContain('e.pattern = ');
    expect(unfiltered.text).not.toContain('e.tier = ');
    expect(unfiltered.text).not.toContain('ANY');
    expect(unfiltered.values).toHaveLength(4);
  });
});

describe('countsOf', () => {
  it('splits the grouping sets: directions and symbols most first (ties by key), buckets in time order', () => {
    const counts = countsOf([
      { grouping: BY_DIRECTION, direction: 'BEARISH', symbol: null, bucket: null, count: '2', groups: '2' },
      { grouping: BY_DIRECTION, direction: 'BULLISH', symbol: null, bucket: null, count: '5', groups: '2' },
      { grouping: BY_SYMBOL, direction: null, symbol: 'MSFT', bucket: null, count: '3', groups: '4' },
      { grouping: BY_SYMBOL, direction: null, symbol: 'AAPL', bucket: null, count: '3', groups: '4' },
      { grouping: BY_BUCKET, direction: null, symbol: null, bucket: new Date('2026-11-25T15:00:00Z'), count: '4', groups: '2' },
      { grouping: BY_BUCKET, direction: null, symbol: null, bucket: '2026-11-25T14:00:00Z', count: '3', groups: '2' },
      { grouping: BY_BUCKET_DIRECTION, direction: 'BULLISH', symbol: null, bucket: '2026-11-25T15:00:00Z', count: '4', groups: '3' },
      { grouping: BY_BUCKET_DIRECTION, direction: 'BULLISH', symbol: null, bucket: '2026-11-25T14:00:00Z', count: '1', groups: '3' },
      { grouping: BY_BUCKET_DIRECTION, direction: 'BEARISH', symbol: null, bucket: '2026-11-25T14:00:00Z', count: '2', groups: '3' },
      {
        grouping: BY_BUCKET_PATTERN,
        direction: null,
        symbol: null,
        bucket: '2026-11-25T14:00:00Z',
        pattern: 'doji',
        count: '3',
        groups: '2',
      },
      {
        grouping: BY_BUCKET_PATTERN,
        direction: null,
        symbol: null,
        bucket: '2026-11-25T15:00:00Z',
        pattern: 'hammer',
        count: '4',
        groups: '2',
      },
      { grouping: BY_BUCKET_TIER, direction: null, symbol: null, bucket: '2026-11-25T15:00:00Z', tier: 'DAILY', count: '4', groups: '2' },
      { grouping: BY_BUCKET_TIER, direction: null, symbol: null, bucket: '2026-11-25T14:00:00Z', tier: 'COMBO', count: '3', groups: '2' },
    ]);
    expect(counts).toEqual({
      total: 7,
      by_direction: [
        { key: 'BULLISH', count: 5 },
        { key: 'BEARISH', count: 2 },
      ],
      by_symbol: [
        { key: 'AAPL', count: 3 },
        { key: 'MSFT', count: 3 },
      ],
      symbols_total: 4,
      buckets: [
        { bucket: '2026-11-25T14:00:00.000Z', count: 3 },
        { bucket: '2026-11-25T15:00:00.000Z', count: 4 },
      ],
      buckets_by_direction: [
        { bucket: '2026-11-25T14:00:00.000Z', key: 'BEARISH', count: 2 },
        { bucket: '2026-11-25T14:00:00.000Z', key: 'BULLISH', count: 1 },
        { bucket: '2026-11-25T15:00:00.000Z', key: 'BULLISH', count: 4 },
      ],
      buckets_by_pattern: [
        { bucket: '2026-11-25T14:00:00.000Z', key: 'doji', count: 3 },
        { bucket: '2026-11-25T15:00:00.000Z', key: 'hammer', count: 4 },
      ],
      buckets_by_tier: [
        { bucket: '2026-11-25T14:00:00.000Z', key: 'COMBO', count: 3 },
        { bucket: '2026-11-25T15:00:00.000Z', key: 'DAILY', count: 4 },
      ],
    });
    expect(countsOf([])).toEqual({
      total: 0,
      by_direction: [],
      by_symbol: [],
      symbols_total: 0,
      buckets: [],
      buckets_by_direction: [],
      buckets_by_pattern: [],
      buckets_by_tier: [],
    });
  });
});
