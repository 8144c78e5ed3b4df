import { describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '../platform/index.js';
import { createIngestMetrics } from './metrics.js';
import { barToRecord, fundamentalsToRecord, intervalMs, sectorOfSic, tickerToRecord } from './rest-map.js';
import { subscriptionParams } from './config.js';

describe('REST mappings', () => {
  it('maps a bar with ns time, without n or vw', () => {
    const record = barToRecord('X', 'DAY', { o: 1, h: 2, l: 0.5, c: 1.5, v: 10, t: 1_700_000_000_000_000_000 }, 'rest', 7);
    expect(record).toMatchObject({
      windowStartMs: 1_700_000_000_000,
      windowEndMs: 1_700_000_000_000 + intervalMs('DAY'),
      vwap: null,
      transactions: null,
      averageTradeSize: null,
      otc: false,
    });
    expect(() => barToRecord('X', 'MINUTE', { o: 1, h: 2, l: 0.5, c: 1.5, v: -1, t: 0 }, 'rest', 0)).toThrow('bar volume is negative');
    expect(() => barToRecord('X', 'MINUTE', { o: Number.NaN, h: 2, l: 0.5, c: 1.5, v: 1, t: 0 }, 'rest', 0)).toThrow(
      'bar field o is not a finite number',
    );
    expect(intervalMs('SECOND')).toBe(1000);
  });

  it.each([
    [undefined, null],
    ['abc', null],
    ['0100', 'Agriculture'],
    ['1311', 'Energy & Mining'],
    ['1531', 'Construction'],
    ['2834', 'Health Care'],
    ['3571', 'Technology'],
    ['3674', 'Technology'],
    ['3711', 'Manufacturing'],
    ['4512', 'Transportation'],
    ['4813', 'Communication'],
    ['4911', 'Utilities'],
    ['5045', 'Wholesale'],
    ['5331', 'Retail'],
    ['6021', 'Financials'],
    ['7372', 'Technology'],
    ['8062', 'Health Care'],
    ['7011', 'Services'],
    ['9721', 'Public Administration'],
  ])('sector of SIC %s is %s', (sic, sector) => {
    expect(sectorOfSic(sic)).toBe(sector);
  });

  it('fills a ticker with defaults and prefers weighted shares', () => {
    const record = tickerToRecord(
      { ticker: 'ZZ', name: '', market: '' } as never,
      { ticker: 'ZZ', name: 'Zed', market: 'otc', share_class_shares_outstanding: 5, active: false },
      1,
    );
    expect(record).toMatchObject({ name: 'Zed', market: 'otc', locale: 'us', active: false, sharesOutstanding: 5, type: null });
    expect(tickerToRecord({ ticker: 'Q' } as never, undefined, 1)).toMatchObject({ name: 'Q', market: 'stocks' });
  });

  it('builds fundamentals from statements alone, from ratios alone, and refuses nothing at all', () => {
    const fromStatements = fundamentalsToRecord(
      'X',
      undefined,
      [{ period_end: '2024-12-31', timeframe: 'annual', revenue: 10, basic_earnings_per_share: 1 }],
      1,
    );
    expect(fromStatements).toMatchObject({
      asOfDate: '2024-12-31',
      fiscalPeriod: 'annual',
      eps: 1,
      revenueYoYGrowthPct: null,
      priceToEarnings: null,
    });
    const fromRatios = fundamentalsToRecord('X', { ticker: 'X', date: '2025-01-02', earnings_per_share: 2 }, [], 1);
    expect(fromRatios).toMatchObject({ eps: 2, fiscalPeriod: null, fiscalYear: null, revenue: null });
    const zeroBase = fundamentalsToRecord(
      'X',
      undefined,
      [
        { period_end: '2024-12-31', fiscal_quarter: 4, fiscal_year: 2024, revenue: 5 },
        { period_end: '2023-12-31', fiscal_quarter: 4, fiscal_year: 2023, revenue: 0 },
      ],
      1,
    );
    expect(zeroBase.revenueYoYGrowthPct).toBeNull();
    expect(() => fundamentalsToRecord('X', undefined, [], 1)).toThrow('no ratios and no income statement for X');
  });
});

describe('config helpers and metrics', () => {
  it('builds subscription params from channels and symbols, LULD/FMV only when enabled', () => {
    expect(subscriptionParams(['T', 'AM', 'LULD'], ['*'], false, false)).toEqual(['T.*', 'AM.*']);
    expect(subscriptionParams(['T'], ['AAPL', 'MSFT'], true, true)).toEqual([
      'T.AAPL',
      'T.MSFT',
      'LULD.AAPL',
      'LULD.MSFT',
      'FMV.AAPL',
      'FMV.MSFT',
    ]);
  });

  it('refuses to register the ingest metrics twice on one registry', () => {
    const registry = createMetricsRegistry('ingest', { collectDefaults: false });
    createIngestMetrics(registry);
    expect(() => createIngestMetrics(registry)).toThrow('already registered');
  });
});
