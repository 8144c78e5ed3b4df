import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, type IngestCheckpointRecord } from '../platform/index.js';
import { backfillBars, backfillFundamentals, backfillSymbols } from './backfill.js';
import { CheckpointStore } from './checkpoint.js';
import type { AggregateRecord, FundamentalsRecord, SymbolRecord } from './records.js';
import type { RestBar } from './rest-map.js';
import { MassiveRest, RestStatusError, statusOf } from './rest.js';
import { startFakeMassiveRest, type FakeMassiveRest } from './testing/fake-massive-rest.js';
import { MemorySink } from './testing/memory-sink.js';

const logger = createLogger('ingest-test', { level: 'silent' });
const START = Date.UTC(2025, 0, 2, 14, 30);
const minuteBars = (count: number, base = 100): RestBar[] =>
  Array.from({ length: count }, (_, index) => ({
    o: base + index,
    h: base + index + 1,
    l: base + index - 1,
    c: base + index + 0.5,
    v: 1000 + index,
    vw: base + index + 0.2,
    n: 10,
    t: START + index * 60_000,
  }));

let fake: FakeMassiveRest;
const sleeps: number[] = [];

function rest(maxRetries = 4): MassiveRest {
  return new MassiveRest({
    apiKey: 'KEY',
    baseUrl: fake.baseUrl,
    logger,
    maxRetries,
    backoffMs: 10,
    sleep: async (ms) => void sleeps.push(ms),
  });
}

beforeEach(async () => {
  sleeps.length = 0;
  fake = await startFakeMassiveRest({
    pageSize: 4,
    bars: { AAPL: minuteBars(10), MSFT: minuteBars(3, 400), BAD: [{ o: 1, h: 0.5, l: 1, c: 1, v: 1, t: START }, ...minuteBars(1)] },
    tickers: Array.from({ length: 7 }, (_, index) => ({
      ticker: `T${index}`,
      name: `Ticker ${index}`,
      market: 'stocks',
      locale: 'us',
      type: 'CS',
      active: true,
      primary_exchange: 'XNAS',
    })),
    details: {
      T0: {
        ticker: 'T0',
        name: 'Ticker Zero Inc',
        market: 'stocks',
        market_cap: 1e9,
        weighted_shares_outstanding: 5e6,
        sic_code: '3571',
        sic_description: 'ELECTRONIC COMPUTERS',
        list_date: '1999-01-01',
      },
    },
    ratios: {
      AAPL: {
        ticker: 'AAPL',
        date: '2025-01-02',
        price: 243,
        market_cap: 3.7e12,
        earnings_per_share: 6.1,
        price_to_earnings: 39.8,
        price_to_book: 60,
        ev_to_ebitda: 28,
        dividend_yield: 0.004,
        debt_to_equity: 1.5,
      },
    },
    incomeStatements: {
      AAPL: [
        {
          fiscal_year: 2024,
          fiscal_quarter: 4,
          period_end: '2024-09-28',
          revenue: 94.9e9,
          diluted_earnings_per_share: 0.97,
          timeframe: 'quarterly',
        },
        {
          fiscal_year: 2023,
          fiscal_quarter: 4,
          period_end: '2023-09-30',
          revenue: 89.5e9,
          diluted_earnings_per_share: 1.46,
          timeframe: 'quarterly',
        },
      ],
    },
  });
});

afterEach(async () => {
  await fake.close();
});

