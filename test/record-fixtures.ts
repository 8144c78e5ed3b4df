/**
 * Deterministic input values for tests and benchmarks, until ingest and processors feed the topics for real.
 */
import type { AggregateValue, FundamentalsValue, PatternEventValue, SymbolValue } from '../contracts/values.js';

export const FIXTURE_SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA', 'SPY', 'QQQ', 'IWM', 'JPM', 'XOM'];
const PATTERNS = ['doji', 'hammer', 'bullish_engulfing', 'volume_spike', 'breakout_25'];
const TIERS: PatternEventValue['tier'][] = ['INTRADAY', 'DAILY', 'COMBO'];
export const FIXTURE_START_MS = Date.UTC(2026, 10, 24, 14, 30);

/** A small deterministic PRNG (mulberry32), so fixtures are the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` pattern events: detections, and for some of them an update and an expiry later in the list, as the
 * processors would emit them. Every event of a pattern has the same symbol (one partition, log order).
 */
export function patternEvents(count: number, seed = 1): PatternEventValue[] {
  const random = seededRandom(seed);
  const events: PatternEventValue[] = [];
  const open: PatternEventValue[] = [];
  let detection = 0;
  while (events.length < count) {
    const roll = random();
    if (open.length > 0 && roll < 0.3) {
      const index = Math.floor(random() * open.length);
      const base = open[index]!;
      const kind = roll < 0.15 ? 'UPDATED' : 'EXPIRED';
      const confidence = Math.min(1, Math.round((base.confidence + 0.05) * 1000) / 1000);
      const event: PatternEventValue = { ...base, kind, eventId: `${base.patternId}:${kind}:${events.length}`, confidence };
      events.push(event);
      if (kind === 'EXPIRED') open.splice(index, 1);
      else open[index] = event;
      continue;
    }
    detection += 1;
    const symbol = FIXTURE_SYMBOLS[Math.floor(random() * FIXTURE_SYMBOLS.length)]!;
    const tier = TIERS[Math.floor(random() * TIERS.length)]!;
    const detectedAtMs = FIXTURE_START_MS + detection * 60_000;
    const patternId = `${symbol}:${PATTERNS[detection % PATTERNS.length]}:${detection}:${seed}`;
    const price = Math.round((50 + random() * 400) * 100) / 100;
    const event: PatternEventValue = {
      eventId: `${patternId}:DETECTED`,
      kind: 'DETECTED',
      patternId,
      pattern: PATTERNS[detection % PATTERNS.length]!,
      definitionVersion: 1,
      tier,
      direction: random() < 0.5 ? 'BULLISH' : 'BEARISH',
      symbol,
      detectedAtMs,
      expiresAtMs: detectedAtMs + (tier === 'DAILY' ? 7 * 86_400_000 : 4 * 3_600_000),
      confidence: Math.round((0.5 + random() * 0.45) * 1000) / 1000,
      baseConfidence: 0.5,
      fundamentalAdjustment: random() < 0.2 ? 0.05 : 0,
      fundamentalReasons: random() < 0.2 ? ['eps_surprise'] : [],
      price,
      change: Math.round((random() - 0.5) * 1000) / 100,
      changePct: random() < 0.9 ? Math.round((random() - 0.5) * 500) / 100 : null,
      volume: Math.round(random() * 1_000_000),
      relativeStrength: random() < 0.9 ? Math.round((0.7 + random()) * 100) / 100 : null,
      relativeVolume: Math.round((0.5 + random() * 3) * 100) / 100,
      rsi: Math.round(random() * 10000) / 100,
      levels: { breakout: price * 1.01, stop: price * 0.97 },
      sourceTopic: 'market.aggs.minute.v1',
      sourcePartition: 0,
      sourceOffset: detection,
    };
    events.push(event);
    open.push(event);
  }
  return events;
}

/** Minute bars: `perSymbol` consecutive minutes for each symbol. */
export function minuteBars(symbols: readonly string[], perSymbol: number, startMs = FIXTURE_START_MS, seed = 2): AggregateValue[] {
  const random = seededRandom(seed);
  const bars: AggregateValue[] = [];
  for (let minute = 0; minute < perSymbol; minute += 1) {
    for (const symbol of symbols) {
      const open = 100 + random() * 10;
      const close = open + (random() - 0.5);
      bars.push(bar(symbol, 'MINUTE', startMs + minute * 60_000, 60_000, open, close, Math.round(random() * 10_000)));
    }
  }
  return bars;
}

export function bar(
  symbol: string,
  interval: 'MINUTE' | 'DAY',
  startMs: number,
  widthMs: number,
  open: number,
  close: number,
  volume: number,
): AggregateValue {
  return {
    symbol,
    interval,
    windowStartMs: startMs,
    windowEndMs: startMs + widthMs,
    open,
    high: Math.max(open, close) + 0.1,
    low: Math.min(open, close) - 0.1,
    close,
    volume,
    vwap: (open + close) / 2,
    transactions: Math.max(1, Math.round(volume / 100)),
    accumulatedVolume: null,
    officialOpen: null,
    dayVwap: null,
    averageTradeSize: null,
    otc: false,
    source: 'simulator',
    ingestedAtMs: startMs + widthMs,
  };
}

export function symbolReference(ticker: string, overrides: Partial<SymbolValue> = {}): SymbolValue {
  return {
    ticker,
    name: `${ticker} Inc.`,
    market: 'stocks',
    locale: 'us',
    type: ticker.length === 3 ? 'ETF' : 'CS',
    active: true,
    primaryExchange: 'XNAS',
    currencyName: 'usd',
    cik: null,
    compositeFigi: null,
    shareClassFigi: null,
    marketCap: 1e12,
    sharesOutstanding: 1e9,
    sicCode: '3571',
    sicDescription: 'ELECTRONIC COMPUTERS',
    sector: 'Technology',
    listDate: '1980-12-12',
    updatedAtMs: FIXTURE_START_MS,
    ...overrides,
  };
}

export function fundamentals(symbol: string, overrides: Partial<FundamentalsValue> = {}): FundamentalsValue {
  return {
    symbol,
    asOfDate: '2026-10-30',
    fiscalPeriod: 'Q3',
    fiscalYear: 2026,
    eps: 1.5,
    epsEstimate: 1.4,
    epsSurprisePct: 7.1,
    revenue: 9.4e10,
    revenueYoYGrowthPct: 12,
    marketCap: 3e12,
    priceToEarnings: 30,
    priceToBook: 40,
    evToEbitda: 22,
    dividendYield: 0.5,
    debtToEquity: 1.8,
    source: 'fixture',
    updatedAtMs: FIXTURE_START_MS,
    ...overrides,
  };
}
