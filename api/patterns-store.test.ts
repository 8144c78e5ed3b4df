import { describe, expect, it } from 'vitest';
import { filterFirstFor, ONE_PATTERN_WALK_MIN_MATCHES, readInOrder, scanPatterns, walkAboveMatches } from './patterns-store.js';
import { normaliseScanQuery, type ScanParameters } from './scan.js';

const defaults: ScanParameters = {
  timeframe: 'all',
  status: 'active',
  confidence_min: 0.5,
  sort_by: 'confidence',
  sort_order: 'desc',
  page: 1,
  per_page: 30,
};
const query = (overrides: Partial<ScanParameters>) => normaliseScanQuery({ ...defaults, ...overrides }, undefined);

describe('filterFirstFor', () => {
  it('filters first with few matches, or one or two pattern types sorted by anything but confidence', () => {
    expect(filterFirstFor(query({ rs_min: 1.1 }), 500, 10_000)).toBe(true);
    expect(filterFirstFor(query({ rs_min: 1.1 }), 10_001, 10_000)).toBe(false);
    expect(filterFirstFor(query({ pattern_types: ['doji', 'hammer'] }), 10_001, 10_000)).toBe(false);
    expect(filterFirstFor(query({ pattern_types: ['doji'], sort_by: 'rs', timeframe: 'daily', rs_min: 1 }), 10_001, 10_000)).toBe(true);
    expect(filterFirstFor(query({ pattern_types: ['doji'], sort_by: 'rs', rsi_range: '30,' }), 10_001, 10_000)).toBe(true);
    expect(filterFirstFor(query({ pattern_types: ['doji', 'hammer'], sort_by: 'volume' }), 10_001, 10_000)).toBe(true);
    expect(filterFirstFor(query({ pattern_types: ['doji', 'hammer', 'hanging_man'], sort_by: 'volume' }), 10_001, 10_000)).toBe(false);
  });

  it("walks the pattern's sort index for one pattern of one tier with more than a few matches", () => {
    for (const sortBy of ['detected_at', 'rs', 'volume'] as const) {
      const onePatternOfATier = query({ pattern_types: ['doji'], timeframe: 'daily', sort_by: sortBy });
      expect(walkAboveMatches(onePatternOfATier, 10_000)).toBe(ONE_PATTERN_WALK_MIN_MATCHES);
      expect(filterFirstFor(onePatternOfATier, ONE_PATTERN_WALK_MIN_MATCHES, 10_000)).toBe(true);
      expect(filterFirstFor(onePatternOfATier, ONE_PATTERN_WALK_MIN_MATCHES + 1, 10_000)).toBe(false);
      expect(filterFirstFor(onePatternOfATier, 10_001, 10_000)).toBe(false);
      // A count capped below the threshold says "many": walk.
      expect(walkAboveMatches(onePatternOfATier, 500)).toBe(500);
      expect(filterFirstFor(onePatternOfATier, 501, 500)).toBe(false);
    }
    // Other shapes keep the general threshold.
    const others: Partial<ScanParameters>[] = [
      { pattern_types: ['doji'], timeframe: 'daily' },
      { pattern_types: ['doji'], timeframe: 'daily', sort_by: 'symbol' },
      { pattern_types: ['doji', 'hammer'], timeframe: 'daily', sort_by: 'rs' },
      { sort_by: 'rs' },
    ];
    for (const overrides of others) {
      expect(walkAboveMatches(query(overrides), 10_000)).toBe(10_000);
    }
  });

  it('reads the page in index order, whatever the count, when an index holds the matches in page order', () => {
    const inOrder: Partial<ScanParameters>[] = [
      {},
      { timeframe: 'daily' },
      { pattern_types: ['doji'] },
      { pattern_types: ['doji'], timeframe: 'combo' },
      { sort_order: 'asc' },
      // One pattern across all tiers by a (pattern, sort key) index, filtered by confidence on the way.
      { pattern_types: ['doji'], sort_by: 'detected_at' },
      { pattern_types: ['doji'], sort_by: 'rs', sort_order: 'asc' },
      { pattern_types: ['doji'], sort_by: 'volume', confidence_min: 0.8 },
    ];
    for (const overrides of inOrder) {
      expect(readInOrder(query(overrides))).toBe(true);
      expect(filterFirstFor(query(overrides), 500, 10_000)).toBe(false);
    }
    const others: Partial<ScanParameters>[] = [
      { sort_by: 'rs' },
      { sort_by: 'volume', timeframe: 'daily' },
      { pattern_types: ['doji'], sort_by: 'symbol' },
      { pattern_types: ['doji'], sort_by: 'detected_at', timeframe: 'intraday' },
      { pattern_types: ['doji'], sort_by: 'rs', rs_min: 1 },
      { pattern_types: ['doji', 'hammer'], sort_by: 'volume' },
      { status: 'all' },
      { pattern_types: ['doji', 'hammer'] },
      { symbols: ['AAPL'] },
      { sectors: ['energy'] },
      { definition_version: [2] },
      { rs_min: 1 },
      { vol_min: 1 },
      { rs_max: 2 },
      { vol_max: 2 },
      { direction: ['bearish'] },
      { rsi_range: '30,' },
      { rsi_range: ',70' },
      { since: '2026-01-01T00:00:00Z' },
      { until: '2026-01-01T00:00:00Z' },
    ];
    for (const overrides of others) {
      expect(readInOrder(query(overrides))).toBe(false);
      expect(filterFirstFor(query(overrides), 500, 10_000)).toBe(true);
    }
  });
});

/** A reader that records each statement and answers with a count above the cap and no row. */
function recordingReader() {
  const texts: string[] = [];
  return {
    texts,
    query: <Row extends object>(text: string) => {
      texts.push(text);
      return Promise.resolve({ rows: [{ matched_total: 10_001, pattern_id: null }] as unknown as Row[], rowCount: 1 });
    },
  };
}

describe('scanPatterns with a prepared reader', () => {
  it('sends scans of confidence, one tier and one pattern type at most to it, and every other scan to the pool', async () => {
    const valueIndependent: Partial<ScanParameters>[] = [
      {},
      { timeframe: 'daily' },
      { pattern_types: ['doji'] },
      { pattern_types: ['doji'], timeframe: 'combo', sort_by: 'rs' },
      { sort_by: 'symbol', sort_order: 'asc' },
    ];
    const others: Partial<ScanParameters>[] = [
      { pattern_types: ['doji', 'hammer'] },
      { symbols: ['AAPL'] },
      { sectors: ['energy'] },
      { rs_min: 1 },
      { direction: ['BULLISH'] },
      { rsi_range: '30,' },
      { since: '2026-01-01T00:00:00Z' },
      { status: 'all' },
    ];
    for (const [overrides, prepared] of [...valueIndependent.map((o) => [o, true] as const), ...others.map((o) => [o, false] as const)]) {
      const db = recordingReader();
      const statements = recordingReader();
      await scanPatterns(db, query(overrides), 10_000, statements);
      expect({ overrides, prepared: statements.texts.length, pool: db.texts.length }).toEqual({
        overrides,
        prepared: prepared ? 1 : 0,
        pool: prepared ? 0 : 1,
      });
    }
  });
});