describe('bars backfill', () => {
  it('follows next_url page by page, in order, with the key on every request', async () => {
    const sink = new MemorySink();
    const summary = await backfillBars({
      rest: rest(),
      sink,
      symbols: ['AAPL', 'MSFT'],
      timespan: 'minute',
      from: '2025-01-02',
      to: '2025-01-02',
      checkpoint: new CheckpointStore(),
      logger,
      pageLimit: 4,
    });
    expect(summary).toEqual({ records: 13, deadLetters: 0, pages: 4, skippedSymbols: 0 });
    const aapl = sink.records.filter((record) => record.key === 'AAPL').map((record) => record.value as AggregateRecord);
    expect(aapl.map((bar) => bar.windowStartMs)).toEqual(minuteBars(10).map((bar) => bar.t));
    expect(aapl[0]).toMatchObject({
      interval: 'MINUTE',
      windowEndMs: START + 60_000,
      open: 100,
      volume: 1000,
      vwap: 100.2,
      transactions: 10,
      averageTradeSize: 100,
      source: 'rest',
    });
    expect(sink.records.every((record) => record.topic === 'minuteAggregates')).toBe(true);
    expect(fake.requests.filter((request) => request.includes('AAPL'))).toEqual([
      '/v2/aggs/ticker/AAPL/range/1/minute/2025-01-02/2025-01-02?adjusted=true&sort=asc&limit=4',
      '/v2/aggs/ticker/AAPL/range/1/minute/2025-01-02/2025-01-02?adjusted=true&sort=asc&limit=4&cursor=4',
      '/v2/aggs/ticker/AAPL/range/1/minute/2025-01-02/2025-01-02?adjusted=true&sort=asc&limit=4&cursor=8',
    ]);
  });

  it('backs off on 429 (Retry-After honoured, else exponential) and loses nothing', async () => {
    fake.rateLimitNext(2, 3);
    const client = rest();
    const sink = new MemorySink();
    await backfillBars({
      rest: client,
      sink,
      symbols: ['MSFT'],
      timespan: 'day',
      from: '2025-01-01',
      to: '2025-01-31',
      checkpoint: new CheckpointStore(),
      logger,
    });
    expect(sink.records).toHaveLength(3);
    expect(sink.records[0]!.topic).toBe('dailyAggregates');
    expect((sink.records[0]!.value as AggregateRecord).windowEndMs - (sink.records[0]!.value as AggregateRecord).windowStartMs).toBe(
      86_400_000,
    );
    expect(client.rateLimited).toBe(2);
    expect(sleeps).toEqual([3000, 3000]);
    fake.rateLimitNext(1);
    await client.nextPage(`${fake.baseUrl}/v2/aggs/ticker/AAPL/range/1/minute/a/b?cursor=4`);
    expect(sleeps[2]).toBeGreaterThanOrEqual(5);
    expect(sleeps[2]).toBeLessThanOrEqual(10);
  });

  it('gives up after the retry budget with the status in the error', async () => {
    fake.rateLimitNext(10);
    await expect(rest(1).bars('AAPL', 'minute', 'a', 'b')).rejects.toMatchObject({ name: 'RestStatusError', status: 429 });
    expect(sleeps).toHaveLength(1);
  });

  it('resumes after an interruption from the last acknowledged page, from the checkpoint records alone', async () => {
    // What the first run persisted (the checkpoints topic in production); the second run starts from nothing else.
    const persisted: IngestCheckpointRecord[] = [];
    const checkpoint = () => new CheckpointStore([...persisted], (record) => persisted.push(record));
    const sink = new MemorySink();
    const options = {
      sink,
      symbols: ['MSFT', 'AAPL'],
      timespan: 'minute' as const,
      from: '2025-01-02',
      to: '2025-01-02',
      logger,
      pageLimit: 4,
    };
    fake.breakAfter(2); // MSFT (1 page) and AAPL page 1 succeed, then the server fails.
    await expect(backfillBars({ ...options, rest: rest(0), checkpoint: checkpoint() })).rejects.toBeInstanceOf(RestStatusError);
    expect(sink.records).toHaveLength(3 + 4);
    fake.heal();
    fake.requests.length = 0;
    expect(persisted.map((record) => [record.symbol, record.done, record.nextUrl?.replace(/^.*cursor=/, 'cursor=') ?? null])).toEqual([
      ['MSFT', true, null],
      ['AAPL', false, 'cursor=4'],
    ]);
    const resumed = await backfillBars({ ...options, rest: rest(0), checkpoint: checkpoint() });
    expect(resumed).toMatchObject({ records: 6, skippedSymbols: 1 });
    expect(fake.requests).toEqual([
      '/v2/aggs/ticker/AAPL/range/1/minute/2025-01-02/2025-01-02?adjusted=true&sort=asc&limit=4&cursor=4',
      '/v2/aggs/ticker/AAPL/range/1/minute/2025-01-02/2025-01-02?adjusted=true&sort=asc&limit=4&cursor=8',
    ]);
    const starts = sink.records.filter((record) => record.key === 'AAPL').map((record) => (record.value as AggregateRecord).windowStartMs);
    expect(starts).toEqual(minuteBars(10).map((bar) => bar.t));
  });

  it('dead-letters an inconsistent bar and keeps the rest', async () => {
    const sink = new MemorySink();
    const summary = await backfillBars({
      rest: rest(),
      sink,
      symbols: ['BAD'],
      timespan: 'minute',
      from: 'a',
      to: 'b',
      checkpoint: new CheckpointStore(),
      logger,
    });
    expect(summary.deadLetters).toBe(1);
    expect(sink.records).toHaveLength(1);
    expect(sink.deadLetters[0]).toMatchObject({
      key: 'BAD',
      value: { source: 'rest', reason: 'bad bar: bar is inconsistent (high/low do not bound open/close)' },
    });
  });
});

