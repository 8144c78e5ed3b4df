import { describe, expect, it } from 'vitest';
import { SessionCalendar } from '../../contracts/calendar.js';
import { barToRecord, fundamentalsToRecord, tickerToRecord } from '../rest-map.js';
import { simulatedReference } from './reference.js';
import { answerMassiveRest } from './rest-routes.js';
import { buildUniverse } from './universe.js';

const universe = buildUniverse(40, 42, 'SPY');
// Tuesday 2026-11-24, 14:31 UTC is 09:31 EST: the clock starts in that session.
const start = Date.parse('2026-11-24T14:31:00Z');
const reference = simulatedReference(universe, { seed: 42, startTimeMs: start });

describe('the simulator as Massive REST', () => {
  it('is deterministic: the same universe, seed and start give the same answers', () => {
    const again = simulatedReference(buildUniverse(40, 42, 'SPY'), { seed: 42, startTimeMs: start });
    expect(again.tickers()).toEqual(reference.tickers());
    expect(again.bars('AAPL', 'day', '2025-11-01', '2026-12-31')).toEqual(reference.bars('AAPL', 'day', '2025-11-01', '2026-12-31'));
    expect(again.incomeStatements('AAPL')).toEqual(reference.incomeStatements('AAPL'));
  });

  it('lists the live universe with exchanges, sectors and market caps that map to valid symbol records', () => {
    const tickers = reference.tickers();
    expect(tickers.map((ticker) => ticker.ticker)).toEqual(universe.map((profile) => profile.symbol));
    const records = tickers.map((ticker) => tickerToRecord(ticker, reference.details(ticker.ticker), 0));
    const aapl = records.find((record) => record.ticker === 'AAPL')!;
    expect(aapl).toMatchObject({ primaryExchange: 'XNAS', type: 'CS', active: true });
    expect(aapl.sector).toEqual(expect.any(String));
    expect(aapl.marketCap! / aapl.sharesOutstanding!).toBeCloseTo(universe.find((profile) => profile.symbol === 'AAPL')!.initialPrice, 0);
    expect(records.find((record) => record.ticker === 'SPY')).toMatchObject({ type: 'ETF', primaryExchange: 'ARCX', sector: null });
    // Stocks fall into several sectors, so the dashboard's sector filter has something to choose from.
    expect(new Set(records.filter((record) => record.type === 'CS').map((record) => record.sector)).size).toBeGreaterThan(3);
    expect(reference.details('NOPE')).toBeUndefined();
  });

  it('serves daily bars of complete sessions before the start, closing at the live start price, valid and in order', () => {
    const bars = reference.bars('AAPL', 'day', '2025-10-01', '2026-12-31');
    const calendar = new SessionCalendar();
    const last = bars.at(-1)!;
    // The last complete session before Tuesday 2026-11-24 is Monday 2026-11-23; bars start at the local midnight.
    expect(last.t).toBe(calendar.day(Math.floor(Date.parse('2026-11-23T00:00:00Z') / 86_400_000)).startMs);
    expect(last.c).toBe(universe.find((profile) => profile.symbol === 'AAPL')!.initialPrice);
    expect(bars.length).toBeGreaterThan(250);
    for (const [index, bar] of bars.entries()) {
      expect(() => barToRecord('AAPL', 'DAY', bar, 'rest', 0)).not.toThrow();
      expect(calendar.dayOf(bar.t).isTradingDay).toBe(true);
      if (index > 0) expect(bar.t).toBeGreaterThan(bars[index - 1]!.t);
    }
    // A sub-range is a slice of the same history; minute bars and unknown symbols are empty.
    const november = reference.bars('AAPL', 'day', '2026-11-02', '2026-11-20');
    expect(november).toEqual(
      bars.filter((bar) => bar.t >= Date.parse('2026-11-02T05:00:00Z') && bar.t < Date.parse('2026-11-21T05:00:00Z')),
    );
    expect(november).toHaveLength(15);
    expect(reference.bars('AAPL', 'minute', '2026-11-02', '2026-11-20')).toEqual([]);
    expect(reference.bars('NOPE', 'day', '2026-11-02', '2026-11-20')).toEqual([]);
    expect(reference.bars('AAPL', 'day', 'soon', '2026-11-20')).toEqual([]);
  });

  it('serves ratios and eight quarters of income statements for stocks (none for ETFs) that make a fundamentals record', () => {
    const ratios = reference.ratios('AAPL')!;
    expect(ratios).toMatchObject({
      ticker: 'AAPL',
      date: '2026-11-23',
      price: universe.find((profile) => profile.symbol === 'AAPL')!.initialPrice,
    });
    const statements = reference.incomeStatements('AAPL');
    expect(statements.map((statement) => statement.period_end)).toEqual([
      '2026-09-30',
      '2026-06-30',
      '2026-03-31',
      '2025-12-31',
      '2025-09-30',
      '2025-06-30',
      '2025-03-31',
      '2024-12-31',
    ]);
    const record = fundamentalsToRecord('AAPL', ratios, statements, 0);
    expect(record).toMatchObject({ asOfDate: '2026-11-23', fiscalPeriod: 'Q3', fiscalYear: 2026 });
    expect(record.revenueYoYGrowthPct).toEqual(expect.any(Number));
    expect(record.priceToEarnings).toBeGreaterThan(0);
    expect(reference.ratios('SPY')).toBeUndefined();
    expect(reference.incomeStatements('SPY')).toEqual([]);
  });

  it('answers the REST paths with Massive shapes: pages with an absolute next_url, 404 for unknown tickers and routes', () => {
    const options = { baseUrl: 'http://127.0.0.1:1', pageSize: 25, requestId: 'r' };
    const first = answerMassiveRest(
      reference,
      new URL('http://127.0.0.1:1/v3/reference/tickers?market=stocks&limit=1000&apiKey=k'),
      options,
    );
    const body = first.body as { results: unknown[]; next_url: string; count: number };
    expect(first.status).toBe(200);
    expect(body.results).toHaveLength(25);
    expect(body.next_url).toBe('http://127.0.0.1:1/v3/reference/tickers?market=stocks&limit=1000&cursor=25');
    const second = answerMassiveRest(reference, new URL(body.next_url), options).body as { results: unknown[]; next_url?: string };
    expect(second.results).toHaveLength(15);
    expect(second.next_url).toBeUndefined();
    const aggs = answerMassiveRest(reference, new URL('http://127.0.0.1:1/v2/aggs/ticker/AAPL/range/1/day/2026-11-16/2026-11-20'), options)
      .body as { ticker: string; results: unknown[] };
    expect(aggs).toMatchObject({ ticker: 'AAPL', status: 'OK' });
    expect(aggs.results).toHaveLength(5);
    expect(answerMassiveRest(reference, new URL('http://127.0.0.1:1/v3/reference/tickers/AAPL'), options).body).toMatchObject({
      results: { ticker: 'AAPL' },
    });
    expect(answerMassiveRest(reference, new URL('http://127.0.0.1:1/v3/reference/tickers/NOPE'), options).status).toBe(404);
    expect(answerMassiveRest(reference, new URL('http://127.0.0.1:1/stocks/financials/v1/ratios?ticker=AAPL'), options).body).toMatchObject(
      { results: [{ ticker: 'AAPL' }] },
    );
    expect(
      (
        answerMassiveRest(reference, new URL('http://127.0.0.1:1/stocks/financials/v1/income-statements?tickers=AAPL'), options).body as {
          results: unknown[];
        }
      ).results,
    ).toHaveLength(8);
    expect(answerMassiveRest(reference, new URL('http://127.0.0.1:1/v1/other'), options).status).toBe(404);
  });
});