describe('reference and fundamentals backfill', () => {
  it('pages through tickers into the symbols topic, enriched with details', async () => {
    const sink = new MemorySink();
    const progress: number[] = [];
    const summary = await backfillSymbols({
      rest: rest(),
      sink,
      logger,
      details: true,
      onProgress: (event) => progress.push(event.records),
    });
    expect(summary).toMatchObject({ records: 7, pages: 2, deadLetters: 0 });
    expect(progress).toEqual([4, 7]);
    const first = sink.records[0]!.value as SymbolRecord;
    expect(first).toMatchObject({
      ticker: 'T0',
      name: 'Ticker Zero Inc',
      primaryExchange: 'XNAS',
      marketCap: 1e9,
      sharesOutstanding: 5e6,
      sector: 'Technology',
      listDate: '1999-01-01',
      type: 'CS',
    });
    expect(sink.records[1]!.value as SymbolRecord).toMatchObject({ ticker: 'T1', marketCap: null, sector: null });
    expect(fake.requests.filter((request) => request.startsWith('/v3/reference/tickers/'))).toHaveLength(7);
  });

  it('dead-letters a ticker without a symbol and keeps going', async () => {
    await fake.close();
    fake = await startFakeMassiveRest({
      tickers: [
        { ticker: '', name: 'nameless', market: 'stocks' },
        { ticker: 'OK', name: 'Fine', market: 'stocks' },
      ],
    });
    const sink = new MemorySink();
    const summary = await backfillSymbols({ rest: rest(), sink, logger, details: false });
    expect(summary).toMatchObject({ records: 1, deadLetters: 1 });
    expect(sink.deadLetters[0]!.value.reason).toBe('bad ticker: ticker has no symbol');
  });

  it('stops at maxTickers', async () => {
    const sink = new MemorySink();
    const summary = await backfillSymbols({ rest: rest(), sink, logger, details: false, maxTickers: 5 });
    expect(summary.records).toBe(5);
    expect(fake.requests).toHaveLength(2);
  });

  it('builds fundamentals from ratios and quarterly income statements (YoY revenue growth)', async () => {
    const sink = new MemorySink();
    const summary = await backfillFundamentals({ rest: rest(), sink, symbols: ['AAPL', 'NONE'], logger });
    expect(summary).toMatchObject({ records: 1, skippedSymbols: 1 });
    const value = sink.records[0]!.value as FundamentalsRecord;
    expect(sink.records[0]!.topic).toBe('fundamentals');
    expect(value).toMatchObject({
      symbol: 'AAPL',
      asOfDate: '2025-01-02',
      fiscalPeriod: 'Q4',
      fiscalYear: 2024,
      eps: 0.97,
      revenue: 94.9e9,
      marketCap: 3.7e12,
      priceToEarnings: 39.8,
      epsEstimate: null,
      source: 'rest',
    });
    expect(value.revenueYoYGrowthPct).toBeCloseTo(6.03, 2);
  });
});

describe('statusOf', () => {
  it('reads the status of client (axios-shaped) and fetch errors, else undefined', () => {
    expect(statusOf({ response: { status: 429, headers: { 'retry-after': '2' } } })).toEqual({ status: 429, retryAfterMs: 2000 });
    expect(statusOf(new RestStatusError(503, undefined, 'x'))).toEqual({ status: 503, retryAfterMs: undefined });
    expect(statusOf(new Error('boom'))).toBeUndefined();
  });
});
